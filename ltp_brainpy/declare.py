"""Declaring a protocol: its function, arguments, figure and targets in one place.

A protocol is a function returning a :class:`~ltp_brainpy.results.ProtocolResult`. Declaring it
(the declaration sits next to the function, in the function's own module) makes it runnable
from a config: its arguments are validated at load (name, unit or type, sign, default, a
one-line doc each), ``ltp-brainpy list --protocols`` prints them, its figure is drawn for its
runs and its targets are evaluated on its runs into ``results.json``::

    import saiunit as u
    from ltp_brainpy.declare import Argument, Target, protocol
    from ltp_brainpy.results import ProtocolResult

    def _figure(runs):                   # runs: [(label, ProtocolResult)] of this protocol
        ...                              # returns a matplotlib figure

    @protocol('decay', figure=_figure, arguments=dict(
        tau=Argument(u.ms, 'time constant of the decay', positive=True, per_condition=True),
        n=Argument(int, 'number of steps')),
        targets=[Target('Decay', 'tau = 10 ms', 'about -63 %',
                        lambda runs: runs.change('tau', 10.0, u.ms), lambda x: x < -0.6)])
    def decay(tau, n=10, dt=0.1 * u.ms, **params):
        ...
        return ProtocolResult('decay', {'tau': tau}, weight_change, {})

Defaults come from the function's signature (an argument without one is required); ``dt``,
``seed`` and ``pbar`` are not arguments but passed by the runner when the function takes them;
model parameters arrive through ``**params``. Declaring registers the protocol under its name
in :data:`PROTOCOLS` (on import of the declaring module: the package's protocol modules are
imported by :mod:`ltp_brainpy.registry`).

A target reads the runs of its protocol as a :class:`Runs` (in config order, each a result
with the ``arguments`` it was called with, defaults filled in, and its ``model`` parameters)
and selects among them by argument and condition (``runs.where(n_pairs=60)``,
``runs.change('hold', 0.0, u.mV)``), never by run label. A target whose runs are not in the
config (:class:`TargetError`) is reported as not applicable (``n/a``) with the reason; any
other error of its measure as a failure with the reason. Nothing is dropped.
A :class:`Target` object declared by several protocols reads the runs of all of them and is
evaluated once, after the targets of single protocols.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from typing import Any, Callable, Mapping, Optional

import numpy as np
import saiunit as u

from ._validate import ParameterError, quantity

__all__ = ['Argument', 'Target', 'TargetError', 'Protocol', 'Runs', 'protocol', 'register',
           'unregister', 'PROTOCOLS', 'RUNTIME', 'REQUIRED', 'MAX_COUNT', 'MAX_STEPS',
           'MAX_SYNAPSES', 'SETTLE_MS']

#: Arguments the runner sets from the config's top level (``dt``, ``seed``) or the command line
#: (``pbar``), passed to a protocol whose function takes them.
RUNTIME = ('dt', 'seed', 'pbar')
#: Largest count (pulses, pairs, trains, inputs) a protocol accepts: beyond it a run would not
#: fit in memory or finish.
MAX_COUNT = 1_000_000
#: Longest run a config may ask for, in steps of dt (the simulations count steps in 32 bits).
MAX_STEPS = 2 ** 31 - 1
#: Most synapses the network experiments may build.
MAX_SYNAPSES = 10_000_000
#: Settling and lead time (ms) the pulse and pair protocols add to a run.
SETTLE_MS = 1050.0


class _Required:
    def __repr__(self):
        return 'REQUIRED'


#: The default of an argument that a config must give.
REQUIRED = _Required()


def count(owner, name, value, minimum=1):
    """``value`` as an int in ``[minimum, MAX_COUNT]``, or :class:`ParameterError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not minimum <= value <= MAX_COUNT:
        raise ParameterError(f'{owner}: parameter {name!r} must be an integer in '
                             f'[{minimum}, {MAX_COUNT:,}], got {value!r}')
    return int(value)


# --------------------------------------------------------------------------- arguments
@dataclasses.dataclass(frozen=True)
class Argument:
    """One argument of a protocol, as a config gives it.

    ``kind`` is a saiunit unit (a quantity in a dimension compatible with it, written
    ``"2 ms"``), ``int`` (a count in [1, MAX_COUNT]), ``bool``, ``str``, ``float`` (a finite
    non-negative number), ``'sizes'`` (a list of at least two positive integers) or
    ``'patterns'`` (a list of equal-length lists of numbers in [0, 1]). ``positive`` and
    ``nonnegative`` constrain a quantity's sign; ``per_condition`` lets it list one value per
    condition (otherwise a single value); ``step`` requires it to amount to at least one step
    of ``dt`` (a duration, or a frequency as its period). ``default`` is filled in from the
    function's signature (:data:`REQUIRED` if it has none); give it for an argument that the
    function takes through ``**params``.
    """
    kind: Any
    doc: str = ''
    positive: bool = False
    nonnegative: bool = False
    per_condition: bool = False
    step: bool = False
    default: Any = None

    @property
    def is_quantity(self) -> bool:
        return isinstance(self.kind, u.Unit)

    @property
    def checks(self) -> dict:
        return {k: True for k in ('positive', 'nonnegative') if getattr(self, k)}

    def kind_text(self) -> str:
        """The unit or type, as ``ltp-brainpy list --protocols`` shows it."""
        if self.is_quantity:
            text = str(self.kind)
            return f'[{text}]' + (' list' if self.per_condition else '')
        return {int: 'integer', bool: 'true/false', str: 'string', float: 'number',
                'sizes': 'list of integers', 'patterns': 'list of lists'}.get(self.kind,
                                                                               str(self.kind))

    def default_text(self) -> str:
        value = self.default
        if value is REQUIRED:
            return 'required'
        if value is None:
            return 'none'
        if isinstance(value, u.Quantity):
            return f'{float(np.asarray(value.mantissa)):g} {value.unit}' \
                if np.ndim(value.mantissa) == 0 else str(value)
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, tuple):
            return str(list(value))
        return repr(value) if isinstance(value, str) else str(value)

    def check(self, protocol: str, name: str, value):
        """Validate one value (unit, sign, type) of this argument; returns it (normalised) or
        raises :class:`ParameterError` naming ``protocol`` and ``name``."""
        kind = self.kind
        where = f'{protocol}: parameter {name!r}'
        if kind is int:
            return count(protocol, name, value)
        if kind is bool or kind is str:
            if not isinstance(value, kind):
                raise ParameterError(f'{where} must be a {kind.__name__}, got {value!r}')
            return value
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0 <= value < np.inf:
                raise ParameterError(f'{where} must be a finite non-negative number, '
                                     f'got {value!r}')
            return float(value)
        if kind == 'sizes':
            if not isinstance(value, list) or len(value) < 2 or not all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in value):
                raise ParameterError(f'{where} must list at least two positive integers, '
                                     f'got {value!r}')
            return value
        if kind == 'patterns':
            try:
                array = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                array = np.zeros(0)
            if array.ndim != 2 or array.size == 0 or array.min() < 0 or array.max() > 1:
                raise ParameterError(f'{where} must be a list of equal-length lists of numbers '
                                     f'in [0, 1], got {value!r}')
            return array.tolist()
        if not self.is_quantity:
            raise TypeError(f'{protocol}: argument {name!r} has an unknown kind {kind!r}')
        return quantity(protocol, name, value, kind, **self.checks)


# --------------------------------------------------------------------------- targets
class TargetError(Exception):
    """A target cannot be evaluated on the runs at hand (the reason is reported)."""


def _same(value, expected) -> bool:
    """Whether an argument's value equals ``expected`` (quantities compared numerically)."""
    if isinstance(expected, u.Quantity) or isinstance(value, u.Quantity):
        if not (isinstance(expected, u.Quantity) and isinstance(value, u.Quantity)) \
                or not u.have_same_dim(value, expected):
            return False
        a = np.asarray(value.to_decimal(expected.unit), dtype=float)
        b = np.asarray(expected.mantissa, dtype=float)
        return a.shape == b.shape and bool(np.all(np.isclose(a, b)))
    if isinstance(expected, float) or isinstance(value, float):
        try:
            return bool(np.isclose(float(value), float(expected)))
        except (TypeError, ValueError):
            return False
    return value == expected and type(value) is type(expected)


def _text(value) -> str:
    if isinstance(value, u.Quantity) and np.ndim(value.mantissa) == 0:
        return f'{float(np.asarray(value.mantissa)):g} {value.unit}'
    return str(value) if isinstance(value, u.Quantity) else repr(value)


def _same_model(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)


class Runs(list):
    """The runs of a protocol (results carrying their ``arguments`` and ``model``) that a
    target measures, in config order, with selection by argument and condition."""

    def __init__(self, runs=(), name: str = ''):
        super().__init__(runs)
        self.name = name

    def where(self, **arguments) -> 'Runs':
        """The runs called with these argument values (quantities compared numerically);
        :class:`TargetError` if there is none."""
        chosen = Runs([r for r in self if all(
            name in r.arguments and _same(r.arguments[name], value)
            for name, value in arguments.items())], self.name)
        if not chosen:
            what = ', '.join(f'{k} = {_text(v)}' for k, v in arguments.items())
            raise TargetError(f'no {self.name or "matching"} run' + (f' with {what}' if what
                                                                      else ''))
        return chosen

    def same_model(self) -> 'Runs':
        """The runs with the model parameters of the first run (other models, such as the
        other rules of a rule atlas, are not mixed into one target)."""
        if not self:
            return self
        first = self[0].model
        return Runs([r for r in self if _same_model(r.model, first)], self.name)

    def values(self, key: str, unit=None) -> np.ndarray:
        """Condition ``key`` of every run, concatenated (in ``unit`` for a quantity)."""
        parts = []
        for r in self:
            if key not in r.conditions:
                raise TargetError(f'{r.protocol}: no condition {key!r}')
            value = r.conditions[key]
            parts.append(np.atleast_1d(np.asarray(
                value.to_decimal(unit) if isinstance(value, u.Quantity) else value)))
        if not parts:
            raise TargetError(f'no {self.name or "matching"} run')
        return np.concatenate(parts)

    def changes(self) -> np.ndarray:
        """The weight change of every condition of every run, concatenated."""
        if not self:
            raise TargetError(f'no {self.name or "matching"} run')
        if any(r.weight_change is None for r in self):
            raise TargetError(f'{self.name}: no weight change')
        return np.concatenate([np.atleast_1d(np.asarray(r.weight_change, dtype=float))
                               for r in self])

    def change(self, key: str, value: float, unit=None) -> float:
        """The weight change of the first condition ``key == value`` (``value`` in ``unit``)
        among the runs."""
        values, changes = self.values(key, unit), self.changes()
        matches = np.flatnonzero(np.isclose(values.astype(float), value))
        if not len(matches):
            raise TargetError(f'{self.name}: no condition {key} = {value:g}'
                              + (f' {unit}' if unit is not None else ''))
        return float(changes[matches[0]])


@dataclasses.dataclass(frozen=True)
class Target:
    """One row of the target table: ``measure(runs)`` (``runs`` a :class:`Runs`) gives the
    measured value, ``passes(value)`` whether it meets the target.

    ``name`` (the row's ``protocol`` column), ``condition`` and ``target`` describe the row;
    ``unit`` says how the measured value is shown: ``'%'`` (fractions, one or several),
    ``'peak'`` (a (position in ms, fraction) pair), ``'ms'``, ``'Hz'`` or ``''`` (plain).
    With ``one_model`` (the default) the target reads only the runs that share the model
    parameters of the first run of its protocol; otherwise every run (each checked against
    its own model, say).
    """
    name: str
    condition: str
    target: str
    measure: Callable
    passes: Callable
    unit: str = '%'
    one_model: bool = True

    @property
    def protocol(self) -> str:  # the row's first column, as it was called before
        return self.name

    def text(self, value) -> str:
        if self.unit == '%':
            return ' / '.join(f'{100 * v:+.1f} %' for v in np.atleast_1d(value))
        if isinstance(value, tuple):  # (position, value) of a peak
            return f'{100 * value[1]:+.1f} % at {value[0]:+g} ms'
        return f'{value:.3g}' + (f' {self.unit}' if self.unit else '')

    def evaluate(self, runs: Runs) -> dict:
        """The row of this target on ``runs``: ``protocol`` (the target's name),
        ``condition``, ``target``, ``measured``, ``passed`` and ``measured_text``, and
        ``error`` (the reason) when it cannot be evaluated: ``passed`` is None (``n/a``) when
        the runs do not include what it measures (:class:`TargetError`), False when its
        measure fails otherwise."""
        row = dict(protocol=self.name, condition=self.condition, target=self.target)
        try:
            value = self.measure(runs.same_model() if self.one_model else runs)
        except TargetError as err:  # this config does not run what the target measures
            return dict(row, measured=None, passed=None, measured_text='n/a', error=str(err))
        except Exception as err:  # reported, never dropped
            return dict(row, measured=None, passed=False, measured_text='error',
                        error=f'{type(err).__name__}: {err}')
        try:
            passed = bool(self.passes(value))
        except (TypeError, ValueError, IndexError):  # NaN or a missing value: not passed
            passed = False
        return dict(row, measured=value, passed=passed, measured_text=self.text(value))


# --------------------------------------------------------------------------- protocols
def _resolve(reference):
    """A callable, or ``'module:name'`` imported when first needed (figures need matplotlib)."""
    if reference is None or callable(reference):
        return reference
    module, _, name = reference.partition(':')
    return getattr(importlib.import_module(module), name)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A declared protocol; calling it calls its function and records, on the result, the
    arguments (defaults filled in) and model parameters of the call.

    ``arguments`` maps each name a config may give to its :class:`Argument` (defaults taken
    from the function's signature); ``figure(runs)`` draws ``[(label, ProtocolResult)]``
    (a callable or ``'module:name'``, or None for no figure); ``targets`` are :class:`Target`
    rows on its runs; ``check(args, model, dt, where)`` makes the checks that involve several
    arguments, the model or ``dt`` (``args`` has the defaults filled in) and returns
    ``(length in ms, formula)`` of the run, or None, for the step limit.
    """
    name: str
    function: Callable
    arguments: Mapping[str, Argument] = dataclasses.field(default_factory=dict)
    figure: Any = None
    targets: tuple = ()
    check: Optional[Callable] = None
    doc: str = ''

    def __post_init__(self):
        signature = inspect.signature(self.function).parameters
        takes_params = any(p.kind is p.VAR_KEYWORD for p in signature.values())
        arguments = {}
        for key, argument in dict(self.arguments).items():
            if key in RUNTIME:
                raise ValueError(f'protocol {self.name!r}: {key!r} is set by the runner, not '
                                 f'declared as an argument')
            if key in signature:
                default = signature[key].default
                argument = dataclasses.replace(
                    argument, default=REQUIRED if default is inspect.Parameter.empty else default)
            elif not takes_params:
                raise ValueError(f'protocol {self.name!r}: argument {key!r} is not a parameter '
                                 f'of {self.function.__name__} (and it takes no **params)')
            arguments[key] = argument
        object.__setattr__(self, 'arguments', arguments)
        object.__setattr__(self, 'targets', tuple(self.targets))
        if not self.doc:
            doc = inspect.getdoc(self.function) or ''
            doc = re.sub(r':\w+:`~?([^`]*)`', r'\1', doc.split('\n\n')[0]).replace('``', '')
            object.__setattr__(self, 'doc', ' '.join(doc.split()))

    # the schema ---------------------------------------------------------------------------
    @property
    def defaults(self) -> dict:
        """Every argument's default (:data:`REQUIRED` for a required one)."""
        return {k: a.default for k, a in self.arguments.items()}

    @property
    def required(self) -> set:
        return {k for k, a in self.arguments.items() if a.default is REQUIRED}

    def accepts(self, name: str) -> bool:
        """Whether the function has a parameter ``name`` (``dt``, ``seed``, ``pbar`` ...)."""
        return name in inspect.signature(self.function).parameters

    def figure_function(self):
        return _resolve(self.figure)

    # running ------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        """Call the function; the result records the call's ``arguments`` (declared ones,
        defaults filled in) and ``model`` (the other keyword arguments but the runtime ones)."""
        result = self.function(*args, **kwargs)
        signature = inspect.signature(self.function).parameters
        given = {}
        for key, value in inspect.signature(self.function).bind_partial(
                *args, **kwargs).arguments.items():
            if signature[key].kind is inspect.Parameter.VAR_KEYWORD:
                given.update(value)
            else:
                given[key] = value
        arguments = {k: given.get(k, a.default) for k, a in self.arguments.items()}
        model = {k: v for k, v in given.items() if k not in self.arguments and k not in RUNTIME
                 and k not in signature}
        if hasattr(result, 'arguments'):
            result.arguments = {k: v for k, v in arguments.items() if v is not REQUIRED}
            result.model = model
        return result

    def run(self, arguments: dict, model: dict, dt=None, seed=None, pbar=False):
        """Run with a config's validated ``arguments`` and ``model`` parameters, passing
        ``dt``, ``seed`` and ``pbar`` where the function takes them."""
        kwargs = dict(arguments)
        for name, value in (('dt', dt), ('seed', seed), ('pbar', pbar)):
            if value is not None and self.accepts(name):
                kwargs[name] = value
        return self(**kwargs, **model)


#: Every declared protocol by name (filled as the declaring modules are imported).
PROTOCOLS: dict = {}


def register(declaration: Protocol, replace: bool = False) -> Protocol:
    """Add ``declaration`` to :data:`PROTOCOLS`; a second protocol of the same name is refused
    unless ``replace``."""
    old = PROTOCOLS.get(declaration.name)
    if old is not None and not replace and old.function is not declaration.function:
        raise ValueError(f'a protocol named {declaration.name!r} is already declared '
                         f'({old.function.__module__}.{old.function.__qualname__})')
    PROTOCOLS[declaration.name] = declaration
    return declaration


def unregister(name: str) -> None:
    """Remove the protocol ``name`` from :data:`PROTOCOLS` (if declared)."""
    PROTOCOLS.pop(name, None)


def protocol(name: str, arguments: Optional[Mapping[str, Argument]] = None, figure=None,
             targets=(), check=None, doc: str = '', replace: bool = False):
    """Decorator declaring (and registering) the protocol ``name`` for a function; returns the
    function unchanged, with its :class:`Protocol` as ``function.declaration``."""
    def declare(function):
        declaration = register(Protocol(name, function, dict(arguments or {}), figure,
                                        tuple(targets), check, doc), replace=replace)
        function.declaration = declaration
        return function
    return declare
