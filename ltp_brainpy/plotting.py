"""Figures of the protocols, one per protocol, axes labelled with units.

Each protocol's declaration (:mod:`ltp_brainpy.declare`) names its figure function, here for
the package's protocols; :func:`figure_for` draws the one of a protocol.
"""
from __future__ import annotations

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import saiunit as u  # noqa: E402

__all__ = ['FIGURES', 'figure_for', 'fit_figure', 'convergence_figure']


def _values(q, unit):
    return np.asarray(q.to_decimal(unit))


def mg_block(runs):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    for label, r in runs:
        V = _values(r.conditions['V'], u.mV)
        ax1.plot(V, np.asarray(r.unblocked), label=f'{label}: [Mg²⁺] = {r.mg}')
        ax2.plot(V, _values(r.current, u.pA), label='with Mg²⁺')
        ax2.plot(V, _values(r.current_no_mg, u.pA), '--', label='without Mg²⁺')
    ax1.set(xlabel='membrane potential (mV)', ylabel='unblocked fraction B(V)',
            title='Mg²⁺ block (Jahr & Stevens 1990)')
    ax2.axhline(0, color='0.7', lw=0.8)
    ax2.set(xlabel='membrane potential (mV)', ylabel='NMDA current, all open (pA)',
            title='NMDA I-V')
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    return fig


def short_term_depression(runs):
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, r in runs:
        for k, f in enumerate(_values(r.conditions['frequency'], u.Hz)):
            line, = ax.plot(r.spike, r.relative_release[k], 'o', ms=4, label=f'{f:g} Hz')
            ax.plot(r.spike, r.analytic_relative_release[k], '-', color=line.get_color(), lw=1)
    ax.set(xlabel='spike number in the train', ylabel='released glutamate / first spike',
           title='Short-term depression (dots: model, lines: recursion)', ylim=(0, 1.05))
    ax.legend(fontsize=8)
    return fig


def pairing(runs):
    """Weight change against the holding potential (a curve for a run of several holds, a
    marker for each single-hold control) and the mean conductance during pairing."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8),
                                   gridspec_kw=dict(width_ratios=[1.2, 1]))
    markers = iter('sD^v<>p*')
    for label, r in runs:
        holds = _values(r.conditions['hold'], u.mV)
        name = label + (' (AP5)' if r.conditions['nmda_block'] else '')
        order = np.argsort(holds)
        ax1.plot(holds[order], 100 * np.asarray(r.weight_change)[order],
                 'o-' if len(holds) > 1 else next(markers), label=name)
        for k, hold in enumerate(holds):
            ax2.plot(_values(r.time, u.second), _values(r.weight, u.nS)[k], lw=1,
                     label=f'{name}: {hold:g} mV')
    ax1.axhline(0, color='k', lw=0.8)
    ax1.set(xlabel='holding potential (mV)', ylabel='AMPA conductance change (%)',
            title='Pairing at 2 Hz (Chen et al. 1999; Ngezahayo et al. 2000)')
    ax1.legend(fontsize=7)
    ax2.set(xlabel='time (s)', ylabel='mean AMPA conductance (nS)', title='During pairing')
    ax2.legend(fontsize=6, ncol=2)
    return fig


def _weight_change_curve(runs, key, unit, xlabel, title, logx=False):
    """Weight change (%) against one condition, a line per run (a marker for single points)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, r in runs:
        x = _values(r.conditions[key], unit)
        order = np.argsort(x)
        ax.plot(x[order], 100 * r.weight_change[order], 'o-' if len(x) > 1 else 's', label=label)
    if logx:
        ax.set_xscale('log')
    ax.axhline(0, color='k', lw=0.8)
    ax.set(xlabel=xlabel, ylabel='AMPA conductance change (%)', title=title)
    ax.legend(fontsize=8)
    return fig, ax


#: Bi & Poo's (2001) exponential fits to their STDP data: (amplitude, time constant in ms).
BI_POO_LTP, BI_POO_LTD = (0.777, 16.8), (-0.273, 33.7)


def stdp(runs):
    """The STDP window(s), with Bi & Poo's exponential fits to the hippocampal data."""
    fig, ax = _weight_change_curve(runs, 'delta_t', u.ms, 'Δt = t_post − t_pre (ms)',
                                   'STDP window (Bi & Poo 1998)')
    t = np.linspace(0.5, 100, 200)
    for (amplitude, tau), sign in ((BI_POO_LTP, 1), (BI_POO_LTD, -1)):
        ax.plot(sign * t, 100 * amplitude * np.exp(-t / tau), '--', color='0.5', lw=1,
                label='Bi & Poo (2001) fits' if sign > 0 else None)
    ax.axvline(0, color='0.7', lw=0.8)
    ax.legend(fontsize=8)
    return fig


