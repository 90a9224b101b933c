"""Run an experiment config: results.json, arrays (.npz), figures (.png) and metadata.json.

Everything is validated before the first simulation. A result set is replaced as a whole or
not at all (:func:`replace_folder`, also used by ``sweep`` and ``fit``): its files are written
into a fresh hidden sibling of the output folder (``.<name>.new-<pid>-<random>``), which is
then swapped in for the folder in one step (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere
two renames, undone at the next start if a run dies between them) before the previous set is
removed. A run killed at any moment leaves either the complete previous set or the complete new
one, never a mix; its leftover temporaries are removed by the next run into the same folder.
A run holds a lock on its output folder (``flock`` on ``.<name>.lock`` beside it, released by
the kernel when the process dies), taken before simulating and held until the swap: a second
run into a folder in use is refused with :class:`ParameterError`. Since the whole folder is
replaced, an existing folder that does not look like a result set (subfolders, or files but
none of :data:`RESULT_FILES`) is refused as output, as is the current folder.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib.metadata
import io
import json
import os
import platform
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None

import brainstate
import numpy as np
import saiunit as u

from . import __version__
from ._validate import ParameterError
from .config import Config
from .plotting import figure_for
from .registry import PROTOCOLS
from .targets import evaluate

__all__ = ['run_protocols', 'run_experiment', 'package_versions', 'check_output_folder',
           'output_lock', 'replace_folder']

# A folder that may be replaced as --out holds one of these (or nothing): what run, sweep and
# fit write.
RESULT_FILES = ('metadata.json', 'results.json', 'fit.json', 'sweep.csv')

DEPENDENCIES = ('brainpy', 'brainstate', 'braintools', 'saiunit', 'jax', 'jaxlib', 'numpy',
                'matplotlib')


def package_versions() -> dict:
    versions = {'python': platform.python_version(), 'ltp_brainpy': __version__}
    for name in DEPENDENCIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_protocols(config: Config, progress: bool = False) -> dict:
    """Run every ``[[run]]`` of ``config``; returns ``{label: ProtocolResult}``.

    With ``progress``, simulations show a progress bar.
    """
    brainstate.random.seed(config.seed)
    np.random.seed(config.seed)
    results = {}
    for spec in config.runs:
        results[spec.label] = PROTOCOLS[spec.protocol].run(
            spec.arguments, spec.model, dt=config.dt, seed=config.seed, pbar=progress)
    return results


def _jsonable(value):
    if isinstance(value, u.Quantity):
        return {'value': np.asarray(value.mantissa).tolist(), 'unit': str(value.unit)}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def _file_mode() -> int:
    """The mode a new file gets under the current umask (temporary files are created 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_output_folder(out_dir) -> Path:
    """``out_dir`` as a Path, or :class:`ParameterError` if results could not be written there
    (checked before anything is simulated). Since results replace the whole folder, refused are:
    a file, the root or current folder (or one holding it), a folder holding subfolders or
    files but none of :data:`RESULT_FILES` (not a result set), and a place where this process
    cannot create and rename folders."""
    out_dir = Path(out_dir)
    target = _target(out_dir)
    if target.exists() and not target.is_dir():
        raise ParameterError(f'--out: {out_dir} exists and is not a folder')
    if len(os.fsencode(target.name)) > 200:  # room for the temporaries' longer names
        raise ParameterError(f'--out: the name {target.name[:20]}... is too long')
    cwd = Path(os.path.abspath(os.getcwd()))
    if target.parent == target or target == cwd or target in cwd.parents:
        raise ParameterError(f'--out: {out_dir} is the current folder or holds it; results '
                             f'replace the whole folder, give a new one')
    if target.is_dir():
        try:
            entries = list(target.iterdir())
            inside = next((p for p in entries if p.is_dir()), None)
        except OSError:
            raise ParameterError(f'--out: cannot read {out_dir}')
        if inside is not None:
            raise ParameterError(f'--out: {out_dir} holds folders ({inside.name}/), so it is not a '
                                 f'result set; results replace the whole folder, give a new one')
        if (any(not p.name.startswith('.') for p in entries)
                and not any(p.name in RESULT_FILES for p in entries)):
            raise ParameterError(f'--out: {out_dir} holds files but no results '
                                 f'({", ".join(RESULT_FILES)}); results replace the whole '
                                 f'folder, give a new or empty one')
        if not os.access(target, os.W_OK | os.X_OK):
            raise ParameterError(f'--out: cannot write in {out_dir}')
    existing = target.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f'--out: cannot write in {existing}')
    return out_dir


