"""Model parameters by name: which component owns each one, and routing of overrides.

Every model parameter has a unique name across the components, so one flat set of overrides
(``theta_p=0.6 * u.uM, t_ap=3 * u.ms``, or a config file's ``[model]`` table) configures a whole
model. Unknown names are rejected with the closest valid name.
"""
from __future__ import annotations

import difflib
import inspect

from ._validate import ParameterError
from .glutamate import GlutamateSynapse
from .neuron import LTPNeuron
from .plasticity import CalciumControlRule
from .projection import LTPProjection

__all__ = ['COMPONENTS', 'parameter_names', 'default_parameters', 'split_parameters']

#: Component name -> class whose keyword arguments are model parameters.
COMPONENTS = {
    'synapse': GlutamateSynapse,
    'neuron': LTPNeuron,
    'projection': LTPProjection,
    'rule': CalciumControlRule,
}
_STRUCTURAL = {'self', 'in_size', 'name', 'pre', 'post', 'conn', 'rule', 'plastic', 'seed',
               'V_initializer', 'spk_fun'}


def default_parameters() -> dict:
    """``{component: {name: default quantity}}`` for every model parameter."""
    return {
        component: {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
                    if p.name not in _STRUCTURAL}
        for component, cls in COMPONENTS.items()
    }


def parameter_names() -> dict:
    """``{name: component}`` for every model parameter."""
    return {name: component for component, params in default_parameters().items()
            for name in params}


def unknown_key_error(where: str, key: str, valid) -> ParameterError:
    """Error for an unknown name, suggesting the closest valid one."""
    close = difflib.get_close_matches(key, list(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ''
    return ParameterError(f'{where}: unknown parameter {key!r}{hint}')


def split_parameters(params: dict, where: str = 'model') -> dict:
    """Route flat overrides to their components: ``{component: {name: value}}``."""
    owners = parameter_names()
    split = {component: {} for component in COMPONENTS}
    for key, value in params.items():
        if key not in owners:
            raise unknown_key_error(where, key, owners)
        split[owners[key]][key] = value
    return split
