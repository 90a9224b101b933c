import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import LayeredNetwork, ParameterError

PATTERNS = np.array([[1, 0], [0, 1], [.5, 1], [.5, .5], [.5, 0], [.6, .4], [.4, .6]])


@pytest.fixture(scope='module')
def trained():
    net = LayeredNetwork([2, 5, 4], seed=0)
    before = {k: np.asarray(w.to_decimal(u.nS)) for k, w in net.weights().items()}
    record = net.train(PATTERNS, n_cycles=2, presentation=300 * u.ms, record=('spikes', 'V'))
    return net, before, record


def test_record_shapes_and_units(trained):
    net, _, record = trained
    assert [r.shape for r in record.rates] == [(2, 7, 2), (2, 7, 5), (2, 7, 4)]
    assert all(u.have_same_dim(r, u.Hz) for r in record.rates)
    assert sorted(record.weight_change) == ['down_01', 'down_12', 'up_01', 'up_12']
    assert all(v.shape == (2, 7) and u.have_same_dim(v, u.nS)
               for v in record.weight_change.values())
    assert record.spikes[1].shape == (2, 7, 3000, 5) and record.V[2].shape == (2, 7, 3000, 4)
    # Rates are spike counts over the presentation.
    counts = np.asarray(record.spikes[0]).sum(axis=2)
    np.testing.assert_allclose(np.asarray(record.rates[0].to_decimal(u.Hz)), counts / 0.3,
                               rtol=1e-5)
    # Input rates follow the pattern (Poisson at 40 Hz x value); the top-down drive adds a
    # little to the silent input.
    input_rates = np.asarray(record.rates[0].to_decimal(u.Hz)).mean(axis=0)
    assert input_rates[0, 0] > 30 and input_rates[0, 1] < input_rates[0, 0] / 3
    assert input_rates[1, 1] > 30 and input_rates[1, 0] < input_rates[1, 1] / 3


def test_training_changes_weights_and_evaluation_does_not(trained):
    net, before, record = trained
    after = {k: np.asarray(w.to_decimal(u.nS)) for k, w in net.weights().items()}
    assert max(np.abs(after[k] - before[k]).max() for k in after) > 0.05
    for w in after.values():
        assert w.min() >= 0.0 and w.max() <= 1.0
    evaluation = net.evaluate(PATTERNS, presentation=300 * u.ms)
    assert [r.shape for r in evaluation.rates] == [(1, 7, 2), (1, 7, 5), (1, 7, 4)]
    assert all(float(u.math.abs(v).max().to_decimal(u.nS)) == 0.0
               for v in evaluation.weight_change.values())
    for k, w in net.weights().items():
        np.testing.assert_array_equal(np.asarray(w.to_decimal(u.nS)), after[k])


def test_save_and_load_round_trip(trained, tmp_path):
    net, _, _ = trained
    path = tmp_path / 'weights.npz'
    net.save_weights(path)
    other = LayeredNetwork([2, 5, 4], seed=0)  # same input noise, untrained weights
    other.load_weights(path)
    for k, w in net.weights().items():
        np.testing.assert_array_equal(np.asarray(other.weights()[k].to_decimal(u.nS)),
                                      np.asarray(w.to_decimal(u.nS)))
    a = net.evaluate(PATTERNS[:2], presentation=200 * u.ms)
    b = other.evaluate(PATTERNS[:2], presentation=200 * u.ms)
    for ra, rb in zip(a.rates, b.rates):
        np.testing.assert_array_equal(np.asarray(ra.to_decimal(u.Hz)),
                                      np.asarray(rb.to_decimal(u.Hz)))
    with pytest.raises(ParameterError, match="weights 'up_01' have shape"):
        LayeredNetwork([3, 5, 4]).load_weights(path)


DENSITIES = (0.1, 0.3, 0.5)


def density_patterns(n, seed=0):
    """One binary pattern per density: that share of the n inputs active (at least one)."""
    rng = np.random.default_rng(seed)
    patterns = np.zeros((len(DENSITIES), n))
    for row, density in zip(patterns, DENSITIES):
        row[rng.choice(n, max(1, round(density * n)), replace=False)] = 1.0
    return patterns


def layer_rates(record):
    """Mean rate of each layer (Hz) per presentation: (layer, cycle, pattern)."""
    return np.stack([np.asarray(r.to_decimal(u.Hz)).mean(axis=-1) for r in record.rates])


def assert_useful_range(rates, n):
    high = 60.0 if n == 2 else 50.0  # a 2-unit layer follows its one active input
    assert rates.min() >= 1.0 and rates.max() <= high * (1 + 1e-6), np.round(rates, 1)


