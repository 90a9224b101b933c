"""Run an experiment config: results.json, arrays (.npz), figures (.png) and metadata.json.

Everything is validated before the first simulation, and every file is first written under a
temporary name and then renamed into place, so bad input or an interrupted run never leaves a
half-written or clobbered result behind.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import brainstate
import numpy as np
import saiunit as u

from . import __version__
from ._validate import ParameterError
from .config import Config
from .plotting import figure_for
from .registry import PROTOCOLS, accepts
from .targets import evaluate

__all__ = ['run_protocols', 'run_experiment', 'package_versions', 'check_output_folder']

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
        kwargs = dict(spec.arguments)
        for name, value in (('dt', config.dt), ('seed', config.seed), ('pbar', progress)):
            if accepts(spec.protocol, name):
                kwargs[name] = value
        results[spec.label] = PROTOCOLS[spec.protocol](**kwargs, **spec.model)
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
    (checked before anything is simulated)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f'--out: {out_dir} exists and is not a folder')
    existing = out_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(f'--out: cannot write in {existing}')
    return out_dir


def _atomic_write(path: Path, write) -> None:
    """Write via ``write(file_object_path)`` to a temporary file beside ``path``, then rename."""
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
    """Run ``config`` and write its results into ``out_dir``; returns the results summary.

    Progress bars are shown when ``progress`` is true, by default only on a terminal (a log
    file does not fill with them).
    """
    out_dir = check_output_folder(out_dir)
    if progress is None:
        progress = sys.stderr.isatty()
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
    out_dir.mkdir(parents=True, exist_ok=True)
    for label, r in results.items():
        name = f'{label}.npz'
        _atomic_write(out_dir / name, lambda tmp, r=r: _save_npz(tmp, r.arrays()))
        summary['files'][label] = name
    by_protocol = {}
    for spec in config.runs:
        by_protocol.setdefault(spec.protocol, []).append((spec.label, results[spec.label]))
    figures = []
    for protocol, runs in by_protocol.items():
        fig = figure_for(protocol, runs)
        name = f'{protocol}.png'
        _atomic_write(out_dir / name, lambda tmp, fig=fig: fig.savefig(tmp, dpi=110, format='png'))
        figures.append(name)
    summary['figures'] = figures
    _write_json(out_dir / 'results.json', summary)
    _write_json(out_dir / 'metadata.json', {
        'config': config.raw, 'config_name': config.name, 'seed': config.seed,
        'dt': _jsonable(config.dt), 'command': command or sys.argv,
        'versions': package_versions(), 'platform': platform.platform(),
        'wall_time_s': wall, 'finished': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
    })
    return summary


def format_targets(rows) -> str:
    """The target table as text."""
    out = io.StringIO()
    for row in rows:
        mark = 'ok  ' if row['passed'] else 'FAIL'
        out.write(f"  {mark} {row['protocol']:22s} {row['condition']:42s} "
                  f"{row['measured_text']:>10s}   target {row['target']}\n")
    return out.getvalue()
