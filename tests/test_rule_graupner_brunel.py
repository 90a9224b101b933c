"""Graupner-Brunel against the paper's analytic STDP curve and transition probabilities."""
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
                         PlasticityRule, simulate)
from ltp_brainpy.connectivity import DenseLayout
from ltp_brainpy.graupner_brunel import POPULATIONS, PRESETS, strength_change
from ltp_brainpy.plasticity import SynapseSignals
from ltp_brainpy.trains import pulse

DT = 0.1  # ms
DP = PRESETS['DP']
N_PAIRS, PERIOD = 60, 10_000  # 60 pairs at 1 Hz, in steps


def _fractions_above(delta_t, p, grid=1e-3):
    """Fractions of time the paper's calcium spends above theta_d and theta_p for pairs at
    1 Hz (pre at 0, post at delta_t; independent of the rule: a 1 us grid over one period)."""
    tau, D = float(p['tau_c'] / u.ms), float(p['D_pre'] / u.ms)
    t = np.arange(0.0, 1000.0, grid)
    c = np.zeros_like(t)
    for k in (-1, 0, 1):  # neighbouring pairs (their tails are negligible at 1 Hz)
        for onset, amp in ((D, p['C_pre']), (delta_t, p['C_post'])):
            s = t - onset - 1000.0 * k
            c += np.where(s >= 0, amp * np.exp(-np.clip(s, 0, None) / tau), 0.0)
    return (c >= p['theta_d']).mean(), (c >= p['theta_p']).mean()


def _analytic(delta_t, p, sigma=0.0):
    """rho at the end of the protocol from DOWN and from UP, and the transition probabilities
    (Graupner & Brunel 2012: the cubic term neglected during stimulation)."""
    alpha_d, alpha_p = _fractions_above(delta_t, p)
    gd, gp = p['gamma_d'] * alpha_d, p['gamma_p'] * alpha_p
    rho_bar, tau_eff = gp / (gp + gd), float(p['tau_rho'] / u.second) / (gp + gd)
    T = N_PAIRS * 1.0
    ends = [rho_bar + (rho0 - rho_bar) * math.exp(-T / tau_eff) for rho0 in (0.0, 1.0)]
    if sigma == 0:
        return ends, (float(ends[0] > 0.5), float(ends[1] < 0.5))
    var = (alpha_p + alpha_d) * sigma ** 2 / (gp + gd) * (1 - math.exp(-2 * T / tau_eff))
    up = (1 + math.erf(-(0.5 - ends[0]) / math.sqrt(var))) / 2
    down = (1 - math.erf(-(0.5 - ends[1]) / math.sqrt(var))) / 2
    return ends, (up, down)


def _run(delta_steps, p, w_start, n_syn):
    """Efficacy of ``n_syn`` synapses (one presynaptic, n_syn postsynaptic neurons with the
    same spikes) after 60 pairs at 1 Hz with the given post-minus-pre offset in steps."""
    rule = GraupnerBrunelRule(**p, w_min=0.2 * u.nS, w_max=1.0 * u.nS)
    rule.attach(DenseLayout(1, n_syn))
    rule.init_state()
    w = brainstate.HiddenState(jnp.broadcast_to(jnp.asarray(w_start), (1, n_syn)) * u.nS)
    onset = 200

    def step():
        i = brainstate.environ.get('i')
        pre = pulse(i, onset, PERIOD, N_PAIRS).astype(float)
        post = pulse(i, onset + delta_steps, PERIOD, N_PAIRS).astype(float)
        w.value = rule.update(w.value, SynapseSignals(
            None, None, pre[None], jnp.broadcast_to(post, (n_syn,)), None, None, DT * u.ms,
            rule.layout))

    simulate.run(step, onset + N_PAIRS * PERIOD, dt=DT * u.ms)
    return jnp.asarray(rule.efficacy(w.value))[0]


@pytest.mark.slow
def test_deterministic_stdp_curve_of_the_dp_set_matches_the_analytic_expression():
    p = dict(DP, sigma=0.0)
    pop = POPULATIONS['DP']
    deltas = np.array([-60.0, -30.0, -15.0, -5.0, 5.0, 15.0, 30.0, 60.0])
    simulated = jax.jit(jax.vmap(lambda d: _run(d, p, jnp.array([0.2, 1.0]), 2)))(
        jnp.asarray(np.round(deltas / DT), dtype=jnp.int32))
    for delta, (from_down, from_up) in zip(deltas, np.asarray(simulated)):
        ends, (up, down) = _analytic(delta, p)
        change = strength_change(up, down, **pop)
        sim_change = strength_change(float(from_down > 0.5), float(from_up < 0.5), **pop)
        assert abs(sim_change - change) <= 0.01, (delta, sim_change, change)
        # the efficacy itself, against the analytic one (which neglects the cubic term)
        np.testing.assert_allclose([from_down, from_up], ends, atol=0.01)
    changes = [strength_change(*_analytic(d, p)[1], **pop) for d in deltas]
    assert min(changes) < 0.5 and max(changes) > 1.5  # the curve has both LTD and LTP


