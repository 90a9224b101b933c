"""Triplet STDP against its closed form and against brainpy's own triplet rule."""
import types

import brainpy
import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import ParameterError, PlasticityRule, protocols, simulate
from ltp_brainpy.connectivity import DenseLayout
from ltp_brainpy.plasticity import SynapseSignals
from ltp_brainpy.triplet import PRESETS, TripletSTDPRule

DT = 0.1  # ms
HIPPO = PRESETS['hippocampal_all_to_all_full']


def _drive(rule, pre, post, w0=0.5):
    """Final w / w0 of one synapse driven by per-step pre and post spike trains (0/1)."""
    rule.attach(DenseLayout(1, 1))
    rule.init_state()

    def step(pre_spike, post_spike):
        w = rule.w.value
        signals = SynapseSignals(calcium=None, w0=w0 * u.nS, pre_spike=pre_spike[None],
                                 post_spike=post_spike[None], V=None, V_dend=None,
                                 dt=DT * u.ms, layout=rule.layout)
        rule.w.value = rule.update(w, signals)

    rule.w = brainstate.HiddenState(jnp.full((1, 1), w0) * u.nS)
    simulate.run(step, len(pre), jnp.asarray(pre, dtype=float), jnp.asarray(post, dtype=float),
                 dt=DT * u.ms)
    return float(rule.w.value[0, 0].to_decimal(u.nS)) / w0


def _train(n, steps):
    x = np.zeros(n)
    x[list(steps)] = 1.0
    return x


def _decay(steps, tau):
    return np.exp(-steps * DT / tau)


@pytest.fixture(autouse=True)
def float64():
    with brainstate.environ.context(precision=64):
        yield


@pytest.mark.parametrize('gap', [1, 50, 200])
def test_isolated_pairs_match_the_closed_form(gap):
    n = 1000
    tp, tm = 16.8, 33.7
    ltp = _drive(TripletSTDPRule(**HIPPO), _train(n, [100]), _train(n, [100 + gap])) - 1
    ltd = _drive(TripletSTDPRule(**HIPPO), _train(n, [100 + gap]), _train(n, [100])) - 1
    np.testing.assert_allclose(ltp, HIPPO['A2_plus'] * _decay(gap, tp), rtol=1e-6)
    np.testing.assert_allclose(ltd, -HIPPO['A2_minus'] * _decay(gap, tm), rtol=1e-6)


def test_triplets_match_the_closed_form():
    n, a, b = 2000, 80, 120
    p = HIPPO
    tp, tm, tx, ty = 16.8, 33.7, 946.0, 27.0
    # post - pre - post: the second post spike is potentiated by the first one's slow trace
    dw = _drive(TripletSTDPRule(**p), _train(n, [100 + a]), _train(n, [100, 100 + a + b])) - 1
    expected = (-p['A2_minus'] * _decay(a, tm)
                + _decay(b, tp) * (p['A2_plus'] + p['A3_plus'] * _decay(a + b, ty)))
    np.testing.assert_allclose(dw, expected, rtol=1e-6)
    # pre - post - pre: the second pre spike is depressed more after the first one
    dw = _drive(TripletSTDPRule(**p), _train(n, [100, 100 + a + b]), _train(n, [100 + a])) - 1
    expected = (p['A2_plus'] * _decay(a, tp)
                - _decay(b, tm) * (p['A2_minus'] + p['A3_minus'] * _decay(a + b, tx)))
    np.testing.assert_allclose(dw, expected, rtol=1e-6)


def test_nearest_spike_interaction_keeps_only_the_last_spike():
    n, p = 1000, dict(HIPPO, A3_plus=0.0, A3_minus=0.0)
    pre, post = _train(n, [100, 150]), _train(n, [200])
    all_to_all = _drive(TripletSTDPRule(**p), pre, post) - 1
    nearest = _drive(TripletSTDPRule(**dict(p, interaction='nearest')), pre, post) - 1
    np.testing.assert_allclose(all_to_all, p['A2_plus'] * (_decay(100, 16.8) + _decay(50, 16.8)),
                               rtol=1e-6)
    np.testing.assert_allclose(nearest, p['A2_plus'] * _decay(50, 16.8), rtol=1e-6)


