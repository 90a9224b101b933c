"""Registering a module's current on a neuron."""
from __future__ import annotations

__all__ = ['BoundCurrent']


class BoundCurrent:
    """``module.current(V)`` as a neuron's current input.

    A bound method would do, but it prints its module, whose repr prints the neuron, whose
    repr prints its inputs ... -- an endless cycle in brainstate's pretty printer. This
    callable prints as a short tag instead.
    """

    def __init__(self, module):
        self._module = module

    def __call__(self, V):
        return self._module.current(V)

    def __repr__(self):
        return f'<current of {self._module.name}>'
