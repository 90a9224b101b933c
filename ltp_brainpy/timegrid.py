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

    # Between two stops nothing new happens, so the iterations of a stretch depend only on
    # where it starts relative to the last event and on its length: stretches that recur (every
    # period of a train) are laid out once and shifted.
    starts, sizes, segments = [], [], {}
    k, last = 0, None
    is_event = np.zeros(n_steps + 1, dtype=bool)
    is_event[events] = True
    for stop in stops:
        if k >= stop:
            continue
        if is_event[k]:
            last = k
        key = (None if last is None else k - last, stop - k)
        if key not in segments:
            segments[key] = _segment(key[0], key[1], fine, resolution, max_steps)
        offsets, steps = segments[key]
        starts.append(offsets + k)
        sizes.append(steps)
        k = stop
    starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    sizes = np.concatenate(sizes) if sizes else np.zeros(0, np.int64)
    return TimeGrid(np.asarray(starts, np.int32), np.asarray(sizes, np.int32), n_steps)


def _segment(d, length, fine, resolution, max_steps):
    """Iterations of a stretch of ``length`` fine steps without events, starting ``d`` fine steps
    after the last event (None: before any), as (offsets from its start, sizes)."""
    if d is None:
        offsets = np.arange(0, length, max_steps, dtype=np.int64)
        return offsets, np.minimum(offsets + max_steps, length) - offsets
    n_fine = min(max(fine - d, 0), length)  # the fine window: all of it at once
    offsets = np.arange(n_fine, dtype=np.int64)
    if n_fine == length:
        return offsets, np.ones(n_fine, np.int64)
    since = d + n_fine  # then steps growing with the time since the event
    law = _growth(since, resolution, max_steps, d + length)
    starts = law[:np.searchsorted(law, d + length)]
    ends = np.minimum(law[1:len(starts) + 1], d + length)
    return (np.concatenate([offsets, starts - d]),
            np.concatenate([np.ones(n_fine, np.int64), ends - starts]))


_GROWTH: dict = {}


def _growth(since, resolution, max_steps, limit):
    """Starts of the growing steps from ``since`` fine steps after an event, in fine steps
    since it, at least until one reaches ``limit`` (remembered, as every train repeats them)."""
    key = (since, resolution, max_steps)
    law = _GROWTH.get(key)
    if law is None or law[-1] < limit:
        starts = [since] if law is None else law.tolist()
        k = starts[-1]
        while k < limit:
            k += int(min(max(resolution * k, 1), max_steps))
            starts.append(k)
        if len(_GROWTH) > 4096:
            _GROWTH.clear()
        law = _GROWTH[key] = np.asarray(starts, np.int64)
    return law


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
    # The largest start: a lane's last iteration, or the last step of its continuation.
    last = max(int(g.starts[-1]) if len(g) == length
               else g.n_steps + max_steps * (length - len(g) - 1) for g in grids)
    if last + max_steps >= np.iinfo(np.int32).max:
        raise ParameterError(f'time grid: {last + max_steps} fine steps do not fit the '
                             f'32-bit step counter; use a coarser dt or fewer conditions')
    starts = np.empty((len(grids), length), np.int32)
    sizes = np.full((len(grids), length), max_steps, np.int32)
    for lane, g in enumerate(grids):
        n = len(g)
        starts[lane, :n], sizes[lane, :n] = g.starts, g.sizes
        starts[lane, n:] = g.n_steps + max_steps * np.arange(length - n, dtype=np.int32)
    return starts, sizes
