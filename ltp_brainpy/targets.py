"""The target table the default parameters must reproduce (docs/model.md, section 4).

Each target reads the results of the default experiment (``configs/default.toml``) by run
label and returns the measured value and whether it lies in the acceptance band. The test suite
and ``ltp-brainpy run configs/default.toml`` evaluate the same table.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import saiunit as u

__all__ = ['Target', 'TARGETS', 'evaluate', 'crossover_frequency']

MG_TABLE = {-80.0: 0.0244, -60.0: 0.0796, -40.0: 0.2302, -20.0: 0.5081, 0.0: 0.7812}


def _at(result, key, value, unit):
    """Index of the condition ``key == value`` in a result."""
    values = np.asarray(result.conditions[key].to_decimal(unit))
    matches = np.flatnonzero(np.isclose(values, value))
    if not len(matches):
        raise KeyError(f'{result.protocol}: no condition {key} = {value} {unit}')
    return int(matches[0])


def _change(result, key, value, unit):
    return float(result.weight_change[_at(result, key, value, unit)])


def crossover_frequency(frequencies_hz, weight_change) -> float:
    """First frequency where the weight change turns from LTD to LTP (log-linear interpolation);
    NaN if there is none."""
    f, dw = np.asarray(frequencies_hz, float), np.asarray(weight_change, float)
    order = np.argsort(f)
    f, dw = f[order], dw[order]
    for i in range(len(f) - 1):
        if dw[i] < 0 <= dw[i + 1]:
            x = dw[i] / (dw[i] - dw[i + 1])
            return float(np.exp(np.log(f[i]) + x * (np.log(f[i + 1]) - np.log(f[i]))))
    return float('nan')


def _mg(results):
    """Largest relative error of B(V) against the Jahr & Stevens formula (inf if a value also
    misses the table's four decimals)."""
    r = results['mg_block']
    mg = float(r.mg / u.mM)
    worst = 0.0
    for v, table in MG_TABLE.items():
        value = float(r.unblocked[_at(r, 'V', v, u.mV)])
        exact = 1.0 / (1.0 + mg / 3.57 * np.exp(-0.062 * v))
        if abs(value - table) > 5e-5:
            return float('inf')
        worst = max(worst, abs(value - exact) / exact)
    return worst


def _depression(results):
    r = results['depression']
    return float(np.abs(r.relative_release / r.analytic_relative_release - 1).max())


def _crossover(results):
    r = results['frequency']
    return crossover_frequency(r.conditions['frequency'].to_decimal(u.Hz), r.weight_change)


def _bounds(results):
    """Largest excursion of the mean weight outside [w_min, w_max] = [0, 1] nS, or inf on NaN."""
    weights = [r.traces['weight'] for r in results.values() if 'weight' in r.traces]
    if not weights:
        raise KeyError('no weight traces')
    worst = 0.0
    for w in weights:
        w = np.asarray(w.to_decimal(u.nS))
        if not np.all(np.isfinite(w)):
            return float('inf')
        worst = max(worst, float(-w.min()), float(w.max() - 1.0))
    return max(worst, 0.0)


@dataclasses.dataclass(frozen=True)
class Target:
    protocol: str
    condition: str
    target: str
    measure: Callable
    passes: Callable
    percent: bool = True  # report the measured value in percent


TARGETS = [
    Target('Mg block', 'B(V) at -80, -60, -40, -20, 0 mV, 1 mM',
           'rel. err < 1e-4 (and the 4 decimals)', _mg, lambda x: x < 1e-4, percent=False),
    Target('Short-term depression', '20 spikes at 5, 10, 20, 50 Hz',
           'release follows the analytic recursion within 2 %', _depression, lambda x: x < 0.02),
    Target('Pairing', '200 pulses at 2 Hz, clamped at 0 mV', '>= +50 %',
           lambda r: _change(r['pairing'], 'hold', 0.0, u.mV), lambda x: x >= 0.5),
    Target('Pairing', 'same, clamped at -70 mV', 'abs change <= 5 %',
           lambda r: _change(r['pairing'], 'hold', -70.0, u.mV), lambda x: abs(x) <= 0.05),
    Target('Pairing', '0 mV with NMDA blocked (AP5)', 'abs change <= 5 %',
           lambda r: _change(r['ap5'], 'hold', 0.0, u.mV), lambda x: abs(x) <= 0.05),
    Target('STDP', '60 pairs at 1 Hz, post 10 ms after pre', '>= +20 %',
           lambda r: _change(r['stdp'], 'delta_t', 10.0, u.ms), lambda x: x >= 0.2),
    Target('STDP', 'same, post 10 ms before pre', '<= -10 %',
           lambda r: _change(r['stdp'], 'delta_t', -10.0, u.ms), lambda x: x <= -0.1),
    Target('STDP', 'delta t = -100 ms', 'abs change <= 15 %',
           lambda r: _change(r['stdp'], 'delta_t', -100.0, u.ms), lambda x: abs(x) <= 0.15),
    Target('STDP', 'delta t = +100 ms', 'abs change <= 15 %',
           lambda r: _change(r['stdp'], 'delta_t', 100.0, u.ms), lambda x: abs(x) <= 0.15),
    Target('Frequency', '900 pulses at 1 Hz, inputs co-stimulated', '<= -10 %',
           lambda r: _change(r['frequency'], 'frequency', 1.0, u.Hz), lambda x: x <= -0.1),
    Target('Frequency', '100 pulses at 100 Hz (tetanus)', '>= +10 %',
           lambda r: _change(r['tetanus'], 'frequency', 100.0, u.Hz), lambda x: x >= 0.1),
    Target('Frequency', 'crossover from LTD to LTP', 'between 5 and 30 Hz',
           _crossover, lambda x: 5.0 <= x <= 30.0, percent=False),
    Target('Bounds', 'every protocol above', 'w_min <= w <= w_max, no NaN',
           _bounds, lambda x: x <= 1e-6, percent=False),
]


def evaluate(results: dict) -> list:
    """Evaluate every target whose runs are present; one dict per target."""
    rows = []
    for t in TARGETS:
        try:
            value = t.measure(results)
        except KeyError:
            continue
        rows.append(dict(protocol=t.protocol, condition=t.condition, target=t.target,
                         measured=value, passed=bool(t.passes(value)),
                         measured_text=(f'{100 * value:+.1f} %' if t.percent else f'{value:.3g}')
                         + (' Hz' if 'crossover' in t.condition else '')))
    return rows
