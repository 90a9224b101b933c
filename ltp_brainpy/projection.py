r"""Plastic glutamatergic projection: per-synapse AMPA conductance and spine calcium."""
from __future__ import annotations

from typing import Optional

import brainpy
import brainstate
import numpy as np
import saiunit as u

from ._inputs import BoundCurrent
from ._state import filled
from ._validate import ParameterError, quantity, require
from .glutamate import GlutamateSynapse
from .plasticity import CalciumControlRule, PlasticityRule, mg_unblock, nmda_calcium_influx, relax

__all__ = ['LTPProjection', 'connection_mask']


def connection_mask(n_pre: int, n_post: int, conn=None, seed: Optional[int] = None):
    """Boolean (n_pre, n_post) connectivity, or ``None`` for all-to-all.

    ``conn`` is ``None`` (all to all), a boolean array of shape (n_pre, n_post), or a connection
    probability in [0, 1] drawn with ``seed``.
    """
    if conn is None:
        return None
    if isinstance(conn, (float, int)) and not isinstance(conn, bool):
        if not 0.0 <= conn <= 1.0:
            raise ParameterError(f'LTPProjection: parameter {"conn"!r} as a probability must be in '
                                 f'[0, 1], got {conn}')
        return np.random.default_rng(seed).random((n_pre, n_post)) < conn
    mask = np.asarray(conn)
    if mask.dtype != bool or mask.shape != (n_pre, n_post):
        raise ParameterError(
            f'LTPProjection: parameter {"conn"!r} must be None, a probability, or a boolean array '
            f'of shape {(n_pre, n_post)}, got dtype {mask.dtype} and shape {mask.shape}')
    return mask


def _batched_matvec(v, M):
    """``v @ M`` over the trailing axes, for v (..., n_pre) and M (..., n_pre, n_post)."""
    return u.math.matmul(v[..., None, :], M)[..., 0, :]


