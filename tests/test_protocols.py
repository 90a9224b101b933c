"""The canonical protocols reproduce the target table (docs/model.md, section 4)."""
import math
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import LTPNeuron, ParameterError, protocols, simulate, trains
from ltp_brainpy.config import load_config
from ltp_brainpy.experiments import run_protocols
from ltp_brainpy.targets import TARGETS, crossover_frequency, evaluate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def default_results():
    """Every run of configs/default.toml (the whole target table), run once (~25 s)."""
    return run_protocols(load_config(ROOT / 'configs' / 'default.toml'))


@pytest.fixture(scope='module')
def target_rows(default_results):
    return {(row['protocol'], row['condition']): row for row in evaluate(default_results)}


@pytest.mark.parametrize('target', TARGETS, ids=lambda t: f'{t.protocol}: {t.condition}')
def test_default_parameters_meet_the_target(target, target_rows):
    row = target_rows[(target.protocol, target.condition)]
    assert row['passed'], f"{target.condition}: measured {row['measured_text']}, " \
                          f"target {target.target}"


def test_frequency_curve_is_ltd_then_ltp(default_results):
    r = default_results['frequency']
    f = np.asarray(r.conditions['frequency'].to_decimal(u.Hz))
    assert r.weight_change[f == 1.0][0] < -0.1 and r.weight_change[f == 100.0][0] > 0.1
    assert np.all(np.isfinite(r.weight_change))


def test_crossover_interpolates_in_log_frequency():
    assert math.isclose(crossover_frequency([1, 10, 100], [-0.2, -0.1, 0.1]),
                        math.sqrt(10 * 100))
    assert math.isnan(crossover_frequency([1, 10], [0.1, 0.2]))


def test_mg_block_iv_currents():
    r = protocols.mg_block_iv(np.array([-60.0, 0.0, 20.0]) * u.mV, mg=1 * u.mM)
    np.testing.assert_allclose(r.current_no_mg.to_decimal(u.pA), [30.0, 0.0, -10.0], atol=1e-5)
    np.testing.assert_allclose(r.current.to_decimal(u.pA)[0], 30.0 * 0.0796264, rtol=1e-5)


def test_stdp_post_spike_lands_at_the_requested_delay():
    for delta in (-10.0, 10.0, 25.0):
        delta_steps = int(round(delta / 0.1))
        pre, latency = 200, trains.spike_latency({}, 10 * u.nA, 0.1 * u.ms)
        onset = pre + delta_steps - (latency - 1)
        # Simulate the neuron alone with that current pulse: the spike is at pre + delta.
        neuron = LTPNeuron(1)
        neuron.init_state()
        n = pre + abs(delta_steps) + 300
        current = np.zeros((n, 1))
        current[onset:onset + 5] = 10_000.0
        spikes = np.asarray(simulate.run(lambda I: neuron.update(I), n,
                                         jnp.asarray(current) * u.pA))[:, 0]
        assert np.flatnonzero(spikes).tolist() == [pre + delta_steps]


def test_stdp_bursts_and_validation():
    single = protocols.stdp(np.array([10.0]) * u.ms, n_pairs=5)
    bursts = protocols.stdp(np.array([10.0]) * u.ms, n_pairs=5, n_bursts=3,
                            burst_interval=10 * u.second)
    assert 0 < single.weight_change[0] < bursts.weight_change[0]  # more pairs, more LTP
    with pytest.raises(ParameterError, match="'burst_interval' is needed"):
        protocols.stdp(np.array([10.0]) * u.ms, n_bursts=2)
    with pytest.raises(ParameterError, match=r"'n_pairs' must be an integer in \[1, "):
        protocols.stdp(np.array([10.0]) * u.ms, n_pairs=0)


def test_conditions_run_batched_equal_separate_runs():
    both = protocols.pairing(np.array([0.0, -30.0]) * u.mV, n_pulses=20)
    alone = protocols.pairing(np.array([-30.0]) * u.mV, n_pulses=20)
    np.testing.assert_allclose(both.weight_change[1], alone.weight_change[0], rtol=1e-6)
    assert both.weight.shape[0] == 2


def test_protocols_reject_bad_conditions():
    with pytest.raises(ParameterError, match="'hold' must be a quantity in mV"):
        protocols.pairing([0.0, -70.0])
    with pytest.raises(ParameterError, match="'frequencies' must be > 0"):
        protocols.frequency_response(np.array([0.0, 10.0]) * u.Hz)
    with pytest.raises(ParameterError, match="unknown parameter 'thet_p'"):
        protocols.pairing(np.array([0.0]) * u.mV, thet_p=0.5 * u.uM)


def test_pair_frequency_turns_post_before_pre_depression_into_potentiation_at_high_rates():
    """Sjöström et al. (2001): at -10 ms, LTD at 0.1 Hz and LTP at 50 Hz, where the next pair's
    pre spike follows the post spike by 10 ms."""
    from ltp_brainpy.protocols import pair_frequency
    result = pair_frequency([0.1, 50.0] * u.Hz, delta_t=-10 * u.ms)
    slow, fast = np.asarray(result.weight_change)
    assert slow < -0.1 and fast > 0.3
    with pytest.raises(ParameterError, match="'n_trains' must be"):
        pair_frequency([1.0] * u.Hz, n_trains=0)
