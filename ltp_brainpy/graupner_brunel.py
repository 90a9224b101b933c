r"""The calcium-based bistable synapse of Graupner & Brunel (2012).

Per-step mathematics as small pure functions (:func:`delayed_arrivals`,
:func:`efficacy_change`, :func:`random_signs`, :func:`strength_change`) and the rule,
:class:`GraupnerBrunelRule`, with the paper's parameter sets (:data:`PRESETS`) and population
parameters (:data:`POPULATIONS`).
"""
from __future__ import annotations

import math

import brainstate
import jax
import jax.numpy as jnp
import saiunit as u

from ._state import filled
from ._validate import ParameterError, is_traced, quantity, require
from .plasticity import (PER_MS, StatefulRule, SynapseSignals, _known, linear_exp_step,
                         weight_bounds)

__all__ = ['GraupnerBrunelRule', 'PRESETS', 'POPULATIONS', 'CALCIUM_SOURCES', 'MAX_IN_FLIGHT',
           'BISTABLE_INTERVAL', 'delayed_arrivals', 'efficacy_change', 'random_signs',
           'strength_change']

CALCIUM_SOURCES = ('own', 'projection')

#: Presynaptic spikes whose delayed calcium can be on its way at once, per presynaptic neuron
#: (``calcium='own'``): exact for up to this many spikes within ``D_pre`` (rates up to
#: ``MAX_IN_FLIGHT / D_pre``, 580 Hz at 13.7 ms); the calcium of further spikes is dropped.
MAX_IN_FLIGHT = 8

#: Time over which the bistable term is accumulated before it is applied. At tau_rho = 150 s
#: it moves rho by at most 3e-8 per 0.1 ms step, below the float32 resolution of w (6e-8 at
#: 0.5 nS), so that step by step it would be lost; applied every 50 ms (or every step when
#: the step is longer) it is resolved to 0.5 %, and 50 ms is nothing against tau_rho.
BISTABLE_INTERVAL = 50.0 * u.ms

#: Fraction of a step within which a delayed transient counts as arrived.
_STEP_TOLERANCE = 1e-2


def _paper_set(tau_Ca, C_pre, C_post, theta_d, theta_p, gamma_d, gamma_p, sigma, tau, D, b):
    """Constructor arguments from one column of the paper's Table S1/S2: ``tau_Ca`` and ``D`` in
    ms, ``tau`` in s, calcium in the paper's (dimensionless) unit read as 1 uM, the strengths
    ``gamma`` in units of 1/tau, ``b`` the UP/DOWN strength ratio (``w_max = 1 nS``)."""
    tau_rho = tau * u.second
    return dict(theta_d=theta_d * u.uM, theta_p=theta_p * u.uM, gamma_d=gamma_d / tau_rho,
                gamma_p=gamma_p / tau_rho, tau_rho=tau_rho, rho_star=0.5, sigma=sigma,
                tau_Ca_gb=tau_Ca * u.ms, C_pre=C_pre * u.uM, C_post=C_post * u.uM,
                D_pre=D * u.ms, w_min=1.0 / b * u.nS, w_max=1.0 * u.nS)


