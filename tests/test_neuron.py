import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import LTPNeuron, ParameterError, simulate


def _record(neuron, current, dt=0.1 * u.ms):
    def step(I):
        neuron.update(I)
        return dict(V=neuron.V.value, spike=neuron.spike.value, bpap=neuron.dendrite.bpap.value,
                    bpap_fast=neuron.dendrite.bpap_fast.value,
                    ca_post=neuron.dendrite.ca_post.value)
    return simulate.run(step, current.shape[0], current, dt=dt)


def test_subthreshold_membrane_matches_the_closed_form():
    neuron = LTPNeuron(1)
    neuron.init_state()
    out = _record(neuron, jnp.full((500, 1), 100.0) * u.pA)  # steady state -55 mV < V_th
    t = np.arange(1, 501) * 0.1
    exact = -65.0 + 10.0 * (1.0 - np.exp(-t / 20.0))
    np.testing.assert_allclose(out['V'].to_decimal(u.mV)[:, 0], exact, atol=1e-4)
    assert out['spike'].sum() == 0


@pytest.mark.parametrize('t_ap, t_ref, dt', [(2.0, 4.0, 0.1), (1.0, 3.0, 0.05), (0.7, 0.8, 0.1)])
def test_action_potential_duration_and_refractoriness(t_ap, t_ref, dt):
    neuron = LTPNeuron(1, t_ap=t_ap * u.ms, t_ref=t_ref * u.ms)
    neuron.init_state()
    n = int(round(60.0 / dt))
    out = _record(neuron, jnp.full((n, 1), 1e5) * u.pA, dt=dt * u.ms)  # V_th in one step
    V, spike = out['V'].to_decimal(u.mV)[:, 0], np.asarray(out['spike'])[:, 0]
    onsets = np.flatnonzero(spike)
    assert len(onsets) > 3
    n_ap, n_ref = round(t_ap / dt), round(t_ref / dt)
    # Driven this hard, the neuron fires again on the first step it may: every n_ref steps.
    assert np.all(np.diff(onsets) == n_ref)
    k = onsets[1]
    assert np.all(V[k:k + n_ap] == 10.0) and V[k + n_ap] != 10.0
    assert np.all(V[k + n_ap:k + n_ref] == -65.0)


def test_spike_adds_bpap_and_calcium_which_decay_exponentially():
    neuron = LTPNeuron(1)
    neuron.init_state()
    current = np.zeros((1000, 1))
    current[:30] = 2000.0  # one spike (the pulse ends within the refractory period)
    out = _record(neuron, jnp.asarray(current) * u.pA)
    spike = np.asarray(out['spike'])[:, 0]
    assert spike.sum() == 1
    k = int(np.flatnonzero(spike)[0])
    bpap, ca = out['bpap'].to_decimal(u.mV)[:, 0], out['ca_post'].to_decimal(u.uM)[:, 0]
    fast = out['bpap_fast'].to_decimal(u.mV)[:, 0]
    t = (np.arange(1000) - k) * 0.1
    # The two parts of the bpAP (Shouval et al. 2002) and the spike calcium, each exponential.
    np.testing.assert_allclose(bpap[k:], 21.7 * np.exp(-t[k:] / 21.2), rtol=1e-4)
    np.testing.assert_allclose(fast[k:k + 200], 96.7 * np.exp(-t[k:k + 200] / 2.12), rtol=1e-4)
    np.testing.assert_allclose(ca[k:], 0.23 * np.exp(-t[k:] / 12.0), rtol=1e-4)
    depolarization = float(neuron.dendrite.depolarization().to_decimal(u.mV)[0])
    assert depolarization == pytest.approx(float(bpap[-1] + fast[-1]), rel=1e-6)
    V_dend = float(neuron.dendritic_potential().to_decimal(u.mV)[0])
    assert V_dend == pytest.approx(float(out['V'].to_decimal(u.mV)[-1, 0]) + depolarization)


def test_clamped_neuron_holds_and_does_not_spike():
    neuron = LTPNeuron(3)
    neuron.init_state()
    neuron.clamp(jnp.array([0.0, -70.0, 0.0]) * u.mV, where=jnp.array([True, True, False]))
    out = _record(neuron, jnp.full((300, 3), 5000.0) * u.pA)
    V = out['V'].to_decimal(u.mV)
    assert np.all(V[:, 0] == 0.0) and np.all(V[:, 1] == -70.0)
    assert out['spike'][:, :2].sum() == 0 and out['bpap'][:, :2].to_decimal(u.mV).max() == 0
    assert out['bpap_fast'][:, :2].to_decimal(u.mV).max() == 0
    assert out['spike'][:, 2].sum() > 0  # the unclamped neuron fires
    neuron.unclamp()
    out = _record(neuron, jnp.full((300, 3), 5000.0) * u.pA)
    assert np.all(out['spike'].sum(axis=0) > 0)


@pytest.mark.parametrize('kwargs, pattern', [
    (dict(C=200.0), "'C' must be a quantity in pF"),
    (dict(g_L=10 * u.mV), "'g_L' must be in nS"),
    (dict(tau_bpap=-25 * u.ms), "'tau_bpap' must be > 0"),
    (dict(t_ref=2 * u.ms, t_ap=2 * u.ms), 't_ref must exceed t_ap'),
    (dict(V_reset=-40 * u.mV), 'V_reset must be below V_th'),
])
def test_rejects_bad_parameters(kwargs, pattern):
    with pytest.raises(ParameterError, match=pattern):
        LTPNeuron(1, **kwargs)
