r"""Plastic glutamatergic projection: per-synapse AMPA conductance and spine calcium."""
from __future__ import annotations

import inspect
from typing import Optional

import brainpy
import brainstate
import numpy as np
import saiunit as u

from ._inputs import BoundCurrent
from ._state import filled
from ._validate import ParameterError, quantity, require
from .connectivity import make_layout
from .dendrite import Dendrite, dendrite_of
from .glutamate import GlutamateSynapse, spike_values
from .plasticity import (CalciumControlRule, PlasticityRule, SynapseSignals, mg_unblock,
                         nmda_calcium_influx, relax)

__all__ = ['LTPProjection']

#: Attribute marking the receptor models a projection advances (each belongs to one projection).
_DRIVER = '_ltp_projection'


def _input_unit(neuron):
    """Unit of the input a neuron's ``update`` takes (from its default), or None if unknown."""
    parameters = list(inspect.signature(neuron.update).parameters.values())
    default = parameters[0].default if parameters else None
    return u.get_unit(default) if isinstance(default, u.Quantity) else None


class LTPProjection(brainpy.state.Projection):
    r"""Glutamatergic projection with NMDA-gated spine calcium and AMPA-receptor plasticity.

    For every synapse :math:`i \to j` the projection holds the AMPA conductance :math:`w_{ij}`
    (the AMPA receptors in the postsynaptic density) and the spine calcium :math:`Ca_{ij}`. It
    reads the AMPA and NMDA open fractions :math:`s_i, g_i` of its presynaptic receptor model
    (one per presynaptic neuron) and the dendritic potential
    :math:`V_j = V^{soma}_j + \mathrm{bpap}_j` of the postsynaptic neuron (its
    :class:`~ltp_brainpy.Dendrite`), and injects into neuron :math:`j`

    .. math::

        I_j = \sum_i w_{ij}\, s_i\, (E_{AMPA} - V_j)
            + \sum_i \bar g_N\, g_i\, B(V_j)\, (E_{NMDA} - V_j)

    with the Mg²⁺ unblocked fraction :math:`B` (:func:`mg_unblock`); a positive current
    depolarizes the neuron. NMDA receptors let in calcium only with glutamate *and*
    depolarization, the coincidence detector:

    .. math::

        \frac{dCa_{ij}}{dt} = -\frac{Ca_{ij}}{\tau_{Ca}}
            + \rho\, \bar g_N\, g_i\, B(V_j)\, \max(E_{Ca} - V_j, 0)

    The plasticity calcium :math:`c_{ij} = Ca_{ij} + ca_{post,j}` (with the neuron's spike
    calcium) and the other per-step signals (:class:`~ltp_brainpy.plasticity.SynapseSignals`)
    drive the ``rule`` (default :class:`CalciumControlRule`), which moves :math:`w_{ij}`
    within its bounds. ``plastic = False`` freezes :math:`w` and leaves every other dynamic
    untouched (evaluation mode); it is a state, switchable between or inside compiled runs.

    **One update per step.** ``update(pre_spike)`` advances the presynaptic receptors it owns
    with the spikes, then the spines and the rule; the neuron reads the current when it is
    updated afterwards (brainpy.state's order: projections, then neurons). Each receptor model
    belongs to one projection, so none can be advanced twice or out of order.

    **Presynaptic side.** ``pre`` is a :class:`GlutamateSynapse` (release with depletion, AMPA
    and NMDA gating), or a stock ``brainpy.state.BioNMDA`` with the AMPA receptors as
    ``ampa`` (a stock ``brainpy.state.AMPA`` of the same size).

    **Postsynaptic side.** Any ``brainpy.state`` neuron: an :class:`~ltp_brainpy.LTPNeuron`
    brings its own dendrite; a stock neuron (LIF, LIFRef, HH, ...) gets ``dendrite`` (default:
    a :class:`~ltp_brainpy.Dendrite` with the calibrated parameters) attached, which follows
    the spikes the neuron returns when it is called (``neuron(x)``).

    **Connectivity and storage.** ``conn`` is all-to-all, a probability, a boolean mask or
    :class:`~ltp_brainpy.FixedInDegree`; ``sparse=True`` stores only the existing synapses
    (:mod:`ltp_brainpy.connectivity`). ``w`` and ``ca`` have the layout's shape;
    :meth:`weight_matrix` gives ``w`` as an ``(n_pre, n_post)`` matrix either way.

    **Weights persist.** ``reset_state`` (and ``brainstate.nn.reset_all_states``) resets the
    activity -- spine calcium, the rule's states -- and keeps what was learned;
    :meth:`reset_weights` restores the initial conductances.

    The matrices use the exact exponential step (:func:`relax`, :func:`linear_exp_step`).

    Parameters
    ----------
    pre : GlutamateSynapse or brainpy.state.BioNMDA
        Presynaptic receptor model providing the NMDA open fraction (and, for a
        GlutamateSynapse, the AMPA open fraction).
    post : brainpy.state.Neuron
        Postsynaptic population with a ``V`` state.
    conn : None, float, bool array or FixedInDegree, default None
        All-to-all, connection probability (drawn with ``seed``), (n_pre, n_post) mask, or a
        fixed in-degree.
    w_init : Quantity[nS], default 0.5 nS
        Initial AMPA conductance per synapse (scalar or (n_pre, n_post) array); also the
        target of the rule's slow forgetting.
    gbar_N : Quantity[nS], default 0.5 nS
        NMDA conductance per synapse (0 nS models the NMDA blocker AP5).
    E_AMPA, E_NMDA : Quantity[mV], default 0 mV
        Reversal potentials.
    E_Ca : Quantity[mV], default 130 mV
        Calcium reversal potential.
    mg : Quantity[mM], default 1 mM
        Extracellular magnesium.
    rho : Quantity[uM/(ms nS mV)], default 0.0025
        Conversion of NMDA calcium current into spine concentration.
    tau_ca : Quantity[ms], default 100 ms
        Decay time constant of the spine's NMDA calcium signal, which the rule integrates;
        calibrated (docs/model.md, section 4: trains above ~10 Hz add up).
    current_scale : float or Quantity, default 1
        Factor on the current delivered to the neuron (not on spine calcium or plasticity):
        dendritic attenuation, normalisation of a large fan-in, or -- with a unit -- the
        conversion into the input a neuron takes (e.g. ``1 / (100 * u.pF)`` for the mV/ms of
        ``brainpy.state.Izhikevich``). Checked against the neuron at construction.
    rule : PlasticityRule, default CalciumControlRule()
        Plasticity rule (:class:`~ltp_brainpy.plasticity.PlasticityRule`).
    plastic : bool, default True
        Start with plasticity on.
    seed : int, optional
        Seed of the random connectivity.
    name : str, optional
        Unique module name (generated if omitted); also the key of the current input on ``post``.
    sparse : bool, default False
        Store only the existing synapses (keyword only).
    ampa : brainpy.state.AMPA, optional
        AMPA receptors of a stock BioNMDA ``pre`` (keyword only).
    dendrite : Dendrite, optional
        Dendrite to attach to a stock ``post`` (keyword only; default calibrated parameters).

    Attributes
    ----------
    w : LongTermState[nS]
        AMPA conductance per synapse (layout shape; 0 where not connected).
    ca : HiddenState[uM]
        NMDA spine calcium per synapse.
    layout : DenseLayout or SparseLayout
        Connectivity and storage.
    dendrite : Dendrite
        The postsynaptic dendrite read by the spines.

    Examples
    --------
    >>> import brainstate, saiunit as u, jax.numpy as jnp
    >>> from ltp_brainpy import GlutamateSynapse, LTPNeuron, LTPProjection
    >>> syn, neu = GlutamateSynapse(20), LTPNeuron(5)
    >>> proj = LTPProjection(syn, neu, conn=0.5, seed=0, sparse=True)
    >>> _ = brainstate.nn.init_all_states([neu, proj])
    >>> with brainstate.environ.context(dt=0.1 * u.ms):
    ...     proj.update(jnp.ones(20, dtype=bool)); _ = neu.update()

    References
    ----------
    .. [1] Shouval, H. Z., Bear, M. F., & Cooper, L. N. (2002). A unified model of NMDA
           receptor-dependent bidirectional synaptic plasticity. PNAS 99(16), 10831-10836.
    .. [2] Jahr, C. E., & Stevens, C. F. (1990). J. Neurosci. 10(9), 3178-3182.
    .. [3] Lisman, J. (1989). A mechanism for the Hebb and the anti-Hebb processes underlying
           learning and memory. PNAS 86(23), 9574-9578.
    """
    __module__ = 'ltp_brainpy'

    def __init__(
        self,
        pre,
        post: brainpy.state.Neuron,
        conn=None,
        w_init=0.5 * u.nS,
        gbar_N=0.5 * u.nS,
        E_AMPA=0.0 * u.mV,
        E_NMDA=0.0 * u.mV,
        E_Ca=130.0 * u.mV,
        mg=1.0 * u.mM,
        rho=0.0025 * u.uM / (u.ms * u.nS * u.mV),
        tau_ca=100.0 * u.ms,
        current_scale=1.0,
        rule: Optional[PlasticityRule] = None,
        plastic: bool = True,
        seed: Optional[int] = None,
        name: Optional[str] = None,
        *,
        sparse: bool = False,
        ampa=None,
        dendrite: Optional[Dendrite] = None,
    ):
        super().__init__(name=name or brainstate.util.get_unique_name('LTPProjection'))
        owner = type(self).__name__
        if not isinstance(post, brainpy.state.Neuron):
            raise ParameterError(f'{owner}: parameter {"post"!r} must be a brainpy.state.Neuron, '
                                 f'got {type(post).__name__}')
        self.pre, self.ampa = pre, ampa
        self._check_receptors(owner)
        self.post = post
        self.n_pre, self.n_post = int(np.prod(pre.varshape)), int(np.prod(post.varshape))
        self.layout = make_layout(self.n_pre, self.n_post, conn, seed, sparse=bool(sparse))
        self.dendrite = dendrite_of(post, dendrite)
        self.rule = CalciumControlRule() if rule is None else rule
        if not isinstance(self.rule, PlasticityRule):
            raise ParameterError(f'{owner}: parameter {"rule"!r} must have w_min, w_max and '
                                 f'update(w, signals) (see PlasticityRule), got '
                                 f'{type(self.rule).__name__}')
        if hasattr(self.rule, 'attach'):
            self.rule.attach(self.layout)
        self.w_init = quantity(owner, 'w_init', w_init, u.nS, nonnegative=True)
        require(owner, (self.w_init >= self.rule.w_min) & (self.w_init <= self.rule.w_max),
                f'w_init must lie within the rule bounds [{self.rule.w_min}, {self.rule.w_max}], '
                f'got {w_init}')
        self._w0 = (self.layout.from_matrix(self.w_init)
                    if self.layout.sparse and u.math.ndim(self.w_init) else self.w_init)
        self.gbar_N = quantity(owner, 'gbar_N', gbar_N, u.nS, nonnegative=True)
        self.E_AMPA = quantity(owner, 'E_AMPA', E_AMPA, u.mV)
        self.E_NMDA = quantity(owner, 'E_NMDA', E_NMDA, u.mV)
        self.E_Ca = quantity(owner, 'E_Ca', E_Ca, u.mV)
        self.mg = quantity(owner, 'mg', mg, u.mM, nonnegative=True)
        self.rho = quantity(owner, 'rho', rho, u.uM / (u.ms * u.nS * u.mV), nonnegative=True)
        self.tau_ca = quantity(owner, 'tau_ca', tau_ca, u.ms, positive=True)
        self.current_scale = self._check_output(owner, current_scale)
        self._plastic_at_init = bool(plastic)
        #: Whether :meth:`update` advances spine calcium and the rule at all. ``plastic`` is a
        #: state that can switch inside a compiled loop (calcium keeps evolving while it is
        #: off); setting this to False before a loop is compiled drops that work from the loop
        #: (a frozen copy for evaluation: only the receptors and the conductances remain).
        self.learns = True
        for receptor in (pre, ampa):
            if receptor is not None:
                setattr(receptor, _DRIVER, self.name)
        post.add_current_input(self.name, BoundCurrent(self))

    def _check_receptors(self, owner):
        pre, ampa = self.pre, self.ampa
        for key, receptor in (('pre', pre), ('ampa', ampa)):
            driver = getattr(receptor, _DRIVER, None)
            if driver is not None:
                raise ParameterError(
                    f'{owner}: parameter {key!r}: {type(receptor).__name__} '
                    f'{receptor.name!r} already belongs to projection {driver!r}; a projection '
                    f'advances its receptors, so give each projection its own')
        if isinstance(pre, GlutamateSynapse):
            if ampa is not None:
                raise ParameterError(f'{owner}: parameter {"ampa"!r} must be None with a '
                                     f'GlutamateSynapse, which gates its own AMPA receptors')
        elif isinstance(pre, brainpy.state.BioNMDA):
            if not isinstance(ampa, brainpy.state.AMPA) or tuple(ampa.varshape) != tuple(
                    pre.varshape):
                raise ParameterError(
                    f'{owner}: parameter {"ampa"!r} must be a brainpy.state.AMPA of size '
                    f'{tuple(pre.varshape)} with a stock BioNMDA as pre, got {ampa!r}')
        else:
            raise ParameterError(f'{owner}: parameter {"pre"!r} must be a GlutamateSynapse or a '
                                 f'brainpy.state.BioNMDA, got {type(pre).__name__}')

    def open_fractions(self):
        """NMDA and AMPA open fractions of the presynaptic receptors, (..., n_pre) each."""
        if isinstance(self.pre, GlutamateSynapse):
            return self.pre.nmda_open_fraction(), self.pre.ampa_open_fraction()
        return u.get_mantissa(self.pre.g.value), u.get_mantissa(self.ampa.g.value)

    def _check_output(self, owner, scale):
        if not isinstance(scale, u.Quantity) or u.get_unit(scale).is_unitless:
            scale = u.maybe_decimal(quantity(owner, 'current_scale', scale, u.UNITLESS,
                                             nonnegative=True))
        else:
            require(owner, scale >= 0 * u.get_unit(scale),
                    f'current_scale must be >= 0, got {scale}')
        delivered, expected = u.get_unit(scale * u.pA), _input_unit(self.post)
        if expected is not None and delivered.dim != expected.dim:
            raise ParameterError(
                f'{owner}: parameter {"current_scale"!r} delivers {delivered} '
                f'but {type(self.post).__name__} takes input in {expected}')
        return scale

    # ------------------------------------------------------------------ states
    def _initial_weights(self, batch_size):
        return self.layout.restrict(filled(self._w0, self.layout.shape, batch_size))

    @brainstate.nn.call_order(2)
    def init_state(self, batch_size=None, **kwargs):
        self.w = brainstate.LongTermState(self._initial_weights(batch_size))
        self.ca = brainstate.HiddenState(filled(0.0 * u.uM, self.layout.shape, batch_size))
        self._plastic = brainstate.ShortTermState(u.math.asarray(self._plastic_at_init))
        self._g_ampa = brainstate.ShortTermState(filled(0.0 * u.nS, (self.n_post,), batch_size))
        self._nmda_open = brainstate.ShortTermState(filled(0.0, (self.n_post,), batch_size))

    @brainstate.nn.call_order(2)
    def reset_state(self, batch_size=None, **kwargs):
        """Reset the activity (spine calcium); the learned ``w`` is kept."""
        self.ca.value = filled(0.0 * u.uM, self.layout.shape, batch_size)
        self._g_ampa.value = filled(0.0 * u.nS, (self.n_post,), batch_size)
        self._nmda_open.value = filled(0.0, (self.n_post,), batch_size)
        shape = self.ca.value.shape
        if tuple(self.w.value.shape) != tuple(shape):
            if tuple(self.w.value.shape) != tuple(self.layout.shape):
                raise ParameterError(f'{type(self).__name__}: cannot keep learned weights of '
                                     f'shape {tuple(self.w.value.shape)} in a batch of shape '
                                     f'{tuple(shape)}; call reset_weights() first')
            self.w.value = u.math.broadcast_to(self.w.value, shape)

    def reset_weights(self):
        """Restore the initial AMPA conductances (``w_init``), keeping the batch shape."""
        batch = self.w.value.shape[:-2]
        self.w.value = self._initial_weights(batch[0] if batch else None)

    @property
    def mask(self):
        """Boolean (n_pre, n_post) connectivity, or None for all-to-all dense storage."""
        return self.layout.mask

    def weight_matrix(self):
        """AMPA conductances as an (..., n_pre, n_post) matrix, 0 where not connected (nS)."""
        return self.layout.to_matrix(self.w.value)

    @property
    def plastic(self) -> bool:
        """Whether the rule changes ``w`` (a state: switchable inside compiled runs)."""
        return self._plastic.value

    @plastic.setter
    def plastic(self, on):
        self._plastic.value = u.math.asarray(on, dtype=bool)

    # ------------------------------------------------------------- dynamics
    def _dendritic(self, V):
        return V + self.dendrite.depolarization()

    def current(self, V):
        """Synaptic current into each postsynaptic neuron at somatic potential ``V`` (pA), from
        the open receptors of the last :meth:`update`."""
        V_d = self._dendritic(V)
        g_ampa, g_nmda = self._g_ampa.value, self.gbar_N * self._nmda_open.value
        unblocked = mg_unblock(V_d, self.mg)
        current = g_ampa * (self.E_AMPA - V_d) + g_nmda * unblocked * (self.E_NMDA - V_d)
        return self.current_scale * current

    def plasticity_calcium(self):
        """Calcium that drives the rule, :math:`Ca_{ij} + ca_{post,j}` (uM)."""
        return self.ca.value + self.layout.post(self.dendrite.calcium())

    def update(self, pre_spike):
        """One step: the presynaptic receptors take ``pre_spike``, then spine calcium and the
        rule advance at the postsynaptic neuron's current dendritic potential."""
        spike = spike_values(pre_spike)
        self.pre.update(spike)
        if self.ampa is not None:
            self.ampa.update(spike)
        dt = brainstate.environ.get_dt()
        layout = self.layout
        nmda, ampa = self.open_fractions()
        nmda_at, ampa_at = layout.pre(nmda), layout.pre(ampa)
        if self.learns:
            self._learn(spike, nmda_at, dt)
        w = self.w.value
        # The conductances the neuron sees until the next update.
        self._g_ampa.value = u.math.broadcast_to(layout.matvec(ampa, w, ampa_at),
                                                 self._g_ampa.value.shape)
        self._nmda_open.value = u.math.broadcast_to(layout.count(nmda, nmda_at),
                                                    self._nmda_open.value.shape)

    def _learn(self, spike, nmda_at, dt):
        """Spine calcium and the rule's step on ``w`` (while ``plastic``)."""
        layout = self.layout
        V = self.post.V.value
        V_d = self._dendritic(V)
        influx = nmda_calcium_influx(nmda_at, layout.post(mg_unblock(V_d, self.mg)),
                                     layout.post(V_d), self.gbar_N, self.rho, self.E_Ca)
        if layout.pre_needs_mask:
            influx = layout.restrict(influx)
        self.ca.value = relax(self.ca.value, influx * self.tau_ca, self.tau_ca, dt)
        signals = SynapseSignals(
            calcium=self.plasticity_calcium(), w0=self._w0,
            pre_spike=u.math.asarray(spike, dtype=self.dendrite.spike.value.dtype),
            post_spike=self.dendrite.spike.value, V=V, V_dend=V_d, dt=dt, layout=layout)
        w = self.w.value
        w_new = self.rule.update(w, signals)
        if layout.partial:
            w_new = layout.restrict(w_new)
        self.w.value = u.math.where(self._plastic.value, w_new, w)

