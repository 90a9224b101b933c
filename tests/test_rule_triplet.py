"""Triplet STDP against sums over spike pairs, brainpy's own triplet synapse and a stock neuron.

Driven directly, the rule gets this step's presynaptic spikes and the postsynaptic spikes of the
previous step (what LTPProjection hands it): ``_drive`` passes a postsynaptic spike of step k
at step k + 1, and the weight changes are those of the spikes' true times.
"""
import types

import brainpy
import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import GlutamateSynapse, LTPProjection, ParameterError, PlasticityRule, simulate
from ltp_brainpy.connectivity import DenseLayout, SparseLayout
from ltp_brainpy.plasticity import SynapseSignals
from ltp_brainpy.triplet import PRESETS, TripletSTDPRule

DT = 0.1  # ms
W0 = 0.5  # nS
TAU_PLUS, TAU_MINUS = 16.8, 33.7
HIPPO = PRESETS['hippocampal_all_to_all_full']


@pytest.fixture(autouse=True)
def float64():
    with brainstate.environ.context(precision=64):
        yield


def _ms(q):
    return float(q / u.ms)


def _trace(t_at, t_from, tau, nearest):
    """Trace of the spikes ``t_from`` just before each time of ``t_at``: strictly earlier
    spikes (those of the same step do not count), all of them or, nearest-spike, the last."""
    t_from = np.asarray(t_from, dtype=float)
    out = []
    for t in t_at:
        lags = t - t_from[t_from < t]
        if nearest:
            lags = lags[-1:] if lags.size else lags
        out.append(np.exp(-lags / tau).sum())
    return np.asarray(out)


def reference(pre_times, post_times, preset):
    """w / w0 - 1 from Pfister & Gerstner's rule written as sums over spike pairs (times in
    ms), with a preset's parameters (no bounds reached)."""
    p = {'tau_x': 101.0 * u.ms, **PRESETS[preset]}  # minimal rows: tau_x plays no role
    tx, ty = _ms(p['tau_x']), _ms(p['tau_y'])
    nearest = p['interaction'] == 'nearest'
    ltp = _trace(post_times, pre_times, TAU_PLUS, nearest) * (
        p['A2_plus'] + p['A3_plus'] * _trace(post_times, post_times, ty, nearest))
    ltd = _trace(pre_times, post_times, TAU_MINUS, nearest) * (
        p['A2_minus'] + p['A3_minus'] * _trace(pre_times, pre_times, tx, nearest))
    return float(np.sum(ltp) - np.sum(ltd))


def _signals(rule, pre_spike, post_spike):
    return SynapseSignals(calcium=None, w0=W0 * u.nS, pre_spike=pre_spike,
                          post_spike=post_spike, V=None, V_dend=None, dt=DT * u.ms,
                          layout=rule.layout)


def _drive(rule, pre, post, layout=None, batch_size=None):
    """Final w / w0 after spike trains ``pre`` (steps, ..., n_pre) and ``post`` (steps, ...,
    n_post) given at their true steps; the postsynaptic one is handed over a step late."""
    dtype = brainstate.environ.dftype()
    pre, post = jnp.asarray(pre, dtype=dtype), jnp.asarray(post, dtype=dtype)
    layout = layout or DenseLayout(pre.shape[-1], post.shape[-1])
    rule.attach(layout)
    rule.init_state(batch_size)
    pre = jnp.concatenate([pre, jnp.zeros((1,) + pre.shape[1:], dtype)])
    post = jnp.concatenate([jnp.zeros((1,) + post.shape[1:], dtype), post])  # one step late
    shape = ((batch_size,) if batch_size else ()) + layout.shape
    w = brainstate.HiddenState(jnp.full(shape, W0, dtype=dtype) * u.nS)

    def step(pre_spike, post_spike):
        w.value = rule.update(w.value, _signals(rule, pre_spike, post_spike))

    simulate.run(step, pre.shape[0], pre, post, dt=DT * u.ms)
    return w.value.to_decimal(u.nS) / W0


def _train(n, steps):
    x = np.zeros((n, 1))
    x[list(steps), 0] = 1.0
    return x


def _pair_run(rule, pre_steps, post_steps, n=3000):
    return float(_drive(rule, _train(n, pre_steps), _train(n, post_steps))[0, 0]) - 1.0


def _e(steps, tau):
    return np.exp(-np.asarray(steps) * DT / tau)


