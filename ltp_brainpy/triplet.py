r"""Triplet spike-timing dependent plasticity (Pfister & Gerstner 2006)."""
from __future__ import annotations

import brainstate
import jax.numpy as jnp
import saiunit as u

from ._state import filled
from ._validate import ParameterError, quantity
from .plasticity import StatefulRule, SynapseSignals, weight_bounds

__all__ = ['TripletSTDPRule', 'PRESETS', 'INTERACTIONS', 'decayed', 'after_spike']

INTERACTIONS = ('all_to_all', 'nearest')

#: Pfister & Gerstner (2006), Table 3 (visual cortex: the pairing-frequency data of Sjöström
#: et al. 2001) and Table 4 (hippocampal cultures: the triplet and quadruplet data of Wang et
#: al. 2005 with the pair window of Bi & Poo 1998), one entry per row ("All-to-All" or
#: "Nearest-Spike", "Min." or "Full"). tau_plus = 16.8 ms and tau_minus = 33.7 ms in every row
#: (the constructor's defaults). The minimal rows have A3_minus = 0, so their tau_x (blank in
#: the tables) changes nothing; the constructor's 101 ms stands in.
PRESETS = {
    'visual_cortex_all_to_all_minimal': dict(
        A2_plus=0.0, A3_plus=6.5e-3, A2_minus=7.1e-3, A3_minus=0.0,
        tau_y=114.0 * u.ms, interaction='all_to_all'),
    'visual_cortex_all_to_all_full': dict(
        A2_plus=5e-10, A3_plus=6.2e-3, A2_minus=7e-3, A3_minus=2.3e-4,
        tau_x=101.0 * u.ms, tau_y=125.0 * u.ms, interaction='all_to_all'),
    'visual_cortex_nearest_minimal': dict(
        A2_plus=0.0, A3_plus=5e-2, A2_minus=8e-3, A3_minus=0.0,
        tau_y=40.0 * u.ms, interaction='nearest'),
    'visual_cortex_nearest_full': dict(
        A2_plus=8.8e-11, A3_plus=5.3e-2, A2_minus=6.6e-3, A3_minus=3.1e-3,
        tau_x=714.0 * u.ms, tau_y=40.0 * u.ms, interaction='nearest'),
    'hippocampal_all_to_all_minimal': dict(
        A2_plus=5.3e-3, A3_plus=8e-3, A2_minus=3.5e-3, A3_minus=0.0,
        tau_y=40.0 * u.ms, interaction='all_to_all'),
    'hippocampal_all_to_all_full': dict(
        A2_plus=6.1e-3, A3_plus=6.7e-3, A2_minus=1.6e-3, A3_minus=1.4e-3,
        tau_x=946.0 * u.ms, tau_y=27.0 * u.ms, interaction='all_to_all'),
    'hippocampal_nearest_minimal': dict(
        A2_plus=4.6e-3, A3_plus=9.1e-3, A2_minus=3e-3, A3_minus=0.0,
        tau_y=48.0 * u.ms, interaction='nearest'),
    'hippocampal_nearest_full': dict(
        A2_plus=4.6e-3, A3_plus=9.1e-3, A2_minus=3e-3, A3_minus=7.5e-9,
        tau_x=575.0 * u.ms, tau_y=47.0 * u.ms, interaction='nearest'),
}


def decayed(trace, tau, dt):
    r"""A trace after one exact step of :math:`dx/dt = -x/\tau`."""
    return trace * u.math.exp(-dt / tau)


def after_spike(trace, spike, nearest: bool):
    """A trace after this step's spikes: +1 per spike (all-to-all) or reset to 1 (nearest)."""
    return u.math.where(spike > 0, 1.0, trace) if nearest else trace + spike


