"""Sensitivity of the calibrated target table to each calibrated parameter (docs/sensitivity.md).

    python docs/sensitivity.py            # every calibrated parameter at -20 % and +20 %

Runs configs/default.toml with one parameter scaled at a time and writes, for every row of the
target table, its value at the defaults and at -20 % / +20 % of each parameter, marking the
rows that then fail. Takes about 15 s per run (29 runs: ~7 min on 2 cores).
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from ltp_brainpy.config import load_config
from ltp_brainpy.experiments import run_protocols
from ltp_brainpy.parameters import default_parameters
from ltp_brainpy.targets import evaluate

ROOT = Path(__file__).resolve().parents[1]
#: The parameters set by the calibration (docs/model.md, section 5).
CALIBRATED = ('beta1', 'A_bpap_fast', 'tau_bpap_fast', 'A_bpap', 'tau_bpap', 'A_ca',
              'tau_ca_post', 'tau_ca', 'theta_d', 'theta_p', 'kappa', 'gamma_p', 'gamma_d',
              'rho')
SCALES = (0.8, 1.2)


def _scalar(row) -> float:
    """One number per row: the value, a peak's value, or the first of a list."""
    value = row['measured']
    if isinstance(value, tuple):
        return float(value[1])
    return float(np.atleast_1d(value)[0])


def main():
    config = load_config(ROOT / 'configs' / 'default.toml')
    defaults = {k: v for group in default_parameters().values() for k, v in group.items()}
    base = evaluate(run_protocols(config))
    table = {}
    for name in CALIBRATED:
        for scale in SCALES:
            start = time.perf_counter()
            model = {**config.model, name: defaults[name] * scale}
            rows = evaluate(run_protocols(dataclasses.replace(config, model=model)))
            table[(name, scale)] = rows
            print(f'{name} x{scale}: {sum(not r["passed"] for r in rows)} row(s) fail '
                  f'({time.perf_counter() - start:.0f} s)', file=sys.stderr, flush=True)
    keep = [k for k, r in enumerate(base) if r['protocol'] not in ('Mg block', 'Bounds',
                                                                   'Short-term depression')]
    heads = [f"{base[k]['protocol']}: {base[k]['condition']}" for k in keep]
    lines = ['# Sensitivity of the calibrated defaults', '',
             'Each row of the target table (docs/model.md, section 4) at the defaults and with one',
             'calibrated parameter at -20 % / +20 %; **bold**: the row then fails its target.',
             'Percentages are weight changes; tau+/- in ms, the crossover in Hz. Written by',
             '`python docs/sensitivity.py`.', '',
             '| parameter | ' + ' | '.join(heads) + ' |',
             '|---|' + '---|' * len(keep),
             '| defaults | ' + ' | '.join(f'{_format(base[k])}' for k in keep) + ' |']
    for name in CALIBRATED:
        cells = []
        for k in keep:
            texts = []
            for scale in SCALES:
                row = table[(name, scale)][k]
                texts.append(_format(row) if row['passed'] else f'**{_format(row)}**')
            cells.append(' / '.join(texts))
        lines.append(f'| `{name}` | ' + ' | '.join(cells) + ' |')
    (ROOT / 'docs' / 'sensitivity.md').write_text('\n'.join(lines) + '\n')
    print('wrote docs/sensitivity.md')


def _format(row) -> str:
    value = _scalar(row)
    if not np.isfinite(value) or ('tau' in row['target'] and value > 1e3):
        return 'n/a'  # no crossover, or no exponential decay to fit
    if 'tau' in row['target'] or 'crossover' in row['condition']:
        return f'{value:.1f}'
    return f'{100 * value:+.0f} %'


if __name__ == '__main__':
    main()
