r"""The classic induction protocols of the LTP literature, as batched simulations.

Each protocol takes its conditions (holding potentials, spike timings, frequencies ...) plus
model parameter overrides by name (``theta_p=0.6 * u.uM``, ``t_ap=3 * u.ms``) and returns a
:class:`ProtocolResult` whose ``weight_change`` holds :math:`w_{final}/w_{initial} - 1` per
condition, in the order given, next to the traces its figure needs. The function that builds,
initialises and runs the model for one condition is compiled with ``jax.jit``: for the trains
of pulses and pairs it runs once per condition, each on its own time grid, in one compiled loop
shared by every condition and by later calls with the same model (:data:`LANE_LOOPS`); the
other protocols, and these with a progress bar, vectorise it over the conditions with
``jax.vmap``.

Protocols (sources in ``docs/model.md``):

- :func:`mg_block_iv` -- NMDA unblocked fraction and current vs voltage (Jahr & Stevens 1990)
- :func:`short_term_depression` -- glutamate released per spike of a train (Tsodyks & Markram 1997)
- :func:`pairing` -- presynaptic pulses with the cell clamped (Chen, Otmakhov & Lisman 1999)
- :func:`stdp` -- pre/post spike pairs, optionally in bursts (Bi & Poo 1998)
- :func:`frequency_response` -- trains of co-stimulated inputs (Dudek & Bear 1992)

Every simulating protocol also takes ``dt`` (the time step, default 0.1 ms) and ``pbar``
(show a progress bar).

Each is declared as a config protocol at the end of the module (:mod:`ltp_brainpy.declare`:
the arguments a config may give it, its figure in :mod:`ltp_brainpy.plotting`, its targets in
:mod:`ltp_brainpy.targets` and its checks at load).

The pulse trains of :func:`pairing` and :func:`frequency_response` are split as
:mod:`ltp_brainpy.trains` splits STDP: :func:`plan_pulses` (host side) lays a multi-rate time
grid per condition (:mod:`ltp_brainpy.timegrid`) and :func:`simulate_pulses` runs it with model
parameters that may be JAX tracers, so a fit can differentiate through it.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import saiunit as u

from . import declare, devices, simulate, targets, timegrid
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
MAX_COUNT = declare.MAX_COUNT
_count = declare.count


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
    return devices.shard_batch(fn, *lanes)


def _weight_change(w_end, w_start):
    return np.asarray(u.maybe_decimal(w_end / w_start)) - 1.0


# --------------------------------------------------------------------------- lane loops
#: Run every condition of :func:`pairing`, :func:`frequency_response`, :func:`stdp` and
#: :func:`pair_frequency` as its own compiled loop over its own time grid (:func:`_run_lanes`)
#: rather than all conditions in one vmapped loop padded to the longest grid
#: (:func:`simulate_pulses`, :func:`ltp_brainpy.trains.simulate_pairs`; still used with a progress
#: bar, or when this is False). On a CPU, XLA compiles the loop of one condition of the default
#: model into a single function, about 0.2 us per iteration, while the batched loop launches
#: every fused operation separately, about 2 us per iteration (10 conditions) -- and it pads
#: every condition to the longest. The loop of one condition also compiles once for every lane
#: and every later call with the same model: the grid is an argument, padded to a shared
#: length, and the iterations to run are counted at run time. The steps, the float32
#: arithmetic and hence the results are those of the batched loop (to rounding).
LANE_LOOPS = True
#: Lane loops run at the same time (threads: the compiled loops release the GIL).
LANE_WORKERS = 2
#: Model parameters handed to the lane loops as arguments rather than compiled in, so that runs
#: that differ only in them (the magnesium and AP5 controls of the pairing protocol) share one
#: compilation: name -> unit. Checked here as :class:`~ltp_brainpy.LTPProjection` checks them.
TRACED_PARAMETERS = {'mg': u.mM, 'gbar_N': u.nS}
_MIN_LENGTH = 1 << 20  # shortest padded grid: the canonical protocols share one compiled loop
_CACHE_SIZE = 16
_cache: collections.OrderedDict = collections.OrderedDict()
_cache_lock = threading.Lock()


def _cache_key(params):
    """A hashable key of model parameter overrides, or None when one cannot be made (arrays,
    callables, tracers): the loop is then compiled for this call only."""
    items = []
    for name, value in sorted(params.items()):
        if isinstance(value, u.Quantity):
            mantissa = value.mantissa
            if isinstance(mantissa, jax.core.Tracer) or np.size(mantissa) > 64:
                return None
            mantissa = np.asarray(mantissa)
            items.append((name, str(value.unit), mantissa.dtype.str, mantissa.shape,
                          mantissa.tobytes()))
        elif isinstance(value, (str, bool, int, float, np.number)):
            items.append((name, type(value).__name__, value))
        else:
            return None
    return tuple(items)


def _split_traced(params):
    """``(compiled-in, traced)`` model parameters: the parameters named in
    :data:`TRACED_PARAMETERS` (their defaults unless overridden by scalars) are checked here and
    passed as arguments."""
    static, traced = dict(params), {}
    defaults = default_parameters()['projection']
    for name, unit in TRACED_PARAMETERS.items():
        value = static.get(name, defaults[name])
        if isinstance(value, u.Quantity) and np.ndim(value.mantissa) == 0 \
                and not isinstance(value.mantissa, jax.core.Tracer):
            static.pop(name, None)
            traced[name] = quantity('LTPProjection', name, value, unit, nonnegative=True)
    return static, traced


def _lane_function(key, make):
    """``(lane loop, {grid length: its compiled loop})`` for ``key`` (cached), or a fresh one
    when ``key`` is None."""
    if key is None:
        return make(), {}
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        entry = _cache[key] = (make(), {})
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return entry


#: Bits of the per-iteration flags of a lane loop (a presynaptic spike, the postsynaptic current
#: pulse, plasticity on, postsynaptic spikes counted), computed on the host from the iteration's
#: first fine step exactly as the batched loops compute them in the loop.
PRE, CURRENT, PLASTIC, COUNT = 1, 2, 4, 8
#: Marks a while loop that XLA's CPU compiler hoisted into one function.
_SMALL_CALL = 'xla_cpu_small_call'


def _run_lanes(key, make, lane_args, grids, shared):
    """Run ``make()(lane_args[k], starts, sizes, flags, count, shared)`` for every lane ``k``
    with its grid ``grids[k] = (starts, sizes, flags)`` padded to a length shared with earlier
    calls of the same ``key``; returns the per-lane outputs, fetched to the host.

    The speed of a lane loop rests on XLA compiling the whole loop as one function (a "small
    call" on CPU, for loop bodies that access little memory, as the default model's do). When
    it does not (a larger model), a loop per lane is no faster per lane than the batched loop
    is for all of them: then, for more than one lane, this returns None and the caller runs
    the batched loop."""
    fn, compiled = _lane_function(key, make)
    need = max(len(grid[0]) for grid in grids)

    def arguments(lane, length):
        starts, sizes, flags = grids[lane]
        n = len(starts)
        padded = np.zeros((2, length), np.int32)
        padded[0, :n], padded[1, :n] = starts, sizes
        events = np.zeros(length, np.int8)
        events[:n] = flags
        return (lane_args[lane], padded[0], padded[1], events, np.int32(n), shared)

    # With several devices (devices.lane_devices) each gets its own copy of the loop and one
    # worker thread; the lanes go, longest first, to whichever device is free.
    lane_devices = devices.lane_devices()[:len(grids)]
    n_devices = len(lane_devices)

    def compile_on(length, k):
        if n_devices == 1:  # the default device, as before
            return jax.jit(fn).lower(*arguments(0, length)).compile()
        return jax.jit(fn).lower(*jax.device_put(arguments(0, length),
                                                 lane_devices[k])).compile()

    with _cache_lock:
        fits = [n for n in compiled if isinstance(n, int) and n >= need]
        length = min(fits) if fits else max(_MIN_LENGTH, 1 << (need - 1).bit_length())
        if length not in compiled:
            loop = compile_on(length, 0)
            compiled[length] = loop, _SMALL_CALL in loop.as_text()
        loop, small = compiled[length]
        loops = [loop] if n_devices == 1 else [
            compiled.setdefault((length, device.id), (compile_on(length, k), small))[0]
            for k, device in enumerate(lane_devices)]
    if not small and len(grids) > 1:
        return None

    def run(lane, k=0):
        args = arguments(lane, length)
        if n_devices > 1:
            args = jax.device_put(args, lane_devices[k])
        return jax.device_get(loops[k](*args))

    order = sorted(range(len(grids)), key=lambda lane: -len(grids[lane][0]))
    if n_devices > 1:
        queue, lock, done = list(order), threading.Lock(), {}

        def worker(k):
            while True:
                with lock:
                    if not queue:
                        return
                    lane = queue.pop(0)
                done[lane] = run(lane, k)

        with ThreadPoolExecutor(n_devices) as pool:
            list(pool.map(worker, range(n_devices)))
        outs = [done[lane] for lane in order]
    elif len(order) == 1 or LANE_WORKERS <= 1:
        outs = [run(lane) for lane in order]
    else:
        with ThreadPoolExecutor(min(LANE_WORKERS, len(order))) as pool:
            outs = list(pool.map(run, order))
    results = [None] * len(grids)
    for lane, out in zip(order, outs):
        results[lane] = out
    return results


def _lane_grids(starts, sizes, end):
    """The unpadded grid of every lane of a padded plan: the iterations before its ``end``."""
    counts = (starts < np.asarray(end)[:, None]).sum(axis=1)
    return [(starts[lane, :n], sizes[lane, :n]) for lane, n in enumerate(counts)]


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
    # a progress bar reports from one device
    return (jax.vmap(condition) if pbar else devices.batch_map(condition))(*lanes)


def _lane(n_inputs, dt, neuron, static):
    """The loop of one lane of :func:`simulate_pulses` or :func:`ltp_brainpy.trains.
    simulate_pairs` (for :func:`_run_lanes`), a function of the lane's settings (holding
    potential in mV, whether the cell is clamped, the postsynaptic current pulse, the factor on
    the synaptic current), its grid and flags, and the traced model parameters. Returns the mean
    AMPA conductance after each iteration, its initial value and the counted spikes."""

    def lane(settings, starts, sizes, flags, count, traced):
        hold, clamped, current, scale = settings
        scaled = {} if 'current_scale' in static else {'current_scale': scale}
        path = Pathway(n_inputs, 1, neuron=neuron, **static, **scaled, **traced)
        brainstate.nn.init_all_states(path)
        if neuron is None:
            path.neuron.clamp(hold * u.mV, where=clamped)
        w0 = path.projection.w.value.mean()
        spikes = brainstate.ShortTermState(jnp.zeros(()))

        def step(flag):
            path.projection.plastic = (flag & PLASTIC) > 0
            spike = path.update(u.math.broadcast_to((flag & PRE) > 0, (n_inputs,)),
                                u.math.where((flag & CURRENT) > 0, current, 0.0 * u.nA)[None])
            spikes.value = spikes.value + spike.sum() * ((flag & COUNT) > 0)
            return path.projection.w.value.mean()

        w = simulate.run_grid(step, starts, sizes, flags, dt=dt, count=count)
        return w, w0, spikes.value
    return lane


def _flags(pre, current, plastic, count):
    return (pre * PRE + current * CURRENT + plastic * PLASTIC + count * COUNT).astype(np.int8)


def _simulate_lanes(n_inputs, dt, neuron, params, settings, grids):
    """Run lanes of :func:`_lane` (``settings`` and ``grids`` per lane) with the model
    parameter overrides ``params``; per lane the grid's ends and the mean AMPA conductance (nS)
    after each iteration, and over lanes the initial conductance (nS) and the counted spikes.
    None when :func:`_run_lanes` declines."""
    static, traced = _split_traced(params)
    key = None
    if neuron is None and _cache_key(static) is not None:
        key = ('lane', _cache_key(static), n_inputs, float(dt.to_decimal(u.ms)),
               tuple((name, str(value.unit)) for name, value in sorted(traced.items())))
    out = _run_lanes(key, lambda: _lane(n_inputs, dt, neuron, static), settings, grids, traced)
    if out is None:
        return None
    return (_lane_outputs(grids, [o[0] for o in out]), np.stack([_nS(o[1]) for o in out]),
            np.stack([np.asarray(o[2]) for o in out]))


def _settings(hold, clamped, current, scale):
    return (np.float32(hold), np.bool_(clamped),
            u.Quantity(np.float32(current.to_decimal(u.nA)), u.nA), np.float32(scale))


def _pulse_lanes(plan: PulsePlan, **params):
    """:func:`simulate_pulses` lane by lane (:data:`LANE_LOOPS`): per lane the grid's ends and
    the mean AMPA conductance (nS) after each iteration, and over lanes the initial conductance
    and the postsynaptic spikes during the train."""
    clamped = plan.hold is not None
    hold = plan.hold if clamped else np.zeros(len(plan.period))
    scale = params.get('current_scale', default_parameters()['projection']['current_scale'])
    if 'current_scale' in params:  # compiled in, as simulate_pulses does
        params = {**params, 'current_scale': plan.n_inputs * scale}
        scale = 1.0
    else:
        scale = plan.n_inputs * scale
    grids = [(starts, sizes, _flags(trains.pulse(starts, 0, period, plan.n_pulses), False,
                                    starts < end, starts < plan.n_pulses * period))
             for (starts, sizes), period, end in zip(_lane_grids(plan.starts, plan.sizes, plan.end),
                                                     plan.period, plan.end)]
    settings = [_settings(h, clamped, 0.0 * u.nA, scale) for h in hold]
    return _simulate_lanes(1, plan.dt, None, params, settings, grids)


def _pair_lanes(plan: trains.PairPlan, **params):
    """:func:`ltp_brainpy.trains.simulate_pairs` lane by lane (:data:`LANE_LOOPS`): per lane the
    grid's ends and the mean AMPA conductance (nS) after each iteration, and the initial
    conductance per lane."""
    lead, latency, width = plan.lead, plan.latency, plan.width
    grids = []
    for (starts, sizes), delta, period, n_pairs, n_trains, train_period, end in zip(
            _lane_grids(plan.starts, plan.sizes, plan.end), plan.delta, plan.period,
            plan.n_pairs, plan.n_trains, plan.train_period, plan.end):
        post_onset = lead + delta - (latency - 1)
        grids.append((starts, sizes, _flags(
            trains.pulse(starts, lead, period, n_pairs, 1, train_period, n_trains),
            trains.pulse(starts, post_onset, period, n_pairs, width, train_period, n_trains),
            starts < end, False)))
    scale = params.get('current_scale', default_parameters()['projection']['current_scale'])
    settings = [_settings(0.0, False, plan.current, scale if 'current_scale' not in params
                          else 1.0)] * len(grids)
    run = _simulate_lanes(plan.n_inputs, plan.dt, plan.neuron, params, settings, grids)
    return None if run is None else run[:2]


def _nS(x):
    return np.asarray(x.to_decimal(u.nS) if isinstance(x, u.Quantity) else x)


def _lane_outputs(grids, ws):
    """``[(ends, w in nS)]`` per lane, cut to the lane's iterations."""
    return [(grid[0] + grid[1], _nS(w)[:len(grid[0])]) for grid, w in zip(grids, ws)]


