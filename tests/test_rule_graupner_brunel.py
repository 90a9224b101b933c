"""GraupnerBrunelRule against the paper's analytic STDP curve and transition probabilities, its
own calcium against the closed-form trace, its equations through a projection, and finite
differences."""
import math

import brainpy
import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import (GlutamateSynapse, GraupnerBrunelRule, LTPProjection, ParameterError,
                         PlasticityRule, simulate, timegrid)
from ltp_brainpy.connectivity import DenseLayout
from ltp_brainpy.graupner_brunel import MAX_IN_FLIGHT, POPULATIONS, PRESETS, strength_change
from ltp_brainpy.plasticity import SynapseSignals
from ltp_brainpy.trains import pulse

DT = 0.1  # ms
#: Graupner & Brunel (2012), Table S1, DP column, in the paper's units (ms, s, dimensionless).
PAPER_DP = dict(tau_Ca=20.0, C_pre=1.0, C_post=2.0, theta_d=1.0, theta_p=1.3, gamma_d=200.0,
                gamma_p=321.808, sigma=2.8284, tau=150.0, D=13.7, rho_star=0.5)
N_PAIRS, PERIOD = 60, 1000.0  # 60 pairs at 1 Hz (ms)
ONSET = 1000  # steps before the first presynaptic spike


def fractions_above(delta_t, p=PAPER_DP, period=PERIOD):
    """Fractions of a period that the paper's calcium spends at or above theta_d and theta_p
    for pairs repeated every ``period`` (pre spike at 0, its transient at D; post spike and
    its transient at ``delta_t``), in closed form: between transients the calcium decays from
    c to theta in tau_Ca ln(c / theta) (SI eq. 6)."""
    tau = p['tau_Ca']
    events = sorted([(p['D'] % period, p['C_pre']), (delta_t % period, p['C_post'])])
    history = [(t + k * period, a) for k in range(-3, 1) for t, a in events]
    fractions = []
    for theta in (p['theta_d'], p['theta_p']):
        above = 0.0
        for j, (t, _) in enumerate(events):
            end = events[j + 1][0] if j + 1 < len(events) else events[0][0] + period
            c = sum(a * math.exp(-(t - s) / tau) for s, a in history if s <= t)
            if c >= theta:
                above += min(end - t, tau * math.log(c / theta))
        fractions.append(above / period)
    return fractions


def analytic(delta_t, rho0, p=PAPER_DP, duration=N_PAIRS * PERIOD / 1000.0):
    """The paper's reduction (SI eqs. 7-15, the authors' changeInSynapticStrength): mean
    efficacy at the end of the protocol from ``rho0``, the probability of ending on the other
    side of rho_star (cubic term neglected, drive averaged over the period) and the variance."""
    alpha_d, alpha_p = fractions_above(delta_t, p)
    big_p, big_d = p['gamma_p'] * alpha_p, p['gamma_d'] * alpha_d
    rho_bar, tau_eff = big_p / (big_p + big_d), p['tau'] / (big_p + big_d)
    mean = rho_bar + (rho0 - rho_bar) * math.exp(-duration / tau_eff)
    sigma_rho_sq = (alpha_p + alpha_d) * p['sigma'] ** 2 / (big_p + big_d)  # twice the variance
    spread = sigma_rho_sq * (1 - math.exp(-2 * duration / tau_eff))
    x = (mean - p['rho_star']) / math.sqrt(spread) if spread > 0 else math.copysign(
        math.inf, mean - p['rho_star'])
    switch = (1 + math.erf(x)) / 2 if rho0 < p['rho_star'] else (1 - math.erf(x)) / 2
    return mean, switch, spread / 2


