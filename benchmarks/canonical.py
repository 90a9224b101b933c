"""Wall time of each canonical experiment (configs/default.toml) and of the whole set.

    python benchmarks/canonical.py          # full protocols -> benchmarks/results/canonical.json
    python benchmarks/canonical.py --quick  # shortened protocols (a smoke test), writes nothing

Each run's time includes its compilation (every protocol call compiles once); the machine and
package versions are recorded next to the numbers.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_json  # noqa: E402

from ltp_brainpy.config import load_config  # noqa: E402
from ltp_brainpy.experiments import package_versions, run_protocols  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUICK = ['run.2.n_pairs=2', 'run.3.n_pairs=1', 'run.4.n_pairs=2', 'run.5.n_pulses=5',
         'run.6.n_pulses=5', 'run.7.n_pulses=4', 'run.8.n_pulses=4', 'run.9.n_pulses=4',
         'run.10.n_pulses=4']


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='shortened protocols')
    args = parser.parse_args(argv)

    config = load_config(ROOT / 'configs' / 'default.toml', QUICK if args.quick else ())
    rows, total = [], time.perf_counter()
    for spec in config.runs:
        start = time.perf_counter()
        run_protocols(dataclasses.replace(config, runs=[spec]))
        wall = time.perf_counter() - start
        rows.append(dict(run=spec.label, protocol=spec.protocol, wall_s=round(wall, 3)))
        print(f'{spec.label:12s} {spec.protocol:22s} {wall:8.2f} s')
    total = time.perf_counter() - total
    print(f'{"whole set":35s} {total:8.2f} s')
    report = dict(benchmark='canonical experiments', quick=args.quick, runs=rows,
                  total_s=round(total, 3), machine=machine(), versions=package_versions(),
                  dt_ms=float(config.dt.mantissa))
    if not args.quick:
        print(f'wrote {write_json("canonical.json", report)}')
    return report


if __name__ == '__main__':
    main()
