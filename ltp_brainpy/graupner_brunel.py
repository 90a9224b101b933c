r"""The calcium-based bistable synapse of Graupner & Brunel (2012)."""
from __future__ import annotations

import brainstate
import jax.numpy as jnp
import saiunit as u

from ._state import filled
from ._validate import ParameterError, is_traced, quantity, require
from .plasticity import StatefulRule, SynapseSignals, linear_exp_step, weight_bounds

__all__ = ['GraupnerBrunelRule', 'PRESETS', 'POPULATIONS', 'CALCIUM_SOURCES', 'strength_change']

CALCIUM_SOURCES = ('own', 'projection')

#: Parameter sets of Graupner & Brunel (2012): the six STDP regimes of Fig. 2 (DP, DPD, DPD',
#: P, D, D') and the fits of Fig. 3 and Table S1/S2 to cortical slices (Sjöström et al. 2001),
#: hippocampal slices (Wittenberg & Wang 2006) and hippocampal cultures (Wang et al. 2005), as
#: in the authors' published code (github.com/mgraupe/CalciumBasedPlasticityModel,
#: synapticChange.py). Calcium amplitudes and thresholds are dimensionless (the paper's units).
PRESETS = {
    'DP': dict(tau_c=20.0 * u.ms, C_pre=1.0, C_post=2.0, theta_d=1.0, theta_p=1.3,
               gamma_d=200.0, gamma_p=321.808, sigma=2.8284, tau_rho=150.0 * u.second,
               D_pre=13.7 * u.ms),
    'DPD': dict(tau_c=20.0 * u.ms, C_pre=0.9, C_post=0.9, theta_d=1.0, theta_p=1.3,
                gamma_d=250.0, gamma_p=550.0, sigma=2.8284, tau_rho=150.0 * u.second,
                D_pre=4.6 * u.ms),
    "DPD'": dict(tau_c=20.0 * u.ms, C_pre=1.0, C_post=2.0, theta_d=1.0, theta_p=2.5,
                 gamma_d=50.0, gamma_p=600.0, sigma=2.8284, tau_rho=150.0 * u.second,
                 D_pre=2.2 * u.ms),
    'P': dict(tau_c=20.0 * u.ms, C_pre=2.0, C_post=2.0, theta_d=1.0, theta_p=1.3,
              gamma_d=160.0, gamma_p=257.447, sigma=2.8284, tau_rho=150.0 * u.second,
              D_pre=0.0 * u.ms),
    'D': dict(tau_c=20.0 * u.ms, C_pre=0.6, C_post=0.6, theta_d=1.0, theta_p=1.3,
              gamma_d=500.0, gamma_p=550.0, sigma=5.6568, tau_rho=150.0 * u.second,
              D_pre=0.0 * u.ms),
    "D'": dict(tau_c=20.0 * u.ms, C_pre=1.0, C_post=2.0, theta_d=1.0, theta_p=3.5,
               gamma_d=60.0, gamma_p=600.0, sigma=2.8284, tau_rho=150.0 * u.second,
               D_pre=0.0 * u.ms),
    'cortical_slices': dict(tau_c=22.6936 * u.ms, C_pre=0.5617539, C_post=1.23964,
                            theta_d=1.0, theta_p=1.3, gamma_d=331.909, gamma_p=725.085,
                            sigma=3.3501, tau_rho=346.3615 * u.second, D_pre=4.6098 * u.ms),
    'hippocampal_slices': dict(tau_c=48.8373 * u.ms, C_pre=1.0, C_post=0.275865, theta_d=1.0,
                               theta_p=1.3, gamma_d=313.0965, gamma_p=1645.59, sigma=9.1844,
                               tau_rho=688.355 * u.second, D_pre=18.8008 * u.ms),
    'hippocampal_cultures': dict(tau_c=11.9536 * u.ms, C_pre=0.58156, C_post=1.76444,
                                 theta_d=1.0, theta_p=1.3, gamma_d=61.141, gamma_p=113.6545,
                                 sigma=2.5654, tau_rho=33.7596 * u.second, D_pre=10.0 * u.ms),
}