def _pairs(delta_steps, rule, w_start):
    """Efficacy of the synapses from one presynaptic neuron to ``len(w_start)`` postsynaptic
    neurons firing together, after 60 pairs at 1 Hz (post ``delta_steps`` after pre)."""
    n = w_start.shape[-1]
    rule.attach(DenseLayout(1, n))
    rule.init_state()
    w = brainstate.HiddenState(jnp.asarray(w_start)[None, :] * u.nS)
    period = int(round(PERIOD / DT))

    def step():
        i = brainstate.environ.get('i')
        pre = pulse(i, ONSET, period, N_PAIRS).astype(w.value.dtype)
        post = pulse(i, ONSET + delta_steps, period, N_PAIRS).astype(w.value.dtype)
        w.value = rule.update(w.value, SynapseSignals(
            None, None, pre[None], jnp.broadcast_to(post, (n,)), None, None, DT * u.ms,
            rule.layout))

    simulate.run(step, ONSET + N_PAIRS * period, dt=DT * u.ms)
    return rule.efficacy(w.value)[0]


def test_presets_are_the_papers_tables_in_the_rules_units():
    dp = PRESETS['DP']
    tau = dp['tau_rho']
    assert float(dp['gamma_p'] * tau) == pytest.approx(PAPER_DP['gamma_p'], rel=1e-12)
    assert float(dp['gamma_d'] * tau) == pytest.approx(PAPER_DP['gamma_d'], rel=1e-12)
    assert float(tau / u.second) == PAPER_DP['tau'] and dp['sigma'] == PAPER_DP['sigma']
    for key in ('C_pre', 'C_post', 'theta_d', 'theta_p'):
        assert float(dp[key] / u.uM) == PAPER_DP[key]
    assert float(dp['tau_Ca_gb'] / u.ms) == 20.0 and float(dp['D_pre'] / u.ms) == 13.7
    assert set(PRESETS) == set(POPULATIONS)
    for name, pop in POPULATIONS.items():  # w_max / w_min is the paper's b
        assert float(PRESETS[name]['w_max'] / PRESETS[name]['w_min']) == pytest.approx(pop['b'])
    rule = GraupnerBrunelRule.preset('hippocampal_cultures', sigma=0.0)
    assert isinstance(rule, PlasticityRule) and rule.sigma == 0.0
    assert rule.D_pre == 10.0 * u.ms and float(rule.gamma_p * 33.7596 * u.second) == \
        pytest.approx(113.6545, rel=1e-6)
    defaults, dp_rule = GraupnerBrunelRule(), GraupnerBrunelRule.preset('DP')
    for key in ('theta_p', 'gamma_p', 'tau_rho', 'C_post', 'D_pre', 'tau_Ca_gb', 'w_min'):
        assert u.math.allclose(getattr(defaults, key), getattr(dp_rule, key))


def test_errors_name_the_parameter():
    with pytest.raises(ParameterError, match="unknown preset 'DPx'"):
        GraupnerBrunelRule.preset('DPx')
    with pytest.raises(ParameterError, match="'calcium' must be one of"):
        GraupnerBrunelRule(calcium='nmda')
    with pytest.raises(ParameterError, match="'theta_p' must be a quantity in uM"):
        GraupnerBrunelRule(theta_p=1.3)
    with pytest.raises(ParameterError, match="'gamma_d' must be in kHz"):
        GraupnerBrunelRule(gamma_d=200.0 * u.uM)
    with pytest.raises(ParameterError, match="'tau_Ca_gb' must be > 0"):
        GraupnerBrunelRule(tau_Ca_gb=0.0 * u.ms)
    with pytest.raises(ParameterError, match='w_min must be below w_max'):
        GraupnerBrunelRule(w_min=1 * u.nS, w_max=1 * u.nS)
    with pytest.raises(ParameterError, match='rho_star must lie in'):
        GraupnerBrunelRule(rho_star=1.5)
    assert strength_change(0.0, 0.0, 0.5, 5.0) == 1.0
    assert strength_change(1.0, 1.0, 0.5, 5.0) == pytest.approx(1.0)  # every synapse swaps
    assert strength_change(0.0, 1.0, 0.5, 5.0) == pytest.approx(1 / 3)


