"""``ltp-brainpy``: run experiment configs and fit the model to data.

    ltp-brainpy list [--dir DIR]
    ltp-brainpy run CONFIG [--out DIR] [--preset PRESET] [--set key=value ...]
    ltp-brainpy sweep CONFIG --grid key=START:STOP:N [--grid ...] [--set ...] [--out DIR]
    ltp-brainpy fit DATA [--params a,b,...] [--fix key=value ...] [--out DIR]

CONFIG is a TOML file or the name of a bundled config (``ltp-brainpy list``; they live in the
repository's configs/ and are installed with the package); PRESET a preset.toml (as written by
``fit``) or the name of a bundled preset; DATA a CSV file or the name of a bundled data set.
Results go to DIR (default results/<name>), which they replace as a whole (or not at all, if the
run fails or is killed). Bad input, or a DIR in use by another run, is reported in one line and
exits with status 2, before anything is simulated or written.
"""
from __future__ import annotations

import argparse
import difflib
import sys
import tomllib
from importlib import resources
from pathlib import Path

from ._validate import ParameterError

def _config_dir(directory) -> Path:
    """``--dir``, or the configs installed with the package."""
    return Path(directory) if directory is not None else Path(
        str(resources.files('ltp_brainpy.configs')))


def _resolve(config: str, directory) -> Path:
    path = Path(config)
    if path.suffix == '.toml' or path.exists():
        return path
    folder = _config_dir(directory)
    path = folder / f'{config}.toml'
    if not path.is_file():
        names = sorted(p.stem for p in folder.glob('*.toml'))
        close = difflib.get_close_matches(config, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ''
        raise ParameterError(f'config: no config named {config!r} in {folder} '
                             f'(have: {", ".join(names)}){hint}')
    return path


def _list(directory) -> int:
    from .config import bundled_presets
    from .datasets import bundled_datasets

    folder = _config_dir(directory)
    paths = sorted(folder.glob('*.toml'))
    if not paths:
        print(f'error: no configs in {folder}', file=sys.stderr)
        return 2
    for path in paths:
        title = tomllib.loads(path.read_text()).get('title', '')
        print(f'{path.stem:12s} {title}')
    print(f"presets:  {', '.join(bundled_presets())}")
    print(f"datasets: {', '.join(bundled_datasets())}")
    return 0


def _run(args) -> int:
    from .config import load_config  # heavy imports only when running
    from .experiments import format_targets, run_experiment

    path = _resolve(args.config, args.dir)
    config = load_config(path, args.set, preset=args.preset)
    out = Path(args.out) if args.out else Path('results') / config.name
    print(f'{config.title}: {len(config.runs)} run(s), dt = {config.dt}, writing to {out}/')
    summary = run_experiment(config, out, command=['ltp-brainpy'] + sys.argv[1:])
    for label, run in summary['runs'].items():
        if run['weight_change'] is not None:
            changes = ', '.join(f'{100 * c:+.1f} %' for c in run['weight_change'])
            print(f'  {label:12s} weight change: {changes}')
        for key, value in run.items():
            if key not in ('protocol', 'conditions', 'weight_change') and isinstance(
                    value, (int, float)):
                print(f'  {label:12s} {key}: {value:.3f}')
    if summary['targets']:
        print('Targets:')
        print(format_targets(summary['targets']), end='')
    print(f"Wrote results.json, metadata.json, {len(summary['files'])} .npz and "
          f"{len(summary['figures'])} figure(s) to {out}/")
    return 0


def _sweep(args) -> int:
    from .sweep import parse_axis, run_sweep

    path = _resolve(args.config, args.dir)
    axes = [parse_axis(spec) for spec in args.grid]
    out = Path(args.out) if args.out else Path('results') / f'sweep_{path.stem}'
    points = 1
    for axis in axes:
        points *= len(axis.numbers)
    print(f'{path.stem}: {points} grid point(s) over {", ".join(a.name for a in axes)}, '
          f'writing to {out}/')
    summary = run_sweep(path, axes, out, args.set, preset=args.preset,
                        command=['ltp-brainpy'] + sys.argv[1:])
    print(f"Wrote sweep.csv ({summary['rows']} rows), {len(summary['figures'])} figure(s) and "
          f"metadata.json to {out}/ in {summary['wall_time_s']:.0f} s")
    return 0


def _assignments(items, where) -> dict:
    """``["theta_p=0.6 uM", ...]`` -> ``{"theta_p": 0.6 * u.uM}`` (validated model parameters)."""
    from .config import parse_quantity
    from .parameters import default_parameters, parameter_names, unknown_key_error
    from ._validate import quantity

    owners, defaults = parameter_names(), default_parameters()
    values = {}
    for item in items:
        if '=' not in item:
            raise ParameterError(f'{where}: expected name=value, got {item!r}')
        key, text = (part.strip() for part in item.split('=', 1))
        if key not in owners:
            raise unknown_key_error(where, key, owners)
        value = parse_quantity(text.strip('"\''), f'{where} {key}')
        values[key] = quantity(where, key, value, defaults[owners[key]][key].unit)
    return values


def _fit(args) -> int:
    from .config import load_preset
    from .datasets import load_dataset
    from .experiments import check_output_folder, output_lock
    from .fit import fit, free_parameter_names
    from .fit_outputs import write_fit

    dataset = load_dataset(args.data)
    free = free_parameter_names(args.params)
    preset = _assignments([f'{k}={v}' for k, v in load_preset(args.preset).items()]
                          if args.preset else [], 'preset')
    start = {k: v for k, v in preset.items() if k in free}  # a preset starts what is free
    fixed = {k: v for k, v in preset.items() if k not in free}
    fixed.update(_assignments(args.fix, '--fix'))
    out = Path(args.out) if args.out else Path('results') / f'fit_{dataset.name}'
    check_output_folder(out)
    settings = dict(params=free, fix={k: str(v) for k, v in fixed.items()},
                    start={k: str(v) for k, v in start.items()}, n_starts=args.starts,
                    iterations=args.iterations, polish=args.polish, seed=args.seed)
    with output_lock(out):  # from before fitting until the results replace the folder
        result = fit(dataset, free, fix=fixed, start=start, n_starts=args.starts,
                     iterations=args.iterations, polish=args.polish, seed=args.seed,
                     progress=True)
        summary = write_fit(result, dataset, out, settings,
                            command=['ltp-brainpy'] + (sys.argv[1:] if args.argv is None
                                                       else args.argv))
    for name, value in summary['parameters'].items():
        print(f"  {name:12s} = {value:>18s}  +- {summary['uncertainty'][name]}")
    for row in summary['rows']:
        print(f"  {row['id']:12s} data {100 * row['data']:+7.1f} %   model "
              f"{100 * row['model']:+7.1f} %   ({row['residual']:+.2f} SEM)")
    print(f"chi2 = {summary['chi2']:.3f}, reduced chi2 = {summary['reduced_chi2']:.3f}, "
          f"{summary['rows_within_2_sem']}/{len(summary['rows'])} rows within 2 SEM, "
          f"{summary['wall_time_s']:.0f} s")
    print(f'Wrote fit.json, fit.png, convergence.png, preset.toml, data.csv and '
          f'metadata.json to {out}/')
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='ltp-brainpy', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    p_list = sub.add_parser('list', help='list the experiment configs')
    p_list.add_argument('--dir', type=Path, help='a folder of configs (default: the bundled ones)')
    p_run = sub.add_parser('run', help='run an experiment config')
    p_run.add_argument('config', help='TOML file, or the name of one in --dir')
    p_run.add_argument('--out', help='output folder (default results/<config name>)')
    p_run.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                       help='override: theta_p="0.6 uM", dt="0.05 ms", run.0.n_pulses=100')
    p_run.add_argument('--preset', help='parameter preset: a preset.toml or a bundled name')
    p_run.add_argument('--dir', type=Path, help=argparse.SUPPRESS)
    p_sweep = sub.add_parser('sweep', help='run a config over a grid of parameters')
    p_sweep.add_argument('config', help='TOML file, or the name of one in --dir')
    p_sweep.add_argument('--grid', action='append', default=[], metavar='KEY=START:STOP:N',
                         help='an axis: theta_p="0.3 uM:0.6 uM:4", run.0.n_pairs=20,40,60')
    p_sweep.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                         help='override applied at every point')
    p_sweep.add_argument('--preset', help='parameter preset: a preset.toml or a bundled name')
    p_sweep.add_argument('--out', help='output folder (default results/sweep_<config name>)')
    p_sweep.add_argument('--dir', type=Path, help=argparse.SUPPRESS)
    p_fit = sub.add_parser('fit', help='fit model parameters to a data set')
    p_fit.add_argument('data', help='CSV file, or the name of a bundled data set')
    p_fit.add_argument('--params', help='free parameters, comma-separated (default: '
                       'theta_d,theta_p,gamma_p,gamma_d,tau_ca,tau_ca_post)')
    p_fit.add_argument('--fix', action='append', default=[], metavar='KEY=VALUE',
                       help='fixed parameter, e.g. --fix A_bpap="40 mV"')
    p_fit.add_argument('--preset', help='start from a preset (its values are fixed unless free)')
    p_fit.add_argument('--starts', type=int, default=4, help='starting points (one batch)')
    p_fit.add_argument('--iterations', type=int, default=30, help='Adam steps per start')
    p_fit.add_argument('--polish', type=int, default=40, help='L-BFGS steps per start')
    p_fit.add_argument('--seed', type=int, default=0, help='seed of the random starts')
    p_fit.add_argument('--out', help='output folder (default results/fit_<data name>)')
    args = parser.parse_args(argv)
    args.argv = argv
    commands = {'list': lambda: _list(args.dir), 'run': lambda: _run(args),
                'sweep': lambda: _sweep(args), 'fit': lambda: _fit(args)}
    try:
        return commands[args.command]()
    except ParameterError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
