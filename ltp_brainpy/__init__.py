"""NMDA-receptor dependent LTP and LTD as drop-in ``brainpy.state`` components.

Components (each a unit-checked ``brainpy.state`` class):

- :class:`GlutamateSynapse` -- presynaptic release with depletion driving AMPA/NMDA gating
- :class:`LTPNeuron` -- integrate-and-fire neuron with a timed, back-propagating spike and a clamp
- :class:`Dendrite` -- back-propagated depolarization and spike calcium, for any neuron
- :class:`LTPProjection` -- per-synapse AMPA conductance and NMDA spine calcium, plastic
- :class:`CalciumControlRule` -- AMPA insertion/removal by calcium (any :class:`PlasticityRule`)
- :class:`TripletSTDPRule` -- triplet STDP (Pfister & Gerstner 2006)
- :class:`GraupnerBrunelRule` -- bistable calcium-based synapse (Graupner & Brunel 2012)
- :class:`ClopathRule` -- voltage-based STDP with homeostasis (Clopath et al. 2010)
- :func:`mg_unblock` -- the Mg²⁺ block of NMDA receptors
- :class:`LayeredNetwork` -- layers of LTP neurons with plastic bottom-up/top-down projections,
  :class:`LateralInhibition` (competition) and :class:`AdaptiveThreshold` (homeostasis)
"""
import os as _os

if _os.environ.get('LTP_BRAINPY_COORDINATOR') or _os.environ.get('LTP_BRAINPY_DISTRIBUTED'):
    # jax.distributed must start before anything initialises JAX (ltp_brainpy.devices)
    from .devices import initialize_distributed as _initialize_distributed
    _initialize_distributed()

from ._validate import ParameterError
from .clopath import ClopathRule
from .connectivity import FixedInDegree, connection_mask
from .dendrite import Dendrite
from .glutamate import GlutamateSynapse
from .graupner_brunel import GraupnerBrunelRule
from .neuron import LTPNeuron
from .network import AdaptiveThreshold, LayeredNetwork, LateralInhibition, NetworkRecord
from .pathway import Pathway
from .plasticity import (CalciumControlRule, PlasticityRule, StatefulRule, SynapseSignals,
                         mg_unblock)
from .projection import LTPProjection
from .triplet import TripletSTDPRule
from . import simulate

__version__ = '0.1.0'

__all__ = [
    'GlutamateSynapse', 'LTPNeuron', 'Dendrite', 'LTPProjection', 'CalciumControlRule',
    'TripletSTDPRule', 'GraupnerBrunelRule', 'ClopathRule', 'PlasticityRule', 'StatefulRule', 'SynapseSignals', 'FixedInDegree',
    'Pathway', 'LayeredNetwork', 'LateralInhibition', 'AdaptiveThreshold', 'NetworkRecord',
    'mg_unblock',
    'connection_mask', 'simulate', 'ParameterError', '__version__',
]