def _traces(plan, lanes, every: int):
    """The mean weight of every lane every ``every`` fine steps, from its recorded iterations
    ``lanes = [(ends, w in nS)]``: a uniform time axis for the figures. Returns (time, weight)."""
    time = np.arange(1, math.ceil(plan.end.max() / every) + 1) * every
    weight = np.stack([np.interp(time, ends, w) for ends, w in lanes])
    return (time * plan.dt).in_unit(u.second), weight * u.nS


def _padded_lanes(plan, w):
    """``[(ends, w in nS)]`` of a padded (lane, iteration) run."""
    return list(zip(plan.ends(), np.asarray(w.to_decimal(u.nS))))


def _final(lanes):
    """The last recorded mean weight of every lane (nS)."""
    return np.stack([np.float32(w[-1]) for _, w in lanes]) * u.nS


def _run_pulses(plan: PulsePlan, every: int, pbar, **params):
    """Simulate ``plan`` (compiled); returns the weight change and the spike count per lane and
    the mean weight every ``every`` steps."""
    run = _pulse_lanes(plan, **params) if LANE_LOOPS and not pbar else None
    if run is not None:
        lanes, w0, n_post = run
        w0 = w0 * u.nS
    else:
        w, w0, n_post = jax.jit(lambda starts, sizes: simulate_pulses(
            dataclasses.replace(plan, starts=starts, sizes=sizes),
            pbar=_interval(pbar, plan.sizes.shape[1]), **params))(plan.starts, plan.sizes)
        lanes = _padded_lanes(plan, w)
    return (_weight_change(_final(lanes), w0), np.asarray(n_post)) + _traces(plan, lanes, every)