def _own_calcium(D, pre_steps, n_steps=80):
    rule = GraupnerBrunelRule(D_pre=D * u.ms, sigma=0.0)
    rule.attach(DenseLayout(1, 1))
    rule.init_state()
    pre = np.zeros((n_steps, 1))
    pre[pre_steps, 0] = 1.0
    post = np.zeros((n_steps, 1))
    post[50, 0] = 1.0
    w = 0.6 * jnp.ones((1, 1)) * u.nS
    return np.asarray(simulate.run(
        lambda s, q: rule.own_calcium(SynapseSignals(None, w, s, q, None, None, DT * u.ms,
                                                     rule.layout))[0, 0],
        n_steps, jnp.asarray(pre), jnp.asarray(post)).to_decimal(u.uM))


def _closed_form(D, pre_steps, n_steps=80, tau=20.0):
    t = np.arange(n_steps) * DT
    c = np.zeros(n_steps)
    for s in pre_steps:
        arrival = s * DT + D
        c += np.where(t >= arrival - 1e-9, np.exp(-(t - arrival) / tau), 0.0)
    return c + np.where(t >= 50 * DT, 2.0 * np.exp(-(t - 50 * DT) / tau), 0.0)


def test_own_calcium_is_the_closed_form_trace_with_spikes_in_flight():
    # D = 1.25 ms is 12.5 steps: each transient shows from the 13th step, decayed by 0.05 ms.
    # Spikes at steps 30-37 keep MAX_IN_FLIGHT = 8 transients on their way at once.
    pre_steps = [5, 8, 9, 10] + list(range(30, 30 + MAX_IN_FLIGHT))
    for D in (1.25, 1.3, 0.0):
        np.testing.assert_allclose(_own_calcium(D, pre_steps), _closed_form(D, pre_steps),
                                   atol=1e-5)
    # A ninth spike within D finds no free slot: its calcium is dropped (documented limit).
    crowded = list(range(30, 31 + MAX_IN_FLIGHT))
    missing = _closed_form(1.25, crowded) - _own_calcium(1.25, crowded)
    np.testing.assert_allclose(missing, _closed_form(1.25, [30 + MAX_IN_FLIGHT])
                               - _closed_form(1.25, []), atol=1e-5)


def test_own_calcium_is_exact_on_a_multi_rate_grid():
    # D = 18.8 ms (hippocampal slices) lands past the 15 ms fine window, inside a longer step.
    pre_steps, post_step, n_steps = [20, 40, 2000], 1200, 6000
    grid = timegrid.event_grid(n_steps, pre_steps + [post_step])
    assert grid.sizes.max() > 10  # the steps grow between events
    rule = GraupnerBrunelRule(D_pre=18.8 * u.ms, tau_Ca_gb=48.8373 * u.ms, sigma=0.0)
    rule.attach(DenseLayout(1, 1))
    rule.init_state()
    w = 0.6 * jnp.ones((1, 1)) * u.nS

    def step():
        i = brainstate.environ.get('i')
        pre = jnp.isin(i, jnp.asarray(pre_steps)).astype(float)[None]
        post = (i == post_step).astype(float)[None]
        return rule.own_calcium(SynapseSignals(None, w, pre, post, None, None,
                                               brainstate.environ.get_dt(), rule.layout))[0, 0]

    c = np.asarray(simulate.run_grid(step, grid.starts, grid.sizes, dt=DT * u.ms).to_decimal(u.uM))
    t = (grid.starts + grid.sizes - 1) * DT  # the fine step an iteration ends on
    tau, expected = 48.8373, np.zeros(len(t))
    for onset, amplitude in [(s * DT + 18.8, 1.0) for s in pre_steps] + [(post_step * DT, 2.0)]:
        expected += np.where(t >= onset - 1e-9, amplitude * np.exp(-(t - onset) / tau), 0.0)
    np.testing.assert_allclose(c, expected, atol=1e-5)