@pytest.mark.slow
def test_with_noise_the_ensemble_follows_the_analytic_transition_probability():
    p = DP
    delta = 20.0
    ends, (up, _) = _analytic(delta, p, sigma=p['sigma'])
    assert 0.1 < up < 0.9  # an informative case
    rho = np.asarray(_run(int(round(delta / DT)), p, 0.2, 200))
    fraction = float((rho > 0.5).mean())
    tolerance = 4 * math.sqrt(up * (1 - up) / 200) + 0.03
    assert abs(fraction - up) < tolerance, (fraction, up)


def test_trains_through_a_projection_onto_a_stock_neuron_with_the_projections_calcium():
    post = brainpy.state.LIFRef(1, R=0.1 * u.Gohm, tau=20 * u.ms, tau_ref=4 * u.ms,
                                V_th=-50 * u.mV, V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                                V_initializer=braintools.init.Constant(-65 * u.mV))
    rule = GraupnerBrunelRule(calcium='projection', calcium_unit=0.5 * u.uM, sigma=0.0,
                              gamma_p=3000.0, gamma_d=1000.0)
    proj = LTPProjection(GlutamateSynapse(1), post, rule=rule, w_init=0.6 * u.nS)
    brainstate.nn.init_all_states([post, proj])
    n = 20_000
    pre = (jnp.arange(n) % 1000 == 100)[:, None]
    current = jnp.where((jnp.arange(n) % 1000 >= 150) & (jnp.arange(n) % 1000 < 155), 10.0,
                        0.0)[:, None] * u.nA
    w = simulate.run(lambda s, I: (proj.update(s), post(I), proj.w.value[0, 0])[-1], n, pre,
                     current)
    w = np.asarray(w.to_decimal(u.nS))
    assert w[-1] > 0.62 and w.max() <= 1.0  # pre then post 5 ms later: potentiation


def test_deterministic_rule_differentiates():
    p = dict(DP, sigma=0.0)

    def final(gamma_p):
        rule = GraupnerBrunelRule(**dict(p, gamma_p=gamma_p))
        rule.attach(DenseLayout(1, 1))
        rule.init_state()
        w = brainstate.HiddenState(jnp.full((1, 1), 0.6) * u.nS)

        def step():
            i = brainstate.environ.get('i')
            pre = pulse(i, 100, 2000, 20).astype(float)
            post = pulse(i, 150, 2000, 20).astype(float)
            w.value = rule.update(w.value, SynapseSignals(None, None, pre[None], post[None],
                                                          None, None, DT * u.ms, rule.layout))

        simulate.run(step, 40_000, dt=DT * u.ms)
        return w.value[0, 0].to_decimal(u.nS)

    with brainstate.environ.context(precision=64):
        grad = float(jax.grad(final)(321.808))
        h = 1.0
        fd = (float(final(321.808 + h)) - float(final(321.808 - h))) / (2 * h)
    assert grad > 0 and abs(grad - fd) / abs(fd) < 1e-3


def test_presets_and_errors():
    assert isinstance(GraupnerBrunelRule(), PlasticityRule)
    assert set(PRESETS) == set(POPULATIONS)
    rule = GraupnerBrunelRule.preset('hippocampal_cultures')
    assert rule.D_pre == 10.0 * u.ms and rule.tau_rho == 33.7596 * u.second
    with pytest.raises(ParameterError, match="unknown preset 'DPx'"):
        GraupnerBrunelRule.preset('DPx')
    with pytest.raises(ParameterError, match="'calcium' must be one of"):
        GraupnerBrunelRule(calcium='nmda')
    with pytest.raises(ParameterError, match='w_min must be below w_max'):
        GraupnerBrunelRule(w_min=1 * u.nS, w_max=1 * u.nS)
    assert strength_change(0.0, 0.0, 0.5, 5.0) == 1.0
    assert strength_change(1.0, 0.0, 0.5, 5.0) == pytest.approx(5 / 3)
