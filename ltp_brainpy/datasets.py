"""Plasticity data sets: one row per experiment, in a CSV schema with the units in the header.

A data set is a CSV file: optional ``#`` comment lines (the source, how the values were
obtained), a header, then one row per experiment. Every row has

=============  =====================================================================
``id``         a unique name of the row
``change``     the measured relative change of the synaptic strength (+0.20 is +20 %)
``sem``        its standard error (> 0), in the same units as ``change``
``n``          number of cells or pairs (optional, reported only)
``protocol``   the induction protocol (optional; default ``stdp_trains``)
=============  =====================================================================

and the columns of its protocol, whose unit is the suffix of the column name:

``stdp_trains``
    ``frequency_Hz, delta_t_ms, n_pairs, n_trains, train_interval_s``: ``n_pairs`` pre/post
    pairs at ``frequency_Hz``, the postsynaptic spike ``delta_t_ms`` after the presynaptic one
    (negative: before), the train repeated ``n_trains`` times every ``train_interval_s``
    (Markram et al. 1997; one train of 60 pairs at 1 Hz is Bi & Poo 1998).
``pairing``
    ``hold_mV, n_pulses, frequency_Hz``: presynaptic pulses with the cell clamped
    (Chen et al. 1999).
``frequency``
    ``frequency_Hz, n_pulses, n_inputs``: trains of co-stimulated inputs onto a free cell
    (Dudek & Bear 1992).

Columns that a row's protocol does not use must be empty for that row. Bad input raises
:class:`~ltp_brainpy.ParameterError` naming the file, the line and the column.

Examples
--------
>>> from ltp_brainpy.datasets import load_dataset
>>> data = load_dataset('markram1997')
>>> len(data), data.rows[0].id, data.rows[0].columns()['frequency_Hz']
(8, 'mrk97_01', 2.0)
"""
from __future__ import annotations

import csv
import difflib
import dataclasses
import io
import math
from importlib import resources
from pathlib import Path

import numpy as np
import saiunit as u

from ._validate import ParameterError

__all__ = ['Dataset', 'Row', 'PROTOCOL_COLUMNS', 'load_dataset', 'bundled_datasets']

#: Columns of every row: name -> required.
COMMON_COLUMNS = {'id': True, 'change': True, 'sem': True, 'n': False, 'protocol': False}
DEFAULT_PROTOCOL = 'stdp_trains'
_INTEGER = None  # marks a count column

#: Protocol -> {column: (condition name, unit or _INTEGER)}.
PROTOCOL_COLUMNS = {
    'stdp_trains': {'frequency_Hz': ('frequency', u.Hz), 'delta_t_ms': ('delta_t', u.ms),
                    'n_pairs': ('n_pairs', _INTEGER), 'n_trains': ('n_trains', _INTEGER),
                    'train_interval_s': ('train_interval', u.second)},
    'pairing': {'hold_mV': ('hold', u.mV), 'n_pulses': ('n_pulses', _INTEGER),
                'frequency_Hz': ('frequency', u.Hz)},
    'frequency': {'frequency_Hz': ('frequency', u.Hz), 'n_pulses': ('n_pulses', _INTEGER),
                  'n_inputs': ('n_inputs', _INTEGER)},
}
_POSITIVE = {'frequency', 'train_interval'}


@dataclasses.dataclass(frozen=True)
class Row:
    """One experiment: its protocol's conditions (quantities and counts) and the measurement."""
    id: str
    protocol: str
    conditions: dict
    change: float
    sem: float
    n: int | None

    def columns(self) -> dict:
        """The row's conditions as its CSV columns (plain numbers in the columns' units)."""
        out = {}
        for column, (key, unit) in PROTOCOL_COLUMNS[self.protocol].items():
            value = self.conditions[key]
            out[column] = value if unit is _INTEGER else float(value.to_decimal(unit))
        return out


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A validated data set (see the module docstring for the schema)."""
    name: str
    rows: tuple
    comments: str = ''

    def __len__(self):
        return len(self.rows)

    @property
    def change(self) -> np.ndarray:
        return np.array([r.change for r in self.rows])

    @property
    def sem(self) -> np.ndarray:
        return np.array([r.sem for r in self.rows])

    @property
    def ids(self) -> list:
        return [r.id for r in self.rows]

    @property
    def protocols(self) -> list:
        """The protocols present, in order of first appearance."""
        return list(dict.fromkeys(r.protocol for r in self.rows))

    def column(self, name: str, protocol: str | None = None):
        """A condition of every row (of ``protocol``) as one array or quantity array."""
        values = [r.conditions[name] for r in self.rows if protocol in (None, r.protocol)]
        if isinstance(values[0], u.Quantity):
            unit = values[0].unit
            return u.Quantity(np.array([float(v.to_decimal(unit)) for v in values]), unit=unit)
        return np.array(values)

    def with_changes(self, change, sem=None) -> 'Dataset':
        """The same experiments with other measurements (e.g. synthetic data for a test)."""
        sem = self.sem if sem is None else np.broadcast_to(sem, len(self))
        rows = tuple(dataclasses.replace(r, change=float(c), sem=float(s))
                     for r, c, s in zip(self.rows, change, sem))
        return dataclasses.replace(self, rows=rows)


def bundled_datasets() -> list:
    """Names of the data sets shipped with the package."""
    folder = resources.files('ltp_brainpy') / 'data'
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith('.csv'))


def _resolve(source) -> tuple[str, str]:
    """(name, text) of a path or of a bundled data set's name."""
    path = Path(source)
    if path.is_file():
        try:
            return path.stem, path.read_text(encoding='utf-8')
        except UnicodeDecodeError:
            raise ParameterError(f'data: {path} is not a UTF-8 text file') from None
    if path.suffix != '.csv' and str(source) in bundled_datasets():
        text = (resources.files('ltp_brainpy') / 'data' / f'{source}.csv').read_text('utf-8')
        return str(source), text
    if path.is_dir():
        raise ParameterError(f'data: {str(path)!r} is a folder, expected a CSV file')
    raise ParameterError(f'data: no such file {str(path)!r} (bundled data sets: '
                         f'{", ".join(bundled_datasets())})')


