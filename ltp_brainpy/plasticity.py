r"""Per-step mathematics of coincidence detection and AMPA-receptor insertion.

Pure functions of arrays and saiunit quantities, shared by :class:`~ltp_brainpy.LTPProjection`,
the protocols and any rule a user swaps in. Keeping them free of state makes each one testable
against its closed form.

Summary of the equations (docs/model.md, section 3):

.. math::

    B(V) = \frac{1}{1 + [\mathrm{Mg}^{2+}]_o / 3.57\,\mathrm{mM}\; e^{-0.062\, V/\mathrm{mV}}}

    \frac{dCa_{ij}}{dt} = -\frac{Ca_{ij}}{\tau_{Ca}}
        + \rho\, \bar g_N\, g_i\, B(V_j)\, \max(E_{Ca} - V_j, 0)

    \frac{dw}{dt} = \gamma_p \Omega_p(c)(w_{max} - w) - \gamma_d \Omega_d(c)(w - w_{min})
        - \frac{w - w_0}{\tau_w}
"""
from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import brainstate
import numpy as np
import saiunit as u

from ._validate import ParameterError, is_traced, quantity, require

__all__ = [
    'mg_unblock', 'nmda_calcium_influx', 'relax', 'linear_exp_step',
    'SynapseSignals', 'PlasticityRule', 'StatefulRule', 'CalciumControlRule', 'weight_bounds',
]

MG_HALF_BLOCK = 3.57 * u.mM  #: Jahr & Stevens (1990) Mg²⁺ constant
MG_VOLTAGE_SLOPE = 0.062 / u.mV  #: Jahr & Stevens (1990) voltage sensitivity
PER_MS = (1 / u.ms).unit


def mg_unblock(V, mg=1.0 * u.mM):
    r"""Fraction of NMDA receptors free of the Mg²⁺ block (Jahr & Stevens 1990).

    .. math:: B(V) = \left(1 + \frac{[\mathrm{Mg}^{2+}]_o}{3.57\,\mathrm{mM}}
              e^{-0.062\,V/\mathrm{mV}}\right)^{-1}

    Parameters
    ----------
    V : Quantity[mV]
        Membrane potential (array of any shape).
    mg : Quantity[mM]
        Extracellular magnesium concentration.

    Returns
    -------
    Array
        Dimensionless unblocked fraction in (0, 1], same shape as ``V``.

    Examples
    --------
    >>> import saiunit as u
    >>> from ltp_brainpy import mg_unblock
    >>> float(mg_unblock(-60 * u.mV, 1 * u.mM))  # doctest: +ELLIPSIS
    0.0796...

    References
    ----------
    .. [1] Jahr, C. E., & Stevens, C. F. (1990). Voltage dependence of NMDA-activated macroscopic
           conductances predicted by single-channel kinetics. J. Neurosci. 10(9), 3178-3182.
    """
    quantity('mg_unblock', 'V', V, u.mV)
    quantity('mg_unblock', 'mg', mg, u.mM)
    x = mg / MG_HALF_BLOCK * u.math.exp(-MG_VOLTAGE_SLOPE * V)
    return 1.0 / (1.0 + u.maybe_decimal(x))


def nmda_calcium_influx(g, unblocked, V, gbar_N, rho, E_Ca):
    r"""Calcium entry through NMDA receptors, :math:`\rho \bar g_N g B(V) \max(E_{Ca} - V, 0)`.

    ``g`` (open fraction, presynaptic side) and ``unblocked``/``V`` (postsynaptic side) broadcast
    against each other: pass ``g[..., :, None]`` and ``V[..., None, :]`` for a (pre, post) matrix.
    The result is zero without glutamate (``g = 0``) or without receptors (``gbar_N = 0``).
    """
    return rho * gbar_N * g * unblocked * u.math.maximum(E_Ca - V, 0.0 * u.mV)


def relax(x, x_inf, tau, dt):
    r"""Exact step of :math:`dx/dt = (x_\infty - x)/\tau` over ``dt`` (constant :math:`x_\infty`).

    This is the exponential-Euler scheme written out (it is exact for a linear ODE); on large
    (pre, post) matrices it is about twice as fast as :func:`brainstate.nn.exp_euler_step`.
    """
    decay = u.math.exp(-dt / tau)
    return x_inf + (x - x_inf) * decay


#: Bound on :math:`b\,\Delta t` below which :func:`linear_exp_step` sums the series of
#: :math:`\varphi_1` rather than calling :func:`saiunit.math.exprel`.
SERIES_LIMIT = 1e-2


def _known(value, unit):
    """Largest element of ``value`` in ``unit`` when it is known before run time, else None."""
    if value is None or is_traced(value):
        return None
    return float(np.max(np.asarray(value.to_decimal(unit))))