def _run_pairs(plan: trains.PairPlan, pbar, **params):
    """Simulate ``plan`` (compiled); returns ``[(ends, w in nS)]`` per lane and the weight
    change per lane."""
    run = _pair_lanes(plan, **params) if LANE_LOOPS and not pbar else None
    if run is not None:
        lanes, w0 = run
        w0 = w0 * u.nS
    else:
        w, w0 = jax.jit(lambda starts, sizes: trains.simulate_pairs(
            dataclasses.replace(plan, starts=starts, sizes=sizes),
            pbar=_interval(pbar, plan.sizes.shape[1]), **params))(plan.starts, plan.sizes)
        lanes = _padded_lanes(plan, w)
    return lanes, _weight_change(_final(lanes), w0)


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
    lanes, change = _run_pairs(plan, pbar, **params)
    time, weight = _traces(plan, lanes, every=int(plan.period[0]))  # one sample per pair
    return ProtocolResult('stdp', {'delta_t': deltas}, change, {'time': time, 'weight': weight})


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
    _, change = _run_pairs(plan, pbar, **params)
    return ProtocolResult('pair_frequency', {'frequency': freqs}, change, {})


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


# --------------------------------------------------------------------------- declarations
# What a config may give each protocol, its figure, its targets and its checks at load
# (ltp_brainpy.declare); ltp_brainpy.registry collects them.
def _ms(value):
    return np.asarray(value.to_decimal(u.ms), dtype=float)


