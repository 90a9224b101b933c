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

One network can also be split over the devices by its neurons (model parallel):
:func:`split_by_postsynaptic` lays the states of a module -- a projection, a
:class:`~ltp_brainpy.LayeredNetwork`, any composition -- out over a one-axis mesh
(``Mesh(devices, ('neurons',))``): synapses by their postsynaptic neuron, neurons by index. The
model's own methods then run split, XLA partitioning every step; results equal those of one
device to rounding (``tests/test_model_parallel.py``).
"""
from __future__ import annotations

import contextlib
import os
import pickle
import threading
import weakref
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ['batch_map', 'shard_batch', 'lane_devices', 'batch_sharding', 'unsharded',
           'split_by_postsynaptic', 'split_like', 'process_share', 'gather_points',
           'initialize_distributed', 'AXIS', 'NEURON_AXIS']

AXIS = 'batch'
NEURON_AXIS = 'neurons'
_local = threading.local()
#: The devices each module was split over by :func:`split_by_postsynaptic`.
_split_devices = weakref.WeakKeyDictionary()


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


# --------------------------------------------------------------------------- neurons
# brainstate and the package's modules are imported where they are used: importing them starts
# JAX's backends, and `import ltp_brainpy` imports this module before anything else to start
# jax.distributed first (initialize_distributed).
def split_by_postsynaptic(module, devices: Optional[Sequence] = None):
    r"""Lay the states of ``module`` out over ``devices``, split by postsynaptic neuron.

    Model parallelism for one network: every state of ``module`` (any brainstate module -- a
    projection, which brings its pre- and postsynaptic populations, a
    :class:`~ltp_brainpy.LayeredNetwork`, a composition of one's own) is placed on the mesh
    ``Mesh(devices, ('neurons',))``:

    - per-synapse states (a projection's ``w`` and ``ca``, a rule's per-synapse states) are
      split along the postsynaptic axis: the last axis of dense ``(n_pre, n_post)`` storage, the
      rows of sparse ``(n_post, k_max)`` storage;
    - per-neuron states are split along the neuron axis: those of a population (a module with a
      ``varshape``: neurons, dendrites, receptor models) and those of a module acting on a
      population it holds (a projection's postsynaptic conductances, the
      :class:`~ltp_brainpy.LateralInhibition` and :class:`~ltp_brainpy.AdaptiveThreshold` of
      a layer);
    - everything else is replicated (a plasticity rule's per-neuron traces among it), and so is
      every state of a population whose size is not a multiple of the number of devices
      (nothing is padded).

    The layout holds for every later write of a state, inside compiled loops too (a
    ``write_before`` hook of the state applies ``jax.lax.with_sharding_constraint``), so the
    module's own methods -- :func:`ltp_brainpy.simulate.run` over its steps,
    :meth:`~ltp_brainpy.LayeredNetwork.train`, :meth:`~ltp_brainpy.LayeredNetwork.evaluate` --
    run split, and XLA adds the communication (each step gathers the presynaptic open
    fractions). Results equal those of one device to rounding (sums may be added in another
    order). ``init_state`` (``brainstate.nn.init_all_states``) creates new states: split again
    after it; ``reset_state`` keeps the layout.

    Parameters
    ----------
    module : brainstate.nn.Module
        The model, its states initialised.
    devices : sequence of jax.Device, optional
        Default: :func:`lane_devices`.

    Returns
    -------
    The same ``module``.

    Examples
    --------
    >>> from ltp_brainpy import LayeredNetwork, devices
    >>> net = devices.split_by_postsynaptic(LayeredNetwork([4, 6, 2], seed=0))
    >>> tuple(net.projections['up_01'].w.value.mantissa.sharding.spec)  # on 1 or 2 devices
    (None, 'neurons')
    """
    import brainstate

    from ._validate import ParameterError

    owner = 'split_by_postsynaptic'
    if not isinstance(module, brainstate.nn.Module):
        raise ParameterError(f'{owner}: parameter {"module"!r} must be a brainstate module, '
                             f'got {type(module).__name__}')
    devices = lane_devices() if devices is None else list(devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise ParameterError(f'{owner}: parameter {"devices"!r} must be a non-empty sequence '
                             f'of jax devices, got {devices!r}')
    mesh = Mesh(np.array(devices), (NEURON_AXIS,))
    states = _states_by_module(module)
    if not states:
        raise ParameterError(f'{owner}: parameter {"module"!r} has no states; initialise them '
                             f'first (brainstate.nn.init_all_states)')
    for node, state in states:
        _Placement.attach(state, mesh, _split_rules(node))
        state.value = state.value  # placed by the hook
    _split_devices[module] = tuple(devices)
    return module


def split_like(module, model):
    """Split ``module`` over the devices that ``model`` was split over by
    :func:`split_by_postsynaptic` (nothing if it was not): copies of a split network, such as
    those :meth:`~ltp_brainpy.LayeredNetwork.evaluate` runs, run split too."""
    devices = _split_devices.get(model)
    if devices is not None:
        split_by_postsynaptic(module, devices)
    return module


def _states_by_module(module) -> list:
    """(module, state) for every state of ``module`` and its submodules, each state once."""
    import brainstate

    pairs, seen = [], set()
    for _, node in brainstate.graph.iter_node(module):
        for value in vars(node).values():
            if isinstance(value, brainstate.State) and id(value) not in seen:
                seen.add(id(value))
                pairs.append((node, value))
    return pairs


def _split_rules(node) -> list:
    """(trailing shape, axis of it split over the devices) of the states of ``node``, the
    per-synapse layout first."""
    import brainstate

    from .connectivity import DenseLayout, SparseLayout

    rules = []
    layout = getattr(node, 'layout', None)
    if isinstance(layout, (DenseLayout, SparseLayout)):
        rules.append((tuple(layout.shape), 0 if layout.sparse else 1))
    populations = ([node] if isinstance(node, brainstate.nn.Dynamics) else
                   [v for v in vars(node).values() if isinstance(v, brainstate.nn.Dynamics)])
    return rules + [(tuple(p.varshape), 0) for p in populations]


def _sharding(mesh: Mesh, shape, rules) -> NamedSharding:
    """The neuron axis of ``shape`` (after any batch axes) split over ``mesh``, if the first rule
    it matches gives one that divides evenly; replicated otherwise."""
    for trailing, axis in rules:
        lead = len(shape) - len(trailing)
        if lead >= 0 and tuple(shape[lead:]) == trailing:
            if trailing[axis] % mesh.size:
                break
            return NamedSharding(mesh, PartitionSpec(*[None] * (lead + axis), NEURON_AXIS))
    return NamedSharding(mesh, PartitionSpec())


class _Placement:
    """A state's ``write_before`` hook: every array written to it is laid out by
    :func:`_sharding`."""

    def __init__(self, mesh: Mesh, rules: list):
        self.mesh, self.rules = mesh, rules

    @classmethod
    def attach(cls, state, mesh: Mesh, rules: list):
        """Lay ``state`` out on ``mesh`` from now on (replacing an earlier layout)."""
        for hook in state.list_hooks('write_before'):
            if isinstance(hook.callback, cls):
                hook.callback.mesh, hook.callback.rules = mesh, rules
                return
        state.register_hook('write_before', cls(mesh, rules), name='split_by_postsynaptic')

    def __call__(self, context):
        context.transformed_value = jax.tree.map(self.place, context.transformed_value)

    def place(self, x):
        return jax.lax.with_sharding_constraint(x, _sharding(self.mesh, jnp.shape(x), self.rules))


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