def frequency_response(runs):
    """The frequency-response curve, with the band of the LTD-to-LTP crossover that Dudek &
    Bear (1992) found (7-15 Hz, docs/model.md)."""
    fig, ax = _weight_change_curve(runs, 'frequency', u.Hz, 'stimulation frequency (Hz)',
                                   'Frequency response (Dudek & Bear 1992)', logx=True)
    ax.axvspan(7, 15, color='C2', alpha=0.12, label='crossover, Dudek & Bear')
    ax.legend(fontsize=8)
    return fig


def pair_frequency(runs):
    """Weight change against the frequency of pre/post pairs (Sjöström et al. 2001)."""
    fig, ax = _weight_change_curve(runs, 'frequency', u.Hz, 'pair frequency (Hz)',
                                   'Pairing frequency (Sjöström, Turrigiano & Nelson 2001)',
                                   logx=True)
    ax.legend(fontsize=8)
    return fig


def dbn_training(runs):
    label, r = runs[0]
    layers = sorted(k for k in r.traces if k.startswith('rates_'))
    projections = sorted(k[len('w_before_'):] for k in r.traces if k.startswith('w_before_'))
    n_cols = max(len(layers), len(projections))
    fig, axes = plt.subplots(3, n_cols, figsize=(3.2 * n_cols, 8.4), squeeze=False)
    for col, key in enumerate(layers):
        rates = _values(r.traces[key], u.Hz)  # (cycle, pattern, unit)
        for row, (cycle, name) in enumerate([(0, 'first'), (-1, 'last')]):
            ax = axes[row, col]
            im = ax.imshow(rates[cycle], aspect='auto', cmap='viridis')
            ax.set(title=f'layer {key[6:]}, {name} cycle', xlabel='unit', ylabel='pattern')
            fig.colorbar(im, ax=ax, label='rate (Hz)')
    for col, name in enumerate(projections):
        ax = axes[2, col]
        before = _values(r.traces[f'w_before_{name}'], u.nS).ravel()
        after = _values(r.traces[f'w_after_{name}'], u.nS).ravel()
        ax.plot(before, after, 'o', ms=3)
        ax.plot([0, 1], [0, 1], color='0.7', lw=0.8)
        ax.set(title=f'{name} weights', xlabel='before training (nS)',
               ylabel='after training (nS)', xlim=(0, 1.02), ylim=(0, 1.02))
    for row, used in ((0, len(layers)), (1, len(layers)), (2, len(projections))):
        for ax in axes[row, used:]:
            ax.axis('off')
    return fig


def association(runs):
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(12, 3.8))
    x = np.arange(len(runs))
    for offset, stage, color in [(-0.2, 0, '0.6'), (0.2, 1, 'C3')]:
        name = 'before' if stage == 0 else 'after training'
        ax1.bar(x + offset, [r.completion[stage] for _, r in runs], 0.4, color=color, label=name)
        ax2.bar(x + offset, [r.code_overlap[stage] for _, r in runs], 0.4, color=color,
                label=name)
    for ax, title in [(ax1, 'completion: corr(h(A), h(A+B))'),
                      (ax2, 'code overlap between pairs')]:
        ax.set_xticks(x, [label for label, _ in runs], rotation=15)
        ax.axhline(0, color='k', lw=0.8)
        ax.set(title=title, ylabel='correlation')
        ax.legend(fontsize=8)
    label, r = runs[0]
    h = np.concatenate([_values(r.hidden_A, u.Hz)[1], _values(r.hidden_AB, u.Hz)[1]])
    im = ax3.imshow(h, aspect='auto', cmap='viridis')
    n = h.shape[0] // 2
    ax3.set_yticks(range(2 * n), [f'A{k + 1}' for k in range(n)] + [f'A{k + 1}+B{k + 1}'
                                                                     for k in range(n)])
    ax3.set(title=f'{label}: hidden rates after training', xlabel='hidden unit')
    fig.colorbar(im, ax=ax3, label='rate (Hz)')
    return fig


