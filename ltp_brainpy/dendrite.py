r"""The postsynaptic side of plasticity: back-propagated depolarization and spike calcium."""
from __future__ import annotations

from typing import Optional

import brainpy
import brainstate
import braintools
import saiunit as u
from brainstate.typing import Size

from ._state import filled
from ._validate import ParameterError, quantity

__all__ = ['Dendrite', 'dendrite_of']

#: Key of the dendrite among a stock neuron's after-updates.
AFTER_UPDATE_KEY = 'ltp_dendrite'


class Dendrite(brainstate.nn.Dynamics):
    r"""Back-propagated action potentials and spike-evoked calcium in a neuron's dendrites.

    Spines learn from two postsynaptic signals that follow the neuron's spikes: the spike
    back-propagating into the dendrite, which unblocks NMDA receptors, and the calcium that
    it lets in through voltage-gated channels. Each spike adds to three traces:

    .. math::

        \frac{d\,\mathrm{bpap}_f}{dt} = -\frac{\mathrm{bpap}_f}{\tau_{bpap,f}}, \qquad
        \frac{d\,\mathrm{bpap}}{dt} = -\frac{\mathrm{bpap}}{\tau_{bpap}}, \qquad
        \frac{d\,ca_{post}}{dt} = -\frac{ca_{post}}{\tau_{ca,post}}

        \text{on a spike: } \mathrm{bpap}_f \mathrel{+}= A_{bpap,f},\;
        \mathrm{bpap} \mathrel{+}= A_{bpap},\; ca_{post} \mathrel{+}= A_{ca}

    The fast part is the spike itself in the dendrite (a few ms), the slow part the
    after-depolarization (tens of ms), as in Shouval, Bear & Cooper (2002). Spines see the
    dendritic potential :math:`V + \mathrm{bpap}_f + \mathrm{bpap}` and add :math:`ca_{post}`
    to their own NMDA calcium.

    :class:`~ltp_brainpy.LTPNeuron` owns one (``neuron.dendrite``). For any other neuron
    (``brainpy.state.LIF``, ``LIFRef``, ``HH``, ...) :class:`~ltp_brainpy.LTPProjection` attaches
    one as an after-update of the neuron (:func:`dendrite_of`): it receives the spikes the neuron
    returns each time the neuron is called (``neuron(x)``, brainpy.state's idiom, which runs
    the after-updates; a bare ``neuron.update(x)`` skips them).

    Parameters
    ----------
    in_size : Size
        Number (or shape) of neurons.
    A_bpap_fast : Quantity[mV], default 96.7 mV
        Fast part of the back-propagated depolarization added by each spike (Shouval et al.
        2002: 75 mV). Calibrated (docs/model.md, section 4).
    tau_bpap_fast : Quantity[ms], default 2.12 ms
        Decay time constant of the fast part (Shouval et al. 2002: 3 ms). Calibrated.
    A_bpap : Quantity[mV], default 21.7 mV
        Slow part: the after-depolarization (Shouval et al. 2002: 25 mV). Calibrated.
    tau_bpap : Quantity[ms], default 21.2 ms
        Decay time constant of the slow part (Shouval et al. 2002: 25 ms). Calibrated.
    A_ca : Quantity[uM], default 0.23 uM
        Calcium added to every spine of the neuron by each spike (voltage-gated channels);
        below the rule's ``theta_d``, so that a spike alone changes no synapse. Calibrated.
    tau_ca_post : Quantity[ms], default 12 ms
        Decay time constant of that calcium (Sabatini et al. 2002: ~10 ms). Calibrated.
    name : str, optional
        Module name.

    Attributes
    ----------
    bpap_fast, bpap : HiddenState[mV]
        The two parts of the back-propagated depolarization.
    ca_post : HiddenState[uM]
        Spike-evoked calcium shared by all spines of the neuron.
    spike : ShortTermState
        The spikes received on the last update (what rules read as the postsynaptic spike).

    Examples
    --------
    >>> import brainstate, saiunit as u, jax.numpy as jnp
    >>> from ltp_brainpy import Dendrite
    >>> dendrite = Dendrite(3, A_bpap=30 * u.mV)
    >>> dendrite.init_state()
    >>> with brainstate.environ.context(dt=0.1 * u.ms):
    ...     dendrite.update(jnp.array([1.0, 0.0, 0.0]))
    >>> dendrite.depolarization()[0] > 100 * u.mV
    Array(True, dtype=bool)

    References
    ----------
    .. [1] Stuart, G. J., & Sakmann, B. (1994). Active propagation of somatic action potentials
           into neocortical pyramidal cell dendrites. Nature 367, 69-72.
    .. [2] Shouval, H. Z., Bear, M. F., & Cooper, L. N. (2002). PNAS 99(16), 10831-10836.
    .. [3] Sabatini, B. L., Oertner, T. G., & Svoboda, K. (2002). The life cycle of Ca2+ ions
           in dendritic spines. Neuron 33(3), 439-452.
    """
    __module__ = 'ltp_brainpy'

    def __init__(
        self,
        in_size: Size,
        A_bpap_fast=96.7 * u.mV,
        tau_bpap_fast=2.12 * u.ms,
        A_bpap=21.7 * u.mV,
        tau_bpap=21.2 * u.ms,
        A_ca=0.23 * u.uM,
        tau_ca_post=12.0 * u.ms,
        name: Optional[str] = None,
    ):
        super().__init__(in_size, name=name)
        owner = type(self).__name__

        def param(key, value, unit, **checks):
            return braintools.init.param(quantity(owner, key, value, unit, **checks), self.varshape)

        self.A_bpap_fast = param('A_bpap_fast', A_bpap_fast, u.mV, nonnegative=True)
        self.tau_bpap_fast = param('tau_bpap_fast', tau_bpap_fast, u.ms, positive=True)
        self.A_bpap = param('A_bpap', A_bpap, u.mV, nonnegative=True)
        self.tau_bpap = param('tau_bpap', tau_bpap, u.ms, positive=True)
        self.A_ca = param('A_ca', A_ca, u.uM, nonnegative=True)
        self.tau_ca_post = param('tau_ca_post', tau_ca_post, u.ms, positive=True)

    def _initial_values(self, batch_size):
        def full(value):
            return filled(value, self.varshape, batch_size)

        return dict(bpap_fast=full(0.0 * u.mV), bpap=full(0.0 * u.mV), ca_post=full(0.0 * u.uM),
                    spike=full(0.0))

    def init_state(self, batch_size=None, **kwargs):
        values = self._initial_values(batch_size)
        for key in ('bpap_fast', 'bpap', 'ca_post'):
            setattr(self, key, brainstate.HiddenState(values[key]))
        self.spike = brainstate.ShortTermState(values['spike'])

    def reset_state(self, batch_size=None, **kwargs):
        for key, value in self._initial_values(batch_size).items():
            getattr(self, key).value = value

    def update(self, spike):
        """Decay the traces over one step, then add the contribution of ``spike`` (0/1 or a
        surrogate spike, whose gradient flows into the traces)."""
        dt = brainstate.environ.get_dt()
        spike = u.math.asarray(getattr(spike, 'value', spike), dtype=self.spike.value.dtype)
        self.bpap_fast.value = (self.bpap_fast.value * u.math.exp(-dt / self.tau_bpap_fast)
                                + self.A_bpap_fast * spike)
        self.bpap.value = self.bpap.value * u.math.exp(-dt / self.tau_bpap) + self.A_bpap * spike
        self.ca_post.value = (self.ca_post.value * u.math.exp(-dt / self.tau_ca_post)
                              + self.A_ca * spike)
        self.spike.value = spike

    def depolarization(self):
        r"""Back-propagated depolarization, :math:`\mathrm{bpap}_f + \mathrm{bpap}` (mV)."""
        return self.bpap.value + self.bpap_fast.value

    def calcium(self):
        """Spike-evoked calcium of every spine of the neuron (uM)."""
        return self.ca_post.value


