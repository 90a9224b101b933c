"""Clopath's voltage-based rule against its closed form and brainpy's own Clopath kernel."""
import types

import brainpy
import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import (ClopathRule, GlutamateSynapse, LTPProjection, ParameterError,
                         PlasticityRule, simulate)
from ltp_brainpy.clopath import PRESETS
from ltp_brainpy.connectivity import DenseLayout
from ltp_brainpy.plasticity import SynapseSignals

DT = 0.1  # ms
VC = PRESETS['visual_cortex']


@pytest.fixture(autouse=True)
def float64():
    with brainstate.environ.context(precision=64):
        yield


def _drive(rule, pre, V, w0=0.5):
    """w / w0 of one synapse after per-step presynaptic spikes and postsynaptic potentials."""
    rule.attach(DenseLayout(1, 1))
    rule.init_state()
    w = brainstate.HiddenState(jnp.full((1, 1), w0) * u.nS)

    def step(spike, v):
        w.value = rule.update(w.value, SynapseSignals(None, w0 * u.nS, spike[None], None,
                                                      v[None] * u.mV, None, DT * u.ms,
                                                      rule.layout))
        return w.value[0, 0].to_decimal(u.nS) / w0

    return np.asarray(simulate.run(step, len(pre), jnp.asarray(pre), jnp.asarray(V),
                                   dt=DT * u.ms))


def test_one_presynaptic_spike_depresses_by_the_filtered_depolarization():
    n, k, V = 400, 250, -60.0
    pre = np.zeros(n)
    pre[k] = 1.0
    w = _drive(ClopathRule(**VC), pre, np.full(n, V))
    u_minus = V + (-70.6 - V) * np.exp(-(k + 1) * DT / 10.0)  # the filter after step k
    np.testing.assert_allclose(w[-1] - 1.0, -14e-5 * (u_minus + 70.6), rtol=1e-9)
    assert np.all(w[:k] == 1.0)  # below theta_plus: no potentiation


def test_same_weights_as_brainpys_clopath_kernel():
    nest = pytest.importorskip('brainpy_state._nest_plasticity.clopath_synapse')
    rng = np.random.default_rng(1)
    n = 6000
    pre = (rng.random(n) < 0.01).astype(float)
    t = np.arange(n) * DT
    V = -62.0 + 8.0 * np.sin(t / 7.0) + np.where(rng.random(n) < 0.004, 50.0, 0.0)
    V = np.convolve(V, np.ones(15) / 15, mode='same')  # brief depolarizations above theta_plus
    ours = _drive(ClopathRule(**VC), pre, V)[-1]
    ref = nest.clopath_synapse(tau_x=15.0 * u.ms, Wmax=2.0, Wmin=0.0, A_LTP=8e-5, A_LTD=14e-5,
                               theta_plus=-45.3 * u.mV, theta_minus=-70.6 * u.mV)
    # The filters and the presynaptic trace, written out independently (NumPy).
    u_minus = u_plus = -70.6
    trace, w = 0.0, jnp.asarray([1.0])
    for k in range(n):
        u_minus = V[k] + (u_minus - V[k]) * np.exp(-DT / 10.0)
        u_plus = V[k] + (u_plus - V[k]) * np.exp(-DT / 7.0)
        trace = trace * np.exp(-DT / 15.0) + pre[k]
        ctx = types.SimpleNamespace(
            post_states={'V': jnp.asarray([V[k]]), 'u_bar_plus': jnp.asarray([u_plus]),
                         'u_bar_minus': jnp.asarray([u_minus])},
            pre_trace=jnp.asarray([trace]), pre_spike=jnp.asarray([pre[k]]), dt=DT)
        w = ref.update({'weight': w}, ctx)[1]
    assert abs(ours - 1.0) > 1e-3 and (V > -45.3).any()
    np.testing.assert_allclose(ours, float(w[0]), rtol=1e-8)


def test_homeostasis_scales_depression_with_the_mean_depolarization():
    n, k = 12_000, 11_000
    pre = np.zeros(n)
    pre[k] = 1.0
    scales = []
    for V in (-60.6, -66.6):
        plain = _drive(ClopathRule(**VC), pre, np.full(n, V))[-1] - 1.0
        scaled = _drive(ClopathRule(**VC, homeostasis=True), pre, np.full(n, V))[-1] - 1.0
        mean = (V + 70.6) * (1 - np.exp(-(k + 1) * DT / 1000.0))
        np.testing.assert_allclose(scaled / plain, mean ** 2 / 60.0, rtol=1e-9)
        scales.append(scaled / plain)
    assert scales[0] > 4 * scales[1]  # a more depolarized neuron depresses more