@pytest.mark.parametrize('lag', [1, 50, 200])
def test_isolated_pairs_match_the_closed_form(lag):
    rule = TripletSTDPRule(**HIPPO)
    ltp = _pair_run(TripletSTDPRule(**HIPPO), [100], [100 + lag])
    ltd = _pair_run(TripletSTDPRule(**HIPPO), [100 + lag], [100])
    np.testing.assert_allclose(ltp, rule.A2_plus * _e(lag, TAU_PLUS), rtol=1e-6)
    np.testing.assert_allclose(ltd, -rule.A2_minus * _e(lag, TAU_MINUS), rtol=1e-6)
    assert _pair_run(TripletSTDPRule(**HIPPO), [100], [100]) == 0.0  # same step: no pair


def test_triplets_match_the_closed_form():
    p, a, b = HIPPO, 80, 120
    tx, ty = 946.0, 27.0
    # pre - post - post: the second post spike potentiates more after the first one
    dw = _pair_run(TripletSTDPRule(**p), [100], [100 + a, 100 + a + b])
    expected = (p['A2_plus'] * _e(a, TAU_PLUS)
                + _e(a + b, TAU_PLUS) * (p['A2_plus'] + p['A3_plus'] * _e(b, ty)))
    np.testing.assert_allclose(dw, expected, rtol=1e-6)
    # post - pre - post
    dw = _pair_run(TripletSTDPRule(**p), [100 + a], [100, 100 + a + b])
    expected = (-p['A2_minus'] * _e(a, TAU_MINUS)
                + _e(b, TAU_PLUS) * (p['A2_plus'] + p['A3_plus'] * _e(a + b, ty)))
    np.testing.assert_allclose(dw, expected, rtol=1e-6)
    # pre - post - pre: the second pre spike depresses more after the first one
    dw = _pair_run(TripletSTDPRule(**p), [100, 100 + a + b], [100 + a])
    expected = (p['A2_plus'] * _e(a, TAU_PLUS)
                - _e(b, TAU_MINUS) * (p['A2_minus'] + p['A3_minus'] * _e(a + b, tx)))
    np.testing.assert_allclose(dw, expected, rtol=1e-6)
    # post - post - pre: depression reads the fast trace of both post spikes
    dw = _pair_run(TripletSTDPRule(**p), [100 + a + b], [100, 100 + a])
    expected = -p['A2_minus'] * (_e(a + b, TAU_MINUS) + _e(b, TAU_MINUS))
    np.testing.assert_allclose(dw, expected, rtol=1e-6)


def test_nearest_spike_interaction_keeps_only_the_last_spike():
    p = dict(HIPPO, A3_plus=0.0, A3_minus=0.0)
    pre, post = [100, 150], [200]
    all_to_all = _pair_run(TripletSTDPRule(**p), pre, post)
    nearest = _pair_run(TripletSTDPRule(**dict(p, interaction='nearest')), pre, post)
    np.testing.assert_allclose(all_to_all, p['A2_plus'] * (_e(100, TAU_PLUS) + _e(50, TAU_PLUS)),
                               rtol=1e-6)
    np.testing.assert_allclose(nearest, p['A2_plus'] * _e(50, TAU_PLUS), rtol=1e-6)
    # a single pair is the same under both
    assert _pair_run(TripletSTDPRule(**p), [150], [200]) == pytest.approx(nearest, rel=1e-12)


@pytest.mark.parametrize('preset', ['visual_cortex_all_to_all_full', 'hippocampal_all_to_all_full',
                                    'visual_cortex_nearest_full', 'hippocampal_nearest_full'])
def test_random_trains_match_the_sum_over_spike_pairs(preset):
    rng = np.random.default_rng(7)
    n = 20_000  # 2 s, 20 Hz Poisson trains on both sides
    pre, post = (rng.random((n, 1)) < 0.002).astype(float), (rng.random((n, 1)) < 0.002)
    rule = TripletSTDPRule.preset(preset, w_max=10.0 * u.nS)
    ours = float(_drive(rule, pre, post)[0, 0]) - 1.0
    expected = reference(np.nonzero(pre[:, 0])[0] * DT, np.nonzero(post[:, 0])[0] * DT, preset)
    assert abs(expected) > 1e-2
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


