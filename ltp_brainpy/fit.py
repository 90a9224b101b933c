r"""Fit model parameters to plasticity data by gradients through the whole simulation.

Given a data set (:mod:`ltp_brainpy.datasets`: one row per experiment, with its measured
relative change :math:`y_r` and standard error :math:`s_r`), :func:`fit` finds the free
parameters :math:`p` that minimise

.. math:: \chi^2(p) = \sum_r \left(\frac{m_r(p) - y_r}{s_r}\right)^2,

where :math:`m_r(p)` is the model's weight change for the protocol of row :math:`r`. Every row
runs in one batched, compiled simulation (on the multi-rate grid of :mod:`ltp_brainpy.timegrid`,
so the seconds between trains cost little), and :math:`\nabla\chi^2` comes from ``jax.grad``
through that simulation.

Each free parameter lives in its bounds through a smooth transform, :math:`p = l + (h - l)\,
\sigma(\vartheta)` (on a log scale when :math:`l > 0`), so the optimiser works on an unbounded
:math:`\vartheta`. Several starting points run as one batch: the first is the model's
defaults (or ``start``), the others are drawn uniformly in the (log-)bounds. All starts take
``iterations`` Adam steps (optax); the best one is then polished with L-BFGS (optax). The
uncertainties are the square roots of the diagonal of :math:`(J^\top J)^{-1}`, the inverse
curvature of :math:`\chi^2/2` at the optimum, with :math:`J = \partial r/\partial p` the
Jacobian of the residuals in SEM units (``jax.jacfwd``).

Examples
--------
>>> import saiunit as u
>>> from ltp_brainpy import fit
>>> result = fit.fit('markram1997', ['theta_p'], n_starts=1, iterations=2,
...                  polish=0)  # doctest: +SKIP
>>> result.parameters['theta_p']  # doctest: +SKIP

:func:`reproduce` is declared as the config protocol ``dataset`` (:mod:`ltp_brainpy.declare`).
"""
from __future__ import annotations

import dataclasses
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import saiunit as u

from . import declare, devices, protocols, simulate, trains
from ._validate import ParameterError, quantity
from .datasets import Dataset, load_dataset
from .neuron import heaviside
from .parameters import default_parameters, parameter_names, split_parameters, unknown_key_error
from .results import ProtocolResult

__all__ = ['fit', 'reproduce', 'FitResult', 'DatasetModel', 'free_parameter_names', 'BOUNDS',
           'STDP_FREE_PARAMETERS']

#: Default bounds of the parameters one usually fits (lower, upper); any other parameter can
#: be fitted with bounds given explicitly.
BOUNDS = {
    'theta_d': (0.02 * u.uM, 2.0 * u.uM),
    'theta_p': (0.05 * u.uM, 4.0 * u.uM),
    'kappa': (0.002 * u.uM, 0.2 * u.uM),
    'gamma_p': (0.01 / u.second, 100.0 / u.second),
    'gamma_d': (0.01 / u.second, 100.0 / u.second),
    'tau_ca': (5.0 * u.ms, 300.0 * u.ms),
    'rho': (1e-4 * u.uM / (u.ms * u.nS * u.mV), 0.05 * u.uM / (u.ms * u.nS * u.mV)),
    'gbar_N': (0.02 * u.nS, 5.0 * u.nS),
    'A_ca': (0.005 * u.uM, 2.0 * u.uM),
    'tau_ca_post': (5.0 * u.ms, 300.0 * u.ms),
    'A_bpap': (1.0 * u.mV, 100.0 * u.mV),
    'tau_bpap': (5.0 * u.ms, 100.0 * u.ms),
    'tau_rec': (50.0 * u.ms, 5000.0 * u.ms),
    'beta1': (0.005 / u.ms, 0.1 / u.ms),
}

#: Free parameters when none are named: the rule's thresholds and rates and the time courses
#: of the spine calcium (which set how pairs in a train add up).
STDP_FREE_PARAMETERS = ('theta_d', 'theta_p', 'gamma_p', 'gamma_d', 'tau_ca', 'tau_ca_post')

