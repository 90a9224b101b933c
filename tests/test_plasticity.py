import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import CalciumControlRule, ParameterError, mg_unblock
from ltp_brainpy.plasticity import linear_exp_step, nmda_calcium_influx, relax

def _iterate(step, x0, n):
    """Apply ``step`` n times in one compiled loop (x0 a quantity)."""
    unit = u.get_unit(x0)
    body = lambda _, x: step(x * unit).to_decimal(unit)
    return jax.jit(lambda x: jax.lax.fori_loop(0, n, body, x))(x0.to_decimal(unit)) * unit


MG_TABLE = [(-80, 0.0244), (-60, 0.0796), (-40, 0.2302), (-20, 0.5081), (0, 0.7812)]


@pytest.mark.parametrize('V, expected', MG_TABLE)
def test_mg_unblock_matches_jahr_stevens_table(V, expected):
    value = float(mg_unblock(V * u.mV, 1.0 * u.mM))
    exact = 1.0 / (1.0 + np.exp(-0.062 * V) / 3.57)
    assert abs(value - exact) / exact < 1e-4
    assert abs(value - expected) < 5e-5  # the table's four decimals


def test_mg_unblock_without_magnesium_is_one_and_rejects_bare_numbers():
    np.testing.assert_allclose(mg_unblock(jnp.linspace(-80, 20, 6) * u.mV, 0 * u.mM), 1.0)
    with pytest.raises(ParameterError, match="'V'.*mV"):
        mg_unblock(-60.0)


def test_relax_and_linear_step_match_closed_forms():
    tau, dt, x0, x_inf = 20 * u.ms, 0.1 * u.ms, 1.0 * u.uM, 0.25 * u.uM
    x = _iterate(lambda x: relax(x, x_inf, tau, dt), x0, 500)
    exact = x_inf + (x0 - x_inf) * np.exp(-50.0 / 20.0)
    assert abs(float((x - exact) / exact)) < 1e-5
    # dx/dt = a - b x, including b = 0 (pure drift)
    a, b = 0.3 * u.nS / u.ms, 0.2 / u.ms
    w = linear_exp_step(1.0 * u.nS, a, b, 10 * u.ms)
    exact = a / b + (1.0 * u.nS - a / b) * np.exp(-2.0)
    assert abs(float((w - exact) / exact)) < 1e-6
    w = linear_exp_step(1.0 * u.nS, a, 0.0 / u.ms, 10 * u.ms)
    assert abs(float(w / u.nS) - 4.0) < 1e-6


def test_linear_step_series_path_matches_closed_form_and_is_used_only_when_bounded():
    # For a slow process (b dt <= SERIES_LIMIT) phi_1 comes from its series: compare the
    # one-step change, where a cancellation error would show, with the closed form.
    from ltp_brainpy.plasticity import SERIES_LIMIT
    dt, x0, a = 0.1 * u.ms, 0.2 * u.nS, 0.5 * u.nS / u.ms
    rates = np.array([0.0, 1e-6, 1e-4, 1e-2, SERIES_LIMIT / 0.1])  # 1/ms
    b = jnp.asarray(rates) / u.ms
    z = rates * 0.1
    safe = np.where(z > 0, rates, 1.0)
    change = np.where(z > 0, (0.5 / safe - 0.2) * -np.expm1(-z), 0.5 * 0.1)  # nS
    series = linear_exp_step(x0, a, b, dt, b_max=SERIES_LIMIT / dt)
    np.testing.assert_allclose(np.asarray((series - x0).to_decimal(u.nS)), change, rtol=1e-6)
    # A bound too large for the series takes the exprel path: the same numbers.
    general = linear_exp_step(x0, a, b, dt, b_max=1.0 / u.ms)
    np.testing.assert_allclose(np.asarray((general - x0).to_decimal(u.nS)), change, rtol=1e-6)
    # Far outside its range the series would be wrong: a fast process still steps exactly.
    fast = 5.0 / u.ms
    exact = 0.1 + (0.2 - 0.1) * np.exp(-5.0)
    assert abs(float(linear_exp_step(x0, a, fast, 1.0 * u.ms, b_max=fast) / u.nS)
               - exact) < 1e-6


def test_nmda_calcium_needs_glutamate_and_receptors_and_follows_driving_force():
    rho, E_Ca = 0.0025 * u.uM / (u.ms * u.nS * u.mV), 130 * u.mV
    V = jnp.array([-70.0, -40.0, -10.0, 0.0]) * u.mV
    B = mg_unblock(V)
    none = nmda_calcium_influx(0.0, B, V, 0.5 * u.nS, rho, E_Ca)
    assert np.all(none.to_decimal(u.uM / u.ms) == 0)
    blocked = nmda_calcium_influx(0.8, B, V, 0.0 * u.nS, rho, E_Ca)
    assert np.all(blocked.to_decimal(u.uM / u.ms) == 0)
    influx = nmda_calcium_influx(0.8, B, V, 0.5 * u.nS, rho, E_Ca).to_decimal(u.uM / u.ms)
    expected = 0.0025 * 0.5 * 0.8 * np.asarray(B) * (130.0 - np.array([-70, -40, -10, 0.0]))
    np.testing.assert_allclose(influx, expected, rtol=1e-5)
    assert np.all(np.diff(influx) > 0)  # more depolarized, more calcium (below E_Ca)
    above = nmda_calcium_influx(0.8, mg_unblock(140 * u.mV), 140 * u.mV, 0.5 * u.nS, rho, E_Ca)
    assert float(above.to_decimal(u.uM / u.ms)) == 0.0