def test_the_bistable_term_is_resolved_in_float32():
    # Without calcium, tau_rho drho/dt = -rho (1 - rho)(rho* - rho): from rho = 0.6 the efficacy
    # creeps up by ~2e-8 per 0.1 ms step, below float32's resolution of w.
    def drift(precision):
        with brainstate.environ.context(precision=precision):
            rule = GraupnerBrunelRule(sigma=0.0)
            rule.attach(DenseLayout(1, 1))
            rule.init_state()
            w = brainstate.HiddenState(jnp.full((1, 1), 0.2 + 0.8 * 0.6) * u.nS)
            signals = SynapseSignals(None, None, jnp.zeros(1), jnp.zeros(1), None, None,
                                     DT * u.ms, rule.layout)
            simulate.run(lambda: setattr(w, 'value', rule.update(w.value, signals)), 100_000)
            return float(rule.efficacy(w.value)[0, 0])

    # The equation over 10 s, by Euler steps of 1 ms.
    t, tau = 10.0, 150.0
    rho, h = 0.6, 1e-3
    for _ in range(int(t / h)):
        rho += h * rho * (1 - rho) * (rho - 0.5) / tau
    assert rho - 0.6 > 1e-3
    assert drift(64) - 0.6 == pytest.approx(rho - 0.6, rel=1e-3)
    assert drift(32) - 0.6 == pytest.approx(rho - 0.6, rel=1e-2)  # step by step: 0


def test_deterministic_stdp_curve_of_the_dp_set_matches_the_analytic_expression():
    # Delays where neither analytic end lies within 0.02 of rho_star (DP is close to it at
    # many others, where a deterministic outcome is a knife edge).
    deltas = np.array([-80.0, -60.0, -50.0, -20.0, -15.0, 5.0, 10.0, 15.0, 20.0, 60.0, 80.0])
    simulated = jax.jit(jax.vmap(lambda d: _pairs(d, GraupnerBrunelRule.preset('DP', sigma=0.0),
                                                  jnp.array([0.2, 1.0]))))(
        jnp.asarray(np.round(deltas / DT), dtype=jnp.int32))
    pop = POPULATIONS['DP']
    deviation, changes = 0.0, []
    for delta, (from_down, from_up) in zip(deltas, np.asarray(simulated)):
        (mean_up, up, _), (mean_down, down, _) = (analytic(delta, rho0, p=dict(PAPER_DP, sigma=0.0))
                                                  for rho0 in (0.0, 1.0))
        assert min(abs(mean_up - 0.5), abs(mean_down - 0.5)) > 0.02  # no knife edge
        deviation = max(deviation, abs(from_down - mean_up), abs(from_up - mean_down))
        change = strength_change(up, down, **pop)
        simulated_change = strength_change(float(from_down > 0.5), float(from_up < 0.5), **pop)
        assert abs(simulated_change - change) <= 0.01, (delta, simulated_change, change)
        changes.append(change)
    assert deviation < 0.01, deviation  # the efficacy itself (measured: 0.006)
    assert min(changes) < 0.5 and max(changes) > 1.5  # the curve has both LTD and LTP


