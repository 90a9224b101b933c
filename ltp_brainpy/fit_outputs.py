"""Write a fit's results: fit.json, the figures, preset.toml, the data and metadata.json.

As with ``ltp-brainpy run``, the files replace the output folder as a whole or not at all
(:func:`ltp_brainpy.experiments.replace_folder`): an interrupted fit leaves the previous result
set complete, and a folder in use by another run is refused. The command line holds the folder's
lock from before fitting (:func:`ltp_brainpy.experiments.output_lock`).
"""
from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

from .datasets import Dataset
from .experiments import _atomic_write, _write_json, package_versions, replace_folder
from .fit import FitResult
from .plotting import convergence_figure, fit_figure

__all__ = ['write_fit', 'dataset_csv']


def dataset_csv(dataset: Dataset) -> str:
    """The data set as a CSV in the schema of :mod:`ltp_brainpy.datasets`."""
    columns = ['id', 'protocol']
    for row in dataset.rows:
        columns += [c for c in row.columns() if c not in columns]
    columns += ['change', 'sem', 'n']
    lines = [f'# {line}' for line in dataset.comments.splitlines()] + [','.join(columns)]
    for row in dataset.rows:
        values = {'id': row.id, 'protocol': row.protocol, **row.columns(), 'change': row.change,
                  'sem': row.sem, 'n': '' if row.n is None else row.n}
        lines.append(','.join(f'{values.get(c, "")}' for c in columns))
    return '\n'.join(lines) + '\n'


def _write_text(path: Path, text: str) -> None:
    def write(tmp):
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
    _atomic_write(path, write)


def write_fit(result: FitResult, dataset: Dataset, out_dir, settings: dict, command=None) -> dict:
    """Write the fit into ``out_dir``, replacing what was there as a whole; returns its summary
    (what fit.json holds)."""
    summary = result.summary()
    with replace_folder(out_dir) as folder:
        _write_json(folder / 'fit.json', summary)
        for name, fig in (('fit.png', fit_figure(summary)),
                          ('convergence.png', convergence_figure(summary))):
            _atomic_write(folder / name, lambda tmp, fig=fig: fig.savefig(tmp, dpi=110,
                                                                          format='png'))
        _write_text(folder / 'preset.toml', result.preset_toml())
        _write_text(folder / 'data.csv', dataset_csv(dataset))
        _write_json(folder / 'metadata.json', {
            'dataset': dataset.name, 'settings': settings, 'command': command or sys.argv,
            'versions': package_versions(), 'platform': platform.platform(),
            'wall_time_s': result.wall_time_s, 'finished': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        })
    return summary
