"""The fast paths of the protocols give the results of the plain ones.

- :func:`ltp_brainpy.timegrid.event_grid` and ``pad_grids`` against the step-by-step planner
  they replaced (kept here as the reference);
- ``simulate.run_grid(count=...)`` against the plain loop;
- shortened pairing, frequency, tetanus, STDP and pair-frequency protocols run lane by lane
  (``protocols.LANE_LOOPS``, one compiled loop per condition, shared between calls) against the
  batched, vmapped loop over all conditions (the reference path), to 1e-3 relative;
- the lane loops fall back to the batched loop where XLA does not compile them as one function.
"""
import collections

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import LTPNeuron, ParameterError, protocols, simulate, timegrid

RTOL = 1e-3


# --------------------------------------------------------------------------- time grids
def _reference_event_grid(n_steps, events, marks=(), fine=timegrid.DEFAULT_FINE,
                          resolution=timegrid.DEFAULT_RESOLUTION,
                          max_steps=timegrid.DEFAULT_MAX_STEPS):
    """The planner as it was: one fine step or growing step at a time."""
    events = np.unique(np.asarray(list(events), dtype=np.int64))
    events = events[(events >= 0) & (events < n_steps)]
    stops = np.unique(np.concatenate([events, np.asarray(list(marks), dtype=np.int64),
                                      [n_steps]]))
    stops = stops[(stops > 0) & (stops <= n_steps)]
    if resolution <= 0:
        return np.arange(n_steps), np.ones(n_steps, np.int64)
    starts, sizes = [], []
    k, last = 0, None
    is_event = np.zeros(n_steps + 1, dtype=bool)
    is_event[events] = True
    for stop in stops:
        while k < stop:
            if is_event[k]:
                last = k
            d = None if last is None else k - last
            if d is not None and d < fine:
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
    return np.asarray(starts), np.asarray(sizes)


def _grid_cases():
    rng = np.random.default_rng(0)
    cases = [(5000, [0], [], 150, 0.01, 500),
             (20000, [300, 900, 960, 12000], [1000, 5000, 12070], 150, 0.01, 500),
             (3000, [100, 2999], [2500], 40, 0.05, 30),
             (700, [], [350], 10, 0.1, 64),
             (10000, np.arange(20) * 333, [20 * 333], 7, 0.3, 500),
             (620000, np.concatenate([1504 + np.arange(60) * 10000, 1597 + np.arange(60) * 10000]),
              [], 150, 0.01, 500)]
    for _ in range(200):
        n = int(rng.integers(1, 30000))
        cases.append((n, rng.integers(-5, n + 5, int(rng.integers(0, 40))).tolist(),
                      rng.integers(-5, n + 5, int(rng.integers(0, 5))).tolist(),
                      int(rng.integers(1, 800)), float(rng.choice([0.005, 0.01, 0.05, 0.3, 1.0])),
                      int(rng.integers(1, 600))))
    return cases


def test_event_grid_equals_the_step_by_step_planner():
    for n_steps, events, marks, fine, resolution, max_steps in _grid_cases():
        grid = timegrid.event_grid(n_steps, events, marks, fine, resolution, max_steps)
        starts, sizes = _reference_event_grid(n_steps, events, marks, fine, resolution,
                                              max_steps)
        np.testing.assert_array_equal(grid.starts, starts)
        np.testing.assert_array_equal(grid.sizes, sizes)
        assert grid.starts.dtype == grid.sizes.dtype == np.int32 and grid.n_steps == n_steps


def test_pad_grids_continues_every_lane_with_quiet_steps():
    grids = [timegrid.event_grid(n, events) for n, events in
             ((20000, [0, 5000]), (3000, [0]), (12345, []))]
    starts, sizes = timegrid.pad_grids(grids)
    assert starts.dtype == sizes.dtype == np.int32
    for lane, g in enumerate(grids):
        n = len(g)
        np.testing.assert_array_equal(starts[lane, :n], g.starts)
        np.testing.assert_array_equal(sizes[lane, :n], g.sizes)
        np.testing.assert_array_equal(starts[lane, n:], g.n_steps + 500 * np.arange(
            starts.shape[1] - n))
        assert (sizes[lane, n:] == 500).all()
    with pytest.raises(ParameterError, match='32-bit step counter'):
        timegrid.pad_grids([timegrid.TimeGrid(np.array([0], np.int32), np.array([1], np.int32),
                                              2 ** 31 - 400), timegrid.event_grid(5000, [0])])