#: Parameter sets of Graupner & Brunel (2012), in the order tau_Ca [ms], C_pre, C_post, theta_d,
#: theta_p, gamma_d, gamma_p, sigma, tau [s], D [ms], b. The six STDP regimes of Fig. 2 are
#: Table S1 (DP, DPD, DPD', P, D, D'); the fits of Fig. 3/5/6 are Table S2: cortical slices
#: (Sjöström et al. 2001), hippocampal slices (Wittenberg & Wang 2006), hippocampal cultures
#: (Wang et al. 2005). Transcribed from the authors' code (github.com/mgraupe/
#: CalciumBasedPlasticityModel, synapticChange.py, choseParameterSet), which holds the tables'
#: values; rho_star = 0.5 in every set.
PRESETS = {
    'DP': _paper_set(20.0, 1.0, 2.0, 1.0, 1.3, 200.0, 321.808, 2.8284, 150.0, 13.7, 5.0),
    'DPD': _paper_set(20.0, 0.9, 0.9, 1.0, 1.3, 250.0, 550.0, 2.8284, 150.0, 4.6, 5.0),
    "DPD'": _paper_set(20.0, 1.0, 2.0, 1.0, 2.5, 50.0, 600.0, 2.8284, 150.0, 2.2, 5.0),
    'P': _paper_set(20.0, 2.0, 2.0, 1.0, 1.3, 160.0, 257.447, 2.8284, 150.0, 0.0, 5.0),
    'D': _paper_set(20.0, 0.6, 0.6, 1.0, 1.3, 500.0, 550.0, 5.6568, 150.0, 0.0, 5.0),
    "D'": _paper_set(20.0, 1.0, 2.0, 1.0, 3.5, 60.0, 600.0, 2.8284, 150.0, 0.0, 5.0),
    'cortical_slices': _paper_set(22.6936, 0.5617539, 1.23964, 1.0, 1.3, 331.909, 725.085,
                                  3.3501, 346.3615, 4.6098, 5.40988),
    'hippocampal_slices': _paper_set(48.8373, 1.0, 0.275865, 1.0, 1.3, 313.0965, 1645.59,
                                     9.1844, 688.355, 18.8008, 5.28145),
    'hippocampal_cultures': _paper_set(11.9536, 0.58156, 1.76444, 1.0, 1.3, 61.141, 113.6545,
                                       2.5654, 33.7596, 10.0, 36.0263),
}

#: For each preset, the paper's population: the fraction ``beta`` of synapses initially DOWN
#: and the ratio ``b`` of UP to DOWN strength (``w_max / w_min`` of the preset), with which
#: :func:`strength_change` turns transition probabilities into a change of synaptic strength
#: (same source as :data:`PRESETS`).
POPULATIONS = {name: dict(beta=0.5, b=5.0) for name in ('DP', 'DPD', "DPD'", 'P', 'D', "D'")}
POPULATIONS.update({'cortical_slices': dict(beta=0.5, b=5.40988),
                    'hippocampal_slices': dict(beta=0.7, b=5.28145),
                    'hippocampal_cultures': dict(beta=0.5, b=36.0263)})


def delayed_arrivals(left, spike, D, dt, tau):
    r"""Advance the presynaptic spikes in flight by one step of length ``dt``.

    ``left`` (..., slots, n_pre) holds the time until each spike's calcium transient arrives
    (0: free slot); ``spike`` (..., n_pre, bool) this step's spikes, which take the first free
    slot (without a free slot, a spike is dropped) or, with ``D = 0``, arrive at once. Returns
    the new ``left`` and, per presynaptic neuron, the transients that arrived during the step,
    each weighted by :math:`e^{-\delta/\tau}` for the time :math:`\delta` since it arrived, so
    that the calcium at the end of the step is exact for any ``dt`` (also on a multi-rate
    grid). An arrival within ``dt / 100`` of the end of the step counts as arrived (absorbs
    the float32 rounding of e.g. 13.7 ms counted down in 0.1 ms steps).
    """
    tolerance = _STEP_TOLERANCE * dt
    busy = left > 0.0 * u.ms
    left = left - dt
    arrived = busy & (left <= tolerance)
    since = u.math.where(arrived, u.math.maximum(-left, 0.0 * u.ms), 0.0 * u.ms)
    weight = u.math.where(arrived, u.math.exp(-since / tau), 0.0)
    left = u.math.where(busy & ~arrived, left, 0.0 * u.ms)
    delayed = D > tolerance
    free = left <= 0.0 * u.ms
    first_free = free & (u.math.cumsum(free, axis=-2) == 1)
    left = u.math.where(first_free & (spike & delayed)[..., None, :], D, left)
    return left, u.math.sum(weight, axis=-2) + (spike & ~delayed)


