"""The simulation loop shared by protocols, circuits and networks.

A model step is any function that advances the model by one time step and returns the values
to monitor (a dict of arrays/quantities). :func:`run` wraps it in
``brainstate.transform.for_loop`` under the time environment (``dt``, ``t``, ``i``), which
compiles the whole loop once and stacks the monitored values along a leading time axis, the
same loop that ``brainpy.state.Network.simulate`` runs.
"""
from __future__ import annotations

from typing import Callable, Optional

import brainstate
import jax.numpy as jnp
import saiunit as u

from ._validate import quantity

__all__ = ['run', 'n_steps_of']

DEFAULT_DT = 0.1 * u.ms


def n_steps_of(duration, dt=DEFAULT_DT) -> int:
    """Number of steps of length ``dt`` in ``duration`` (rounded to the nearest step)."""
    duration = quantity('run', 'duration', duration, u.ms, nonnegative=True)
    return int(round(float(duration / quantity('run', 'dt', dt, u.ms, positive=True))))


def run(step: Callable, n_steps: int, *inputs, dt=DEFAULT_DT, pbar: Optional[int] = None):
    """Run ``step(*inputs[i])`` for ``i`` in ``range(n_steps)`` inside one compiled loop.

    Parameters
    ----------
    step : callable
        Advances the model one step; receives the i-th slice of every array in ``inputs`` and
        returns the monitored values (any pytree of arrays or quantities).
    n_steps : int
        Number of steps.
    *inputs : arrays with a leading time axis of length ``n_steps``
        Per-step inputs (e.g. presynaptic spikes, injected current).
    dt : Quantity[ms]
        Time step, available to the model through ``brainstate.environ.get_dt()``.
    pbar : int, optional
        Show a progress bar updated every ``pbar`` steps.

    Returns
    -------
    The monitored values stacked along a new leading time axis.
    """
    dt = quantity('run', 'dt', dt, u.ms, positive=True)

    def body(i, *xs):
        with brainstate.environ.context(i=i, t=i * dt):
            return step(*xs)

    with brainstate.environ.context(dt=dt):
        return brainstate.transform.for_loop(body, jnp.arange(n_steps), *inputs,
                                             pbar=None if pbar is None else
                                             brainstate.transform.ProgressBar(pbar))
