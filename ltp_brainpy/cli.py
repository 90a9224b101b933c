"""``ltp-brainpy``: run experiment configs and fit the model to data.

    ltp-brainpy list [--dir DIR] [--protocols]
    ltp-brainpy run CONFIG [--out DIR] [--preset PRESET] [--set key=value ...]
    ltp-brainpy sweep CONFIG --grid key=START:STOP:N [--grid ...] [--set ...] [--out DIR]
    ltp-brainpy fit DATA [--params a,b,...] [--fix key=value ...] [--out DIR]

CONFIG is a TOML file or the name of a bundled config (``ltp-brainpy list``; they live in the
repository's configs/ and are installed with the package); PRESET a preset.toml (as written by
``fit``) or the name of a bundled preset; DATA a CSV file or the name of a bundled data set. ``list --protocols`` also shows every
protocol a config can run, with its arguments (unit, default, what it sets).
Results go to DIR (default results/<name>), which they replace as a whole (or not at all, if the
run fails or is killed). Bad input, or a DIR in use by another run, is reported in one line and
exits with status 2, before anything is simulated or written. An internal error (not the
input's fault) is reported in one line and exits with status 1; --debug shows its traceback
(``main(argv)`` called from Python with an argument list raises it instead). --quiet leaves
out the progress bars and the per-run printout.
"""
from __future__ import annotations

import argparse
import difflib
import sys
import tomllib
import traceback
from importlib import resources
from pathlib import Path

from ._validate import ParameterError

def _config_dir(directory) -> Path:
    """``--dir``, or the configs installed with the package."""
    if directory is not None and not Path(directory).is_dir():
        raise ParameterError(f'--dir: expected a folder of configs, got {str(directory)!r} '
                             f'({"not a folder" if Path(directory).exists() else "no such folder"})')
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


def _list(directory, protocols=False) -> int:
    from .config import bundled_presets
    from .datasets import bundled_datasets
    from .registry import PROTOCOLS

    folder = _config_dir(directory)
    paths = sorted(folder.glob('*.toml'))
    if not paths:
        raise ParameterError(f'--dir: expected a folder holding configs (*.toml), got {folder} '
                             f'with none')
    titles = {}
    for path in paths:
        try:
            title = tomllib.loads(path.read_text(encoding='utf-8')).get('title', '')
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ParameterError(f'config: {path}: expected a UTF-8 TOML file, got '
                                 f'{str(err).splitlines()[0]}') from None
        titles[path.stem] = title
    for stem, title in titles.items():
        print(f'{stem:12s} {title}')
    print(f"presets:  {', '.join(bundled_presets())}")
    print(f"datasets: {', '.join(bundled_datasets())}")
    if not protocols:
        print(f"protocols: {', '.join(PROTOCOLS)} (arguments: list --protocols)")
        return 0
    print('protocols (the arguments of a [[run]] table; model parameters go in [model]):')
    for name, declared in PROTOCOLS.items():
        print(f'  {name}: {declared.doc}')
        for key, argument in declared.arguments.items():
            kind = f'{key} {argument.kind_text()}'
            print(f'      {kind:32s} = {argument.default_text():14s} {argument.doc}')
    return 0


def _run(args) -> int:
    from .config import load_config  # heavy imports only when running
    from .experiments import check_output_folder, format_targets, run_experiment

    path = _resolve(args.config, args.dir)
    config = load_config(path, args.set, preset=args.preset, quick=args.quick)
    out = check_output_folder(Path(args.out) if args.out else Path('results') / config.name)
    say = _printer(args)
    say(f'{config.title}: {len(config.runs)} run(s), dt = {config.dt}, writing to {out}/')
    summary = run_experiment(config, out, command=['ltp-brainpy'] + sys.argv[1:],
                             progress=False if args.quiet else None)
    for label, run in summary['runs'].items():
        if run['weight_change'] is not None:
            changes = ', '.join(f'{100 * c:+.1f} %' for c in run['weight_change'])
            say(f'  {label:12s} weight change: {changes}')
        for key, value in run.items():
            if key not in ('protocol', 'conditions', 'weight_change') and isinstance(
                    value, (int, float)):
                say(f'  {label:12s} {key}: {value:.3f}')
    if summary['targets']:
        say('Targets:')
        say(format_targets(summary['targets']), end='')
    print(f"Wrote results.json, metadata.json, {len(summary['files'])} .npz and "
          f"{len(summary['figures'])} figure(s) to {out}/")
    return 0


