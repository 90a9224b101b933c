r"""Multi-rate time grids: the fine time step around events, growing steps in the quiet between.

Plasticity protocols spend most of their time where nothing happens: a pair every second, a
train every four seconds, and in between the model relaxes along smooth exponentials. An
:func:`event_grid` keeps the fine step :math:`\Delta t` for ``fine`` steps after every event
(a presynaptic spike, the onset of a postsynaptic current pulse) and then lets the step grow in
proportion to the time since that event,

.. math:: h(d) = \mathrm{clip}\left(\lfloor r\, d \rfloor,\ 1,\ h_{max}\right) \Delta t,

where :math:`d` is the number of fine steps since the last event and :math:`r` the relative
resolution. No step crosses an event or a mark, so every input arrives exactly when it would on
the uniform grid, and the step taken then is the fine one. Between events the number of steps
grows only logarithmically with the quiet time (about :math:`\ln(d_1/d_0)/r`): a pair every
second costs about 400 steps instead of 10,000.

Every state of the package is advanced by exponential Euler (exact for the linear parts), so a
long step stays stable; the error comes from holding the other states fixed over a step and is
first order in :math:`r` (measured against the uniform grid in ``tests/test_timegrid_protocols.py``
and ``tests/test_fit.py``).
:func:`ltp_brainpy.simulate.run_grid` runs a model on such a grid.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ._validate import ParameterError

__all__ = ['TimeGrid', 'event_grid', 'pad_grids', 'DEFAULT_FINE', 'DEFAULT_RESOLUTION',
           'DEFAULT_MAX_STEPS']

DEFAULT_FINE = 150        #: fine steps kept after each event (15 ms at dt = 0.1 ms)
DEFAULT_RESOLUTION = 0.01  #: step / time since the last event, once past the fine window
DEFAULT_MAX_STEPS = 500   #: longest step, in fine steps (50 ms at dt = 0.1 ms)


@dataclasses.dataclass(frozen=True)
class TimeGrid:
    """Iterations of a multi-rate run: iteration ``j`` advances ``sizes[j]`` fine steps from
    fine step ``starts[j]``.

    Attributes
    ----------
    starts, sizes : numpy.ndarray of int32
        First fine step and length (in fine steps) of each iteration.
    n_steps : int
        Fine steps covered (``starts[-1] + sizes[-1]``, before any padding).
    """
    starts: np.ndarray
    sizes: np.ndarray
    n_steps: int

    @property
    def ends(self) -> np.ndarray:
        """Fine step reached at the end of each iteration."""
        return self.starts + self.sizes

    def __len__(self):
        return len(self.starts)


def event_grid(n_steps: int, events, marks=(), fine: int = DEFAULT_FINE,
               resolution: float = DEFAULT_RESOLUTION,
               max_steps: int = DEFAULT_MAX_STEPS) -> TimeGrid:
    """Grid of ``n_steps`` fine steps: fine after each event, growing in between.

    Parameters
    ----------
    n_steps : int
        Length of the run in fine steps.
    events : iterable of int
        Fine steps at which something happens (inputs arrive); each starts a fine window.
    marks : iterable of int
        Fine steps that iterations must not cross (e.g. where a result is read), without a fine
        window after them.
    fine : int
        Fine steps kept after each event.
    resolution : float
        Relative resolution :math:`r` of the growing steps (0 < r <= 1); ``resolution = 0``
        gives the uniform grid.
    max_steps : int
        Longest step, in fine steps.
    """
    n_steps = int(n_steps)
    events = np.unique(np.asarray(list(events), dtype=np.int64))
    events = events[(events >= 0) & (events < n_steps)]
    stops = np.unique(np.concatenate([events, np.asarray(list(marks), dtype=np.int64),
                                      [n_steps]]))
    stops = stops[(stops > 0) & (stops <= n_steps)]
    if resolution <= 0:
        starts = np.arange(n_steps)
        return TimeGrid(starts.astype(np.int32), np.ones(n_steps, np.int32), n_steps)

    starts, sizes = [], []
    k, last = 0, None
    is_event = np.zeros(n_steps + 1, dtype=bool)
    is_event[events] = True
    for stop in stops:
        while k < stop:
            if is_event[k]:
                last = k
            d = None if last is None else k - last
            if d is not None and d < fine:  # the fine window: all of it at once
                end = min(last + fine, stop)
                starts.extend(range(k, end))
                sizes.extend([1] * (end - k))
                k = end
                continue
            h = max_steps if d is None else int(min(max(resolution * d, 1), max_steps))
            h = min(h, stop - k)
            starts.append(k)
            sizes.append(h)
            k += h
    return TimeGrid(np.asarray(starts, np.int32), np.asarray(sizes, np.int32), n_steps)


#: Largest (lane x iteration) grid a protocol may plan: 400 MB of step indices, hours of running.
MAX_ITERATIONS = 50_000_000


def pad_grids(grids, max_steps: int = DEFAULT_MAX_STEPS):
    """Stack grids of different lengths into (lane, iteration) arrays.

    Shorter grids are continued past their end with steps of ``max_steps`` (quiet time, which a
    protocol must leave without effect on what it reads, e.g. by freezing plasticity at its end).
    Returns ``(starts, sizes)``.
    """
    length = max(len(g) for g in grids)
    if length * len(grids) > MAX_ITERATIONS:
        raise ParameterError(f'time grid: {length * len(grids):,} iterations (lanes x steps) exceed '
                             f'{MAX_ITERATIONS:,}; shorten the protocol or split its conditions')
    starts = np.empty((len(grids), length), np.int64)
    sizes = np.full((len(grids), length), max_steps, np.int32)
    for lane, g in enumerate(grids):
        n = len(g)
        starts[lane, :n], sizes[lane, :n] = g.starts, g.sizes
        starts[lane, n:] = g.n_steps + max_steps * np.arange(length - n)
    if starts.max() + max_steps >= np.iinfo(np.int32).max:
        raise ParameterError(f'time grid: {starts.max() + max_steps} fine steps do not fit the '
                             f'32-bit step counter; use a coarser dt or fewer conditions')
    return starts.astype(np.int32), sizes