def _target(out_dir) -> Path:
    """The absolute folder that is replaced (a symbolic link: the folder it points to)."""
    path = Path(os.path.abspath(out_dir))
    return path.resolve() if path.is_symlink() else path


# Whole-folder replacement ------------------------------------------------------------------

_HELD = {}  # out_dir -> [lock file descriptor, depth]: the locks this process holds
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_NO_EXCHANGE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP)


def _sibling(target: Path, kind: str) -> Path:
    """A new name ``.<name>.<kind>-<pid>-<random>`` beside ``target``."""
    return target.parent / f'.{target.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}'


def _siblings(target: Path) -> list:
    """``[(kind, path)]``: the temporaries that runs into ``target`` left beside it."""
    pattern = re.compile(rf'\.{re.escape(target.name)}\.(new|old)-\d+-[0-9a-f]+')
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return []
    return [(m.group(1), target.parent / name) for name in sorted(names)
            if (m := pattern.fullmatch(name))]


def _discard(path: Path) -> None:
    """Remove a temporary folder (or file); whatever cannot be removed waits for the next run."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _recover(target: Path) -> None:
    """Undo what a killed run left: a previous set that two renames had moved aside is put back
    (if the folder is missing), every other temporary of ``target`` is removed."""
    olds, others = [], []
    for kind, path in _siblings(target):
        (olds if kind == 'old' else others).append(path)
    if olds and not os.path.lexists(target):
        newest = max(olds, key=lambda p: p.lstat().st_ctime)
        os.rename(newest, target)
        olds.remove(newest)
    for path in olds + others:
        _discard(path)


def _exchange(a: Path, b: Path) -> None:
    """Swap the names ``a`` and ``b`` in one step (Linux ``renameat2``); ``OSError`` with
    ``ENOSYS`` or ``EINVAL`` where the system or the file system cannot."""
    rename = None
    if sys.platform.startswith('linux'):
        with contextlib.suppress(OSError, AttributeError):
            rename = ctypes.CDLL(None, use_errno=True).renameat2
    if rename is None:
        raise OSError(errno.ENOSYS, 'renameat2 is not available', str(a))
    rename.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                       ctypes.c_uint]
    rename.restype = ctypes.c_int
    if rename(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a), None, str(b))


def _swap(fresh: Path, target: Path) -> None:
    """Put the complete folder ``fresh`` in place of ``target`` and remove the previous one."""
    if not os.path.lexists(target):
        os.rename(fresh, target)
        return
    try:
        _exchange(fresh, target)
    except OSError as err:
        if err.errno not in _NO_EXCHANGE:
            raise
    else:
        _discard(fresh)  # now the previous set
        return
    old = _sibling(target, 'old')  # no exchange: two renames, undone by _recover if killed
    os.rename(target, old)
    try:
        os.rename(fresh, target)
    except BaseException:
        os.rename(old, target)
        raise
    _discard(old)


@contextlib.contextmanager
def output_lock(out_dir):
    """Hold ``out_dir`` for this process: :class:`ParameterError` if another run holds it.

    The lock is ``flock`` on ``.<name>.lock`` beside the folder (so that it outlives the swap;
    the kernel releases it when the process ends, however it ends). Taking it also undoes what
    a killed run into the same folder left (:func:`_recover`). ``out_dir`` is checked first
    (:func:`check_output_folder`). The lock may be taken again while held (``run`` holds it
    while simulating, :func:`replace_folder` again while writing). Yields the absolute folder.
    """
    shown = Path(out_dir)
    target = _target(out_dir)
    key = str(target)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield target
        finally:
            _HELD[key][1] -= 1
        return
    check_output_folder(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f'.{target.name}.lock'
    cloexec = getattr(os, 'O_CLOEXEC', 0)
    try:
        fd, writable = os.open(lock, os.O_RDWR | os.O_CREAT | cloexec, 0o666), True
    except PermissionError:  # another user's lock file: it can still be locked
        fd, writable = os.open(lock, os.O_RDONLY | cloexec), False
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ParameterError(f'--out: {shown} is in use by another run'
                                     f'{_holder(fd)}') from None
            if writable:  # the holder's pid, for the message above (emptied on release)
                pid = f'{os.getpid()}\n'.encode()
                os.pwrite(fd, pid, 0)
                os.ftruncate(fd, len(pid))
        _HELD[key] = [fd, 1]
        _recover(target)
        yield target
    finally:
        if _HELD.pop(key, None) is not None and writable and fcntl is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    """`` (pid N)`` of the run holding the lock file ``fd``, or '' if it has not written it
    yet (waits for it a moment)."""
    for _ in range(20):
        pid = os.pread(fd, 32, 0).decode(errors='replace').strip()
        if pid.isdigit():
            return f' (pid {pid})'
        time.sleep(0.01)
    return ''


@contextlib.contextmanager
def replace_folder(out_dir):
    """Yield a fresh, empty folder to write a whole result set into; on success it replaces
    ``out_dir`` in one step, on an exception it is removed and ``out_dir`` is left as it was.

    Holds :func:`output_lock` throughout. The fresh folder is a hidden sibling of ``out_dir``
    (same file system) with mode ``0o777`` less the umask.
    """
    with output_lock(out_dir) as target:
        while True:
            fresh = _sibling(target, 'new')
            try:
                os.mkdir(fresh, 0o777)
                break
            except FileExistsError:
                continue
        try:
            yield fresh
            _swap(fresh, target)
        except BaseException:
            _discard(fresh)
            raise


def _atomic_write(path: Path, write) -> None:
    """Write via ``write(file_object_path)`` to a temporary file beside ``path``, then rename
    (with the umask's mode)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _save_npz(path, arrays) -> None:
    with open(path, 'wb') as f:
        np.savez(f, **arrays)


def _write_json(path: Path, data) -> None:
    def write(tmp):
        with open(tmp, 'w') as f:
            json.dump(data, f, indent=2, default=_jsonable)
            f.write('\n')
    _atomic_write(path, write)


def run_experiment(config: Config, out_dir, command=None, progress=None) -> dict:
    """Run ``config`` and write its results into ``out_dir`` (replacing what was there as a
    whole, see :func:`replace_folder`); returns the results summary.

    Progress bars are shown when ``progress`` is true, by default only on a terminal (a log
    file does not fill with them).
    """
    out_dir = check_output_folder(out_dir)
    if progress is None:
        progress = sys.stderr.isatty()
    with output_lock(out_dir):
        start = time.perf_counter()
        results = run_protocols(config, progress=progress)
        wall = time.perf_counter() - start
        targets = evaluate(results)
        summary = {
            'experiment': config.name, 'title': config.title,
            'runs': {label: {'protocol': r.protocol,
                             'conditions': {k: _jsonable(v) for k, v in r.conditions.items()},
                             'weight_change': _jsonable(r.weight_change), **r.summary}
                     for label, r in results.items()},
            'targets': targets,
            'files': {},
        }
        with replace_folder(out_dir) as folder:
            _write_results(config, results, summary, folder, command, wall)
    return summary


def _write_results(config: Config, results: dict, summary: dict, folder: Path, command,
                   wall: float) -> None:
    """Write the arrays, figures, results.json and metadata.json of a run into ``folder``."""
    for label, r in results.items():
        name = f'{label}.npz'
        _atomic_write(folder / name, lambda tmp, r=r: _save_npz(tmp, r.arrays()))
        summary['files'][label] = name
    by_protocol = {}
    for spec in config.runs:
        by_protocol.setdefault(spec.protocol, []).append((spec.label, results[spec.label]))
    figures = []
    for protocol, runs in by_protocol.items():
        fig = figure_for(protocol, runs)
        if fig is None:  # a protocol declared without a figure
            continue
        name = f'{protocol}.png'
        _atomic_write(folder / name, lambda tmp, fig=fig: fig.savefig(tmp, dpi=110, format='png'))
        figures.append(name)
    summary['figures'] = figures
    _write_json(folder / 'results.json', summary)
    _write_json(folder / 'metadata.json', {
        'config': config.raw, 'config_name': config.name, 'seed': config.seed,
        'dt': _jsonable(config.dt), 'command': command or sys.argv,
        'versions': package_versions(), 'platform': platform.platform(),
        'wall_time_s': wall, 'finished': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
    })


def format_targets(rows) -> str:
    """The target table as text."""
    out = io.StringIO()
    for row in rows:
        mark = 'n/a ' if row['passed'] is None else 'ok  ' if row['passed'] else 'FAIL'
        reason = f" ({row['error']})" if row.get('error') else ''
        out.write(f"  {mark} {row['protocol']:22s} {row['condition']:42s} "
                  f"{row['measured_text']:>10s}   target {row['target']}{reason}\n")
    return out.getvalue()