#: For each preset: the fraction ``beta`` of synapses initially DOWN and the ratio ``b`` of UP
#: to DOWN strength with which the paper turns transitions into a change of synaptic strength
#: (:func:`strength_change`); with :class:`GraupnerBrunelRule`, ``w_max / w_min = b``.
POPULATIONS = {name: dict(beta=0.5, b=5.0) for name in ('DP', 'DPD', "DPD'", 'P', 'D', "D'")}
POPULATIONS.update({'cortical_slices': dict(beta=0.5, b=5.40988),
                    'hippocampal_slices': dict(beta=0.7, b=5.28145),
                    'hippocampal_cultures': dict(beta=0.5, b=36.0263)})


def strength_change(up, down, beta, b):
    r"""Mean synaptic strength after / before a protocol (Graupner & Brunel 2012).

    A population has the fraction ``beta`` of its synapses DOWN (strength 1) and the rest UP
    (strength ``b``); during the protocol a DOWN synapse switches UP with probability ``up``
    and an UP synapse DOWN with probability ``down``:

    .. math:: \frac{\beta(1 - P_{up}) + (1 - \beta) P_{down}
                   + \left(\beta P_{up} + (1 - \beta)(1 - P_{down})\right) b}
                  {\beta + (1 - \beta)\, b}
    """
    return ((beta * (1 - up) + (1 - beta) * down) + (beta * up + (1 - beta) * (1 - down)) * b) \
        / (beta + (1 - beta) * b)