def test_same_weights_as_brainpys_triplet_rule_on_random_trains():
    nest = pytest.importorskip('brainpy_state._nest_plasticity.stdp_triplet_synapse')
    p = PRESETS['visual_cortex_all_to_all_full']
    rng = np.random.default_rng(0)
    n = 4000
    pre = (rng.random(n) < 0.02).astype(float)
    post = (rng.random(n) < 0.02).astype(float)
    ours = _drive(TripletSTDPRule(**p), pre, post, w0=0.5)
    # brainpy's NEST-faithful kernel, on traces that decay then add the current spike; its
    # weights in units of our w0 = 0.5 nS: start 1, Wmax = w_max / w0 = 2.
    ref = nest.stdp_triplet_synapse(
        tau_plus=16.8 * u.ms, tau_plus_triplet=p['tau_x'], tau_minus=33.7 * u.ms,
        tau_minus_triplet=p['tau_y'], Aplus=p['A2_plus'], Aplus_triplet=p['A3_plus'],
        Aminus=p['A2_minus'], Aminus_triplet=p['A3_minus'], Wmax=2.0)
    taus = np.array([16.8, float(p['tau_x'] / u.ms), 33.7, float(p['tau_y'] / u.ms)])
    traces, w = np.zeros(4), np.array([1.0])
    for k in range(n):
        traces = traces * np.exp(-DT / taus) + np.array([pre[k], pre[k], post[k], post[k]])
        ctx = types.SimpleNamespace(pre_traces=jnp.asarray(traces[None, :2]),
                                    post_traces=jnp.asarray(traces[None, 2:]),
                                    pre_spike=jnp.asarray([pre[k]]),
                                    post_spike=jnp.asarray([post[k]]))
        if pre[k] or post[k]:
            w = np.asarray(ref.update({'weight': jnp.asarray(w)}, ctx)[1])
    assert abs(ours - 1.0) > 1e-3  # the trains changed the weight
    np.testing.assert_allclose(ours, float(w[0]), rtol=1e-6)


def test_stdp_onto_a_stock_neuron_by_rule_name():
    def lif_ref(n):
        import braintools
        return brainpy.state.LIFRef(n, R=0.1 * u.Gohm, tau=20 * u.ms, tau_ref=4 * u.ms,
                                    V_th=-50 * u.mV, V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                                    V_initializer=braintools.init.Constant(-65 * u.mV))

    result = protocols.stdp([10, -10] * u.ms, n_pairs=60, neuron=lif_ref, rule='triplet',
                            **HIPPO)
    ltp, ltd = np.asarray(result.weight_change)
    # 60 pairs at 1 Hz: the pair terms, and for LTD the slow presynaptic trace (tau_x = 946 ms)
    # left by the earlier pairs; the post spike reaches the rule one step (0.1 ms) late.
    r2 = np.array([np.exp(-np.arange(1, k + 1) * 1000.0 / 946.0).sum() for k in range(60)])
    assert ltp == pytest.approx(60 * HIPPO['A2_plus'] * np.exp(-10.1 / 16.8), rel=0.02)
    assert ltd == pytest.approx(-np.exp(-9.9 / 33.7) * (
        HIPPO['A2_minus'] + HIPPO['A3_minus'] * r2).sum(), rel=0.02)


def test_gradient_through_a_run_matches_a_finite_difference():
    pre, post = _train(1500, [100, 600, 1100]), _train(1500, [150, 500, 1180])

    def final(a):
        return _drive(TripletSTDPRule(**dict(HIPPO, A2_plus=a)), pre, post)

    grad = jax.grad(lambda a: jnp.asarray(_drive_traced(a, pre, post)))(HIPPO['A2_plus'])
    h = 1e-4
    fd = (final(HIPPO['A2_plus'] + h) - final(HIPPO['A2_plus'] - h)) / (2 * h)
    np.testing.assert_allclose(float(grad), fd, rtol=1e-6)


def _drive_traced(a, pre, post):
    rule = TripletSTDPRule(**dict(HIPPO, A2_plus=a))
    rule.attach(DenseLayout(1, 1))
    rule.init_state()
    w = brainstate.HiddenState(jnp.full((1, 1), 0.5) * u.nS)

    def step(pre_spike, post_spike):
        w.value = rule.update(w.value, SynapseSignals(None, 0.5 * u.nS, pre_spike[None],
                                                      post_spike[None], None, None,
                                                      DT * u.ms, rule.layout))

    simulate.run(step, len(pre), jnp.asarray(pre), jnp.asarray(post), dt=DT * u.ms)
    return w.value[0, 0].to_decimal(u.nS) / 0.5


def test_presets_interface_and_errors():
    assert isinstance(TripletSTDPRule(), PlasticityRule)
    assert TripletSTDPRule.preset('hippocampal_nearest_minimal').interaction == 'nearest'
    with pytest.raises(ParameterError, match="unknown preset 'cortex'"):
        TripletSTDPRule.preset('cortex')
    with pytest.raises(ParameterError, match="'interaction' must be one of"):
        TripletSTDPRule(interaction='pairs')
    with pytest.raises(ParameterError, match="'tau_x' must be > 0"):
        TripletSTDPRule(tau_x=-1 * u.ms)
