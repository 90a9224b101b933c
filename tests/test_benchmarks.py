"""The benchmark scripts keep working (speed itself is never asserted)."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'benchmarks' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_canonical_benchmark_quick_mode():
    report = _load('canonical').main(['--quick'])
    assert [r['run'] for r in report['runs']] == ['mg_block', 'depression', 'pairing', 'ap5',
                                                  'stdp', 'frequency', 'tetanus']
    assert all(r['wall_s'] > 0 for r in report['runs']) and report['total_s'] > 0


def test_throughput_benchmark_quick_mode_and_numpy_agreement():
    report = _load('throughput').main(['--quick'])
    assert [(r['n'], r['dtype']) for r in report['rows']] == [(20, 'float32'), (20, 'float64')]
    for row in report['rows']:
        assert row['synapses'] == 4 * 20 * 20 and row['synapse_steps_per_s'] > 0
        # The NumPy reference is the same model: same spikes, same weights.
        assert row['numpy']['max_rate_difference_hz'] < 1e-3  # one spike would be 100 Hz
        assert row['numpy']['max_weight_difference_nS'] < 1e-4


def test_stdp_sweep_benchmark_quick_mode():
    report = _load('stdp_sweep').main(['--quick'])
    assert len(report['weight_change']) == 21 and report['batched_s'] > 0