def test_many_synapses_in_batches_dense_and_sparse_under_vmap_and_float32():
    rng = np.random.default_rng(3)
    n, n_pre, n_post = 4000, 4, 3
    pre = (rng.random((n, 2, n_pre)) < 0.005).astype(float)
    post = (rng.random((n, 2, n_post)) < 0.005).astype(float)
    mask = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]], dtype=bool)
    expected = np.array([[[reference(np.nonzero(pre[:, b, i])[0] * DT,
                                     np.nonzero(post[:, b, j])[0] * DT,
                                     'visual_cortex_nearest_full')
                           for j in range(n_post)] for i in range(n_pre)] for b in range(2)])
    assert np.abs(expected).min() > 1e-3
    dense = _drive(TripletSTDPRule.preset('visual_cortex_nearest_full', w_max=10.0 * u.nS),
                   pre, post, batch_size=2)
    np.testing.assert_allclose(np.asarray(dense) - 1.0, expected, rtol=1e-6)

    layout = SparseLayout(n_pre, n_post, mask)

    def sparse(pre_b, post_b, precision):
        with brainstate.environ.context(precision=precision):
            rule = TripletSTDPRule.preset('visual_cortex_nearest_full', w_max=10.0 * u.nS)
            return layout.to_matrix(_drive(rule, pre_b, post_b, layout=layout))

    for precision, rtol in ((64, 1e-6), (32, 1e-4)):
        out = jax.vmap(lambda a, b: sparse(a, b, precision), in_axes=1)(pre, post)
        assert out.dtype == (jnp.float32 if precision == 32 else jnp.float64)
        np.testing.assert_allclose(np.asarray(out) - mask, np.where(mask, expected, 0.0),
                                   rtol=rtol, atol=1e-6)


class _Events:
    """Stands in for brainevent's spike vector: the projection under test has no target
    neurons, so delivery returns zeros (brainevent's CPU kernel needs numba)."""

    def __init__(self, spikes):
        self.spikes = spikes

    def __matmul__(self, csr):
        return jnp.zeros(csr.shape[1])


def _csr(arrays, shape):
    return types.SimpleNamespace(shape=shape)


@pytest.mark.parametrize('preset', ['visual_cortex_all_to_all_full', 'hippocampal_nearest_full'])
def test_same_weights_as_brainpys_stdp_triplet_synapse(preset, monkeypatch):
    """brainpy.state.stdp_triplet_synapse on its own plastic projection (its traces, delay and
    update order). Mapping: Aplus/Aplus_triplet/Aminus/Aminus_triplet = A2+/A3+/A2-/A3-,
    tau_plus_triplet = tau_x, tau_minus_triplet = tau_y; its weight is additive in the
    amplitudes, so a weight of 1 is our w / w0, and Wmax = w_max / w0 (it floors at 0 = w_min).
    Its ``pre_trace_mode``/``post_trace_mode = 'nearest'`` resets the traces to 1. It delays
    the presynaptic spikes by its ``delay`` (0.1 ms = 1 step here): our presynaptic train is
    its delayed one, and both see postsynaptic spikes at their steps."""
    bp = pytest.importorskip('brainpy.state')
    event_plastic = pytest.importorskip('brainpy_state._nest_network.event_plastic')
    if not hasattr(bp, 'stdp_triplet_synapse'):
        pytest.skip('brainpy.state has no stdp_triplet_synapse')
    monkeypatch.setattr(event_plastic, 'brainevent',
                        types.SimpleNamespace(BinaryArray=_Events, CSR=_csr))
    rule = TripletSTDPRule.preset(preset, w_max=5.0 * u.nS)
    rng = np.random.default_rng(11)
    n = 6000
    pre = (rng.random(n) < 0.01).astype(float)
    post = (rng.random(n) < 0.01).astype(float)

    spec = bp.stdp_triplet_synapse(
        weight=1.0, delay=DT * u.ms, tau_plus=rule.tau_plus, tau_plus_triplet=rule.tau_x,
        tau_minus=rule.tau_minus, tau_minus_triplet=rule.tau_y, Aplus=rule.A2_plus,
        Aplus_triplet=rule.A3_plus, Aminus=rule.A2_minus, Aminus_triplet=rule.A3_minus,
        Wmax=float(rule.w_max / (W0 * u.nS)))
    spec.pre_trace_mode = spec.post_trace_mode = rule.interaction
    now = {}
    proj = event_plastic.EventPlasticProj(
        pre_spike=lambda: now['pre'], post_spike=lambda: now['post'], n_pre_pop=1,
        pre_local_idx=jnp.arange(1), post=None, post_local_idx=jnp.arange(1), n_post_pop=1,
        pre_idx=jnp.array([0]), post_idx=jnp.array([0]), rule=spec)
    with brainstate.environ.context(dt=DT * u.ms):
        brainstate.nn.init_all_states(proj)

        def step(k, pre_spike, post_spike):
            now['pre'], now['post'] = pre_spike[None], post_spike[None]
            with brainstate.environ.context(t=k * DT * u.ms, i=k):
                proj.update()

        brainstate.transform.for_loop(step, jnp.arange(n), jnp.asarray(pre), jnp.asarray(post))
        theirs = float(proj.weight.value[0])

    delayed = np.concatenate([[0.0], pre[:-1]])
    ours = float(_drive(rule, delayed[:, None], post[:, None])[0, 0])
    assert abs(ours - 1.0) > 1e-2 and 0.0 < ours < 10.0  # learned, below w_max / w0 = 10
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def _lif_ref(n):
    return brainpy.state.LIFRef(n, R=0.1 * u.Gohm, tau=20 * u.ms, tau_ref=4 * u.ms,
                                V_th=-50 * u.mV, V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                                V_initializer=braintools.init.Constant(-65 * u.mV))


