"""Network throughput, scaling, and the side-by-side comparison with plain NumPy.

    python benchmarks/throughput.py            # N = 100, 300, 1000, 2000; float32 and float64
    python benchmarks/throughput.py --time 0.2 # 0.2 s of biological time instead of 1 s
    python benchmarks/throughput.py --quick    # N = 20, 100 steps: a smoke test, writes nothing

The benchmark network has three layers of N ``LTPNeuron`` s, dense plastic ``LTPProjection`` s
between neighbouring layers in both directions (4 N^2 synapses) and Poisson input at 20 Hz to
the first layer; 1 s of biological time at dt = 0.1 ms. Each (N, dtype) runs in its own process
(for a clean peak-memory reading and a clean float64 switch). Throughput is synapses x steps /
loop wall time (compilation reported separately). The NumPy reference (benchmarks/
numpy_network.py, float64) runs the same network on the same input for N <= 300, over fewer
steps, and both must agree on rates and mean weights. Results: benchmarks/results/
throughput.json and scaling.png.
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
from common import RESULTS, benchmark_network, input_spikes, machine, run_jax, write_json  # noqa


def one(n: int, n_steps: int, dtype: str, numpy_steps: int) -> dict:
    """Measure one configuration in this process."""
    import jax
    if dtype == 'float64':
        jax.config.update('jax_enable_x64', True)
    from ltp_brainpy.experiments import package_versions
    spikes = input_spikes(n, n_steps)
    net = benchmark_network(n)
    synapses = sum(int(np.prod(p.w.value.shape)) for p in net.projections.values())
    numpy_net = None
    if numpy_steps:
        from numpy_network import NumpyNetwork
        numpy_net = NumpyNetwork(net)
    compile_s, loop_s, counts, weights = run_jax(net, spikes, block=max(n_steps // 10, 1))
    row = dict(n=n, dtype=dtype, synapses=synapses, steps=n_steps, compile_s=compile_s,
               loop_s=loop_s, synapse_steps_per_s=synapses * n_steps / loop_s,
               steps_per_s=n_steps / loop_s,
               rates_hz=[float(c.mean() / (n_steps * 1e-4)) for c in counts],
               mean_weight_nS=weights,
               peak_rss_MB=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               versions=package_versions())
    if numpy_net is not None:
        # Same network and input, fewer steps: time it, and check it is the same model.
        check = benchmark_network(n)
        _, _, jax_counts, jax_weights = run_jax(check, spikes[:numpy_steps], block=numpy_steps)
        start = time.perf_counter()
        np_counts = [np.zeros(n) for _ in range(3)]
        for i in range(numpy_steps):
            for c, s in zip(np_counts, numpy_net.step(spikes[i])):
                c += s
        numpy_s = time.perf_counter() - start
        np_weights = numpy_net.mean_weights()
        row['numpy'] = dict(
            steps=numpy_steps, loop_s=numpy_s,
            synapse_steps_per_s=synapses * numpy_steps / numpy_s,
            max_rate_difference_hz=float(max(abs(a.mean() - b.mean()) / (numpy_steps * 1e-4)
                                             for a, b in zip(jax_counts, np_counts))),
            max_weight_difference_nS=float(max(abs(jax_weights[k] - np_weights[k])
                                               for k in np_weights)))
        row['speedup_vs_numpy'] = row['synapse_steps_per_s'] / row['numpy']['synapse_steps_per_s']
    return row


def plot(rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for dtype, marker in [('float32', 'o'), ('float64', 's')]:
        sel = sorted((r for r in rows if r['dtype'] == dtype), key=lambda r: r['n'])
        if not sel:
            continue
        n = np.array([r['n'] for r in sel])
        per_step = np.array([r['loop_s'] / r['steps'] for r in sel])
        ax1.loglog(n, per_step * 1e3, marker + '-', label=f'ltp_brainpy {dtype}')
        ax2.semilogx(n, [r['synapse_steps_per_s'] for r in sel], marker + '-', label=dtype)
        if dtype == 'float32':
            ideal = per_step[-1] * (n / n[-1]) ** 2
            ax1.loglog(n, ideal * 1e3, 'k--', lw=0.8, label='O(N²)')
    numpy_rows = [r for r in rows if 'numpy' in r and r['dtype'] == 'float32']
    if numpy_rows:
        ax1.loglog([r['n'] for r in numpy_rows],
                   [r['numpy']['loop_s'] / r['numpy']['steps'] * 1e3 for r in numpy_rows],
                   '^-', label='NumPy (float64)')
    ax1.set(xlabel='neurons per layer N', ylabel='wall time per step (ms)',
            title='Scaling: 3 layers, 4 N² plastic synapses')
    ax2.set(xlabel='neurons per layer N', ylabel='synapse-steps per second',
            title='Throughput')
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--sizes', type=int, nargs='*')
    parser.add_argument('--time', type=float, default=1.0,
                        help='biological time per configuration in s (default 1)')
    parser.add_argument('--one', nargs=4, metavar=('N', 'STEPS', 'DTYPE', 'NUMPY_STEPS'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        n, steps, dtype, numpy_steps = args.one
        print(json.dumps(one(int(n), int(steps), dtype, int(numpy_steps))))
        return None
    sizes = args.sizes or ([20] if args.quick else [100, 300, 1000, 2000])
    steps = 100 if args.quick else int(round(args.time / 1e-4))
    rows = []
    for dtype in ('float32', 'float64'):
        for n in sizes:
            numpy_steps = (50 if args.quick else (1000 if n <= 100 else 200)) if n <= 300 else 0
            out = subprocess.run([sys.executable, __file__, '--one', str(n), str(steps), dtype,
                                  str(numpy_steps)], capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            extra = (f"  NumPy {row['numpy']['synapse_steps_per_s']:.3g}/s "
                     f"(x{row['speedup_vs_numpy']:.0f})" if 'numpy' in row else '')
            print(f"N={n:5d} {dtype}: {row['synapse_steps_per_s']:.3g} synapse-steps/s, "
                  f"compile {row['compile_s']:.1f} s, peak {row['peak_rss_MB']:.0f} MB{extra}",
                  flush=True)
    report = dict(benchmark='network throughput', machine=machine(), input_rate_hz=20.0,
                  dt_ms=0.1, biological_time_s=steps * 1e-4, rows=rows)
    if not args.quick:
        write_json('throughput.json', report)
        plot(rows, RESULTS / 'scaling.png')
    return report


if __name__ == '__main__':
    main()
