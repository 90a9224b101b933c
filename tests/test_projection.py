import brainpy
import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import (GlutamateSynapse, LTPNeuron, LTPProjection, ParameterError, Pathway,
                         mg_unblock, simulate)

PERIOD = 2000  # steps between presynaptic spikes (200 ms: 5 Hz, no summation of calcium)


def _spikes(n_steps, n_pre, period=PERIOD, offset=10):
    return jnp.broadcast_to((jnp.arange(n_steps) % period == offset)[:, None], (n_steps, n_pre))


def _run(path, spikes, current=None):
    current = jnp.zeros(spikes.shape[:-1] + (path.neuron.varshape[-1],)) * u.pA if current is None \
        else current

    def step(s, I):
        path.update(s, I)
        return dict(w=path.projection.w.value, ca=path.projection.ca.value,
                    V=path.neuron.V.value)
    return simulate.run(step, spikes.shape[0], spikes, current)


def _clamped_pathway(hold, n_pre=3, n_post=2, **params):
    path = Pathway(n_pre, n_post, **params)
    brainstate.nn.init_all_states(path)
    path.neuron.clamp(hold)
    return path


def test_no_calcium_without_glutamate_or_nmda_receptors():
    path = _clamped_pathway(0 * u.mV)
    out = _run(path, jnp.zeros((2000, 3), dtype=bool))
    assert float(out['ca'].to_decimal(u.uM).max()) == 0.0
    path = _clamped_pathway(0 * u.mV, gbar_N=0 * u.nS)
    out = _run(path, _spikes(2000, 3))
    assert float(out['ca'].to_decimal(u.uM).max()) == 0.0
    assert np.all(out['w'].to_decimal(u.nS) == 0.5)


def test_calcium_entry_scales_with_unblocked_driving_force():
    holds = np.array([-70.0, -40.0, -20.0, 0.0, 30.0])
    peaks = []
    for hold in holds:
        out = _run(_clamped_pathway(hold * u.mV, n_pre=1, n_post=1), _spikes(400, 1, period=1000))
        peaks.append(float(out['ca'].to_decimal(u.uM).max()))
    drive = np.asarray(mg_unblock(holds * u.mV)) * (130.0 - holds)
    np.testing.assert_allclose(np.array(peaks) / peaks[-1], drive / drive[-1], rtol=1e-4)


def test_pairing_potentiates_and_plasticity_off_freezes_weights():
    spikes = _spikes(20000, 3)
    path = _clamped_pathway(0 * u.mV)
    w = _run(path, spikes)['w'].to_decimal(u.nS)
    assert w[-1].min() > 0.6 and w.max() <= 1.0  # LTP toward w_max = 1 nS
    path = _clamped_pathway(-70 * u.mV)
    w = _run(path, spikes)['w'].to_decimal(u.nS)
    assert np.abs(w[-1] - 0.5).max() < 0.01  # hyperpolarized: NMDA blocked, no change
    path = _clamped_pathway(0 * u.mV)
    path.projection.plastic = False
    out = _run(path, spikes)
    assert float(out['ca'].to_decimal(u.uM).max()) > 1.0  # calcium still flows ...
    assert np.all(out['w'].to_decimal(u.nS) == 0.5)  # ... but the weights stay put


def test_connectivity_mask_and_probability():
    mask = np.array([[True, False], [False, True], [True, True]])
    path = _clamped_pathway(0 * u.mV, n_pre=3, n_post=2)
    proj = LTPProjection(GlutamateSynapse(3), path.neuron, conn=mask)
    proj.init_state()
    np.testing.assert_array_equal(proj.w.value.to_decimal(u.nS), 0.5 * mask)
    a = LTPProjection(GlutamateSynapse(100), LTPNeuron(80), conn=0.2, seed=3).mask
    b = LTPProjection(GlutamateSynapse(100), LTPNeuron(80), conn=0.2, seed=3).mask
    np.testing.assert_array_equal(a, b)
    assert abs(a.mean() - 0.2) < 0.02
    with pytest.raises(ParameterError, match="'conn'"):
        LTPProjection(GlutamateSynapse(3), LTPNeuron(2), conn=np.ones((2, 3), dtype=bool))
    with pytest.raises(ParameterError, match="'conn'"):
        LTPProjection(GlutamateSynapse(3), LTPNeuron(2), conn=1.5)


