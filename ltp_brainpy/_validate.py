"""Unit and range checks for public parameters, with messages that name the parameter.

Every constructor in the package passes its quantities through :func:`quantity`, so that a bare
number, a wrong unit or a non-physical value fails at construction, not deep inside a jitted
step. Values that are JAX tracers (a parameter being differentiated or vmapped) are checked for
their unit only: their numbers are not known until run time.
"""
from __future__ import annotations

import difflib
import inspect

import jax
import numpy as np
import saiunit as u

__all__ = ['ParameterError', 'quantity', 'require', 'keyword_names', 'unknown_key_error']


_FLOAT32_MAX = float(np.finfo(np.float32).max)


class ParameterError(ValueError):
    """A parameter has the wrong unit, is a bare number, or has a non-physical value."""


def _describe(unit: u.Unit) -> str:
    return '1 (dimensionless)' if unit.is_unitless else f'{unit} [{unit.dim}]'


def is_traced(value) -> bool:
    mantissa = value.mantissa if isinstance(value, u.Quantity) else value
    return isinstance(mantissa, jax.core.Tracer)


def quantity(owner: str, name: str, value, unit: u.Unit, *,
             positive: bool = False, nonnegative: bool = False, allow_inf: bool = False):
    """Return ``value`` expressed in ``unit``, or raise :class:`ParameterError`.

    Parameters
    ----------
    owner : str
        Class or function the parameter belongs to (used in the message).
    name : str
        Parameter name (used in the message).
    value : saiunit.Quantity
        The value to check; arrays are allowed and are checked element-wise.
    unit : saiunit.Unit or saiunit.Quantity
        Expected unit (``1 / u.ms`` is accepted as the unit 1/ms); any unit of the same
        dimension is accepted and converted.
    positive, nonnegative : bool
        Require every element to be > 0 (or >= 0).
    allow_inf : bool
        Accept ``inf`` (e.g. a time constant meaning "never").
    """
    where = f'{owner}: parameter {name!r}'
    if isinstance(unit, u.Quantity):  # e.g. 1 / u.ms
        unit = unit.unit
    if not isinstance(value, u.Quantity):
        if unit.is_unitless:
            value = u.Quantity(value)
        else:
            raise ParameterError(
                f'{where} must be a quantity in {_describe(unit)} '
                f'(a saiunit quantity such as 1.0 * u.{unit}), got the bare number {value!r}')
    if not u.have_same_dim(value, unit):
        raise ParameterError(
            f'{where} must be in {_describe(unit)}, got {value} '
            f'[{value.unit.dim}]')
    value = value.in_unit(unit)
    if is_traced(value):
        return value
    x = np.asarray(value.mantissa, dtype=float)
    if np.isnan(x).any():
        raise ParameterError(f'{where} must not be NaN, got {value}')
    if not allow_inf and np.isinf(x).any():
        raise ParameterError(f'{where} must be finite, got {value}')
    huge = np.abs(np.where(np.isfinite(x), x, 0.0))
    if (huge > _FLOAT32_MAX).any():
        raise ParameterError(f'{where} must lie within the float32 range of the simulations '
                             f'(|x| <= {_FLOAT32_MAX:.3g} {unit}), got {huge.max():g} {unit}')
    if positive and (x <= 0).any():
        raise ParameterError(f'{where} must be > 0, got {value}')
    if nonnegative and (x < 0).any():
        raise ParameterError(f'{where} must be >= 0, got {value}')
    return value


def require(owner: str, condition, message: str) -> None:
    """Raise :class:`ParameterError` with ``owner: message`` unless ``condition`` holds.

    ``condition`` may be a traced array (then the check is skipped, as in :func:`quantity`).
    """
    if isinstance(condition, jax.core.Tracer):
        return
    if not bool(np.all(np.asarray(condition))):
        raise ParameterError(f'{owner}: {message}')


def keyword_names(cls) -> list:
    """Names of the keyword parameters of ``cls``'s constructor (no ``*args``/``**kwargs``)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.kind in kinds and p.name != 'self']


def unknown_key_error(where: str, key: str, valid) -> ParameterError:
    """Error for an unknown name, suggesting the closest valid one."""
    close = difflib.get_close_matches(key, list(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ''
    return ParameterError(f'{where}: unknown parameter {key!r}{hint}')
