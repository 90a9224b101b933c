r"""Integrate-and-fire neuron whose action potential has a duration and back-propagates."""
from __future__ import annotations

from typing import Callable, Optional

import brainpy
import brainstate
import braintools
import jax
import jax.numpy as jnp
import saiunit as u
from brainstate.typing import Size

from ._state import filled
from ._validate import keyword_names, quantity, require, unknown_key_error
from .dendrite import Dendrite

__all__ = ['LTPNeuron', 'heaviside']


def heaviside(x):
    """Spike function without a surrogate: 1.0 where ``x > 0``, with zero gradient.

    Spike times depend on parameters in steps, so the derivative of a simulation through its
    spikes is zero almost everywhere; this is what gradients of protocol outcomes with respect
    to model parameters should see (a fit uses it). The default surrogate
    (``braintools.surrogate.ReluGrad``) instead lets training signals flow through spikes.
    """
    return jax.lax.stop_gradient((x > 0).astype(jnp.result_type(float)))


class LTPNeuron(brainpy.state.Neuron):
    r"""Conductance-input integrate-and-fire neuron with a timed action potential.

    .. math::

        C \frac{dV}{dt} = -g_L (V - E_L) + I_{syn}(V) + I_{ext}

    When :math:`V \ge V_{th}` outside refractoriness the neuron spikes: :math:`V` is held at
    :math:`V_{ap}` for :math:`t_{ap}` (``round(t_ap / dt)`` steps), then at :math:`V_{reset}`
    until :math:`t_{ref}` has passed since the spike. Each spike back-propagates into the
    dendrite (:class:`~ltp_brainpy.Dendrite`, ``neuron.dendrite``: a fast and a slow
    depolarization and spike-evoked calcium), so spines see the dendritic potential
    :math:`V_{dend} = V + \mathrm{bpap} + \mathrm{bpap}_f` (:meth:`dendritic_potential`).
    Each neuron can be voltage-clamped at its own holding
    potential (:meth:`clamp`, :meth:`unclamp`, also inside a compiled loop): while clamped,
    :math:`V = V_{hold}`, the neuron does not spike and no bpAP is added.

    The action potential and refractory period are timed with integer step countdowns, so they
    last exactly ``round(t_ap / dt)`` and ``round(t_ref / dt)`` steps whatever the float
    precision. Synaptic currents are registered on the neuron as callables of ``V``
    (``add_current_input``), so the exponential-Euler step of ``V`` sees their conductance.

    Parameters
    ----------
    in_size : Size
        Number (or shape) of neurons.
    C : Quantity[pF], default 200 pF
        Membrane capacitance.
    g_L : Quantity[nS], default 10 nS
        Leak conductance (membrane time constant C/g_L = 20 ms).
    E_L : Quantity[mV], default -65 mV
        Leak reversal (resting) potential.
    V_th : Quantity[mV], default -50 mV
        Spike threshold.
    V_ap : Quantity[mV], default 10 mV
        Potential held during the action potential.
    t_ap : Quantity[ms], default 2 ms
        Duration of the action potential.
    V_reset : Quantity[mV], default -65 mV
        Potential held after the action potential until ``t_ref`` has passed.
    t_ref : Quantity[ms], default 4 ms
        Refractory period measured from the spike; longer than ``t_ap``.
    V_initializer : Callable or Quantity, optional
        Initial potential; defaults to ``E_L``.
    spk_fun : Callable
        Surrogate spike function (forward: Heaviside), which lets gradients flow through spikes;
        :func:`heaviside` gives the exact (zero) gradient through spike generation.
    name : str, optional
        Module name.
    **dendrite
        Parameters of the neuron's :class:`~ltp_brainpy.Dendrite` (``A_bpap_fast``,
        ``tau_bpap_fast``, ``A_bpap``, ``tau_bpap``, ``A_ca``, ``tau_ca_post``).

    Attributes
    ----------
    V : HiddenState[mV]
        Somatic membrane potential.
    dendrite : Dendrite
        Back-propagated depolarization (``bpap``, ``bpap_fast``) and spike calcium
        (``ca_post``) of the dendrite.
    spike : ShortTermState
        1.0 on the step an action potential starts, else 0.0.
    clamped : ShortTermState[bool]
        Which neurons are voltage-clamped.
    V_hold : ShortTermState[mV]
        Holding potential of clamped neurons.

    Examples
    --------
    >>> import brainstate, saiunit as u
    >>> from ltp_brainpy import LTPNeuron
    >>> neu = LTPNeuron(4, t_ap=3 * u.ms)
    >>> neu.init_state()
    >>> neu.clamp(0 * u.mV)
    >>> with brainstate.environ.context(dt=0.1 * u.ms):
    ...     spike = neu.update(300 * u.pA)

    References
    ----------
    .. [1] Gerstner, W., Kistler, W. M., Naud, R., & Paninski, L. (2014). Neuronal Dynamics,
           chapter 1. Cambridge University Press.
    .. [2] Stuart, G. J., & Sakmann, B. (1994). Active propagation of somatic action potentials
           into neocortical pyramidal cell dendrites. Nature 367, 69-72.
    .. [3] Shouval, H. Z., Bear, M. F., & Cooper, L. N. (2002). PNAS 99(16), 10831-10836
           (back-propagating spike and its calcium as a plasticity signal).
    """
    __module__ = 'ltp_brainpy'

    def __init__(
        self,
        in_size: Size,
        C=200.0 * u.pF,
        g_L=10.0 * u.nS,
        E_L=-65.0 * u.mV,
        V_th=-50.0 * u.mV,
        V_ap=10.0 * u.mV,
        t_ap=2.0 * u.ms,
        V_reset=-65.0 * u.mV,
        t_ref=4.0 * u.ms,
        V_initializer: Callable | u.Quantity | None = None,
        spk_fun: Callable = braintools.surrogate.ReluGrad(),
        name: Optional[str] = None,
        **dendrite,
    ):
        super().__init__(in_size, spk_fun=spk_fun, spk_reset='hard', name=name)
        owner = type(self).__name__

        def param(key, value, unit, **checks):
            return braintools.init.param(quantity(owner, key, value, unit, **checks), self.varshape)

        self.C = param('C', C, u.pF, positive=True)
        self.g_L = param('g_L', g_L, u.nS, nonnegative=True)
        self.E_L = param('E_L', E_L, u.mV)
        self.V_th = param('V_th', V_th, u.mV)
        self.V_ap = param('V_ap', V_ap, u.mV)
        self.t_ap = param('t_ap', t_ap, u.ms, positive=True)
        self.V_reset = param('V_reset', V_reset, u.mV)
        self.t_ref = param('t_ref', t_ref, u.ms, positive=True)
        unknown = sorted(set(dendrite) - set(keyword_names(Dendrite)))
        if unknown:
            raise unknown_key_error(owner, unknown[0],
                                    keyword_names(Dendrite) + keyword_names(type(self)))
        self.dendrite = Dendrite(self.varshape, **dendrite)
        require(owner, self.V_reset < self.V_th,
                f'V_reset must be below V_th, got V_reset={V_reset}, V_th={V_th}')
        require(owner, self.V_ap >= self.V_th, f'V_ap must be at least V_th, got V_ap={V_ap}')
        require(owner, self.t_ref > self.t_ap,
                f't_ref must exceed t_ap (the reset follows the action potential), '
                f'got t_ref={t_ref}, t_ap={t_ap}')
        self.V_initializer = (braintools.init.Constant(self.E_L) if V_initializer is None
                              else V_initializer)

    def _initial_values(self, batch_size):
        def full(value, dtype=None):
            return filled(value, self.varshape, batch_size, dtype)

        V = braintools.init.param(self.V_initializer, self.varshape, batch_size)
        return dict(
            V=full(V), spike=full(0.0),
            ap_steps=full(0, jnp.int32), ref_steps=full(0, jnp.int32),
            clamped=full(False, bool), V_hold=full(self.E_L),
        )

    def init_state(self, batch_size=None, **kwargs):
        values = self._initial_values(batch_size)
        self.V = brainstate.HiddenState(values['V'])
        self.dendrite.init_state(batch_size)
        for key in ('spike', 'ap_steps', 'ref_steps', 'clamped', 'V_hold'):
            setattr(self, key, brainstate.ShortTermState(values[key]))

    def reset_state(self, batch_size=None, **kwargs):
        for key, value in self._initial_values(batch_size).items():
            getattr(self, key).value = value
        self.dendrite.reset_state(batch_size)

    def clamp(self, V_hold, where=True):
        """Voltage-clamp the neurons selected by ``where`` (bool mask; default all) at V_hold."""
        V_hold = quantity(type(self).__name__, 'V_hold', V_hold, u.mV)
        where = u.math.broadcast_to(u.math.asarray(where, dtype=bool), self.clamped.value.shape)
        self.clamped.value = self.clamped.value | where
        self.V_hold.value = u.math.where(where, V_hold, self.V_hold.value)
        self.V.value = u.math.where(where, V_hold, self.V.value)

    def unclamp(self, where=True):
        """Release the clamp of the neurons selected by ``where`` (default all)."""
        where = u.math.broadcast_to(u.math.asarray(where, dtype=bool), self.clamped.value.shape)
        self.clamped.value = self.clamped.value & ~where

    def dendritic_potential(self):
        """Potential seen by the spines, :math:`V + \\mathrm{bpap} + \\mathrm{bpap}_f`."""
        return self.V.value + self.dendrite.depolarization()

    def get_spike(self, V=None):
        """1.0 where an action potential started on the last step."""
        return self.spike.value

    def update(self, x=0.0 * u.pA):
        dt = brainstate.environ.get_dt()

        def steps(duration):
            return u.math.round(u.maybe_decimal(duration / dt)).astype(jnp.int32)

        # Free membrane: C dV/dt = -g_L (V - E_L) + I(V); the inputs are read every step.
        dv = lambda v: (self.g_L * (self.E_L - v) + self.sum_current_inputs(x, v)) / self.C
        V_free = self.sum_delta_inputs(brainstate.nn.exp_euler_step(dv, self.V.value))

        ap_steps = u.math.maximum(self.ap_steps.value - 1, 0)
        ref_steps = u.math.maximum(self.ref_steps.value - 1, 0)
        clamped = self.clamped.value
        can_fire = (ref_steps == 0) & ~clamped
        spike = self.spk_fun(u.maybe_decimal((V_free - self.V_th) / (self.V_th - self.V_reset)))
        spike = spike * can_fire
        fired = spike > 0
        ap_steps = u.math.where(fired, steps(self.t_ap), ap_steps)
        ref_steps = u.math.where(fired, steps(self.t_ref), ref_steps)

        V = u.math.where(ap_steps > 0, self.V_ap, u.math.where(ref_steps > 0, self.V_reset, V_free))
        self.V.value = u.math.where(clamped, self.V_hold.value, V)
        self.dendrite.update(spike)
        self.ap_steps.value, self.ref_steps.value, self.spike.value = ap_steps, ref_steps, spike
        return spike
