"""Result sets are replaced as a whole or not at all: runs killed at any moment of the write
phase, concurrent runs into one folder (a lock), failed runs, stale temporaries and the umask."""
import json
import os
import subprocess
import sys
import shutil
from pathlib import Path

import pytest

from ltp_brainpy import experiments
from ltp_brainpy.cli import main

ROOT = Path(__file__).resolve().parents[1]

CONFIG = '''\
title = "t"
dt = "0.1 ms"
seed = 0
[[run]]
label = "mg_block"
protocol = "mg_block"
mg = "1 mM"
[[run]]
label = "depression"
protocol = "short_term_depression"
frequencies = ["20 Hz"]
n_spikes = 3
'''

# Runs the command line, killing itself (SIGKILL) at the k-th call of one write-phase function;
# the package is patched from here, it has no test hooks.
WRAPPER = '''\
import errno, os, signal, sys
import ltp_brainpy.experiments as ex

moment, k, config, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
calls = [0]


def kill_at_k(function):
    def patched(*args, **kwargs):
        calls[0] += 1
        if calls[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)
        return function(*args, **kwargs)
    return patched


if moment.startswith('rename'):  # as where renameat2 is missing: two renames
    def no_exchange(a, b):
        raise OSError(errno.ENOSYS, 'renameat2 is not available')
    ex._exchange = no_exchange
if moment == 'write':  # before the k-th file (6 in all)
    ex._atomic_write = kill_at_k(ex._atomic_write)
elif moment == 'swap':  # every file written, before the swap
    ex._swap = kill_at_k(ex._swap)
elif moment in ('discard', 'rename-discard'):  # swapped, the previous set not yet removed
    ex._discard = kill_at_k(ex._discard)
elif moment == 'rename':  # the previous set moved aside, the new one not yet in place
    rename = os.rename
    def between(src, dst):
        if os.path.abspath(dst) == os.path.abspath(out):
            os.kill(os.getpid(), signal.SIGKILL)
        return rename(src, dst)
    os.rename = between

from ltp_brainpy.cli import main
sys.exit(main(['run', config, '--out', out, '--set', 'title="new"', '--set', 'seed=2']))
'''

HOLDER = '''\
import sys, time
from ltp_brainpy.experiments import output_lock
with output_lock(sys.argv[1]):
    print('locked', flush=True)
    time.sleep(120)
'''


