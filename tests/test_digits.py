"""The digits experiment: its readout, the network's learning ingredients, and a quick run."""
import json

import brainstate
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import GlutamateSynapse, LayeredNetwork, LTPNeuron, LTPProjection, simulate
from ltp_brainpy.cli import main
from ltp_brainpy.digits import (classify, completion_correlation, digit_images, digits,
                                input_cells, kmeans_responses, label_units, readout_accuracy)


def test_the_split_is_fixed_and_stratified():
    X_train, y_train, X_test, y_test = digit_images()
    assert X_train.shape == (1437, 64) and X_test.shape == (360, 64)
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert np.array_equal(np.bincount(y_test), [36, 36, 35, 37, 36, 37, 36, 36, 35, 36])
    again = digit_images()
    assert np.array_equal(again[0], X_train) and np.array_equal(again[3], y_test)


def test_readout_labels_units_by_their_strongest_class_and_votes_by_mean_answer():
    # unit 0 answers class 0, units 1 and 2 class 1, unit 3 never answers
    train = np.array([[5.0, 0.0, 1.0, 0.0], [4.0, 1.0, 0.0, 0.0],
                      [0.0, 6.0, 2.0, 0.0], [1.0, 4.0, 4.0, 0.0]])
    labels = np.array([0, 0, 1, 1])
    units = label_units(train, labels)
    assert units.tolist() == [0, 1, 1, -1]
    test = np.array([[3.0, 1.0, 1.0, 0.0],   # class 0: 3 > mean(1, 1)
                     [3.0, 5.0, 2.0, 0.0],   # class 1: mean(5, 2) = 3.5 > 3
                     [3.0, 4.0, 1.0, 0.0]])  # class 0: 3 > 2.5
    assert classify(test, units).tolist() == [0, 1, 0]
    accuracy, predictions = readout_accuracy(train, labels, test, np.array([0, 1, 1]))
    assert accuracy == pytest.approx(2 / 3)


def test_kmeans_units_answer_one_hot_and_completion_correlation_is_one_for_the_truth():
    X_train, y_train, X_test, y_test = digit_images()
    train, test, centroids = kmeans_responses(X_train[:200], X_test[:50], 10, seed=0)
    assert train.shape == (200, 10) and test.shape == (50, 10) and centroids.shape == (10, 64)
    assert np.all(train.sum(axis=1) == 1) and np.all(test.sum(axis=1) == 1)
    # a hidden layer of one-hot units whose top-down weights are the images themselves
    images = X_test[:5]
    missing = np.arange(64) >= 32
    assert completion_correlation(np.eye(5), images, images, missing) == pytest.approx(1.0)
    assert completion_correlation(np.eye(5), 1.0 - images, images, missing) == \
        pytest.approx(-1.0)


def test_threshold_rises_by_its_increment_per_spike_and_relaxes():
    net = LayeredNetwork([4, 3], feedback=False, fan_in=2000.0, threshold_increment=0.5 * u.mV,
                         tau_threshold=200.0 * u.ms, lateral_inhibition=0.0 * u.nS, seed=1)
    record = net.train(np.ones((1, 4)), 1, presentation=100.0 * u.ms, record=('spikes',))
    spikes = np.asarray(record.spikes[1])[0, 0]  # (time, unit)
    assert spikes.sum() > 3
    steps = spikes.shape[0]
    # closed form: theta = increment * sum over spikes of exp(-(T - t_k) / tau)
    age = (steps - 1 - np.arange(steps))[:, None] * 0.1
    expected = 0.5 * (spikes * np.exp(-age / 200.0)).sum(axis=0)
    theta = np.asarray(net.threshold_rises()['threshold1'].to_decimal(u.mV))
    np.testing.assert_allclose(theta, expected, rtol=1e-4)
    # learning off: evaluation neither moves the thresholds nor the weights
    weights = {k: np.asarray(w.to_decimal(u.nS)) for k, w in net.weights().items()}
    net.evaluate(np.ones((2, 4)), presentation=50.0 * u.ms)
    np.testing.assert_array_equal(net.threshold_rises()['threshold1'].to_decimal(u.mV), theta)
    for k, w in net.weights().items():
        np.testing.assert_array_equal(np.asarray(w.to_decimal(u.nS)), weights[k])
    assert bool(net.projections['up_01'].plastic) and bool(net.thresholds[0].adapting.value)