def _phi1_series(z, z_max):
    r""":math:`\varphi_1(z) = \sum_k (-z)^k/(k+1)!` for :math:`0 \le z \le z_{max}`, with as
    many terms as make the first omitted one smaller than the rounding error of ``z``'s dtype
    (float32: 6e-8, float64: 1e-16)."""
    tolerance = np.finfo(u.math.asarray(z).dtype).eps / 2
    order, term = 1, z_max / 2
    while term * z_max / (order + 2) >= tolerance:
        order += 1
        term *= z_max / (order + 1)
    phi = 1.0
    for k in range(order, 0, -1):  # Horner: 1 - z/2 (1 - z/3 (1 - ...))
        phi = 1.0 - z / (k + 1) * phi
    return phi


def linear_exp_step(x, a, b, dt, b_max=None):
    r"""Exact step of :math:`dx/dt = a - b x` with constant :math:`a, b \ge 0`, stable at ``b = 0``.

    Computed as :math:`x + \Delta t\,(a - b x)\,\varphi_1(b \Delta t)` with
    :math:`\varphi_1(z) = (1 - e^{-z})/z`, the exponential-Euler update (exact for linear ODEs).

    ``b_max``, an upper bound of ``b`` known in advance, lets a slow process take a cheaper
    path: when :math:`b_{max} \Delta t \le` ``SERIES_LIMIT``, :math:`\varphi_1` is summed from
    its Taylor series (to the precision of the dtype) instead of calling
    :func:`saiunit.math.exprel`, which costs three times as much per element on CPU.
    """
    z = u.maybe_decimal(b * dt)
    b_max, dt_known = _known(b_max, PER_MS), _known(dt, u.ms)
    if b_max is not None and dt_known is not None and b_max * dt_known <= SERIES_LIMIT:
        phi = _phi1_series(z, b_max * dt_known)
    else:
        phi = u.math.exprel(-z)
    return x + dt * (a - b * x) * phi


def _sigmoid(x):
    """Logistic function :math:`1 / (1 + e^{-x})`, with ``x`` clipped to [-40, 40].

    The clip changes the value by less than :math:`4 \times 10^{-18}` and keeps every
    gradient finite; written out, it is twice as fast on CPU as :func:`jax.nn.sigmoid`.
    """
    x = u.math.clip(u.maybe_decimal(x), -40.0, 40.0)
    return 1.0 / (1.0 + u.math.exp(-x))


@dataclasses.dataclass(frozen=True)
class SynapseSignals:
    r"""What a plasticity rule receives from :class:`~ltp_brainpy.LTPProjection` every step.

    Per-synapse arrays have the shape of the projection's layout (``layout.shape``:
    ``(n_pre, n_post)`` dense, ``(n_post, k_max)`` sparse, after any batch axes); per-neuron
    arrays are lifted to the synapses with ``layout.pre(x)`` and ``layout.post(x)``
    (:mod:`ltp_brainpy.connectivity`).

    Attributes
    ----------
    calcium : Quantity[uM], per synapse
        Plasticity calcium :math:`c_{ij} = Ca_{ij} + ca_{post,j}`: the spine's NMDA calcium
        (after this step's influx) plus the neuron's spike-evoked calcium.
    w0 : Quantity[nS], per synapse or scalar
        Initial AMPA conductance (``w_init``).
    pre_spike : array, (..., n_pre)
        Presynaptic spikes of this step (0/1).
    post_spike : array, (..., n_post)
        The postsynaptic neuron's latest spikes (those of the previous step: the neuron is
        updated after its projections).
    V : Quantity[mV], (..., n_post)
        Somatic membrane potential of the postsynaptic neuron.
    V_dend : Quantity[mV], (..., n_post)
        Dendritic potential: somatic V plus the back-propagated depolarization.
    dt : Quantity[ms]
        Time step.
    layout : DenseLayout or SparseLayout
        Connectivity and storage of the synapses.
    """
    calcium: Any
    w0: Any
    pre_spike: Any
    post_spike: Any
    V: Any
    V_dend: Any
    dt: Any
    layout: Any


@runtime_checkable
class PlasticityRule(Protocol):
    """What :class:`~ltp_brainpy.LTPProjection` needs from a plasticity rule.

    A rule has bounds ``w_min`` and ``w_max`` (nS) and an ``update(w, signals)`` that returns
    the AMPA conductance after one step, given the :class:`SynapseSignals`; it must keep ``w``
    within its bounds. A rule may own states (traces, sliding thresholds): derive it from
    :class:`StatefulRule`, create them in ``init_state`` with the shapes of ``self.layout``, and
    update them in ``update``. ``isinstance(rule, PlasticityRule)`` checks the interface.
    """
    w_min: u.Quantity
    w_max: u.Quantity

    def update(self, w, signals: SynapseSignals): ...


