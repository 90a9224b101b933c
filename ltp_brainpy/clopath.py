r"""Voltage-based STDP with homeostasis (Clopath, Büsing, Vasilaki & Gerstner 2010)."""
from __future__ import annotations

import brainstate
import saiunit as u

from ._state import filled
from ._validate import ParameterError, quantity
from .plasticity import StatefulRule, SynapseSignals, weight_bounds

__all__ = ['ClopathRule', 'PRESETS', 'VOLTAGES']

VOLTAGES = ('soma', 'dendrite')

#: Clopath et al. (2010), Table 1 (visual cortex; also NEST's ``clopath_synapse`` defaults).
PRESETS = {
    'visual_cortex': dict(A_LTD=14e-5 / u.mV, A_LTP=8e-5 / u.mV ** 2,
                          theta_minus=-70.6 * u.mV, theta_plus=-45.3 * u.mV,
                          tau_u_minus=10.0 * u.ms, tau_u_plus=7.0 * u.ms, tau_x=15.0 * u.ms,
                          u_ref_squared=60.0 * u.mV ** 2),
}


def low_pass(filtered, value, tau, dt):
    r"""One exact step of :math:`\tau\, d\bar x/dt = -\bar x + x` at constant ``value``."""
    return value + (filtered - value) * u.math.exp(-dt / tau)


def rectified(x):
    """:math:`[x]_+ = \\max(x, 0)`."""
    return u.math.maximum(x, 0.0 * u.get_unit(x))