def test_synaptic_scaling_keeps_each_units_bottom_up_total():
    net = LayeredNetwork([6, 4, 3], feedback=True, fan_in=600.0, synaptic_scaling=True,
                         lateral_inhibition=50.0 * u.nS, seed=2, gamma_p=20.0 / u.second)
    totals = {k: np.asarray(w.to_decimal(u.nS)).sum(axis=0) for k, w in net.weights().items()}
    net.train(np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1.0]]), 2,
              presentation=200.0 * u.ms)
    after = {k: np.asarray(w.to_decimal(u.nS)) for k, w in net.weights().items()}
    for name in ('up_01', 'up_12'):
        np.testing.assert_allclose(after[name].sum(axis=0), totals[name], rtol=1e-5)
    moved = np.abs(after['up_01'].sum(axis=0) - totals['up_01']).max()
    assert moved < 1e-4 and not np.allclose(after['up_01'], net.projections['up_01']._w0
                                            .to_decimal(u.nS))
    assert not np.allclose(after['down_01'].sum(axis=0), totals['down_01'])  # not scaled


def test_a_frozen_projection_runs_the_same_as_a_non_plastic_one():
    """``learns = False`` (compiled without calcium and rule) gives the neuron the same input
    as ``plastic = False``."""
    def run(learns):
        brainstate.random.seed(0)
        post = LTPNeuron(3)
        proj = LTPProjection(GlutamateSynapse(5), post, w_init=0.8 * u.nS, current_scale=40.0,
                             plastic=False)
        brainstate.nn.init_all_states([post, proj])
        proj.learns = learns
        spikes = np.random.default_rng(0).uniform(size=(400, 5)) < 0.05

        def step(spike):
            proj.update(spike)
            post.update()
            return post.V.value.to_decimal(u.mV)

        return np.asarray(simulate.run(step, 400, spikes, dt=0.1 * u.ms))

    V_frozen, V_off = run(False), run(True)
    assert np.ptp(V_off) > 1.0
    np.testing.assert_array_equal(V_frozen, V_off)


def test_digits_is_deterministic_for_a_seed():
    kwargs = dict(n_hidden=8, n_train=24, n_test=12, n_label=24, n_checkpoints=1,
                  presentation=60.0 * u.ms, theta_p=1.0 * u.uM, theta_d=0.9 * u.uM)
    a, b = digits(**kwargs), digits(**kwargs)
    for key, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[key], err_msg=key)
    assert a.summary['accuracy'] == b.summary['accuracy']


def test_on_off_cells_add_the_background_and_shape_the_fields():
    X = digit_images()[2][:5]
    np.testing.assert_array_equal(input_cells(False)(X), X)
    cells = input_cells(True)(X)
    assert cells.shape == (5, 128)
    np.testing.assert_allclose(cells[:, :64] + cells[:, 64:], 1.0)  # ink + background
    result = digits(n_hidden=6, n_train=12, n_test=6, n_label=12, n_checkpoints=1,
                    presentation=30.0 * u.ms, on_off=True)
    assert result.fields_after.shape == (6, 8, 8)  # the ink cells' fields
    assert np.isfinite(result.summary['completion_after'])


@pytest.mark.slow
def test_quick_digits_run_learns_clearly(tmp_path):
    out = tmp_path / 'digits'
    assert main(['run', 'digits', '--quick', '--out', str(out)]) == 0
    results = json.loads((out / 'results.json').read_text())
    run = results['runs']['digits']
    assert run['accuracy'] >= run['accuracy_plasticity_off'] + 0.15
    assert run['accuracy_logistic'] > 0.9
    assert (out / 'digits.png').stat().st_size > 10_000