@pytest.mark.parametrize('n', [2, 10, 100])
def test_default_network_fires_in_a_useful_range(n):
    """Every layer of a default LayeredNetwork([n, n, n]) fires at 1-50 Hz for inputs of
    10-50 % density, while learning and after; without the lateral inhibition (the
    competition) the hidden layers would fire at least twice as much."""
    patterns = density_patterns(n)
    net = LayeredNetwork([n, n, n], seed=0)
    assert_useful_range(layer_rates(net.train(patterns, n_cycles=2,
                                              presentation=300 * u.ms)), n)
    evaluation = net.evaluate(patterns, presentation=300 * u.ms)
    assert_useful_range(layer_rates(evaluation), n)
    if n >= 10:
        free = LayeredNetwork([n, n, n], seed=0, lateral_inhibition=0.0 * u.nS)
        free.set_weights(net.weights())
        unchecked = layer_rates(free.evaluate(patterns, presentation=300 * u.ms))
        assert np.all(unchecked[1:] > 2.0 * layer_rates(evaluation)[1:])


@pytest.mark.slow
def test_default_network_fires_in_a_useful_range_with_1000_unit_layers():
    """The same for 1000-unit layers (4 million synapses), and no runaway when every input
    is driven at a random rate: a runaway sits at the refractory limit (250 Hz)."""
    patterns = np.concatenate([density_patterns(1000), np.random.default_rng(0).random((1, 1000))])
    net = LayeredNetwork([1000, 1000, 1000], seed=0)
    rates = layer_rates(net.evaluate(patterns, presentation=300 * u.ms))
    assert_useful_range(rates[..., :3], 1000)
    assert rates.max() < 50.0


@pytest.mark.parametrize('kwargs, message', [
    (dict(layer_sizes=[2]), "'layer_sizes' must list at least two"),
    (dict(layer_sizes=[2, 3], input_mode='spikes'), "'input_mode' must be one of"),
    (dict(layer_sizes=[2, 3], max_rate=40.0), "'max_rate' must be a quantity in Hz"),
    (dict(layer_sizes=[2, 3], thetap=0.5 * u.uM), "unknown parameter 'thetap'"),
])
def test_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        LayeredNetwork(**kwargs)


def test_rejects_bad_patterns():
    net = LayeredNetwork([2, 3])
    with pytest.raises(ParameterError, match="'patterns' must have shape"):
        net.train(np.ones((3, 4)), n_cycles=1)
    with pytest.raises(ParameterError, match="'patterns' must lie in"):
        net.evaluate(np.full((1, 2), 2.0))


def test_layered_network_takes_a_rule_by_name_one_instance_per_projection():
    from ltp_brainpy import ClopathRule
    net = LayeredNetwork([4, 3], feedback=True, rule='clopath', theta_minus=-65 * u.mV, seed=0)
    rules = [p.rule for p in net.projections.values()]
    assert all(isinstance(r, ClopathRule) and r.theta_minus == -65 * u.mV for r in rules)
    assert rules[0] is not rules[1]
    before = {k: np.asarray(w.to_decimal(u.nS)) for k, w in net.weights().items()}
    net.train(np.array([[1.0, 1.0, 0.0, 0.0]]), n_cycles=1, presentation=200 * u.ms)
    after = {k: np.asarray(w.to_decimal(u.nS)) for k, w in net.weights().items()}
    assert any(np.abs(after[k] - before[k]).max() > 1e-4 for k in before)
    net.reset_weights()
    for k, w in net.weights().items():
        np.testing.assert_array_equal(np.asarray(w.to_decimal(u.nS)), before[k])


def test_weight_files_are_checked_whole_before_anything_is_set(tmp_path):
    net = LayeredNetwork([3, 2], seed=0)
    before = {k: np.asarray(w.to_decimal(u.nS)).copy() for k, w in net.weights().items()}
    (tmp_path / 'empty.npz').write_bytes(b'')
    (tmp_path / 'text.npz').write_text('hello')
    np.save(tmp_path / 'array.npy', np.zeros(3))
    for name in ('empty.npz', 'text.npz', 'array.npy', 'missing.npz'):
        with pytest.raises(ParameterError, match='cannot read weights'):
            net.load_weights(tmp_path / name)
    good, bad = sorted(before)
    with pytest.raises(ParameterError, match=f"weights '{bad}' must lie within the rule bounds"):
        net.set_weights({good: before[good] * 0.5, bad: before[bad] * 10})
    for k, w in net.weights().items():  # the valid first matrix was not set either
        np.testing.assert_array_equal(np.asarray(w.to_decimal(u.nS)), before[k])
    with pytest.raises(ParameterError, match='is a folder, not a file'):
        net.save_weights(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['array.npy', 'empty.npz', 'text.npz']


def test_layer_sizes_beyond_memory_are_refused_before_allocating():
    with pytest.raises(ParameterError, match=r"'layer_sizes': \[1000000, 1000000\] needs "
                                             r"14,901.2 GiB"):
        LayeredNetwork([1_000_000, 1_000_000])
