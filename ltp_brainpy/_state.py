"""Initial state arrays with a fixed dtype.

``braintools.init.param(Constant(0.0), ...)`` gives JAX *weakly typed* arrays; after one step
they become strongly typed, and every compiled function that reads the states compiles a second
time. Building initial values here, in the default float dtype (``brainstate.environ.dftype()``,
float64 after ``brainstate.environ.set(precision=64)``), avoids that.
"""
from __future__ import annotations

import brainstate
import braintools
import jax.numpy as jnp
import saiunit as u

__all__ = ['filled', 'initialized']


def filled(value, varshape, batch_size=None, dtype=None):
    """``value`` (quantity or number) broadcast to ``(batch_size,) + varshape``, strongly typed."""
    return _typed(braintools.init.param(braintools.init.Constant(value), varshape, batch_size),
                  dtype)


def initialized(initializer, varshape, batch_size=None):
    """An initializer (callable, quantity or number) evaluated on ``(batch_size,) + varshape``,
    broadcast to that shape and strongly typed in the default float dtype."""
    x = braintools.init.param(initializer, varshape, batch_size)
    shape = ((batch_size,) if batch_size else ()) + tuple(varshape)
    return _typed(u.math.broadcast_to(x, shape), None)


def _typed(x, dtype):
    dtype = dtype or brainstate.environ.dftype()
    if isinstance(x, u.Quantity):
        return u.Quantity(jnp.asarray(x.mantissa, dtype=dtype), unit=x.unit)
    return jnp.asarray(x, dtype=dtype)
