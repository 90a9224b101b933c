"""The result object every protocol and experiment returns."""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import saiunit as u

__all__ = ['ProtocolResult']


@dataclasses.dataclass
class ProtocolResult:
    """What a protocol returns.

    Attributes
    ----------
    protocol : str
        Protocol name.
    conditions : dict
        The conditions, one entry per condition (e.g. ``{'hold': [0, -70] mV}``).
    weight_change : numpy.ndarray or None
        :math:`w_{final}/w_{initial} - 1` per condition (None for protocols without plasticity).
    traces : dict
        Arrays/quantities for the figure; also readable as attributes (``result.time``).
    summary : dict
        The experiment's headline numbers (plain floats), written to ``results.json``.
    arguments, model : dict
        The arguments of the call (defaults filled in) and its model parameter overrides, set
        when the protocol is called through its declaration (:mod:`ltp_brainpy.declare`, as a
        config runs it): targets select runs by them. Empty for a direct function call.
    """
    protocol: str
    conditions: dict
    weight_change: Optional[np.ndarray]
    traces: dict
    summary: dict = dataclasses.field(default_factory=dict)
    arguments: dict = dataclasses.field(default_factory=dict, repr=False)
    model: dict = dataclasses.field(default_factory=dict, repr=False)

    def __getattr__(self, key):
        traces = self.__dict__.get('traces', {})
        if key in traces:
            return traces[key]
        raise AttributeError(f'{type(self).__name__} has no attribute or trace {key!r}')

    def arrays(self) -> dict:
        """Every condition and trace as a plain numpy array, the unit in the key (``time_ms``)."""
        out = {}
        for group in (self.conditions, self.traces):
            for key, value in group.items():
                if isinstance(value, u.Quantity) and not value.unit.is_unitless:
                    out[f'{key}_{value.unit}'.replace(' ', '').replace('/', '_per_')] = \
                        np.asarray(value.mantissa)
                else:
                    out[key] = np.asarray(u.maybe_decimal(value))
        if self.weight_change is not None:
            out['weight_change'] = np.asarray(self.weight_change)
        return out