def _check_latency(args, model, dt, where):
    """The current pulse must make the postsynaptic neuron fire (stdp, pair_frequency)."""
    try:
        trains.spike_latency(split_parameters(model, where)['neuron'], args['stim_current'], dt)
    except ParameterError as err:
        raise ParameterError(f'{where}: {err}') from None


def _check_stdp(args, model, dt, where):
    _check_latency(args, model, dt, where)
    n_pairs, n_bursts = args['n_pairs'], args['n_bursts']
    burst = n_pairs * 1000.0 / float(args['frequency'].to_decimal(u.Hz))
    length = burst
    if n_bursts > 1:
        if args['burst_interval'] is None:
            raise ParameterError(f"{where}: parameter 'burst_interval' expected when "
                                 f'n_bursts > 1, got none')
        interval = float(_ms(args['burst_interval']))
        if interval < burst:
            raise ParameterError(f"{where}: parameter 'burst_interval' expected at least "
                                 f'n_pairs / frequency = {burst:g} ms, got '
                                 f"{args['burst_interval']}")
        length = (n_bursts - 1) * interval + burst
    length += float(np.abs(_ms(args['delta_t'])).max()) + declare.SETTLE_MS
    return length, 'n_bursts x burst_interval, n_pairs / frequency'


def _check_pair_frequency(args, model, dt, where):
    _check_latency(args, model, dt, where)
    slowest = float(np.min(args['frequencies'].to_decimal(u.Hz)))
    train = args['n_pairs'] * 1000.0 / slowest
    length = (args['n_trains'] * max(float(_ms(args['train_interval'])), train)
              + float(np.abs(_ms(args['delta_t'])).max()) + declare.SETTLE_MS)
    return length, 'n_trains x train_interval, n_pairs / frequencies'


