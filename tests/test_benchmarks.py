"""The benchmark scripts keep working (speed itself is never asserted)."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_canonical_benchmark_quick_mode():
    spec = importlib.util.spec_from_file_location('canonical', ROOT / 'benchmarks' / 'canonical.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = module.main(['--quick'])
    assert [r['run'] for r in report['runs']] == ['mg_block', 'depression', 'pairing', 'ap5',
                                                  'stdp', 'frequency', 'tetanus']
    assert all(r['wall_s'] > 0 for r in report['runs']) and report['total_s'] > 0
