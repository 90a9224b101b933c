"""Wall time of each canonical experiment (configs/default.toml) and of the whole set.

    python benchmarks/canonical.py          # full protocols -> benchmarks/results/canonical.json
    python benchmarks/canonical.py --quick  # shortened protocols (a smoke test), writes nothing

Each run's time includes its compilation, where it compiles: runs of the same protocol family
share one compiled loop (``ltp_brainpy.protocols.LANE_LOOPS``), so the first pays for the
others. Next to the wall time, ``cpu_s`` is the CPU time of the process (all threads), which
other work on a shared machine disturbs less; the load average before the set, the machine and
package versions are recorded with the numbers.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_json  # noqa: E402

from ltp_brainpy.config import load_config  # noqa: E402
from ltp_brainpy.experiments import package_versions, run_protocols  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The shortened protocols of --quick, by run label: {label: {argument: value}}.
QUICK = {'stdp': {'n_pairs': 2}, 'stdp_10': {'n_pairs': 1}, 'stdp_30': {'n_pairs': 2},
         'frequency': {'n_pulses': 5}, 'tetanus': {'n_pulses': 5}, 'pairing': {'n_pulses': 4},
         'ap5': {'n_pulses': 4}, 'mg_free': {'n_pulses': 4}, 'mg_2mM': {'n_pulses': 4}}


def by_label(path, changes: dict) -> list:
    """``--set`` assignments (``run.<index>.<key>=<value>``) for ``{label: {key: value}}``
    in the config at ``path``; KeyError for a label the config does not have."""
    labels = [run.get('label') for run in tomllib.loads(Path(path).read_text())['run']]
    missing = sorted(set(changes) - set(labels))
    if missing:
        raise KeyError(f'{path}: no run labelled {", ".join(missing)}')
    return [f'run.{labels.index(label)}.{key}={value}'
            for label, values in changes.items() for key, value in values.items()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='shortened protocols')
    args = parser.parse_args(argv)

    path = ROOT / 'configs' / 'default.toml'
    config = load_config(path, by_label(path, QUICK) if args.quick else ())
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None
    rows, total, total_cpu = [], time.perf_counter(), time.process_time()
    for spec in config.runs:
        start, start_cpu = time.perf_counter(), time.process_time()
        run_protocols(dataclasses.replace(config, runs=[spec]))
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        rows.append(dict(run=spec.label, protocol=spec.protocol, wall_s=round(wall, 3),
                         cpu_s=round(cpu, 3)))
        print(f'{spec.label:12s} {spec.protocol:22s} {wall:8.2f} s  (cpu {cpu:6.2f} s)')
    total, total_cpu = time.perf_counter() - total, time.process_time() - total_cpu
    print(f'{"whole set":35s} {total:8.2f} s  (cpu {total_cpu:6.2f} s)')
    report = dict(benchmark='canonical experiments', quick=args.quick, runs=rows,
                  total_s=round(total, 3), total_cpu_s=round(total_cpu, 3), load_average=load,
                  machine=machine(), versions=package_versions(),
                  dt_ms=float(config.dt.mantissa))
    if not args.quick:
        print(f'wrote {write_json("canonical.json", report)}')
    return report


if __name__ == '__main__':
    main()