def _printer(args):
    """``print``, or nothing under ``--quiet``."""
    return (lambda *a, **k: None) if args.quiet else print


def _sweep(args) -> int:
    from .sweep import parse_axis, run_sweep

    path = _resolve(args.config, args.dir)
    axes = [parse_axis(spec) for spec in args.grid]
    if not axes:
        raise ParameterError('--grid: expected at least one axis KEY=START:STOP:N, got none')
    out = Path(args.out) if args.out else Path('results') / f'sweep_{path.stem}'
    points = 1
    for axis in axes:
        points *= len(axis.numbers)
    _printer(args)(f'{path.stem}: {points} grid point(s) over '
                   f'{", ".join(a.name for a in axes)}, writing to {out}/')
    summary = run_sweep(path, axes, out, args.set, preset=args.preset,
                        command=['ltp-brainpy'] + sys.argv[1:])
    if summary.get('secondary'):
        print(f"Ran this process's share of the {summary['points']} point(s) in "
              f"{summary['wall_time_s']:.0f} s; process 0 writes {out}/")
        return 0
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
    for flag, name, value, least in (('--starts', 'n_starts', args.starts, 1),
                                     ('--iterations', 'iterations', args.iterations, 0),
                                     ('--polish', 'polish', args.polish, 0)):
        if value < least:  # the fit's own check, made before the output folder is taken
            raise ParameterError(f'{flag}: parameter {name!r} must be an integer >= {least}, '
                                 f'got {value}')
    if not 0 <= args.seed < 2 ** 32:
        raise ParameterError(f'--seed: expected an integer in [0, 2**32), got {args.seed}')
    free = free_parameter_names(args.params)
    preset = _assignments([f'{k}={v}' for k, v in load_preset(args.preset).items()]
                          if args.preset else [], 'preset')
    start = {k: v for k, v in preset.items() if k in free}  # a preset starts what is free
    fixed = {k: v for k, v in preset.items() if k not in free}
    fixed.update(_assignments(args.fix, '--fix'))
    for name in free:
        if name in _assignments(args.fix, '--fix'):
            raise ParameterError(f'--fix {name}: expected a parameter that is not free '
                                 f'(--params), got {name!r} in both')
    out = Path(args.out) if args.out else Path('results') / f'fit_{dataset.name}'
    check_output_folder(out)
    settings = dict(params=free, fix={k: str(v) for k, v in fixed.items()},
                    start={k: str(v) for k, v in start.items()}, n_starts=args.starts,
                    iterations=args.iterations, polish=args.polish, seed=args.seed)
    with output_lock(out):  # from before fitting until the results replace the folder
        result = fit(dataset, free, fix=fixed, start=start, n_starts=args.starts,
                     iterations=args.iterations, polish=args.polish, seed=args.seed,
                     progress=not args.quiet)
        summary = write_fit(result, dataset, out, settings,
                            command=['ltp-brainpy'] + (sys.argv[1:] if args.argv is None
                                                       else args.argv))
    say = _printer(args)
    for name, value in summary['parameters'].items():
        say(f"  {name:12s} = {value:>18s}  +- {summary['uncertainty'][name]}")
    for row in summary['rows']:
        say(f"  {row['id']:12s} data {100 * row['data']:+7.1f} %   model "
            f"{100 * row['model']:+7.1f} %   ({row['residual']:+.2f} SEM)")
    say(f"chi2 = {summary['chi2']:.3f}, reduced chi2 = {summary['reduced_chi2']:.3f}, "
        f"{summary['rows_within_2_sem']}/{len(summary['rows'])} rows within 2 SEM, "
        f"{summary['wall_time_s']:.0f} s")
    print(f'Wrote fit.json, fit.png, convergence.png, preset.toml, data.csv and '
          f'metadata.json to {out}/')
    return 0