#: Parameters that set the timing of a protocol (the latency of the evoked spike) or the
#: model's structure, which a fit cannot vary.
NOT_FITTABLE = {'C', 'g_L', 'E_L', 'V_th', 'V_reset', 'V_ap', 't_ap', 't_ref', 'T_dur'}


# --------------------------------------------------------------------------- the model
class DatasetModel:
    """The model's prediction for every row of a data set, as one traceable function.

    Built once per data set (plans, time grids); :meth:`predict` then takes model parameters
    (plain or traced quantities) and returns the relative weight change per row. Rows run in
    one batch per protocol (STDP trains of any timing together; pulse trains together when
    they share their number of pulses and inputs).
    """

    def __init__(self, dataset: Dataset, fixed: dict | None = None, dt=simulate.DEFAULT_DT):
        self.dataset = dataset
        self.fixed = dict(fixed or {})
        self.dt = dt
        neuron = split_parameters(self.fixed, 'fit')['neuron']
        groups = {}
        for k, row in enumerate(dataset.rows):
            c = row.conditions
            key = (row.protocol, c.get('n_pulses'), c.get('n_inputs'))
            groups.setdefault(key, []).append(k)
        self._groups = []
        for (protocol, n_pulses, n_inputs), index in groups.items():
            rows = [dataset.rows[k] for k in index]
            self._groups.append((np.array(index), self._plan(protocol, rows, n_pulses, n_inputs,
                                                             neuron)))
        self._order = np.argsort(np.concatenate([index for index, _ in self._groups]))

    def _plan(self, protocol, rows, n_pulses, n_inputs, neuron):
        def column(name, unit):
            return u.Quantity(np.array([float(r.conditions[name].to_decimal(unit))
                                        for r in rows]), unit=unit)

        if protocol == 'stdp_trains':
            return trains.plan_pairs(column('delta_t', u.ms), column('frequency', u.Hz),
                                     [r.conditions['n_pairs'] for r in rows],
                                     [r.conditions['n_trains'] for r in rows],
                                     column('train_interval', u.ms), dt=self.dt,
                                     neuron_params=neuron, owner='fit')
        periods = np.round(np.asarray(u.maybe_decimal(1.0 / column('frequency', u.Hz) / self.dt)))
        settle = int(round(float(trains.SETTLE / self.dt)))
        if protocol == 'pairing':  # on the grid protocols.pairing uses
            return protocols.plan_pulses(periods.astype(np.int64), n_pulses, 1, settle, self.dt,
                                         hold=np.asarray(column('hold', u.mV).mantissa),
                                         resolution=protocols.PAIRING_RESOLUTION)
        return protocols.plan_pulses(periods.astype(np.int64), n_pulses, n_inputs, settle,
                                     self.dt)

    def predict(self, **params):
        """Relative weight change per row (array), for model parameters ``params``."""
        changes = []
        for _, plan in self._groups:
            run = (trains.simulate_pairs if isinstance(plan, trains.PairPlan)
                   else protocols.simulate_pulses)
            w, w0 = run(plan, spk_fun=heaviside, **{**self.fixed, **params})[:2]
            changes.append(u.maybe_decimal(w[:, -1] / w0) - 1.0)
        return jnp.concatenate(changes)[self._order]


def _rows(dataset: Dataset, model_change) -> list:
    """Per row: id, protocol, the CSV columns, data, sem, model and residual (SEM units)."""
    return [dict(id=r.id, protocol=r.protocol, **r.columns(), data=r.change, sem=r.sem,
                 model=float(m), residual=float((m - r.change) / r.sem))
            for r, m in zip(dataset.rows, np.asarray(model_change))]


