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
BENCHMARK_FAN_IN = 85.0


def input_spikes(n: int, n_steps: int, seed: int = 0) -> np.ndarray:
    """Poisson spikes (n_steps, n) at INPUT_RATE_HZ, the same for every implementation."""
    rng = np.random.default_rng(seed)
    return rng.random((n_steps, n)) < INPUT_RATE_HZ * DT_MS * 1e-3


def benchmark_network(n: int, seed: int = 0):
    """The 3-layer benchmark network: n units per layer, dense plastic projections both ways.

    ``fan_in = 85`` (each unit gets 85 synapses' worth of current, bottom-up and top-down)
    makes every layer fire, at 30-50 Hz, so that all four projections potentiate; no lateral
    inhibition.
    """
    import saiunit as u
    from ltp_brainpy import LayeredNetwork
    return LayeredNetwork([n, n, n], feedback=True, lateral_inhibition=0.0 * u.nS, seed=seed,
                          fan_in=BENCHMARK_FAN_IN, feedback_fan_in=BENCHMARK_FAN_IN)


def mean_weights(net) -> dict:
    """Mean AMPA conductance (nS) of each projection of a ``LayeredNetwork``."""
    import saiunit as u
    return {name: float(p.w.value.mean().to_decimal(u.nS)) for name, p in net.projections.items()}


def run_jax(net, spikes: np.ndarray, block: int = 1000):
    """Run the network on the given input spikes, ``block`` steps per compiled call.

    Returns (compile_s, loop_s, spike counts per layer, mean weight per projection). The first
    call compiles; ``compile_s`` is its time minus the median of the later calls, and
    ``loop_s`` is that median times the number of blocks (the loop without compilation).
    """
    import brainstate
    import jax
    import jax.numpy as jnp
    import saiunit as u
    from ltp_brainpy import simulate

    n_steps = spikes.shape[0]
    block = min(block, n_steps)
    if n_steps % block:
        raise ValueError(f'{n_steps} steps are not a multiple of the block of {block}')

    def run(inputs):
        def step(fired):
            net.update(u.math.where(fired, net.kick, 0.0 * u.pA))
            return [layer.spike.value for layer in net.layers]
        return [s.sum(axis=0) for s in simulate.run(step, inputs.shape[0], inputs)]

    compiled = brainstate.transform.jit(run)
    times, counts = [], None
    for b in range(n_steps // block):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(jnp.asarray(spikes[b * block:(b + 1) * block])))
        times.append(time.perf_counter() - t0)
        counts = out if counts is None else [c + o for c, o in zip(counts, out)]
    steady = float(np.median(times[1:])) if len(times) > 1 else times[0]
    weights = mean_weights(net)
    return max(times[0] - steady, 0.0), steady * len(times), [np.asarray(c) for c in counts], \
        weights


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
