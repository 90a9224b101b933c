"""The drop-in contract: stock neurons and receptors, sparse storage, resets, user rules."""
import brainpy
import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import (CalciumControlRule, Dendrite, FixedInDegree, GlutamateSynapse,
                         LTPNeuron, LTPProjection, ParameterError, PlasticityRule, StatefulRule,
                         protocols, simulate)


def _lif_ref(n):
    """A stock brainpy.state neuron with the passive membrane of LTPNeuron (C 200 pF, g_L 10 nS)."""
    return brainpy.state.LIFRef(n, R=0.1 * u.Gohm, tau=20 * u.ms, tau_ref=4 * u.ms,
                                V_th=-50 * u.mV, V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                                V_initializer=braintools.init.Constant(-65 * u.mV))


def test_stdp_onto_a_stock_lif_neuron():
    """The STDP protocol's own code, onto brainpy.state.LIFRef with an attached Dendrite."""
    result = protocols.stdp([10, -10] * u.ms, neuron=_lif_ref)
    ltp, ltd = np.asarray(result.weight_change)
    assert ltp >= 0.10
    assert ltd < -0.02


def test_a_dendrite_follows_the_stock_neurons_spikes():
    post = _lif_ref(2)
    proj = LTPProjection(GlutamateSynapse(3), post)
    assert isinstance(proj.dendrite, Dendrite)
    other = LTPProjection(GlutamateSynapse(3), post)
    assert other.dendrite is proj.dendrite  # attached once, shared
    brainstate.nn.init_all_states([post, proj, other])
    current = jnp.zeros((300, 2)).at[100:105, 0].set(10.0) * u.nA

    def step(I):
        proj.update(jnp.zeros(3, dtype=bool))
        other.update(jnp.zeros(3, dtype=bool))
        spike = post(I)
        return dict(spike=spike, bpap=proj.dendrite.depolarization(), ca=proj.dendrite.calcium())

    out = simulate.run(step, 300, current)
    spikes = np.asarray(out['spike'])
    k = int(np.flatnonzero(spikes[:, 0] > 0)[0])
    assert spikes[:, 1].sum() == 0
    bpap = out['bpap'].to_decimal(u.mV)[:, 0]
    assert bpap[k] == pytest.approx(96.7 + 21.7, rel=1e-5)  # both parts added on the spike step
    assert out['ca'].to_decimal(u.uM)[k, 0] == pytest.approx(0.23, rel=1e-5)
    assert float(out['bpap'].to_decimal(u.mV)[:, 1].max()) == 0.0


def _run(proj, post, spikes, current):
    def step(s, I):
        proj.update(s)
        post(I)
        return dict(w=proj.weight_matrix(), ca=proj.layout.to_matrix(proj.ca.value),
                    V=post.V.value)
    return simulate.run(step, spikes.shape[0], spikes, current)


def _random_drive(n_steps, n_pre, n_post, seed):
    rng = np.random.default_rng(seed)
    spikes = jnp.asarray(rng.random((n_steps, n_pre)) < 0.01)
    current = jnp.asarray(rng.random((n_steps, n_post)) < 0.005)[...] * 3.0 * u.nA
    return spikes, current


