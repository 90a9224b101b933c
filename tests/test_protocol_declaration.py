"""A protocol declared outside the package (here, in the test) runs from a config like the
bundled ones: validated at load from its schema, run by the CLI, its figure drawn and its
target evaluated into results.json -- with no package file edited."""
import json

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import saiunit as u  # noqa: E402

from ltp_brainpy import declare  # noqa: E402
from ltp_brainpy.cli import main  # noqa: E402
from ltp_brainpy.config import load_config  # noqa: E402
from ltp_brainpy.declare import Argument, Target, TargetError, protocol  # noqa: E402
from ltp_brainpy.experiments import run_protocols  # noqa: E402
from ltp_brainpy.registry import PROTOCOLS  # noqa: E402
from ltp_brainpy.results import ProtocolResult  # noqa: E402
from ltp_brainpy.targets import BOUNDS, evaluate  # noqa: E402

CALLS = []


def toy_figure(runs):
    fig, ax = plt.subplots(figsize=(4, 3))
    for label, r in runs:
        ax.plot(r.conditions['tau'].to_decimal(u.ms), 100 * r.weight_change, 'o-', label=label)
    ax.set(xlabel='tau (ms)', ylabel='weight change (%)')
    ax.legend()
    return fig


def _change_at_10_ms(runs):
    return runs.where(n_steps=10).change('tau', 10.0, u.ms)


def toy_decay(tau, n_steps=10, step=1.0 * u.ms, gain=1.0, dt=0.1 * u.ms, **params):
    """A closed-form toy: the weight decays as exp(-n_steps * step / tau)."""
    CALLS.append(dict(tau=tau, n_steps=n_steps, step=step, gain=gain, dt=dt, params=params))
    tau = u.math.atleast_1d(tau)
    change = gain * (np.exp(-n_steps * np.asarray(u.maybe_decimal(step / tau))) - 1.0)
    time = np.arange(n_steps + 1) * step
    weight = np.exp(-np.outer(1.0 / np.asarray(tau.to_decimal(u.ms)),
                              np.asarray(time.to_decimal(u.ms)))) * u.nS
    return ProtocolResult('toy_decay', {'tau': tau}, change, {'time': time, 'weight': weight},
                          {'slowest_change': float(change.max())})


TOY_TARGETS = [
    Target('Toy decay', '10 steps of 1 ms, tau = 10 ms', 'exp(-1) - 1 = -63.2 % +- 0.1 %',
           _change_at_10_ms, lambda x: abs(x - (np.exp(-1) - 1)) < 1e-3),
    Target('Toy decay', 'tau = 123 ms', 'anything', lambda runs: runs.change('tau', 123.0, u.ms),
           lambda x: True),
    BOUNDS,  # the shared bounds target, against each run's own w_min, w_max
]


@pytest.fixture
def toy():
    declared = protocol(
        'toy_decay', figure=toy_figure, targets=TOY_TARGETS,
        arguments=dict(tau=Argument(u.ms, 'decay time constants, one condition each',
                                    positive=True, per_condition=True),
                       n_steps=Argument(int, 'steps of the decay'),
                       step=Argument(u.ms, 'length of a step', positive=True, step=True),
                       gain=Argument(float, 'scale of the change')))(toy_decay)
    CALLS.clear()
    yield declared.declaration
    declare.unregister('toy_decay')


CONFIG = '''title = "Toy decay"
dt = "0.05 ms"

[model]
w_max = "2 nS"

[[run]]
label = "fast"
protocol = "toy_decay"
tau = ["5 ms", "10 ms", "20 ms"]
step = "1 ms"

[[run]]
label = "long"
protocol = "toy_decay"
tau = ["10 ms"]
n_steps = 20
'''


def test_declaration_is_registered_with_its_schema(toy):
    assert PROTOCOLS['toy_decay'] is toy and toy.function is toy_decay
    assert toy.required == {'tau'}
    assert toy.defaults['n_steps'] == 10 and toy.defaults['gain'] == 1.0
    assert toy.accepts('dt') and not toy.accepts('seed')
    assert toy.doc.startswith('A closed-form toy')
    with pytest.raises(ValueError, match='already declared'):
        protocol('toy_decay')(lambda tau: None)


