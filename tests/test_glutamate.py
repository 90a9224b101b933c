import brainpy
import brainstate
import braintools
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import GlutamateSynapse, ParameterError, simulate


def _train(n_steps, spike_steps, n=1):
    spikes = np.zeros((n_steps, n), dtype=bool)
    spikes[list(spike_steps)] = True
    return jnp.asarray(spikes)


def _record(syn, spikes, dt):
    def step(spike):
        syn.update(spike)
        return dict(D=syn.D.value, glu=syn.glu.value, released=syn.released.value,
                    s=syn.s.value, g=syn.g.value)
    return simulate.run(step, spikes.shape[0], spikes, dt=dt)


@pytest.mark.parametrize('T_dur', [0.5, 1.0, 2.0])
def test_one_spike_releases_the_fraction_u_of_the_dock(T_dur):
    dt = 0.01 * u.ms
    syn = GlutamateSynapse(1, T_dur=T_dur * u.ms)
    syn.init_state()
    out = _record(syn, _train(400, [0]), dt)
    released = float(out['released'].sum() / (3.0 * u.mM))
    U = 1.0 - np.exp(-0.5 * T_dur)
    assert abs(released - U) / U < 1e-3
    assert abs(float(syn.release_fraction) - U) < 1e-6
    # Release happens in exactly round(T_dur / dt) steps.
    assert int((out['released'].to_decimal(u.mM) > 0).sum()) == round(T_dur / 0.01)


def test_longer_action_potential_releases_more():
    amounts = []
    for T_dur in (0.5, 1.0, 2.0, 4.0):
        syn = GlutamateSynapse(1, T_dur=T_dur * u.ms)
        syn.init_state()
        amounts.append(float(_record(syn, _train(100, [0]), 0.1 * u.ms)['released'].sum() / u.mM))
    assert np.all(np.diff(amounts) > 0)


def test_dock_recovers_with_tau_rec():
    dt = 0.1 * u.ms
    syn = GlutamateSynapse(1, tau_rec=200 * u.ms)
    syn.init_state()
    out = _record(syn, _train(5000, [0]), dt)
    D = out['D'].to_decimal(u.mM)[:, 0]
    D_after = D[10]  # end of the 1 ms window
    t = (np.arange(5000) - 10) * 0.1
    exact = 3.0 - (3.0 - D_after) * np.exp(-t / 200.0)
    np.testing.assert_allclose(D[10:], exact[10:], rtol=1e-5)


def test_cleft_is_cleared_and_gates_the_receptors():
    syn = GlutamateSynapse(1)
    syn.init_state()
    out = _record(syn, _train(3000, [0]), 0.1 * u.ms)
    glu = out['glu'].to_decimal(u.mM)[:, 0]
    assert 0.2 < glu.max() < 1.0
    # After release, dglu/dt = -glu / tau_clear: exact exponential decay per step.
    np.testing.assert_allclose(glu[31:40] / glu[30:39], np.exp(-0.1), rtol=1e-5)
    s, g = np.asarray(out['s'])[:, 0], np.asarray(out['g'].to_decimal(u.mS))[:, 0]
    assert 0 < s.max() < 1 and 0 < g.max() < 1
    assert s[-1] < 1e-3 * s.max()  # AMPA closes within ~5 ms (beta_A = 0.19 /ms)
    # Once the intermediate x has closed (beta2 = 0.5 /ms), NMDA receptors close with beta1:
    # dg/dt = -beta1 g, an exact exponential per step (19 ms at beta1 = 0.0529 /ms).
    np.testing.assert_allclose(g[501:510] / g[500:509], np.exp(-0.0529 * 0.1), rtol=1e-5)
    assert g[500] > 0.05 * g.max() > g[-1]  # open for tens of ms, closed after 300 ms


def test_short_term_depression_follows_the_analytic_recursion():
    dt, isi, n = 0.1 * u.ms, 50.0, 10  # 20 Hz
    syn = GlutamateSynapse(1)
    syn.init_state()
    steps = int(isi / 0.1)
    out = _record(syn, _train(n * steps, range(0, n * steps, steps)), dt)
    per_spike = out['released'].to_decimal(u.mM)[:, 0].reshape(n, steps).sum(axis=1)
    U, D, expected = 1 - np.exp(-0.5), 3.0, []
    for _ in range(n):
        expected.append(U * D)
        D = 3.0 - (3.0 - (1 - U) * D) * np.exp(-isi / 500.0)  # Tsodyks & Markram
    np.testing.assert_allclose(per_spike, expected, rtol=1e-3)