def _check_train(rate, count):
    """Run length of ``count`` pulses at the slowest of ``rate`` (the pulse protocols)."""
    def check(args, model, dt, where):
        slowest = float(np.min(args[rate].to_decimal(u.Hz)))
        return args[count] * 1000.0 / slowest + declare.SETTLE_MS, f'{count} / {rate}'
    return check


_A = declare.Argument
_N_INPUTS = _A(int, 'stimulated synapses onto the cell')
_STIM_CURRENT = _A(u.nA, 'current pulse that makes each postsynaptic spike', positive=True)
_STIM_DURATION = _A(u.ms, 'duration of that pulse', positive=True, step=True)

declare.protocol(
    'mg_block', figure='ltp_brainpy.plotting:mg_block', targets=targets.MG_BLOCK,
    arguments=dict(
        V=_A(u.mV, 'membrane potentials (default -100 ... 40 mV in 1 mV steps)',
             per_condition=True),
        mg=_A(u.mM, 'extracellular magnesium', nonnegative=True)))(mg_block_iv)
declare.protocol(
    'short_term_depression', figure='ltp_brainpy.plotting:short_term_depression',
    targets=targets.SHORT_TERM_DEPRESSION, check=_check_train('frequencies', 'n_spikes'),
    arguments=dict(
        frequencies=_A(u.Hz, 'spike rates, one condition each', positive=True,
                       per_condition=True, step=True),
        n_spikes=_A(int, 'spikes per train')))(short_term_depression)
