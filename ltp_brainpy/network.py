r"""A layered network of LTP neurons with plastic connections in both directions.

Neighbouring layers are connected bottom-up and, optionally, top-down (like a stack of
restricted Boltzmann machines), every connection an :class:`LTPProjection` whose AMPA
conductances learn by the calcium-control rule. Training presents patterns with plasticity on;
evaluation presents them with plasticity off, all patterns in one batched compiled run.
"""
from __future__ import annotations

import dataclasses
import os
import zipfile
from pathlib import Path
from typing import Optional, Sequence

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import saiunit as u

from . import devices, simulate
from ._inputs import BoundCurrent
from ._state import filled
from ._validate import ParameterError, quantity
from .glutamate import GlutamateSynapse
from .neuron import LTPNeuron
from .parameters import split_parameters
from .projection import LTPProjection

__all__ = ['LayeredNetwork', 'LateralInhibition', 'AdaptiveThreshold', 'NetworkRecord']

INPUT_MODES = ('poisson', 'current')
#: Default top-down drive as a share of the bottom-up ``fan_in``.
FEEDBACK_SHARE = 0.05


def _check_memory(owner: str, sizes, feedback: bool) -> None:
    """Refuse layer sizes whose dense synapse matrices (w and Ca, float32; both directions with
    feedback) would not fit in this machine's memory."""
    pairs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * (2 if feedback else 1)
    needed = pairs * 2 * 4
    try:
        available = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    except (ValueError, OSError, AttributeError):
        return
    if needed > available:
        raise ParameterError(f'{owner}: parameter {"layer_sizes"!r}: {list(sizes)} needs '
                             f'{needed / 2 ** 30:,.1f} GiB for its synapse matrices, more than '
                             f'the {available / 2 ** 30:,.1f} GiB of this machine')


class LateralInhibition(brainstate.nn.Module):
    r"""Shunting inhibition of each neuron of a layer by the others' recent spikes.

    .. math::

        I_j = g_{inh}\, \frac{1}{n - 1}\sum_{k \ne j} a_k\, (E_{inh} - V_j), \qquad
        \frac{da_k}{dt} = -\frac{a_k}{\tau_{inh}} + \sum_{\text{spikes}} \delta(t - t_k)

    Normalised by the layer size, so the same ``g_inh`` means the same competition in a layer
    of 5 or 1000 units.

    Parameters
    ----------
    layer : LTPNeuron
        The layer (the current is registered on it).
    g_inh : Quantity[nS]
        Inhibitory conductance per unit of mean activity of the other neurons.
    tau_inh : Quantity[ms], default 10 ms
        Decay of the activity trace.
    E_inh : Quantity[mV], default -75 mV
        Inhibitory reversal potential.
    """

    def __init__(self, layer: LTPNeuron, g_inh, tau_inh=10.0 * u.ms, E_inh=-75.0 * u.mV,
                 name: Optional[str] = None):
        super().__init__(name=name or brainstate.util.get_unique_name('LateralInhibition'))
        owner = type(self).__name__
        self.layer = layer
        self.g_inh = quantity(owner, 'g_inh', g_inh, u.nS, nonnegative=True)
        self.tau_inh = quantity(owner, 'tau_inh', tau_inh, u.ms, positive=True)
        self.E_inh = quantity(owner, 'E_inh', E_inh, u.mV)
        self.n = int(np.prod(layer.varshape))
        layer.add_current_input(self.name, BoundCurrent(self))

    def init_state(self, batch_size=None, **kwargs):
        shape = ((batch_size,) if batch_size else ()) + (self.n,)
        self.activity = brainstate.HiddenState(jnp.zeros(shape))

    def reset_state(self, batch_size=None, **kwargs):
        self.activity.value = jnp.zeros_like(self.activity.value)

    def current(self, V):
        a = self.activity.value
        others = (a.sum(axis=-1, keepdims=True) - a) / max(self.n - 1, 1)
        return self.g_inh * others * (self.E_inh - V)

    def update(self):
        decay = u.math.exp(-brainstate.environ.get_dt() / self.tau_inh)
        self.activity.value = self.activity.value * decay + self.layer.spike.value


