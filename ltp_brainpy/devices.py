r"""Batches over every device: protocol conditions, fit starts and sweep points.

JAX sees one CPU device unless told otherwise; ``XLA_FLAGS=--xla_force_host_platform_device_count=2``
(or ``jax.config.update('jax_num_cpu_devices', 2)`` before JAX starts) makes two, and a GPU node
shows its GPUs. Every batched call of the package goes through this module:

- :func:`batch_map` -- ``jax.vmap(fn)`` over the leading axis, with the batch padded to a
  multiple of the number of devices (repeating its last entry) and laid out over a one-axis
  device mesh (``NamedSharding(Mesh(devices, ('batch',)), PartitionSpec('batch'))``), the
  padding stripped from the result. Traceable: inside ``jax.jit`` it places the batch with
  ``jax.lax.with_sharding_constraint`` and XLA partitions the loop, one share per device.
  With one device it is exactly ``jax.vmap(fn)``.
- :func:`shard_batch` -- ``jax.jit(batch_map(fn))`` called on host arrays.
- :func:`lane_devices` -- the devices the lane loops of :mod:`ltp_brainpy.protocols` are
  spread over (one worker thread per device, each lane on the next free device).
- :func:`process_share` / :func:`gather_points` -- the points of a sweep split between the
  processes of a ``jax.distributed`` run, and their results gathered on every process.

Every device runs the same compiled code on its share, so results do not depend on the number
of devices (``tests/test_devices.py``).
"""
from __future__ import annotations

import contextlib
import os
import pickle
import threading
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ['batch_map', 'shard_batch', 'lane_devices', 'batch_sharding', 'unsharded',
           'process_share', 'gather_points', 'initialize_distributed', 'AXIS']

AXIS = 'batch'
_local = threading.local()


def lane_devices() -> list:
    """The devices of this process that batches are spread over (``LTP_BRAINPY_DEVICES=n``
    keeps the first n)."""
    devices = jax.local_devices()
    limit = os.environ.get('LTP_BRAINPY_DEVICES')
    if limit:
        devices = devices[:max(1, int(limit))]
    return list(devices)


@contextlib.contextmanager
def unsharded():
    """Within it (while tracing), :func:`batch_map` is a plain ``jax.vmap``: for a batch nested
    in another one that is already spread over the devices (the rows of a fit inside its starts)."""
    before = getattr(_local, 'off', False)
    _local.off = True
    try:
        yield
    finally:
        _local.off = before


def batch_sharding(devices: Optional[Sequence] = None) -> NamedSharding:
    """The leading axis split over ``devices`` (default :func:`lane_devices`)."""
    devices = list(devices or lane_devices())
    return NamedSharding(Mesh(np.array(devices), (AXIS,)), PartitionSpec(AXIS))


def _size(args) -> int:
    leaves = jax.tree_util.tree_leaves(args)
    if not leaves:
        raise ValueError('batch_map: no batched argument')
    return int(np.shape(leaves[0])[0])


def _pad(x, total):
    n = x.shape[0]
    if n == total:
        return x
    tail = jnp.repeat(x[-1:], total - n, axis=0)  # repeats a real entry: no invalid lane
    return jnp.concatenate([x, tail], axis=0)


def batch_map(fn: Callable, devices: Optional[Sequence] = None) -> Callable:
    """``jax.vmap(fn)`` with the batch spread over ``devices`` (see the module doc)."""
    def mapped(*args):
        devs = list(devices or lane_devices())
        if len(devs) == 1 or getattr(_local, 'off', False):
            return jax.vmap(fn)(*args)
        size = _size(args)
        total = -(-size // len(devs)) * len(devs)
        sharding = batch_sharding(devs)
        place = (lambda x: jax.lax.with_sharding_constraint(_pad(jnp.asarray(x), total), sharding))
        out = jax.vmap(fn)(*jax.tree_util.tree_map(place, args))
        return jax.tree_util.tree_map(
            lambda x: jax.lax.with_sharding_constraint(x, sharding)[:size], out)
    return mapped


def shard_batch(fn: Callable, *args, devices: Optional[Sequence] = None):
    """``jax.jit(jax.vmap(fn))(*args)`` with the batch (leading axis of every leaf of ``args``)
    padded and spread over ``devices``; the result is cut back to the batch."""
    return jax.jit(batch_map(fn, devices))(*args)


# --------------------------------------------------------------------------- processes
def initialize_distributed():
    """``jax.distributed.initialize`` (once) from ``LTP_BRAINPY_COORDINATOR`` (host:port),
    ``LTP_BRAINPY_NUM_PROCESSES`` and ``LTP_BRAINPY_PROCESS_ID`` when set, otherwise from the
    cluster environment JAX detects (Slurm, Open MPI ...). Call it before anything else uses JAX;
    ``import ltp_brainpy`` calls it when ``LTP_BRAINPY_COORDINATOR`` or ``LTP_BRAINPY_DISTRIBUTED``
    is set (so ``ltp-brainpy sweep`` splits its points between the processes)."""
    if jax.distributed.is_initialized():
        return
    coordinator = os.environ.get('LTP_BRAINPY_COORDINATOR')
    if coordinator:
        jax.distributed.initialize(coordinator_address=coordinator,
                                   num_processes=int(os.environ['LTP_BRAINPY_NUM_PROCESSES']),
                                   process_id=int(os.environ['LTP_BRAINPY_PROCESS_ID']))
    else:
        jax.distributed.initialize()


def process_share(n_items: int, process_index: Optional[int] = None,
                  process_count: Optional[int] = None) -> list:
    """Indices of the items (sweep points) this process runs: every ``process_count``-th one
    from its own index, so that long and short points are mixed."""
    index = jax.process_index() if process_index is None else process_index
    count = jax.process_count() if process_count is None else process_count
    return list(range(index, n_items, count))


def gather_points(local: dict, n_items: int) -> list:
    """Every process's ``{item index: result}`` gathered into one list on every process (a
    ``jax.distributed`` run; in a single process the list of ``local``). Results are pickled and
    exchanged as byte arrays with ``jax.experimental.multihost_utils.process_allgather``."""
    if jax.process_count() == 1:
        return [local[k] for k in range(n_items)]
    from jax.experimental import multihost_utils

    blob = np.frombuffer(pickle.dumps(local), dtype=np.uint8)
    lengths = np.asarray(multihost_utils.process_allgather(np.array([blob.size], np.int64)))
    padded = np.zeros(int(lengths.max()), np.uint8)
    padded[:blob.size] = blob
    blobs = np.asarray(multihost_utils.process_allgather(padded))
    merged = {}
    for row, length in zip(blobs.reshape(len(lengths.ravel()), -1), lengths.ravel()):
        merged.update(pickle.loads(row[:int(length)].tobytes()))
    return [merged[k] for k in range(n_items)]