def _pairing_onto_lif_ref(lag, n_pairs=20, period=2000):
    """Pairs every 200 ms (a presynaptic spike; a one-step 40 nA kick that makes the neuron
    fire ``lag`` steps later) through LTPProjection onto a stock LIFRef; returns w / w0 - 1
    and the presynaptic and postsynaptic spike steps."""
    rule = TripletSTDPRule.preset('hippocampal_all_to_all_full')
    post = _lif_ref(1)
    proj = LTPProjection(GlutamateSynapse(1), post, rule=rule, w_init=W0 * u.nS)
    brainstate.nn.init_all_states([post, proj])
    n = (n_pairs + 1) * period
    pre_steps = 500 + period * np.arange(n_pairs)
    pre, kick = np.zeros((n, 1)), np.zeros((n, 1))
    pre[pre_steps] = 1.0
    kick[pre_steps + lag] = 40.0
    current = jnp.asarray(kick) * u.nA

    def step(pre_spike, I):
        proj.update(pre_spike)
        return post(I)

    spikes = np.asarray(simulate.run(step, n, jnp.asarray(pre), current, dt=DT * u.ms))[:, 0]
    w = float(proj.w.value[0, 0].to_decimal(u.nS)) / W0 - 1.0
    return w, np.nonzero(pre[:, 0])[0], np.nonzero(spikes)[0]


def test_trains_through_a_projection_onto_a_stock_neuron():
    results = {}
    for lag in (100, -100):  # +-10 ms
        w, pre_steps, post_steps = _pairing_onto_lif_ref(lag)
        assert len(post_steps) == 20 and np.all(np.isin(post_steps, pre_steps + lag))
        # the sum over the pairs of the spikes' true times (post spikes timed by the neuron)
        expected = reference(pre_steps * DT, post_steps * DT, 'hippocampal_all_to_all_full')
        np.testing.assert_allclose(w, expected, rtol=1e-6)
        results[lag] = w
    assert results[100] > 0.05 and results[-100] < -0.01


def _drive_traced(A3_plus, pre, post):
    rule = TripletSTDPRule(**dict(HIPPO, A3_plus=A3_plus))
    return _drive(rule, pre, post)[0, 0]


def test_gradient_through_a_run_matches_a_finite_difference():
    pre = _train(1500, [100, 600, 1100])
    post = _train(1500, [150, 200, 500, 1180, 1190])
    grad = float(jax.grad(lambda a: _drive_traced(a, pre, post))(HIPPO['A3_plus']))
    h = 1e-4
    fd = (float(_drive_traced(HIPPO['A3_plus'] + h, pre, post))
          - float(_drive_traced(HIPPO['A3_plus'] - h, pre, post))) / (2 * h)
    assert grad > 0.1
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_presets_interface_and_errors():
    assert isinstance(TripletSTDPRule(), PlasticityRule)
    assert len(PRESETS) == 8
    for name in PRESETS:
        rule = TripletSTDPRule.preset(name)
        assert rule.interaction == ('nearest' if 'nearest' in name else 'all_to_all')
        assert (rule.A3_minus == 0.0) == name.endswith('minimal')
    assert float(TripletSTDPRule.preset('visual_cortex_all_to_all_minimal').tau_y / u.ms) == 114.0
    with pytest.raises(ParameterError, match="unknown preset 'cortex'"):
        TripletSTDPRule.preset('cortex')
    with pytest.raises(ParameterError, match="'interaction' must be one of"):
        TripletSTDPRule(interaction='pairs')
    with pytest.raises(ParameterError, match="'tau_x' must be > 0"):
        TripletSTDPRule(tau_x=-1 * u.ms)
    with pytest.raises(ParameterError, match="'A2_plus' must be >= 0"):
        TripletSTDPRule(A2_plus=-1e-3)
    with pytest.raises(ParameterError, match="'tau_y' must be a quantity"):
        TripletSTDPRule(tau_y=100.0)