class AdaptiveThreshold(brainstate.nn.Module):
    r"""Homeostatic threshold: every spike of a unit raises its threshold, which then relaxes.

    .. math::

        \frac{d\theta_j}{dt} = -\frac{\theta_j}{\tau_\theta}
            + \Delta_\theta \sum_{\text{spikes}} \delta(t - t_j), \qquad
        I_j = -g_L\, \theta_j

    The current :math:`-g_L \theta_j` lowers the unit's resting potential by :math:`\theta_j`,
    which in the leaky membrane is the same as raising its threshold by :math:`\theta_j`. A unit
    that fires much ends up harder to excite, so that all units of a competing layer get to
    win some inputs (Diehl & Cook 2015). Like the weights, :math:`\theta` is learned: it is kept
    when the activity is reset between presentations and frozen while learning is off.

    Parameters
    ----------
    layer : LTPNeuron
        The layer (the current is registered on it).
    increment : Quantity[mV]
        :math:`\Delta_\theta`, the rise of the threshold per spike.
    tau : Quantity[ms]
        :math:`\tau_\theta`, the relaxation time (may be ``inf``).

    Examples
    --------
    >>> import saiunit as u
    >>> from ltp_brainpy import LayeredNetwork
    >>> net = LayeredNetwork([4, 3], threshold_increment=0.1 * u.mV,
    ...                      tau_threshold=50 * u.second)
    >>> [t.name for t in net.thresholds]
    ['threshold1']

    References
    ----------
    .. [1] Diehl, P. U., & Cook, M. (2015). Unsupervised learning of digit recognition using
           spike-timing-dependent plasticity. Front. Comput. Neurosci. 9, 99.
    .. [2] Zhang, W., & Linden, D. J. (2003). The other side of the engram: experience-driven
           changes in neuronal intrinsic excitability. Nat. Rev. Neurosci. 4, 885-900.
    """

    def __init__(self, layer: LTPNeuron, increment, tau, name: Optional[str] = None):
        super().__init__(name=name or brainstate.util.get_unique_name('AdaptiveThreshold'))
        owner = type(self).__name__
        self.layer = layer
        self.increment = quantity(owner, 'increment', increment, u.mV, nonnegative=True)
        self.tau = quantity(owner, 'tau', tau, u.ms, positive=True, allow_inf=True)
        self.n = int(np.prod(layer.varshape))
        layer.add_current_input(self.name, BoundCurrent(self))

    def init_state(self, batch_size=None, **kwargs):
        self.theta = brainstate.LongTermState(filled(0.0 * u.mV, (self.n,), batch_size))
        self.adapting = brainstate.ShortTermState(jnp.asarray(True))

    def reset_state(self, batch_size=None, **kwargs):
        """Nothing to reset: the threshold is learned, like the weights."""

    def reset_threshold(self):
        """Back to the initial threshold (zero rise)."""
        self.theta.value = u.math.zeros_like(self.theta.value)

    def current(self, V):
        return -self.layer.g_L * self.theta.value

    def update(self):
        decay = u.math.exp(-brainstate.environ.get_dt() / self.tau)
        theta = self.theta.value * decay + self.increment * self.layer.spike.value
        self.theta.value = u.math.where(self.adapting.value, theta, self.theta.value)


@dataclasses.dataclass
class NetworkRecord:
    """What :meth:`LayeredNetwork.train` and :meth:`~LayeredNetwork.evaluate` return.

    Attributes
    ----------
    rates : list of Quantity[Hz]
        Per layer, each unit's mean firing rate, shape (cycle, pattern, unit).
    weight_change : dict of Quantity[nS]
        Per projection name, the mean change of its AMPA conductances during each
        presentation, shape (cycle, pattern).
    spikes, V : list of arrays, optional
        Per layer, spike rasters (cycle, pattern, time, unit) and potentials (mV), on request.
    """
    rates: list
    weight_change: dict
    spikes: Optional[list] = None
    V: Optional[list] = None


