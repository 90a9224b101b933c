"""Data sets: the CSV schema, its validation, and the bundled Markram et al. (1997) rows."""
import numpy as np
import pytest
import saiunit as u

from ltp_brainpy import ParameterError
from ltp_brainpy.datasets import PROTOCOL_COLUMNS, bundled_datasets, load_dataset
from ltp_brainpy.fit_outputs import dataset_csv

SHARED = '../shared/data/markram1997.csv'
HEADER = 'id,frequency_Hz,delta_t_ms,n_pairs,n_trains,train_interval_s,change,sem,n\n'


def test_markram_loads_as_published_and_as_bundled():
    data = load_dataset('markram1997')
    assert 'markram1997' in bundled_datasets() and len(data) == 8
    assert data.ids[0] == 'mrk97_01' and data.protocols == ['stdp_trains']
    np.testing.assert_allclose(data.column('frequency').to_decimal(u.Hz),
                               [2, 5, 10, 20, 30, 40, 10, 10])
    np.testing.assert_allclose(data.column('delta_t').to_decimal(u.ms), [5] * 6 + [10, -10])
    assert data.column('n_pairs').tolist() == [5] * 8
    assert data.column('train_interval')[0] == 4 * u.second
    assert data.change[7] == pytest.approx(-0.2078) and data.sem[7] == pytest.approx(0.0259)
    assert 'Markram' in data.comments
    # The shipped copy is the shared file, byte for byte.
    from importlib import resources
    from pathlib import Path
    shared = Path(__file__).resolve().parents[1] / SHARED
    if shared.is_file():
        bundled = (resources.files('ltp_brainpy') / 'data' / 'markram1997.csv').read_text()
        assert bundled == shared.read_text()


def test_mixed_protocols_and_round_trip(tmp_path):
    path = tmp_path / 'mixed.csv'
    path.write_text('# a comment\n'
                    'id,protocol,frequency_Hz,delta_t_ms,n_pairs,n_trains,train_interval_s,'
                    'hold_mV,n_pulses,n_inputs,change,sem,n\n'
                    'a,,1,10,60,1,1,,,,0.5,0.1,3\n'
                    'b,pairing,2,,,,,0,200,,1.0,0.2,\n'
                    'c,frequency,1,,,,,,900,28,-0.2,0.05,5\n')
    data = load_dataset(path)
    assert [r.protocol for r in data.rows] == ['stdp_trains', 'pairing', 'frequency']
    assert data.rows[1].conditions == {'hold': 0 * u.mV, 'n_pulses': 200, 'frequency': 2 * u.Hz}
    assert data.rows[1].n is None and data.rows[2].n == 5
    again = tmp_path / 'again.csv'
    again.write_text(dataset_csv(data))
    assert load_dataset(again).rows == data.rows


@pytest.mark.parametrize('row, message', [
    ('x,10,5,5,10,4,0.2,0,3', "line 2: column 'sem' must be > 0, got '0'"),
    ('x,10,5,5,10,4,0.2,-1,3', "column 'sem' must be > 0"),
    ('x,10,5,5,10,4,nan,0.1,3', "column 'change' must be finite"),
    ('x,10,5,5,10,4,-1.5,0.1,3', "column 'change' must be > -1"),
    ('x,ten,5,5,10,4,0.2,0.1,3', "column 'frequency_Hz' must be a number, got 'ten'"),
    ('x,0,5,5,10,4,0.2,0.1,3', "column 'frequency_Hz' must be > 0"),
    ('x,10,5,2.5,10,4,0.2,0.1,3', "column 'n_pairs' must be an integer"),
    ('x,10,5,0,10,4,0.2,0.1,3', "column 'n_pairs' must be an integer >= 1"),
    ('x,10,5,5,10,,0.2,0.1,3', "column 'train_interval_s' is needed by protocol"),
    ('x,1,5,5,10,2,0.2,0.1,3', "'train_interval_s' must be at least the train's length"),
    (',10,5,5,10,4,0.2,0.1,3', "column 'id' is empty"),
    ('x,10,5,5,10,4,0.2', '7 values for 9 columns'),
])
def test_bad_rows_name_the_line_and_column(tmp_path, row, message):
    path = tmp_path / 'bad.csv'
    path.write_text(HEADER + row + '\n')
    with pytest.raises(ParameterError, match=message):
        load_dataset(path)


def test_bad_files(tmp_path):
    path = tmp_path / 'bad.csv'
    path.write_text('id,frequncy_Hz,change,sem\n')
    with pytest.raises(ParameterError, match="unknown column 'frequncy_Hz'; did you mean "
                                             "'frequency_Hz'"):
        load_dataset(path)
    path.write_text('id,change\nx,0.1\n')
    with pytest.raises(ParameterError, match="missing column 'sem'"):
        load_dataset(path)
    path.write_text(HEADER + 'x,10,5,5,10,4,0.2,0.1,3\nx,20,5,5,10,4,0.2,0.1,3\n')
    with pytest.raises(ParameterError, match="'id' must be unique, repeated: \\['x'\\]"):
        load_dataset(path)
    path.write_text('id,protocol,hold_mV,n_pulses,frequency_Hz,delta_t_ms,change,sem\n'
                    'x,pairing,0,200,2,10,0.5,0.1\n')
    with pytest.raises(ParameterError, match="column 'delta_t_ms' is not used by protocol "
                                             "'pairing'"):
        load_dataset(path)
    path.write_text('id,protocol,change,sem\nx,ltp,0.5,0.1\n')
    with pytest.raises(ParameterError, match="'protocol' must be one of"):
        load_dataset(path)
    path.write_bytes(b'\xff\xfe\x00binary')
    with pytest.raises(ParameterError, match='not a UTF-8 text file'):
        load_dataset(path)
    with pytest.raises(ParameterError, match='is a folder'):
        load_dataset(tmp_path)
    with pytest.raises(ParameterError, match="no such file 'nope.csv'"):
        load_dataset('nope.csv')
    assert set(PROTOCOL_COLUMNS) == {'stdp_trains', 'pairing', 'frequency'}
