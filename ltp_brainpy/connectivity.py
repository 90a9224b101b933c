r"""Which presynaptic neuron contacts which postsynaptic neuron, and how synapses are stored.

A plastic projection keeps two numbers per synapse (AMPA conductance and spine calcium). Two
storage layouts hold them:

- :class:`DenseLayout`: an ``(n_pre, n_post)`` matrix (with an optional mask). Best for
  all-to-all or dense connectivity and small populations.
- :class:`SparseLayout`: one row per postsynaptic neuron listing its presynaptic partners
  (ELLPACK: ``(n_post, k_max)`` with ``k_max`` the largest in-degree, padded entries marked
  invalid). Only existing synapses are stored, and reading the presynaptic side is a gather;
  at 2 % connectivity this holds 50 times fewer numbers than the matrix.

Both expose the same operations, so the projection, the plasticity rules and any user rule
are written once for both: lift a presynaptic vector (:meth:`~DenseLayout.pre`) or a
postsynaptic vector (:meth:`~DenseLayout.post`) to the synapses, and sum per-synapse values
into each postsynaptic neuron (:meth:`~DenseLayout.sum_to_post`).

Connectivity is given as ``None`` (all to all), a probability (each pair independently), a
boolean ``(n_pre, n_post)`` mask, or :class:`FixedInDegree` (each postsynaptic neuron draws
``k`` distinct partners).
"""
from __future__ import annotations

import dataclasses
import numbers
from typing import Optional

import jax.numpy as jnp
import numpy as np
import saiunit as u

from ._validate import ParameterError

__all__ = ['FixedInDegree', 'DenseLayout', 'SparseLayout', 'connection_mask', 'make_layout']

#: Presynaptic rows drawn per batch when a probability is turned into a mask (bounds the
#: float64 scratch memory to ~80 MB whatever the population sizes).
_MASK_CHUNK = 10_000_000


@dataclasses.dataclass(frozen=True)
class FixedInDegree:
    """Each postsynaptic neuron receives exactly ``k`` synapses from distinct presynaptic neurons."""
    k: int

    def __post_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, numbers.Integral) or self.k < 0:
            raise ParameterError(f'FixedInDegree: parameter {"k"!r} must be an integer >= 0, '
                                 f'got {self.k!r}')


def _error(message):
    return ParameterError(f'LTPProjection: parameter {"conn"!r} {message}')


