"""Batches spread over several devices give the results of one device.

Each case runs in a fresh process, since JAX fixes its device count when it starts
(``XLA_FLAGS=--xla_force_host_platform_device_count=N``): five conditions (uneven for 2 and 4
devices: the batch is padded) of STDP and pairing, as lane loops and as one batched loop, three
fit starts (1 and 2 devices), and :func:`ltp_brainpy.devices.shard_batch` itself; then
``ltp-brainpy sweep`` split between two ``jax.distributed`` processes on localhost against the
same sweep in one process.
"""
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np

WORKER = textwrap.dedent('''
    import sys
    import jax
    import jax.numpy as jnp
    import numpy as np
    import saiunit as u
    from ltp_brainpy import devices, protocols
    from ltp_brainpy.datasets import load_dataset
    from ltp_brainpy.fit import fit

    out, n_devices, csv = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    assert len(jax.devices()) == n_devices, jax.devices()
    results = {}
    results['shard'] = np.asarray(devices.shard_batch(
        lambda x, y: jnp.cumsum(x) * y, jnp.arange(15.0).reshape(5, 3), jnp.arange(5.0)))
    deltas = np.array([-40.0, -10.0, 5.0, 10.0, 30.0]) * u.ms
    holds = np.array([-70.0, -40.0, -20.0, -10.0, 0.0]) * u.mV
    for lanes in (True, False):
        protocols.LANE_LOOPS = lanes
        results[f'stdp_{lanes}'] = protocols.stdp(deltas, n_pairs=5).weight_change
        results[f'pairing_{lanes}'] = protocols.pairing(holds, n_pulses=5).weight_change
    if n_devices <= 2:  # the slowest to compile: 1 and 2 devices only
        result = fit(load_dataset(csv), ['theta_p'], n_starts=3, iterations=2, polish=1, seed=3)
        results['fit_history'] = result.history
        results['fit_polish'] = result.polish_history
        results['fit_theta_p'] = np.asarray(result.parameters['theta_p'].mantissa)
    np.savez(out, **results)
''')


def _dataset(tmp_path):
    path = tmp_path / 'small.csv'
    path.write_text('id,frequency_Hz,delta_t_ms,n_pairs,n_trains,train_interval_s,change,sem,n\n'
                    + ''.join(f'r{k},{f},{d},3,1,3,{c},0.03,4\n' for k, (f, d, c) in enumerate(
                        [(2, 10, 0.1), (10, 10, 0.2), (20, -10, -0.1), (40, 10, 0.3),
                         (10, -10, -0.2)])))
    return path


def _env(n_devices):
    env = dict(os.environ)
    env['XLA_FLAGS'] = (env.get('XLA_FLAGS', '') +
                        f' --xla_force_host_platform_device_count={n_devices}').strip()
    env['JAX_PLATFORMS'] = 'cpu'
    env.pop('LTP_BRAINPY_DEVICES', None)
    return env


def _start(tmp_path, n_devices):
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    out = tmp_path / f'devices_{n_devices}.npz'
    process = subprocess.Popen([sys.executable, str(script), str(out), str(n_devices),
                                str(_dataset(tmp_path))], env=_env(n_devices),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, out


def _finish(process, out):
    log, _ = process.communicate(timeout=300)
    assert process.returncode == 0, log[-3000:]
    return dict(np.load(out))


def test_several_devices_give_the_results_of_one(tmp_path):
    runs = {n: _start(tmp_path, n) for n in (1, 2, 4)}
    results = {n: _finish(*run) for n, run in runs.items()}
    one = results[1]
    np.testing.assert_array_equal(one['shard'], np.cumsum(np.arange(15.0).reshape(5, 3), axis=1)
                                  * np.arange(5.0)[:, None])
    for n in (2, 4):
        assert set(results[n]) == set(one) - ({'fit_history', 'fit_polish', 'fit_theta_p'}
                                               if n > 2 else set())
        for key in results[n]:
            np.testing.assert_array_equal(results[n][key], one[key], err_msg=f'{n} devices: {key}')


CONFIG = '''title = "a small STDP sweep"
[[run]]
label = "stdp"
protocol = "stdp"
delta_t = ["10 ms", "-10 ms", "25 ms"]
n_pairs = 3
'''


def _free_port():
    with socket.socket() as s:
        s.bind(('localhost', 0))
        return s.getsockname()[1]


def test_a_sweep_split_between_two_processes_gives_the_result_of_one(tmp_path):
    """``ltp-brainpy sweep`` in two jax.distributed processes (ltp_brainpy starts them from the
    LTP_BRAINPY_* variables): process 0 writes the table a single process writes."""
    config = tmp_path / 'small.toml'
    config.write_text(CONFIG)
    port = _free_port()
    command = [sys.executable, '-c', 'import sys; from ltp_brainpy.cli import main; '
               'sys.exit(main(sys.argv[1:]))', 'sweep', str(config),
               '--grid', 'theta_p=0.3 uM:0.5 uM:5']
    runs = []
    for n, k in ((2, 0), (2, 1), (1, 0)):
        env = _env(1)
        if n > 1:
            env.update(LTP_BRAINPY_COORDINATOR=f'localhost:{port}', LTP_BRAINPY_NUM_PROCESSES='2',
                       LTP_BRAINPY_PROCESS_ID=str(k))
        runs.append(subprocess.Popen(command + ['--out', str(tmp_path / f'out_{n}')], env=env,
                                     cwd=tmp_path, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True))
    logs = []
    for run in runs:
        log, _ = run.communicate(timeout=300)
        assert run.returncode == 0, log[-3000:]
        logs.append(log)
    assert "process 0 writes" in logs[1]
    one = (tmp_path / 'out_1' / 'sweep.csv').read_text()
    assert one.count('\n') == 1 + 5 * 3
    assert (tmp_path / 'out_2' / 'sweep.csv').read_text() == one
