# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tutorial 4 — Learning in a layered network
#
# The synapses of tutorials 1–3 learn from the coincidence of their own input and their
# neuron's activity, with no teacher. `LayeredNetwork` stacks layers of `LTPNeuron`s connected
# by such plastic `LTPProjection`s, bottom-up and (optionally) top-down, like a stack of
# restricted Boltzmann machines. This tutorial runs
#
# 1. the original deep-belief-style demonstration: a 2–5–4 network trained on 7 patterns;
# 2. an associative-learning experiment: pairs of patterns presented together are afterwards
#    completed from one half, and only if the synapses are plastic.
#
# Set the environment variable `LTP_TUTORIAL_QUICK=1` for a shorter run (the test suite does).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import saiunit as u

from ltp_brainpy import LayeredNetwork, network_experiments

QUICK = os.environ.get("LTP_TUTORIAL_QUICK") == "1"

# %% [markdown]
# ## The network
#
# * **Input.** A pattern $x \in [0, 1]^{n_0}$ drives the input layer as Poisson spike trains at
#   $x_i \cdot$ `max_rate` (40 Hz); each input spike is a current kick that fires the unit.
# * **Projections.** Each layer's axons share one `GlutamateSynapse`; every projection is an
#   `LTPProjection` with the calcium-control rule. So that layers of 2 and of 1000 units
#   behave alike, a projection's current is scaled by `fan_in / n_pre` ($f_{in}/n_{pre}$):
#   $I_j = \frac{f_{in}}{n_{pre}} \sum_i \left[w_{ij}\, s_i\,(E_{AMPA} - V_j)
#   + \bar g_N\, g_i\, B(V_j)\,(E_{NMDA} - V_j)\right]$,
#   so every neuron gets `fan_in` (1000) synapses' worth of current whatever the layer sizes
#   (spine calcium and plasticity are per synapse and not scaled).
# * **Competition.** Every layer above the input has shunting lateral inhibition driven by the
#   other units' recent spikes:
#
# $$
# I^{inh}_j = g_{inh}\, \frac{1}{n - 1} \sum_{k \ne j} a_k\, (E_{inh} - V_j), \qquad
# \frac{da_k}{dt} = -\frac{a_k}{\tau_{inh}} + \sum_{\text{spikes}} \delta(t - t_k)
# $$
#
# `net.train(patterns, n_cycles)` presents every pattern in turn for `presentation` (500 ms),
# resetting activity — not weights — in between, with plasticity on, all inside one compiled
# loop. `net.evaluate(patterns)` presents each pattern with plasticity off, its activity reset
# first, so that the answer to one pattern does not depend on the others.

# %%
net = LayeredNetwork([2, 5, 4], feedback=True, seed=0)
for name, w in net.weights().items():
    print(f"{name}: {w.shape[0]} -> {w.shape[1]} units, mean w = {float(w.mean() / u.nS):.3f} nS")

# %% [markdown]
# ## The original demonstration: 7 patterns, 2–5–4 layers
#
# The seven input patterns of the original model (`network_experiments.DBN_PATTERNS`) are
# presented for several cycles. (`network_experiments.dbn_training` wraps exactly these steps
# and is what `configs/dbn_patterns.toml` runs.)

# %%
patterns = np.array(network_experiments.DBN_PATTERNS)
n_cycles = 4 if QUICK else 6
w_before = {name: np.asarray(w.to_decimal(u.nS)) for name, w in net.weights().items()}
record = net.train(patterns, n_cycles)
w_after = {name: np.asarray(w.to_decimal(u.nS)) for name, w in net.weights().items()}
print("patterns:", patterns.tolist())
print("rates per layer (cycle, pattern, unit):", [r.shape for r in record.rates])

# %% [markdown]
# `record.weight_change[name]` is the mean change of a projection's conductances during each
# presentation (cycle, pattern). Summed over presentations it gives the learning curve of each
# projection; weighting by size gives the growth of the network's total AMPA conductance.

# %%
n_pat = len(patterns)
fig, ax = plt.subplots(figsize=(7, 4))
total0 = sum(w.sum() for w in w_before.values())
growth = np.zeros(n_cycles)
for name, dw in record.weight_change.items():
    dw = np.asarray(dw.to_decimal(u.nS))                     # (cycle, pattern)
    trajectory = w_before[name].mean() + np.cumsum(dw.ravel())
    ax.plot(np.arange(1, n_cycles * n_pat + 1), trajectory, label=name)
    growth += np.cumsum(dw.sum(axis=1)) * w_before[name].size / total0