def _run_rule(rule, ca, t_ms, w0=0.5 * u.nS, dt=0.1 * u.ms):
    w = _iterate(lambda w: rule.step(w, ca, w0, dt), w0, int(round(t_ms / 0.1)))
    return float(w / u.nS)


@pytest.mark.parametrize('thresholds', [(0.35, 0.55), (0.1, 0.9)])  # one exp; two sigmoids
def test_rule_drives_match_the_two_sigmoids(thresholds):
    theta_d, theta_p = thresholds
    rule = CalciumControlRule(theta_d=theta_d * u.uM, theta_p=theta_p * u.uM, kappa=0.01 * u.uM)
    c = np.linspace(0.0, 2.0, 4001).astype(np.float32).astype(float)  # exactly representable
    omega_p, omega_d = rule.omegas(jnp.asarray(c, dtype=jnp.float32) * u.uM)
    sigma = lambda theta: 1.0 / (1.0 + np.exp(-(c - theta) / 0.01))
    np.testing.assert_allclose(omega_p, sigma(theta_p), atol=1e-6)
    np.testing.assert_allclose(omega_d, sigma(theta_d) - sigma(theta_p), atol=1e-6)
    assert np.all(np.asarray(omega_d) >= 0) and np.all(np.isfinite(omega_d))
    # Traced thresholds (a sweep or a gradient) take the two-sigmoid path: same numbers.
    traced = jax.jit(lambda t: CalciumControlRule(
        theta_d=theta_d * u.uM, theta_p=t * u.uM, kappa=0.01 * u.uM,
    ).omegas(jnp.asarray(c, dtype=jnp.float32) * u.uM))(theta_p)
    np.testing.assert_allclose(traced[1], omega_d, atol=1e-6)


def test_rule_potentiates_toward_w_max_above_theta_p():
    rule = CalciumControlRule(gamma_p=2.0 / u.second)
    w = _run_rule(rule, 2.0 * u.uM, 500.0)
    # LTP = 1, LTD = 0 at saturating calcium: w = w_max - (w_max - w0) exp(-gamma_p t)
    assert abs(w - (1.0 - 0.5 * np.exp(-1.0))) < 1e-4


def test_rule_depresses_toward_w_min_in_the_band():
    rule = CalciumControlRule(theta_d=0.35 * u.uM, theta_p=0.55 * u.uM, kappa=0.01 * u.uM,
                              gamma_d=2.0 / u.second)
    w = _run_rule(rule, 0.45 * u.uM, 500.0)  # halfway between theta_d and theta_p
    assert abs(w - 0.5 * np.exp(-1.0)) < 1e-4


def test_rule_is_silent_below_theta_d_and_keeps_bounds():
    rule = CalciumControlRule()
    assert abs(_run_rule(rule, 0.1 * u.uM, 1000.0) - 0.5) < 1e-6
    ca = jax.random.uniform(jax.random.PRNGKey(0), (2000,), maxval=0.8) * u.uM
    fast = CalciumControlRule(gamma_p=40 / u.second, gamma_d=40 / u.second)

    def step(w, c):  # huge steps (gamma * dt = 2) stay inside the bounds
        w = fast.step(w * u.nS, c * u.uM, 0.5 * u.nS, 50 * u.ms).to_decimal(u.nS)
        return w, w

    _, ws = jax.lax.scan(step, jnp.float32(0.5), ca.to_decimal(u.uM))
    assert float(ws.min()) >= 0.0 and float(ws.max()) <= 1.0
    assert float(ws.max()) > 0.9 and float(ws.min()) < 0.1  # the test visits both bounds


def test_rule_forgets_toward_w0_with_tau_w():
    rule = CalciumControlRule(tau_w=100 * u.ms)
    w = _iterate(lambda w: rule.step(w, 0.0 * u.uM, 0.5 * u.nS, 0.1 * u.ms), 0.9 * u.nS, 1000)
    assert abs(float(w / u.nS) - (0.5 + 0.4 * np.exp(-1.0))) < 1e-4


@pytest.mark.parametrize('kwargs, pattern', [
    (dict(theta_d=0.6 * u.uM, theta_p=0.5 * u.uM), 'theta_d must be below theta_p'),
    (dict(w_min=1.0 * u.nS, w_max=0.5 * u.nS), 'w_min must not exceed w_max'),
    (dict(kappa=-0.01 * u.uM), "'kappa' must be > 0"),
    (dict(gamma_p=2.0), "'gamma_p' must be a quantity"),
    (dict(theta_p=0.5 * u.mV), "'theta_p' must be in uM"),
])
def test_rule_rejects_bad_parameters(kwargs, pattern):
    with pytest.raises(ParameterError, match=pattern):
        CalciumControlRule(**kwargs)
