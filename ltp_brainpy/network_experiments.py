r"""Learning experiments on :class:`~ltp_brainpy.LayeredNetwork`.

- :func:`dbn_training` -- the original deep-belief-style demonstration: patterns presented to
  a stack of layers connected both ways, rates and weights per cycle.
- :func:`association` -- associative learning: pairs of patterns (A, B) presented together;
  afterwards A alone evokes the hidden response of A+B (pattern completion), and different
  pairs end with more distinct hidden codes.

Both are declared as config protocols at the end of the module (:mod:`ltp_brainpy.declare`).
"""
from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import saiunit as u

from . import declare, simulate
from ._validate import ParameterError
from .network import LayeredNetwork
from .results import ProtocolResult

__all__ = ['dbn_training', 'association', 'DBN_PATTERNS', 'pattern_correlation',
           'NETWORK_ARGUMENTS', 'NETWORK_OPTIONS']

#: The seven patterns of the original demonstration.
DBN_PATTERNS = [[1.0, 0.0], [0.0, 1.0], [0.5, 1.0], [0.5, 0.5], [0.5, 0.0], [0.6, 0.4],
                [0.4, 0.6]]


def pattern_correlation(a, b) -> float:
    """Pearson correlation of two response vectors (0 if either is constant)."""
    a, b = np.asarray(a, float) - np.mean(a), np.asarray(b, float) - np.mean(b)
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / norm) if norm > 0 else 0.0


def _network_weights(net):
    return {name: np.asarray(w.to_decimal(u.nS)) for name, w in net.weights().items()}


def dbn_training(layer_sizes=(2, 5, 4), patterns=None, n_cycles=6, presentation=500.0 * u.ms,
                 feedback=True, seed=0, dt=simulate.DEFAULT_DT, pbar=False,
                 **params) -> ProtocolResult:
    r"""Train a layered network on patterns and report rates and weights per cycle.

    Every pattern is presented in turn for ``presentation`` with plasticity on, ``n_cycles``
    times. Network options (``lateral_inhibition``, ``fan_in``, ``max_rate``, ``input_mode``,
    ``w_spread``) and model parameters pass through ``params``.

    Returns
    -------
    ProtocolResult
        ``weight_change`` per cycle (mean AMPA conductance of all projections after the cycle
        relative to before training); traces ``rates_0``, ``rates_1`` ... (cycle, pattern,
        unit) in Hz and ``w_before_<projection>``, ``w_after_<projection>`` (nS).
    """
    patterns = np.asarray(DBN_PATTERNS if patterns is None else patterns, dtype=float)
    net = LayeredNetwork(list(layer_sizes), feedback=feedback, seed=seed, dt=dt, **params)
    before = _network_weights(net)
    record = net.train(patterns, n_cycles, presentation=presentation)
    after = _network_weights(net)
    total0 = sum(w.sum() for w in before.values())
    dw_cycle = sum(np.asarray(v.to_decimal(u.nS)).sum(axis=1) * before[k].size
                   for k, v in record.weight_change.items())
    traces = {f'rates_{l}': r for l, r in enumerate(record.rates)}
    traces.update({f'w_before_{k}': w * u.nS for k, w in before.items()})
    traces.update({f'w_after_{k}': w * u.nS for k, w in after.items()})
    traces['patterns'] = patterns
    return ProtocolResult('dbn_training', {'cycle': np.arange(1, n_cycles + 1)},
                          np.cumsum(dw_cycle) / total0, traces)


def _pair_patterns(n_pairs, pattern_size, n_half, rng):
    """Disjoint binary patterns A_k and B_k on the two halves of the input layer."""
    if n_pairs * pattern_size > n_half:
        raise ParameterError(f'association: n_pairs * pattern_size ({n_pairs * pattern_size}) '
                             f'must not exceed half the input layer ({n_half})')
    A, B = np.zeros((n_pairs, n_half)), np.zeros((n_pairs, n_half))
    pa, pb = rng.permutation(n_half), rng.permutation(n_half)
    for k in range(n_pairs):
        A[k, pa[k * pattern_size:(k + 1) * pattern_size]] = 1.0
        B[k, pb[k * pattern_size:(k + 1) * pattern_size]] = 1.0
    return A, B