def test_dense_and_sparse_storage_give_the_same_result():
    with brainstate.environ.context(precision=64):
        n_pre, n_post = 30, 20
        mask = np.random.default_rng(1).random((n_pre, n_post)) < 0.3
        w_init = np.random.default_rng(2).uniform(0.2, 0.8, (n_pre, n_post)) * u.nS
        spikes, current = _random_drive(3000, n_pre, n_post, 3)
        out = {}
        for sparse in (False, True):
            post = LTPNeuron(n_post)
            proj = LTPProjection(GlutamateSynapse(n_pre), post, conn=mask, w_init=w_init,
                                 sparse=sparse)
            brainstate.nn.init_all_states([post, proj])
            out[sparse] = _run(proj, post, spikes, current)
            if sparse:
                assert proj.w.value.shape == (n_post, mask.sum(axis=0).max())
                np.testing.assert_array_equal(proj.mask, mask)
        w = {k: np.asarray(v['w'].to_decimal(u.nS)) for k, v in out.items()}
        assert np.abs(w[False][-1] - w[False][0]).max() > 1e-3  # the weights did learn
        for key in ('w', 'ca', 'V'):
            a, b = (np.asarray(u.get_mantissa(out[s][key])) for s in (False, True))
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_fixed_in_degree_and_sparse_probability_match_the_dense_draw():
    proj = LTPProjection(GlutamateSynapse(50), LTPNeuron(40), conn=FixedInDegree(7), seed=4,
                         sparse=True)
    np.testing.assert_array_equal(proj.mask.sum(axis=0), 7)
    proj.init_state()
    assert proj.layout.n_synapses == 280 and proj.w.value.shape == (40, 7)
    dense = LTPProjection(GlutamateSynapse(50), LTPNeuron(40), conn=0.1, seed=5)
    sparse = LTPProjection(GlutamateSynapse(50), LTPNeuron(40), conn=0.1, seed=5, sparse=True)
    np.testing.assert_array_equal(dense.mask, sparse.mask)
    with pytest.raises(ParameterError, match="'conn' asks for in-degree 60 from 50"):
        LTPProjection(GlutamateSynapse(50), LTPNeuron(4), conn=FixedInDegree(60))


def _trained_pathway():
    syn, post = GlutamateSynapse(4), LTPNeuron(2)
    proj = LTPProjection(syn, post)
    brainstate.nn.init_all_states([post, proj])
    post.clamp(0 * u.mV)
    spikes = jnp.broadcast_to((jnp.arange(4000) % 500 == 10)[:, None], (4000, 4))
    simulate.run(lambda s: (proj.update(s), post())[0], 4000, spikes)
    return syn, post, proj


def test_reset_keeps_what_was_learned_and_reset_weights_restores_it():
    syn, post, proj = _trained_pathway()
    learned = np.asarray(proj.w.value.to_decimal(u.nS)).copy()
    assert learned.min() > 0.55  # clamped at 0 mV: LTP
    brainstate.nn.reset_all_states([post, proj])
    np.testing.assert_array_equal(np.asarray(proj.w.value.to_decimal(u.nS)), learned)
    assert float(u.math.max(proj.ca.value).to_decimal(u.uM)) == 0.0
    assert float(u.math.max(syn.g.value).to_decimal(u.mS)) == 0.0
    proj.reset_weights()
    np.testing.assert_array_equal(np.asarray(proj.w.value.to_decimal(u.nS)), 0.5)


def test_stock_bionmda_and_ampa_as_the_presynaptic_receptors():
    nmda, ampa, post = brainpy.state.BioNMDA(3), brainpy.state.AMPA(3), LTPNeuron(1)
    proj = LTPProjection(nmda, post, ampa=ampa)
    brainstate.nn.init_all_states([post, proj])
    post.clamp(0 * u.mV)
    spikes = jnp.broadcast_to((jnp.arange(5000) % 1000 == 10)[:, None], (5000, 3))
    out = simulate.run(lambda s: (proj.update(s), post(), proj.w.value)[-1], 5000, spikes)
    assert float(u.math.max(out[-1]).to_decimal(u.nS)) > 0.5  # NMDA calcium, LTP
    with pytest.raises(ParameterError, match="'ampa' must be a brainpy.state.AMPA of size"):
        LTPProjection(brainpy.state.BioNMDA(3), LTPNeuron(1))


def test_output_into_a_neuron_with_another_input_unit():
    izh = brainpy.state.Izhikevich(2)
    with pytest.raises(ParameterError, match="'current_scale' delivers pA but Izhikevich takes"):
        LTPProjection(GlutamateSynapse(3), izh)
    spikes = jnp.ones((200, 3), dtype=bool) & (jnp.arange(200) % 50 == 0)[:, None]
    V = []
    for drive in (spikes, jnp.zeros_like(spikes)):
        izh = brainpy.state.Izhikevich(2)
        proj = LTPProjection(GlutamateSynapse(3), izh, current_scale=1 / (100 * u.pF))
        brainstate.nn.init_all_states([izh, proj])
        V.append(np.asarray(simulate.run(lambda s: (proj.update(s), izh(), izh.V.value)[-1],
                                         200, drive).to_decimal(u.mV)))
    assert np.isfinite(V[0]).all() and (V[0] - V[1]).max() > 0.2  # the EPSPs depolarize