def _number(where, text, integer=False, positive=False, nonnegative=False):
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = 'an integer' if integer else 'a number'
        raise ParameterError(f'{where} must be {kind}, got {text!r}') from None
    if not math.isfinite(value):
        raise ParameterError(f'{where} must be finite, got {text!r}')
    if integer and value < 1:
        raise ParameterError(f'{where} must be an integer >= 1, got {text!r}')
    if positive and value <= 0:
        raise ParameterError(f'{where} must be > 0, got {text!r}')
    if nonnegative and value < 0:
        raise ParameterError(f'{where} must be >= 0, got {text!r}')
    return value


def _row(name, line, record) -> Row:
    where = f'{name} line {line}'

    def cell(column):
        return (record.get(column) or '').strip()

    protocol = cell('protocol') or DEFAULT_PROTOCOL
    if protocol not in PROTOCOL_COLUMNS:
        raise ParameterError(f'{where}: column \'protocol\' must be one of '
                             f'{", ".join(PROTOCOL_COLUMNS)}, got {protocol!r}')
    row_id = cell('id')
    if not row_id:
        raise ParameterError(f"{where}: column 'id' is empty")
    conditions = {}
    for column, (key, unit) in PROTOCOL_COLUMNS[protocol].items():
        text = cell(column)
        if not text:
            raise ParameterError(f'{where}: column {column!r} is needed by protocol '
                                 f'{protocol!r} and is empty')
        value = _number(f'{where}: column {column!r}', text, integer=unit is _INTEGER,
                        positive=key in _POSITIVE)
        conditions[key] = value if unit is _INTEGER else value * unit
    used = set(COMMON_COLUMNS) | set(PROTOCOL_COLUMNS[protocol])
    for column in record:
        if column not in used and cell(column):
            raise ParameterError(f'{where}: column {column!r} is not used by protocol '
                                 f'{protocol!r} and must be empty')
    if protocol == 'stdp_trains':
        train = conditions['n_pairs'] / conditions['frequency']
        if conditions['n_trains'] > 1 and conditions['train_interval'] < train:
            raise ParameterError(f"{where}: column 'train_interval_s' must be at least the "
                                 f"train's length n_pairs / frequency = {train.in_unit(u.second)}")
    change = _number(f"{where}: column 'change'", cell('change'))
    if change <= -1:
        raise ParameterError(f"{where}: column 'change' must be > -1 (a relative change), "
                             f'got {cell("change")!r}')
    sem = _number(f"{where}: column 'sem'", cell('sem'), positive=True)
    n = int(_number(f"{where}: column 'n'", cell('n'), integer=True)) if cell('n') else None
    return Row(row_id, protocol, conditions, change, sem, n)


def load_dataset(source) -> Dataset:
    """Read and validate a data set: a CSV path, or the name of a bundled one
    (:func:`bundled_datasets`, e.g. ``'markram1997'``)."""
    name, text = _resolve(source)
    lines = text.splitlines()
    comments = [line[1:].strip() for line in lines if line.lstrip().startswith('#')]
    body = [(number, line) for number, line in enumerate(lines, start=1)
            if line.strip() and not line.lstrip().startswith('#')]
    if not body:
        raise ParameterError(f'{name}: no header and no rows')
    reader = csv.reader(io.StringIO('\n'.join(line for _, line in body)))
    header = [h.strip() for h in next(reader)]
    known = set(COMMON_COLUMNS) | {c for cols in PROTOCOL_COLUMNS.values() for c in cols}
    for column in header:
        if column not in known:
            close = difflib.get_close_matches(column, sorted(known), n=1)
            hint = f'; did you mean {close[0]!r}?' if close else ''
            raise ParameterError(f'{name}: unknown column {column!r}{hint}')
    if len(set(header)) != len(header):
        raise ParameterError(f'{name}: duplicate column in the header {header}')
    for column, required in COMMON_COLUMNS.items():
        if required and column not in header:
            raise ParameterError(f'{name}: missing column {column!r}')
    rows = []
    for (line, _), values in zip(body[1:], reader):
        if len(values) != len(header):
            raise ParameterError(f'{name} line {line}: {len(values)} values for '
                                 f'{len(header)} columns')
        rows.append(_row(name, line, dict(zip(header, values))))
    if not rows:
        raise ParameterError(f'{name}: no rows')
    ids = [r.id for r in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ParameterError(f"{name}: column 'id' must be unique, repeated: {duplicates}")
    return Dataset(name, tuple(rows), '\n'.join(comments))
