"""Pairing and frequency trains on the multi-rate grid: the grid itself, and agreement with the
uniform grid (``resolution=0``) on short versions of the canonical protocols."""
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import Pathway, protocols, simulate, timegrid, trains

#: Largest accepted difference in weight change between the grid and the uniform grid.
ATOL = 2e-3  # 0.2 percentage points


def _cases():
    """(n_steps, events, marks, fine, resolution, max_steps) covering the corner cases: quiet
    time before the first event, events closer than ``fine``, marks inside fine windows and
    quiet stretches, an event at the last step, ``max_steps`` reached."""
    return [(5000, [0], [], 150, 0.01, 500),
            (20000, [300, 900, 960, 12000], [1000, 5000, 12070], 150, 0.01, 500),
            (3000, [100, 2999], [2500], 40, 0.05, 30),
            (700, [], [350], 10, 0.1, 64),
            (10000, np.arange(20) * 333, [20 * 333], 7, 0.3, 500)]


@pytest.mark.parametrize('case', _cases())
def test_event_grid_tiles_the_run_and_follows_its_step_law(case):
    n_steps, events, marks, fine, resolution, max_steps = case
    grid = timegrid.event_grid(n_steps, events, marks, fine, resolution, max_steps)
    starts, sizes, ends = grid.starts, grid.sizes, grid.ends
    # Iterations tile [0, n_steps) exactly, in order.
    assert starts[0] == 0 and ends[-1] == n_steps == grid.n_steps
    np.testing.assert_array_equal(starts[1:], ends[:-1])
    assert sizes.min() >= 1 and sizes.max() <= max_steps
    # No iteration crosses an event or a mark: each starts an iteration.
    assert set(events) | set(marks) <= set(starts.tolist())
    # The fine step for `fine` steps after each event (up to the next event or the end).
    is_start = np.zeros(n_steps + 1, bool)
    is_start[starts] = True
    stops = np.union1d(events, [n_steps])
    for e in events:
        window = np.arange(e, min(e + fine, stops[stops > e].min()))
        assert is_start[window].all() and (sizes[np.searchsorted(starts, window)] == 1).all()
    # Closed form of every step: clip(floor(r d), 1, max_steps) after the fine window, d fine
    # steps since the last event (max_steps before any), cut at the next event, mark or end.
    boundaries = np.union1d(stops, marks)
    for start, size in zip(starts, sizes):
        before = np.asarray(events)[np.asarray(events) <= start]
        d = start - before.max() if len(before) else None
        law = (max_steps if d is None else 1 if d < fine
               else int(min(max(resolution * d, 1), max_steps)))
        assert size == min(law, boundaries[boundaries > start].min() - start)


def test_event_grid_resolution_zero_is_the_uniform_grid():
    grid = timegrid.event_grid(1234, [0, 500], [700], fine=10, resolution=0.0)
    np.testing.assert_array_equal(grid.starts, np.arange(1234))
    np.testing.assert_array_equal(grid.sizes, np.ones(1234))


@pytest.mark.parametrize('period, n_pulses, settle, fine, resolution',
                         [(10000, 30, 10000, 600, 0.01), (333, 20, 1000, 150, 0.01),
                          (100, 5, 0, 150, 0.01), (50, 1, 120, 7, 0.3), (5000, 4, 300, 600, 0)])
def test_train_grid_is_the_event_grid_of_the_train(period, n_pulses, settle, fine, resolution):
    end = n_pulses * period + settle
    tiled = protocols._train_grid(period, n_pulses, end, fine, resolution)
    whole = timegrid.event_grid(end, np.arange(n_pulses) * period, marks=[n_pulses * period],
                                fine=fine, resolution=resolution)
    np.testing.assert_array_equal(tiled.starts, whole.starts)
    np.testing.assert_array_equal(tiled.sizes, whole.sizes)
    assert tiled.n_steps == whole.n_steps == end


def test_plan_pulses_broadcasts_lanes_and_saves_steps():
    plan = protocols.plan_pulses([10000, 1000, 100], n_pulses=20, n_inputs=28, settle=10000,
                                 hold=-70.0)
    np.testing.assert_array_equal(plan.end, [210000, 30000, 12000])
    np.testing.assert_array_equal(plan.hold, [-70.0] * 3)
    for lane, end in enumerate(plan.end):
        ends = plan.ends()[lane]
        assert end in ends and (np.diff(ends) > 0).all()  # each lane reaches its end in order
    assert plan.sizes.shape[1] < plan.end.max() / 10  # > 10x fewer iterations than steps
    assert protocols.plan_pulses(100, 3, 1, 50, resolution=0.0).sizes.tolist() == [[1] * 350]


def _on_both_grids(monkeypatch, run):
    """``run()`` on the protocols' multi-rate grid, then on the uniform grid."""
    grid = run()
    plan = protocols.plan_pulses
    monkeypatch.setattr(protocols, 'plan_pulses',
                        lambda *args, **kwargs: plan(*args, **{**kwargs, 'resolution': 0.0}))
    return grid, run()