def test_toy_protocol_runs_through_the_cli(toy, tmp_path, capsys):
    path = tmp_path / 'toy.toml'
    path.write_text(CONFIG)
    out = tmp_path / 'out'
    assert main(['run', str(path), '--out', str(out), '--quiet']) == 0
    assert 'toy_decay.png' in capsys.readouterr().out or (out / 'toy_decay.png').exists()

    # the runner passed dt (the function takes it), the arguments with units, the model
    assert CALLS[0]['dt'] == 0.05 * u.ms and CALLS[0]['params'] == {'w_max': 2 * u.nS}
    assert CALLS[1]['n_steps'] == 20

    summary = json.loads((out / 'results.json').read_text())
    fast = summary['runs']['fast']
    assert fast['protocol'] == 'toy_decay'
    assert fast['conditions']['tau'] == {'value': [5.0, 10.0, 20.0], 'unit': 'ms'}
    np.testing.assert_allclose(fast['weight_change'], np.exp(-10 / np.array([5, 10, 20])) - 1,
                               rtol=1e-6)
    assert fast['slowest_change'] == pytest.approx(np.exp(-0.5) - 1)
    rows = {row['condition']: row for row in summary['targets']}
    assert list(rows) == ['10 steps of 1 ms, tau = 10 ms', 'tau = 123 ms', 'every protocol above']
    # the target selects its run by argument (n_steps = 10), not by label
    assert rows['10 steps of 1 ms, tau = 10 ms']['passed']
    assert rows['10 steps of 1 ms, tau = 10 ms']['measured'] == pytest.approx(np.exp(-1) - 1)
    # a target that cannot be evaluated is reported with its reason, not dropped
    missing = rows['tau = 123 ms']
    assert missing['passed'] is None and missing['measured_text'] == 'n/a'
    assert 'no condition tau = 123 ms' in missing['error']
    # bounds of the model actually run: w_max = 2 nS, the weights start at 1 nS
    assert rows['every protocol above']['passed']

    assert summary['figures'] == ['toy_decay.png']
    assert (out / 'toy_decay.png').stat().st_size > 1000
    assert set(np.load(out / 'fast.npz')) == {'tau_ms', 'time_ms', 'weight_nS',
                                             'weight_change'}


def test_bounds_use_the_rule_of_the_run(toy, tmp_path):
    path = tmp_path / 'toy.toml'
    path.write_text(CONFIG.replace('w_max = "2 nS"', 'w_max = "0.5 nS"'))
    rows = evaluate(run_protocols(load_config(path)))
    bounds = rows[-1]
    assert bounds['protocol'] == 'Bounds' and not bounds['passed']
    assert bounds['measured'] == pytest.approx(0.5)  # w = 1 nS at the start, w_max = 0.5 nS


@pytest.mark.parametrize('line, field', [
    ('tau = ["5 s", "-1 ms"]', 'tau'),       # a sign check of the schema
    ('tau = ["5 mV"]', 'tau'),               # the unit
    ('n_steps = 0', 'n_steps'),              # a count
    ('n_steps = "ten"', 'n_steps'),
    ('gain = -1.0', 'gain'),                 # a non-negative number
    ('step = "0.01 ms"', 'step'),            # under one step of dt
    ('step = ["1 ms", "2 ms"]', 'step'),     # a single value
    ('n_step = 3', 'n_step'),                # not an argument (closest one suggested)
    ('dt = "1 ms"', 'dt'),                   # set at the top level, not per run
])
def test_bad_argument_of_the_toy_is_refused_at_load(toy, tmp_path, capsys, line, field):
    config = ('title = "Toy"\n[[run]]\nlabel = "t"\nprotocol = "toy_decay"\n'
              'tau = ["10 ms"]\n')
    key = line.split(' =')[0]
    config = '\n'.join(ln for ln in config.splitlines() if not ln.startswith(f'{key} ='))
    path = tmp_path / 'bad.toml'
    path.write_text(config + '\n' + line + '\n')
    out = tmp_path / 'out'
    assert main(['run', str(path), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1 and field in err
    assert not out.exists() and not CALLS


def test_missing_argument_and_listing(toy, tmp_path, capsys):
    path = tmp_path / 'bad.toml'
    path.write_text('[[run]]\nprotocol = "toy_decay"\n')
    assert main(['run', str(path), '--out', str(tmp_path / 'out')]) == 2
    assert "missing required parameter 'tau'" in capsys.readouterr().err
    assert main(['list', '--protocols']) == 0
    listed = capsys.readouterr().out
    assert 'toy_decay: A closed-form toy' in listed
    assert 'step [ms]' in listed and '1 ms' in listed and 'decay time constants' in listed
    assert 'stdp:' in listed and 'delta_t [ms] list' in listed


def test_runs_selection():
    def result(n, tau):
        r = ProtocolResult('toy', {'tau': np.array(tau) * u.ms}, np.array(tau) / 100.0, {})
        r.arguments, r.model = {'n': n, 'x': 2.0 * u.ms}, {}
        return r
    runs = declare.Runs([result(1, [5.0, 10.0]), result(2, [10.0])], 'toy')
    assert runs.where(n=2).change('tau', 10.0, u.ms) == pytest.approx(0.1)
    assert list(runs.where(x=2000 * u.us).values('tau', u.ms)) == [5.0, 10.0, 10.0]
    with pytest.raises(TargetError, match='no toy run with n = 3'):
        runs.where(n=3)
    with pytest.raises(TargetError, match='no toy run with x = 3 ms'):
        runs.where(x=3 * u.ms)