class EligibilityRule(StatefulRule):
    """A user rule with its own state: calcium above theta tags the synapse; a presynaptic
    spike converts the tag into potentiation."""

    def __init__(self, theta=0.3 * u.uM, tau=50 * u.ms, eta=0.005 * u.nS,
                 w_max=1.0 * u.nS):
        super().__init__()
        self.theta, self.tau, self.eta = theta, tau, eta
        self.w_min, self.w_max = 0.0 * u.nS, w_max

    def init_state(self, batch_size=None, **kwargs):
        shape = ((batch_size,) if batch_size else ()) + self.layout.shape
        self.tag = brainstate.HiddenState(jnp.zeros(shape))

    def reset_state(self, batch_size=None, **kwargs):
        self.tag.value = jnp.zeros_like(self.tag.value)

    def update(self, w, signals):
        above = jax.nn.sigmoid(u.maybe_decimal((signals.calcium - self.theta) / (0.02 * u.uM)))
        decay = u.math.exp(-signals.dt / self.tau)
        self.tag.value = self.tag.value * decay + (1 - decay) * above
        dw = self.eta * self.tag.value * signals.layout.pre(signals.pre_spike)
        return u.math.clip(w + dw, self.w_min, self.w_max)


def _user_rule_run(theta, batch_size=None):
    syn, post = GlutamateSynapse(2), LTPNeuron(1)
    proj = LTPProjection(syn, post, rule=EligibilityRule(theta=theta * u.uM))
    brainstate.nn.init_all_states([post, proj], batch_size=batch_size)
    post.clamp(-20 * u.mV)
    spikes = jnp.broadcast_to((jnp.arange(3000) % 200 == 5)[:, None], (3000, 2))
    if batch_size:
        spikes = jnp.broadcast_to(spikes[:, None], (3000, batch_size, 2))
    simulate.run(lambda s: proj.update(s), 3000, spikes)
    return proj.w.value.to_decimal(u.nS).mean()


def test_a_user_rule_with_its_own_state_trains_batches_and_differentiates():
    rule = EligibilityRule()
    assert isinstance(rule, PlasticityRule) and isinstance(CalciumControlRule(), PlasticityRule)
    assert not isinstance(object(), PlasticityRule)
    low, high = float(_user_rule_run(0.05)), float(_user_rule_run(5.0))
    assert low > 0.55 and high == pytest.approx(0.5, abs=1e-3)
    batched = jax.vmap(lambda th: _user_rule_run(th))(jnp.array([0.05, 5.0]))
    np.testing.assert_allclose(np.asarray(batched), [low, high], rtol=1e-5)
    grad = float(jax.grad(lambda th: _user_rule_run(th))(1.0))
    h = 0.05
    fd = (float(_user_rule_run(1.0 + h)) - float(_user_rule_run(1.0 - h))) / (2 * h)
    assert grad < 0 and abs(grad - fd) / abs(fd) < 0.02
    proj = LTPProjection(GlutamateSynapse(2), LTPNeuron(1), rule=rule)
    with pytest.raises(ParameterError, match='one instance per projection'):
        LTPProjection(GlutamateSynapse(2), LTPNeuron(1), rule=rule)
    with pytest.raises(ParameterError, match="'rule' must have w_min, w_max and update"):
        LTPProjection(GlutamateSynapse(2), LTPNeuron(1), rule=object())
    assert proj.rule is rule


def test_a_hodgkin_huxley_neuron_back_propagates_its_spike_to_the_spines():
    post = brainpy.state.HH(2)
    proj = LTPProjection(GlutamateSynapse(3), post)
    brainstate.nn.init_all_states([post, proj])
    current = jnp.zeros((3000, 2)).at[1000:1020, 0].set(20.0) * u.uA
    out = simulate.run(lambda I: (proj.update(jnp.zeros(3, dtype=bool)), post(I),
                                  proj.dendrite.depolarization())[-1], 3000, current)
    peak = np.asarray(out.to_decimal(u.mV)).max(axis=0)
    np.testing.assert_allclose(peak, [96.7 + 21.7, 0.0], rtol=1e-5)  # one spike, one bpAP
