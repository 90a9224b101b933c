"""The tutorials run top to bottom (in quick mode) and open as jupytext notebooks."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / 'tutorials').glob('*.py'))


@pytest.mark.parametrize('path', TUTORIALS, ids=[p.name for p in TUTORIALS])
def test_tutorial_runs(path, tmp_path):
    env = dict(os.environ, LTP_TUTORIAL_QUICK='1', MPLBACKEND='Agg')
    proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (f'{path.name} exited with {proc.returncode}; '
                                  f'stderr (tail):\n{proc.stderr[-5000:]}')


def test_tutorials_are_jupytext_percent_notebooks():
    import jupytext

    assert len(TUTORIALS) >= 5
    for path in TUTORIALS:
        notebook = jupytext.read(path)
        kinds = [cell.cell_type for cell in notebook.cells]
        assert 'markdown' in kinds and 'code' in kinds, path.name
        assert notebook.metadata['jupytext']['text_representation']['format_name'] == 'percent'
