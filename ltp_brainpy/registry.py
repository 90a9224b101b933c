"""Every experiment a config can run, collected from the protocols' declarations.

A protocol is declared next to its function, in its own module (:mod:`ltp_brainpy.declare`:
its arguments, figure and targets); declaring registers it on import. This module imports the
package's protocol modules (:data:`PROTOCOL_MODULES`, the one list of them) and exposes the
registry, :data:`PROTOCOLS` (name -> :class:`~ltp_brainpy.declare.Protocol`, callable like
its function), with helpers over the declarations. A protocol declared elsewhere (a user's
module, a test) is in :data:`PROTOCOLS` as soon as its module is imported.
"""
from __future__ import annotations

import importlib

from .declare import PROTOCOLS, RUNTIME, Protocol

__all__ = ['PROTOCOLS', 'PROTOCOL_MODULES', 'ARGUMENTS', 'NETWORK_OPTIONS', 'check_argument',
           'allowed_arguments', 'required_arguments', 'accepts', 'declaration', 'Protocol']

#: The package's modules that declare protocols, imported here (in this order).
PROTOCOL_MODULES = ('ltp_brainpy.protocols', 'ltp_brainpy.network_experiments',
                    'ltp_brainpy.fit', 'ltp_brainpy.digits')
for _module in PROTOCOL_MODULES:
    importlib.import_module(_module)

from .network_experiments import NETWORK_OPTIONS  # noqa: E402

_RUNTIME = set(RUNTIME)  # set by the runner from the config's top level


def declaration(protocol: str) -> Protocol:
    """The declaration of ``protocol`` (KeyError if none)."""
    return PROTOCOLS[protocol]


def allowed_arguments(protocol: str) -> set:
    """Names a ``[[run]]`` table of ``protocol`` may set (model parameters go in [model])."""
    return set(PROTOCOLS[protocol].arguments)


def required_arguments(protocol: str) -> set:
    return PROTOCOLS[protocol].required


def accepts(protocol: str, name: str) -> bool:
    """Whether ``protocol`` has a parameter ``name`` (``dt``, ``seed``, ``pbar`` ...)."""
    return PROTOCOLS[protocol].accepts(name)


def check_argument(protocol: str, name: str, value):
    """Validate one argument (unit, sign, type) without running anything."""
    return PROTOCOLS[protocol].arguments[name].check(protocol, name, value)


def __getattr__(name):
    if name == 'ARGUMENTS':  # every declared argument name -> (unit or type, checks)
        arguments = {}
        for p in PROTOCOLS.values():
            for key, argument in p.arguments.items():
                arguments.setdefault(key, (argument.kind, argument.checks))
        return arguments
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
