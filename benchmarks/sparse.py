"""Sparse plastic projections: memory and speed, and dense against sparse storage.

    python benchmarks/sparse.py           # the cases below; writes results/sparse.json
    python benchmarks/sparse.py --quick   # small sizes, a few steps: writes nothing

One plastic ``LTPProjection`` (calcium-control rule, float32) from N presynaptic axons
firing at 10 Hz (Poisson) onto N ``LTPNeuron`` s, stepped with ``proj.update(spikes)`` then
the neurons, in one compiled loop. Cases:

- the target: 10,000 -> 10,000 at 2 % connectivity (2 M synapses), sparse, with binomial
  in-degrees (``conn=0.02``, rows padded to the largest in-degree) and with
  ``FixedInDegree(200)`` (no padding);
- dense against sparse on the same connectivity where a matrix fits (2,000 -> 2,000 at 2 % and
  20 %, and the excitatory-to-excitatory projection of BrainPy's COBA network, 1,600 -> 1,600
  at 4 %).

Reported per case: the bytes of the projection's per-synapse storage (w, Ca and, sparse, the
index and validity arrays), the compile time, and the loop's connected-synapse-steps per
second (existing synapses x steps / wall time; median of 3 runs).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DT_MS, machine, write_json  # noqa: E402

RATE_HZ = 10.0
FULL = [  # (label, n, connectivity, sparse)
    ('target, binomial in-degree', 10_000, 0.02, True),
    ('target, fixed in-degree 200', 10_000, ('in_degree', 200), True),
    ('2k at 2 %, dense', 2_000, 0.02, False),
    ('2k at 2 %, sparse', 2_000, 0.02, True),
    ('2k at 20 %, dense', 2_000, 0.2, False),
    ('2k at 20 %, sparse', 2_000, 0.2, True),
    ('COBA E->E 1600 at 4 %, dense', 1_600, 0.04, False),
    ('COBA E->E 1600 at 4 %, sparse', 1_600, 0.04, True),
]
QUICK = [('quick, dense', 200, 0.05, False), ('quick, sparse', 200, 0.05, True)]


def _bytes(proj) -> int:
    arrays = [proj.w.value, proj.ca.value]
    if proj.layout.sparse:
        arrays += [proj.layout.index, proj.layout.valid]
    return int(sum(np.asarray(getattr(a, 'mantissa', a)).nbytes for a in arrays))


def run_case(label, n, conn, sparse, n_steps, repeats):
    import brainstate
    import jax
    import saiunit as u
    from ltp_brainpy import FixedInDegree, GlutamateSynapse, LTPNeuron, LTPProjection, simulate

    t0 = time.perf_counter()
    conn = FixedInDegree(conn[1]) if isinstance(conn, tuple) else conn
    post = LTPNeuron(n)
    proj = LTPProjection(GlutamateSynapse(n), post, conn=conn, seed=0, sparse=sparse,
                         current_scale=40.0 / (n * 0.02))
    brainstate.nn.init_all_states([post, proj])
    build_s = time.perf_counter() - t0
    p_spike = RATE_HZ * DT_MS * 1e-3
    key = jax.random.PRNGKey(0)

    def step():
        i = brainstate.environ.get('i')
        proj.update(jax.random.uniform(jax.random.fold_in(key, i), (n,)) < p_spike)
        post()
        return post.spike.value.sum()

    run = brainstate.transform.jit(lambda: simulate.run(step, n_steps, dt=DT_MS * u.ms))
    t0 = time.perf_counter()
    jax.block_until_ready(run())
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        spikes = jax.block_until_ready(run())
        times.append(time.perf_counter() - t0)
    loop = float(np.median(times))
    synapses = proj.layout.n_synapses
    return dict(label=label, n=n, sparse=sparse, n_synapses=synapses,
                stored_entries=int(np.prod(proj.w.value.shape)), bytes=_bytes(proj),
                build_s=build_s, compile_s=max(first - loop, 0.0), ms_per_step=1e3 * loop / n_steps,
                synapse_steps_per_s=synapses * n_steps / loop,
                post_rate_hz=float(np.asarray(spikes).sum() / n / (n_steps * DT_MS * 1e-3)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='small sizes; write nothing')
    parser.add_argument('--steps', type=int, default=500, help='steps per timed run')
    args = parser.parse_args(argv)
    import brainpy
    import jax
    cases, n_steps = (QUICK, 50) if args.quick else (FULL, args.steps)
    rows = [run_case(*case, n_steps=n_steps, repeats=1 if args.quick else 3) for case in cases]
    report = dict(benchmark='sparse', n_steps=n_steps, dt_ms=DT_MS, dtype='float32',
                  input_rate_hz=RATE_HZ, machine=machine(),
                  versions=dict(jax=jax.__version__, brainpy=brainpy.__version__),
                  date=time.strftime('%Y-%m-%d'), rows=rows)
    for row in rows:
        print(f"{row['label']:32s} {row['n_synapses']:>10,d} syn  {row['bytes'] / 2**20:8.1f} MiB"
              f"  {row['ms_per_step']:8.3f} ms/step  {row['synapse_steps_per_s']:.3g} syn-steps/s")
    if not args.quick:
        write_json('sparse.json', report)
    return report


if __name__ == '__main__':
    main()