class _UsageError(Exception):
    """A command line argparse cannot read (reported in one line, like any bad input)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


def _common(defaults: bool) -> argparse.ArgumentParser:
    """``--debug`` and ``--quiet``, accepted before the command and after it (the
    subcommands' copies have no defaults, so that they do not undo the top-level ones)."""
    common = argparse.ArgumentParser(add_help=False)
    default = False if defaults else argparse.SUPPRESS
    common.add_argument('--debug', action='store_true', default=default,
                        help='show the full traceback of an internal error')
    common.add_argument('--quiet', action='store_true', default=default,
                        help='no progress bars and no per-run printout')
    return common


def main(argv=None) -> int:
    parser = _Parser(prog='ltp-brainpy', description=__doc__, parents=[_common(True)],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True, parser_class=_Parser)
    common = [_common(False)]
    p_list = sub.add_parser('list', parents=common, help='list the experiment configs')
    p_list.add_argument('--dir', type=Path, help='a folder of configs (default: the bundled ones)')
    p_list.add_argument('--protocols', action='store_true',
                        help="also every protocol's arguments, with units and defaults")
    p_run = sub.add_parser('run', parents=common, help='run an experiment config')
    p_run.add_argument('config', help='TOML file, or the name of one in --dir')
    p_run.add_argument('--out', help='output folder (default results/<config name>)')
    p_run.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                       help='override: theta_p="0.6 uM", dt="0.05 ms", run.0.n_pulses=100')
    p_run.add_argument('--preset', help='parameter preset: a preset.toml or a bundled name')
    p_run.add_argument('--quick', action='store_true',
                       help="the config's short version (its [quick] table)")
    p_run.add_argument('--dir', type=Path, help=argparse.SUPPRESS)
    p_sweep = sub.add_parser('sweep', parents=common,
                             help='run a config over a grid of parameters')
    p_sweep.add_argument('config', help='TOML file, or the name of one in --dir')
    p_sweep.add_argument('--grid', action='append', default=[], metavar='KEY=START:STOP:N',
                         help='an axis: theta_p="0.3 uM:0.6 uM:4", run.0.n_pairs=20,40,60')
    p_sweep.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                         help='override applied at every point')
    p_sweep.add_argument('--preset', help='parameter preset: a preset.toml or a bundled name')
    p_sweep.add_argument('--out', help='output folder (default results/sweep_<config name>)')
    p_sweep.add_argument('--dir', type=Path, help=argparse.SUPPRESS)
    p_fit = sub.add_parser('fit', parents=common, help='fit model parameters to a data set')
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
    try:
        args = parser.parse_args(argv)
    except _UsageError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    args.argv = argv
    commands = {'list': lambda: _list(args.dir, args.protocols), 'run': lambda: _run(args),
                'sweep': lambda: _sweep(args), 'fit': lambda: _fit(args)}
    try:
        return commands[args.command]()
    except ParameterError as err:
        print(f'error: {str(err).splitlines()[0] if str(err) else type(err).__name__}',
              file=sys.stderr)
        return 2
    except Exception as err:  # not the user's fault: one line, or the traceback with --debug
        if argv is not None:  # called from Python: the caller gets the exception
            raise
        if args.debug:
            traceback.print_exc()
        else:
            text = ' '.join(str(err).split())[:300]
            print(f'error: internal error ({type(err).__name__}: {text}); run again with '
                  f'--debug for the traceback', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
