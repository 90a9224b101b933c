"""The target table the default parameters must reproduce (docs/model.md, section 5).

The targets are declared with their protocols (:mod:`ltp_brainpy.declare`): each list here
(:data:`MG_BLOCK`, :data:`SHORT_TERM_DEPRESSION`, :data:`STDP`, :data:`FREQUENCY_RESPONSE`,
:data:`PAIRING`, and :data:`BOUNDS`, shared by the plastic protocols) is the ``targets`` of a
protocol's declaration. A target reads the runs of its protocol and selects them by their
arguments and conditions (``n_pairs = 10`` at ``delta_t = +10 ms``, ``mg = 0 mM`` ...), not by
run label, among the runs that share the model of the protocol's first run (a rule atlas's
other rules are not mixed in), and :data:`BOUNDS` checks every run against the bounds
``w_min``, ``w_max`` of the model that run used. :func:`evaluate` evaluates the targets of every protocol of an
experiment; a target whose runs are missing is reported as ``n/a``, one whose measure fails as
a failure, each with the reason.
``configs/default.toml`` runs every condition of the table; the test suite and
``ltp-brainpy run default`` evaluate the same table.
"""
from __future__ import annotations

import numpy as np
import saiunit as u

from .declare import PROTOCOLS, Runs, Target, TargetError

__all__ = ['Target', 'TargetError', 'TARGETS', 'MG_BLOCK', 'SHORT_TERM_DEPRESSION', 'STDP',
           'FREQUENCY_RESPONSE', 'PAIRING', 'BOUNDS', 'evaluate', 'targets_of',
           'crossover_frequency', 'decay_constant', 'weight_bounds']

MG_TABLE = {-80.0: 0.0244, -60.0: 0.0796, -40.0: 0.2302, -20.0: 0.5081, 0.0: 0.7812}


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


def _mg(runs):
    """Largest relative error of B(V) against the Jahr & Stevens formula at 1 mM (inf if a
    value also misses the table's four decimals)."""
    r = runs.where(mg=1.0 * u.mM)[0]
    mg = float(r.mg / u.mM)
    worst = 0.0
    for v, table in MG_TABLE.items():
        value = float(np.asarray(r.unblocked)[_at(r, 'V', v, u.mV)])
        exact = 1.0 / (1.0 + mg / 3.57 * np.exp(-0.062 * v))
        if abs(value - table) > 5e-5:
            return float('inf')
        worst = max(worst, abs(value - exact) / exact)
    return worst


def _at(result, key, value, unit):
    """Index of the condition ``key == value`` in a result."""
    values = np.asarray(result.conditions[key].to_decimal(unit))
    matches = np.flatnonzero(np.isclose(values, value))
    if not len(matches):
        raise TargetError(f'{result.protocol}: no condition {key} = {value:g} {unit}')
    return int(matches[0])


def _depression(runs):
    if not runs:
        raise TargetError('no short_term_depression run')
    return float(max(np.abs(r.relative_release / r.analytic_relative_release - 1).max()
                     for r in runs))


def weight_bounds(model: dict) -> tuple:
    """``(w_min, w_max)`` in nS of the plasticity rule of a run's ``model`` parameters (the
    rule's defaults unless overridden)."""
    from .parameters import DEFAULT_RULE, default_parameters
    rule = {**default_parameters(model.get('rule', DEFAULT_RULE))['rule'], **model}
    if 'w_min' not in rule or 'w_max' not in rule:
        raise TargetError(f"rule {model.get('rule', DEFAULT_RULE)!r} has no w_min, w_max")
    return float(rule['w_min'].to_decimal(u.nS)), float(rule['w_max'].to_decimal(u.nS))


def _bounds(runs):
    """Largest excursion of the mean weight outside [w_min, w_max] of its run's rule (nS), or
    inf on NaN."""
    weighed = [r for r in runs if 'weight' in r.traces]
    if not weighed:
        raise TargetError('no run with a weight trace')
    worst = 0.0
    for r in weighed:
        w_min, w_max = weight_bounds(r.model)
        w = np.asarray(r.traces['weight'].to_decimal(u.nS))
        if not np.all(np.isfinite(w)):
            return float('inf')
        worst = max(worst, float(w_min - w.min()), float(w.max() - w_max))
    return max(worst, 0.0)


def _window(runs):
    """The STDP window: runs of 60 pairs at 1 Hz (one burst)."""
    return runs.where(n_pairs=60, frequency=1.0 * u.Hz, n_bursts=1)


def _side(runs, sign):
    """(delta t in ms, weight change) of the STDP window on one side (sign +1 or -1)."""
    window = _window(runs)
    dt, dw = window.values('delta_t', u.ms), window.changes()
    side = sign * dt > 0
    if not side.any():
        raise TargetError(f'stdp: no delta_t {"> 0" if sign > 0 else "< 0"} in the window')
    return dt[side], dw[side]


