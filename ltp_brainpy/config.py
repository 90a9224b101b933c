"""Experiment configs: TOML with units, parsed into validated settings.

A quantity is written as a string, number then unit: ``t_ap = "2 ms"``,
``rho = "0.0025 uM/(ms*nS*mV)"``, ``gamma_p = "2 /s"``; lists of them are allowed
(``hold = ["0 mV", "-70 mV"]``). A config holds top-level settings, a ``[model]`` table of
model parameter overrides, optionally a ``preset`` (a parameter set, e.g. one fitted to data
by ``ltp-brainpy fit``, whose ``[model]`` table the config's own ``[model]`` overrides) and one
or more ``[[run]]`` tables, each naming a protocol and its arguments::

    title = "Pairing"
    dt = "0.1 ms"
    seed = 0
    preset = "cortex_l5"   # optional: a bundled preset's name or a preset.toml path

    [model]
    theta_p = "0.55 uM"

    [[run]]
    label = "pairing"
    protocol = "pairing"
    hold = ["0 mV", "-70 mV"]

What a ``[[run]]`` table may hold comes from its protocol's declaration
(:mod:`ltp_brainpy.declare`, collected in :mod:`ltp_brainpy.registry`): the argument names,
their units or types, signs, defaults and whether they list one value per condition, plus the
protocol's own checks at load (run length, sizes, a current that makes the neuron fire).
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import math
import operator
import re
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import saiunit as u

from ._validate import ParameterError, quantity
from .parameters import default_parameters, parameter_names, rule_class, unknown_key_error
from .declare import MAX_STEPS, REQUIRED
from .registry import PROTOCOLS
from .simulate import DEFAULT_DT

__all__ = ['Config', 'RunSpec', 'load_config', 'load_preset', 'bundled_presets', 'parse_quantity',
           'apply_overrides']

TOP_LEVEL = {'title', 'description', 'dt', 'seed', 'preset', 'model', 'run', 'quick'}
PRESET_KEYS = {'title', 'description', 'source', 'model'}
_QUANTITY = re.compile(r'^\s*([-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf|nan))\b\s*(.*?)\s*$',
                       re.IGNORECASE)
_OPS = {ast.Mult: operator.mul, ast.Div: operator.truediv, ast.Pow: operator.pow}
_ALIASES = {'s': u.second, 'sec': u.second, 'min': u.minute, 'V': u.volt, 'A': u.amp,
            'S': u.siemens, 'F': u.farad, 'M': u.molar}


def _unit_of(expr: str, field: str):
    """Evaluate a unit expression like ``uM/(ms*nS*mV)`` or ``/s`` with saiunit's units only."""
    text = expr.replace('^', '**').replace('µ', 'u').replace('μ', 'u')
    if text.startswith('/'):
        text = '1' + text

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name):
            unit = _ALIASES.get(node.id, getattr(u, node.id, None))
            if isinstance(unit, u.Unit):
                return unit
        raise ParameterError(f'{field}: unknown unit {expr!r}')

    try:
        tree = ast.parse(text, mode='eval')
    except SyntaxError:
        raise ParameterError(f'{field}: cannot read the unit {expr!r}') from None
    try:
        unit = ev(tree)
    except ParameterError:
        raise
    except (ArithmeticError, TypeError, ValueError):
        raise ParameterError(f'{field}: cannot read the unit {expr!r}') from None
    if not isinstance(unit, (u.Unit, u.Quantity)):
        raise ParameterError(f'{field}: {expr!r} is not a unit')
    return unit


def parse_quantity(value, field: str):
    """``"2 ms"`` -> ``2 * u.ms``; numbers, booleans and other strings are returned unchanged.

    Lists are parsed element-wise into one quantity array (all elements in the same dimension).
    """
    if isinstance(value, list):
        items = [parse_quantity(v, f'{field}[{i}]') for i, v in enumerate(value)]
        kinds = [isinstance(v, u.Quantity) for v in items]
        if any(kinds) and not all(kinds):
            i = kinds.index(False)
            raise ParameterError(f'{field}[{i}]: expected a quantity such as "1 ms", like the '
                                 f'other elements, got {value[i]!r}')
        if items and all(kinds):
            unit = items[0].unit
            for i, v in enumerate(items):
                if np.ndim(v.mantissa) != 0:
                    raise ParameterError(f'{field}[{i}]: expected a quantity such as "1 ms", '
                                         f'got the list {value[i]!r}')
                if not u.have_same_dim(v, unit):
                    raise ParameterError(f'{field}[{i}]: unit {v.unit} does not match {unit}')
            return u.Quantity(np.array([float(v.to_decimal(unit)) for v in items]), unit=unit)
        return items
    if not isinstance(value, str):
        return value
    match = _QUANTITY.match(value)
    if not match:
        return value
    number, unit = float(match.group(1)), match.group(2)
    if math.isnan(number):
        raise ParameterError(f'{field}: {value!r} is not a number')
    if not unit:
        raise ParameterError(f'{field}: {value!r} has no unit (write e.g. "{number} ms")')
    return number * _unit_of(unit, field)


