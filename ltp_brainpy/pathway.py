"""A presynaptic pathway onto a population: the unit that protocols and networks are built of."""
from __future__ import annotations

from typing import Optional

import brainstate
import saiunit as u

from ._validate import ParameterError
from .dendrite import Dendrite
from .glutamate import GlutamateSynapse
from .neuron import LTPNeuron
from .parameters import split_parameters
from .projection import LTPProjection

__all__ = ['Pathway']


class Pathway(brainstate.nn.Module):
    r"""``n_pre`` presynaptic axons onto ``n_post`` neurons, plastically connected.

    The components are built from one flat set of model parameters (see
    :func:`ltp_brainpy.parameters.split_parameters`) and advanced in the order of the biology:
    presynaptic release, spine calcium and AMPA plasticity (the projection's update), then
    the membrane. The neurons are :class:`LTPNeuron` s, or any ``brainpy.state`` neuron made
    by ``neuron`` (which then gets a :class:`Dendrite` with the dendrite parameters).

    Parameters
    ----------
    n_pre, n_post : int
        Number of presynaptic axons and postsynaptic neurons.
    conn : None, float or bool array
        Connectivity of the projection (see :class:`LTPProjection`).
    seed : int, optional
        Seed of a random connectivity.
    spk_fun : callable, optional
        Spike function of the neurons (default: :class:`LTPNeuron`'s surrogate).
    neuron : callable, optional
        ``neuron(n_post)`` returns the postsynaptic population, e.g.
        ``lambda n: brainpy.state.LIFRef(n, ...)``; default :class:`LTPNeuron` with ``params``.
    **params
        Model parameter overrides by name (e.g. ``theta_p=0.6 * u.uM``, ``gbar_N=0 * u.nS``),
        and ``rule``, the plasticity rule by name (:data:`ltp_brainpy.parameters.RULES`).

    Examples
    --------
    >>> import brainstate, saiunit as u, jax.numpy as jnp
    >>> from ltp_brainpy import Pathway, simulate
    >>> path = Pathway(10, 1, gbar_N=0 * u.nS)
    >>> _ = brainstate.nn.init_all_states(path)
    >>> spikes = jnp.zeros((100, 10), dtype=bool).at[0].set(True)
    >>> V = simulate.run(lambda s: (path.update(s), path.neuron.V.value)[1], 100, spikes)
    """

    def __init__(self, n_pre: int, n_post: int = 1, conn=None, seed: Optional[int] = None,
                 spk_fun=None, neuron=None, **params):
        super().__init__()
        p = split_parameters(params)
        self.synapse = GlutamateSynapse(n_pre, **p['synapse'])
        dendrite = None
        if neuron is None:
            self.neuron = LTPNeuron(n_post, **p['neuron'], **p['dendrite'],
                                    **({} if spk_fun is None else {'spk_fun': spk_fun}))
        else:
            if p['neuron']:
                raise ParameterError(f'Pathway: LTPNeuron parameters '
                                     f'{sorted(p["neuron"])} do not apply to a custom neuron')
            self.neuron = neuron(n_post)
            dendrite = Dendrite(self.neuron.varshape, **p['dendrite'])
        self.projection = LTPProjection(self.synapse, self.neuron, conn=conn, seed=seed,
                                        rule=p['rule_class'](**p['rule']), dendrite=dendrite,
                                        **p['projection'])

    def update(self, pre_spike, I_ext=0.0 * u.pA):
        """Advance one step given the presynaptic spikes and an injected current (pA)."""
        self.projection.update(pre_spike)
        return self.neuron(I_ext)