class GraupnerBrunelRule(StatefulRule):
    r"""Bistable synaptic efficacy driven by calcium thresholds (Graupner & Brunel 2012).

    Each synapse has an efficacy :math:`\rho \in [0, 1]` with two stable states, DOWN
    (:math:`\rho = 0`) and UP (:math:`\rho = 1`), separated by the unstable :math:`\rho_*`;
    calcium above :math:`\theta_p` pushes it up, above :math:`\theta_d` down:

    .. math::

        \tau \frac{d\rho}{dt} = -\rho(1 - \rho)(\rho_* - \rho)
            + \gamma_p (1 - \rho)\, \Theta[c - \theta_p] - \gamma_d\, \rho\, \Theta[c - \theta_d]
            + \sigma \sqrt{\tau} \sqrt{\Theta[c - \theta_d] + \Theta[c - \theta_p]}\; \eta(t)

    with white noise :math:`\eta` (the noise term as corrected in 2013; ``sigma = 0`` makes the
    rule deterministic and differentiable). The AMPA conductance is
    :math:`w = w_{min} + \rho\,(w_{max} - w_{min})`, so :math:`w_{min}` and :math:`w_{max}` are
    the DOWN and UP strengths (the paper's :math:`b = w_{max}/w_{min}`); :math:`\rho` is read
    from :math:`w` every step, so it starts from ``w_init`` and needs no state of its own. Each
    step takes the linear terms exactly (:func:`linear_exp_step`), the
    cubic one and the noise explicitly, and keeps :math:`\rho` in [0, 1].

    Calcium (``calcium``):

    - ``'own'`` (the paper's): :math:`c = c_{pre} + c_{post}`, where each presynaptic spike adds
      :math:`C_{pre}` after the delay :math:`D` and each postsynaptic spike adds
      :math:`C_{post}`, both decaying with :math:`\tau_c`; dimensionless. Up to two presynaptic
      spikes can be in flight, so presynaptic rates up to :math:`2/D` are exact.
    - ``'projection'``: the projection's plasticity calcium (NMDA spine calcium plus spike
      calcium) in units of ``calcium_unit``.

    Parameters
    ----------
    theta_d, theta_p : float, default 1 and 1.3
        Depression and potentiation thresholds (in calcium units).
    gamma_d, gamma_p : float, default 200 and 321.808
        Depression and potentiation strengths (dimensionless: rates in units of
        :math:`1/\tau`).
    tau_rho : Quantity[ms], default 150 s
        Time constant of the efficacy.
    rho_star : float, default 0.5
        Unstable fixed point between DOWN and UP.
    sigma : float, default 2.8284
        Noise amplitude (0: deterministic).
    calcium : {'own', 'projection'}
        Which calcium drives the rule.
    tau_c : Quantity[ms], default 20 ms
        Decay of the rule's own calcium.
    C_pre, C_post : float, default 1 and 2
        Calcium added by a presynaptic (after ``D_pre``) and a postsynaptic spike.
    D_pre : Quantity[ms], default 13.7 ms
        Delay of the presynaptic calcium (NMDA receptor activation).
    calcium_unit : Quantity[uM], default 1 uM
        The projection's calcium that counts as 1 (``calcium='projection'``).
    w_min, w_max : Quantity[nS], default 0.2 nS and 1 nS
        AMPA conductance of a DOWN and of an UP synapse.

    The defaults are the paper's DP set (:data:`PRESETS`).

    Examples
    --------
    >>> import saiunit as u
    >>> from ltp_brainpy import GlutamateSynapse, LTPNeuron, LTPProjection, GraupnerBrunelRule
    >>> rule = GraupnerBrunelRule.preset('cortical_slices', sigma=0.0)
    >>> proj = LTPProjection(GlutamateSynapse(4), LTPNeuron(1), rule=rule, w_init=0.6 * u.nS)

    References
    ----------
    .. [1] Graupner, M., & Brunel, N. (2012). Calcium-based plasticity model explains
           sensitivity of synaptic changes to spike pattern, rate, and dendritic location.
           PNAS 109(10), 3991-3996; correction PNAS 110(15), 6173 (2013).
    """
    __module__ = 'ltp_brainpy'
    presets = PRESETS

    def __init__(self, theta_d=1.0, theta_p=1.3, gamma_d=200.0, gamma_p=321.808,
                 tau_rho=150.0 * u.second, rho_star=0.5, sigma=2.8284, calcium: str = 'own',
                 tau_c=20.0 * u.ms, C_pre=1.0, C_post=2.0, D_pre=13.7 * u.ms,
                 calcium_unit=1.0 * u.uM, w_min=0.2 * u.nS, w_max=1.0 * u.nS):
        super().__init__()
        owner = type(self).__name__

        def number(key, value, **checks):
            return u.maybe_decimal(quantity(owner, key, value, u.UNITLESS, **checks))

        self.theta_d = number('theta_d', theta_d, nonnegative=True)
        self.theta_p = number('theta_p', theta_p, nonnegative=True)
        self.gamma_d = number('gamma_d', gamma_d, nonnegative=True)
        self.gamma_p = number('gamma_p', gamma_p, nonnegative=True)
        self.rho_star = number('rho_star', rho_star, nonnegative=True)
        self.sigma = number('sigma', sigma, nonnegative=True)
        self.C_pre = number('C_pre', C_pre, nonnegative=True)
        self.C_post = number('C_post', C_post, nonnegative=True)
        self.tau_rho = quantity(owner, 'tau_rho', tau_rho, u.ms, positive=True)
        self.tau_c = quantity(owner, 'tau_c', tau_c, u.ms, positive=True)
        self.D_pre = quantity(owner, 'D_pre', D_pre, u.ms, nonnegative=True)
        self.calcium_unit = quantity(owner, 'calcium_unit', calcium_unit, u.uM, positive=True)
        if calcium not in CALCIUM_SOURCES:
            raise ParameterError(f'{owner}: parameter {"calcium"!r} must be one of '
                                 f'{CALCIUM_SOURCES}, got {calcium!r}')
        self.calcium = calcium
        self.w_min, self.w_max = weight_bounds(owner, w_min, w_max)
        require(owner, self.w_min < self.w_max,
                f'w_min must be below w_max, got w_min={w_min}, w_max={w_max}')
        require(owner, self.rho_star <= 1.0, f'rho_star must lie in [0, 1], got {rho_star}')

    # ------------------------------------------------------------------ states
    def init_state(self, batch_size=None, **kwargs):
        n_pre, n_post = self.layout.n_pre, self.layout.n_post
        self.c_pre = brainstate.HiddenState(filled(0.0, (n_pre,), batch_size))
        self.c_post = brainstate.HiddenState(filled(0.0, (n_post,), batch_size))
        # Presynaptic spikes on their way (time left until their calcium arrives; inf: none).
        self.pending = brainstate.HiddenState(filled(jnp.inf * u.ms, (2, n_pre), batch_size))

    def reset_state(self, batch_size=None, **kwargs):
        self.c_pre.value = jnp.zeros_like(self.c_pre.value)
        self.c_post.value = jnp.zeros_like(self.c_post.value)
        self.pending.value = jnp.full_like(self.pending.value.mantissa, jnp.inf) * u.ms

    def efficacy(self, w):
        r""":math:`\rho` of a conductance ``w``."""
        return u.maybe_decimal((w - self.w_min) / (self.w_max - self.w_min))

    # ------------------------------------------------------------- dynamics
    def _own_calcium(self, signals):
        dt = signals.dt
        decay = u.math.exp(-dt / self.tau_c)
        # Presynaptic spikes enter the queue (the second slot when the first is busy) ...
        pending = self.pending.value
        spike = signals.pre_spike > 0
        first_free = u.math.isinf(pending[..., 0, :])
        delay = u.math.broadcast_to(self.D_pre, spike.shape)
        slot0 = u.math.where(spike & first_free, delay, pending[..., 0, :]) - dt
        slot1 = u.math.where(spike & ~first_free, delay, pending[..., 1, :]) - dt
        # ... and add C_pre once their delay has passed, decayed by the overshoot.
        c_pre = self.c_pre.value * decay
        for slot in (slot0, slot1):
            arrived = slot <= 0 * u.ms
            c_pre = c_pre + u.math.where(arrived, self.C_pre * u.math.exp(slot / self.tau_c), 0.0)
        self.pending.value = u.math.stack(
            [u.math.where(s <= 0 * u.ms, jnp.inf * u.ms, s) for s in (slot0, slot1)], axis=-2)
        self.c_pre.value = c_pre
        self.c_post.value = self.c_post.value * decay + self.C_post * signals.post_spike
        return signals.layout.pre(self.c_pre.value) + signals.layout.post(self.c_post.value)

    def update(self, w, signals: SynapseSignals):
        c = (self._own_calcium(signals) if self.calcium == 'own'
             else u.maybe_decimal(signals.calcium / self.calcium_unit))
        rho = self.efficacy(w)
        above_d = (c >= self.theta_d).astype(rho.dtype)
        above_p = (c >= self.theta_p).astype(rho.dtype)
        dt = signals.dt
        rate = 1.0 / self.tau_rho
        # Linear terms exactly: d rho/dt = (gamma_p H_p (1 - rho) - gamma_d H_d rho) / tau ...
        a = self.gamma_p * above_p * rate
        rho_new = linear_exp_step(rho, a, a + self.gamma_d * above_d * rate, dt)
        # ... then the bistable cubic term and the noise.
        rho_new = rho_new - u.maybe_decimal(dt * rate) * rho * (1 - rho) * (self.rho_star - rho)
        if is_traced(self.sigma) or float(self.sigma) > 0:
            noise = brainstate.random.randn(*rho.shape)
            rho_new = rho_new + self.sigma * u.math.sqrt(
                u.maybe_decimal(dt * rate) * (above_d + above_p)) * noise
        rho_new = u.math.clip(rho_new, 0.0, 1.0)
        return self.w_min + rho_new * (self.w_max - self.w_min)
