"""Shared pieces of the benchmarks: the benchmark network, its input, and timing helpers."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / 'results'
INPUT_RATE_HZ = 20.0  # Poisson input to layer 0: a moderate rate
DT_MS = 0.1


def input_spikes(n: int, n_steps: int, seed: int = 0) -> np.ndarray:
    """Poisson spikes (n_steps, n) at INPUT_RATE_HZ, the same for every implementation."""
    rng = np.random.default_rng(seed)
    return rng.random((n_steps, n)) < INPUT_RATE_HZ * DT_MS * 1e-3


def benchmark_network(n: int, seed: int = 0):
    """The 3-layer benchmark network: n units per layer, dense plastic projections both ways."""
    import saiunit as u
    from ltp_brainpy import LayeredNetwork
    return LayeredNetwork([n, n, n], feedback=True, lateral_inhibition=0.0 * u.nS, seed=seed)


def run_jax(net, spikes: np.ndarray):
    """Run the network on the given input spikes in one compiled loop.

    Returns (compile_s, loop_s, spike counts per layer, mean weight per projection), the counts
    and weights of the first run, from the initial state. The loop is then run a second time
    (from where the first ended) to time it without compilation.
    """
    import brainstate
    import jax
    import jax.numpy as jnp
    import saiunit as u
    from ltp_brainpy import simulate

    drive = jnp.asarray(spikes)

    def run(inputs):
        def step(fired):
            net.update(u.math.where(fired, net.kick, 0.0 * u.pA))
            return [layer.spike.value for layer in net.layers]
        return [s.sum(axis=0) for s in simulate.run(step, inputs.shape[0], inputs)]

    compiled = brainstate.transform.jit(run)
    t0 = time.perf_counter()
    counts = jax.block_until_ready(compiled(drive))
    first = time.perf_counter() - t0
    weights = {name: float(p.w.value.mean().to_decimal(u.nS))
               for name, p in net.projections.items()}
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(drive))
    loop = time.perf_counter() - t0
    return max(first - loop, 0.0), loop, [np.asarray(c) for c in counts], weights


def machine() -> dict:
    return dict(platform=platform.platform(), processor=platform.processor() or 'unknown',
                cpus=os.cpu_count())


def write_json(name: str, data) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    tmp = path.with_suffix('.tmp')
    tmp.write_text(json.dumps(data, indent=2) + '\n')
    tmp.replace(path)
    return path