def test_with_noise_200_synapses_follow_the_analytic_transition_probability():
    delta = 10.0
    mean_up, up, variance = analytic(delta, 0.0)
    mean_down, down, _ = analytic(delta, 1.0)
    assert 0.2 < up < 0.8 and 0.1 < down < 0.9  # informative: both transitions uncertain
    n = 200
    with brainstate.random.seed_context(0):
        rho = np.asarray(_pairs(int(round(delta / DT)), GraupnerBrunelRule.preset('DP'),
                                jnp.concatenate([jnp.full(n, 0.2), jnp.full(n, 1.0)])))
    from_down, from_up = rho[:n], rho[n:]
    # Binomial sampling (3.5 standard errors) plus the reduction's own error: averaging the
    # drive over the period and dropping the cubic move U by about 0.01.
    tolerance = 3.5 * math.sqrt(up * (1 - up) / n) + 0.01
    assert abs((from_down > 0.5).mean() - up) < tolerance, ((from_down > 0.5).mean(), up)
    assert abs((from_up < 0.5).mean() - down) < tolerance, ((from_up < 0.5).mean(), down)
    # The noise amplitude: the spread with sqrt(H_d + H_p) of the correction (the printed
    # sqrt(H_d) alone would give alpha_d / (alpha_d + alpha_p) of this variance).
    assert abs(from_down.mean() - mean_up) < 4 * math.sqrt(variance / n) + 0.01
    assert from_down.var() / variance == pytest.approx(1.0, abs=0.3)
    assert from_up.var() / variance == pytest.approx(1.0, abs=0.3)
    alpha_d, alpha_p = fractions_above(delta)
    assert alpha_d / (alpha_d + alpha_p) < 0.6


def test_noise_is_independent_across_synapses_and_vmap2_lanes():
    def lane(sigma):
        rule = GraupnerBrunelRule(sigma=sigma, C_pre=2.0 * u.uM)  # calcium always above theta_p
        rule.attach(DenseLayout(1, 3))
        rule.init_state()
        w = brainstate.HiddenState(jnp.full((1, 3), 0.6) * u.nS)
        signals = SynapseSignals(None, None, jnp.ones(1), jnp.zeros(3), None, None, DT * u.ms,
                                 rule.layout)
        simulate.run(lambda: setattr(w, 'value', rule.update(w.value, signals)), 300)
        return w.value.to_decimal(u.nS)[0]

    lanes = np.asarray(brainstate.transform.vmap2(lane)(jnp.array([2.8284, 2.8284])))
    assert np.unique(lanes).size == 6  # every synapse of every lane drew its own noise
    assert np.ptp(np.asarray(lane(0.0))) == 0.0  # without noise the synapses stay equal


def _lifref(n=1):
    return brainpy.state.LIFRef(n, R=0.1 * u.Gohm, tau=20 * u.ms, tau_ref=4 * u.ms,
                                V_th=-50 * u.mV, V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                                V_initializer=braintools.init.Constant(-65 * u.mV))


def _reference_efficacy(c, rho0, p, dt=DT):
    """The rule's equation (sigma = 0) integrated with RK4 on the recorded calcium, held
    constant over each step, in float64."""
    rho, out = rho0, np.empty(len(c))
    for k, ck in enumerate(c):
        h_d, h_p = float(ck >= p['theta_d']), float(ck >= p['theta_p'])

        def f(r):
            return (-r * (1 - r) * (0.5 - r) / p['tau'] + p['gamma_p'] * (1 - r) * h_p
                    - p['gamma_d'] * r * h_d)

        k1 = f(rho)
        k2 = f(rho + dt / 2 * k1)
        k3 = f(rho + dt / 2 * k2)
        k4 = f(rho + dt * k3)
        rho = min(max(rho + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), 0.0), 1.0)
        out[k] = rho
    return out