def python(*args, **kwargs):
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get('PYTHONPATH')])])}
    return subprocess.Popen([sys.executable, *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp('config') / 'small.toml'
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope='module')
def old_set(config, tmp_path_factory):
    """A complete earlier result set (title "old", seed 1)."""
    out = tmp_path_factory.mktemp('old') / 'out'
    assert main(['run', str(config), '--out', str(out), '--set', 'title="old"',
                 '--set', 'seed=1']) == 0
    return out


@pytest.fixture
def out(old_set, tmp_path):
    """A copy of the earlier result set as --out."""
    folder = tmp_path / 'out'
    shutil.copytree(old_set, folder)
    return folder


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def temporaries(out: Path) -> list:
    """What runs into ``out`` left beside it, except the lock file."""
    return sorted(p.name for p in out.parent.iterdir()
                  if p.name.startswith(f'.{out.name}.') and p.name != f'.{out.name}.lock')


def complete_set(out: Path) -> str:
    """Assert that ``out`` holds exactly one complete result set; return its title."""
    results = json.loads((out / 'results.json').read_text())
    meta = json.loads((out / 'metadata.json').read_text())
    listed = {*results['files'].values(), *results['figures'], 'results.json', 'metadata.json'}
    assert sorted(os.listdir(out)) == sorted(listed)
    assert meta['config']['title'] == results['title']
    assert meta['seed'] == {'old': 1, 'new': 2, 'A': 1, 'B': 2}.get(results['title'], 0)
    for name in results['files'].values():
        assert (out / name).read_bytes()[:2] == b'PK'
    for name in results['figures']:
        assert (out / name).read_bytes()[:4] == b'\x89PNG'
    return results['title']


@pytest.mark.parametrize('moment, k, expected', [
    ('write', 1, 'old'), ('write', 3, 'old'), ('write', 6, 'old'), ('swap', 1, 'old'),
    ('discard', 1, 'new'), ('rename', 1, 'old'), ('rename-discard', 1, 'new'),
])
def test_a_run_killed_while_writing_leaves_one_complete_set(config, out, tmp_path, moment, k,
                                                            expected):
    before = snapshot(out)
    wrapper = tmp_path / 'wrapper.py'
    wrapper.write_text(WRAPPER)
    proc = python(wrapper, moment, k, config, out, cwd=tmp_path)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == -9, stderr
    if moment == 'rename':  # two renames, killed between them: put back at the next start
        assert not out.exists()
        with experiments.output_lock(out):
            pass
    assert complete_set(out) == expected
    if expected == 'old':
        assert snapshot(out) == before
    # The next run removes what the killed one left and replaces the set.
    assert main(['run', str(config), '--out', str(out)]) == 0
    assert complete_set(out) == 't'
    assert temporaries(out) == []


def test_concurrent_runs_into_one_folder(config, tmp_path):
    out = tmp_path / 'out'
    for _ in range(3):
        procs = {name: python('-m', 'ltp_brainpy.cli', 'run', config, '--out', out, '--set',
                              f'title="{name}"', '--set', f'seed={seed}', cwd=tmp_path)
                 for name, seed in (('A', 1), ('B', 2))}
        errors = {name: proc.communicate(timeout=120)[1] for name, proc in procs.items()}
        outcomes = {name: (proc.returncode, errors[name]) for name, proc in procs.items()}
        codes = {name: code for name, (code, _) in outcomes.items()}
        assert 0 in codes.values(), outcomes
        for name, (code, err) in outcomes.items():
            if code == 2:
                assert err.startswith(f'error: --out: {out} is in use by another run')
                assert err.count('\n') == 1
            else:
                assert code == 0, err
        title = complete_set(out)
        assert codes[title] == 0
        assert temporaries(out) == []


def test_a_folder_in_use_is_refused_before_simulating(config, tmp_path, capsys, monkeypatch):
    out = tmp_path / 'out'
    holder = python('-c', HOLDER, out, cwd=tmp_path)
    try:
        assert holder.stdout.readline().strip() == 'locked'

        def simulated(*args, **kwargs):
            raise AssertionError('simulated while the folder is in use')
        monkeypatch.setattr(experiments, 'run_protocols', simulated)
        monkeypatch.setattr('ltp_brainpy.fit.fit', simulated)
        for command in (['run', str(config)], ['sweep', str(config), '--grid', 'seed=1,2'],
                        ['fit', 'markram1997']):
            assert main(command + ['--out', str(out)]) == 2
            err = capsys.readouterr().err
            assert err == f'error: --out: {out} is in use by another run (pid {holder.pid})\n'
        assert not out.exists()
    finally:
        holder.kill()
        holder.communicate()
    monkeypatch.undo()
    assert main(['run', str(config), '--out', str(out)]) == 0  # the kernel released the lock
    assert complete_set(out) == 't'


def test_a_failed_run_leaves_the_old_set_and_no_temporaries(config, out, monkeypatch):
    before = snapshot(out)
    real, calls = experiments._atomic_write, []

    def failing(path, write):
        calls.append(path)
        if len(calls) == 3:
            raise RuntimeError('disk full')
        real(path, write)
    monkeypatch.setattr(experiments, '_atomic_write', failing)
    with pytest.raises(RuntimeError, match='disk full'):
        main(['run', str(config), '--out', str(out)])
    assert len(calls) == 3 and calls[0].parent.name.startswith('.out.new-')
    assert snapshot(out) == before
    assert temporaries(out) == []
    # A sweep that fails while writing leaves the set too.
    calls[:] = [None, None]  # the sweep fails at its first file
    with pytest.raises(RuntimeError, match='disk full'):
        main(['sweep', str(config), '--grid', 'seed=1,2', '--out', str(out)])
    assert snapshot(out) == before
    assert temporaries(out) == []


def test_without_renameat2_two_renames_replace_the_set(config, out, monkeypatch):
    import errno

    def no_exchange(a, b):
        raise OSError(errno.EINVAL, 'not supported here')
    monkeypatch.setattr(experiments, '_exchange', no_exchange)
    assert main(['run', str(config), '--out', str(out)]) == 0
    assert complete_set(out) == 't'
    assert temporaries(out) == []


def test_stale_temporaries_of_this_folder_only_are_removed(tmp_path):
    out = tmp_path / 'out'
    aside = tmp_path / '.out.old-123-abcd'  # two renames, killed between them
    aside.mkdir()
    (aside / 'metadata.json').write_text('old')
    (tmp_path / '.out.new-124-beef').mkdir()
    (tmp_path / '.out.new-124-beef' / 'results.json').write_text('half')
    others = ['.outx.new-1-aa', '.out.new-5.new-1-aa', 'out.new-1-aa', '.other.old-1-ab']
    for name in others:
        (tmp_path / name).mkdir()
    with experiments.output_lock(out):
        assert snapshot(out) == {'metadata.json': b'old'}
        assert temporaries(out) == ['.out.new-5.new-1-aa']  # out.new-5's, not out's
    # With the folder present, a set moved aside is stale.
    (tmp_path / '.out.old-125-cafe').mkdir()
    with experiments.output_lock(out):
        assert snapshot(out) == {'metadata.json': b'old'}
    assert temporaries(out) == ['.out.new-5.new-1-aa']
    assert all((tmp_path / name).is_dir() for name in others)


def test_results_and_their_folder_follow_the_umask(config, out):
    old = os.umask(0o027)
    try:
        assert main(['run', str(config), '--out', str(out)]) == 0
    finally:
        os.umask(old)
    assert complete_set(out) == 't'
    assert out.stat().st_mode & 0o777 == 0o750
    assert {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()} == {
        p.name: 0o640 for p in out.iterdir()}


def test_a_folder_that_is_not_a_result_set_is_refused(config, tmp_path, capsys, monkeypatch):
    nested = tmp_path / 'nested'
    (nested / 'sub').mkdir(parents=True)
    notes = tmp_path / 'notes'
    notes.mkdir()
    (notes / 'notes.txt').write_text('keep me')
    monkeypatch.setattr(experiments, 'run_protocols', None)  # nothing may be simulated
    for folder, message in ((nested, 'holds folders (sub/)'), (notes, 'holds files but no results'),
                            (tmp_path, 'is the current folder or holds it')):
        monkeypatch.chdir(notes if folder is tmp_path else tmp_path)
        assert main(['run', str(config), '--out', str(folder)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count('\n') == 1, err
    assert (notes / 'notes.txt').read_text() == 'keep me' and (nested / 'sub').is_dir()
