"""The network experiments: the original demonstration and associative learning."""
from pathlib import Path

import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import ParameterError
from ltp_brainpy.config import load_config
from ltp_brainpy.experiments import run_protocols
from ltp_brainpy.network_experiments import association, pattern_correlation

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'


@pytest.fixture(scope='module')
def association_results():
    return run_protocols(load_config(CONFIGS / 'association.toml'))


def test_pairs_are_completed_and_codes_become_more_distinct(association_results):
    r = association_results['association']
    assert r.summary['completion_after'] - r.summary['completion_before'] >= 0.3
    assert r.summary['code_overlap_after'] < r.summary['code_overlap_before'] - 0.05
    assert r.weight_change[0] > 0.1


@pytest.mark.parametrize('control', ['plasticity_off', 'nmda_blocked'])
def test_learning_effect_vanishes_in_the_controls(association_results, control):
    r = association_results[control]
    assert abs(r.summary['completion_after'] - r.summary['completion_before']) < 0.05
    assert abs(r.summary['code_overlap_after'] - r.summary['code_overlap_before']) < 0.05
    assert abs(r.weight_change[0]) < 1e-4


def test_dbn_demonstration_learns_over_cycles():
    r = run_protocols(load_config(CONFIGS / 'dbn_patterns.toml'))['dbn']
    assert [r.traces[f'rates_{l}'].shape for l in range(3)] == [(6, 7, 2), (6, 7, 5), (6, 7, 4)]
    assert np.all(np.diff(r.weight_change) >= -1e-6) and r.weight_change[-1] > 0.1
    for key, w in r.traces.items():
        if key.startswith('w_after_'):
            w = np.asarray(w.to_decimal(u.nS))
            assert w.min() >= 0.0 and w.max() <= 1.0
    top = np.asarray(r.traces['rates_2'].to_decimal(u.Hz))
    assert top[-1].sum() > top[0].sum()  # learning recruits the top layer


def test_pattern_correlation_and_validation():
    assert pattern_correlation([0, 1, 2], [0, 2, 4]) == pytest.approx(1.0)
    assert pattern_correlation([1, 1, 1], [0, 2, 4]) == 0.0
    with pytest.raises(ParameterError, match='must not exceed half the input layer'):
        association(n_pairs=5, pattern_size=5, n_input=40)
