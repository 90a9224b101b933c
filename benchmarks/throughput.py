"""Network throughput and scaling, side by side with plain NumPy and Brian2.

    python benchmarks/throughput.py             # N = 100, 300, 1000, 2000; 1 s of biology
    python benchmarks/throughput.py --time 0.2  # 0.2 s of biological time instead
    python benchmarks/throughput.py --quick     # N = 20, a few hundred steps: writes nothing

The benchmark network (benchmarks/common.py) has three layers of N ``LTPNeuron`` s, dense
plastic ``LTPProjection`` s between neighbouring layers in both directions (4 N^2 synapses)
and 20 Hz Poisson input to the first layer; every layer fires. Throughput is synapses x steps /
loop wall time; compilation is reported separately. Each configuration runs in its own
process (clean peak-memory reading, clean float64 switch):

- ltp_brainpy in float32 and float64 for every N, over ``--time`` of biology;
- for N in ``--reference-sizes`` (default 100 and 300), the same network on the same input
  over ``--reference-steps`` steps in ltp_brainpy (float64), in plain NumPy
  (benchmarks/numpy_network.py) and, when Brian2 is installed (``pip install -e '.[bench]'``),
  in Brian2 (benchmarks/brian2_network.py): its default runtime and cpp_standalone with 1 and
  2 threads. All of them report the firing rate of each layer and the mean weight change of
  each projection, which must agree: the comparison is of one model.

Results: benchmarks/results/throughput.json and scaling.png.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DT_MS, RESULTS, benchmark_network, input_spikes, machine,  # noqa: E402
                    mean_weights, run_jax, write_json)

BRIAN2_TARGETS = [('brian2 runtime', 'runtime', 0), ('brian2 standalone 1 thread',
                                                      'cpp_standalone', 1),
                  ('brian2 standalone 2 threads', 'cpp_standalone', 2)]


def _synapses(n: int) -> int:
    return 4 * n * n


def _outcome(counts, weights, w0, n_steps):
    """Rates per layer (Hz) and mean weight change per projection (nS)."""
    return dict(rates_hz=[float(np.mean(c) / (n_steps * DT_MS * 1e-3)) for c in counts],
                weight_change_nS={k: weights[k] - w0[k] for k in w0})


def measure_jax(n: int, n_steps: int, dtype: str) -> dict:
    """ltp_brainpy's throughput at one size and dtype (in this process)."""
    import brainstate
    if dtype == 'float64':
        brainstate.environ.set(precision=64)  # float64 states (and jax_enable_x64)
    from ltp_brainpy.experiments import package_versions
    net = benchmark_network(n)
    w0 = mean_weights(net)
    # Blocks of ~0.1-1 s, so that compilation stands out of the block-to-block noise.
    block = max(n_steps // (100 if _synapses(n) >= 1_000_000 else 10), 1)
    compile_s, loop_s, counts, weights = run_jax(net, input_spikes(n, n_steps), block=block)
    return dict(n=n, dtype=dtype, synapses=_synapses(n), steps=n_steps, compile_s=compile_s,
                loop_s=loop_s, synapse_steps_per_s=_synapses(n) * n_steps / loop_s,
                **_outcome(counts, weights, w0, n_steps),
                peak_rss_MB=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                versions=package_versions())


def measure_references(n: int, n_steps: int, brian2: bool, quick: bool) -> dict:
    """The same network and input in ltp_brainpy (float64), NumPy and Brian2 (in this process)."""
    import brainstate
    brainstate.environ.set(precision=64)
    from numpy_network import NumpyNetwork
    spikes = input_spikes(n, n_steps)
    net = benchmark_network(n)
    numpy_net = NumpyNetwork(net)
    w0 = numpy_net.mean_weights()
    runs = {}
    _, _, counts, weights = run_jax(net, spikes, block=n_steps)
    reference = _outcome(counts, weights, w0, n_steps)  # the yardstick of agreement, untimed
    runs = {}
    if brian2:  # before NumPy steps (and changes) its copy of the weights
        from brian2_network import run_brian2
        if quick:
            import brian2 as b2
            b2.prefs.codegen.target = 'numpy'  # no compilation: a smoke test of the model
        for label, target, threads in BRIAN2_TARGETS[:1] if quick else BRIAN2_TARGETS:
            out = run_brian2(numpy_net, spikes, target=target, threads=threads)
            runs[label] = dict(loop_s=out['loop_s'], build_s=out['build_s'],
                               **_outcome(out['counts'], out['weights'], w0, n_steps))
    start = time.perf_counter()
    counts = [np.zeros(n) for _ in range(3)]
    for i in range(n_steps):
        for c, s in zip(counts, numpy_net.step(spikes[i])):
            c += s
    runs['numpy'] = dict(loop_s=time.perf_counter() - start,
                         **_outcome(counts, numpy_net.mean_weights(), w0, n_steps))
    largest = max(abs(v) for v in reference['weight_change_nS'].values())
    for run in runs.values():
        run['synapse_steps_per_s'] = _synapses(n) * n_steps / run['loop_s']
        run['max_rate_difference_hz'] = max(
            abs(a - b) for a, b in zip(run['rates_hz'], reference['rates_hz']))
        # relative to the largest mean change, so that a projection that barely moves counts
        # for what it is
        run['max_weight_change_difference'] = max(
            abs(run['weight_change_nS'][k] - v) for k, v in
            reference['weight_change_nS'].items()) / largest
    return dict(n=n, synapses=_synapses(n), steps=n_steps, ltp_brainpy_float64=reference,
                runs=runs)


def _subprocess(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True,
                         text=True)
    if out.returncode:
        raise RuntimeError(f'{" ".join(map(str, args))} failed:\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def plot(report, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for dtype, marker in [('float32', 'o'), ('float64', 's')]:
        rows = sorted((r for r in report['rows'] if r['dtype'] == dtype), key=lambda r: r['n'])
        n = np.array([r['n'] for r in rows])
        per_step = np.array([r['loop_s'] / r['steps'] for r in rows])
        ax1.loglog(n, per_step * 1e3, marker + '-', label=f'ltp_brainpy {dtype}')
        ax2.semilogx(n, [r['synapse_steps_per_s'] for r in rows], marker + '-',
                     label=f'ltp_brainpy {dtype}')
        if dtype == 'float32':
            ideal = per_step[-1] * (n / n[-1]) ** 2
            ax1.loglog(n, ideal * 1e3, 'k--', lw=0.8, label='O(N²)')
    labels = list(report['references'][0]['runs'])
    for label, marker in zip(labels, '^v<>'):
        refs = report['references']
        ax1.loglog([r['n'] for r in refs],
                   [r['runs'][label]['loop_s'] / r['steps'] * 1e3 for r in refs],
                   marker + ':', label=label)
        ax2.semilogx([r['n'] for r in refs],
                     [r['runs'][label]['synapse_steps_per_s'] for r in refs], marker + ':',
                     label=label)
    ax1.set(xlabel='neurons per layer N', ylabel='wall time per step (ms)',
            title='Scaling: 3 layers, 4 N² plastic synapses')
    ax2.set(xlabel='neurons per layer N', ylabel='synapse-steps per second', yscale='log',
            title='Throughput')
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--sizes', type=int, nargs='*', default=[100, 300, 1000, 2000])
    parser.add_argument('--time', type=float, default=1.0,
                        help='biological time per configuration in s (default 1)')
    parser.add_argument('--reference-sizes', type=int, nargs='*', default=[100, 300],
                        help='sizes run in NumPy and Brian2 too (Brian2 needs minutes at 1000)')
    parser.add_argument('--reference-steps', type=int, default=2000)
    parser.add_argument('--no-brian2', action='store_true', help='NumPy reference only')
    parser.add_argument('--jax', nargs=3, metavar=('N', 'STEPS', 'DTYPE'), help=argparse.SUPPRESS)
    parser.add_argument('--references', nargs=4, metavar=('N', 'STEPS', 'BRIAN2', 'QUICK'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jax:
        n, steps, dtype = args.jax
        print(json.dumps(measure_jax(int(n), int(steps), dtype)))
        return None
    if args.references:
        n, steps, brian2, quick = map(int, args.references)
        print(json.dumps(measure_references(n, steps, bool(brian2), bool(quick))))
        return None
    sizes, ref_sizes = ([20], [20]) if args.quick else (args.sizes, args.reference_sizes)
    steps = 200 if args.quick else int(round(args.time / (DT_MS * 1e-3)))
    ref_steps = 500 if args.quick else args.reference_steps
    try:
        import brian2  # noqa: F401
        brian2 = not args.no_brian2
    except ImportError:
        brian2 = False
        print("Brian2 is not installed (pip install -e '.[bench]'): NumPy reference only")
    report = dict(benchmark='network throughput', machine=machine(), input_rate_hz=20.0,
                  dt_ms=DT_MS, biological_time_s=steps * DT_MS * 1e-3, rows=[], references=[])
    for dtype in ('float32', 'float64'):
        for n in sizes:
            row = _subprocess('--jax', n, steps, dtype)
            report['rows'].append(row)
            print(f"N={n:5d} {dtype}: {row['synapse_steps_per_s']:.3g} synapse-steps/s, "
                  f"compile {row['compile_s']:.1f} s, peak {row['peak_rss_MB']:.0f} MB, "
                  f"rates {[round(r) for r in row['rates_hz']]} Hz", flush=True)
    for n in ref_sizes:
        ref = _subprocess('--references', n, ref_steps, int(brian2), int(args.quick))
        ours = next(r for r in report['rows'] if r['n'] == n and r['dtype'] == 'float32')
        for label, run in ref['runs'].items():
            run['ratio_of_ltp_brainpy_float32'] = \
                ours['synapse_steps_per_s'] / run['synapse_steps_per_s']
            print(f"N={n:5d} {label:>28}: {run['synapse_steps_per_s']:.3g} synapse-steps/s "
                  f"(ltp_brainpy float32: x{run['ratio_of_ltp_brainpy_float32']:.1f}); "
                  f"rates {[round(r, 1) for r in run['rates_hz']]} Hz, dw differs by "
                  f"{run['max_weight_change_difference']:.2%}", flush=True)
        report['references'].append(ref)
    if not args.quick:
        write_json('throughput.json', report)
        plot(report, RESULTS / 'scaling.png')
    return report


if __name__ == '__main__':
    main()
