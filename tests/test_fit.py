"""Fitting: trains on the multi-rate grid, gradients, parameter recovery, the CLI and presets."""
import json
from pathlib import Path

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import ParameterError, trains
from ltp_brainpy.cli import main
from ltp_brainpy.datasets import load_dataset
from ltp_brainpy.fit import DatasetModel, fit

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
HEADER = 'id,frequency_Hz,delta_t_ms,n_pairs,n_trains,train_interval_s,change,sem,n\n'
#: A small STDP-train data set: frequencies and both signs of delta t, 2 trains of 5 pairs.
ROWS = [(2, 10), (10, 10), (20, 10), (40, 10), (10, -10), (20, -10)]


def small_dataset(tmp_path, change=None, sem=0.03):
    change = [0.0] * len(ROWS) if change is None else change
    path = tmp_path / 'small.csv'
    path.write_text(HEADER + ''.join(f'r{k},{f},{d},5,2,3,{c},{sem},4\n'
                                     for k, ((f, d), c) in enumerate(zip(ROWS, change))))
    return load_dataset(path)


@pytest.fixture
def float64():
    brainstate.environ.set(precision=64)
    yield
    brainstate.environ.set(precision=32)
    jax.config.update('jax_enable_x64', False)


def test_trains_on_the_multirate_grid_match_the_uniform_grid():
    deltas = np.array([-20.0, -10.0, 5.0, 10.0, 50.0]) * u.ms
    common = dict(frequency=10 * u.Hz, n_pairs=3, n_trains=2, train_interval=2 * u.second)
    changes = {}
    for resolution in (0.0, None):
        extra = {} if resolution is None else {'resolution': resolution}
        plan = trains.plan_pairs(deltas, **common, **extra)
        w, w0 = jax.jit(lambda: trains.simulate_pairs(plan))()
        changes[resolution] = np.asarray(w[:, -1] / w0) - 1
        if resolution is None:
            assert plan.sizes.shape[1] < plan.end.max() / 5  # > 5x fewer iterations
    np.testing.assert_allclose(changes[None], changes[0.0], atol=1.5e-3)
    assert changes[0.0][3] > 0.05 and np.ptp(changes[0.0]) > 0.1  # plasticity, not zeros


def test_gradient_of_the_loss_matches_finite_differences(float64, tmp_path):
    data = small_dataset(tmp_path, change=[0.0, 0.2, 0.3, 0.4, -0.2, -0.1])
    model = DatasetModel(data, fixed={'kappa': 0.05 * u.uM})
    target, sem = jnp.asarray(data.change), jnp.asarray(data.sem)

    def loss(x):
        change = model.predict(theta_p=x[0] * u.uM, tau_ca=x[1] * u.ms, gamma_p=x[2] / u.second)
        return jnp.sum(((change - target) / sem) ** 2)

    x = jnp.array([0.6, 30.0, 3.0])
    grad = np.asarray(jax.jit(jax.grad(loss))(x))
    f = jax.jit(loss)
    for i in range(3):
        h = 1e-4 * float(x[i])
        e = jnp.zeros(3).at[i].set(h)
        numeric = (float(f(x + e)) - float(f(x - e))) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-2), (i, grad[i], numeric)


def test_fit_recovers_known_parameters(tmp_path):
    truth = {'theta_p': 0.9 * u.uM, 'tau_ca': 40.0 * u.ms, 'gamma_p': 20.0 / u.second}
    fixed = {'kappa': 0.03 * u.uM, 'theta_d': 0.6 * u.uM, 'gamma_d': 10 / u.second,
             'tau_ca_post': 10 * u.ms, 'A_ca': 0.37 * u.uM}
    data = small_dataset(tmp_path)
    clean = np.asarray(jax.jit(lambda: DatasetModel(data, fixed).predict(**truth))())
    assert np.ptp(clean) > 0.3  # the synthetic rows are informative
    noisy = clean + np.random.default_rng(1).normal(0.0, 0.03, len(clean))
    start = {k: v * (1.3 if k != 'tau_ca' else 0.7) for k, v in truth.items()}
    result = fit(data.with_changes(noisy), list(truth), fix=fixed, start=start, n_starts=1,
                 iterations=20, polish=30)
    for name, true in truth.items():
        error = abs(float((result.parameters[name] - true) / true))
        sigma = float(result.uncertainty[name] / true)
        assert error <= max(0.05, 2 * sigma), (name, result.parameters[name], sigma)
    assert result.reduced_chi2 < 3
    assert all(abs(r['residual']) < 3 for r in result.rows)


