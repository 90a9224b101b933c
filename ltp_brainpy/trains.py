r"""Trains of pre/post spike pairs: the simulation behind STDP protocols and fits to STDP data.

One *condition* (a lane of a batched run) is a pairing protocol: ``n_pairs`` presynaptic spikes
at ``frequency``, each followed (or preceded) by a postsynaptic spike :math:`\Delta t` later, and
this train repeated ``n_trains`` times every ``train_interval`` (Bi & Poo 1998: one train of
60 pairs at 1 Hz; Markram et al. 1997: 10 trains of 5 pairs every 4 s). Every lane has its own
timing, so rows of a data set with different frequencies, :math:`\Delta t` and train counts
run together in one compiled call.

The work is split in two so that a fit can re-run the same protocol with new parameters
without re-planning or re-compiling:

- :func:`plan_pairs` (host side, plain numbers): spike times, the postsynaptic current pulses
  that make the spikes land at :math:`t_{pre} + \Delta t`, and a multi-rate time grid per lane
  (:func:`ltp_brainpy.timegrid.event_grid`: the fine step for 15 ms after each spike, growing
  steps in between);
- :func:`simulate_pairs` (traceable): builds a :class:`~ltp_brainpy.Pathway` from model
  parameters -- which may be JAX tracers, so ``jax.grad`` and ``jax.vmap`` go through -- and
  returns the mean AMPA conductance after every iteration of each lane.

Plasticity is frozen ``settle`` after each lane's last spike, where its result is read.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import saiunit as u

from . import devices, simulate, timegrid
from ._validate import ParameterError, quantity
from .neuron import LTPNeuron
from .pathway import Pathway

__all__ = ['PairPlan', 'plan_pairs', 'simulate_pairs', 'pulse', 'spike_latency', 'SETTLE',
           'LEAD']

SETTLE = 1000.0 * u.ms  #: after the last spike, before the weights are read: calcium decays
LEAD = 50.0 * u.ms      #: quiet time before the first spike


def pulse(i, onset, period, n, width=1, train_period=None, n_trains=1):
    """True where step ``i`` lies within ``width`` steps after one of ``n`` pulses every
    ``period`` steps from ``onset`` (the train repeated ``n_trains`` times every
    ``train_period`` steps). Works on NumPy and JAX integers alike."""
    k = i - onset
    b, r = (0, k) if train_period is None else (k // train_period, k % train_period)
    return (k >= 0) & (b < n_trains) & (r % period < width) & (r // period < n)


def spike_latency(neuron_params, current, dt, neuron=None) -> int:
    """Steps from the onset of a current step to the spike, for a neuron at rest.

    For an :class:`LTPNeuron` (``neuron`` None) it follows from the passive membrane (the neuron
    parameters must be plain numbers); a neuron made by the factory ``neuron`` is simulated.
    """
    if neuron is not None:
        return _simulated_latency(neuron, current, dt)
    neuron = LTPNeuron(1, **neuron_params)
    E_L, V_th = float(neuron.E_L / u.mV), float(neuron.V_th / u.mV)
    tau, v_inf = float(neuron.C / neuron.g_L / u.ms), float(current / neuron.g_L / u.mV)
    if E_L + v_inf <= V_th:
        raise ParameterError(f'stdp: stim_current={current} cannot bring the neuron to threshold')
    t_star = -tau * math.log(1.0 - (V_th - E_L) / v_inf)
    return max(int(math.ceil(t_star / float(dt / u.ms) - 1e-9)), 1)


def _simulated_latency(neuron, current, dt, max_time=100.0 * u.ms) -> int:
    cell = neuron(1)
    brainstate.nn.init_all_states(cell)
    n_steps = int(round(float(max_time / dt)))
    spikes = simulate.run(lambda: cell(u.math.full(cell.varshape, current)), n_steps, dt=dt)
    fired = np.flatnonzero(np.asarray(spikes).reshape(n_steps, -1)[:, 0] > 0)
    if not fired.size:
        raise ParameterError(f'stdp: stim_current={current} does not make '
                             f'{type(cell).__name__} spike within {max_time}')
    return int(fired[0]) + 1


@dataclasses.dataclass(frozen=True)
class PairPlan:
    """Spike timing and time grid of a batch of pairing conditions (integers in fine steps).

    Per lane: ``delta`` (post minus pre), ``period`` (between pairs), ``n_pairs``,
    ``n_trains``, ``train_period`` (between train onsets), ``end`` (where the result is read);
    ``starts``/``sizes`` (lane, iteration) the padded time grids. Shared: ``lead`` (first
    presynaptic spike), ``latency`` and ``width`` of the postsynaptic current pulse,
    ``current``, ``n_inputs``, the fine step ``dt`` and the postsynaptic ``neuron`` factory
    (None: :class:`LTPNeuron`).
    """
    delta: np.ndarray
    period: np.ndarray
    n_pairs: np.ndarray
    n_trains: np.ndarray
    train_period: np.ndarray
    end: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray
    lead: int
    latency: int
    width: int
    current: u.Quantity
    n_inputs: int
    dt: u.Quantity
    neuron: Optional[Callable] = None

    @property
    def n_lanes(self) -> int:
        return len(self.delta)

    def ends(self):
        """Fine step reached after each iteration, (lane, iteration)."""
        return self.starts + self.sizes


def _steps(owner, name, value, dt, **checks):
    value = quantity(owner, name, value, u.ms, **checks)
    return np.asarray(np.round(np.asarray(u.maybe_decimal(value / dt), dtype=float)),
                      dtype=np.int64)


def _integers(owner, name, value, minimum=1):
    array = np.atleast_1d(np.asarray(value))
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer) or (array < minimum).any():
        raise ParameterError(f'{owner}: parameter {name!r} must be an integer >= {minimum} '
                             f'(or a list of them), got {value!r}')
    return array.astype(np.int64)


def plan_pairs(delta_t, frequency, n_pairs, n_trains=1, train_interval=None,
               stim_current=10.0 * u.nA, stim_duration=0.5 * u.ms, n_inputs=1,
               dt=simulate.DEFAULT_DT, neuron_params=None, settle=SETTLE,
               resolution=timegrid.DEFAULT_RESOLUTION, owner='stdp', neuron=None) -> PairPlan:
    """Plan pairing conditions; every timing argument may be a scalar or one value per lane.

    Parameters
    ----------
    delta_t : Quantity[ms]
        :math:`t_{post} - t_{pre}` per lane.
    frequency : Quantity[Hz]
        Pair frequency within a train.
    n_pairs, n_trains : int
        Pairs per train, trains per condition.
    train_interval : Quantity[ms], optional
        Onset-to-onset interval of the trains (needed when ``n_trains > 1``).
    stim_current, stim_duration : Quantity[nA], Quantity[ms]
        The current pulse that makes each postsynaptic spike.
    n_inputs : int
        Paired synapses onto the cell.
    dt : Quantity[ms]
        Fine time step.
    neuron_params : dict, optional
        Neuron parameters (plain quantities), for the spike latency.
    neuron : callable, optional
        Factory of the postsynaptic neuron (see :class:`~ltp_brainpy.Pathway`); default
        :class:`LTPNeuron`.
    settle : Quantity[ms]
        Time after the last spike until the weights are read.
    resolution : float
        Relative resolution of the time grid (0: the uniform grid of ``dt``).
    """
    dt = quantity(owner, 'dt', dt, u.ms, positive=True)
    deltas = np.atleast_1d(_steps(owner, 'delta_t', delta_t, dt))
    freqs = quantity(owner, 'frequency', frequency, u.Hz, positive=True)
    periods = np.atleast_1d(_steps(owner, 'frequency', 1.0 / freqs, dt))
    if (periods < 1).any():
        raise ParameterError(f'{owner}: parameter {"frequency"!r} must be at most 1/dt, '
                             f'got {frequency}')
    n_pairs, n_trains = _integers(owner, 'n_pairs', n_pairs), _integers(owner, 'n_trains', n_trains)
    n_inputs = int(_integers(owner, 'n_inputs', n_inputs)[0])
    lanes = np.broadcast_shapes(deltas.shape, periods.shape, n_pairs.shape, n_trains.shape)
    if train_interval is None:
        if (n_trains > 1).any():
            raise ParameterError(f'{owner}: parameter {"train_interval"!r} is needed when '
                                 f'there is more than one train')
        train_periods = n_pairs * periods
    else:
        train_periods = np.atleast_1d(_steps(owner, 'train_interval', train_interval, dt,
                                             positive=True))
    deltas, periods, n_pairs, n_trains, train_periods = (
        np.broadcast_to(x, lanes).copy() for x in (deltas, periods, n_pairs, n_trains,
                                                   train_periods))
    if ((n_trains > 1) & (train_periods < n_pairs * periods)).any():
        raise ParameterError(f'{owner}: parameter {"train_interval"!r} must be at least '
                             f'n_pairs / frequency')
    current = quantity(owner, 'stim_current', stim_current, u.nA, positive=True)
    width = int(_steps(owner, 'stim_duration', stim_duration, dt, positive=True))
    if width < 1:
        raise ParameterError(f'{owner}: parameter {"stim_duration"!r} must be at least dt = '
                             f'{dt}, got {stim_duration}')
    latency = spike_latency(neuron_params or {}, current, dt, neuron)
    settle_steps = int(_steps(owner, 'settle', settle, dt, nonnegative=True))
    lead = max(0, int(-deltas.min())) + latency + int(_steps(owner, 'lead', LEAD, dt))

    fine = max(timegrid.DEFAULT_FINE, 2 * (width + latency))
    grids, ends = [], []
    for d, p, n, m, tp in zip(deltas, periods, n_pairs, n_trains, train_periods):
        pre = lead + (np.arange(m)[:, None] * tp + np.arange(n)[None, :] * p).ravel()
        post = pre + d - (latency - 1)
        end = int(max(pre.max(), post.max() + latency) + settle_steps)
        grids.append(timegrid.event_grid(end, np.concatenate([pre, post]), fine=fine,
                                         resolution=resolution))
        ends.append(end)
    starts, sizes = timegrid.pad_grids(grids)
    return PairPlan(deltas, periods, n_pairs, n_trains, train_periods, np.asarray(ends),
                    starts, sizes, lead, latency, width, current, n_inputs, dt, neuron)


def simulate_pairs(plan: PairPlan, pbar=None, spk_fun=None, **params):
    """Run every lane of ``plan``; returns the mean AMPA conductance (nS) after each iteration,
    shape (lane, iteration), and its initial value per lane.

    ``params`` are model parameter overrides by name; they may be JAX tracers (a fit
    differentiates through this function; pass ``spk_fun=``:func:`~ltp_brainpy.neuron.heaviside`
    for exact gradients). Call it inside ``jax.jit`` when it is called again with new
    parameters.
    """
    lead, latency, width, n_inputs = plan.lead, plan.latency, plan.width, plan.n_inputs
    current = plan.current

    def condition(delta, period, n_pairs, n_trains, train_period, end, starts, sizes):
        path = Pathway(n_inputs, 1, spk_fun=spk_fun, neuron=plan.neuron, **params)
        brainstate.nn.init_all_states(path)
        w0 = path.projection.w.value.mean()
        post_onset = lead + delta - (latency - 1)

        def step():
            i = brainstate.environ.get('i')
            pre = pulse(i, lead, period, n_pairs, 1, train_period, n_trains)
            post = pulse(i, post_onset, period, n_pairs, width, train_period, n_trains)
            path.projection.plastic = i < end
            path.update(u.math.broadcast_to(pre, (n_inputs,)),
                        u.math.where(post, current, 0.0 * u.nA)[None])
            return path.projection.w.value.mean()

        return simulate.run_grid(step, starts, sizes, dt=plan.dt, pbar=pbar), w0

    lanes = [jnp.asarray(x) for x in (plan.delta, plan.period, plan.n_pairs, plan.n_trains,
                                      plan.train_period, plan.end, plan.starts, plan.sizes)]
    # a progress bar reports from one device
    return (jax.vmap(condition) if pbar else devices.batch_map(condition))(*lanes)

