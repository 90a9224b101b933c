"""Command line interface: ``ltp-brainpy``."""
from __future__ import annotations

import argparse
import sys

import brainstate
import jax.numpy as jnp
import saiunit as u

from . import simulate
from ._validate import ParameterError
from .pathway import Pathway


def pairing_demo(hold, n_pulses=200, period=500 * u.ms, **params) -> float:
    """Relative AMPA-conductance change after presynaptic pulses with the cell clamped at ``hold``."""
    path = Pathway(1, 1, **params)
    brainstate.nn.init_all_states(path)
    path.neuron.clamp(hold)
    n_period = simulate.n_steps_of(period)
    steps = n_pulses * n_period
    spikes = (jnp.arange(steps) % n_period == 0)[:, None]
    w0 = path.projection.w.value
    simulate.run(path.update, steps, spikes, pbar=steps // 20)
    return float((path.projection.w.value / w0 - 1.0).mean())


def demo() -> int:
    print('Pairing: 200 presynaptic pulses at 2 Hz, postsynaptic cell voltage-clamped')
    for label, hold, params in [('clamped at 0 mV', 0 * u.mV, {}),
                                ('clamped at -70 mV', -70 * u.mV, {}),
                                ('0 mV with NMDA blocked (AP5)', 0 * u.mV, {'gbar_N': 0 * u.nS})]:
        change = pairing_demo(hold, **params)
        print(f'  {label:30s} AMPA conductance change {100 * change:+7.1f} %')
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='ltp-brainpy', description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('demo', help='pairing with its controls, printing the weight changes')
    args = parser.parse_args(argv)
    try:
        if args.command == 'demo':
            return demo()
    except ParameterError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 1


if __name__ == '__main__':
    sys.exit(main())