def connection_mask(n_pre: int, n_post: int, conn=None, seed: Optional[int] = None):
    """Boolean ``(n_pre, n_post)`` connectivity, or ``None`` for all to all.

    ``conn`` is ``None``, a probability in [0, 1] (pairs drawn independently with ``seed``; the
    same seed gives the same mask at any size of scratch memory), a boolean array of shape
    ``(n_pre, n_post)``, or :class:`FixedInDegree`.
    """
    if conn is None:
        return None
    rng = np.random.default_rng(seed)
    if isinstance(conn, FixedInDegree):
        if conn.k > n_pre:
            raise _error(f'asks for in-degree {conn.k} from {n_pre} presynaptic neurons')
        mask = np.zeros((n_pre, n_post), dtype=bool)
        for j in range(n_post):
            mask[rng.choice(n_pre, conn.k, replace=False), j] = True
        return mask
    if isinstance(conn, numbers.Real) and not isinstance(conn, bool):
        if not 0.0 <= conn <= 1.0:
            raise _error(f'as a probability must be in [0, 1], got {conn}')
        rows = max(1, _MASK_CHUNK // max(n_post, 1))
        return np.concatenate([rng.random((min(rows, n_pre - start), n_post)) < conn
                               for start in range(0, n_pre, rows)] or
                              [np.zeros((0, n_post), dtype=bool)])
    mask = np.asarray(conn)
    if mask.dtype != bool or mask.shape != (n_pre, n_post):
        raise _error(f'must be None, a probability, FixedInDegree or a boolean array of shape '
                     f'{(n_pre, n_post)}, got dtype {mask.dtype} and shape {mask.shape}')
    return mask


class DenseLayout:
    r"""Synapses as an ``(n_pre, n_post)`` matrix; ``mask`` (or ``None``: all to all) marks
    the existing ones. Per-synapse arrays have shape ``(..., n_pre, n_post)``."""

    sparse = False

    def __init__(self, n_pre: int, n_post: int, mask: Optional[np.ndarray] = None):
        self.n_pre, self.n_post, self.mask = n_pre, n_post, mask
        self.shape = (n_pre, n_post)
        self.partial = mask is not None  # whether some entries are not synapses
        self.pre_needs_mask = self.partial  # whether pre(x) is nonzero at non-synapses
        self._mask = None if mask is None else jnp.asarray(mask)
        self._in = None if mask is None else jnp.asarray(mask, dtype=float)

    @property
    def n_synapses(self) -> int:
        return self.n_pre * self.n_post if self.mask is None else int(self.mask.sum())

    def pre(self, x):
        """Presynaptic values ``(..., n_pre)`` at every synapse."""
        return x[..., :, None]

    def post(self, x):
        """Postsynaptic values ``(..., n_post)`` at every synapse."""
        return x[..., None, :]

    def restrict(self, x):
        """``x`` with non-existing synapses set to zero."""
        return x if self._mask is None else u.math.where(self._mask, x, u.math.zeros_like(x))

    def sum_to_post(self, x):
        """Sum of per-synapse values ``x`` over each postsynaptic neuron's synapses."""
        return u.math.sum(self.restrict(x), axis=-2)

    def matvec(self, v, w, v_at_synapses=None):
        r""":math:`\sum_i v_i w_{ij}` for presynaptic ``v (..., n_pre)`` and synaptic ``w``
        (``v_at_synapses``, ``pre(v)`` if already at hand, saves the sparse layout a gather)."""
        return u.math.matmul(v[..., None, :], w)[..., 0, :]

    def count(self, v, v_at_synapses=None):
        r""":math:`\sum_{i \to j} v_i`: presynaptic ``v`` summed over each neuron's inputs."""
        if self._in is None:
            return u.math.sum(v, axis=-1, keepdims=True)
        return u.math.matmul(v[..., None, :], self._in)[..., 0, :]

    def to_matrix(self, x):
        """Per-synapse values as an ``(..., n_pre, n_post)`` matrix (zeros where unconnected)."""
        return self.restrict(x)

    def from_matrix(self, x):
        """Per-synapse values from an ``(..., n_pre, n_post)`` matrix."""
        return self.restrict(x)


class SparseLayout:
    r"""Synapses listed per postsynaptic neuron (ELLPACK): ``index[j, k]`` is the presynaptic
    partner of the k-th synapse of neuron j, ``valid[j, k]`` whether it exists (rows are padded
    to the largest in-degree). Per-synapse arrays have shape ``(..., n_post, k_max)``.

    Padding entries point one past the last presynaptic neuron, where :meth:`pre` reads a zero:
    presynaptic signals vanish there without a mask."""

    sparse = True

    def __init__(self, n_pre: int, n_post: int, mask: Optional[np.ndarray] = None):
        self.n_pre, self.n_post = n_pre, n_post
        mask = np.ones((n_pre, n_post), dtype=bool) if mask is None else mask
        degree = mask.sum(axis=0)
        k_max = int(degree.max()) if n_post else 0
        index = np.full((n_post, k_max), n_pre, dtype=np.int32)
        valid = np.arange(k_max)[None, :] < degree[:, None]
        post, pre = np.nonzero(mask.T)  # row-major over (post, pre): pre ascending per post
        index[valid] = pre
        self.shape = (n_post, k_max)
        self.partial = not bool(valid.all())
        self.pre_needs_mask = False
        self.index, self.valid = jnp.asarray(index), jnp.asarray(valid)
        self._index_np, self._valid_np = index, valid
        self.n_synapses = int(degree.sum())

    @property
    def mask(self) -> np.ndarray:
        """Boolean ``(n_pre, n_post)`` connectivity."""
        mask = np.zeros((self.n_pre, self.n_post), dtype=bool)
        post = np.broadcast_to(np.arange(self.n_post)[:, None], self.shape)
        mask[self._index_np[self._valid_np], post[self._valid_np]] = True
        return mask

    def pre(self, x):
        unit, x = u.get_unit(x), u.get_mantissa(x)
        padded = jnp.concatenate([x, jnp.zeros(x.shape[:-1] + (1,), x.dtype)], axis=-1)
        return u.maybe_decimal(padded.at[..., self.index].get(mode='promise_in_bounds') * unit)

    def post(self, x):
        return x[..., :, None]

    def restrict(self, x):
        return u.math.where(self.valid, x, u.math.zeros_like(x))

    def sum_to_post(self, x):
        return u.math.sum(self.restrict(x), axis=-1)

    def matvec(self, v, w, v_at_synapses=None):
        v = self.pre(v) if v_at_synapses is None else v_at_synapses
        return u.math.sum(v * w, axis=-1)

    def count(self, v, v_at_synapses=None):
        v = self.pre(v) if v_at_synapses is None else v_at_synapses
        return u.math.sum(v, axis=-1)

    def to_matrix(self, x):
        unit = u.get_unit(x)
        x = u.get_mantissa(self.restrict(x))
        post = jnp.broadcast_to(jnp.arange(self.n_post)[:, None], self.shape)
        out = jnp.zeros(x.shape[:-2] + (self.n_pre, self.n_post), dtype=x.dtype)
        index = jnp.minimum(self.index, self.n_pre - 1)  # padding adds zeros anywhere
        return u.maybe_decimal(out.at[..., index, post].add(x) * unit)

    def from_matrix(self, x):
        post = jnp.broadcast_to(jnp.arange(self.n_post)[:, None], self.shape)
        return self.restrict(x[..., jnp.minimum(self.index, self.n_pre - 1), post])


def make_layout(n_pre: int, n_post: int, conn=None, seed: Optional[int] = None,
                sparse: bool = False):
    """The storage layout of a connectivity (see :func:`connection_mask`)."""
    mask = connection_mask(n_pre, n_post, conn, seed)
    return SparseLayout(n_pre, n_post, mask) if sparse else DenseLayout(n_pre, n_post, mask)