def association(n_pairs=4, pattern_size=5, n_input=40, n_hidden=20, n_cycles=8,
                presentation=500.0 * u.ms, test_presentation=1000.0 * u.ms, plastic=True,
                nmda_block=False, fan_in=300.0, lateral_inhibition=100.0 * u.nS, seed=0,
                dt=simulate.DEFAULT_DT, pbar=False, **params) -> ProtocolResult:
    r"""Associative learning and pattern completion in a two-layer network.

    The input layer has two halves; pair :math:`k` is a pattern :math:`A_k` on the first half
    and :math:`B_k` on the second (disjoint binary patterns of ``pattern_size`` active units).
    Training presents :math:`A_k + B_k` together. Before and after training, the hidden
    responses to :math:`A_k` alone and to :math:`A_k + B_k` are measured with plasticity off,
    and two numbers summarise them:

    - completion: mean over pairs of corr(h(A_k), h(A_k + B_k));
    - code overlap: mean over pairs k < l of corr(h(A_k + B_k), h(A_l + B_l)).

    Learning shows as a rise of completion and a fall of code overlap. ``plastic=False``
    (plasticity off during training) and ``nmda_block=True`` (``gbar_N = 0``) are the controls.

    Returns
    -------
    ProtocolResult
        conditions ``stage`` = before, after; ``weight_change`` (one entry: mean AMPA change of
        the bottom-up projection); traces ``completion`` and ``code_overlap`` (before, after),
        ``hidden_A`` and ``hidden_AB`` (stage, pair, unit) in Hz, patterns ``A`` and ``B``.
    """
    if nmda_block:
        params['gbar_N'] = 0.0 * u.nS
    n_half = n_input // 2
    A, B = _pair_patterns(n_pairs, pattern_size, n_half, np.random.default_rng(seed))
    AB, A_alone = np.concatenate([A, B], axis=1), np.concatenate([A, 0 * B], axis=1)
    net = LayeredNetwork([2 * n_half, n_hidden], feedback=False, fan_in=fan_in,
                         lateral_inhibition=lateral_inhibition, seed=seed, dt=dt, **params)

    def measure():
        record = net.evaluate(np.concatenate([A_alone, AB]), presentation=test_presentation)
        h = np.asarray(record.rates[1].to_decimal(u.Hz))[0]
        h_A, h_AB = h[:n_pairs], h[n_pairs:]
        completion = np.mean([pattern_correlation(h_A[k], h_AB[k]) for k in range(n_pairs)])
        overlap = np.mean([pattern_correlation(h_AB[k], h_AB[l])
                           for k in range(n_pairs) for l in range(k + 1, n_pairs)])
        return completion, overlap, h_A, h_AB

    w0 = float(net.weights()['up_01'].mean().to_decimal(u.nS))
    c0, o0, hA0, hAB0 = measure()
    net.train(AB, n_cycles, presentation=presentation, plastic=plastic)
    c1, o1, hA1, hAB1 = measure()
    w1 = float(net.weights()['up_01'].mean().to_decimal(u.nS))
    return ProtocolResult(
        'association',
        {'stage': np.array(['before', 'after']), 'plastic': bool(plastic),
         'nmda_block': bool(nmda_block)},
        np.array([w1 / w0 - 1.0]),
        {'completion': np.array([c0, c1]), 'code_overlap': np.array([o0, o1]),
         'hidden_A': np.stack([hA0, hA1]) * u.Hz, 'hidden_AB': np.stack([hAB0, hAB1]) * u.Hz,
         'A': A, 'B': B},
        {'completion_before': float(c0), 'completion_after': float(c1),
         'code_overlap_before': float(o0), 'code_overlap_after': float(o1)})


# --------------------------------------------------------------------------- declarations
_A = declare.Argument
#: Options of :class:`LayeredNetwork` that the network experiments pass through (their
#: defaults are the network's).
NETWORK_ARGUMENTS = dict(
    lateral_inhibition=_A(u.nS, 'conductance of the lateral inhibition', nonnegative=True),
    fan_in=_A(float, 'scale of the initial bottom-up weights by the fan-in'),
    max_rate=_A(u.Hz, 'input rate of a pattern value of 1', nonnegative=True),
    input_mode=_A(str, 'how patterns drive the input layer (a LayeredNetwork input mode)'),
    input_current=_A(u.pA, 'current that a pattern value of 1 injects (current input mode)'),
    w_spread=_A(float, 'relative spread of the initial weights'),
    feedback_fan_in=_A(float, 'top-down drive, in synapses worth (default: fan_in / 20)'),
    threshold_increment=_A(u.mV, 'homeostatic threshold rise per spike', nonnegative=True),
    tau_threshold=_A(u.ms, 'relaxation time of the threshold rise', positive=True),
    synaptic_scaling=_A(bool, "keep each unit's total bottom-up conductance"))
