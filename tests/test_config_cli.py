"""Configs, the experiment runner and the command line."""
import json
from pathlib import Path

import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import ParameterError
from ltp_brainpy.cli import main
from ltp_brainpy.config import apply_overrides, load_config, parse_quantity

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'


def test_parse_quantity():
    assert parse_quantity('2 ms', 'x') == 2 * u.ms
    rho = parse_quantity('0.0025 uM/(ms*nS*mV)', 'rho')
    assert u.have_same_dim(rho, u.uM / (u.ms * u.nS * u.mV))
    assert float(parse_quantity('2 /s', 'g') / (1 / u.second)) == pytest.approx(2.0)
    holds = parse_quantity(['0 mV', '-70 mV'], 'hold')
    np.testing.assert_allclose(holds.to_decimal(u.mV), [0, -70])
    assert parse_quantity(True, 'b') is True and parse_quantity('pairing', 'p') == 'pairing'
    with pytest.raises(ParameterError, match='x: .* has no unit'):
        parse_quantity('2', 'x')
    with pytest.raises(ParameterError, match="unknown unit 'parsecs'"):
        parse_quantity('2 parsecs', 'x')


def test_every_config_loads_and_is_listed(capsys):
    names = sorted(p.stem for p in CONFIGS.glob('*.toml'))
    assert names == ['association', 'dbn_patterns', 'default', 'depression', 'digits',
                     'frequency', 'markram1997', 'mg_block', 'pairing', 'rules', 'stdp']
    for name in names:
        config = load_config(CONFIGS / f'{name}.toml')
        assert config.runs and config.dt == 0.1 * u.ms
    assert main(['list', '--dir', str(CONFIGS)]) == 0
    assert 'Pairing LTP' in capsys.readouterr().out


def test_overrides():
    raw = apply_overrides({'run': [{'protocol': 'pairing', 'hold': ['0 mV']}]},
                          ['theta_p=0.6 uM', 'dt="0.05 ms"', 'run.0.n_pulses=20'])
    assert raw['model']['theta_p'] == '0.6 uM' and raw['dt'] == '0.05 ms'
    assert raw['run'][0]['n_pulses'] == 20
    config = load_config(CONFIGS / 'pairing.toml', ['gbar_N=0.25 nS'])
    assert config.model['gbar_N'] == 0.25 * u.nS


@pytest.mark.parametrize('setting, message', [
    ('thetap="0.6 uM"', "model: unknown parameter 'thetap'; did you mean 'theta_p'"),
    ('run.0.holds=["0 mV"]', "run\\[0\\] \\(pairing\\): unknown parameter 'holds'; did you mean 'hold'"),
    ('theta_p=0.6', "model.theta_p: 0.6 has no unit|'theta_p' must be a quantity"),
    ('theta_p="0.6 mV"', "'theta_p' must be in uM"),
    ('run.0.frequency="0 Hz"', "'frequency' must be > 0"),
    ('run.0.n_pulses=-3', r"'n_pulses' must be an integer in \[1, 1,000,000\]"),
    ('dt="0.5 ms"', 'dt: 0.5 ms is too large for the fastest time constant'),
    ('dt="-0.1 ms"', "'dt' must be > 0"),
])
def test_bad_input_exits_2_with_one_line_and_keeps_old_results(setting, message, tmp_path,
                                                                 capsys):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'results.json').write_text('{"old": true}')
    code = main(['run', str(CONFIGS / 'pairing.toml'), '--out', str(out), '--set', setting,
                 '--set', 'run.0.n_pulses=2', '--set', 'run.1.n_pulses=2']
                if 'n_pulses' not in setting else
                ['run', str(CONFIGS / 'pairing.toml'), '--out', str(out), '--set', setting])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith('error: ') and err.count('\n') == 1
    import re
    assert re.search(message, err), err
    assert sorted(p.name for p in out.iterdir()) == ['results.json']
    assert json.loads((out / 'results.json').read_text()) == {'old': True}


def test_unknown_top_level_key_and_missing_config(tmp_path, capsys):
    bad = tmp_path / 'bad.toml'
    bad.write_text('titel = "x"\n[[run]]\nprotocol = "mg_block"\n')
    assert main(['run', str(bad)]) == 2
    assert "unknown parameter 'titel'; did you mean 'title'" in capsys.readouterr().err
    assert main(['run', str(tmp_path / 'missing.toml')]) == 2
    bad.write_text('[[run]]\nprotocol = "pairing"\n')
    assert main(['run', str(bad)]) == 2
    assert "run[0] (pairing): missing required parameter 'hold'" in capsys.readouterr().err