for c in range(1, n_cycles):
    ax.axvline(c * n_pat + 0.5, color="gray", lw=0.5)
ax.set_xlabel("presentation (7 per cycle)")
ax.set_ylabel("mean AMPA conductance (nS)")
ax.legend()
plt.show()
print("total conductance change after each cycle:", " ".join(f"{g:+.0%}" for g in growth))

top_rates = np.asarray(record.rates[2].to_decimal(u.Hz))     # (cycle, pattern, unit)
print(f"top layer, summed rate over patterns: cycle 1 {top_rates[0].sum():.0f} Hz, "
      f"cycle {n_cycles} {top_rates[-1].sum():.0f} Hz")
assert np.all(np.diff(growth) >= -1e-6) and growth[-1] > 0.1   # the network keeps learning
assert top_rates[-1].sum() > top_rates[0].sum()               # learning recruits the top layer
for w in w_after.values():
    assert w.min() >= 0.0 and w.max() <= 1.0                  # the rule's bounds hold

# %% [markdown]
# Responses of the two hidden layers to each pattern, in the first and the last cycle, and the
# bottom-up weights before and after training:

# %%
fig, axes = plt.subplots(2, 2, figsize=(9, 7), layout="constrained")
for row, layer in enumerate([1, 2]):
    rates = np.asarray(record.rates[layer].to_decimal(u.Hz))
    vmax = rates.max()
    for col, cycle in enumerate([0, n_cycles - 1]):
        im = axes[row, col].imshow(rates[cycle], vmin=0, vmax=vmax, cmap="viridis", aspect="auto")
        axes[row, col].set_title(f"layer {layer}, cycle {cycle + 1}")
        axes[row, col].set_xlabel("unit")
        axes[row, col].set_ylabel("pattern")
    fig.colorbar(im, ax=axes[row], label="rate (Hz)")
plt.show()

fig, axes = plt.subplots(2, 2, figsize=(9, 6), layout="constrained")
for row, name in enumerate(["up_01", "up_12"]):
    for col, (label, w) in enumerate([("before", w_before), ("after", w_after)]):
        im = axes[row, col].imshow(w[name], vmin=0, vmax=1, cmap="magma", aspect="auto")
        axes[row, col].set_xticks(range(w[name].shape[1]))
        axes[row, col].set_yticks(range(w[name].shape[0]))
        axes[row, col].set_title(f"{name} {label}")
        axes[row, col].set_xlabel("postsynaptic unit")
        axes[row, col].set_ylabel("presynaptic unit")
    fig.colorbar(im, ax=axes[row], label="AMPA conductance w (nS)")
plt.show()

# %% [markdown]
# After training, `evaluate` tests every pattern with plasticity off. The weights are the same
# before and after the test.

# %%
test = net.evaluate(patterns)
assert all(np.array_equal(np.asarray(w.to_decimal(u.nS)), w_after[name])
           for name, w in net.weights().items())
test_top = np.asarray(test.rates[2].to_decimal(u.Hz))[0]     # (pattern, unit)
plt.figure(figsize=(5, 4))
plt.imshow(test_top, cmap="viridis", aspect="auto")
plt.colorbar(label="rate (Hz)")
plt.xlabel("top-layer unit")
plt.ylabel("pattern")
plt.title("test, plasticity off")
plt.show()