def efficacy_change(rho, above_d, above_p, gamma_d, gamma_p, tau_rho, rho_star, dt,
                    bistable_dt, rate_max=None):
    r"""Deterministic change of the efficacy over one step.

    .. math::

        \Delta\rho = \Delta t\,\big(\gamma_p H_p - (\gamma_p H_p + \gamma_d H_d)\,\rho\big)\,
            \varphi_1\big((\gamma_p H_p + \gamma_d H_d)\,\Delta t\big)
            - \frac{\Delta t_b}{\tau_\rho}\,\rho(1 - \rho)(\rho_* - \rho)

    with :math:`H_{d,p} = \Theta[c - \theta_{d,p}]` (``above_d``, ``above_p``: 0 or 1), the
    rates :math:`\gamma` in 1/ms and :math:`\varphi_1(z) = (1 - e^{-z})/z`: the linear terms
    exactly over ``dt`` (:func:`~ltp_brainpy.plasticity.linear_exp_step`), the bistable cubic
    explicitly over ``bistable_dt`` (:math:`\Delta t_b`: the time accumulated since it was last
    applied, or 0; see :data:`BISTABLE_INTERVAL`). ``rate_max``, a known bound of
    :math:`\gamma_p + \gamma_d`, selects the cheaper series for :math:`\varphi_1`.
    """
    a = gamma_p * above_p
    b = a + gamma_d * above_d
    linear = u.maybe_decimal(linear_exp_step(0.0, a - b * rho, b, dt, b_max=rate_max))
    return linear - u.maybe_decimal(bistable_dt / tau_rho) * rho * (1.0 - rho) * (rho_star - rho)