def fit_figure(summary: dict):
    """Data (with error bars of 2 SEM) against the fitted model, from a fit's summary."""
    return data_figure(summary['rows'], f"{summary['dataset']}: χ² = {summary['chi2']:.2f}, "
                                        f"reduced χ² = {summary['reduced_chi2']:.2f}")


def dataset(runs):
    """Figure of the ``dataset`` protocol: each data set's rows against the model."""
    label, r = runs[0]
    return data_figure(r.summary['rows'], f"{label}: {r.summary['rows_within_2_sem']}/"
                                          f"{len(r.summary['rows'])} rows within 2 SEM, "
                                         f"χ² = {r.summary['chi2']:.2f}")


def data_figure(rows, title: str):
    """Rows of a data set (dicts with ``data``, ``sem``, ``model`` and the CSV columns)
    against the model: STDP trains against their frequency, one series per
    :math:`\\Delta t`; every other row against its index."""
    by_delta = {}
    for row in rows:
        if row['protocol'] == 'stdp_trains':
            by_delta.setdefault(row['delta_t_ms'], []).append((row['frequency_Hz'], row))
    others = [(k, row) for k, row in enumerate(rows) if row['protocol'] != 'stdp_trains']
    panels = [p for p in (by_delta, others) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    axes = list(axes[0])
    if by_delta:
        ax = axes.pop(0)
        for delta, points in sorted(by_delta.items()):
            points.sort(key=lambda p: p[0])
            f = np.array([p[0] for p in points])
            data = np.array([p[1]['data'] for p in points]) * 100
            sem = np.array([p[1]['sem'] for p in points]) * 100
            model = np.array([p[1]['model'] for p in points]) * 100
            bars = ax.errorbar(f, data, yerr=2 * sem, fmt='o', capsize=3,
                               label=f'data, Δt = {delta:+g} ms')
            ax.plot(f, model, 's--', color=bars[0].get_color(), mfc='none',
                    label=f'model, Δt = {delta:+g} ms')
        ax.axhline(0, color='0.7', lw=0.8)
        ax.set(xscale='log', xlabel='pair frequency (Hz)', ylabel='change in strength (%)',
               title='STDP trains: data (±2 SEM) and fit')
        ticks = sorted({p[0] for points in by_delta.values() for p in points})
        ax.set_xticks(ticks, [f'{t:g}' for t in ticks])
        ax.minorticks_off()
        ax.legend(fontsize=7)
    if others:
        ax = axes.pop(0)
        x = np.arange(len(others))
        ax.errorbar(x, [r['data'] * 100 for _, r in others],
                    yerr=[2 * r['sem'] * 100 for _, r in others], fmt='o', capsize=3,
                    label='data (±2 SEM)')
        ax.plot(x, [r['model'] * 100 for _, r in others], 's', mfc='none', label='model')
        ax.set_xticks(x, [r['id'] for _, r in others], rotation=60, fontsize=7)
        ax.axhline(0, color='0.7', lw=0.8)
        ax.set(ylabel='change in strength (%)', title='Other protocols')
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def convergence_figure(summary: dict):
    """χ² of every start against the optimiser's step (Adam, then L-BFGS)."""
    n_starts = summary['n_starts']
    adam = np.asarray(summary['history']['adam_chi2'], float).reshape(-1, n_starts)
    lbfgs = np.asarray(summary['history']['lbfgs_chi2'], float).reshape(-1, n_starts)
    chi2 = np.concatenate([adam, lbfgs])
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for start in range(chi2.shape[1]):
        ax.plot(np.arange(1, len(chi2) + 1), chi2[:, start], lw=1, label=f'start {start}')
    if len(adam) and len(lbfgs):
        ax.axvline(len(adam) + 0.5, color='0.6', ls=':', lw=1)
    ax.set(yscale='log', xlabel='step (Adam, then L-BFGS)', ylabel='χ²',
           title='Convergence of every start')
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def __getattr__(name):
    if name == 'FIGURES':  # protocol name -> figure function, from the declarations
        from .registry import PROTOCOLS
        return {key: p.figure_function() for key, p in PROTOCOLS.items()
                if p.figure is not None}
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def figure_for(protocol: str, runs):
    """The figure of ``protocol`` (its declaration's ``figure``) for a list of
    ``(label, ProtocolResult)``; None for a protocol declared without one."""
    from .registry import PROTOCOLS
    draw = PROTOCOLS[protocol].figure_function()
    if draw is None:
        return None
    fig = draw(runs)
    fig.tight_layout()
    return fig
