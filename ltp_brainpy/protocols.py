r"""The classic induction protocols of the LTP literature, as batched simulations.

Each protocol takes its conditions (holding potentials, spike timings, frequencies ...) plus
model parameter overrides by name (``theta_p=0.6 * u.uM``, ``t_ap=3 * u.ms``) and returns a
:class:`ProtocolResult` whose ``weight_change`` holds :math:`w_{final}/w_{initial} - 1` per
condition, in the order given, next to the traces its figure needs. All conditions of one call
run as one compiled simulation: the function that builds, initialises and runs the model for
one condition is vectorised with ``jax.vmap`` and compiled with ``jax.jit``.

Protocols (sources in ``docs/model.md``):

- :func:`mg_block_iv` -- NMDA unblocked fraction and current vs voltage (Jahr & Stevens 1990)
- :func:`short_term_depression` -- glutamate released per spike of a train (Tsodyks & Markram 1997)
- :func:`pairing` -- presynaptic pulses with the cell clamped (Chen, Otmakhov & Lisman 1999)
- :func:`stdp` -- pre/post spike pairs, optionally in bursts (Bi & Poo 1998)
- :func:`frequency_response` -- trains of co-stimulated inputs (Dudek & Bear 1992)

Every simulating protocol also takes ``dt`` (the time step, default 0.1 ms) and ``pbar``
(show a progress bar).

The pulse trains of :func:`pairing` and :func:`frequency_response` are split as
:mod:`ltp_brainpy.trains` splits STDP: :func:`plan_pulses` (host side) lays a multi-rate time
grid per condition (:mod:`ltp_brainpy.timegrid`) and :func:`simulate_pulses` runs it with model
parameters that may be JAX tracers, so a fit can differentiate through it.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import saiunit as u

from . import simulate, timegrid
from ._validate import ParameterError, quantity
from .glutamate import GlutamateSynapse
from .parameters import default_parameters, split_parameters
from .pathway import Pathway
from .plasticity import mg_unblock
from .results import ProtocolResult
from . import trains

__all__ = ['ProtocolResult', 'mg_block_iv', 'short_term_depression', 'pairing', 'stdp', 'pair_frequency',
           'frequency_response', 'PulsePlan', 'plan_pulses', 'simulate_pulses', 'PULSE_WINDOW',
           'PAIRING_RESOLUTION']

SETTLE = trains.SETTLE
#: Time after each presynaptic pulse run with the fine step: it covers the NMDA calcium
#: transient, where the steep plasticity thresholds make the weights most sensitive to the step
#: (and trains of 15 Hz and faster entirely).
PULSE_WINDOW = 70.0 * u.ms
#: Relative resolution of the pairing grid, finer than the default: the calcium of a cell
#: clamped near 0 mV stays above the thresholds past the window, and a 2 Hz train is cheap.
PAIRING_RESOLUTION = 0.005


# --------------------------------------------------------------------------- helpers
def _conditions(owner, name, values, unit, **checks):
    values = quantity(owner, name, values, unit, **checks)
    values = u.math.atleast_1d(values)
    if values.ndim != 1 or values.size == 0:
        raise ParameterError(f'{owner}: parameter {name!r} must be a non-empty 1-D list')
    return values


#: Largest count (pulses, pairs, trains, inputs) a protocol accepts: beyond it a run would not
#: fit in memory or finish.
MAX_COUNT = 1_000_000


def _count(owner, name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not minimum <= value <= MAX_COUNT:
        raise ParameterError(f'{owner}: parameter {name!r} must be an integer in '
                             f'[{minimum}, {MAX_COUNT:,}], got {value!r}')
    return int(value)


def _steps(owner, name, value, dt):
    """A duration (or a period, given as 1/frequency) in whole steps of ``dt``; at least one."""
    value = quantity(owner, name, value, u.ms, positive=True)
    n = np.asarray(np.round(np.asarray(u.maybe_decimal(value / dt))), dtype=np.int64)
    if (n < 1).any():
        raise ParameterError(f'{owner}: parameter {name!r} must amount to at least one step of '
                             f'dt = {dt} (a frequency at most 1/dt), got {value}')
    return n


def _interval(pbar: bool, n_blocks: int):
    """Progress-bar update interval: about 50 updates over the run, or None for no bar."""
    return max(1, n_blocks // 50) if pbar else None


def _batched(fn, *lanes):
    """Run ``fn`` for every condition (leading axis of ``lanes``) in one compiled call."""
    return jax.jit(jax.vmap(fn))(*lanes)


def _weight_change(w_end, w_start):
    return np.asarray(u.maybe_decimal(w_end / w_start)) - 1.0


# --------------------------------------------------------------------------- protocols
def mg_block_iv(V=None, mg=1.0 * u.mM, **params) -> ProtocolResult:
    r"""NMDA unblocked fraction and fully-open NMDA current vs membrane potential.

    :math:`B(V)` and :math:`I = \bar g_N B(V) (E_{NMDA} - V)` with and without Mg²⁺
    (``gbar_N`` and ``E_NMDA`` from the projection parameters). As everywhere in the package,
    a positive current flows into the cell and depolarizes it (the sign convention of
    :math:`C\,dV/dt = \dots + I`), the opposite of the voltage-clamp convention.

    Parameters
    ----------
    V : Quantity[mV], default -100 ... 40 mV in 1 mV steps
        Potentials.
    mg : Quantity[mM]
        Extracellular magnesium.
    """
    owner = 'mg_block_iv'
    V = _conditions(owner, 'V', jnp.arange(-100.0, 41.0) * u.mV if V is None else V, u.mV)
    mg = quantity(owner, 'mg', mg, u.mM, nonnegative=True)
    p = split_parameters(params, owner)['projection']
    gbar_N = quantity(owner, 'gbar_N', p.get('gbar_N', 0.5 * u.nS), u.nS, nonnegative=True)
    E_NMDA = quantity(owner, 'E_NMDA', p.get('E_NMDA', 0.0 * u.mV), u.mV)
    unblocked = mg_unblock(V, mg)
    return ProtocolResult(
        'mg_block', {'V': V}, None,
        {'unblocked': unblocked,
         'current': (gbar_N * unblocked * (E_NMDA - V)).in_unit(u.pA),
         'current_no_mg': (gbar_N * (E_NMDA - V)).in_unit(u.pA),
         'mg': mg})


def short_term_depression(frequencies, n_spikes=20, dt=simulate.DEFAULT_DT, pbar=False,
                          **params) -> ProtocolResult:
    r"""Glutamate released by each spike of a regular train, relative to the first.

    Every frequency runs as one condition of a batched simulation of a
    :class:`GlutamateSynapse`. The analytic recursion (Tsodyks & Markram 1997) for a dock that
    releases the fraction :math:`U = 1 - e^{-k_{rel} T_{dur}}` per spike and refills with
    :math:`\tau_{rec}` over the inter-spike interval :math:`\Delta t`,

    .. math:: R_n = U D_n, \qquad
              D_{n+1} = D_0 - \left(D_0 - (1 - U) D_n\right) e^{-\Delta t/\tau_{rec}},

    is returned next to the simulation (``analytic_relative_release``). Model parameters
    of other components are accepted (so one ``[model]`` table serves every protocol) and
    have no effect.

    Returns
    -------
    ProtocolResult
        Traces ``relative_release`` and ``analytic_relative_release`` of shape
        (frequency, spike), ``released`` (mM per spike).
    """
    owner = 'short_term_depression'
    freqs = _conditions(owner, 'frequencies', frequencies, u.Hz, positive=True)
    n_spikes = _count(owner, 'n_spikes', n_spikes)
    dt = quantity(owner, 'dt', dt, u.ms, positive=True)
    syn_params = split_parameters(params, owner)  # only the synapse's parameters matter here
    periods = _steps(owner, 'frequencies', 1.0 / freqs, dt)
    n_steps = int(periods.max()) * n_spikes

    def condition(period):
        syn = GlutamateSynapse(1, **syn_params['synapse'])
        syn.init_state()

        def step():
            i = brainstate.environ.get('i')
            syn.update(trains.pulse(i, 0, period, n_spikes)[None])
            return syn.released.value[0]
        return simulate.run(step, n_steps, dt=dt, pbar=_interval(pbar, n_steps))

    released = np.asarray(_batched(condition, jnp.asarray(periods)).to_decimal(u.mM))
    per_spike = np.stack([released[lane, :p * n_spikes].reshape(n_spikes, p).sum(axis=1)
                          for lane, p in enumerate(periods)])

    syn = GlutamateSynapse(1, **syn_params['synapse'])
    U = float(syn.release_fraction)
    T, tau_rec = float(syn.T / u.mM), float(syn.tau_rec / u.ms)
    analytic = np.empty_like(per_spike)
    for lane, p in enumerate(periods):
        D = T
        for n in range(n_spikes):
            analytic[lane, n] = U * D
            D = T - (T - (1 - U) * D) * math.exp(-p * float(dt / u.ms) / tau_rec)
    return ProtocolResult(
        'short_term_depression', {'frequency': freqs}, None,
        {'spike': np.arange(1, n_spikes + 1),
         'released': per_spike * u.mM,
         'relative_release': per_spike / per_spike[:, :1],
         'analytic_relative_release': analytic / analytic[:, :1],
         'release_fraction': U})


@dataclasses.dataclass(frozen=True)
class PulsePlan:
    """Trains of co-stimulated presynaptic pulses and their time grids (integers in fine steps).

    Per lane: ``period`` (between pulses, the first at step 0), ``end`` (where the weights are
    read; plasticity is frozen from then on), ``hold`` (holding potential in mV, or None for a
    free neuron in every lane); ``starts``/``sizes`` (lane, iteration) the padded time grids.
    Shared: ``n_pulses``, ``n_inputs`` and the fine step ``dt``. Postsynaptic spikes are
    counted during the train, ``n_pulses * period``.
    """
    period: np.ndarray
    end: np.ndarray
    hold: Optional[np.ndarray]
    starts: np.ndarray
    sizes: np.ndarray
    n_pulses: int
    n_inputs: int
    dt: u.Quantity

    def ends(self):
        """Fine step reached after each iteration, (lane, iteration)."""
        return self.starts + self.sizes


def _train_grid(period, n_pulses, end, fine, resolution) -> timegrid.TimeGrid:
    """:func:`timegrid.event_grid` of ``n_pulses`` pulses every ``period`` steps from 0, marked
    at the end of the train and run to ``end``, built from the grid of one period repeated
    (the grid after a pulse depends only on the time since it)."""
    last = (n_pulses - 1) * period
    one = timegrid.event_grid(period, [0], fine=fine, resolution=resolution)
    tail = timegrid.event_grid(end - last, [0], marks=[period], fine=fine, resolution=resolution)
    starts = (np.arange(n_pulses - 1)[:, None] * period + one.starts).ravel()
    return timegrid.TimeGrid(np.concatenate([starts, last + tail.starts]).astype(np.int32),
                             np.concatenate([np.tile(one.sizes, n_pulses - 1), tail.sizes]),
                             int(end))


def plan_pulses(period, n_pulses, n_inputs, settle, dt=simulate.DEFAULT_DT, hold=None,
                window=PULSE_WINDOW, resolution=timegrid.DEFAULT_RESOLUTION) -> PulsePlan:
    """Plan trains of ``n_pulses`` pulses, one lane per entry of ``period`` (and ``hold``).

    Parameters
    ----------
    period : int or array of int
        Steps between pulses, per lane.
    n_pulses, n_inputs : int
        Pulses per train and co-stimulated synapses onto the cell.
    settle : int or array of int
        Steps from the end of the train (``n_pulses * period``) until the weights are read.
    dt : Quantity[ms]
        Fine time step.
    hold : array of float, optional
        Holding potential (mV) per lane; None leaves the neuron free.
    window : Quantity[ms]
        Time after each pulse simulated with the fine step (postsynaptic spikes, which are not
        planned, must fall in it).
    resolution : float
        Relative resolution of the time grid (0: the uniform grid of ``dt``).
    """
    period, settle = (np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in (period, settle))
    lanes = np.broadcast_shapes(period.shape, settle.shape, () if hold is None else np.shape(hold))
    period, end = (np.broadcast_to(x, lanes).copy() for x in (period, n_pulses * period + settle))
    hold = None if hold is None else np.broadcast_to(np.asarray(hold, dtype=float), lanes).copy()
    fine = max(int(round(float(window / dt))), 1)
    starts, sizes = timegrid.pad_grids([_train_grid(p, n_pulses, e, fine, resolution)
                                        for p, e in zip(period, end)])
    return PulsePlan(period, end, hold, starts, sizes, int(n_pulses), int(n_inputs), dt)


def simulate_pulses(plan: PulsePlan, pbar=None, spk_fun=None, **params):
    """Run every lane of ``plan``; returns the mean AMPA conductance (nS) after each iteration,
    shape (lane, iteration), its initial value and the postsynaptic spikes during the train,
    per lane.

    ``params`` are model parameter overrides by name; they may be JAX tracers (``jax.grad``
    and ``jax.vmap`` go through; ``spk_fun=``:func:`~ltp_brainpy.neuron.heaviside` makes the
    gradient exact where the free neuron spikes). Call it inside ``jax.jit`` when it is called again with new
    parameters.

    The co-stimulated synapses start equal and receive the same spikes, so they stay equal:
    one is simulated, its current into the cell scaled by ``n_inputs`` (``current_scale``).
    """
    n_pulses, clamped = plan.n_pulses, plan.hold is not None
    scale = params.get('current_scale', default_parameters()['projection']['current_scale'])
    params = {**params, 'current_scale': plan.n_inputs * scale}

    def condition(period, end, hold, starts, sizes):
        path = Pathway(1, 1, spk_fun=spk_fun, **params)
        brainstate.nn.init_all_states(path)
        if clamped:
            path.neuron.clamp(hold * u.mV)
        w0 = path.projection.w.value.mean()
        spikes = brainstate.ShortTermState(jnp.zeros(()))

        def step():
            i = brainstate.environ.get('i')
            path.projection.plastic = i < end
            spike = path.update(trains.pulse(i, 0, period, n_pulses)[None])
            spikes.value = spikes.value + spike.sum() * (i < n_pulses * period)
            return path.projection.w.value.mean()

        w = simulate.run_grid(step, starts, sizes, dt=plan.dt, pbar=pbar)
        return w, w0, spikes.value

    hold = plan.hold if clamped else np.zeros(len(plan.period))
    lanes = [jnp.asarray(x) for x in (plan.period, plan.end, hold, plan.starts, plan.sizes)]
    return jax.vmap(condition)(*lanes)


def _uniform_trace(plan, w, every: int):
    """The mean weight of every lane (recorded per grid iteration) every ``every`` fine steps:
    a uniform time axis for the figures, resampled per lane. Returns (time, weight)."""
    time = np.arange(1, math.ceil(plan.end.max() / every) + 1) * every
    w_nS = np.asarray(w.to_decimal(u.nS))
    weight = np.stack([np.interp(time, ends, lane) for ends, lane in zip(plan.ends(), w_nS)])
    return (time * plan.dt).in_unit(u.second), weight * u.nS


def _run_pulses(plan: PulsePlan, every: int, pbar, **params):
    """Simulate ``plan`` (compiled); returns the weight change and the spike count per lane and
    the mean weight every ``every`` steps."""
    w, w0, n_post = jax.jit(lambda: simulate_pulses(
        plan, pbar=_interval(pbar, plan.sizes.shape[1]), **params))()
    return (_weight_change(w[:, -1], w0), np.asarray(n_post)) + _uniform_trace(plan, w, every)


def pairing(hold, n_pulses=200, frequency=2.0 * u.Hz, nmda_block=False, mg=1.0 * u.mM,
            n_inputs=1, dt=simulate.DEFAULT_DT, pbar=False, **params) -> ProtocolResult:
    r"""Pairing: presynaptic pulses while the postsynaptic cell is voltage-clamped.

    For each holding potential in ``hold`` the cell is clamped and its ``n_inputs`` synapses
    are stimulated ``n_pulses`` times at ``frequency`` (Chen, Otmakhov & Lisman 1999: 200
    pulses at 2 Hz at 0 mV give LTP; at -70 mV or with AP5 nothing). The simulation
    (:func:`plan_pulses`, :func:`simulate_pulses`) takes the fine step ``dt`` for
    ``PULSE_WINDOW`` after every pulse and longer steps in the quiet between.

    Parameters
    ----------
    hold : Quantity[mV]
        Holding potentials, one condition each.
    n_pulses, frequency : int, Quantity[Hz]
        The presynaptic train.
    nmda_block : bool
        Block NMDA receptors (``gbar_N = 0``, the AP5 control).
    mg : Quantity[mM]
        Extracellular magnesium.
    n_inputs : int
        Stimulated synapses onto the cell.

    Returns
    -------
    ProtocolResult
        ``weight_change`` per holding potential; traces ``time`` and ``weight`` (mean AMPA
        conductance after each pulse period, shape (condition, time)).
    """
    owner = 'pairing'
    holds = _conditions(owner, 'hold', hold, u.mV)
    n_pulses, n_inputs = _count(owner, 'n_pulses', n_pulses), _count(owner, 'n_inputs', n_inputs)
    dt = quantity(owner, 'dt', dt, u.ms, positive=True)
    period = int(_steps(owner, 'frequency', 1.0 / quantity(owner, 'frequency', frequency, u.Hz,
                                                           positive=True), dt))
    if nmda_block:
        params['gbar_N'] = 0.0 * u.nS
    settle = int(math.ceil(float(SETTLE / dt) / period)) * period
    plan = plan_pulses(period, n_pulses, n_inputs, settle, dt, hold=holds.to_decimal(u.mV),
                       resolution=PAIRING_RESOLUTION)
    change, _, time, weight = _run_pulses(plan, period, pbar, **params,
                                          mg=quantity(owner, 'mg', mg, u.mM, nonnegative=True))
    return ProtocolResult('pairing', {'hold': holds, 'nmda_block': bool(nmda_block)}, change,
                          {'time': time, 'weight': weight})


def stdp(delta_t, n_pairs=60, frequency=1.0 * u.Hz, n_bursts=1, burst_interval=None,
         stim_current=10.0 * u.nA, stim_duration=0.5 * u.ms, n_inputs=1,
         dt=simulate.DEFAULT_DT, pbar=False, neuron=None, **params) -> ProtocolResult:
    r"""Spike-timing dependent plasticity: presynaptic spikes paired with postsynaptic spikes.

    Each pair is a presynaptic spike at :math:`t_{pre}` and a postsynaptic spike at
    :math:`t_{post} = t_{pre} + \Delta t`, evoked by a brief current pulse whose onset is
    advanced by the neuron's latency to threshold (computed from its passive membrane).
    ``n_pairs`` pairs at ``frequency`` form a burst; ``n_bursts`` bursts are repeated every
    ``burst_interval`` (Bi & Poo 1998: 60 pairs at 1 Hz; LTP for small positive
    :math:`\Delta t`, LTD for small negative; Markram et al. 1997: 10 bursts of 5 pairs every
    4 s). The simulation (:mod:`ltp_brainpy.trains`) takes the fine step ``dt`` around every
    spike and longer steps in the quiet between pairs.

    Parameters
    ----------
    delta_t : Quantity[ms]
        :math:`t_{post} - t_{pre}`, one condition each.
    n_pairs, frequency : int, Quantity[Hz]
        Pairs per burst and their rate.
    n_bursts, burst_interval : int, Quantity[ms]
        Number of bursts and their onset-to-onset interval (needed when ``n_bursts > 1``).
    stim_current, stim_duration : Quantity[nA], Quantity[ms]
        The current pulse that makes the postsynaptic spike.
    neuron : callable, optional
        ``neuron(n)`` makes the postsynaptic cell: any ``brainpy.state`` neuron (e.g.
        ``lambda n: brainpy.state.LIFRef(n, ...)``), which gets a :class:`~ltp_brainpy.Dendrite`
        with the dendrite parameters; default :class:`~ltp_brainpy.LTPNeuron`. Its latency to
        the current pulse is then measured by simulation.

    Returns
    -------
    ProtocolResult
        ``weight_change`` per :math:`\Delta t`; traces ``time`` and ``weight`` (mean AMPA
        conductance after each pair period, shape (condition, time)).
    """
    owner = 'stdp'
    deltas = _conditions(owner, 'delta_t', delta_t, u.ms)
    n_pairs, n_bursts = _count(owner, 'n_pairs', n_pairs), _count(owner, 'n_bursts', n_bursts)
    if n_bursts > 1 and burst_interval is None:
        raise ParameterError(f'{owner}: parameter {"burst_interval"!r} is needed when n_bursts > 1')
    plan = trains.plan_pairs(deltas, frequency, n_pairs, n_bursts, burst_interval,
                             stim_current, stim_duration, _count(owner, 'n_inputs', n_inputs),
                             dt, split_parameters(params, owner)['neuron'], neuron=neuron)
    w, w0 = jax.jit(lambda: trains.simulate_pairs(plan, pbar=_interval(pbar, plan.sizes.shape[1]),
                                                  **params))()
    time, weight = _uniform_trace(plan, w, every=int(plan.period[0]))  # one sample per pair
    return ProtocolResult('stdp', {'delta_t': deltas}, _weight_change(w[:, -1], w0),
                          {'time': time, 'weight': weight})


def pair_frequency(frequencies, delta_t=10.0 * u.ms, n_pairs=5, n_trains=15,
                   train_interval=10.0 * u.second, stim_current=10.0 * u.nA,
                   stim_duration=0.5 * u.ms, n_inputs=1, dt=simulate.DEFAULT_DT, pbar=False,
                   neuron=None, **params) -> ProtocolResult:
    r"""Pairing frequency: trains of pre/post pairs at a fixed :math:`\Delta t`, at each rate.

    Sjöström, Turrigiano & Nelson (2001): trains of ``n_pairs`` pairs at ``frequency``,
    repeated ``n_trains`` times every ``train_interval``; in visual cortex pre-before-post
    pairs potentiate only above ~10 Hz, and post-before-pre pairs depress at low rates and
    potentiate at high ones. A train longer than ``train_interval`` (5 pairs at 0.1 Hz) is
    followed by the next one at once. All frequencies run as one batched simulation (the pairs
    of :func:`stdp`, whose arguments these share).

    Returns
    -------
    ProtocolResult
        ``weight_change`` per frequency.
    """
    owner = 'pair_frequency'
    freqs = _conditions(owner, 'frequencies', frequencies, u.Hz, positive=True)
    n_pairs = _count(owner, 'n_pairs', n_pairs)
    interval = quantity(owner, 'train_interval', train_interval, u.ms, positive=True)
    plan = trains.plan_pairs(quantity(owner, 'delta_t', delta_t, u.ms), freqs, n_pairs,
                             _count(owner, 'n_trains', n_trains),
                             u.math.maximum(interval, n_pairs / freqs), stim_current, stim_duration,
                             _count(owner, 'n_inputs', n_inputs), dt,
                             split_parameters(params, owner)['neuron'], owner=owner, neuron=neuron)
    w, w0 = jax.jit(lambda: trains.simulate_pairs(plan, pbar=_interval(pbar, plan.sizes.shape[1]),
                                                  **params))()
    return ProtocolResult('pair_frequency', {'frequency': freqs}, _weight_change(w[:, -1], w0),
                          {})


def frequency_response(frequencies, n_pulses=900, n_inputs=28, dt=simulate.DEFAULT_DT,
                       pbar=False, **params) -> ProtocolResult:
    r"""Frequency response: trains of pulses on a pathway of co-stimulated inputs.

    ``n_inputs`` synapses onto one free (unclamped) neuron are stimulated together
    ``n_pulses`` times at each frequency (Dudek & Bear 1992: 900 pulses; LTD at 1-3 Hz, LTP
    at 50 Hz, crossover near 10 Hz -- the BCM curve). A tetanus is
    ``frequency_response([100] * u.Hz, n_pulses=100)``. All frequencies run in one batched
    simulation as long as the slowest train; each condition's weights are read
    ``SETTLE`` = 1 s after the end of its train (plasticity is frozen from then on). As in
    :func:`pairing`, the fine step ``dt`` is taken for ``PULSE_WINDOW`` after every pulse and
    longer steps in between; postsynaptic spikes are not planned, and at the default
    parameters they all fall within that window (``tests/test_timegrid_protocols.py``).

    Returns
    -------
    ProtocolResult
        ``weight_change`` per frequency; traces ``time`` and ``weight`` (condition, time),
        and ``post_rate`` (postsynaptic spikes per second during the train).
    """
    owner = 'frequency_response'
    freqs = _conditions(owner, 'frequencies', frequencies, u.Hz, positive=True)
    n_pulses, n_inputs = _count(owner, 'n_pulses', n_pulses), _count(owner, 'n_inputs', n_inputs)
    dt = quantity(owner, 'dt', dt, u.ms, positive=True)
    periods = _steps(owner, 'frequencies', 1.0 / freqs, dt)
    plan = plan_pulses(periods, n_pulses, n_inputs, int(round(float(SETTLE / dt))), dt)
    change, n_post, time, weight = _run_pulses(plan, int(round(float(100 * u.ms / dt))), pbar,
                                               **params)
    duration = (periods * n_pulses) * dt
    return ProtocolResult('frequency_response', {'frequency': freqs}, change,
                          {'time': time, 'weight': weight,
                           'post_rate': (n_post / duration).in_unit(u.Hz)})