def weight_bounds(owner: str, w_min, w_max):
    """Validated AMPA conductance bounds ``(w_min, w_max)`` of a rule."""
    w_min = quantity(owner, 'w_min', w_min, u.nS, nonnegative=True)
    w_max = quantity(owner, 'w_max', w_max, u.nS, positive=True)
    require(owner, w_min <= w_max, f'w_min must not exceed w_max, got w_min={w_min}, '
                                   f'w_max={w_max}')
    return w_min, w_max


class StatefulRule(brainstate.nn.Module):
    """Base class of plasticity rules with their own states.

    The projection calls :meth:`attach` with its layout at construction, so that
    ``init_state(batch_size)`` can size per-synapse (``self.layout.shape``), per-presynaptic
    (``self.layout.n_pre``) or per-postsynaptic (``self.layout.n_post``) states. Such a rule
    belongs to one projection; give every projection its own instance. Its states are reset
    with the projection's activity (``reset_state``), never the weights. A subclass lists its
    published parameter sets in ``presets`` (name -> constructor arguments), which
    :meth:`preset` instantiates.
    """
    layout = None
    presets: dict = {}

    @classmethod
    def preset(cls, name: str, **overrides):
        """The rule with a published parameter set (``presets``), optionally overridden."""
        if name not in cls.presets:
            raise ParameterError(f'{cls.__name__}: unknown preset {name!r}; choose one of '
                                 f'{", ".join(cls.presets)}')
        return cls(**{**cls.presets[name], **overrides})

    def attach(self, layout):
        """Bind the rule to a projection's synapse layout (once)."""
        if self.layout is not None and self.layout is not layout:
            raise ParameterError(f'{type(self).__name__}: a rule with its own states serves one '
                                 f'projection; create one instance per projection')
        self.layout = layout