def test_fit_rejects_bad_settings(tmp_path):
    data = small_dataset(tmp_path)
    with pytest.raises(ParameterError, match="unknown parameter 'thetap'; did you mean"):
        fit(data, ['thetap'])
    with pytest.raises(ParameterError, match="'V_th' sets the timing"):
        fit(data, ['V_th'])
    with pytest.raises(ParameterError, match="'E_Ca' has no default bounds"):
        fit(data, ['E_Ca'])
    with pytest.raises(ParameterError, match="bounds of 'theta_p' must have lower < upper"):
        fit(data, {'theta_p': (1 * u.uM, 0.5 * u.uM)})
    with pytest.raises(ParameterError, match="'theta_p lower bound' must be in uM"):
        fit(data, {'theta_p': (1 * u.mV, 2 * u.mV)})
    with pytest.raises(ParameterError, match="'theta_p' is both free and fixed"):
        fit(data, ['theta_p'], fix={'theta_p': 0.5 * u.uM})
    with pytest.raises(ParameterError, match="'n_starts' must be an integer >= 1"):
        fit(data, ['theta_p'], n_starts=0)


def test_fit_cli_writes_the_report_and_its_preset_runs(tmp_path, capsys):
    data = small_dataset(tmp_path, change=[0.0, 0.2, 0.3, 0.4, -0.2, -0.1])
    out = tmp_path / 'fit'
    assert main(['fit', str(tmp_path / 'small.csv'), '--params', 'theta_p,tau_ca',
                 '--fix', 'kappa=0.03 uM', '--starts', '2', '--iterations', '2',
                 '--polish', '2', '--out', str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        'convergence.png', 'data.csv', 'fit.json', 'fit.png', 'metadata.json', 'preset.toml']
    report = json.loads((out / 'fit.json').read_text())
    assert set(report['parameters']) == {'theta_p', 'tau_ca'}
    assert report['fixed'] == {'kappa': '0.03 uM'}
    assert [r['id'] for r in report['rows']] == data.ids
    assert np.asarray(report['history']['adam_chi2']).shape == (2, 2)
    chi2 = sum(r['residual'] ** 2 for r in report['rows'])
    assert report['chi2'] == pytest.approx(chi2, rel=1e-5)
    assert report['reduced_chi2'] == pytest.approx(chi2 / (len(ROWS) - 2), rel=1e-5)
    meta = json.loads((out / 'metadata.json').read_text())
    assert meta['settings']['seed'] == 0 and meta['versions']['jax']
    # The preset reproduces the fitted rows through `ltp-brainpy run`.
    config = tmp_path / 'rows.toml'
    config.write_text('[[run]]\nlabel = "r1"\nprotocol = "stdp"\ndelta_t = ["10 ms", "-10 ms"]\n'
                      'frequency = "10 Hz"\nn_pairs = 5\nn_bursts = 2\n'
                      'burst_interval = "3 s"\n')
    assert main(['run', str(config), '--preset', str(out / 'preset.toml'),
                 '--out', str(tmp_path / 'run')]) == 0
    rerun = json.loads((tmp_path / 'run' / 'results.json').read_text())
    model = {r['id']: r['model'] for r in report['rows']}
    np.testing.assert_allclose(rerun['runs']['r1']['weight_change'],
                               [model['r1'], model['r4']], atol=2e-3)


@pytest.mark.parametrize('args, message', [
    (['nope.csv'], "data: no such file 'nope.csv'"),
    (['markram1997', '--params', 'theta_p,thetad'], "unknown parameter 'thetad'"),
    (['markram1997', '--fix', 'theta_p=0.5'], "has no unit"),
    (['markram1997', '--fix', 'theta_p=0.5 mV'], "'theta_p' must be in uM"),
    (['markram1997', '--preset', 'no_such_preset'], "no preset named 'no_such_preset'"),
    (['markram1997', '--starts', '0'], "'n_starts' must be an integer >= 1"),
])
def test_fit_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'fit.json').write_text('{"old": true}')
    assert main(['fit'] + args + ['--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1 and message in err, err
    assert sorted(p.name for p in out.iterdir()) == ['fit.json']


def test_bundled_cortex_preset_reproduces_markram_1997(tmp_path):
    """The shipped layer-5 preset meets every published row within 2 SEM."""
    out = tmp_path / 'markram'
    assert main(['run', 'markram1997', '--dir', str(CONFIGS), '--out', str(out)]) == 0
    run = json.loads((out / 'results.json').read_text())['runs']['markram1997']
    assert run['rows_within_2_sem'] == 8 and run['chi2'] < 8 * 1.5
    data = load_dataset('markram1997')
    assert np.all(np.abs(np.asarray(run['weight_change']) - data.change) <= 2 * data.sem)
    assert (out / 'dataset.png').read_bytes()[:4] == b'\x89PNG'
    meta = json.loads((out / 'metadata.json').read_text())
    assert meta['config']['preset'] == 'cortex_l5'


def test_rows_of_every_protocol_match_the_protocol_functions(tmp_path):
    from ltp_brainpy import protocols
    path = tmp_path / 'mixed.csv'
    path.write_text('id,protocol,frequency_Hz,delta_t_ms,n_pairs,n_trains,train_interval_s,'
                    'hold_mV,n_pulses,n_inputs,change,sem,n\n'
                    'a,,1,10,20,1,20,,,,0.3,0.1,3\n'
                    'b,pairing,2,,,,,0,20,,0.5,0.2,\n'
                    'c,frequency,1,,,,,,30,28,-0.2,0.05,5\n'
                    'd,pairing,2,,,,,-60,20,,-0.1,0.2,\n'
                    'e,frequency,50,,,,,,30,28,0.2,0.05,5\n')
    model = np.asarray(jax.jit(DatasetModel(load_dataset(path)).predict)())
    expected = np.concatenate([
        protocols.stdp(np.array([10.0]) * u.ms, n_pairs=20).weight_change,
        protocols.pairing(np.array([0.0]) * u.mV, n_pulses=20).weight_change,
        protocols.frequency_response(np.array([1.0]) * u.Hz, n_pulses=30).weight_change,
        protocols.pairing(np.array([-60.0]) * u.mV, n_pulses=20).weight_change,
        protocols.frequency_response(np.array([50.0]) * u.Hz, n_pulses=30).weight_change])
    np.testing.assert_allclose(model, expected, atol=1e-5)
    assert model[1] > 0.2 and model[2] < 0 < model[4]  # pairing LTP, LTD at 1 Hz, LTP at 50


def test_gradient_through_a_spiking_cell_matches_finite_differences(float64, tmp_path):
    """Frequency rows drive a free neuron to spike: the fit's gradient stays exact there."""
    path = tmp_path / 'freq.csv'
    path.write_text('id,protocol,frequency_Hz,n_pulses,n_inputs,change,sem\n'
                    'slow,frequency,1,5,28,-0.1,0.05\nfast,frequency,50,20,40,0.2,0.05\n')
    data = load_dataset(path)
    model = DatasetModel(data)
    target, sem = jnp.asarray(data.change), jnp.asarray(data.sem)

    def loss(x):
        change = model.predict(theta_d=x[0] * u.uM, theta_p=x[1] * u.uM)
        return jnp.sum(((change - target) / sem) ** 2)

    x = jnp.array([0.246, 0.363])
    grad = np.asarray(jax.jit(jax.grad(loss))(x))
    f = jax.jit(loss)
    for i in range(2):
        h = 1e-5 * float(x[i])
        e = jnp.zeros(2).at[i].set(h)
        numeric = (float(f(x + e)) - float(f(x - e))) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-2, abs=1e-3), (i, grad[i], numeric)