class LayeredNetwork(brainstate.nn.Module):
    r"""Layers of :class:`LTPNeuron` with plastic :class:`LTPProjection` s between neighbours.

    Layer :math:`l` projects to :math:`l + 1` (bottom-up) and, with ``feedback``, back
    (top-down); every projection has its own :class:`GlutamateSynapse` (the release pools of
    its boutons, one per presynaptic neuron). A pattern :math:`x \in [0, 1]^{n_0}` drives the
    input layer either as Poisson spike trains at :math:`x_i \cdot` ``max_rate`` (each input
    spike is a current kick that fires the unit) or as a current
    :math:`x_i \cdot` ``input_current``.

    So that layers of 2 and of thousands of units behave alike, each projection's current is
    scaled by ``fan_in / n_pre``: every neuron receives the current of ``fan_in`` synapses'
    worth of input whatever the layer sizes (spine calcium and plasticity are per synapse and
    not scaled). Layers above the input have :class:`LateralInhibition` (competition),
    which also keeps the recurrent bottom-up/top-down loops from running away.

    The defaults make every layer fire in a useful range: presented with patterns of 10 to
    50 % active inputs, each layer of ``LayeredNetwork([N, N, N])`` fires at 2 to 35 Hz on
    average for N from 5 to 1000 (in 2-unit layers, which follow their one active input, up
    to 60 Hz), while learning and after (``tests/test_network.py``). The top-down drive is
    a twentieth of the bottom-up one, so that the layer below stays led by its own input.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input layer first (at least two layers).
    feedback : bool, default True
        Add top-down projections.
    lateral_inhibition : Quantity[nS], default 250 nS
        ``g_inh`` of the lateral inhibition in every layer above the input (0: none).
    input_mode : {'poisson', 'current'}
        How patterns drive the input layer.
    max_rate : Quantity[Hz], default 40 Hz
        Input rate for a pattern value of 1 (Poisson mode).
    input_current : Quantity[pA], default 400 pA
        Input current for a pattern value of 1 (current mode).
    fan_in : float, default 1000
        Synapses' worth of current each neuron receives from a projection (see above).
    feedback_fan_in : float, optional
        The same for the top-down projections (default: ``fan_in / 20``); a weaker top-down
        drive lets the layer below be led by its own input.
    w_spread : float, default 0.5
        Initial AMPA conductances are drawn uniformly in ``w_init * (1 ± w_spread)``.
    conn : None or float
        Connectivity of every projection (all-to-all or a probability).
    threshold_increment : Quantity[mV], default 0 mV
        Homeostatic threshold rise per spike in every layer above the input
        (:class:`AdaptiveThreshold`; 0: none).
    tau_threshold : Quantity[ms], default inf
        Relaxation time of the threshold rise.
    synaptic_scaling : bool, default False
        After every presentation with learning on, scale each neuron's AMPA conductances from
        the layer below so that their sum returns to its initial value (multiplicative
        synaptic scaling, Turrigiano et al. 1998): potentiating some synapses then weakens the
        others, and units specialise. Top-down projections are not scaled (they learn what
        the layer above expects below it).
    seed : int
        Seed of the initial weights, the connectivity and the Poisson input.
    **params
        Model parameter overrides by name (``theta_p=0.6 * u.uM``, ``w_init=0.3 * u.nS`` ...),
        and ``rule``, the plasticity rule by name (:data:`ltp_brainpy.parameters.RULES`).

    Examples
    --------
    >>> import numpy as np, saiunit as u
    >>> from ltp_brainpy import LayeredNetwork
    >>> net = LayeredNetwork([2, 5, 4], seed=0)
    >>> record = net.train(np.array([[1.0, 0.0], [0.0, 1.0]]), n_cycles=1,
    ...                    presentation=100 * u.ms)
    >>> [r.shape for r in record.rates]
    [(1, 2, 2), (1, 2, 5), (1, 2, 4)]

    References
    ----------
    .. [1] Hinton, G. E., Osindero, S., & Teh, Y.-W. (2006). A fast learning algorithm for deep
           belief nets. Neural Computation 18, 1527-1554.
    .. [2] Shouval, H. Z., Bear, M. F., & Cooper, L. N. (2002). PNAS 99, 10831-10836.
    .. [3] Turrigiano, G. G., Leslie, K. R., Desai, N. S., Rutherford, L. C., & Nelson, S. B.
           (1998). Activity-dependent scaling of quantal amplitude in neocortical neurons.
           Nature 391, 892-896.
    """

    def __init__(self, layer_sizes: Sequence[int], feedback: bool = True,
                 lateral_inhibition=250.0 * u.nS, input_mode: str = 'poisson',
                 max_rate=40.0 * u.Hz, input_current=400.0 * u.pA, fan_in: float = 1000.0,
                 feedback_fan_in: Optional[float] = None,
                 w_spread: float = 0.5, conn=None, threshold_increment=0.0 * u.mV,
                 tau_threshold=float('inf') * u.ms, synaptic_scaling: bool = False,
                 seed: int = 0, dt=simulate.DEFAULT_DT, **params):
        super().__init__()
        owner = type(self).__name__
        sizes = [int(n) for n in layer_sizes]
        if len(sizes) < 2 or any(n < 1 for n in sizes) or any(
                int(n) != n for n in layer_sizes):
            raise ParameterError(f'{owner}: parameter {"layer_sizes"!r} must list at least two '
                                 f'positive integers, got {list(layer_sizes)}')
        if input_mode not in INPUT_MODES:
            raise ParameterError(f'{owner}: parameter {"input_mode"!r} must be one of '
                                 f'{INPUT_MODES}, got {input_mode!r}')
        if not 0.0 <= float(w_spread) < 1.0:
            raise ParameterError(f'{owner}: parameter {"w_spread"!r} must be in [0, 1), '
                                 f'got {w_spread}')
        self.settings = dict(layer_sizes=sizes, feedback=bool(feedback),
                             lateral_inhibition=lateral_inhibition, input_mode=input_mode,
                             max_rate=max_rate, input_current=input_current, fan_in=fan_in,
                             feedback_fan_in=feedback_fan_in,
                             w_spread=w_spread, conn=conn,
                             threshold_increment=threshold_increment,
                             tau_threshold=tau_threshold, synaptic_scaling=synaptic_scaling,
                             seed=seed, dt=dt, **params)
        _check_memory(owner, sizes, feedback)
        self.sizes, self.input_mode, self.seed = sizes, input_mode, int(seed)
        self.dt = quantity(owner, 'dt', dt, u.ms, positive=True)
        self.max_rate = quantity(owner, 'max_rate', max_rate, u.Hz, nonnegative=True)
        self.input_current = quantity(owner, 'input_current', input_current, u.pA)
        g_inh = quantity(owner, 'lateral_inhibition', lateral_inhibition, u.nS, nonnegative=True)
        p = split_parameters(params, owner)
        w_init = quantity(owner, 'w_init', p['projection'].pop('w_init', 0.5 * u.nS), u.nS,
                          nonnegative=True)
        self.layers = [LTPNeuron(n, **p['neuron'], **p['dendrite'], name=f'layer{l}')
                       for l, n in enumerate(sizes)]
        for key, value in (('fan_in', fan_in), ('feedback_fan_in', feedback_fan_in)):
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, float, np.number))
                                      or not np.isfinite(value) or value < 0):
                raise ParameterError(f'{owner}: parameter {key!r} must be a non-negative '
                                     f'number, got {value!r}')
        down_fan_in = fan_in * FEEDBACK_SHARE if feedback_fan_in is None else feedback_fan_in
        rng = np.random.default_rng(seed)
        self.projections, self._source = {}, {}
        pairs = [(l, l + 1) for l in range(len(sizes) - 1)]
        if feedback:
            pairs += [(l + 1, l) for l in range(len(sizes) - 1)]
        for k, (a, b) in enumerate(pairs):
            n_pre, n_post = sizes[a], sizes[b]
            rule = p['rule_class'](**p['rule'])
            w0 = w_init * (1.0 + w_spread * rng.uniform(-1.0, 1.0, (n_pre, n_post)))
            w0 = u.math.clip(w0, rule.w_min, rule.w_max)
            name = f'{"up" if b > a else "down"}_{min(a, b)}{max(a, b)}'
            self._source[name] = a
            self.projections[name] = LTPProjection(
                GlutamateSynapse(n_pre, **p['synapse'], name=f'{name}_terminals'),
                self.layers[b], conn=conn, seed=seed + 1 + k, w_init=w0, rule=rule,
                current_scale=(fan_in if b > a else down_fan_in) / n_pre, name=name,
                **p['projection'])
        self.inhibition = [LateralInhibition(self.layers[l], g_inh, name=f'inhibition{l}')
                           for l in range(1, len(sizes))] if float(g_inh / u.nS) > 0 else []
        increment = quantity(owner, 'threshold_increment', threshold_increment, u.mV,
                             nonnegative=True)
        self.thresholds = [AdaptiveThreshold(self.layers[l], increment, tau_threshold,
                                             name=f'threshold{l}')
                           for l in range(1, len(sizes))] if float(increment / u.mV) > 0 else []
        self.synaptic_scaling = bool(synaptic_scaling)
        # what synaptic scaling keeps: each unit's initial total from the layer below
        self._w_total = {name: proj.layout.sum_to_post(proj._initial_weights(None))
                         for name, proj in self.projections.items() if name.startswith('up')}
        self.kick = 2.0 * (self.layers[0].V_th - self.layers[0].E_L) * self.layers[0].C / self.dt
        brainstate.nn.init_all_states(self)

    # ------------------------------------------------------------------ state helpers
    def set_plastic(self, on: bool):
        """Switch learning on or off: every projection's plasticity and the thresholds'
        adaptation."""
        for proj in self.projections.values():
            proj.plastic = on
        for threshold in self.thresholds:
            threshold.adapting.value = jnp.asarray(bool(on))

    def threshold_rises(self) -> dict:
        """Each adaptive layer's threshold rise (mV) by module name (empty without
        ``threshold_increment``)."""
        return {t.name: t.theta.value for t in self.thresholds}

    def weights(self) -> dict:
        """AMPA conductance matrices (nS) by projection name."""
        return {name: p.w.value for name, p in self.projections.items()}

    def _checked_weights(self, weights: dict) -> dict:
        """Validated AMPA conductance matrices (every one, before any is set)."""
        owner = type(self).__name__
        checked = {}
        for name, w in weights.items():
            if name not in self.projections:
                raise ParameterError(f'{owner}: no projection {name!r}; '
                                     f'have {sorted(self.projections)}')
            proj = self.projections[name]
            w = w if isinstance(w, u.Quantity) else u.Quantity(np.asarray(w, dtype=float),
                                                               unit=u.nS)
            if tuple(w.shape) != tuple(proj.w.value.shape):
                raise ParameterError(f'{owner}: weights {name!r} have shape '
                                     f'{tuple(w.shape)}, expected {tuple(proj.w.value.shape)}')
            w = quantity(owner, name, w, u.nS, nonnegative=True)
            low, high = proj.rule.w_min, proj.rule.w_max
            if bool(u.math.any(w < low)) or bool(u.math.any(w > high)):
                raise ParameterError(f'{owner}: weights {name!r} must lie within the rule '
                                     f'bounds [{low}, {high}]')
            checked[name] = w
        return checked

    def set_weights(self, weights: dict):
        """Set AMPA conductance matrices (Quantity[nS] or arrays in nS) by projection name;
        all are checked (names, shapes, units, the rule's bounds) before any is set."""
        self._assign_weights(self._checked_weights(weights))

    def _assign_weights(self, weights: dict):
        for name, w in weights.items():
            self.projections[name].w.value = w

    def save_weights(self, path):
        """Write the AMPA conductances (in nS) to an ``.npz`` file."""
        path = Path(path)
        if path.is_dir():
            raise ParameterError(f'{type(self).__name__}: {path} is a folder, not a file')
        tmp = path.with_name(f'.{path.name}.tmp.npz')
        try:
            np.savez(tmp, **{name: np.asarray(w.to_decimal(u.nS))
                             for name, w in self.weights().items()})
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    def load_weights(self, path):
        """Read AMPA conductances written by :meth:`save_weights` (all checked before any
        is set)."""
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError('not an .npz archive of named matrices')
            with data:
                weights = {name: data[name] * u.nS for name in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise ParameterError(f'{type(self).__name__}: cannot read weights from {path}: '
                                 f'{err}') from None
        self.set_weights(weights)

    def reset_activity(self):
        """Reset every state but the AMPA conductances (between presentations)."""
        brainstate.nn.reset_all_states(self)

    def reset_weights(self):
        """Restore every projection's initial AMPA conductances (and the thresholds)."""
        for proj in self.projections.values():
            proj.reset_weights()
        for threshold in self.thresholds:
            threshold.reset_threshold()

    def _scale_synapses(self):
        """Multiplicative synaptic scaling (while learning is on): each neuron's total AMPA
        conductance from the layer below back to its initial total, within the rule's
        bounds."""
        for name, target in self._w_total.items():
            proj = self.projections[name]
            w, layout = proj.w.value, proj.layout
            total = layout.sum_to_post(w)
            factor = u.math.where(total > 0 * u.nS, target / total, 1.0)
            scaled = u.math.clip(w * layout.post(factor), proj.rule.w_min, proj.rule.w_max)
            proj.w.value = u.math.where(proj.plastic, layout.restrict(scaled), w)

    # ------------------------------------------------------------------ dynamics
    def update(self, drive):
        """One step: release, spine calcium and plasticity, membranes, inhibition.

        ``drive`` is the current into the input layer (pA).
        """
        for name, proj in self.projections.items():
            proj.update(self.layers[self._source[name]].spike.value)
        self.layers[0].update(drive)
        for layer in self.layers[1:]:
            layer.update()
        for inhibition in self.inhibition:
            inhibition.update()
        for threshold in self.thresholds:
            threshold.update()

    def _drive(self, pattern, key):
        if self.input_mode == 'current':
            return pattern * self.input_current
        p = pattern * u.maybe_decimal(self.max_rate * self.dt)
        i = brainstate.environ.get('i')
        fired = jax.random.uniform(jax.random.fold_in(key, i), pattern.shape) < p
        return u.math.where(fired, self.kick, 0.0 * u.pA)

    def _present(self, pattern, key, n_steps, traces):
        """Present one pattern for ``n_steps``; rates per layer, mean Δw per projection."""
        self.reset_activity()
        w_start = self.weights()
        counts = [brainstate.ShortTermState(jnp.zeros(n)) for n in self.sizes]

        def step():
            self.update(self._drive(pattern, key))
            for count, layer in zip(counts, self.layers):
                count.value = count.value + layer.spike.value
            if traces:
                return ([layer.spike.value > 0 for layer in self.layers],
                        [layer.V.value.to_decimal(u.mV) for layer in self.layers])

        out = simulate.run(step, n_steps, dt=self.dt)
        if self.synaptic_scaling:
            self._scale_synapses()
        duration = n_steps * self.dt
        rates = [(c.value / duration).in_unit(u.Hz) for c in counts]
        dw = {name: u.math.mean(w - w_start[name]) for name, w in self.weights().items()}
        return rates, dw, out

    def _check_patterns(self, patterns):
        patterns = np.asarray(patterns, dtype=float)
        if patterns.ndim != 2 or patterns.shape[1] != self.sizes[0]:
            raise ParameterError(f'{type(self).__name__}: parameter {"patterns"!r} must have '
                                 f'shape (n_patterns, {self.sizes[0]}), got {patterns.shape}')
        if patterns.min() < 0 or patterns.max() > 1:
            raise ParameterError(f'{type(self).__name__}: parameter {"patterns"!r} must lie in '
                                 f'[0, 1]')
        return jnp.asarray(patterns, dtype=jnp.float32)

    def train(self, patterns, n_cycles: int, presentation=500.0 * u.ms,
              record: Sequence[str] = (), plastic: bool = True) -> NetworkRecord:
        """Present every pattern in turn, ``n_cycles`` times, with plasticity on.

        Activity (not the weights) is reset before each presentation. ``record`` may contain
        ``'spikes'`` and ``'V'`` for rasters and voltage traces. ``plastic=False`` runs the
        same presentations with plasticity off (a control).
        """
        patterns = self._check_patterns(patterns)
        if isinstance(n_cycles, bool) or not isinstance(n_cycles, (int, np.integer)) \
                or n_cycles < 1:
            raise ParameterError(f'{type(self).__name__}: parameter {"n_cycles"!r} must be an '
                                 f'integer >= 1, got {n_cycles!r}')
        n_steps = simulate.n_steps_of(presentation, self.dt, 'presentation')
        n_pat = patterns.shape[0]
        sequence = jnp.tile(patterns, (n_cycles, 1))
        keys = jax.random.split(jax.random.PRNGKey(self.seed), n_cycles * n_pat)
        traces = bool(set(record) & {'spikes', 'V'})
        self.set_plastic(plastic)

        def presentation_step(pattern, key):
            return self._present(pattern, key, n_steps, traces)

        rates, dw, out = brainstate.transform.for_loop(presentation_step, sequence, keys)
        return self._record(rates, dw, out, (n_cycles, n_pat), record)

    def evaluate(self, patterns, presentation=500.0 * u.ms,
                 record: Sequence[str] = ()) -> NetworkRecord:
        """Present every pattern with learning off, all patterns in one batched run.

        Each pattern runs in its own copy of the network (same weights and thresholds, activity
        reset), so the response to one pattern does not depend on the others and nothing
        learned changes. The copies are compiled without spine calcium and the rule
        (:attr:`LTPProjection.learns`).
        """
        patterns = self._check_patterns(patterns)
        n_steps = simulate.n_steps_of(presentation, self.dt, 'presentation')
        keys = jax.random.split(jax.random.PRNGKey(self.seed + 7919), patterns.shape[0])
        weights, rises = self.weights(), self.threshold_rises()
        traces = bool(set(record) & {'spikes', 'V'})

        def one(pattern, key):
            net = LayeredNetwork(**self.settings)
            devices.split_like(net, self)  # over the devices this network is split over
            net._assign_weights(weights)  # this network's own, valid weights
            for threshold in net.thresholds:
                threshold.theta.value = rises[threshold.name]
            net.set_plastic(False)
            for proj in net.projections.values():
                proj.learns = False
            return net._present(pattern, key, n_steps, traces)

        rates, dw, out = jax.jit(jax.vmap(one))(patterns, keys)
        return self._record(rates, dw, out, (1, patterns.shape[0]), record)

    def _record(self, rates, dw, out, shape, record):
        def reshape(x):
            return x.reshape(shape + tuple(x.shape[1:]))

        spikes = V = None
        if out is not None:
            spikes = [reshape(s) for s in out[0]] if 'spikes' in record else None
            V = [reshape(v) * u.mV for v in out[1]] if 'V' in record else None
        return NetworkRecord(rates=[reshape(r) for r in rates],
                             weight_change={k: reshape(v) for k, v in dw.items()},
                             spikes=spikes, V=V)
