"""The benchmark scripts keep working (speed itself is never asserted)."""
import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'benchmarks' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_canonical_benchmark_quick_mode():
    report = _load('canonical').main(['--quick'])
    assert [r['run'] for r in report['runs']] == [
        'mg_block', 'depression', 'stdp', 'stdp_10', 'stdp_30', 'frequency', 'tetanus',
        'pairing', 'ap5', 'mg_free', 'mg_2mM']
    assert all(r['wall_s'] > 0 for r in report['runs']) and report['total_s'] > 0


def test_throughput_benchmark_quick_mode_and_agreement_of_the_three_implementations():
    report = _load('throughput').main(['--quick'])
    assert [(r['n'], r['dtype']) for r in report['rows']] == [(20, 'float32'), (20, 'float64')]
    for row in report['rows']:
        assert row['synapses'] == 4 * 20 * 20 and row['synapse_steps_per_s'] > 0
        assert row['compile_s'] >= 0 and row['rates_hz'][0] > 0
    (reference,) = report['references']
    ours, runs = reference['ltp_brainpy_float64'], reference['runs']
    assert set(runs) == {'numpy', 'brian2 runtime'}
    assert ours['rates_hz'][0] > 0 and abs(ours['weight_change_nS']['up_01']) > 1e-5
    # NumPy is the same model and the same arithmetic: equal to rounding.
    assert runs['numpy']['max_rate_difference_hz'] < 1e-9
    assert runs['numpy']['max_weight_change_difference'] < 1e-9
    # Brian2 integrates the terminals' kinetics simultaneously rather than in sequence:
    # the same spikes (one would be 1 Hz here) and weight changes within 10 %.
    assert runs['brian2 runtime']['max_rate_difference_hz'] < 0.5
    assert runs['brian2 runtime']['max_weight_change_difference'] < 0.1
    assert all(run['synapse_steps_per_s'] > 0 for run in runs.values())


def test_stdp_sweep_benchmark_quick_mode():
    report = _load('stdp_sweep').main(['--quick'])
    assert len(report['weight_change']) == 21 and report['batched_s'] > 0


def test_fit_benchmark_quick_mode():
    report = _load('fit_markram').main(['--quick'])
    assert report['rows'] == 8 and report['wall_s'] > 0 and report['gradient_s'] > 0
    assert np.isfinite(report['chi2']) and report['peak_rss_MB'] > 0


def test_sparse_benchmark_quick_mode_stores_the_same_synapses_either_way():
    report = _load('sparse').main(['--quick'])
    dense, sparse = report['rows']
    assert not dense['sparse'] and sparse['sparse']
    assert dense['n_synapses'] == sparse['n_synapses'] > 0
    assert sparse['stored_entries'] < dense['stored_entries'] == 200 * 200
    assert all(row['synapse_steps_per_s'] > 0 for row in report['rows'])


def test_network_devices_benchmark_quick_mode_gives_the_same_network_on_two_devices():
    report = _load('network_devices').main(['--quick'])
    assert report['n'] == 40 and "'neurons'" in report['two_devices']['w_layout']
    assert report['float64_check']['max_count_difference'] == 0
    assert report['float64_check']['max_relative_weight_difference'] <= 1e-12
    assert all(report[k]['synapse_steps_per_s'] > 0 for k in ('one_device', 'two_devices'))