def _peak(runs, sign):
    """(position in ms, value) of the window's extreme on one side: the largest LTP for
    sign = +1, the deepest LTD for sign = -1."""
    dt, dw = _side(runs, sign)
    k = int(np.argmax(sign * dw))
    return float(dt[k]), float(dw[k])


def decay_constant(delta_t_ms, weight_change) -> float:
    """Time constant (ms) of :math:`A e^{-|\\Delta t|/\\tau}` fitted by least squares to one
    side of an STDP window (Bi & Poo 1998 fit their data this way); NaN if it does not fit."""
    from scipy.optimize import curve_fit
    x, y = np.abs(np.asarray(delta_t_ms, float)), np.asarray(weight_change, float)
    k = int(np.argmax(np.abs(y)))
    try:
        (_, tau), _ = curve_fit(lambda t, a, tau: a * np.exp(-t / tau), x, y,
                                p0=(y[k] * np.exp(x[k] / 20.0), 20.0), maxfev=10_000)
    except RuntimeError:
        return float('nan')
    return float(tau) if tau > 0 else float('nan')


def _tau(runs, sign, lo, hi):
    dt, dw = _side(runs, sign)
    keep = (np.abs(dt) >= lo) & (np.abs(dt) <= hi)
    return decay_constant(dt[keep], dw[keep])


def _pairs(runs):
    """Changes after 10, 30 and 60 pairs at 1 Hz, +10 ms."""
    return [runs.where(n_pairs=n, frequency=1.0 * u.Hz, n_bursts=1).change('delta_t', 10.0, u.ms)
            for n in (10, 30, 60)]


def _frequency(runs, n_pulses, f):
    return runs.where(n_pulses=n_pulses).change('frequency', f, u.Hz)


def _crossover(runs):
    trains = runs.where(n_pulses=900)
    return crossover_frequency(trains.values('frequency', u.Hz), trains.changes())


def _pairing(runs, **where):
    """Pairing runs of 200 pulses at 2 Hz: by default the controls (1 mM Mg, NMDA intact)."""
    return runs.where(**{'n_pulses': 200, 'frequency': 2.0 * u.Hz, 'nmda_block': False,
                         'mg': 1.0 * u.mM, **where})


def _holds(runs, lo, hi):
    control = _pairing(runs)
    V, dw = control.values('hold', u.mV), control.changes()
    keep = (V >= lo) & (V <= hi)
    if not keep.any():
        raise TargetError(f'pairing: no holding potential in [{lo}, {hi}] mV')
    return dw[keep]


def _ok(check):
    """A pass test that is False (not an error) on NaN or a missing value."""
    def passes(value):
        try:
            return bool(check(value))
        except (TypeError, ValueError):
            return False
    return passes


