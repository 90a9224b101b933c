"""``ltp-brainpy``: run experiment configs.

    ltp-brainpy list [--dir configs]
    ltp-brainpy run CONFIG [--out DIR] [--set key=value ...]

CONFIG is a TOML file or the name of one in ./configs. Results go to DIR (default
results/<config name>). Bad input is reported in one line and exits with status 2.
"""
from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from ._validate import ParameterError

CONFIG_DIR = Path('configs')


def _resolve(config: str, directory: Path) -> Path:
    path = Path(config)
    if path.suffix != '.toml' and not path.exists():
        path = directory / f'{config}.toml'
    return path


def _list(directory: Path) -> int:
    paths = sorted(directory.glob('*.toml'))
    if not paths:
        print(f'error: no configs in {directory}', file=sys.stderr)
        return 2
    for path in paths:
        title = tomllib.loads(path.read_text()).get('title', '')
        print(f'{path.stem:12s} {title}')
    return 0


def _run(args) -> int:
    from .config import load_config  # heavy imports only when running
    from .experiments import format_targets, run_experiment

    path = _resolve(args.config, args.dir)
    config = load_config(path, args.set)
    out = Path(args.out) if args.out else Path('results') / config.name
    print(f'{config.title}: {len(config.runs)} run(s), dt = {config.dt}, writing to {out}/')
    summary = run_experiment(config, out, command=['ltp-brainpy'] + sys.argv[1:])
    for label, run in summary['runs'].items():
        if run['weight_change'] is not None:
            changes = ', '.join(f'{100 * c:+.1f} %' for c in run['weight_change'])
            print(f'  {label:12s} weight change: {changes}')
        for key, value in run.items():
            if key not in ('protocol', 'conditions', 'weight_change'):
                print(f'  {label:12s} {key}: {value:.3f}')
    if summary['targets']:
        print('Targets:')
        print(format_targets(summary['targets']), end='')
    print(f"Wrote results.json, metadata.json, {len(summary['files'])} .npz and "
          f"{len(summary['figures'])} figure(s) to {out}/")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='ltp-brainpy', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    p_list = sub.add_parser('list', help='list the experiment configs')
    p_list.add_argument('--dir', type=Path, default=CONFIG_DIR)
    p_run = sub.add_parser('run', help='run an experiment config')
    p_run.add_argument('config', help='TOML file, or the name of one in --dir')
    p_run.add_argument('--out', help='output folder (default results/<config name>)')
    p_run.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                       help='override: theta_p="0.6 uM", dt="0.05 ms", run.0.n_pulses=100')
    p_run.add_argument('--dir', type=Path, default=CONFIG_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return _list(args.dir) if args.command == 'list' else _run(args)
    except ParameterError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
