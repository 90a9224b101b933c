"""Parameter grids over a config (``ltp-brainpy sweep``)."""
import csv
import json

import pytest

from ltp_brainpy import ParameterError
from ltp_brainpy.cli import main
from ltp_brainpy.sweep import parse_axis

CONFIG = '''title = "a small STDP sweep"
[[run]]
label = "stdp"
protocol = "stdp"
delta_t = ["10 ms", "-10 ms"]
n_pairs = 10
'''


def test_axes_parse_ranges_lists_and_integers():
    axis = parse_axis('theta_p="0.3 uM:0.5 uM:3"')
    assert axis.numbers == pytest.approx((0.3, 0.4, 0.5)) and axis.unit == 'uM'
    assert axis.texts[1] == '"0.4 uM"'
    assert parse_axis('run.0.n_pairs=10:30:3').texts == ('10', '20', '30')
    assert parse_axis('gamma_p=0.2 /s,0.4 /s').numbers == pytest.approx((0.2, 0.4))
    for bad, message in [('theta_p', 'expected name='), ('theta_p=1 uM:2 ms:2', 'STOP has a unit'),
                         ('theta_p=1 uM:2 uM:0', 'N must be a positive integer'),
                         ('theta_p=1 uM,2 ms', 'share one unit')]:
        with pytest.raises(ParameterError, match=message):
            parse_axis(bad)


def test_a_two_axis_grid_writes_a_table_a_heat_map_and_metadata(tmp_path):
    config = tmp_path / 'small.toml'
    config.write_text(CONFIG)
    out = tmp_path / 'out'
    assert main(['sweep', str(config), '--grid', 'theta_p=0.3 uM:0.5 uM:3',
                 '--grid', 'gamma_p=0.2 /s,0.4 /s', '--out', str(out)]) == 0
    rows = list(csv.DictReader((out / 'sweep.csv').open()))
    assert len(rows) == 3 * 2 * 2
    ltp = {(float(r['theta_p']), float(r['gamma_p'])): float(r['weight_change'])
           for r in rows if r['condition_value'] == '10.0'}
    for gamma in (0.2, 0.4):  # a higher potentiation threshold potentiates less ...
        assert ltp[(0.3, gamma)] > ltp[(0.4, gamma)] > ltp[(0.5, gamma)]
    assert ltp[(0.3, 0.4)] > ltp[(0.3, 0.2)] > 0  # ... a faster insertion more
    assert (out / 'sweep_stdp.png').stat().st_size > 0
    meta = json.loads((out / 'metadata.json').read_text())
    assert meta['n_points'] == 6 and [a['name'] for a in meta['axes']] == ['theta_p', 'gamma_p']


@pytest.mark.parametrize('grid, message', [
    ('theta_p=0.3:0.5:3', "'theta_p' must be a quantity"),
    ('theta_q=0.3 uM:0.5 uM:2', "unknown parameter 'theta_q'"),
    ('run.0.n_pairs=0:10:2', "'n_pairs' must be"),
])
def test_every_point_is_validated_before_anything_runs(tmp_path, capsys, grid, message):
    config = tmp_path / 'small.toml'
    config.write_text(CONFIG)
    out = tmp_path / 'out'
    assert main(['sweep', str(config), '--grid', grid, '--out', str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
