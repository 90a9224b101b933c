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

__all__ = ['filled']


def filled(value, varshape, batch_size=None, dtype=None):
    """``value`` (quantity or number) broadcast to ``(batch_size,) + varshape``, strongly typed."""
    x = braintools.init.param(braintools.init.Constant(value), varshape, batch_size)
    dtype = dtype or brainstate.environ.dftype()
    if isinstance(x, u.Quantity):
        return u.Quantity(jnp.asarray(x.mantissa, dtype=dtype), unit=x.unit)
    return jnp.asarray(x, dtype=dtype)
