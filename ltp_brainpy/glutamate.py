r"""Presynaptic glutamate release with depletion, driving AMPA and NMDA receptor gating."""
from __future__ import annotations

from typing import Optional

import brainpy
import brainstate
import braintools
import jax.numpy as jnp
import saiunit as u
from brainstate.typing import Size

from ._state import filled, initialized
from ._validate import quantity

__all__ = ['GlutamateSynapse', 'spike_values']


def spike_values(spike):
    """Plain array of a spike input, unwrapping ``brainevent.BinaryArray`` (used by projections)."""
    return u.math.asarray(getattr(spike, 'value', spike))


class GlutamateSynapse(brainpy.state.BioNMDA):
    r"""NMDA synapse whose glutamate comes from a depleting presynaptic pool.

    :class:`brainpy.state.BioNMDA` drives its receptors with a square pulse of glutamate after
    each spike. Here the pulse is replaced by two pools. While the presynaptic action potential
    lasts (``T_dur`` after each spike), docked glutamate :math:`D` is released into the cleft at
    rate :math:`k_{rel}`; the dock refills with :math:`\tau_{rec}` and the cleft is cleared with
    :math:`\tau_{clear}`. BioNMDA's transmitter parameter ``T`` is here the glutamate docked at
    rest, toward which the dock refills:

    .. math::

        \frac{dD}{dt} = \frac{T - D}{\tau_{rec}} - k_{rel}\, D\, \mathbb{1}[t - t_{sp} < T_{dur}]

        \frac{d\,glu}{dt} = k_{rel}\, D\, \mathbb{1}[t - t_{sp} < T_{dur}]
            - \frac{glu}{\tau_{clear}}

    One spike therefore releases the fraction :math:`U = 1 - e^{-k_{rel} T_{dur}}` of what is
    docked (a longer action potential releases more), and trains deplete the dock: short-term
    depression as in Tsodyks & Markram (1997). The cleft concentration gates AMPA receptors
    (Destexhe, Mainen & Sejnowski 1994) and BioNMDA's two-step NMDA scheme:

    .. math::

        \frac{ds}{dt} = \alpha_A\, glu\, (1 - s) - \beta_A s, \qquad
        \frac{dx}{dt} = \alpha_2\, glu\, (1 - x) - \beta_2 x, \qquad
        \frac{dg}{dt} = \alpha_1 x (1 - g) - \beta_1 g

    There is one state per *presynaptic* neuron: all synapses of an axon share its pool and
    cleft signal. The class keeps BioNMDA's contract: the same constructor (its parameters in
    its order, the new ones keyword-only), the states ``g`` (carrying the unit of
    ``g_initializer``, mS by default, as BioNMDA's does), ``x`` and ``spike_arrival_time``, and
    ``update(spike)`` returning ``g``; so it drops into any model written for BioNMDA (e.g.
    ``brainpy.state.align_pre_projection`` with ``brainpy.state.MgBlock``).
    :class:`~ltp_brainpy.LTPProjection` reads :meth:`nmda_open_fraction` and
    :meth:`ampa_open_fraction`.

    The release window is timed with an integer step countdown (``release_steps``) rather than
    with BioNMDA's float ``spike_arrival_time`` (still recorded when the environment defines
    ``t``): in float32 the simulation time loses resolution
    over long protocols (0.06 ms at t = 900 s), which would make the window flicker by a step.
    One spike opens the window for exactly ``round(T_dur / dt)`` steps.

    Parameters
    ----------
    in_size : Size
        Number (or shape) of presynaptic neurons.
    name : str, optional
        Module name.
    alpha1, beta1, alpha2, beta2 : Quantity
        NMDA gating rates, defaults 2 /ms, 0.0529 /ms, 1 /(mM ms), 0.5 /ms: BioNMDA's, except
        the closing rate ``beta1`` (BioNMDA: 0.01 /ms), calibrated so that open receptors decay
        in 19 ms (docs/model.md, section 4).
    T : Quantity[mM], default 3 mM
        Glutamate docked at rest (BioNMDA's transmitter amount); one spike releases the
        fraction :attr:`release_fraction` of what is docked.
    T_dur : Quantity[ms], default 1 ms
        Duration of the presynaptic action potential (the release window).
    g_initializer, x_initializer : Callable or Quantity
        Initial NMDA open fraction (default 0 mS: ``g`` carries this unit, as in BioNMDA) and
        intermediate state (default 0).
    k_rel : Quantity[1/ms], default 0.5 /ms
        Release rate from the dock while the action potential lasts (keyword only, as are the
        parameters below).
    tau_rec : Quantity[ms], default 500 ms
        Refilling time constant of the dock (Tsodyks & Markram 1997 use ~800 ms).
    tau_clear : Quantity[ms], default 1 ms
        Clearance (reuptake and diffusion) time constant of cleft glutamate.
    alpha_A : Quantity[1/(mM ms)], default 1.1 /(mM ms)
        AMPA binding rate (Destexhe et al. 1994).
    beta_A : Quantity[1/ms], default 0.19 /ms
        AMPA unbinding rate (Destexhe et al. 1994).

    Attributes
    ----------
    D : HiddenState[mM]
        Docked glutamate.
    glu : HiddenState[mM]
        Cleft glutamate.
    s, x : HiddenState
        AMPA open fraction and NMDA intermediate (dimensionless).
    g : HiddenState
        NMDA open fraction, in the unit of ``g_initializer`` (mS by default, as BioNMDA).
    spike_arrival_time : ShortTermState[ms]
        Time of the last presynaptic spike (when the environment defines ``t``).
    released : ShortTermState[mM]
        Glutamate released during the last step (exact for the step's linear ODE).
    release_steps : ShortTermState[int]
        Steps left in the current release window.

    Examples
    --------
    >>> import brainstate, saiunit as u, jax.numpy as jnp
    >>> from ltp_brainpy import GlutamateSynapse
    >>> syn = GlutamateSynapse(10, 'ca3_boutons', T=2 * u.mM, tau_rec=800 * u.ms)
    >>> syn.init_state()
    >>> with brainstate.environ.context(dt=0.1 * u.ms):
    ...     g = syn.update(jnp.ones(10, dtype=bool))

    References
    ----------
    .. [1] Tsodyks, M. V., & Markram, H. (1997). The neural code between neocortical pyramidal
           neurons depends on neurotransmitter release probability. PNAS 94(2), 719-723.
    .. [2] Destexhe, A., Mainen, Z. F., & Sejnowski, T. J. (1994). Synthesis of models for
           excitable membranes, synaptic transmission and neuromodulation using a common kinetic
           formalism. J. Comput. Neurosci. 1(3), 195-230.
    .. [3] Jahr, C. E., & Stevens, C. F. (1990). J. Neurosci. 10(9), 3178-3182.
    """
    __module__ = 'ltp_brainpy'

    def __init__(
        self,
        in_size: Size,
        name: Optional[str] = None,
        alpha1=2.0 / u.ms,
        beta1=0.0529 / u.ms,
        alpha2=1.0 / (u.mM * u.ms),
        beta2=0.5 / u.ms,
        T=3.0 * u.mM,
        T_dur=1.0 * u.ms,
        g_initializer=braintools.init.Constant(0.0 * u.mS),
        x_initializer=braintools.init.Constant(0.0),
        *,
        k_rel=0.5 / u.ms,
        tau_rec=500.0 * u.ms,
        tau_clear=1.0 * u.ms,
        alpha_A=1.1 / (u.mM * u.ms),
        beta_A=0.19 / u.ms,
    ):
        owner = type(self).__name__
        rate, rate_mM = 1 / u.ms, 1 / (u.mM * u.ms)
        super().__init__(
            in_size, name,
            alpha1=quantity(owner, 'alpha1', alpha1, rate, nonnegative=True),
            beta1=quantity(owner, 'beta1', beta1, rate, positive=True),
            alpha2=quantity(owner, 'alpha2', alpha2, rate_mM, nonnegative=True),
            beta2=quantity(owner, 'beta2', beta2, rate, positive=True),
            T=quantity(owner, 'T', T, u.mM, nonnegative=True),
            T_dur=quantity(owner, 'T_dur', T_dur, u.ms, positive=True),
            g_initializer=g_initializer,
            x_initializer=x_initializer,
        )

        def param(key, value, unit, **checks):
            return braintools.init.param(quantity(owner, key, value, unit, **checks),
                                         self.varshape)

        self.k_rel = param('k_rel', k_rel, rate, nonnegative=True)
        self.tau_rec = param('tau_rec', tau_rec, u.ms, positive=True)
        self.tau_clear = param('tau_clear', tau_clear, u.ms, positive=True)
        self.alpha_A = param('alpha_A', alpha_A, rate_mM, nonnegative=True)
        self.beta_A = param('beta_A', beta_A, rate, positive=True)

    @property
    def release_fraction(self):
        r"""Fraction of the docked pool released by one spike, :math:`1 - e^{-k_{rel} T_{dur}}`."""
        return -u.math.expm1(u.maybe_decimal(-self.k_rel * self.T_duration))

    def _initial_values(self, batch_size):
        def full(value, dtype=None):
            return filled(value, self.varshape, batch_size, dtype)

        return dict(
            D=full(self.T), glu=full(0.0 * u.mM), s=full(0.0),
            x=initialized(self.x_initializer, self.varshape, batch_size),
            g=initialized(self.g_initializer, self.varshape, batch_size),
            released=full(0.0 * u.mM), release_steps=full(0, jnp.int32),
            spike_arrival_time=full(-1e7 * u.ms),
        )

    def init_state(self, batch_size=None, **kwargs):
        values = self._initial_values(batch_size)
        for key in ('D', 'glu', 's', 'x', 'g'):
            setattr(self, key, brainstate.HiddenState(values[key]))
        for key in ('released', 'release_steps', 'spike_arrival_time'):
            setattr(self, key, brainstate.ShortTermState(values[key]))

    def reset_state(self, batch_size=None, **kwargs):
        for key, value in self._initial_values(batch_size).items():
            getattr(self, key).value = value

    def nmda_open_fraction(self):
        """NMDA open fraction ``g`` as a plain dimensionless array (what LTPProjection reads)."""
        return u.get_mantissa(self.g.value)

    def ampa_open_fraction(self):
        """AMPA open fraction ``s`` (what LTPProjection reads)."""
        return self.s.value

    def update(self, pre_spike):
        dt = brainstate.environ.get_dt()
        spike = spike_values(pre_spike) > 0
        window = u.math.round(u.maybe_decimal(self.T_duration / dt)).astype(jnp.int32)
        steps = u.math.where(spike, window, self.release_steps.value)
        releasing = steps > 0
        k = u.math.where(releasing, self.k_rel, 0.0 / u.ms)

        # Docked pool: dD/dt = (T - D)/tau_rec - k D (linear, so this step is exact) ...
        D = self.D.value
        D_new = brainstate.nn.exp_euler_step(lambda d: (self.T - d) / self.tau_rec - k * d, D)
        # ... and what it released: k * integral of D over the step, with
        # integral = D_inf dt + (D - D_new) / lambda for lambda = 1/tau_rec + k.
        lam = 1.0 / self.tau_rec + k
        released = k * ((self.T / self.tau_rec) / lam * dt + (D - D_new) / lam)

        # Cleft: dglu/dt = released/dt - glu/tau_clear.
        source = released / dt
        glu = brainstate.nn.exp_euler_step(lambda c: source - c / self.tau_clear, self.glu.value)

        s = brainstate.nn.exp_euler_step(
            lambda s: self.alpha_A * glu * (1.0 - s) - self.beta_A * s, self.s.value)
        x = brainstate.nn.exp_euler_step(
            lambda x: self.alpha2 * glu * (1 * u.get_unit(x) - x) - self.beta2 * x,
            self.x.value)
        g = brainstate.nn.exp_euler_step(
            lambda g: self.alpha1 * x * (1 * u.get_unit(g) - g) - self.beta1 * g, self.g.value)

        t = brainstate.environ.get('t', None)
        if t is not None:
            self.spike_arrival_time.value = u.math.where(spike, t, self.spike_arrival_time.value)
        self.D.value, self.glu.value, self.released.value = D_new, glu, released
        self.s.value, self.x.value, self.g.value = s, x, g
        self.release_steps.value = u.math.maximum(steps - 1, 0)
        return g