class LTPProjection(brainpy.state.Projection):
    r"""Glutamatergic projection with NMDA-gated spine calcium and AMPA-receptor plasticity.

    For every synapse :math:`i \to j` the projection holds the AMPA conductance :math:`w_{ij}`
    (the AMPA receptors in the postsynaptic density) and the spine calcium :math:`Ca_{ij}`. It
    reads the open fractions :math:`s_i, g_i` of a :class:`GlutamateSynapse` (one per
    presynaptic neuron) and the dendritic potential :math:`V_j` of the postsynaptic neuron
    (:math:`V` plus the back-propagated depolarization for an :class:`LTPNeuron`, which a
    neuron offers through a ``dendritic_depolarization()`` method; the plain ``V`` for a stock
    ``brainpy.state`` neuron) and injects into neuron :math:`j`

    .. math::

        I_j = \sum_i w_{ij}\, s_i\, (E_{AMPA} - V_j)
            + \sum_i \bar g_N\, g_i\, B(V_j)\, (E_{NMDA} - V_j)

    with the Mg²⁺ unblocked fraction :math:`B` (:func:`mg_unblock`); a positive current
    depolarizes the neuron. NMDA receptors let in
    calcium only with glutamate *and* depolarization, the coincidence detector:

    .. math::

        \frac{dCa_{ij}}{dt} = -\frac{Ca_{ij}}{\tau_{Ca}}
            + \rho\, \bar g_N\, g_i\, B(V_j)\, \max(E_{Ca} - V_j, 0)

    The plasticity calcium :math:`c_{ij} = Ca_{ij} + ca_{post,j}` (the neuron's spike calcium,
    if it has one) drives the ``rule`` (default :class:`CalciumControlRule`), which moves
    :math:`w_{ij}` within its bounds. Setting ``plastic = False`` freezes :math:`w` and leaves
    every other dynamic untouched (evaluation mode); it is a state, so it can be switched
    between or inside compiled runs.

    Call :meth:`update` once per step, after the synapse's and before the neuron's update.
    The matrices use the exact exponential step (:func:`relax`, :func:`linear_exp_step`).

    Parameters
    ----------
    pre : GlutamateSynapse
        Presynaptic synapse providing ``s`` (AMPA) and ``g`` (NMDA) open fractions.
    post : brainpy.state.Neuron
        Postsynaptic population with a ``V`` state (and optionally a
        ``dendritic_depolarization()`` method and a ``ca_post`` state).
    conn : None, float or bool array, default None
        All-to-all (None), connection probability (drawn with ``seed``), or (n_pre, n_post) mask.
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
    current_scale : float, default 1
        Factor on the current delivered to the soma (not on spine calcium or plasticity):
        dendritic attenuation, or normalisation of a large fan-in in networks.
    rule : PlasticityRule, default CalciumControlRule()
        Plasticity rule; any object with ``w_min``, ``w_max`` and ``step(w, ca, w0, dt)``.
    plastic : bool, default True
        Start with plasticity on.
    seed : int, optional
        Seed of the random connectivity.
    name : str, optional
        Unique module name (generated if omitted); also the key of the current input on ``post``.

    Attributes
    ----------
    w : LongTermState[nS]
        AMPA conductance, shape (..., n_pre, n_post); 0 where not connected.
    ca : HiddenState[uM]
        NMDA spine calcium, shape (..., n_pre, n_post).
    mask : numpy.ndarray or None
        Connectivity.

    Examples
    --------
    >>> import brainstate, saiunit as u, jax.numpy as jnp
    >>> from ltp_brainpy import GlutamateSynapse, LTPNeuron, LTPProjection
    >>> syn, neu = GlutamateSynapse(20), LTPNeuron(5)
    >>> proj = LTPProjection(syn, neu, conn=0.5, seed=0)
    >>> _ = brainstate.nn.init_all_states([syn, neu, proj])
    >>> with brainstate.environ.context(dt=0.1 * u.ms):
    ...     _ = syn.update(jnp.ones(20, dtype=bool)); proj.update(); _ = neu.update()

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
        pre: GlutamateSynapse,
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
    ):
        super().__init__(name=name or brainstate.util.get_unique_name('LTPProjection'))
        owner = type(self).__name__
        if not isinstance(pre, GlutamateSynapse):
            raise ParameterError(f'{owner}: parameter {"pre"!r} must be a GlutamateSynapse, '
                                 f'got {type(pre).__name__}')
        if not isinstance(post, brainpy.state.Neuron):
            raise ParameterError(f'{owner}: parameter {"post"!r} must be a brainpy.state.Neuron, '
                                 f'got {type(post).__name__}')
        self.pre, self.post = pre, post
        self.n_pre, self.n_post = int(np.prod(pre.varshape)), int(np.prod(post.varshape))
        self.mask = connection_mask(self.n_pre, self.n_post, conn, seed)
        self.rule = CalciumControlRule() if rule is None else rule
        self.w_init = quantity(owner, 'w_init', w_init, u.nS, nonnegative=True)
        require(owner, (self.w_init >= self.rule.w_min) & (self.w_init <= self.rule.w_max),
                f'w_init must lie within the rule bounds [{self.rule.w_min}, {self.rule.w_max}], '
                f'got {w_init}')
        self.gbar_N = quantity(owner, 'gbar_N', gbar_N, u.nS, nonnegative=True)
        self.E_AMPA = quantity(owner, 'E_AMPA', E_AMPA, u.mV)
        self.E_NMDA = quantity(owner, 'E_NMDA', E_NMDA, u.mV)
        self.E_Ca = quantity(owner, 'E_Ca', E_Ca, u.mV)
        self.mg = quantity(owner, 'mg', mg, u.mM, nonnegative=True)
        self.rho = quantity(owner, 'rho', rho, u.uM / (u.ms * u.nS * u.mV), nonnegative=True)
        self.tau_ca = quantity(owner, 'tau_ca', tau_ca, u.ms, positive=True)
        self.current_scale = u.maybe_decimal(
            quantity(owner, 'current_scale', current_scale, u.UNITLESS, nonnegative=True))
        self._plastic_at_init = bool(plastic)
        # NMDA receptors per postsynaptic neuron: sum_i g_i over its connected inputs.
        self._n_inputs = None if self.mask is None else u.math.asarray(self.mask, dtype=float)
        post.add_current_input(self.name, BoundCurrent(self))

    # ------------------------------------------------------------------ states
    def _initial_values(self, batch_size):
        shape = (self.n_pre, self.n_post)
        w = filled(self.w_init, shape, batch_size)
        if self.mask is not None:
            w = w * self.mask
        return dict(w=w, ca=filled(0.0 * u.uM, shape, batch_size))

    @brainstate.nn.call_order(2)
    def init_state(self, batch_size=None, **kwargs):
        values = self._initial_values(batch_size)
        self.w = brainstate.LongTermState(values['w'])
        self.ca = brainstate.HiddenState(values['ca'])
        self._plastic = brainstate.ShortTermState(u.math.asarray(self._plastic_at_init))

    @brainstate.nn.call_order(2)
    def reset_state(self, batch_size=None, **kwargs):
        for key, value in self._initial_values(batch_size).items():
            getattr(self, key).value = value

    @property
    def plastic(self) -> bool:
        """Whether the rule changes ``w`` (a state: switchable inside compiled runs)."""
        return self._plastic.value

    @plastic.setter
    def plastic(self, on):
        self._plastic.value = u.math.asarray(on, dtype=bool)

    # ------------------------------------------------------------- dynamics
    def _dendritic(self, V):
        depolarization = getattr(self.post, 'dendritic_depolarization', None)
        return V if depolarization is None else V + depolarization()

    def current(self, V):
        """Synaptic current into each postsynaptic neuron at somatic potential ``V`` (pA)."""
        V_d = self._dendritic(V)
        s, g = self.pre.s.value, self.pre.g.value
        g_ampa = _batched_matvec(s, self.w.value)
        g_nmda = self.gbar_N * (u.math.sum(g, axis=-1, keepdims=True) if self._n_inputs is None
                                else _batched_matvec(g, self._n_inputs))
        unblocked = mg_unblock(V_d, self.mg)
        current = g_ampa * (self.E_AMPA - V_d) + g_nmda * unblocked * (self.E_NMDA - V_d)
        return self.current_scale * current

    def plasticity_calcium(self):
        """Calcium that drives the rule, :math:`Ca_{ij} + ca_{post,j}` (uM)."""
        ca_post = getattr(self.post, 'ca_post', None)
        return self.ca.value if ca_post is None else self.ca.value + ca_post.value[..., None, :]

    def update(self, *args):
        dt = brainstate.environ.get_dt()
        V_d = self._dendritic(self.post.V.value)[..., None, :]
        influx = nmda_calcium_influx(self.pre.g.value[..., :, None], mg_unblock(V_d, self.mg),
                                     V_d, self.gbar_N, self.rho, self.E_Ca)
        if self.mask is not None:
            influx = influx * self.mask
        self.ca.value = relax(self.ca.value, influx * self.tau_ca, self.tau_ca, dt)
        w = self.w.value
        w_new = self.rule.step(w, self.plasticity_calcium(), self.w_init, dt)
        if self.mask is not None:
            w_new = w_new * self.mask
        self.w.value = u.math.where(self._plastic.value, w_new, w)
