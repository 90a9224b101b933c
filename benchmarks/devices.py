"""A 16-condition STDP sweep on 1 and on 2 (forced) CPU devices, and its time per condition count.

    python benchmarks/devices.py          # 60 pairs at 1 Hz -> results/devices.json
    python benchmarks/devices.py --quick  # 3 pairs, 4 conditions: a smoke test, writes nothing

JAX fixes its device count when it starts, so each device count runs in its own process
(``XLA_FLAGS=--xla_force_host_platform_device_count=N``). In each: the lane loops (the default,
one compiled loop per condition, lanes spread over the devices) and the batched loop
(``protocols.LANE_LOOPS = False``: one vmapped loop, its batch sharded over the devices),
medians of ``--repeats`` runs after one compiling run; then the lane loops with 1, 2, 4, 8 and
16 conditions. The weight changes must be identical on 1 and 2 devices.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_json  # noqa: E402


def _worker(n_pairs, n_conditions, repeats, sizes):
    import jax
    import saiunit as u

    from ltp_brainpy import protocols

    deltas = np.linspace(-75.0, 75.0, n_conditions) * u.ms
    report = {'devices': len(jax.devices())}

    def timed(fn):
        fn()  # compiles
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times), times, out

    for name, lanes in (('lanes', True), ('batched', False)):
        protocols.LANE_LOOPS = lanes
        median, times, change = timed(lambda: protocols.stdp(deltas, n_pairs=n_pairs).weight_change)
        report[name] = {'median_s': median, 'times_s': times, 'weight_change': change.tolist()}
    protocols.LANE_LOOPS = True
    report['scaling'] = {str(n): timed(lambda: protocols.stdp(deltas[:n], n_pairs=n_pairs))[0]
                         for n in sizes}
    print(json.dumps(report))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--worker', nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        n_pairs, n_conditions, repeats = map(int, args.worker[:3])
        return _worker(n_pairs, n_conditions, repeats, json.loads(args.worker[3]))
    n_pairs, n_conditions, repeats, sizes = ((3, 4, 1, [1, 4]) if args.quick
                                             else (60, 16, args.repeats, [1, 2, 4, 8, 16]))
    runs = {}
    for n_devices in (1, 2):
        env = dict(os.environ, JAX_PLATFORMS='cpu',
                   XLA_FLAGS=f'--xla_force_host_platform_device_count={n_devices}')
        env.pop('LTP_BRAINPY_DEVICES', None)
        out = subprocess.run([sys.executable, __file__, '--worker', str(n_pairs),
                              str(n_conditions), str(repeats), json.dumps(sizes)],
                             env=env, capture_output=True, text=True, check=True).stdout
        runs[n_devices] = json.loads(out.strip().splitlines()[-1])
    for mode in ('lanes', 'batched'):
        np.testing.assert_array_equal(runs[1][mode]['weight_change'],
                                      runs[2][mode]['weight_change'])
    report = dict(
        benchmark=f'{n_conditions}-condition STDP sweep on 1 and 2 CPU devices',
        n_pairs=n_pairs, n_conditions=n_conditions, repeats=repeats,
        one_device=runs[1], two_devices=runs[2],
        speedup={mode: runs[1][mode]['median_s'] / runs[2][mode]['median_s']
                 for mode in ('lanes', 'batched')},
        machine=machine())
    for mode in ('lanes', 'batched'):
        print(f"{mode}: 1 device {runs[1][mode]['median_s']:.2f} s, 2 devices "
              f"{runs[2][mode]['median_s']:.2f} s, x{report['speedup'][mode]:.2f}")
    print('scaling (lane loops), conditions: s on 1 / 2 devices:',
          {n: (round(runs[1]['scaling'][n], 2), round(runs[2]['scaling'][n], 2))
           for n in runs[1]['scaling']})
    if not args.quick:
        write_json('devices.json', report)
    return report


if __name__ == '__main__':
    main()