def random_signs(shape, dtype=None):
    """Independent random signs, +1 or -1 with equal probability, of ``shape``: 32 from each
    32-bit word drawn with a key from ``brainstate.random`` (so every ``vmap2`` lane and every
    step draws its own), about 30 times cheaper than normal variates."""
    size = math.prod(shape)
    words = jax.random.bits(brainstate.random.split_key(), ((size + 31) // 32,), jnp.uint32)
    bits = (words[:, None] >> jnp.arange(32, dtype=jnp.uint32)) & 1
    return 2.0 * bits.reshape(-1)[:size].reshape(shape).astype(
        dtype or brainstate.environ.dftype()) - 1.0


def strength_change(up, down, beta, b):
    r"""Mean synaptic strength after / before a protocol (Graupner & Brunel 2012, Methods).

    A population has the fraction ``beta`` of its synapses DOWN (strength 1) and the rest UP
    (strength ``b``); during the protocol a DOWN synapse switches UP with probability ``up``
    and an UP synapse DOWN with probability ``down``:

    .. math:: \frac{\beta(1 - P_{up}) + (1 - \beta) P_{down}
                   + \left(\beta P_{up} + (1 - \beta)(1 - P_{down})\right) b}
                  {\beta + (1 - \beta)\, b}

    Examples
    --------
    >>> from ltp_brainpy.graupner_brunel import strength_change
    >>> round(strength_change(up=1.0, down=0.0, beta=0.5, b=5.0), 4)
    1.6667
    """
    return ((beta * (1 - up) + (1 - beta) * down) + (beta * up + (1 - beta) * (1 - down)) * b) \
        / (beta + (1 - beta) * b)


class GraupnerBrunelRule(StatefulRule):
    r"""Bistable synaptic efficacy driven by calcium thresholds (Graupner & Brunel 2012).

    Each synapse has an efficacy :math:`\rho \in [0, 1]` with two stable states, DOWN
    (:math:`\rho = 0`) and UP (:math:`\rho = 1`), separated by the unstable :math:`\rho_*`;
    calcium above :math:`\theta_p` pushes it up, calcium above :math:`\theta_d` down:

    .. math::

        \frac{d\rho}{dt} = -\frac{\rho(1 - \rho)(\rho_* - \rho)}{\tau_\rho}
            + \gamma_p (1 - \rho)\, \Theta[c - \theta_p] - \gamma_d\, \rho\, \Theta[c - \theta_d]
            + \frac{\sigma}{\sqrt{\tau_\rho}} \sqrt{\Theta[c - \theta_d] + \Theta[c - \theta_p]}
              \;\eta(t)

    with :math:`\Theta[x] = 1` for :math:`x \ge 0` (else 0) and unit white noise :math:`\eta`.
    This is the paper's Eq. 1 divided by its :math:`\tau`, with the noise term of the published
    correction; ``gamma_p``, ``gamma_d`` are the paper's :math:`\gamma_{p,d}/\tau` (rates in
    1/ms, like the calcium-control rule's ``gamma``). ``sigma = 0`` makes the rule
    deterministic and differentiable. With ``sigma > 0`` each step adds
    :math:`\pm\sigma\sqrt{\Delta t\,(H_d + H_p)/\tau_\rho}` with a random sign per synapse
    (:func:`random_signs`): the simplified weak Euler scheme, whose increments have the mean
    and variance of the Gaussian ones and which converges to the same diffusion. The signs are
    drawn with ``brainstate.random``: independent per synapse, batch element, step and
    ``brainstate.transform.vmap2`` lane (a plain ``jax.vmap`` shares one stream between lanes).

    The AMPA conductance is :math:`w = w_{min} + \rho\,(w_{max} - w_{min})`: ``w_min`` and
    ``w_max`` are the DOWN and UP strengths (the paper's :math:`w_0, w_1`,
    :math:`b = w_{max}/w_{min}`). :math:`\rho` is read from :math:`w` every step, so it starts
    at :math:`(w_{init} - w_{min})/(w_{max} - w_{min})`; the paper's population with the
    fraction :math:`\beta` of synapses DOWN is a ``w_init`` array with that fraction at
    ``w_min`` and the rest at ``w_max``. A step adds :math:`\Delta\rho\,(w_{max} - w_{min})` to
    :math:`w` (:func:`efficacy_change` plus the noise) and keeps :math:`\rho` in [0, 1].

    Calcium (``calcium``):

    - ``'own'``, the paper's: :math:`c_{ij} = c_{pre,i} + c_{post,j}`, where each presynaptic
      spike adds ``C_pre`` after the delay ``D_pre`` and each postsynaptic spike adds
      ``C_post``, both decaying with ``tau_Ca_gb``. Each presynaptic spike in flight counts down
      the time to its transient (:func:`delayed_arrivals`; up to :data:`MAX_IN_FLIGHT` per
      neuron); a transient that arrives within a step enters decayed by the time since, so the
      trace is exact at the end of every step, on the uniform and on a multi-rate grid. In a
      projection the postsynaptic spike enters one step (0.1 ms) after it fired, because
      neurons are updated after their projections.
    - ``'projection'``: the projection's plasticity calcium (NMDA spine calcium plus the
      neuron's spike calcium), compared with the thresholds as it is.

    The paper's calcium is dimensionless; here its unit is read as 1 uM. The own calcium is
    linear, so only the ratios of ``C_pre``, ``C_post``, ``theta_d``, ``theta_p`` matter, and
    in uM the thresholds have the unit and meaning of the calcium-control rule's ``theta_d``,
    ``theta_p`` and apply to the projection's calcium directly.

    Parameters
    ----------
    theta_d, theta_p : Quantity[uM], default 1 uM and 1.3 uM
        Depression and potentiation thresholds.
    gamma_d, gamma_p : Quantity[1/ms], default 200/(150 s) and 321.808/(150 s)
        Rates of depression and potentiation while calcium is at or above their threshold
        (the paper's :math:`\gamma_{d,p}/\tau`).
    tau_rho : Quantity[ms], default 150 s
        Time constant of the bistable term and of the noise (the paper's :math:`\tau`).
    rho_star : float, default 0.5
        Unstable fixed point between DOWN and UP, in [0, 1].
    sigma : float, default 2.8284
        Noise amplitude (the paper's :math:`\sigma`; 0: deterministic).
    calcium : {'own', 'projection'}, default 'own'
        Which calcium drives the rule.
    tau_Ca_gb : Quantity[ms], default 20 ms
        Decay time constant of the rule's own calcium (the paper's :math:`\tau_{Ca}`; not the
        projection's ``tau_ca``).
    C_pre, C_post : Quantity[uM], default 1 uM and 2 uM
        Own calcium added by a presynaptic spike (after ``D_pre``) and by a postsynaptic spike.
    D_pre : Quantity[ms], default 13.7 ms
        Delay of the presynaptic calcium transient (the paper's :math:`D`).
    w_min, w_max : Quantity[nS], default 0.2 nS and 1 nS
        AMPA conductance of a DOWN and of an UP synapse.

    Notes
    -----
    The defaults are the paper's DP set (:data:`PRESETS`); ``GraupnerBrunelRule.preset(name)``
    gives the others.

    Examples
    --------
    >>> import saiunit as u
    >>> from ltp_brainpy import GlutamateSynapse, LTPNeuron, LTPProjection, GraupnerBrunelRule
    >>> rule = GraupnerBrunelRule.preset('cortical_slices', sigma=0.0)
    >>> proj = LTPProjection(GlutamateSynapse(4), LTPNeuron(1), rule=rule, w_init=0.6 * u.nS)
    >>> round(float(rule.efficacy(0.6 * u.nS)), 3)
    0.509

    References
    ----------
    .. [1] Graupner, M., & Brunel, N. (2012). Calcium-based plasticity model explains
           sensitivity of synaptic changes to spike pattern, rate, and dendritic location.
           PNAS 109(10), 3991-3996. Correction (the noise term): PNAS,
           doi:10.1073/pnas.1220044110.
    .. [2] Kloeden, P. E., & Platen, E. (1992). Numerical Solution of Stochastic Differential
           Equations. Springer. Section 14.1 (simplified weak Euler scheme).
    """
    __module__ = 'ltp_brainpy'
    presets = PRESETS

    def __init__(self, theta_d=1.0 * u.uM, theta_p=1.3 * u.uM, gamma_d=200.0 / (150.0 * u.second),
                 gamma_p=321.808 / (150.0 * u.second), tau_rho=150.0 * u.second, rho_star=0.5,
                 sigma=2.8284, calcium: str = 'own', tau_Ca_gb=20.0 * u.ms, C_pre=1.0 * u.uM,
                 C_post=2.0 * u.uM, D_pre=13.7 * u.ms, w_min=0.2 * u.nS, w_max=1.0 * u.nS):
        super().__init__()
        owner = type(self).__name__
        self.theta_d = quantity(owner, 'theta_d', theta_d, u.uM, nonnegative=True)
        self.theta_p = quantity(owner, 'theta_p', theta_p, u.uM, nonnegative=True)
        self.gamma_d = quantity(owner, 'gamma_d', gamma_d, 1 / u.ms, nonnegative=True)
        self.gamma_p = quantity(owner, 'gamma_p', gamma_p, 1 / u.ms, nonnegative=True)
        self.tau_rho = quantity(owner, 'tau_rho', tau_rho, u.ms, positive=True)
        self.rho_star = u.maybe_decimal(quantity(owner, 'rho_star', rho_star, u.UNITLESS,
                                                 nonnegative=True))
        self.sigma = u.maybe_decimal(quantity(owner, 'sigma', sigma, u.UNITLESS,
                                              nonnegative=True))
        self.tau_Ca_gb = quantity(owner, 'tau_Ca_gb', tau_Ca_gb, u.ms, positive=True)
        self.C_pre = quantity(owner, 'C_pre', C_pre, u.uM, nonnegative=True)
        self.C_post = quantity(owner, 'C_post', C_post, u.uM, nonnegative=True)
        self.D_pre = quantity(owner, 'D_pre', D_pre, u.ms, nonnegative=True)
        if calcium not in CALCIUM_SOURCES:
            raise ParameterError(f'{owner}: parameter {"calcium"!r} must be one of '
                                 f'{CALCIUM_SOURCES}, got {calcium!r}')
        self.calcium = calcium
        self.w_min, self.w_max = weight_bounds(owner, w_min, w_max)
        require(owner, self.w_min < self.w_max,
                f'w_min must be below w_max, got w_min={w_min}, w_max={w_max}')
        require(owner, self.rho_star <= 1.0, f'rho_star must lie in [0, 1], got {rho_star}')

    # ------------------------------------------------------------------ states
    def _initial(self, batch_size):
        n_pre, n_post = self.layout.n_pre, self.layout.n_post
        return dict(c_pre=filled(0.0 * u.uM, (n_pre,), batch_size),
                    c_post=filled(0.0 * u.uM, (n_post,), batch_size),
                    in_flight=filled(0.0 * u.ms, (MAX_IN_FLIGHT, n_pre), batch_size),
                    held_back=filled(0.0 * u.ms, ()))

    def init_state(self, batch_size=None, **kwargs):
        """Own calcium per neuron, the presynaptic spikes in flight (time left until their
        transient arrives; 0: free) and the time the bistable term has been held back."""
        for key, value in self._initial(batch_size).items():
            setattr(self, key, brainstate.HiddenState(value))

    def reset_state(self, batch_size=None, **kwargs):
        for key, value in self._initial(batch_size).items():
            getattr(self, key).value = value

    def efficacy(self, w):
        r""":math:`\rho = (w - w_{min})/(w_{max} - w_{min})` of a conductance ``w``."""
        return u.maybe_decimal((w - self.w_min) / (self.w_max - self.w_min))

    # ------------------------------------------------------------- dynamics
    def own_calcium(self, signals: SynapseSignals):
        """Advance the rule's own calcium one step; the calcium at every synapse (uM)."""
        dt = signals.dt
        self.in_flight.value, arrived = delayed_arrivals(
            self.in_flight.value, signals.pre_spike > 0, self.D_pre, dt, self.tau_Ca_gb)
        decay = u.math.exp(-dt / self.tau_Ca_gb)
        self.c_pre.value = self.c_pre.value * decay + self.C_pre * arrived
        self.c_post.value = self.c_post.value * decay + self.C_post * signals.post_spike
        return signals.layout.pre(self.c_pre.value) + signals.layout.post(self.c_post.value)

    def update(self, w, signals: SynapseSignals):
        """The rule's step (:class:`~ltp_brainpy.plasticity.PlasticityRule`)."""
        c = self.own_calcium(signals) if self.calcium == 'own' else signals.calcium
        rho = self.efficacy(w)
        above_d = u.math.asarray(c >= self.theta_d, dtype=rho.dtype)
        above_p = u.math.asarray(c >= self.theta_p, dtype=rho.dtype)
        dt = signals.dt
        held = self.held_back.value + dt
        due = held >= BISTABLE_INTERVAL
        self.held_back.value = u.math.where(due, 0.0 * u.ms, held)
        drho = efficacy_change(rho, above_d, above_p, self.gamma_d, self.gamma_p, self.tau_rho,
                               self.rho_star, dt, u.math.where(due, held, 0.0 * u.ms),
                               rate_max=self._rate_bound())
        if is_traced(self.sigma) or float(self.sigma) > 0:
            drho = drho + self.sigma * u.math.sqrt(
                u.maybe_decimal(dt / self.tau_rho) * (above_d + above_p)) * random_signs(
                rho.shape, rho.dtype)
        return u.math.clip(w + drho * (self.w_max - self.w_min), self.w_min, self.w_max)

    def _rate_bound(self):
        rates = [_known(self.gamma_p, PER_MS), _known(self.gamma_d, PER_MS)]
        return None if None in rates else (rates[0] + rates[1]) * PER_MS