_NETWORK_DEFAULTS = inspect.signature(LayeredNetwork.__init__).parameters
NETWORK_ARGUMENTS = {  # defaults: the network's
    k: dataclasses.replace(a, default=_NETWORK_DEFAULTS[k].default)
    if k in _NETWORK_DEFAULTS else a for k, a in NETWORK_ARGUMENTS.items()}
NETWORK_OPTIONS = set(NETWORK_ARGUMENTS)


def _check_dbn(args, model, dt, where):
    sizes = list(args['layer_sizes'])
    patterns = np.asarray(DBN_PATTERNS if args['patterns'] is None else args['patterns'])
    synapses = sum(a * b for a, b in zip(sizes, sizes[1:]))
    if synapses > declare.MAX_SYNAPSES:
        raise ParameterError(f"{where}: parameter 'layer_sizes' expected at most "
                             f'{declare.MAX_SYNAPSES:,} synapses between the layers, got '
                             f'{synapses:,} ({sizes})')
    if patterns.shape[1] != sizes[0]:
        raise ParameterError(f"{where}: parameter 'patterns' expected rows of "
                             f'layer_sizes[0] = {sizes[0]} values, got rows of '
                             f'{patterns.shape[1]}')
    length = args['n_cycles'] * len(patterns) * float(args['presentation'].to_decimal(u.ms))
    return length, 'n_cycles x patterns x presentation'


def _check_association(args, model, dt, where):
    n_input, n_hidden = args['n_input'], args['n_hidden']
    if n_input * n_hidden > declare.MAX_SYNAPSES:
        raise ParameterError(f"{where}: parameters 'n_input' x 'n_hidden' expected at most "
                             f'{declare.MAX_SYNAPSES:,} synapses, got {n_input * n_hidden:,}')
    if args['n_pairs'] * args['pattern_size'] > n_input // 2:
        raise ParameterError(f"{where}: parameters 'n_pairs' x 'pattern_size' expected at "
                             f'most half the input layer, n_input // 2 = {n_input // 2}, '
                             f"got {args['n_pairs'] * args['pattern_size']}")
    length = (args['n_cycles'] * args['n_pairs'] * float(args['presentation'].to_decimal(u.ms))
              + 4 * args['n_pairs'] * float(args['test_presentation'].to_decimal(u.ms)))
    return length, 'n_cycles x n_pairs x presentation, test_presentation'


declare.protocol(
    'dbn_training', figure='ltp_brainpy.plotting:dbn_training', check=_check_dbn,
    arguments=dict(
        layer_sizes=_A('sizes', 'units per layer, input first'),
        patterns=_A('patterns', 'input patterns, values in [0, 1] (default DBN_PATTERNS)'),
        n_cycles=_A(int, 'presentations of every pattern'),
        presentation=_A(u.ms, 'duration of one presentation', positive=True),
        feedback=_A(bool, 'top-down projections as well'),
        **NETWORK_ARGUMENTS))(dbn_training)
declare.protocol(
    'association', figure='ltp_brainpy.plotting:association', check=_check_association,
    arguments=dict(
        n_pairs=_A(int, 'pattern pairs (A, B)'),
        pattern_size=_A(int, 'active units of a pattern'),
        n_input=_A(int, 'input units (two halves, A and B)'),
        n_hidden=_A(int, 'hidden units'),
        n_cycles=_A(int, 'training presentations of every pair'),
        presentation=_A(u.ms, 'duration of a training presentation', positive=True),
        test_presentation=_A(u.ms, 'duration of a test presentation', positive=True),
        plastic=_A(bool, 'plasticity on during training (false: the control)'),
        nmda_block=_A(bool, 'block NMDA receptors (gbar_N = 0)'),
        **NETWORK_ARGUMENTS))(association)