def dendrite_of(neuron: brainpy.state.Neuron, dendrite: Optional[Dendrite] = None) -> Dendrite:
    """The :class:`Dendrite` that follows ``neuron``'s spikes, attaching one if it has none.

    An :class:`~ltp_brainpy.LTPNeuron` has its own. A stock neuron gets ``dendrite`` (default:
    ``Dendrite`` with the calibrated parameters) as an after-update, once: every projection onto
    the neuron shares it.
    """
    own = getattr(neuron, 'dendrite', None)
    if isinstance(own, Dendrite):
        if dendrite is not None and dendrite is not own:
            raise ParameterError(f'LTPProjection: parameter {"dendrite"!r} must be None for a '
                                 f'{type(neuron).__name__}, which has its own dendrite '
                                 f'(set its parameters on the neuron)')
        return own
    if neuron.has_after_update(AFTER_UPDATE_KEY):
        attached = neuron.get_after_update(AFTER_UPDATE_KEY)
        if dendrite is not None and dendrite is not attached:
            raise ParameterError(f'LTPProjection: parameter {"dendrite"!r}: neuron '
                                 f'{neuron.name!r} already has a dendrite attached by another '
                                 f'projection; pass that one or None')
        return attached
    dendrite = Dendrite(neuron.varshape) if dendrite is None else dendrite
    if not isinstance(dendrite, Dendrite) or tuple(dendrite.varshape) != tuple(neuron.varshape):
        raise ParameterError(f'LTPProjection: parameter {"dendrite"!r} must be a Dendrite of '
                             f'size {tuple(neuron.varshape)}, got {dendrite!r}')
    neuron.add_after_update(AFTER_UPDATE_KEY, dendrite)
    return dendrite
