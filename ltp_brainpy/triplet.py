r"""Triplet spike-timing dependent plasticity (Pfister & Gerstner 2006)."""
from __future__ import annotations

import brainstate
import jax.numpy as jnp
import saiunit as u

from ._state import filled
from ._validate import ParameterError, quantity
from .plasticity import StatefulRule, SynapseSignals, weight_bounds

__all__ = ['TripletSTDPRule', 'PRESETS', 'INTERACTIONS']

INTERACTIONS = ('all_to_all', 'nearest')

#: Pfister & Gerstner (2006), Table 4: fits to the visual-cortex data of Sjöström et al. (2001)
#: and the hippocampal data of Wang et al. (2005) and Bi & Poo (1998); tau_plus = 16.8 ms and
#: tau_minus = 33.7 ms in every set. "Minimal" models drop A2_plus (visual cortex) and
#: A3_minus; their tau_x then plays no role.
PRESETS = {
    'visual_cortex_all_to_all_full': dict(
        A2_plus=5e-10, A3_plus=6.2e-3, A2_minus=7e-3, A3_minus=2.3e-4,
        tau_x=101.0 * u.ms, tau_y=125.0 * u.ms, interaction='all_to_all'),
    'visual_cortex_all_to_all_minimal': dict(
        A2_plus=0.0, A3_plus=6.5e-3, A2_minus=7.1e-3, A3_minus=0.0,
        tau_y=125.0 * u.ms, interaction='all_to_all'),
    'visual_cortex_nearest_full': dict(
        A2_plus=8.8e-11, A3_plus=5.3e-2, A2_minus=6.6e-3, A3_minus=3.1e-3,
        tau_x=714.0 * u.ms, tau_y=40.0 * u.ms, interaction='nearest'),
    'hippocampal_all_to_all_full': dict(
        A2_plus=6.1e-3, A3_plus=6.7e-3, A2_minus=1.6e-3, A3_minus=1.4e-3,
        tau_x=946.0 * u.ms, tau_y=27.0 * u.ms, interaction='all_to_all'),
    'hippocampal_all_to_all_minimal': dict(
        A2_plus=5.3e-3, A3_plus=8.0e-3, A2_minus=3.5e-3, A3_minus=0.0,
        tau_y=40.0 * u.ms, interaction='all_to_all'),
    'hippocampal_nearest_full': dict(
        A2_plus=4.6e-3, A3_plus=9.1e-3, A2_minus=3.0e-3, A3_minus=7.5e-9,
        tau_x=575.0 * u.ms, tau_y=47.0 * u.ms, interaction='nearest'),
    'hippocampal_nearest_minimal': dict(
        A2_plus=4.6e-3, A3_plus=9.1e-3, A2_minus=3.0e-3, A3_minus=0.0,
        tau_y=48.0 * u.ms, interaction='nearest'),
}


def decayed(trace, tau, dt):
    r"""A trace after one step of :math:`dx/dt = -x/\tau` (exact)."""
    return trace * u.math.exp(-dt / tau)


def after_spike(trace, spike, nearest: bool):
    """A trace after this step's spikes: +1 per spike (all-to-all) or reset to 1 (nearest)."""
    return u.math.where(spike > 0, 1.0, trace) if nearest else trace + spike