def reproduce(data, dt=simulate.DEFAULT_DT, **params) -> ProtocolResult:
    """Run every row of a data set with the model parameters ``params`` (a preset's, say).

    The ``dataset`` protocol of configs: ``weight_change`` per row next to the data, and in
    ``summary`` the :math:`\\chi^2` and the number of rows within 2 SEM.

    Parameters
    ----------
    data : str or path
        A data set (:func:`ltp_brainpy.datasets.load_dataset`).
    """
    dataset = load_dataset(data)
    change = np.asarray(jax.jit(lambda: DatasetModel(dataset, params, dt).predict())())
    rows = _rows(dataset, change)
    residual = np.array([r['residual'] for r in rows])
    return ProtocolResult(
        'dataset', {'id': np.array(dataset.ids)}, change,
        {'data': dataset.change, 'sem': dataset.sem},
        summary={'chi2': float(np.sum(residual ** 2)),
                 'rows_within_2_sem': int(np.sum(np.abs(residual) <= 2)), 'rows': rows})


def _check_dataset(args, model, dt, where):
    try:
        load_dataset(args['data'])
    except ParameterError as err:
        raise ParameterError(f"{where}: parameter 'data': {err}") from None


declare.protocol('dataset', figure='ltp_brainpy.plotting:dataset', check=_check_dataset,
                 arguments=dict(data=declare.Argument(
                     str, 'a data set: a bundled name or a CSV file')))(reproduce)


# --------------------------------------------------------------------------- parameters
@dataclasses.dataclass(frozen=True)
class _Free:
    """A free parameter: its bounds (in ``unit``) and the transform from the real line."""
    name: str
    unit: u.Unit
    lower: float
    upper: float

    @property
    def log(self) -> bool:
        return self.lower > 0

    @property
    def _range(self):
        """The bounds on the scale of the transform (log for positive bounds)."""
        return (np.log(self.lower), np.log(self.upper)) if self.log else (self.lower,
                                                                           self.upper)

    def to_value(self, theta):
        """Unbounded coordinate -> value in ``unit``."""
        lo, hi = self._range
        x = lo + (hi - lo) * jax.nn.sigmoid(theta)
        return jnp.exp(x) if self.log else x

    def to_theta(self, value):
        """Value in ``unit`` (inside the bounds) -> unbounded coordinate."""
        lo, hi = self._range
        x = np.log(value) if self.log else value
        f = np.clip((x - lo) / (hi - lo), 1e-6, 1 - 1e-6)
        return float(np.log(f / (1 - f)))

    @staticmethod
    def draw(rng):
        """A random unbounded coordinate: uniform in the middle 90 % of the (log-)bounds."""
        f = rng.uniform(0.05, 0.95)
        return float(np.log(f / (1 - f)))


def _named(params) -> dict:
    """``params`` as ``{name: bounds or None}``."""
    if params is None:
        params = STDP_FREE_PARAMETERS
    if isinstance(params, str):
        params = [p.strip() for p in params.split(',') if p.strip()]
    return dict(params) if isinstance(params, dict) else {name: None for name in params}


def free_parameter_names(params=None) -> list:
    """Names of the free parameters that ``fit(dataset, params)`` would fit, validated."""
    return [p.name for p in _free_parameters(params)]


def _free_parameters(params) -> list:
    owners, defaults = parameter_names(), default_parameters()
    params = _named(params)
    if not params:
        raise ParameterError('fit: parameter \'params\' names no free parameter')
    free = []
    for name, bounds in params.items():
        if name not in owners:
            raise unknown_key_error('fit', name, owners)
        if name in NOT_FITTABLE:
            raise ParameterError(f'fit: parameter {name!r} sets the timing of the protocols and '
                                 f'cannot be fitted; fix it instead')
        unit = defaults[owners[name]][name].unit
        if bounds is None:
            if name not in BOUNDS:
                raise ParameterError(f'fit: parameter {name!r} has no default bounds; give them '
                                     f'as {{{name!r}: (lower, upper)}}')
            bounds = BOUNDS[name]
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
            raise ParameterError(f'fit: bounds of {name!r} must be a pair (lower, upper), '
                                 f'got {bounds!r}')
        lo = float(quantity('fit', f'{name} lower bound', bounds[0], unit).to_decimal(unit))
        hi = float(quantity('fit', f'{name} upper bound', bounds[1], unit).to_decimal(unit))
        if not lo < hi:
            raise ParameterError(f'fit: bounds of {name!r} must have lower < upper, '
                                 f'got {bounds[0]} and {bounds[1]}')
        free.append(_Free(name, unit, lo, hi))
    return free