def test_batched_state_and_reset():
    syn = GlutamateSynapse(3)
    syn.init_state(batch_size=2)
    assert syn.D.value.shape == (2, 3) and syn.release_steps.value.shape == (2, 3)
    with brainstate.environ.context(dt=0.1 * u.ms):
        syn.update(jnp.ones((2, 3), dtype=bool))
    syn.reset_state(batch_size=2)
    assert np.all(syn.D.value.to_decimal(u.mM) == 3.0) and np.all(syn.s.value == 0)


@pytest.mark.parametrize('kwargs, pattern', [
    (dict(T=3.0), "'T' must be a quantity in mM"),
    (dict(T=-1 * u.mM), "'T' must be >= 0"),
    (dict(k_rel=0.5 * u.ms), "'k_rel' must be in"),
    (dict(tau_rec=-1 * u.ms), "'tau_rec' must be > 0"),
    (dict(T_dur=0 * u.ms), "'T_dur' must be > 0"),
    (dict(alpha_A=1.1 / u.ms), "'alpha_A' must be in"),
])
def test_rejects_bad_parameters(kwargs, pattern):
    with pytest.raises(ParameterError, match=pattern):
        GlutamateSynapse(1, **kwargs)


def test_name_is_the_second_argument_and_new_parameters_are_keyword_only():
    syn = GlutamateSynapse(3, 'ca3_boutons', 2.0 / u.ms, 0.0529 / u.ms)
    assert syn.name == 'ca3_boutons' and syn.alpha1 == 2.0 / u.ms
    with pytest.raises(TypeError, match='positional'):
        GlutamateSynapse(3, None, 2.0 / u.ms, 0.0529 / u.ms, 1.0 / (u.mM * u.ms), 0.5 / u.ms,
                         3 * u.mM, 1 * u.ms, 0 * u.mS, 0.0, 0.5 / u.ms)


def test_open_fractions_and_spike_arrival_time():
    syn = GlutamateSynapse(2)
    syn.init_state()
    assert u.get_unit(syn.g.value) == u.mS
    with brainstate.environ.context(dt=0.1 * u.ms, t=5.0 * u.ms):
        syn.update(jnp.array([True, False]))
    np.testing.assert_array_equal(syn.spike_arrival_time.value.to_decimal(u.ms), [5.0, -1e7])
    with brainstate.environ.context(dt=0.1 * u.ms, t=5.1 * u.ms):
        syn.update(jnp.array([False, False]))
    np.testing.assert_array_equal(syn.nmda_open_fraction(), syn.g.value.to_decimal(u.mS))
    assert syn.nmda_open_fraction()[0] > 0 and syn.ampa_open_fraction()[0] > 0
    assert syn.nmda_open_fraction()[1] == 0


@pytest.mark.parametrize('receptor', [brainpy.state.BioNMDA, GlutamateSynapse])
def test_a_model_written_for_bionmda_runs_unchanged_with_the_swap(receptor):
    """An NMDA pathway as brainpy.state models build it -- BioNMDA (g in mS), a CurrentProj
    with a unitless Linear comm and MgBlock output, onto a stock LIF; only the class changes."""
    n_pre, n_post = 20, 5
    post = brainpy.state.LIF(n_post, tau=20 * u.ms, V_th=-50 * u.mV, V_reset=-65 * u.mV,
                             V_rest=-65 * u.mV, R=1 * u.Gohm,
                             V_initializer=braintools.init.Constant(-65 * u.mV))
    nmda = receptor(n_pre, T=1.0 * u.mM, T_dur=0.5 * u.ms)
    proj = brainpy.state.CurrentProj(
        comm=brainstate.nn.Linear(n_pre, n_post, w_init=braintools.init.Constant(5e-7),
                                  b_init=None),
        out=brainpy.state.MgBlock(E=0 * u.mV, cc_Mg=1.0 * u.mM, beta=3.57 * u.mM,
                                  alpha=0.062 / u.mV),
        post=post)
    brainstate.nn.init_all_states([nmda, post, proj])

    def step(spike):
        proj(nmda(spike))
        post()
        return post.V.value

    spikes = jnp.broadcast_to((jnp.arange(300) % 50 == 0)[:, None], (300, n_pre))
    depol = simulate.run(step, 300, spikes).to_decimal(u.mV) + 65.0
    assert np.all(np.isfinite(depol)) and depol.max() > 0.1  # NMDA current depolarizes post