declare.protocol(
    'pairing', figure='ltp_brainpy.plotting:pairing',
    targets=targets.PAIRING + [targets.BOUNDS], check=_check_train('frequency', 'n_pulses'),
    arguments=dict(
        hold=_A(u.mV, 'holding potentials of the clamped cell, one condition each',
                per_condition=True),
        n_pulses=_A(int, 'presynaptic pulses'),
        frequency=_A(u.Hz, 'rate of the pulses', positive=True, step=True),
        nmda_block=_A(bool, 'block NMDA receptors (gbar_N = 0, the AP5 control)'),
        mg=_A(u.mM, 'extracellular magnesium', nonnegative=True),
        n_inputs=_N_INPUTS))(pairing)
declare.protocol(
    'stdp', figure='ltp_brainpy.plotting:stdp', targets=targets.STDP + [targets.BOUNDS],
    check=_check_stdp,
    arguments=dict(
        delta_t=_A(u.ms, 't_post - t_pre of the pairs, one condition each',
                   per_condition=True),
        n_pairs=_A(int, 'pairs per burst'),
        frequency=_A(u.Hz, 'rate of the pairs within a burst', positive=True, step=True),
        n_bursts=_A(int, 'number of bursts'),
        burst_interval=_A(u.ms, 'onset-to-onset interval of the bursts (needed when '
                          'n_bursts > 1)', positive=True, step=True),
        stim_current=_STIM_CURRENT, stim_duration=_STIM_DURATION,
        n_inputs=_N_INPUTS))(stdp)
declare.protocol(
    'pair_frequency', figure='ltp_brainpy.plotting:pair_frequency',
    check=_check_pair_frequency,
    arguments=dict(
        frequencies=_A(u.Hz, 'pair rates, one condition each', positive=True,
                       per_condition=True, step=True),
        delta_t=_A(u.ms, 't_post - t_pre of every pair'),
        n_pairs=_A(int, 'pairs per train'),
        n_trains=_A(int, 'number of trains'),
        train_interval=_A(u.ms, 'onset-to-onset interval of the trains', positive=True,
                          step=True),
        stim_current=_STIM_CURRENT, stim_duration=_STIM_DURATION,
        n_inputs=_N_INPUTS))(pair_frequency)
declare.protocol(
    'frequency_response', figure='ltp_brainpy.plotting:frequency_response',
    targets=targets.FREQUENCY_RESPONSE + [targets.BOUNDS],
    check=_check_train('frequencies', 'n_pulses'),
    arguments=dict(
        frequencies=_A(u.Hz, 'stimulation rates, one condition each', positive=True,
                       per_condition=True, step=True),
        n_pulses=_A(int, 'pulses per train'),
        n_inputs=_A(int, 'co-stimulated synapses onto the cell')))(frequency_response)
