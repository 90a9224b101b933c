"""Parameter grids over an experiment config: every combination, one CSV table, heat maps.

``ltp-brainpy sweep CONFIG --grid theta_p="0.3 uM:0.6 uM:7" --grid run.0.n_pairs=20:60:3``
runs the config once per point of the Cartesian grid of its axes. An axis is any key that
``--set`` accepts -- a model parameter, a top-level setting or a run argument -- with values
``START:STOP:N`` (N evenly spaced values, in START's unit; integers stay integers) or a list
``a,b,c``. Every point is validated before the first simulation. Results: ``sweep.csv`` (one row
per grid point, run and condition), a figure per run (weight change against one axis, or a heat
map over two; none for three or more), and ``metadata.json``. They replace the output folder
as a whole, or not at all, and a folder in use by another run is refused (see
:func:`ltp_brainpy.experiments.replace_folder`).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import saiunit as u

from ._validate import ParameterError
from .config import Config, load_config, parse_quantity

__all__ = ['Axis', 'parse_axis', 'sweep_configs', 'run_sweep', 'MAX_POINTS']

#: Most points a grid may have (each is validated, then run).
MAX_POINTS = 10_000


@dataclasses.dataclass(frozen=True)
class Axis:
    """One axis of a grid: the ``--set`` key, its values as TOML text and as plain numbers."""
    name: str
    texts: tuple
    numbers: tuple
    unit: str


def _value(text: str, where: str):
    text = text.strip().strip('"\'')
    try:
        value = tomllib.loads(f'v = {text}')['v']  # a bare number (a count, a factor)
    except tomllib.TOMLDecodeError:
        value = parse_quantity(text, where)
    if isinstance(value, bool) or not isinstance(value, (int, float, u.Quantity)):
        raise ParameterError(f'{where}: expected a number or a quantity, got {text!r}')
    return value


def parse_axis(spec: str) -> Axis:
    """``name=START:STOP:N`` or ``name=a,b,c`` -> :class:`Axis`."""
    where = f'--grid {spec}'
    if '=' not in spec:
        raise ParameterError(f'{where}: expected name=START:STOP:N or name=a,b,c')
    name, text = (part.strip() for part in spec.split('=', 1))
    text = text.strip('"\'')
    parts = text.split(':')
    if not name:
        raise ParameterError(f'{where}: expected name=START:STOP:N or name=a,b,c, got no name')
    if len(parts) not in (1, 3):
        raise ParameterError(f'{where}: expected START:STOP:N (three parts), got {text!r}')
    if len(parts) == 3:
        start, stop = _value(parts[0], where), _value(parts[1], where)
        try:
            n = int(parts[2])
        except ValueError:
            n = 0
        if not 1 <= n <= MAX_POINTS:
            raise ParameterError(f'{where}: N must be a positive integer (expected 1 to '
                                 f'{MAX_POINTS:,}), got {parts[2]!r}')
        if isinstance(start, u.Quantity) != isinstance(stop, u.Quantity):
            raise ParameterError(f'{where}: START and STOP need the same kind of value')
        if isinstance(start, u.Quantity):
            unit = u.get_unit(start)
            try:
                stop = stop.to_decimal(unit)
            except Exception:
                raise ParameterError(f'{where}: STOP has a unit other than START\'s ({unit})')
            values = list(np.linspace(start.to_decimal(unit), stop, n))
        else:
            unit = None
            values = list(np.linspace(start, stop, n))
            if isinstance(start, int) and isinstance(stop, int):
                values = sorted(set(int(round(v)) for v in values))
    else:
        items = [_value(item, where) for item in text.split(',') if item.strip()]
        if not items:
            raise ParameterError(f'{where}: expected a list of values a,b,c, got none')
        if len(items) > MAX_POINTS:
            raise ParameterError(f'{where}: expected at most {MAX_POINTS:,} values, '
                                 f'got {len(items):,}')
        units = {str(u.get_unit(v)) if isinstance(v, u.Quantity) else None for v in items}
        if len(units) > 1:
            raise ParameterError(f'{where}: the values must share one unit, got {sorted(map(str, units))}')
        unit = u.get_unit(items[0]) if isinstance(items[0], u.Quantity) else None
        values = [v.to_decimal(unit) if unit is not None else v for v in items]
    numbers = tuple(float(v) for v in values)
    texts = tuple(f'"{v:g} {unit}"' if unit is not None else (f'{v}' if isinstance(v, int)
                                                               else f'{float(v):g}')
                  for v in values)
    return Axis(name, texts, numbers, '' if unit is None else str(unit))


def sweep_configs(path, axes, overrides=(), preset=None) -> list:
    """``[(point, Config)]`` for every point of the grid, each validated (nothing runs)."""
    points = []
    for combination in itertools.product(*(range(len(axis.texts)) for axis in axes)):
        point = {axis.name: axis.numbers[k] for axis, k in zip(axes, combination)}
        assignments = [f'{axis.name}={axis.texts[k]}' for axis, k in zip(axes, combination)]
        points.append((point, load_config(path, [*overrides, *assignments], preset=preset)))
    return points


def _table(points, results) -> list:
    rows = []
    for (point, _), runs in zip(points, results):
        for label, r in runs.items():
            if r.weight_change is None:
                continue
            key, values = next(iter(r.conditions.items()))
            unit = str(u.get_unit(values)) if isinstance(values, u.Quantity) else ''
            plain = np.asarray(values.mantissa if isinstance(values, u.Quantity) else values)
            for value, change in zip(np.atleast_1d(plain), np.atleast_1d(r.weight_change)):
                rows.append({**point, 'run': label, 'condition': key,
                             'condition_value': float(value), 'condition_unit': unit,
                             'weight_change': float(change)})
    return rows


def _figures(axes, rows):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figures = {}
    for run in dict.fromkeys(row['run'] for row in rows):
        mine = [row for row in rows if row['run'] == run]
        conditions = list(dict.fromkeys(row['condition_value'] for row in mine))[:12]
        label = f"{mine[0]['condition']} = {{:g}} {mine[0]['condition_unit']}"
        n = len(conditions)
        cols = min(n, 4)
        fig, grid = plt.subplots((n + cols - 1) // cols, cols, squeeze=False,
                                 figsize=(3.6 * cols, 3.0 * ((n + cols - 1) // cols)))
        for ax, condition in zip(grid.ravel(), conditions):
            sel = [row for row in mine if row['condition_value'] == condition]
            x = np.array([row[axes[0].name] for row in sel])
            z = 100 * np.array([row['weight_change'] for row in sel])
            if len(axes) == 1:
                ax.plot(x, z, 'o-')
                ax.axhline(0, color='k', lw=0.8)
                ax.set(xlabel=f'{axes[0].name} ({axes[0].unit})', ylabel='weight change (%)')
            else:
                shape = (len(axes[0].numbers), len(axes[1].numbers))
                image = z.reshape(shape)
                limit = max(np.abs(image).max(), 1e-9)
                im = ax.imshow(image, origin='lower', aspect='auto', cmap='RdBu_r',
                               vmin=-limit, vmax=limit)
                ax.set_xticks(range(shape[1]), [f'{v:g}' for v in axes[1].numbers],
                              fontsize=7, rotation=45)
                ax.set_yticks(range(shape[0]), [f'{v:g}' for v in axes[0].numbers], fontsize=7)
                ax.set(xlabel=f'{axes[1].name} ({axes[1].unit})',
                       ylabel=f'{axes[0].name} ({axes[0].unit})')
                fig.colorbar(im, ax=ax, label='weight change (%)')
            ax.set_title(label.format(condition), fontsize=9)
        for ax in grid.ravel()[n:]:
            ax.set_visible(False)
        fig.suptitle(run)
        fig.tight_layout()
        figures[run] = fig
    return figures


def _primary() -> bool:
    """Whether this process writes the results: the only one, or process 0 of a
    ``jax.distributed`` run (``ltp-brainpy sweep --distributed``)."""
    import jax
    return jax.process_index() == 0


def _run_points(points, run) -> list:
    """``run(config)`` for every point. Each point's conditions are spread over the devices of
    this process by the protocols (:mod:`ltp_brainpy.devices`); in a ``jax.distributed`` run
    every process runs every ``process_count``-th point and the results are gathered on every
    process."""
    from . import devices
    local = {k: run(points[k][1]) for k in devices.process_share(len(points))}
    return devices.gather_points(local, len(points))


def run_sweep(path, axes, out_dir, overrides=(), preset=None, command=None) -> dict:
    """Run the grid and write ``sweep.csv``, a figure per run and ``metadata.json``."""
    from .experiments import (_atomic_write, _write_json, check_output_folder, output_lock,
                              package_versions, replace_folder, run_protocols)

    if not axes:
        raise ParameterError('--grid: give at least one axis')
    names = [axis.name for axis in axes]
    if len(set(names)) != len(names):
        raise ParameterError(f'--grid: each axis once, got {names}')
    size = int(np.prod([len(axis.numbers) for axis in axes]))
    if size > MAX_POINTS:
        raise ParameterError(f'--grid: expected at most {MAX_POINTS:,} grid points, got {size:,}')
    points = sweep_configs(path, axes, overrides, preset)
    config: Config = load_config(path, overrides, preset=preset)  # the grid's base
    if not _primary():  # another process of a jax.distributed run: its share of the points
        start = time.perf_counter()
        _run_points(points, run_protocols)
        return dict(points=len(points), rows=0, figures=[], secondary=True,
                    wall_time_s=time.perf_counter() - start)
    out_dir = check_output_folder(out_dir)
    with output_lock(out_dir):  # held from before the first simulation until the swap
        start = time.perf_counter()
        results = _run_points(points, run_protocols)
        wall = time.perf_counter() - start
        rows = _table(points, results)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=[*names, 'run', 'condition', 'condition_value',
                                                  'condition_unit', 'weight_change'])
        writer.writeheader()
        writer.writerows(rows)
        figures = []
        with replace_folder(out_dir) as folder:  # the whole result set, or nothing
            _atomic_write(folder / 'sweep.csv', lambda tmp: Path(tmp).write_text(text.getvalue()))
            for run, fig in (_figures(axes, rows) if len(axes) <= 2 else {}).items():
                name = f'sweep_{run.replace("/", "_").replace(" ", "_")}.png'
                _atomic_write(folder / name, lambda tmp, fig=fig: fig.savefig(tmp, dpi=110,
                                                                               format='png'))
                figures.append(name)
            _write_json(folder / 'metadata.json', {
                'config_name': config.name, 'axes': [dataclasses.asdict(axis) for axis in axes],
                'overrides': list(overrides), 'n_points': len(points), 'seed': config.seed,
                'command': command or sys.argv, 'versions': package_versions(),
                'wall_time_s': wall, 'finished': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
                'config': config.raw,
            })
    return dict(points=len(points), rows=len(rows), figures=figures, wall_time_s=wall)