# --------------------------------------------------------------------------- counted loops
def test_run_grid_with_a_count_runs_the_first_iterations_of_a_padded_grid():
    grid = timegrid.event_grid(3000, [0, 1000], fine=50)

    def run(count=None, pad=0):
        neuron = LTPNeuron(1)
        brainstate.nn.init_all_states(neuron)
        current = jnp.where(jnp.arange(len(grid) + pad) < 30, 500.0, 0.0) * u.pA
        starts = np.concatenate([grid.starts, np.zeros(pad, np.int32)])
        sizes = np.concatenate([grid.sizes, np.zeros(pad, np.int32)])
        V = simulate.run_grid(lambda I: (neuron.update(I), neuron.V.value)[1], starts, sizes,
                              current, count=count)
        return V, neuron.V.value

    plain, plain_end = jax.jit(run)()
    counted, counted_end = jax.jit(lambda: run(len(grid), pad=37))()
    n = len(grid)
    np.testing.assert_allclose(counted.to_decimal(u.mV)[:n], plain.to_decimal(u.mV), rtol=1e-6)
    assert (counted.mantissa[n:] == 0).all() and counted.shape[0] == n + 37
    np.testing.assert_allclose(counted_end.to_decimal(u.mV), plain_end.to_decimal(u.mV),
                               rtol=1e-6)
    with pytest.raises(ParameterError, match='progress bar'):
        simulate.run_grid(lambda: None, grid.starts, grid.sizes, count=3, pbar=1)


# --------------------------------------------------------------------------- protocols
def _assert_same(fast, plain):
    """Every condition, weight change and array of two ProtocolResults agree to RTOL."""
    np.testing.assert_allclose(fast.weight_change, plain.weight_change, rtol=RTOL, atol=1e-6)
    assert fast.traces.keys() == plain.traces.keys()
    for key in plain.traces:
        a, b = fast.traces[key], plain.traces[key]
        if isinstance(b, u.Quantity):
            assert u.get_unit(a) == u.get_unit(b), key
            a, b = a.mantissa, b.mantissa
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, key
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-6, err_msg=key)


SHORT = {
    'pairing': lambda: protocols.pairing(np.array([-70.0, -40.0, 0.0]) * u.mV, n_pulses=4),
    'pairing_mg_free': lambda: protocols.pairing(np.array([-70.0]) * u.mV, n_pulses=4,
                                                 mg=0.0 * u.mM),
    'pairing_ap5': lambda: protocols.pairing(np.array([0.0]) * u.mV, n_pulses=4,
                                             nmda_block=True),
    'frequency': lambda: protocols.frequency_response(np.array([1.0, 15.0, 100.0]) * u.Hz,
                                                      n_pulses=6),
    'tetanus': lambda: protocols.frequency_response(np.array([100.0]) * u.Hz, n_pulses=10),
    'stdp': lambda: protocols.stdp(np.array([-20.0, 10.0]) * u.ms, n_pairs=3),
    'stdp_bursts': lambda: protocols.stdp(np.array([10.0]) * u.ms, n_pairs=2, n_bursts=2,
                                          burst_interval=3 * u.second),
    'pair_frequency': lambda: protocols.pair_frequency(np.array([1.0, 40.0]) * u.Hz,
                                                       n_pairs=3, n_trains=2,
                                                       train_interval=2 * u.second),
}


@pytest.fixture(scope='module')
def plain_results():
    """The shortened protocols on the batched (reference) path."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(protocols, 'LANE_LOOPS', False)
        return {name: run() for name, run in SHORT.items()}


@pytest.mark.parametrize('name', list(SHORT))
def test_lane_loops_give_the_batched_results(name, plain_results):
    fast = SHORT[name]()
    _assert_same(fast, plain_results[name])
    assert np.ptp(plain_results['pairing'].weight_change) > 0.01  # plasticity, not zeros


def test_protocols_share_one_compiled_loop(monkeypatch):
    monkeypatch.setattr(protocols, '_cache', collections.OrderedDict())
    for name in ('pairing', 'pairing_mg_free', 'pairing_ap5', 'frequency', 'tetanus', 'stdp'):
        SHORT[name]()
    assert len(protocols._cache) == 1
    (_, compiled), = protocols._cache.values()
    assert len(compiled) == 1 and all(small for _, small in compiled.values())


def test_loops_xla_does_not_hoist_run_batched(monkeypatch, plain_results):
    """Where the loop of one lane is not compiled as one function, several lanes take the
    batched loop; one lane still takes its own loop. Both give the same results."""
    monkeypatch.setattr(protocols, '_cache', collections.OrderedDict())
    monkeypatch.setattr(protocols, '_SMALL_CALL', 'no such attribute')
    batched = []
    original = protocols.simulate_pulses
    monkeypatch.setattr(protocols, 'simulate_pulses',
                        lambda *args, **kwargs: batched.append(1) or original(*args, **kwargs))
    _assert_same(SHORT['pairing'](), plain_results['pairing'])
    assert batched == [1]
    _assert_same(SHORT['pairing_ap5'](), plain_results['pairing_ap5'])
    assert batched == [1]


def test_traced_parameters_are_still_checked():
    with pytest.raises(ParameterError, match="'gbar_N' must be >= 0"):
        protocols.pairing(np.array([0.0]) * u.mV, n_pulses=2, gbar_N=-1.0 * u.nS)
    with pytest.raises(ParameterError, match="'mg' must be >= 0"):
        protocols.frequency_response(np.array([10.0]) * u.Hz, n_pulses=2, mg=-1.0 * u.mM)
    with pytest.raises(ParameterError, match="'mg' must be a quantity in mM"):
        protocols.stdp(np.array([10.0]) * u.ms, n_pairs=2, mg=1.0)