def test_pairing_on_the_grid_matches_the_uniform_grid(monkeypatch):
    holds = np.array([0.0, -70.0, -50.0, -30.0]) * u.mV
    grid, uniform = _on_both_grids(monkeypatch, lambda: protocols.pairing(holds, n_pulses=20))
    np.testing.assert_allclose(grid.weight_change, uniform.weight_change, atol=ATOL)
    assert grid.weight.shape == uniform.weight.shape == (4, 22)
    np.testing.assert_allclose(grid.weight.to_decimal(u.nS), uniform.weight.to_decimal(u.nS),
                               atol=ATOL * 0.5)
    np.testing.assert_array_equal(grid.time.to_decimal(u.second), np.arange(1, 23) * 0.5)
    assert np.ptp(uniform.weight_change) > 0.1  # plasticity, not zeros


def test_frequency_response_on_the_grid_matches_the_uniform_grid(monkeypatch):
    freqs = np.array([1.0, 5.0, 15.0, 100.0]) * u.Hz
    grid, uniform = _on_both_grids(
        monkeypatch, lambda: protocols.frequency_response(freqs, n_pulses=20))
    np.testing.assert_allclose(grid.weight_change, uniform.weight_change, atol=ATOL)
    np.testing.assert_array_equal(grid.post_rate.to_decimal(u.Hz),
                                  uniform.post_rate.to_decimal(u.Hz))
    assert grid.weight.shape == uniform.weight.shape == (4, 210)
    np.testing.assert_allclose(grid.weight.to_decimal(u.nS), uniform.weight.to_decimal(u.nS),
                               atol=ATOL * 0.5)


#: Pulse periods (fine steps) of the free-neuron trains below: 100, 50, 30 and 20 Hz.
PERIODS = (100, 200, 333, 500)


@pytest.fixture(scope='module')
def literal_trains():
    """20 pulses onto 28 separately simulated synapses, uniform grid, per period: the steps of
    the postsynaptic spikes and the change of the mean weight."""
    dt, n_pulses, n_inputs = simulate.DEFAULT_DT, 20, 28
    out = {}
    for period in PERIODS:
        n_steps = n_pulses * period
        pre = jnp.asarray(trains.pulse(np.arange(n_steps), 0, period, n_pulses))

        def run():
            path = Pathway(n_inputs, 1)
            brainstate.nn.init_all_states(path)
            w0 = path.projection.w.value.mean()
            spikes = simulate.run(lambda s: path.update(u.math.broadcast_to(s, (n_inputs,))),
                                  n_steps, pre, dt=dt)
            return spikes, u.maybe_decimal(path.projection.w.value.mean() / w0) - 1.0

        spikes, change = jax.jit(run)()
        out[period] = np.flatnonzero(np.asarray(spikes)[:, 0]), float(change)
    return out


def test_one_synapse_stands_for_the_co_stimulated_ones(literal_trains):
    plan = protocols.plan_pulses(PERIODS, n_pulses=20, n_inputs=28, settle=0, resolution=0.0)
    w, w0, n_post = jax.jit(lambda: protocols.simulate_pulses(plan))()
    change = np.asarray(u.maybe_decimal(w[:, -1] / w0)) - 1.0
    np.testing.assert_allclose(change, [literal_trains[p][1] for p in PERIODS], atol=1e-5)
    np.testing.assert_array_equal(n_post, [len(literal_trains[p][0]) for p in PERIODS])


def test_free_neuron_spikes_fall_in_the_fine_window(literal_trains):
    """The frequency trains' postsynaptic spikes (not planned) and their action potential and
    refractory countdowns lie within ``PULSE_WINDOW`` after a pulse."""
    dt = simulate.DEFAULT_DT
    fine = int(round(float(protocols.PULSE_WINDOW / dt)))
    refractory = int(round(float(Pathway(1, 1).neuron.t_ref / dt)))
    phases = np.concatenate([steps % period for period, (steps, _) in literal_trains.items()])
    assert len(phases) > 0
    assert phases.max() + refractory < fine, phases


def test_gradient_through_simulate_pulses_matches_finite_differences():
    """Model parameters may be tracers: jax.grad through a clamped cell (no spikes, whose
    surrogate gradient is not the derivative) equals central differences."""
    plan = protocols.plan_pulses(5000, n_pulses=5, n_inputs=1, settle=5000,
                                 hold=[0.0, -30.0, -50.0])

    def change(theta_d):
        w, w0, _ = protocols.simulate_pulses(plan, theta_d=theta_d * u.uM)
        return jnp.sum(u.maybe_decimal(w[:, -1] / w0))

    x = 0.25
    grad = float(jax.jit(jax.grad(change))(x))
    f = jax.jit(change)
    numeric = (float(f(1.01 * x)) - float(f(0.99 * x))) / (0.02 * x)
    assert abs(grad) > 0.1 and grad == pytest.approx(numeric, rel=0.02)
