"""The 21-point STDP curve as one batched compiled call vs 21 sequential calls.

    python benchmarks/stdp_sweep.py          # 60 pairs at 1 Hz -> results/stdp_sweep.json
    python benchmarks/stdp_sweep.py --quick  # 3 pairs: a smoke test, writes nothing

Both ways compile (each call of a protocol compiles once); medians of ``--repeats`` runs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import saiunit as u

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_json  # noqa: E402

from ltp_brainpy.protocols import stdp  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args(argv)
    n_pairs, repeats = (3, 1) if args.quick else (60, args.repeats)
    deltas = np.linspace(-100.0, 100.0, 21) * u.ms

    batched, sequential = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        curve = stdp(deltas, n_pairs=n_pairs).weight_change
        batched.append(time.perf_counter() - t)
        t = time.perf_counter()
        one_by_one = np.concatenate([stdp(d[None], n_pairs=n_pairs).weight_change
                                     for d in deltas])
        sequential.append(time.perf_counter() - t)
    np.testing.assert_allclose(curve, one_by_one, rtol=1e-5, atol=1e-6)
    report = dict(benchmark='21-point STDP curve', n_pairs=n_pairs, repeats=repeats,
                  batched_s=statistics.median(batched), sequential_s=statistics.median(sequential),
                  speedup=statistics.median(sequential) / statistics.median(batched),
                  weight_change=curve.tolist(), machine=machine())
    print(f"batched {report['batched_s']:.2f} s, sequential {report['sequential_s']:.2f} s, "
          f"speed-up x{report['speedup']:.1f}")
    if not args.quick:
        write_json('stdp_sweep.json', report)
    return report


if __name__ == '__main__':
    main()