# %% [markdown]
# ## Associative learning and pattern completion
#
# `network_experiments.association` builds a two-layer network (40 inputs, 20 hidden units,
# bottom-up only). The input layer has two halves; pair $k$ is a sparse binary pattern $A_k$
# (5 active units) on the first half and $B_k$ on the second, four disjoint pairs. Training
# presents $A_k + B_k$ together. Before and after training, the hidden responses to $A_k$
# alone and to $A_k + B_k$ are measured with plasticity off, and summarised by
#
# $$
# \text{completion} = \frac{1}{K}\sum_k \operatorname{corr}\bigl(h(A_k),\, h(A_k + B_k)\bigr),
# \qquad
# \text{code overlap} = \operatorname{mean}_{k < l}
#     \operatorname{corr}\bigl(h(A_k + B_k),\, h(A_l + B_l)\bigr).
# $$
#
# Learning should raise completion (A alone evokes the code of A+B through potentiated
# A → hidden synapses) and lower the overlap between the codes of different pairs. The control
# runs the same training with plasticity off (`plastic=False`).
#
# The calibrated synapse asks for settings of its own here. Its spine calcium adds up over
# $\tau_{Ca}$ = 100 ms, so presynaptic trains faster than about 12 Hz potentiate a synapse by
# themselves, whether its postsynaptic unit fires or not (the LTP side of the frequency curve
# of tutorial 3). At the network's default input rate of 40 Hz every active input would
# potentiate onto every hidden unit alike, and the learning would not be selective. The inputs
# therefore fire at `max_rate` = 10 Hz, below that crossover, where an active synapse
# potentiates the more, the more its hidden unit fires with it: its back-propagating spike
# lifts the Mg²⁺ block. A stronger drive (`fan_in` = 1500) makes up for the slower input,
# sharper competition (`lateral_inhibition` = 300 nS) keeps the hidden codes sparse, and as
# AMPA insertion is slow ($1/\gamma_p$ ≈ 3.7 s) each pair is presented for 2 s (and the
# responses are measured over 2 s).

# %%
n_assoc = 2 if QUICK else 8
settings = dict(max_rate=10.0 * u.Hz, fan_in=1500.0, lateral_inhibition=300.0 * u.nS,
                presentation=2000.0 * u.ms, test_presentation=2000.0 * u.ms)
on = network_experiments.association(n_cycles=n_assoc, **settings)
off = network_experiments.association(n_cycles=n_assoc, plastic=False, **settings)
for label, r in [("plasticity on", on), ("plasticity off", off)]:
    s = r.summary
    print(f"{label:15s} completion {s['completion_before']:.2f} -> {s['completion_after']:.2f}, "
          f"code overlap {s['code_overlap_before']:.2f} -> {s['code_overlap_after']:.2f}, "
          f"bottom-up conductance {r.weight_change[0]:+.1%}")

s_on, s_off = on.summary, off.summary
assert s_on["completion_after"] - s_on["completion_before"] >= 0.3
assert s_on["code_overlap_after"] < s_on["code_overlap_before"] - 0.05
assert on.weight_change[0] > 0.1
assert abs(s_off["completion_after"] - s_off["completion_before"]) < 0.05
assert abs(s_off["code_overlap_after"] - s_off["code_overlap_before"]) < 0.05
assert abs(off.weight_change[0]) < 1e-4

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
x = np.arange(2)
for k, (label, r) in enumerate([("plasticity on", on), ("plasticity off", off)]):
    axes[0].bar(x + 0.35 * k, r.completion, width=0.35, label=label)
    axes[1].bar(x + 0.35 * k, r.code_overlap, width=0.35, label=label)
for ax, title in zip(axes, ["completion corr(h(A), h(A+B))", "overlap between pair codes"]):
    ax.set_xticks(x + 0.175, ["before", "after"])
    ax.set_ylabel("correlation")
    ax.set_title(title)
    ax.legend()
plt.tight_layout()
plt.show()

fig, axes = plt.subplots(2, 2, figsize=(9, 5), sharex=True, layout="constrained")
for row, (label, h) in enumerate([("A alone", on.hidden_A), ("A + B", on.hidden_AB)]):
    h = np.asarray(h.to_decimal(u.Hz))                         # (stage, pair, unit)
    for col, stage in enumerate(["before", "after"]):
        im = axes[row, col].imshow(h[col], vmin=0, vmax=h.max(), cmap="viridis", aspect="auto")
        axes[row, col].set_title(f"{label}, {stage} training")
        axes[row, col].set_ylabel("pair k")
    fig.colorbar(im, ax=axes[row], label="rate (Hz)")
axes[1, 0].set_xlabel("hidden unit")
axes[1, 1].set_xlabel("hidden unit")
plt.show()

# %% [markdown]
# After training the response to $A_k$ alone (top right) — weaker, as half of the input is
# missing — recruits the same hidden units as the response to $A_k + B_k$ (bottom right): the
# network completes the pair. With plasticity off nothing
# changes, because the weights do not. With NMDA receptors blocked
# (`association(nmda_block=True, **settings)`) there is no NMDA calcium; only the brief
# calcium of each hidden unit's own spikes remains. It reaches every synapse of the unit
# alike, whichever input is active, and depresses them a little (about −2 % after 8 cycles):
# completion does not rise — it falls slightly — so nothing is associated. The CLI runs all
# three with `ltp-brainpy run association` (with the settings of `configs/association.toml`).
