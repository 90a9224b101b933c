"""Model parameters by name: which component owns each one, and routing of overrides.

Every model parameter has a unique name across the components, so one flat set of overrides
(``theta_p=0.6 * u.uM, t_ap=3 * u.ms``, or a config file's ``[model]`` table) configures a whole
model. Unknown names are rejected with the closest valid name. The plasticity rule is chosen by
name among :data:`RULES` with the key ``rule`` (``rule="calcium_control"`` by default); its
parameters then join the namespace.
"""
from __future__ import annotations

import inspect

from ._validate import ParameterError, unknown_key_error
from .clopath import ClopathRule
from .dendrite import Dendrite
from .glutamate import GlutamateSynapse
from .graupner_brunel import GraupnerBrunelRule
from .neuron import LTPNeuron
from .plasticity import CalciumControlRule
from .projection import LTPProjection
from .triplet import TripletSTDPRule

__all__ = ['COMPONENTS', 'RULES', 'DEFAULT_RULE', 'rule_class', 'parameter_names',
           'default_parameters', 'split_parameters', 'unknown_key_error']

#: Plasticity rules selectable by name (``rule = "..."``).
RULES = {
    'calcium_control': CalciumControlRule,
    'triplet': TripletSTDPRule,
    'graupner_brunel': GraupnerBrunelRule,
    'clopath': ClopathRule,
}
DEFAULT_RULE = 'calcium_control'

#: Component name -> class whose keyword arguments are model parameters (the rule's class
#: depends on the chosen rule).
COMPONENTS = {
    'synapse': GlutamateSynapse,
    'neuron': LTPNeuron,
    'dendrite': Dendrite,
    'projection': LTPProjection,
    'rule': CalciumControlRule,
}
_STRUCTURAL = {'self', 'in_size', 'name', 'pre', 'post', 'conn', 'rule', 'plastic', 'seed',
               'V_initializer', 'spk_fun',
               'sparse', 'dendrite', 'ampa', 'g_initializer', 'x_initializer'}


def rule_class(rule: str = DEFAULT_RULE, where: str = 'model'):
    """The plasticity rule class registered as ``rule``."""
    if not isinstance(rule, str):
        raise ParameterError(f'{where}: parameter {"rule"!r} must be the name of a rule '
                             f'({", ".join(RULES)}), got {rule!r}')
    if rule not in RULES:
        raise ParameterError(f'{where}: unknown rule {rule!r}; choose one of '
                             f'{", ".join(RULES)}')
    return RULES[rule]


def default_parameters(rule: str = DEFAULT_RULE) -> dict:
    """``{component: {name: default quantity}}`` for every model parameter."""
    classes = {**COMPONENTS, 'rule': rule_class(rule)}
    return {
        component: {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
                    if p.name not in _STRUCTURAL and p.kind != p.VAR_KEYWORD}
        for component, cls in classes.items()
    }


def parameter_names(rule: str = DEFAULT_RULE) -> dict:
    """``{name: component}`` for every model parameter (with the rule's)."""
    return {name: component for component, params in default_parameters(rule).items()
            for name in params}


def split_parameters(params: dict, where: str = 'model') -> dict:
    """Route flat overrides to their components: ``{component: {name: value}}``, plus
    ``'rule_class'``, the class of the rule named by ``params['rule']`` (default
    :data:`DEFAULT_RULE`)."""
    params = dict(params)
    rule = params.pop('rule', DEFAULT_RULE)
    cls = rule_class(rule, where)
    owners = parameter_names(rule)
    split = {component: {} for component in COMPONENTS}
    for key, value in params.items():
        if key not in owners:
            raise unknown_key_error(where, key, owners)
        split[owners[key]][key] = value
    split['rule_class'] = cls
    return split
