"""Every experiment a config can run: protocol name -> function, and its arguments' checks."""
from __future__ import annotations

import inspect

import numpy as np
import saiunit as u

from ._validate import ParameterError, quantity
from .fit import reproduce
from .network_experiments import association, dbn_training
from .protocols import (_count, frequency_response, mg_block_iv, pair_frequency, pairing,
                        short_term_depression, stdp)

__all__ = ['PROTOCOLS', 'ARGUMENTS', 'check_argument', 'allowed_arguments',
           'required_arguments', 'accepts']

PROTOCOLS = {
    'mg_block': mg_block_iv,
    'short_term_depression': short_term_depression,
    'pairing': pairing,
    'stdp': stdp,
    'pair_frequency': pair_frequency,
    'frequency_response': frequency_response,
    'dbn_training': dbn_training,
    'association': association,
    'dataset': reproduce,
}

#: Options of :class:`LayeredNetwork` that the network experiments pass through.
NETWORK_OPTIONS = {'lateral_inhibition', 'fan_in', 'max_rate', 'input_mode', 'input_current',
                   'w_spread'}
_RUNTIME = {'dt', 'pbar', 'seed'}  # set by the runner from the config's top level


def _signature(protocol):
    return inspect.signature(PROTOCOLS[protocol]).parameters.values()


def allowed_arguments(protocol: str) -> set:
    """Names a ``[[run]]`` table of ``protocol`` may set (model parameters go in [model])."""
    names = {p.name for p in _signature(protocol)
             if p.kind is not inspect.Parameter.VAR_KEYWORD} - _RUNTIME
    return names | NETWORK_OPTIONS if protocol in ('dbn_training', 'association') else names


def required_arguments(protocol: str) -> set:
    return {p.name for p in _signature(protocol) if p.default is inspect.Parameter.empty
            and p.kind is not inspect.Parameter.VAR_KEYWORD}


def accepts(protocol: str, name: str) -> bool:
    """Whether ``protocol`` has a parameter ``name`` (``dt``, ``seed``, ``pbar`` ...)."""
    return any(p.name == name for p in _signature(protocol))


#: Units and checks of the experiments' arguments, used to validate a config before running it.
ARGUMENTS = {
    'V': (u.mV, {}), 'hold': (u.mV, {}), 'delta_t': (u.ms, {}),
    'frequencies': (u.Hz, dict(positive=True)), 'frequency': (u.Hz, dict(positive=True)),
    'burst_interval': (u.ms, dict(positive=True)),
    'train_interval': (u.ms, dict(positive=True)), 'n_trains': (int, {}), 'stim_duration': (u.ms, dict(positive=True)),
    'stim_current': (u.nA, dict(positive=True)), 'mg': (u.mM, dict(nonnegative=True)),
    'presentation': (u.ms, dict(positive=True)), 'test_presentation': (u.ms, dict(positive=True)),
    'lateral_inhibition': (u.nS, dict(nonnegative=True)),
    'max_rate': (u.Hz, dict(nonnegative=True)), 'input_current': (u.pA, {}),
    'n_spikes': (int, {}), 'n_pulses': (int, {}), 'n_pairs': (int, {}), 'n_bursts': (int, {}),
    'n_inputs': (int, {}), 'n_cycles': (int, {}), 'n_input': (int, {}), 'n_hidden': (int, {}),
    'pattern_size': (int, {}), 'nmda_block': (bool, {}), 'plastic': (bool, {}),
    'feedback': (bool, {}), 'fan_in': (float, {}), 'w_spread': (float, {}),
    'input_mode': (str, {}), 'data': (str, {}), 'layer_sizes': ('sizes', {}), 'patterns': ('patterns', {}),
}


def check_argument(protocol: str, name: str, value):
    """Validate one argument (unit, sign, type) without running anything."""
    kind, checks = ARGUMENTS[name]
    where = f'{protocol}: parameter {name!r}'
    if kind is int:
        return _count(protocol, name, value)
    if kind is bool or kind is str:
        if not isinstance(value, kind):
            raise ParameterError(f'{where} must be a {kind.__name__}, got {value!r}')
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value < np.inf:
            raise ParameterError(f'{where} must be a finite non-negative number, got {value!r}')
        return float(value)
    if kind == 'sizes':
        if not isinstance(value, list) or len(value) < 2 or not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in value):
            raise ParameterError(f'{where} must list at least two positive integers, '
                                 f'got {value!r}')
        return value
    if kind == 'patterns':
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            array = np.zeros(0)
        if array.ndim != 2 or array.size == 0 or array.min() < 0 or array.max() > 1:
            raise ParameterError(f'{where} must be a list of equal-length lists of numbers '
                                 f'in [0, 1], got {value!r}')
        return array.tolist()
    return quantity(protocol, name, value, kind, **checks)