class CalciumControlRule(brainstate.nn.Module):
    r"""Calcium-control rule for AMPA receptor insertion and removal (Shouval, Bear & Cooper 2002).

    High calcium inserts AMPA receptors (LTP), moderate calcium removes them (LTD), low calcium
    does nothing:

    .. math::

        \Omega_p(c) = \sigma\left(\frac{c - \theta_p}{\kappa}\right), \qquad
        \Omega_d(c) = \sigma\left(\frac{c - \theta_d}{\kappa}\right) - \Omega_p(c)

        \frac{dw}{dt} = \gamma_p\,\Omega_p(c)\,(w_{max} - w)
                      - \gamma_d\,\Omega_d(c)\,(w - w_{min})
                      - \frac{w - w_0}{\tau_w}

    The right-hand side is linear in :math:`w`, so each step is taken exactly
    (:func:`linear_exp_step`): :math:`w` can never leave :math:`[w_{min}, w_{max}]` (when
    :math:`w_0` is inside) whatever the time step.

    Parameters
    ----------
    theta_d : Quantity[uM], default 0.246 uM
        Calcium threshold for depression (Shouval et al. 2002 use a two-threshold Omega).
    theta_p : Quantity[uM], default 0.363 uM
        Calcium threshold for potentiation; must exceed ``theta_d``.
    kappa : Quantity[uM], default 0.0154 uM
        Width of the sigmoid thresholds.
    gamma_p : Quantity[1/ms], default 0.273 /s
        Rate of AMPA insertion at saturating calcium.
    gamma_d : Quantity[1/ms], default 0.081 /s
        Rate of AMPA removal in the depression band.

    The defaults are calibrated with the rest of the model to the target table of
    docs/model.md (section 4).
    w_min, w_max : Quantity[nS], default 0 nS and 1 nS
        Bounds of the AMPA conductance per synapse.
    tau_w : Quantity[ms], default inf
        Time constant of slow forgetting toward the initial conductance (off by default).

    Examples
    --------
    >>> import saiunit as u
    >>> from ltp_brainpy import CalciumControlRule
    >>> rule = CalciumControlRule(theta_p=0.6 * u.uM)
    >>> w = rule.step(0.5 * u.nS, ca=1.0 * u.uM, w0=0.5 * u.nS, dt=0.1 * u.ms)

    References
    ----------
    .. [1] Shouval, H. Z., Bear, M. F., & Cooper, L. N. (2002). A unified model of NMDA
           receptor-dependent bidirectional synaptic plasticity. PNAS 99(16), 10831-10836.
    """

    def __init__(
        self,
        theta_d=0.246 * u.uM,
        theta_p=0.363 * u.uM,
        kappa=0.0154 * u.uM,
        gamma_p=0.273 / u.second,
        gamma_d=0.081 / u.second,
        w_min=0.0 * u.nS,
        w_max=1.0 * u.nS,
        tau_w=float('inf') * u.ms,
    ):
        super().__init__()
        name = type(self).__name__
        self.theta_d = quantity(name, 'theta_d', theta_d, u.uM, nonnegative=True)
        self.theta_p = quantity(name, 'theta_p', theta_p, u.uM, positive=True)
        self.kappa = quantity(name, 'kappa', kappa, u.uM, positive=True)
        self.gamma_p = quantity(name, 'gamma_p', gamma_p, 1 / u.ms, nonnegative=True)
        self.gamma_d = quantity(name, 'gamma_d', gamma_d, 1 / u.ms, nonnegative=True)
        self.w_min, self.w_max = weight_bounds(name, w_min, w_max)
        self.tau_w = quantity(name, 'tau_w', tau_w, u.ms, positive=True, allow_inf=True)
        require(name, self.theta_d < self.theta_p,
                f'theta_d must be below theta_p, got theta_d={theta_d}, theta_p={theta_p}')

    def potentiation(self, ca):
        r""":math:`\Omega_p(c)`, the dimensionless drive of AMPA insertion."""
        return self.omegas(ca)[0]

    def depression(self, ca):
        r""":math:`\Omega_d(c)`, the dimensionless drive of AMPA removal (a band below theta_p)."""
        return self.omegas(ca)[1]

    def omegas(self, ca):
        r"""Both drives, :math:`(\Omega_p(c), \Omega_d(c))`, from one exponential per element.

        With :math:`e = e^{-(c - \theta_p)/\kappa}` and :math:`K = e^{-(\theta_p -
        \theta_d)/\kappa}`, :math:`\Omega_p = 1/(1 + e)` and
        :math:`\Omega_d = e(1 - K)/((1 + e)(1 + eK))`, which is also free of the cancellation
        in :math:`\sigma_d - \sigma_p`. Far below threshold :math:`e` is capped so that the
        product stays finite (in float32 :math:`\Omega_d` is then off by less than
        :math:`2 \times 10^{-15}`); when the thresholds are too far apart for that cap (or are
        traced), the two sigmoids are computed separately.
        """
        z_p = u.maybe_decimal((ca - self.theta_p) / self.kappa)
        known = [_known(x, u.uM) for x in (self.theta_p, self.theta_d, self.kappa)]
        gap = None if None in known else (known[0] - known[1]) / known[2]
        log_max = np.log(np.finfo(u.math.asarray(z_p).dtype).max) - 1.0
        if gap is None or gap + 40.0 > log_max:
            p = _sigmoid(z_p)
            return p, _sigmoid((ca - self.theta_d) / self.kappa) - p
        e = u.math.exp(u.math.clip(-z_p, -40.0, (log_max + gap) / 2))
        K = np.exp(-gap)
        r = 1.0 / ((1.0 + e) * (1.0 + e * K))
        return r * (1.0 + e * K), r * e * (1.0 - K)

    def _rates(self, ca, w0):
        omega_p, omega_d = self.omegas(ca)
        p = self.gamma_p * omega_p
        d = self.gamma_d * omega_d
        forget = 1.0 / self.tau_w
        return p * self.w_max + d * self.w_min + forget * w0, p + d + forget

    def dwdt(self, w, ca, w0):
        """Right-hand side of the weight equation (nS/ms)."""
        a, b = self._rates(ca, w0)
        return a - b * w

    def step(self, w, ca, w0, dt):
        """AMPA conductance after one exact step of length ``dt`` at calcium ``ca``."""
        a, b = self._rates(ca, w0)
        return linear_exp_step(w, a, b, dt, b_max=self._rate_bound())

    def update(self, w, signals: SynapseSignals):
        """The rule's step on the projection's plasticity calcium (:class:`PlasticityRule`)."""
        return self.step(w, signals.calcium, signals.w0, signals.dt)

    def _rate_bound(self):
        # Omega_p + Omega_d <= 1, so b never exceeds max(gamma_p, gamma_d) + 1/tau_w.
        rates = [_known(self.gamma_p, PER_MS), _known(self.gamma_d, PER_MS),
                 _known(self.tau_w, u.ms)]
        if None in rates:
            return None
        return (max(rates[0], rates[1]) + 1.0 / rates[2]) * PER_MS

    def __repr__(self):
        fields = ', '.join(f'{k}={getattr(self, k)}' for k in
                           ('theta_d', 'theta_p', 'kappa', 'gamma_p', 'gamma_d', 'w_min', 'w_max',
                            'tau_w'))
        return f'{type(self).__name__}({fields})'
