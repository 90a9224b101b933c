"""The N = 1000 benchmark network on 1 CPU device and split over 2 by its neurons.

    python benchmarks/network_devices.py          # N = 1000 -> results/network_devices.json
    python benchmarks/network_devices.py --quick  # N = 40, a few blocks: a smoke test, writes nothing

JAX fixes its device count when it starts, so each device count runs in its own process
(``XLA_FLAGS=--xla_force_host_platform_device_count=N``). Both run the benchmark network of
benchmarks/common.py (three layers of N, dense plastic projections both ways, 4 N^2 synapses)
on the same Poisson input. On one device the network runs as it is; on two it is split by
:func:`ltp_brainpy.devices.split_by_postsynaptic` (every projection by its postsynaptic
neurons, every layer by its units).

- Throughput, float32: ``--block`` steps per compiled call, one compiling call, then
  ``--repeats`` timed calls, each blocked on its result; synapse-steps per second from the
  median call, and the ratio of 2 devices to 1.
- Agreement: the same network in float64 for ``--check-steps`` steps must give the same spikes
  and weights to 1e-12 (relative) on both. (In float32 the two differ by rounding, about one
  unit in the last place, which a spike crossing its threshold a step earlier or later
  amplifies over a thousand steps; how far the timed runs end apart is reported too.)

The machine's load average is recorded with the results: a shared machine gives noisy ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import benchmark_network, input_spikes, machine, run_jax, write_json  # noqa: E402


def _worker(n: int, dtype: str, block: int, repeats: int, out: str):
    import brainstate
    import jax
    import saiunit as u

    if dtype == 'float64':
        brainstate.environ.set(precision=64)
    from ltp_brainpy import devices

    net = benchmark_network(n)
    if len(jax.devices()) > 1:
        devices.split_by_postsynaptic(net)
    n_steps = block * (repeats + 1)
    compile_s, loop_s, counts, _ = run_jax(net, input_spikes(n, n_steps), block=block)
    median_s = loop_s / (repeats + 1)  # run_jax's loop time: the median call times the calls
    np.savez(out, **{f'count_{l}': c for l, c in enumerate(counts)},
             **{f'w_{name}': np.asarray(w.to_decimal(u.nS)) for name, w in net.weights().items()})
    print(json.dumps(dict(devices=len(jax.devices()), compile_s=compile_s, median_call_s=median_s,
                          synapse_steps_per_s=4 * n * n * block / median_s,
                          w_layout=str(u.get_mantissa(net.projections['up_01'].w.value).sharding))))


def _run(n_devices: int, out: Path, *args) -> dict:
    env = dict(os.environ, JAX_PLATFORMS='cpu',
               XLA_FLAGS=f'--xla_force_host_platform_device_count={n_devices}')
    env.pop('LTP_BRAINPY_DEVICES', None)
    done = subprocess.run([sys.executable, __file__, '--worker', *map(str, args), str(out)],
                          env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f'{n_devices} devices failed:\n{done.stderr[-3000:]}')
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compare(n: int, dtype: str, block: int, repeats: int) -> tuple:
    """Both device counts' runs, and how far their spike counts (spikes) and weights
    (relative) end apart."""
    with tempfile.TemporaryDirectory() as tmp:
        outs = {d: Path(tmp) / f'devices_{d}.npz' for d in (1, 2)}
        runs = {d: _run(d, out, n, dtype, block, repeats) for d, out in outs.items()}
        a, b = np.load(outs[1]), np.load(outs[2])
        counts = [k for k in a.files if k.startswith('count_')]
        weights = [k for k in a.files if k.startswith('w_')]
        difference = dict(
            steps=block * (repeats + 1),
            max_count_difference=int(max(np.abs(a[k] - b[k]).max() for k in counts)),
            max_relative_weight_difference=float(max(
                np.abs(a[k] - b[k]).max() / np.abs(a[k]).max() for k in weights)))
    return runs, difference


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--n', type=int, default=1000)
    parser.add_argument('--block', type=int, default=200, help='steps per compiled call')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--check-steps', type=int, default=400)
    parser.add_argument('--worker', nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        n, dtype, block, repeats, out = args.worker
        return _worker(int(n), dtype, int(block), int(repeats), out)
    n, block, repeats, check_steps = ((40, 50, 2, 100) if args.quick else
                                      (args.n, args.block, args.repeats, args.check_steps))
    load_before = os.getloadavg()[0]
    runs, float32 = _compare(n, 'float32', block, repeats)
    _, float64 = _compare(n, 'float64', check_steps, 0)
    if float64['max_count_difference'] or float64['max_relative_weight_difference'] > 1e-12:
        raise AssertionError(f'1 and 2 devices disagree in float64: {float64}')
    ratio = runs[2]['synapse_steps_per_s'] / runs[1]['synapse_steps_per_s']
    report = dict(benchmark=f'benchmark network N = {n} on 1 and on 2 CPU devices, split by '
                            f'postsynaptic neurons',
                  n=n, synapses=4 * n * n, dtype='float32', block_steps=block, repeats=repeats,
                  one_device=runs[1], two_devices=runs[2], ratio=ratio,
                  float32_difference=float32, float64_check=float64,
                  load_average=[load_before, os.getloadavg()[0]], machine=machine())
    print(f"N={n}, float32: 1 device {runs[1]['synapse_steps_per_s']:.3g} synapse-steps/s, "
          f"2 devices {runs[2]['synapse_steps_per_s']:.3g} (x{ratio:.2f}); float64 over "
          f"{check_steps} steps: the same spikes, weights within "
          f"{float64['max_relative_weight_difference']:.1e}; float32 after {float32['steps']} "
          f"steps: spike counts within {float32['max_count_difference']}, weights within "
          f"{float32['max_relative_weight_difference']:.1e}; load average "
          f"{report['load_average'][0]:.1f}-{report['load_average'][1]:.1f}")
    if not args.quick:
        write_json('network_devices.json', report)
    return report


if __name__ == '__main__':
    main()