MG_BLOCK = [
    Target('Mg block', 'B(V) at -80, -60, -40, -20, 0 mV, 1 mM',
           'rel. err < 1e-4 (and the 4 decimals)', _mg, _ok(lambda x: x < 1e-4), unit=''),
]
SHORT_TERM_DEPRESSION = [
    Target('Short-term depression', '20 spikes at 5, 10, 20, 50 Hz',
           'release follows the analytic recursion within 2 %', _depression,
           _ok(lambda x: x < 0.02)),
]
STDP = [
    Target('STDP window', '60 pairs at 1 Hz: LTP peak', '+40 ... +100 % at +5 ... +10 ms',
           lambda r: _peak(r, +1), _ok(lambda p: 5 <= p[0] <= 10 and 0.4 <= p[1] <= 1.0),
           unit='peak'),
    Target('STDP window', '60 pairs at 1 Hz: LTD peak', '-15 ... -40 % at -5 ... -20 ms',
           lambda r: _peak(r, -1), _ok(lambda p: -20 <= p[0] <= -5 and -0.4 <= p[1] <= -0.15),
           unit='peak'),
    Target('STDP window, LTP side', 'exponential fitted to +5 ... +60 ms',
           'tau+ = 17 ms +- 30 % (Bi & Poo: 16.8 ms)', lambda r: _tau(r, +1, 5, 60),
           _ok(lambda x: 17 * 0.7 <= x <= 17 * 1.3), unit='ms'),
    Target('STDP window, LTD side', 'exponential fitted to -5 ... -80 ms',
           'tau- = 34 ms +- 30 % (Bi & Poo: 33.7 ms)', lambda r: _tau(r, -1, 5, 80),
           _ok(lambda x: 34 * 0.7 <= x <= 34 * 1.3), unit='ms'),
    Target('STDP window, tails', 'delta t = -100 and +100 ms', 'abs change <= 5 % each',
           lambda r: [_window(r).change('delta_t', d, u.ms) for d in (-100.0, 100.0)],
           _ok(lambda x: max(abs(v) for v in x) <= 0.05)),
    Target('STDP, number of pairs', '10, 30, 60 pairs at +10 ms',
           'increasing; 10 pairs < half of 60', _pairs,
           _ok(lambda x: x[0] < x[1] < x[2] and x[0] < x[2] / 2)),
]
FREQUENCY_RESPONSE = [
    Target('Frequency (Dudek & Bear)', '900 pulses at 1 and at 3 Hz', '<= -10 % each',
           lambda r: [_frequency(r, 900, f) for f in (1.0, 3.0)],
           _ok(lambda x: max(x) <= -0.1)),
    Target('Frequency', 'crossover from LTD to LTP', '7 ... 15 Hz', _crossover,
           _ok(lambda x: 7.0 <= x <= 15.0), unit='Hz'),
    Target('Frequency', '900 pulses at 50 Hz; 100 pulses at 100 Hz', '>= +10 %; >= +20 %',
           lambda r: [_frequency(r, 900, 50.0), _frequency(r, 100, 100.0)],
           _ok(lambda x: x[0] >= 0.1 and x[1] >= 0.2)),
]
PAIRING = [
    Target('Pairing (Chen et al.)', '200 pulses at 2 Hz clamped at 0 mV', '>= +50 %',
           lambda r: _pairing(r).change('hold', 0.0, u.mV), _ok(lambda x: x >= 0.5)),
    Target('Pairing', 'same, clamped at -70 mV', 'abs change <= 5 %',
           lambda r: _pairing(r).change('hold', -70.0, u.mV), _ok(lambda x: abs(x) <= 0.05)),
    Target('Pairing', '0 mV with NMDA blocked (AP5)', 'abs change <= 5 %',
           lambda r: _pairing(r, nmda_block=True).change('hold', 0.0, u.mV),
           _ok(lambda x: abs(x) <= 0.05)),
    Target('Pairing, voltage dependence', 'deepest LTD in -60 ... -30 mV',
           'LTD (<= -5 %) (Ngezahayo et al. 2000)', lambda r: float(_holds(r, -60, -30).min()),
           _ok(lambda x: x <= -0.05)),
    Target('Pairing, voltage dependence', 'smallest change in -20 ... +10 mV',
           'LTP (>= +10 %) from -20 mV up', lambda r: float(_holds(r, -20, 10).min()),
           _ok(lambda x: x >= 0.1)),
    Target('Pairing, magnesium', '-70 mV in 0 mM Mg', '>= +20 % (block removed)',
           lambda r: _pairing(r, mg=0.0 * u.mM).change('hold', -70.0, u.mV),
           _ok(lambda x: x >= 0.2)),
    Target('Pairing, magnesium', '0 mV in 2 mM Mg, and in 1 mM', 'smaller in 2 mM',
           lambda r: [_pairing(r, mg=2.0 * u.mM).change('hold', 0.0, u.mV),
                      _pairing(r).change('hold', 0.0, u.mV)],
           _ok(lambda x: x[0] < x[1])),
]
#: Shared by the protocols with a weight trace (stdp, frequency_response, pairing): evaluated
#: once, on all their runs, after their own targets.
BOUNDS = Target('Bounds', 'every protocol above', 'w_min <= w <= w_max, no NaN',
                _bounds, _ok(lambda x: x <= 1e-6), unit='', one_model=False)


def targets_of(protocols) -> list:
    """``[(target, protocol names)]`` of the declared ``protocols`` (names, in order): each
    target once, those declared by a single protocol first."""
    owners = {}
    for name in protocols:
        for target in PROTOCOLS[name].targets:
            owners.setdefault(id(target), (target, []))[1].append(name)
    pairs = list(owners.values())
    return [p for p in pairs if len(p[1]) == 1] + [p for p in pairs if len(p[1]) > 1]


def __getattr__(name):
    if name == 'TARGETS':  # every declared target, as the table lists them
        from .registry import PROTOCOLS as declared
        return [target for target, _ in targets_of(declared)]
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def evaluate(results: dict) -> list:
    """The target rows of an experiment's ``{label: ProtocolResult}``: the targets of every
    declared protocol that ran, each on the runs of its protocol(s) in order; a target that
    cannot be evaluated gives a row with the reason in ``error`` and ``passed`` None (its runs
    are not in the config) or False (its measure failed)."""
    from . import registry  # noqa: F401  (declares the package's protocols)
    runs = {}
    for result in results.values():
        runs.setdefault(result.protocol, []).append(result)
    names = [name for name in runs if name in PROTOCOLS]
    return [target.evaluate(Runs([r for name in owners for r in runs[name]], owners[0]))
            for target, owners in targets_of(names)]