class TripletSTDPRule(StatefulRule):
    r"""Triplet STDP: pair STDP whose terms grow with the recent activity of the spiking side.

    Each presynaptic neuron keeps two traces :math:`r_1, r_2` (time constants
    :math:`\tau_+, \tau_x`), each postsynaptic neuron two traces :math:`o_1, o_2`
    (:math:`\tau_-, \tau_y`); all decay exponentially. A presynaptic spike depresses, a
    postsynaptic spike potentiates:

    .. math::

        t = t^{pre}:\quad w \leftarrow w - w_0\, o_1(t)\left[A_2^- + A_3^-\, r_2(t - \epsilon)
        \right], \qquad
        t = t^{post}:\quad w \leftarrow w + w_0\, r_1(t)\left[A_2^+ + A_3^+\, o_2(t - \epsilon)
        \right]

    then the spike's own traces jump: :math:`r_{1,2} \to r_{1,2} + 1` (``'all_to_all'``) or
    :math:`r_{1,2} \to 1` (``'nearest'``), likewise :math:`o_{1,2}`. All four traces are read
    before any jump of the same step, so a presynaptic and a postsynaptic spike in the same step
    do not pair with each other (NEST's convention); :math:`w` is clipped to
    :math:`[w_{min}, w_{max}]` after the potentiation and again after the depression.

    **Unit of the amplitudes.** :math:`A_2^\pm, A_3^\pm` are dimensionless fractions of the
    synapse's initial AMPA conductance :math:`w_0` (``w_init``): a pair at
    :math:`\Delta t = 10` ms with :math:`A_2^+ = 5 \times 10^{-3}` changes :math:`w` by
    :math:`0.5\,\% \times e^{-10/16.8}` of :math:`w_0`. The published values are fits to
    weight changes relative to baseline, so they apply unchanged.

    **Timing.** :class:`~ltp_brainpy.LTPProjection` hands the rule this step's presynaptic
    spikes and the postsynaptic neuron's spikes of the previous step (``signals.post_spike``:
    the neuron is updated after its projections). The rule aligns the two by holding the
    presynaptic spikes back one step: at step :math:`k` it applies the pairings of step
    :math:`k - 1`, so pre-post intervals are exact multiples of ``dt`` and every weight change
    takes effect one step (0.1 ms) after the later spike. The rule ignores calcium and voltage;
    the projection's NMDA current still drives the cell.

    Parameters
    ----------
    A2_plus, A3_plus : float, default 5e-10 and 6.2e-3
        Pair and triplet amplitudes of potentiation (fractions of ``w_init``).
    A2_minus, A3_minus : float, default 7e-3 and 2.3e-4
        Pair and triplet amplitudes of depression (fractions of ``w_init``).
    tau_plus, tau_minus : Quantity[ms], default 16.8 ms and 33.7 ms
        Fast presynaptic and postsynaptic traces (the pair window, Bi & Poo 2001).
    tau_x, tau_y : Quantity[ms], default 101 ms and 125 ms
        Slow presynaptic and postsynaptic traces (the triplet terms).
    interaction : {'all_to_all', 'nearest'}, default 'all_to_all'
        How spikes add to the traces: every spike adds 1, or resets the trace to 1.
    w_min, w_max : Quantity[nS], default 0 nS and 1 nS
        Bounds of the AMPA conductance.

    Notes
    -----
    The defaults are the visual-cortex all-to-all full model of Pfister & Gerstner (2006),
    Table 3 (NEST's ``stdp_triplet_synapse`` has the same amplitudes, ``tau_plus`` and
    ``tau_x``); :data:`PRESETS` holds all eight rows of Tables 3 and 4.

    Examples
    --------
    >>> import saiunit as u
    >>> from ltp_brainpy import GlutamateSynapse, LTPNeuron, LTPProjection, TripletSTDPRule
    >>> rule = TripletSTDPRule.preset('hippocampal_all_to_all_minimal')
    >>> rule.interaction, rule.A3_plus, float(rule.tau_y / u.ms)
    ('all_to_all', 0.008, 40.0)
    >>> proj = LTPProjection(GlutamateSynapse(10), LTPNeuron(2), rule=rule)

    References
    ----------
    .. [1] Pfister, J.-P., & Gerstner, W. (2006). Triplets of spikes in a model of spike
           timing-dependent plasticity. J. Neurosci. 26(38), 9673-9682.
    .. [2] Sjöström, P. J., Turrigiano, G. G., & Nelson, S. B. (2001). Rate, timing, and
           cooperativity jointly determine cortical synaptic plasticity. Neuron 32, 1149-1164.
    .. [3] Wang, H.-X., Gerkin, R. C., Nauen, D. W., & Bi, G.-Q. (2005). Coactivation and
           timing-dependent integration of synaptic potentiation and depression. Nat.
           Neurosci. 8, 187-193.
    .. [4] Bi, G.-Q., & Poo, M.-M. (2001). Synaptic modification by correlated activity: Hebb's
           postulate revisited. Annu. Rev. Neurosci. 24, 139-166.
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
        if not isinstance(interaction, str) or interaction not in INTERACTIONS:
            raise ParameterError(f'{owner}: parameter {"interaction"!r} must be one of '
                                 f'{", ".join(INTERACTIONS)}, got {interaction!r}')
        self.interaction = interaction
        self.w_min, self.w_max = weight_bounds(owner, w_min, w_max)

    def init_state(self, batch_size=None, **kwargs):
        n_pre, n_post = self.layout.n_pre, self.layout.n_post
        self.r1 = brainstate.HiddenState(filled(0.0, (n_pre,), batch_size))
        self.r2 = brainstate.HiddenState(filled(0.0, (n_pre,), batch_size))
        self.o1 = brainstate.HiddenState(filled(0.0, (n_post,), batch_size))
        self.o2 = brainstate.HiddenState(filled(0.0, (n_post,), batch_size))
        # the presynaptic spikes of the previous step, paired with signals.post_spike
        self.pre_last = brainstate.HiddenState(filled(0.0, (n_pre,), batch_size))

    def reset_state(self, batch_size=None, **kwargs):
        for state in (self.r1, self.r2, self.o1, self.o2, self.pre_last):
            state.value = jnp.zeros_like(state.value)

    def update(self, w, signals: SynapseSignals):
        """Apply the pairings of the previous step (see *Timing*); return the new ``w``."""
        dt, layout, nearest = signals.dt, signals.layout, self.interaction == 'nearest'
        pre, post = self.pre_last.value, signals.post_spike
        self.pre_last.value = u.math.asarray(signals.pre_spike, dtype=pre.dtype)
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

    def __repr__(self):
        fields = ', '.join(f'{k}={getattr(self, k)}' for k in
                           ('A2_plus', 'A3_plus', 'A2_minus', 'A3_minus', 'tau_plus',
                            'tau_minus', 'tau_x', 'tau_y', 'w_min', 'w_max'))
        return f'{type(self).__name__}({fields}, interaction={self.interaction!r})'
