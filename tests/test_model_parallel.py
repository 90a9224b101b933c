"""A network split over devices by its postsynaptic neurons gives the results of one device.

Each device count runs in a fresh process, since JAX fixes its device count when it starts
(``XLA_FLAGS=--xla_force_host_platform_device_count=N``). In float64: a dense and a sparse
:class:`~ltp_brainpy.LTPProjection` driven by Poisson spikes through ``simulate.run``, and a
small :class:`~ltp_brainpy.LayeredNetwork` (feedback, lateral inhibition, adaptive thresholds;
layers of 6, 12 and 5 units, so that some populations do not divide evenly and stay
replicated) through ``train`` and ``evaluate``; unsplit on one device, split by
:func:`ltp_brainpy.devices.split_by_postsynaptic` over 2 and 4. The workers also report how the
states are laid out after the runs, and the 2-device one whether the compiled step is
partitioned.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

WORKER = textwrap.dedent('''
    import json, sys
    import brainstate
    import jax
    import jax.numpy as jnp
    import numpy as np
    import saiunit as u

    brainstate.environ.set(precision=64)
    from ltp_brainpy import (FixedInDegree, GlutamateSynapse, LayeredNetwork, LTPNeuron,
                             LTPProjection, devices, simulate)

    out, n_devices = sys.argv[1], int(sys.argv[2])
    assert len(jax.devices()) == n_devices, jax.devices()
    results, layouts = {}, {}

    def split(module):  # one device: the unsplit model, the reference
        return devices.split_by_postsynaptic(module) if n_devices > 1 else module

    def values(x):
        return np.asarray(u.get_mantissa(x))

    def spec(state):
        sharding = u.get_mantissa(state.value).sharding
        return list(sharding.spec) if n_devices > 1 else str(sharding)

    def projection(label, conn, sparse):
        syn, neuron = GlutamateSynapse(30), LTPNeuron(8)
        proj = LTPProjection(syn, neuron, conn=conn, seed=1, sparse=sparse, current_scale=4.0)
        brainstate.nn.init_all_states(proj)
        split(proj)
        spikes = jnp.asarray(np.random.default_rng(0).random((300, 30)) < 0.05)

        def step(fired):
            proj.update(fired)
            neuron.update()
            return neuron.V.value

        run = brainstate.transform.jit(lambda s: simulate.run(step, 300, s))
        results[f'{label}_V'] = values(run(spikes))
        results[f'{label}_w'], results[f'{label}_ca'] = values(proj.w.value), values(proj.ca.value)
        layouts[label] = dict(w=spec(proj.w), ca=spec(proj.ca), V=spec(neuron.V), g=spec(syn.g))
        if label == 'dense' and n_devices == 2:
            hlo = run.compile(spikes).as_text()
            layouts['partitioned'] = ('f64[30,4]' in hlo and
                                      any(op in hlo for op in ('all-gather', 'all-reduce')))

    projection('dense', None, False)
    projection('sparse', FixedInDegree(10), True)

    net = split(LayeredNetwork(
        [6, 12, 5], feedback=True, lateral_inhibition=20 * u.nS, fan_in=80.0,
        feedback_fan_in=40.0, threshold_increment=0.5 * u.mV, seed=0))
    patterns = np.array([[1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0.5, 0.5]])
    trained = net.train(patterns, n_cycles=1, presentation=60 * u.ms)
    evaluated = net.evaluate(patterns, presentation=60 * u.ms)
    for l, (a, b) in enumerate(zip(trained.rates, evaluated.rates)):
        results[f'train_rate{l}'], results[f'evaluate_rate{l}'] = values(a), values(b)
    for name, w in net.weights().items():
        results[f'w_{name}'] = values(w)
        results[f'dw_{name}'] = values(trained.weight_change[name])
    results['theta'] = values(net.thresholds[0].theta.value)
    layouts['network'] = dict(
        w={name: spec(p.w) for name, p in net.projections.items()},
        V=[spec(layer.V) for layer in net.layers], theta=spec(net.thresholds[0].theta),
        inhibition=[spec(i.activity) for i in net.inhibition])
    np.savez(out, **results)
    print(json.dumps(layouts))
''')

# PartitionSpecs as lists: the last axis (dense synapses), the first (neurons, sparse rows), none
SPLIT, NEURONS, ROWS, WHOLE = [None, 'neurons'], ['neurons'], ['neurons'], []


def _start(tmp_path, n_devices):
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    env = dict(os.environ, JAX_PLATFORMS='cpu',
               XLA_FLAGS=(os.environ.get('XLA_FLAGS', '') +
                          f' --xla_force_host_platform_device_count={n_devices}').strip())
    env.pop('LTP_BRAINPY_DEVICES', None)
    out = tmp_path / f'split_{n_devices}.npz'
    process = subprocess.Popen([sys.executable, str(script), str(out), str(n_devices)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, out


def _finish(process, out):
    log, errors = process.communicate(timeout=300)
    assert process.returncode == 0, errors[-3000:]
    return dict(np.load(out)), json.loads(log.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('model_parallel')
    started = {n: _start(tmp_path, n) for n in (1, 2, 4)}
    return {n: _finish(*run) for n, run in started.items()}


@pytest.mark.parametrize('n_devices', [2, 4])
def test_split_runs_give_the_results_of_one_device(runs, n_devices):
    one, split = runs[1][0], runs[n_devices][0]
    assert set(split) == set(one)
    assert one['train_rate1'].sum() > 0 and one['train_rate2'].sum() > 0  # every layer fires
    assert one['evaluate_rate2'].sum() > 0 and np.abs(one['dw_up_01']).max() > 0
    for key in one:
        np.testing.assert_allclose(split[key], one[key], rtol=1e-12, atol=1e-300,
                                   err_msg=f'{n_devices} devices: {key}')


def test_states_stay_split_over_two_devices_through_compiled_loops(runs):
    layouts = runs[2][1]
    assert layouts['dense'] == dict(w=SPLIT, ca=SPLIT, V=NEURONS, g=NEURONS)
    assert layouts['sparse'] == dict(w=ROWS, ca=ROWS, V=NEURONS, g=NEURONS)
    assert layouts['partitioned']  # per-device blocks of w, and collectives between them
    network = layouts['network']
    # layers of 6, 12 and 5: the layer of 5 and the projection into it stay replicated
    assert network['w'] == dict(up_01=SPLIT, up_12=WHOLE, down_01=SPLIT, down_12=SPLIT)
    assert network['V'] == [NEURONS, NEURONS, WHOLE]
    assert network['theta'] == NEURONS and network['inhibition'] == [NEURONS, WHOLE]


def test_four_devices_split_only_populations_that_divide_evenly(runs):
    network = runs[4][1]['network']
    assert network['w'] == dict(up_01=SPLIT, up_12=WHOLE, down_01=WHOLE, down_12=SPLIT)
    assert network['V'] == [WHOLE, NEURONS, WHOLE]


def test_bad_arguments_are_refused_by_name():
    from ltp_brainpy import GlutamateSynapse, LTPNeuron, LTPProjection, ParameterError
    from ltp_brainpy.devices import split_by_postsynaptic

    with pytest.raises(ParameterError, match="'module' must be a brainstate module"):
        split_by_postsynaptic([1, 2])
    proj = LTPProjection(GlutamateSynapse(4), LTPNeuron(2))
    with pytest.raises(ParameterError, match="'module' has no states"):
        split_by_postsynaptic(proj)
    with pytest.raises(ParameterError, match="'devices' must be a non-empty sequence"):
        split_by_postsynaptic(proj, devices=[])