@dataclasses.dataclass
class RunSpec:
    """One protocol call of an experiment."""
    label: str
    protocol: str
    arguments: dict
    model: dict  # model parameters of this run: [model], then the run's own [run.model]


@dataclasses.dataclass
class Config:
    """A validated experiment config."""
    name: str
    title: str
    dt: u.Quantity
    seed: int
    model: dict
    runs: list
    raw: dict  # the resolved TOML (with overrides applied), written next to the results


def check_dt(dt, model: dict) -> None:
    """Reject a ``dt`` too coarse for the fastest time constant of the model (need 5 steps)."""
    defaults = {k: v for params in default_parameters().values() for k, v in params.items()}
    p = {**defaults, **model}
    fastest = {
        'tau_clear': p['tau_clear'], 'T_dur': p['T_dur'], 't_ap': p['t_ap'],
        '1/k_rel': 1 / p['k_rel'], '1/alpha1': 1 / p['alpha1'], '1/beta_A': 1 / p['beta_A'],
        '1/beta2': 1 / p['beta2'],
    }
    name, tau = min(fastest.items(), key=lambda kv: float(kv[1] / u.ms))
    if float(dt / u.ms) > float(tau / u.ms) / 5 * (1 + 1e-9):
        raise ParameterError(
            f'dt: {dt} is too large for the fastest time constant of the model, {name} = '
            f'{tau.in_unit(u.ms)}; use dt <= {float(tau / u.ms) / 5:g} ms')


def bundled_presets() -> list:
    """Names of the parameter presets shipped with the package."""
    folder = resources.files('ltp_brainpy') / 'presets'
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith('.toml'))


def _read_toml(path: Path, what: str) -> dict:
    if path.is_dir():
        raise ParameterError(f'{what}: {str(path)!r} is a folder, expected a TOML file')
    if not path.is_file():
        raise ParameterError(f'{what}: no such file {str(path)!r}')
    try:
        return tomllib.loads(path.read_text(encoding='utf-8'))
    except UnicodeDecodeError:
        raise ParameterError(f'{what}: {path} is not a UTF-8 text file') from None
    except tomllib.TOMLDecodeError as err:
        raise ParameterError(f'{what}: {path}: {err}') from None


def load_preset(source, base: Path | None = None) -> dict:
    """The ``[model]`` table (raw TOML values) of a preset: a bundled preset's name
    (:func:`bundled_presets`) or a TOML file (relative paths are tried in ``base`` first)."""
    if not isinstance(source, str) or not source:
        raise ParameterError(f'preset: must be a preset name or a file path, got {source!r}')
    path = Path(source)
    if path.suffix != '.toml' and source in bundled_presets():
        text = (resources.files('ltp_brainpy') / 'presets' / f'{source}.toml').read_text('utf-8')
        raw = tomllib.loads(text)
    else:
        if base is not None and not path.is_absolute() and (base / path).is_file():
            path = base / path
        if path.suffix != '.toml' and not path.exists():
            raise ParameterError(f'preset: no preset named {source!r} (bundled: '
                                 f'{", ".join(bundled_presets())}) and no such file')
        raw = _read_toml(path, 'preset')
    for key in raw:
        if key not in PRESET_KEYS:
            raise unknown_key_error('preset', key, PRESET_KEYS)
    model = raw.get('model')
    if not isinstance(model, dict):
        raise ParameterError(f'preset: {source} needs a [model] table')
    return model


def _label(label, where: str) -> str:
    """A run label, which names its result files: a plain, non-empty file name."""
    if (not isinstance(label, str) or not label.strip() or label.startswith('.')
            or any(c in label for c in '/\\\0:')):
        raise ParameterError(f'{where}.label: must be a non-empty name without /, \\, : or a '
                             f'leading dot (it names the result files), got {label!r}')
    return label