class TripletSTDPRule(StatefulRule):
    r"""Triplet STDP: pair STDP whose terms are scaled by slower traces of earlier spikes.

    Each presynaptic neuron keeps two traces :math:`r_1, r_2` (time constants
    :math:`\tau_+, \tau_x`), each postsynaptic neuron two traces :math:`o_1, o_2`
    (:math:`\tau_-, \tau_y`). A presynaptic spike depresses, a postsynaptic spike potentiates:

    .. math::

        \text{pre spike: } w \leftarrow w - w_0\, o_1 \left(A_2^- + A_3^-\, r_2\right),
        \qquad
        \text{post spike: } w \leftarrow w + w_0\, r_1 \left(A_2^+ + A_3^+\, o_2\right)

    with the traces read just before the spike's own increment, which is +1 for
    ``interaction='all_to_all'`` and a reset to 1 for ``'nearest'``; :math:`w` is clipped to
    :math:`[w_{min}, w_{max}]` after each (potentiation first when both fall in one step, as
    in NEST's ``stdp_triplet_synapse``). The amplitudes are dimensionless, in units of the
    synapse's initial conductance :math:`w_0` (``w_init``): the published values are fits to
    changes relative to the baseline, which is what they are here.

    With :class:`~ltp_brainpy.LTPProjection` the rule reads ``signals.pre_spike`` (this step)
    and ``signals.post_spike`` (the neuron's latest spike: it is updated after its
    projections, so a postsynaptic spike enters the rule one step, ``dt``, after it fired).
    It ignores calcium and voltage; the projection's NMDA current still drives the cell.

    Parameters
    ----------
    A2_plus, A3_plus, A2_minus, A3_minus : float
        Pair and triplet amplitudes of potentiation and depression (fractions of ``w_init``);
        defaults: the visual-cortex all-to-all full model of Pfister & Gerstner (2006).
    tau_plus, tau_minus : Quantity[ms], default 16.8 ms and 33.7 ms
        Fast presynaptic and postsynaptic traces (the pair window).
    tau_x, tau_y : Quantity[ms], default 101 ms and 125 ms
        Slow presynaptic and postsynaptic traces (the triplet terms).
    interaction : {'all_to_all', 'nearest'}
        How spikes add to the traces.
    w_min, w_max : Quantity[nS], default 0 nS and 1 nS
        Bounds of the AMPA conductance.

    Examples
    --------
    >>> import saiunit as u
    >>> from ltp_brainpy import GlutamateSynapse, LTPNeuron, LTPProjection, TripletSTDPRule
    >>> rule = TripletSTDPRule.preset('hippocampal_all_to_all_minimal')
    >>> proj = LTPProjection(GlutamateSynapse(10), LTPNeuron(2), rule=rule)

    References
    ----------
    .. [1] Pfister, J.-P., & Gerstner, W. (2006). Triplets of spikes in a model of spike
           timing-dependent plasticity. J. Neurosci. 26(38), 9673-9682.
    .. [2] Sjöström, P. J., Turrigiano, G. G., & Nelson, S. B. (2001). Rate, timing, and
           cooperativity jointly determine cortical synaptic plasticity. Neuron 32, 1149-1164.
    """
    __module__ = 'ltp_brainpy'
    presets = PRESETS

    def __init__(self, A2_plus=5e-10, A3_plus=6.2e-3, A2_minus=7e-3, A3_minus=2.3e-4,
                 tau_plus=16.8 * u.ms, tau_minus=33.7 * u.ms, tau_x=101.0 * u.ms,
                 tau_y=125.0 * u.ms, interaction: str = 'all_to_all', w_min=0.0 * u.nS,
                 w_max=1.0 * u.nS):
        super().__init__()
        owner = type(self).__name__
        for key, value in dict(A2_plus=A2_plus, A3_plus=A3_plus, A2_minus=A2_minus,
                               A3_minus=A3_minus).items():
            setattr(self, key, u.maybe_decimal(quantity(owner, key, value, u.UNITLESS,
                                                        nonnegative=True)))
        self.tau_plus = quantity(owner, 'tau_plus', tau_plus, u.ms, positive=True)
        self.tau_minus = quantity(owner, 'tau_minus', tau_minus, u.ms, positive=True)
        self.tau_x = quantity(owner, 'tau_x', tau_x, u.ms, positive=True)
        self.tau_y = quantity(owner, 'tau_y', tau_y, u.ms, positive=True)
        if interaction not in INTERACTIONS:
            raise ParameterError(f'{owner}: parameter {"interaction"!r} must be one of '
                                 f'{INTERACTIONS}, got {interaction!r}')
        self.interaction = interaction
        self.w_min, self.w_max = weight_bounds(owner, w_min, w_max)

    def _zeros(self, n, batch_size):
        return filled(0.0, (n,), batch_size)

    def init_state(self, batch_size=None, **kwargs):
        n_pre, n_post = self.layout.n_pre, self.layout.n_post
        self.r1 = brainstate.HiddenState(self._zeros(n_pre, batch_size))
        self.r2 = brainstate.HiddenState(self._zeros(n_pre, batch_size))
        self.o1 = brainstate.HiddenState(self._zeros(n_post, batch_size))
        self.o2 = brainstate.HiddenState(self._zeros(n_post, batch_size))

    def reset_state(self, batch_size=None, **kwargs):
        for trace in (self.r1, self.r2, self.o1, self.o2):
            trace.value = jnp.zeros_like(trace.value)

    def update(self, w, signals: SynapseSignals):
        dt, layout = signals.dt, signals.layout
        pre, post = signals.pre_spike, signals.post_spike
        nearest = self.interaction == 'nearest'
        r1, r2 = decayed(self.r1.value, self.tau_plus, dt), decayed(self.r2.value, self.tau_x, dt)
        o1, o2 = decayed(self.o1.value, self.tau_minus, dt), decayed(self.o2.value, self.tau_y, dt)
        potentiation = layout.pre(r1) * layout.post(post * (self.A2_plus + self.A3_plus * o2))
        depression = layout.post(o1) * layout.pre(pre * (self.A2_minus + self.A3_minus * r2))
        w = u.math.clip(w + signals.w0 * potentiation, self.w_min, self.w_max)  # post, then pre:
        w = u.math.clip(w - signals.w0 * depression, self.w_min, self.w_max)    # NEST's order
        self.r1.value, self.r2.value = after_spike(r1, pre, nearest), after_spike(r2, pre, nearest)
        self.o1.value = after_spike(o1, post, nearest)
        self.o2.value = after_spike(o2, post, nearest)
        return w
