"""GlutamateSynapse passes brainpy's own BioNMDA tests with the class substituted."""
import importlib.util
import unittest

import brainstate
import jax.numpy as jnp
import pytest
import saiunit as u

from ltp_brainpy import GlutamateSynapse

BIONMDA_TESTS = ('test_bionmda_synapse', 'test_bionmda_two_state_dynamics')


def _brainpy_synapse_tests():
    """brainpy's shipped ``synapse_test`` module (brainpy 2.8), or None where it is not shipped."""
    for name in ('brainpy_state._brainpy.synapse_test', 'brainpy.state._brainpy.synapse_test'):
        try:
            if importlib.util.find_spec(name) is not None:
                return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    return None


def test_brainpys_own_bionmda_tests_pass_with_glutamate_synapse(monkeypatch):
    module = _brainpy_synapse_tests()
    if module is None:
        pytest.skip('this brainpy does not ship its synapse tests')
    monkeypatch.setattr(module, 'BioNMDA', GlutamateSynapse)
    suite = unittest.TestSuite(module.TestSynapse(name) for name in BIONMDA_TESTS)
    with brainstate.environ.context(dt=0.1 * u.ms):
        result = unittest.TextTestRunner(verbosity=0).run(suite)
    assert result.testsRun == 2
    assert not result.failures and not result.errors, result.failures + result.errors


def test_the_bionmda_contract_on_any_brainpy():
    """The same assertions as brainpy's tests, kept here for versions that do not ship them."""
    alpha1, beta1 = 2.0 / u.ms, 0.01 / u.ms
    alpha2, beta2 = 1.0 / (u.ms * u.mM), 0.5 / u.ms
    T, T_dur = 1.0 * u.mM, 0.5 * u.ms
    synapse = GlutamateSynapse(10, alpha1=alpha1, beta1=beta1, alpha2=alpha2, beta2=beta2,
                               T=T, T_dur=T_dur)
    assert synapse.in_size == (10,) and synapse.out_size == (10,)
    assert synapse.alpha1 == alpha1 and synapse.beta1 == beta1
    assert synapse.alpha2 == alpha2 and synapse.beta2 == beta2
    assert synapse.T == T and synapse.T_duration == T_dur
    synapse.init_state(5)
    assert jnp.allclose(synapse.g.value.to_decimal(u.mS), 0.0)
    assert jnp.allclose(synapse.x.value, 0.0)
    call = brainstate.transform.jit(synapse)
    with brainstate.environ.context(dt=0.1 * u.ms, t=0. * u.ms):
        spike = jnp.zeros((5, 10), dtype=bool).at[0, 0].set(True)
        out = call(spike)
        assert out.shape == (5, 10) and synapse.x.value.shape == (5, 10)
        outputs = [out] + [call(jnp.zeros((5, 10), dtype=bool)) for _ in range(10)]
    assert synapse.x.value[0, 0] > 0 and synapse.g.value[0, 0] > 0 * u.mS
    assert jnp.all(outputs[-1] >= 0 * u.mS) and outputs[-1][0, 0] > outputs[1][0, 0]
    assert float(u.math.max(outputs[-1][1:]).to_decimal(u.mS)) == 0.0  # only lane 0 spiked