def test_pre_before_post_potentiates_onto_a_stock_neuron():
    post = brainpy.state.LIFRef(1, R=0.1 * u.Gohm, tau=20 * u.ms, tau_ref=4 * u.ms,
                                V_th=-50 * u.mV, V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                                V_initializer=braintools.init.Constant(-65 * u.mV))
    rule = ClopathRule(theta_minus=-65 * u.mV, voltage='dendrite')
    proj = LTPProjection(GlutamateSynapse(1), post, rule=rule)
    brainstate.nn.init_all_states([post, proj])
    n = 5000  # 20 pairs at 40 Hz, post 5 ms after pre
    i = jnp.arange(n)
    pre = ((i % 250 == 100) & (i < 5000))[:, None]
    current = jnp.where((i % 250 >= 150) & (i % 250 < 155), 10.0, 0.0)[:, None] * u.nA
    w = simulate.run(lambda s, I: (proj.update(s), post(I), proj.w.value[0, 0])[-1], n, pre,
                     current)
    assert float(w[-1].to_decimal(u.nS)) > 0.55


def test_gradient_matches_a_finite_difference():
    n = 3000
    pre = (np.arange(n) % 200 == 20).astype(float)
    V = np.where(np.arange(n) % 200 < 60, -40.0, -62.0)

    def final(a):
        return _drive(ClopathRule(**dict(VC, A_LTP=a / u.mV ** 2)), pre, V)[-1]

    def traced(a):
        rule = ClopathRule(**dict(VC, A_LTP=a / u.mV ** 2))
        rule.attach(DenseLayout(1, 1))
        rule.init_state()
        w = brainstate.HiddenState(jnp.full((1, 1), 0.5) * u.nS)

        def step(spike, v):
            w.value = rule.update(w.value, SynapseSignals(None, 0.5 * u.nS, spike[None], None,
                                                          v[None] * u.mV, None, DT * u.ms,
                                                          rule.layout))

        simulate.run(step, n, jnp.asarray(pre), jnp.asarray(V), dt=DT * u.ms)
        return w.value[0, 0].to_decimal(u.nS) / 0.5

    grad = float(jax.grad(traced)(8e-5))
    h = 1e-6
    fd = (final(8e-5 + h) - final(8e-5 - h)) / (2 * h)
    assert grad > 0
    np.testing.assert_allclose(grad, fd, rtol=1e-5)


def test_interface_and_errors():
    assert isinstance(ClopathRule(), PlasticityRule)
    assert ClopathRule.preset('visual_cortex').tau_x == 15 * u.ms
    with pytest.raises(ParameterError, match="'voltage' must be one of"):
        ClopathRule(voltage='axon')
    with pytest.raises(ParameterError, match="'A_LTP' must be"):
        ClopathRule(A_LTP=8e-5 / u.mV)


def test_same_weights_as_the_equations_written_in_brian2():
    """The rule's equations in Brian2 (numpy target), on the same presynaptic spikes and the same
    postsynaptic potential: Brian2 integrates each step from its start and applies spikes after,
    an O(dt) difference in timing."""
    b2 = pytest.importorskip('brian2')
    b2.prefs.codegen.target = 'numpy'
    b2.start_scope()
    rng = np.random.default_rng(2)
    n = 8000
    pre = (rng.random(n) < 0.01).astype(float)
    t = np.arange(n) * DT
    V = -62.0 + 8.0 * np.sin(t / 7.0) + np.where(rng.random(n) < 0.004, 50.0, 0.0)
    V = np.convolve(V, np.ones(15) / 15, mode='same')
    ours = _drive(ClopathRule(**VC), pre, V)[-1]

    ms, mV = b2.ms, b2.mV
    b2.defaultclock.dt = DT * ms
    ns = dict(V_trace=b2.TimedArray(V * mV, dt=DT * ms), tau_minus=10 * ms, tau_plus=7 * ms,
              tau_x=15 * ms, theta_minus=-70.6 * mV, theta_plus=-45.3 * mV,
              A_LTD=14e-5 / mV, A_LTP=8e-5 / mV ** 2)
    post = b2.NeuronGroup(1, '''u = V_trace(t) : volt
                                du_minus/dt = (u - u_minus) / tau_minus : volt
                                du_plus/dt = (u - u_plus) / tau_plus : volt''',
                          method='exponential_euler', namespace=ns)
    post.u_minus = post.u_plus = -70.6 * mV
    source = b2.SpikeGeneratorGroup(1, np.zeros(int(pre.sum()), dtype=int),
                                    np.flatnonzero(pre) * DT * ms, dt=DT * ms)
    syn = b2.Synapses(source, post, '''
        w : 1
        dx_bar/dt = -x_bar / tau_x : 1 / second (clock-driven)
        dw_ltp/dt = A_LTP * x_bar * clip(u_post - theta_plus, 0 * mV, inf * mV)
                    * clip(u_plus_post - theta_minus, 0 * mV, inf * mV) : 1 (clock-driven)''',
                      on_pre='''x_bar += 1 / tau_x
                                ltd = A_LTD * clip(u_minus_post - theta_minus, 0 * mV, inf * mV)
                                w = clip(w + w_ltp - ltd, 0, 2)
                                w_ltp = 0''',
                      method='euler', namespace=ns)
    syn.connect()
    syn.w = 1.0
    b2.run(n * DT * ms, namespace=ns)
    theirs = float(syn.w[0] + syn.w_ltp[0])
    assert abs(ours - 1.0) > 1e-3
    np.testing.assert_allclose(ours - 1.0, theirs - 1.0, rtol=0.01)