# --------------------------------------------------------------------------- the result
def _unit_text(unit) -> str:
    """A unit as configs write it: a rate as ``/s`` or ``/ms`` rather than ``Hz`` or ``kHz``."""
    text = {'Hz': '/s', 'kHz': '/ms'}.get(str(unit), str(unit))
    return '/' + text[4:] if text.startswith('1 / ') else text



@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    parameters : dict
        Fitted value (quantity) of every free parameter.
    uncertainty : dict
        Standard error (quantity) of every free parameter, from the curvature of
        :math:`\\chi^2` at the optimum (``inf`` where the data do not constrain it).
    fixed : dict
        The fixed overrides the fit ran with.
    rows : list of dict
        Per row: ``id``, ``data``, ``sem``, ``model``, ``residual`` (in SEM units).
    chi2, reduced_chi2 : float
        :math:`\\chi^2` and :math:`\\chi^2/(n_{rows} - n_{free})` (NaN without degrees of
        freedom).
    history : numpy.ndarray
        :math:`\\chi^2` of every start after every Adam step, (iteration, start), then the
        best start's L-BFGS steps in ``polish_history``.
    """
    dataset: str
    parameters: dict
    uncertainty: dict
    bounds: dict
    fixed: dict
    rows: list
    chi2: float
    reduced_chi2: float
    history: np.ndarray
    polish_history: np.ndarray
    best_start: int
    wall_time_s: float

    def model_parameters(self) -> dict:
        """Fixed and fitted parameters together: the overrides that reproduce the fit."""
        return {**self.fixed, **self.parameters}

    def preset_toml(self, title: str = '') -> str:
        """A preset file: the ``[model]`` table of the complete parameter set the fit found
        (fitted, fixed and default values, so later changes of the defaults leave it intact),
        which ``ltp-brainpy run --preset`` (or ``preset = "..."`` in a config) accepts."""
        lines = [f'title = "{title or "Fitted to " + self.dataset}"',
                 f'source = "ltp-brainpy fit of {self.dataset}: chi2 = {self.chi2:.3g}, '
                 f'reduced chi2 = {self.reduced_chi2:.3g}, {len(self.rows)} rows"', '',
                 '[model]  # fitted values carry their standard error']
        defaults = {k: v for group in default_parameters().values() for k, v in group.items()}
        for name, value in {**defaults, **self.model_parameters()}.items():
            if not isinstance(value, u.Quantity) or not np.isfinite(float(value.mantissa)):
                continue  # dimensionless factors and "never" (inf) stay at their defaults
            error = self.uncertainty.get(name)
            note = '' if error is None else \
                f'  # fitted, +- {float(error.mantissa):.3g} {_unit_text(error.unit)}'
            lines.append(f'{name} = "{float(value.mantissa):.6g} {_unit_text(value.unit)}"{note}')
        return '\n'.join(lines) + '\n'

    def summary(self) -> dict:
        """A JSON-ready dict (quantities as "value unit" strings)."""
        text = lambda q: f'{float(q.mantissa):.6g} {_unit_text(q.unit)}'  # noqa: E731
        return {
            'dataset': self.dataset,
            'parameters': {k: text(v) for k, v in self.parameters.items()},
            'uncertainty': {k: text(v) for k, v in self.uncertainty.items()},
            'bounds': {k: [text(lo), text(hi)] for k, (lo, hi) in self.bounds.items()},
            'fixed': {k: text(v) for k, v in self.fixed.items()},
            'rows': self.rows,
            'chi2': self.chi2, 'reduced_chi2': self.reduced_chi2,
            'n_rows': len(self.rows), 'n_free': len(self.parameters),
            'rows_within_2_sem': int(sum(abs(r['residual']) <= 2 for r in self.rows)),
            'n_starts': self.history.shape[1],
            'best_start': self.best_start, 'wall_time_s': self.wall_time_s,
            'history': {'adam_chi2': self.history.tolist(),
                        'lbfgs_chi2': self.polish_history.tolist()},
        }


# --------------------------------------------------------------------------- the fit
def _starts(free, start, n_starts, seed):
    defaults = {k: v for group in default_parameters().values() for k, v in group.items()}
    rng = np.random.default_rng(seed)
    first = []
    for p in free:
        value = start.get(p.name, defaults[p.name])
        value = float(quantity('fit', f'start of {p.name}', value, p.unit).to_decimal(p.unit))
        first.append(p.to_theta(value))
    rows = [first]
    for _ in range(n_starts - 1):
        rows.append([p.draw(rng) for p in free])
    return jnp.asarray(rows)


def _one_device(fn):
    """``fn`` traced with the batches inside it left on one device (:func:`devices.unsharded`):
    for the fit starts, which are spread over the devices themselves."""
    def traced(*args):
        with devices.unsharded():
            return fn(*args)
    return traced


def _report(message, progress):
    if progress:
        print(message, file=sys.stderr, flush=True)


def fit(dataset, params=None, fix=None, start=None, n_starts=4, iterations=150,
        learning_rate=0.1, polish=40, seed=0, dt=simulate.DEFAULT_DT,
        progress=False) -> FitResult:
    """Fit free model parameters to a data set.

    Parameters
    ----------
    dataset : Dataset, str or path
        The data (:func:`ltp_brainpy.datasets.load_dataset` reads a path or a bundled name).
    params : list of str, str or dict, optional
        The free parameters: names (``['theta_p', 'tau_ca']`` or ``"theta_p,tau_ca"``) with
        their default bounds (:data:`BOUNDS`), or ``{name: (lower, upper)}`` with quantities.
        Default: :data:`STDP_FREE_PARAMETERS`.
    fix : dict, optional
        Fixed model parameter overrides (quantities), e.g. from a preset.
    start : dict, optional
        Starting values of the first start (default: the model's defaults, clipped into
        the bounds).
    n_starts : int
        Starting points, run as one batch.
    iterations : int
        Adam steps of every start.
    learning_rate : float
        Adam's initial step in the unbounded coordinates (decays to 1/20 of it).
    polish : int
        L-BFGS steps on the best start (0: none).
    seed : int
        Seed of the random starts.
    progress : bool
        Print the progress to stderr.
    """
    clock = time.perf_counter()
    dataset = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    fix = dict(fix or {})
    split_parameters(fix, 'fit: fix')
    free = _free_parameters(params)
    for p in free:
        if p.name in fix:
            raise ParameterError(f'fit: parameter {p.name!r} is both free and fixed')
    for name, value in (('n_starts', n_starts), ('iterations', iterations), ('polish', polish)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (
                1 if name == 'n_starts' else 0):
            raise ParameterError(f'fit: parameter {name!r} must be an integer >= '
                                 f'{1 if name == "n_starts" else 0}, got {value!r}')
    model = DatasetModel(dataset, fix, dt)
    data, sem = jnp.asarray(dataset.change), jnp.asarray(dataset.sem)
    thetas = _starts(free, dict(start or {}), n_starts, seed)
    _report(f'fit: {len(dataset)} rows of {dataset.name}, free: '
            f'{", ".join(p.name for p in free)}; {n_starts} start(s)', progress)

    def physical(values):
        return {p.name: v * p.unit for p, v in zip(free, values)}

    def residuals_at(values):
        return (model.predict(**physical(values)) - data) / sem

    def loss(theta):
        values = [p.to_value(theta[i]) for i, p in enumerate(free)]
        r = residuals_at(values)
        return jnp.sum(r * r)

    schedule = optax.cosine_decay_schedule(learning_rate, max(iterations, 1), alpha=0.05)
    adam = optax.adam(schedule)
    # The starts are spread over the devices (devices.batch_map); the rows within a start not.
    value_and_grad = jax.jit(devices.batch_map(_one_device(jax.value_and_grad(loss))))

    @jax.jit
    def adam_step(thetas, state):
        values, grads = value_and_grad(thetas)
        grads = jnp.nan_to_num(grads)
        updates, state = jax.vmap(adam.update)(grads, state, thetas)
        return optax.apply_updates(thetas, updates), state, values

    state = jax.vmap(adam.init)(thetas)
    history, best_thetas, best_values = [], np.asarray(thetas), np.full(n_starts, np.inf)
    for step in range(iterations):
        new_thetas, state, values = adam_step(thetas, state)
        values = np.asarray(values)
        better = values < best_values  # the loss at `thetas`, before the step
        best_thetas = np.where(better[:, None], np.asarray(thetas), best_thetas)
        best_values = np.where(better, values, best_values)
        history.append(values)
        thetas = new_thetas
        if step % 10 == 0 or step == iterations - 1:
            _report(f'fit: Adam {step + 1}/{iterations}, best chi2 {best_values.min():.4g}',
                    progress)
    if not iterations:
        best_values = np.asarray(jax.vmap(loss)(thetas))
        best_thetas = np.asarray(thetas)

    # L-BFGS from the best point of every start, all starts in one batch.
    polish_history = []
    if polish:
        lbfgs = optax.lbfgs()
        value_and_grad_state = optax.value_and_grad_from_state(loss)

        def one_step(theta, state):
            value, grad = value_and_grad_state(theta, state=state)
            updates, state = lbfgs.update(grad, state, theta, value=value, grad=grad,
                                          value_fn=loss)
            return optax.apply_updates(theta, updates), state, value

        lbfgs_step = jax.jit(devices.batch_map(_one_device(one_step)))
        thetas = jnp.asarray(best_thetas)
        state = jax.vmap(lbfgs.init)(thetas)
        for step in range(polish):
            new_thetas, state, values = lbfgs_step(thetas, state)
            values = np.asarray(values)
            better = values < best_values
            best_thetas = np.where(better[:, None], np.asarray(thetas), best_thetas)
            best_values = np.where(better, values, best_values)
            polish_history.append(values)
            thetas = new_thetas
            if step % 10 == 0 or step == polish - 1:
                _report(f'fit: L-BFGS {step + 1}/{polish}, best chi2 {best_values.min():.4g}',
                        progress)
    best = int(np.argmin(best_values))
    theta = jnp.asarray(best_thetas[best])

    values = jnp.stack([p.to_value(theta[i]) for i, p in enumerate(free)])
    residuals = np.asarray(residuals_at(list(values)))
    jacobian = np.asarray(jax.jacfwd(lambda v: residuals_at(list(v)))(values))
    curvature = jacobian.T @ jacobian
    with np.errstate(divide='ignore', invalid='ignore'):
        covariance = np.linalg.pinv(curvature)
        sigma = np.sqrt(np.clip(np.diag(covariance), 0, None))
    sigma = np.where(np.diag(curvature) > 0, sigma, np.inf)
    chi2 = float(np.sum(residuals ** 2))
    dof = len(dataset) - len(free)
    rows = _rows(dataset, residuals * np.asarray(sem) + np.asarray(data))
    values = np.asarray(values)
    return FitResult(
        dataset=dataset.name,
        parameters={p.name: float(v) * p.unit for p, v in zip(free, values)},
        uncertainty={p.name: float(s) * p.unit for p, s in zip(free, sigma)},
        bounds={p.name: (p.lower * p.unit, p.upper * p.unit) for p in free},
        fixed=fix, rows=rows, chi2=chi2,
        reduced_chi2=chi2 / dof if dof > 0 else float('nan'),
        history=np.asarray(history).reshape(-1, n_starts),
        polish_history=np.asarray(polish_history).reshape(-1, n_starts),
        best_start=best, wall_time_s=time.perf_counter() - clock)