class ClopathRule(StatefulRule):
    r"""Voltage-based STDP: depression by a presynaptic spike onto a depolarized neuron,
    potentiation by presynaptic activity during strong depolarization.

    With the postsynaptic potential :math:`u`, its low-pass filters :math:`\bar u_-, \bar u_+`
    (time constants :math:`\tau_-, \tau_+`) and the presynaptic trace :math:`\bar x`
    (:math:`\tau_x\, d\bar x/dt = -\bar x + \sum_k \delta(t - t_k)`):

    .. math::

        \text{pre spike: } w \leftarrow w - w_0\, A_{LTD}\, [\bar u_- - \theta_-]_+, \qquad
        \frac{dw}{dt} = w_0\, A_{LTP}\, \bar x\, [u - \theta_+]_+\, [\bar u_+ - \theta_-]_+

    and :math:`w` is kept in :math:`[w_{min}, w_{max}]`. With ``homeostasis``, depression
    scales with the neuron's mean depolarization,
    :math:`A_{LTD} \to A_{LTD}\, \bar{\bar u}^2 / u_{ref}^2`, where :math:`\bar{\bar u}` is
    :math:`u - \theta_-` low-pass filtered over ``tau_homeo``. The amplitudes are relative to
    the synapse's initial conductance :math:`w_0` (``w_init``), potentiation per ms.

    Each step: the presynaptic trace decays and takes this step's spikes (:math:`1/\tau_x` each),
    the filters take this step's potential, potentiation accrues over the step, then a
    presynaptic spike depresses (the order of NEST's ``clopath_synapse``). :math:`u` is the
    somatic potential (``voltage='soma'``, as in the paper's neuron, whose spike
    after-depolarization supplies the strong depolarization) or the dendritic potential with
    the back-propagated spike (``'dendrite'``).

    Parameters
    ----------
    A_LTD : Quantity[1/mV], default 14e-5 /mV
        Depression per presynaptic spike per mV of :math:`\bar u_-` above :math:`\theta_-`.
    A_LTP : Quantity[1/(mV^2 ms)], default 8e-5 /mV^2 per ms
        Potentiation rate.
    theta_minus, theta_plus : Quantity[mV], default -70.6 mV and -45.3 mV
        Thresholds of the filtered and of the instantaneous potential; ``theta_minus`` is the
        resting potential of the paper's neuron.
    tau_u_minus, tau_u_plus, tau_x : Quantity[ms], default 10, 7 and 15 ms
        Time constants of the two filters of :math:`u` and of the presynaptic trace.
    homeostasis : bool, default False
        Scale depression with the mean depolarization.
    u_ref_squared : Quantity[mV^2], default 60 mV^2
        Reference of the homeostatic scaling.
    tau_homeo : Quantity[ms], default 1 s
        Averaging time of the mean depolarization.
    voltage : {'soma', 'dendrite'}
        Which potential is :math:`u`.
    w_min, w_max : Quantity[nS], default 0 nS and 1 nS
        Bounds of the AMPA conductance.

    Examples
    --------
    >>> import saiunit as u
    >>> from ltp_brainpy import ClopathRule, GlutamateSynapse, LTPNeuron, LTPProjection
    >>> rule = ClopathRule(theta_minus=-65 * u.mV)  # the resting potential of LTPNeuron
    >>> proj = LTPProjection(GlutamateSynapse(3), LTPNeuron(1), rule=rule)

    References
    ----------
    .. [1] Clopath, C., Büsing, L., Vasilaki, E., & Gerstner, W. (2010). Connectivity reflects
           coding: a model of voltage-based STDP with homeostasis. Nat. Neurosci. 13, 344-352.
    """
    __module__ = 'ltp_brainpy'
    presets = PRESETS

    def __init__(self, A_LTD=14e-5 / u.mV, A_LTP=8e-5 / u.mV ** 2, theta_minus=-70.6 * u.mV,
                 theta_plus=-45.3 * u.mV, tau_u_minus=10.0 * u.ms, tau_u_plus=7.0 * u.ms,
                 tau_x=15.0 * u.ms, homeostasis: bool = False,
                 u_ref_squared=60.0 * u.mV ** 2, tau_homeo=1000.0 * u.ms,
                 voltage: str = 'soma', w_min=0.0 * u.nS, w_max=1.0 * u.nS):
        super().__init__()
        owner = type(self).__name__
        self.A_LTD = quantity(owner, 'A_LTD', A_LTD, 1 / u.mV, nonnegative=True)
        self.A_LTP = quantity(owner, 'A_LTP', A_LTP, 1 / u.mV ** 2, nonnegative=True)
        self.theta_minus = quantity(owner, 'theta_minus', theta_minus, u.mV)
        self.theta_plus = quantity(owner, 'theta_plus', theta_plus, u.mV)
        self.tau_u_minus = quantity(owner, 'tau_u_minus', tau_u_minus, u.ms, positive=True)
        self.tau_u_plus = quantity(owner, 'tau_u_plus', tau_u_plus, u.ms, positive=True)
        self.tau_x = quantity(owner, 'tau_x', tau_x, u.ms, positive=True)
        self.u_ref_squared = quantity(owner, 'u_ref_squared', u_ref_squared, u.mV ** 2,
                                      positive=True)
        self.tau_homeo = quantity(owner, 'tau_homeo', tau_homeo, u.ms, positive=True)
        if not isinstance(homeostasis, bool):
            raise ParameterError(f'{owner}: parameter {"homeostasis"!r} must be a bool, '
                                 f'got {homeostasis!r}')
        if voltage not in VOLTAGES:
            raise ParameterError(f'{owner}: parameter {"voltage"!r} must be one of {VOLTAGES}, '
                                 f'got {voltage!r}')
        self.homeostasis, self.voltage = homeostasis, voltage
        self.w_min, self.w_max = weight_bounds(owner, w_min, w_max)

    def _initial(self, batch_size):
        n_pre, n_post = self.layout.n_pre, self.layout.n_post
        rest = filled(self.theta_minus, (n_post,), batch_size)
        return dict(x_bar=filled(0.0 / u.ms, (n_pre,), batch_size), u_minus=rest, u_plus=rest,
                    u_mean=filled(0.0 * u.mV, (n_post,), batch_size))

    def init_state(self, batch_size=None, **kwargs):
        for key, value in self._initial(batch_size).items():
            setattr(self, key, brainstate.HiddenState(value))

    def reset_state(self, batch_size=None, **kwargs):
        for key, value in self._initial(batch_size).items():
            getattr(self, key).value = value

    def update(self, w, signals: SynapseSignals):
        dt, layout = signals.dt, signals.layout
        V = signals.V if self.voltage == 'soma' else signals.V_dend
        x_bar = self.x_bar.value * u.math.exp(-dt / self.tau_x) + signals.pre_spike / self.tau_x
        u_minus = low_pass(self.u_minus.value, V, self.tau_u_minus, dt)
        u_plus = low_pass(self.u_plus.value, V, self.tau_u_plus, dt)
        a_ltd = self.A_LTD
        if self.homeostasis:
            self.u_mean.value = low_pass(self.u_mean.value, V - self.theta_minus,
                                         self.tau_homeo, dt)
            a_ltd = a_ltd * self.u_mean.value ** 2 / self.u_ref_squared
        potentiation = layout.post(self.A_LTP * rectified(V - self.theta_plus)
                                   * rectified(u_plus - self.theta_minus)) * layout.pre(x_bar) * dt
        w = u.math.clip(w + signals.w0 * u.maybe_decimal(potentiation), self.w_min, self.w_max)
        depression = layout.post(a_ltd * rectified(u_minus - self.theta_minus)) \
            * layout.pre(signals.pre_spike)
        w = u.math.clip(w - signals.w0 * u.maybe_decimal(depression), self.w_min, self.w_max)
        self.x_bar.value, self.u_minus.value, self.u_plus.value = x_bar, u_minus, u_plus
        return w