def _table(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise ParameterError(f'{where}: must be a table of model parameters, got {value!r}')
    return value


def _model(given: dict, where: str) -> dict:
    """Validated model parameters (quantities) of a raw ``[model]`` table."""
    given, model = dict(given), {}
    if 'rule' in given:
        model['rule'] = given.pop('rule')
        rule_class(model['rule'], where)
    owners, defaults = parameter_names(**model), default_parameters(**model)
    for key, value in given.items():
        if key not in owners:
            raise unknown_key_error(where, key, owners)
        expected = defaults[owners[key]][key]
        value = parse_quantity(value, f'{where}.{key}')
        if isinstance(expected, u.Quantity):
            value = quantity(where, key, value, expected.unit, allow_inf=True)
            if np.ndim(value.mantissa) != 0:
                raise ParameterError(f'{where}.{key}: expected a single value, got {given[key]!r}')
        model[key] = value
    _build_model(model, where)
    return model


def _build_model(model: dict, where: str) -> None:
    """Construct the model once, so that every value is checked by its component (ranges,
    orderings such as theta_d < theta_p) before anything runs."""
    from .pathway import Pathway
    try:
        Pathway(1, 1, **model)
    except ParameterError as err:
        raise ParameterError(f'{where}: {err}') from None


def __getattr__(name):
    if name == 'CONDITION_ARGUMENTS':  # quantity arguments that may list one value per condition
        return {k for p in PROTOCOLS.values() for k, a in p.arguments.items() if a.per_condition}
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def _check_run(protocol: str, arguments: dict, model: dict, dt, where: str) -> None:
    """Checks of a run that involve several arguments, the model or dt, made here so that a
    config fails before any of its runs is simulated: a single value where the declaration
    wants one, a frequency or duration of at least one step (``Argument.step``), then the
    protocol's own ``check`` (a current that makes the neuron fire, sizes that fit ...), whose
    run length must fit the step counter."""
    declared = PROTOCOLS[protocol]
    args = {k: v for k, v in {**declared.defaults, **arguments}.items() if v is not REQUIRED}

    def ms(value):
        return np.asarray(value.to_decimal(u.ms), dtype=float)

    dt_ms = float(dt.to_decimal(u.ms))
    for name, value in arguments.items():
        if isinstance(value, u.Quantity) and not declared.arguments[name].per_condition \
                and np.ndim(value.mantissa) != 0:
            raise ParameterError(f'{where}: parameter {name!r} expected a single value, got '
                                 f'{value}')
    stepped = [(k, a) for k, a in declared.arguments.items()
               if a.step and a.is_quantity and args.get(k) is not None]
    for name, argument in stepped:  # frequencies first, then durations
        if u.have_same_dim(argument.kind, u.Hz):
            periods = np.round(1000.0 / np.asarray(args[name].to_decimal(u.Hz), dtype=float)
                               / dt_ms)
            if (periods < 1).any():
                raise ParameterError(f'{where}: parameter {name!r} must amount to at least one '
                                     f'step of dt = {dt} (a frequency at most 1/dt = '
                                     f'{1000.0 / dt_ms:g} Hz), got {args[name]}')
    for name, argument in stepped:
        if not u.have_same_dim(argument.kind, u.Hz) and (np.round(ms(args[name]) / dt_ms) < 1).any():
            raise ParameterError(f'{where}: parameter {name!r} must amount to at least one '
                                 f'step of dt = {dt}, got {args[name]}')
    if declared.check is None:
        return
    run = declared.check(args, model, dt, where)
    if run is None:
        return
    length, formula = run
    steps = length / dt_ms
    if steps > MAX_STEPS:
        raise ParameterError(f'{where}: the run ({formula}) expected at most {MAX_STEPS:,} '
                             f'steps of dt = {dt}, got {steps:.3g} steps ({length / 1000:.3g} s)')


def _build(raw: dict, name: str, base: Path | None = None) -> Config:
    for key in raw:
        if key not in TOP_LEVEL:
            raise unknown_key_error('config', key, TOP_LEVEL)
    dt = quantity('config', 'dt', parse_quantity(raw.get('dt', str(DEFAULT_DT)), 'dt'), u.ms,
                  positive=True)
    if np.ndim(dt.mantissa) != 0:
        raise ParameterError(f'dt: expected a single duration such as "0.1 ms", got {raw["dt"]!r}')
    seed = raw.get('seed', 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
        raise ParameterError(f'seed: must be an integer in [0, 2**32), got {seed!r}')
    if 'quick' in raw and not isinstance(raw['quick'], dict):
        raise ParameterError(f'quick: expected a table of --set assignments, got '
                             f'{raw["quick"]!r}')
    for key in ('title', 'description'):
        if key in raw and not isinstance(raw[key], str):
            raise ParameterError(f'{key}: must be a string, got {raw[key]!r}')

    preset = load_preset(raw['preset'], base) if 'preset' in raw else {}
    if preset:
        _model(preset, 'preset')  # its own errors name the preset, not the config's [model]
    base_model = {**preset, **_table(raw.get('model', {}), 'model')}
    model = _model(base_model, 'model')
    check_dt(dt, model)

    runs = raw.get('run', [])
    if not isinstance(runs, list) or not runs:
        raise ParameterError('run: a config needs at least one [[run]] table')
    specs = []
    for index, run in enumerate(runs):
        where = f'run[{index}]'
        if not isinstance(run, dict):
            raise ParameterError(f'{where}: must be a [[run]] table, got {run!r}')
        protocol = run.get('protocol')
        if protocol not in PROTOCOLS:
            raise (unknown_key_error(f'{where}.protocol', str(protocol), PROTOCOLS)
                   if protocol else ParameterError(f'{where}.protocol: missing'))
        declared = PROTOCOLS[protocol]
        allowed = set(declared.arguments)
        arguments = {}
        run_model = (_model({**base_model, **_table(run['model'], f'{where}.model')},
                            f'{where}.model') if 'model' in run else model)
        for key, value in run.items():
            if key in ('label', 'protocol', 'model'):
                continue
            if key not in allowed:
                raise unknown_key_error(f'{where} ({protocol})', key, allowed)
            if declared.arguments[key].is_quantity:  # a quantity, or a list of them
                if value == []:
                    raise ParameterError(f'{where}.{key}: expected at least one value, got []')
                value = parse_quantity(value, f'{where}.{key}')
            arguments[key] = declared.arguments[key].check(protocol, key, value)
        for key in sorted(declared.required - set(arguments)):
            raise ParameterError(f'{where} ({protocol}): missing required parameter {key!r}')
        _check_run(protocol, arguments, run_model, dt, f'{where} ({protocol})')
        specs.append(RunSpec(_label(run.get('label', f'{protocol}_{index}'), where), protocol,
                             arguments, run_model))
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise ParameterError(f'run: labels must be unique, got {labels}')
    return Config(name, raw.get('title', name), dt, seed, model, specs, raw)


def apply_overrides(raw: dict, assignments) -> dict:
    """Apply ``--set key=value`` assignments to a raw config.

    ``key`` is a model parameter (``theta_p``), a top-level setting (``dt``), or a dotted path
    (``model.theta_p``, ``run.0.n_pulses``). Values are TOML values (``200``, ``true``,
    ``"2 Hz"``); a bare word is taken as a string, so ``theta_p=0.6 uM`` also works.
    """
    raw = copy.deepcopy(raw)
    for assignment in assignments:
        if '=' not in assignment:
            raise ParameterError(f'--set: expected key=value, got {assignment!r}')
        key, text = (s.strip() for s in assignment.split('=', 1))
        if not all(part.strip() for part in key.split('.')):
            raise ParameterError(f'--set: expected key=value with a key such as theta_p or '
                                 f'run.0.n_pairs, got {assignment!r}')
        try:
            value = tomllib.loads(f'v = {text}')['v']
        except tomllib.TOMLDecodeError:
            value = text
        _assign(raw, key, value, '--set')
    return raw


def _assign(raw: dict, key: str, value, where: str) -> None:
    """Set the dotted ``key`` of ``raw`` to ``value`` (``--set`` and ``[quick]``)."""
    path = key.split('.')
    if len(path) == 1 and key not in TOP_LEVEL:
        path = ['model', key]
    if len(path) == 2 and path[0] == 'run' or path[0] in TOP_LEVEL - {'model', 'run'} \
            and len(path) > 1:
        raise ParameterError(f'{where} {key}: set a key of a table (run.0.KEY=..., '
                             f'model.KEY=...), not a whole table or a plain setting')
    target = raw
    for part in path[:-1]:
        if isinstance(target, list):
            if not part.isdigit() or int(part) >= len(target):
                raise ParameterError(f'{where} {key}: no run number {part!r}')
            target = target[int(part)]
        else:
            target = target.setdefault(part, {})
            if not isinstance(target, (dict, list)):
                raise ParameterError(f'{where} {key}: {part!r} is not a table')
    target[path[-1]] = value


def load_config(path, overrides=(), preset=None, quick: bool = False) -> Config:
    """Read, override and validate a TOML config; raises :class:`ParameterError` on bad input.

    ``preset`` (a bundled preset's name or a preset file) replaces the config's own ``preset``.
    ``quick`` applies the config's ``[quick]`` table first: assignments like ``--set``'s
    (``"run.0.n_hidden" = 30``) that make a short version of the experiment.
    """
    path = Path(path)
    raw = _read_toml(path, 'config')
    if preset is not None:
        raw['preset'] = str(preset)
    if quick:
        if not isinstance(raw.get('quick'), dict):
            raise ParameterError(f'--quick: expected a [quick] table in {path.name}, which has '
                                 f'none')
        for key, value in raw['quick'].items():
            _assign(raw, key, value, 'quick')
    return _build(apply_overrides(raw, overrides), path.stem, base=path.parent)