def test_trains_through_a_projection_onto_a_stock_lifref_with_the_projections_calcium():
    # Thresholds for the projection's calcium (uM); rates in 1/ms, as the rule takes them.
    p = dict(theta_d=0.25, theta_p=0.4, gamma_d=1e-3, gamma_p=3e-3, tau=150e3)
    results = {}
    n = 30_000  # three pairs at 1 Hz
    i = jnp.arange(n)
    for lag in (10, -10):  # post - pre, ms
        post = _lifref()
        rule = GraupnerBrunelRule(calcium='projection', sigma=0.0, theta_d=p['theta_d'] * u.uM,
                                  theta_p=p['theta_p'] * u.uM, gamma_d=p['gamma_d'] / u.ms,
                                  gamma_p=p['gamma_p'] / u.ms)
        proj = LTPProjection(GlutamateSynapse(1), post, rule=rule, w_init=0.6 * u.nS)
        brainstate.nn.init_all_states([post, proj])
        pre = ((i % 10_000) == 500)[:, None]
        kick = (i % 10_000) - (500 + lag * 10)
        current = jnp.where((kick >= 0) & (kick < 5), 10.0, 0.0)[:, None] * u.nA

        def step(s, I):
            proj.update(s)
            c = proj.plasticity_calcium()[0, 0]  # what the rule saw this step
            return c, post(I)[0], proj.w.value[0, 0]

        c, spikes, w = simulate.run(step, n, pre, current)
        c, w = np.asarray(c.to_decimal(u.uM), dtype=float), np.asarray(w.to_decimal(u.nS))
        assert int(np.asarray(spikes).sum()) == 3
        assert (c >= p['theta_d']).mean() > 0.05  # both thresholds crossed, theta_p only
        assert ((c >= p['theta_p']).mean() > 0.05) == (lag > 0)  # with pre before post
        rho = _reference_efficacy(c, 0.5, p)
        np.testing.assert_allclose(w, 0.2 + 0.8 * rho, atol=2e-5)
        results[lag] = w[-1]
    assert results[10] > 0.63 and results[-10] < 0.55, results  # pre-post LTP, post-pre LTD


def test_deterministic_rule_differentiates():
    def final(gamma_p, tau_rho):
        rule = GraupnerBrunelRule.preset('DP', sigma=0.0, gamma_p=gamma_p / u.second,
                                         tau_rho=tau_rho * u.second)
        return _pairs(200, rule, jnp.array([0.6]))[0]

    with brainstate.environ.context(precision=64):
        for argnum, h in ((0, 1e-3), (1, 0.1)):
            args = [2.1454, 150.0]
            grad = float(jax.grad(final, argnums=argnum)(*args))
            hi, lo = list(args), list(args)
            hi[argnum] += h
            lo[argnum] -= h
            fd = (float(final(*hi)) - float(final(*lo))) / (2 * h)
            assert grad != 0 and abs(grad - fd) / abs(fd) < 1e-4, (argnum, grad, fd)


def test_dense_sparse_and_batched_projections_agree():
    conn = np.array([[True, False, True], [True, True, False], [False, True, True],
                     [True, True, True]])
    n = 4000
    i = jnp.arange(n)
    pre = ((i % 500) < 1)[:, None] & jnp.array([True, True, False, True])
    current = jnp.where((i % 500 >= 80) & (i % 500 < 85), 10.0, 0.0)[:, None] * \
        jnp.ones(3) * u.nA
    out = []
    for sparse, batch in ((False, None), (True, None), (False, 2)):
        post = _lifref(3)
        rule = GraupnerBrunelRule(sigma=0.0, gamma_p=0.02 / u.ms, gamma_d=0.01 / u.ms,
                                  D_pre=5.0 * u.ms)
        proj = LTPProjection(GlutamateSynapse(4), post, conn=conn, rule=rule, sparse=sparse,
                             w_init=0.6 * u.nS)
        brainstate.nn.init_all_states([post, proj], batch_size=batch)
        spikes, I = (pre, current) if batch is None else (
            jnp.broadcast_to(pre[:, None], (n, batch, 4)),
            u.math.broadcast_to(current[:, None], (n, batch, 3)))
        simulate.run(lambda s, x: (proj.update(s), post(x))[-1], n, spikes, I)
        out.append(np.asarray(proj.weight_matrix().to_decimal(u.nS)))
    dense, sparse, batched = out
    assert np.ptp(dense[conn]) > 0.005  # the synapses learned, differently
    np.testing.assert_allclose(sparse, dense, atol=1e-6)
    np.testing.assert_allclose(batched, np.broadcast_to(dense, batched.shape), atol=1e-6)
    assert np.all(dense[~conn] == 0.0)