def test_run_writes_results_arrays_figures_and_metadata(tmp_path):
    out = tmp_path / 'dep'
    assert main(['run', str(CONFIGS / 'depression.toml'), '--out', str(out)]) == 0
    assert main(['run', str(CONFIGS / 'mg_block.toml'), '--out', str(tmp_path / 'mg')]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ['depression.npz', 'metadata.json', 'results.json',
                     'short_term_depression.png']
    meta = json.loads((out / 'metadata.json').read_text())
    assert meta['seed'] == 0 and meta['versions']['brainpy'] and meta['versions']['jax']
    assert meta['config']['run'][0]['frequencies'] == ['5 Hz', '10 Hz', '20 Hz', '50 Hz']
    results = json.loads((out / 'results.json').read_text())
    assert results['targets'][0]['passed']
    arrays = np.load(out / 'depression.npz')
    assert arrays['relative_release'].shape == (4, 20)
    assert (out / 'short_term_depression.png').read_bytes()[:4] == b'\x89PNG'
    # The same config and seed give identical results.
    again = tmp_path / 'again'
    assert main(['run', str(CONFIGS / 'depression.toml'), '--out', str(again)]) == 0
    np.testing.assert_array_equal(np.load(again / 'depression.npz')['released_mM'],
                                  arrays['released_mM'])


def test_the_rule_is_chosen_by_name_and_its_parameters_follow_it(tmp_path):
    path = tmp_path / 'rule.toml'
    text = '[model]\nrule = "{rule}"\n{extra}\n[[run]]\nprotocol = "stdp"\ndelta_t = ["10 ms"]\n'
    path.write_text(text.format(rule='calcium_control', extra='theta_p = "0.4 uM"'))
    config = load_config(path)
    assert config.model == {'rule': 'calcium_control', 'theta_p': 0.4 * u.uM}
    path.write_text(text.format(rule='calcium', extra=''))
    with pytest.raises(ParameterError, match="model: unknown rule 'calcium'; choose one of "
                                             "calcium_control"):
        load_config(path)
    path.write_text(text.format(rule='calcium_control', extra='tau_plus = "17 ms"'))
    with pytest.raises(ParameterError, match="model: unknown parameter 'tau_plus'"):
        load_config(path)
    out = tmp_path / 'out'
    assert main(['run', str(path), '--out', str(out)]) == 2
    assert not out.exists()


def test_a_run_may_override_the_model_and_choose_its_own_rule(tmp_path):
    path = tmp_path / 'runs.toml'
    path.write_text('[model]\ntheta_p = "0.4 uM"\n'
                    '[[run]]\nlabel = "a"\nprotocol = "stdp"\ndelta_t = ["10 ms"]\n'
                    '[[run]]\nlabel = "b"\nprotocol = "stdp"\ndelta_t = ["10 ms"]\n'
                    '[run.model]\ntheta_p = "0.5 uM"\n')
    a, b = load_config(path).runs
    assert a.model == {'theta_p': 0.4 * u.uM} and b.model == {'theta_p': 0.5 * u.uM}
    path.write_text('[model]\ntheta_p = "0.4 uM"\n'
                    '[[run]]\nprotocol = "stdp"\ndelta_t = ["10 ms"]\n'
                    '[run.model]\nrule = "triplet"\n')
    with pytest.raises(ParameterError, match=r"run\[0\].model: unknown parameter 'theta_p'"):
        load_config(path)


def test_bundled_configs_are_found_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no configs/ here: the installed ones are used
    assert main(['list']) == 0
    listed = capsys.readouterr().out
    assert 'default' in listed and 'rules' in listed
    assert main(['run', 'stpd', '--out', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert "no config named 'stpd'" in err and "did you mean 'stdp'?" in err
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('assignment, message', [
    ('dt="0.1 ms/0"', "dt: cannot read the unit 'ms/0'"),
    ('seed=4294967296', 'seed: must be an integer in [0, 2**32)'),
    ('run.0.label=""', 'run[0].label: must be a non-empty name'),
    ('run.0.label="sub/stdp"', 'run[0].label: must be a non-empty name'),
    ('run.0.label="../escaped"', 'run[0].label: must be a non-empty name'),
    ('run.0.label=7', 'run[0].label: must be a non-empty name'),
    ('title=5', 'title: must be a string'),
    ('run.0.frequency="nan Hz"', "'nan Hz' is not a number"),
    ('run.0.frequency="inf Hz"', "'frequency' must be finite"),
    ('run.0=5', '--set run.0: set a key of a table'),
    ('title.x=1', '--set title.x: set a key of a table'),
    ('theta_d="0.5 uM"', 'model: CalciumControlRule: theta_d must be below theta_p'),
])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(tmp_path, capsys, assignment, message):
    out = tmp_path / 'out'
    assert main(['run', str(CONFIGS / 'stdp.toml'), '--out', str(out), '--set', assignment]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count('\n') == 1
    assert not out.exists()


def test_results_follow_the_umask_and_a_file_as_out_is_refused_before_running(tmp_path, capsys):
    import os
    target = tmp_path / 'a_file'
    target.write_text('keep me')
    assert main(['run', str(CONFIGS / 'stdp.toml'), '--out', str(target)]) == 2
    assert 'exists and is not a folder' in capsys.readouterr().err
    assert target.read_text() == 'keep me'
    old = os.umask(0o022)
    try:
        out = tmp_path / 'out'
        assert main(['run', str(CONFIGS / 'stdp.toml'), '--out', str(out),
                     '--set', 'run.0.n_pairs=2', '--set', 'tau_w="inf ms"']) == 0
    finally:
        os.umask(old)
    assert (out / 'results.json').stat().st_mode & 0o777 == 0o644
    assert 'Running for' not in capsys.readouterr().err  # no progress bars off a terminal


@pytest.mark.parametrize('config, assignment, message', [
    ('frequency', 'run.0.frequencies=["30000 Hz"]', "'frequencies' must amount to at least one"),
    ('frequency', 'run.0.n_pulses=99999999999999999999', "'n_pulses' must be an integer in"),
    ('stdp', 'run.0.n_pairs=1000000000', "'n_pairs' must be an integer in"),
])
def test_absurd_sizes_are_refused_in_one_line(tmp_path, capsys, config, assignment, message):
    out = tmp_path / 'out'
    assert main(['run', str(CONFIGS / f'{config}.toml'), '--out', str(out),
                 '--set', assignment]) == 2
    assert message in capsys.readouterr().err