def test_masked_synapses_get_no_current_calcium_or_weight():
    mask = np.array([[True, False]])
    syn, neu = GlutamateSynapse(1), LTPNeuron(2)
    proj = LTPProjection(syn, neu, conn=mask)
    brainstate.nn.init_all_states([syn, neu, proj])

    def step(s):
        proj.update(s)
        neu.update()
        return dict(V=neu.V.value, ca=proj.ca.value, w=proj.w.value)

    out = simulate.run(step, 1000, _spikes(1000, 1))
    V = out['V'].to_decimal(u.mV)
    assert V[:, 0].max() > -64.9 and np.all(V[:, 1] == -65.0)
    assert float(out['ca'][:, 0, 1].to_decimal(u.uM).max()) == 0.0
    assert float(out['w'][:, 0, 1].to_decimal(u.nS).max()) == 0.0


def test_onto_a_stock_lif_neuron_the_spines_see_v():
    syn = GlutamateSynapse(4)
    post = brainpy.state.LIF(2, R=0.1 * u.Gohm, tau=20 * u.ms, V_th=-50 * u.mV,
                             V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                             V_initializer=braintools.init.Constant(-65 * u.mV))
    proj = LTPProjection(syn, post)
    brainstate.nn.init_all_states([post, proj])

    def step(s):
        proj.update(s)
        post()
        return dict(V=post.V.value, ca=proj.ca.value)

    out = simulate.run(step, 2000, _spikes(2000, 4))
    V = out['V'].to_decimal(u.mV)
    assert V.max() > -64.5 and np.all(np.isfinite(V))
    # Below threshold there is no bpAP: calcium follows the somatic V.
    assert float(out['ca'].to_decimal(u.uM).max()) > 0.0
    assert float(u.math.max(proj.dendrite.depolarization()).to_decimal(u.mV)) == 0.0


def test_rejects_bad_parameters():
    syn, neu = GlutamateSynapse(2), LTPNeuron(2)
    with pytest.raises(ParameterError, match="'gbar_N' must be >= 0"):
        LTPProjection(syn, neu, gbar_N=-1 * u.nS)
    with pytest.raises(ParameterError, match="'rho' must be in"):
        LTPProjection(syn, neu, rho=0.0025 * u.uM / u.ms)
    with pytest.raises(ParameterError, match='w_init must lie within'):
        LTPProjection(syn, neu, w_init=2 * u.nS)
    with pytest.raises(ParameterError, match="'pre' must be a GlutamateSynapse or a brainpy"):
        LTPProjection(neu, neu)
    LTPProjection(syn, neu)
    with pytest.raises(ParameterError, match="'pre': GlutamateSynapse .* already belongs"):
        LTPProjection(syn, LTPNeuron(3))
    with pytest.raises(ParameterError, match="unknown parameter 'theta_P'; did you mean 'theta_p'"):
        Pathway(2, 1, theta_P=0.5 * u.uM)


def test_batched_run_equals_single_runs():
    n_steps, holds = 8000, jnp.array([-70.0, -30.0, 0.0, 20.0])
    offsets = [5, 40, 90, 150]
    spikes = jnp.stack([_spikes(n_steps, 3, offset=o) for o in offsets], axis=1)  # (T, 4, 3)
    path = Pathway(3, 2)
    brainstate.nn.init_all_states(path, batch_size=4)
    path.neuron.clamp(holds[:, None] * u.mV)
    batched = _run(path, spikes)['w'].to_decimal(u.nS)[-1]
    assert batched.shape == (4, 3, 2)
    for lane in range(4):
        single = _clamped_pathway(holds[lane] * u.mV)
        w = _run(single, spikes[:, lane])['w'].to_decimal(u.nS)[-1]
        np.testing.assert_allclose(batched[lane], w, rtol=1e-6, atol=1e-7)
    assert batched[2].mean() > batched[0].mean() + 0.05  # the lanes really differ


def test_gradient_of_mean_weight_matches_finite_difference():
    spikes = _spikes(4000, 3)

    def mean_weight(gamma_p):
        path = _clamped_pathway(-20 * u.mV, gamma_p=gamma_p / u.second)
        w = _run(path, spikes)['w'][-1]
        return jnp.mean(w.to_decimal(u.nS))

    grad = float(jax.grad(mean_weight)(2.0))
    h = 0.1
    fd = (float(mean_weight(2.0 + h)) - float(mean_weight(2.0 - h))) / (2 * h)
    assert abs(fd) > 1e-3
    assert abs(grad - fd) / abs(fd) < 0.01


def test_connected_components_print_without_recursion():
    syn, neu = GlutamateSynapse(3), LTPNeuron(2)
    proj = LTPProjection(syn, neu, name='ca3_to_ca1')
    brainstate.nn.init_all_states([neu, proj])
    assert '<current of ca3_to_ca1>' in repr(neu)
    assert 'LTPProjection' in repr(proj)
