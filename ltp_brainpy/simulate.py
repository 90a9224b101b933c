"""The simulation loop shared by protocols, circuits and networks.

A model step is any function that advances the model by one time step. :func:`run` wraps it in
``brainstate.transform.for_loop`` under the time environment (``dt``, ``t``, ``i``), which
compiles the whole loop once and stacks the monitored values along a leading time axis -- the
same loop that ``brainpy.state.Network.simulate`` runs. For long runs, ``monitor`` with
``every`` records only every ``every`` steps (a loop of loops), so a 900 s protocol at 0.1 ms
keeps 900 samples rather than nine million. :func:`run_grid` runs the same step on a multi-rate
grid (:mod:`ltp_brainpy.timegrid`): the fine step around events, longer steps in the quiet.
"""
from __future__ import annotations

from typing import Callable, Optional

import brainstate
import jax
import jax.numpy as jnp
import saiunit as u

from ._validate import ParameterError, quantity

__all__ = ['run', 'run_grid', 'n_steps_of', 'DEFAULT_DT']

DEFAULT_DT = 0.1 * u.ms


def n_steps_of(duration, dt=DEFAULT_DT, name: str = 'duration') -> int:
    """Number of steps of length ``dt`` in ``duration`` (rounded to the nearest step)."""
    duration = quantity('simulate', name, duration, u.ms, nonnegative=True)
    return int(round(float(duration / quantity('simulate', 'dt', dt, u.ms, positive=True))))


def _progress(pbar):
    return None if pbar is None else brainstate.transform.ProgressBar(pbar)


def run(step: Callable, n_steps: int, *inputs, dt=DEFAULT_DT, monitor: Optional[Callable] = None,
        every: int = 1, pbar: Optional[int] = None):
    """Run ``step(*inputs[i])`` for ``i`` in ``range(n_steps)`` inside one compiled loop.

    Parameters
    ----------
    step : callable
        Advances the model one step; receives the i-th slice of every array in ``inputs``.
        Without ``monitor``, what it returns (any pytree of arrays or quantities) is recorded
        at every step. The step index and time are ``brainstate.environ.get('i')`` and ``'t'``.
    n_steps : int
        Number of steps.
    *inputs : arrays with a leading time axis of length ``n_steps``
        Per-step inputs (e.g. presynaptic spikes, injected current).
    dt : Quantity[ms]
        Time step, available to the model through ``brainstate.environ.get_dt()``.
    monitor : callable, optional
        Called after every ``every`` steps; its return values are recorded instead of the
        step's. ``n_steps`` must then be a multiple of ``every``.
    every : int
        Recording interval in steps (with ``monitor``).
    pbar : int, optional
        Show a progress bar updated every ``pbar`` iterations of the (outer) loop.

    Returns
    -------
    The recorded values stacked along a new leading axis (``n_steps`` or ``n_steps // every``).

    Examples
    --------
    >>> import saiunit as u
    >>> from ltp_brainpy import LTPNeuron, simulate
    >>> neuron = LTPNeuron(1); neuron.init_state()
    >>> V = simulate.run(lambda: (neuron.update(100 * u.pA), neuron.V.value)[1], 1000)
    >>> V.shape
    (1000, 1)
    """
    dt = quantity('run', 'dt', dt, u.ms, positive=True)

    def body(i, *xs):
        with brainstate.environ.context(i=i, t=i * dt):
            return step(*xs)

    with brainstate.environ.context(dt=dt):
        if monitor is None:
            return brainstate.transform.for_loop(body, jnp.arange(n_steps), *inputs,
                                                 pbar=_progress(pbar))
        if every < 1 or n_steps % every:
            raise ParameterError(f'run: n_steps ({n_steps}) must be a positive multiple of '
                                 f'every ({every})')
        n_blocks = n_steps // every
        blocks = [jax.tree.map(lambda x: x.reshape((n_blocks, every) + x.shape[1:]), x)
                  for x in inputs]

        def block(b, *xs):
            def inner(i, *ys):
                body(i, *ys)
            brainstate.transform.for_loop(inner, b * every + jnp.arange(every), *xs)
            return monitor()

        return brainstate.transform.for_loop(block, jnp.arange(n_blocks), *blocks,
                                             pbar=_progress(pbar))


def run_grid(step: Callable, starts, sizes, *inputs, dt=DEFAULT_DT, pbar: Optional[int] = None,
             count=None):
    """Run ``step(*inputs[j])`` on a multi-rate grid, recording what it returns.

    Iteration ``j`` advances the model by ``sizes[j]`` fine steps of ``dt`` in one step: inside
    it ``brainstate.environ.get_dt()`` is ``sizes[j] * dt`` and ``get('i')`` is ``starts[j]``,
    the index of the fine step it starts at (so inputs written as functions of the fine step
    index work unchanged). ``starts`` and ``sizes`` come from :func:`ltp_brainpy.timegrid.
    event_grid`; they may be traced (e.g. one grid per ``vmap`` lane).

    ``count`` (an integer, possibly traced) runs only the first ``count`` iterations, in a
    ``while`` loop: the grid arrays may then be padded to a length shared by runs of different
    lengths, which compile once. What the step returns is recorded for those iterations (zeros
    after them); ``pbar`` is not available then.

    Examples
    --------
    >>> import saiunit as u
    >>> from ltp_brainpy import LTPNeuron, simulate, timegrid
    >>> neuron = LTPNeuron(1); neuron.init_state()
    >>> grid = timegrid.event_grid(10000, events=[0])
    >>> V = simulate.run_grid(lambda: (neuron.update(), neuron.V.value)[1], grid.starts, grid.sizes)
    >>> len(grid) < 1000
    True
    """
    dt = quantity('run_grid', 'dt', dt, u.ms, positive=True)

    def body(start, size, *xs):
        with brainstate.environ.context(i=start, t=start * dt, dt=size * dt):
            return step(*xs)

    if count is None:
        return brainstate.transform.for_loop(body, jnp.asarray(starts), jnp.asarray(sizes),
                                             *inputs, pbar=_progress(pbar))
    if pbar is not None:
        raise ParameterError('run_grid: a progress bar needs the full grid (count=None)')
    starts, sizes = jnp.asarray(starts), jnp.asarray(sizes)
    length = starts.shape[0]

    def iteration(j):
        return body(starts[j], sizes[j], *jax.tree.map(lambda x: x[j], inputs))

    leaves, tree = jax.tree.flatten(brainstate.transform.eval_shape(lambda: iteration(0)))
    records = [jnp.zeros((length,) + leaf.shape, leaf.dtype) for leaf in leaves]

    def loop(carry):
        j, records = carry
        values = jax.tree.leaves(iteration(j))
        return j + 1, [r.at[j].set(v) for r, v in zip(records, values)]

    _, records = brainstate.transform.while_loop(
        lambda carry: carry[0] < count, loop, (jnp.zeros((), jnp.int32), records))
    return jax.tree.unflatten(tree, records)
