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
# # Tutorial 2 — The NMDA receptor as a coincidence detector
#
# Glutamate opens NMDA receptors, but at rest their pore is plugged by an extracellular
# Mg²⁺ ion. Depolarization expels the Mg²⁺. Calcium therefore enters the spine only when
# glutamate (presynaptic activity) **and** depolarization (postsynaptic activity) come
# together: the NMDA receptor is a Hebbian coincidence detector.
#
# This tutorial looks at the Mg²⁺ block, the NMDA current–voltage relation, and then shows
# with a simulated synapse that neither glutamate alone nor depolarization alone lets much
# calcium into the spine, while both together do.
#
# Set the environment variable `LTP_TUTORIAL_QUICK=1` for a shorter run (the test suite does).

# %%
import os

import brainstate
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import saiunit as u

from ltp_brainpy import Pathway, mg_unblock, protocols, simulate

QUICK = os.environ.get("LTP_TUTORIAL_QUICK") == "1"

DT = simulate.DEFAULT_DT  # 0.1 ms
dt_ms = float(DT / u.ms)

# %% [markdown]
# ## The Mg²⁺ block
#
# Jahr & Stevens (1990) measured the fraction of NMDA receptors free of the Mg²⁺ block:
#
# $$
# B(V) = \frac{1}{1 + \dfrac{[\mathrm{Mg}^{2+}]_o}{3.57\ \mathrm{mM}}\, e^{-0.062\, V/\mathrm{mV}}}
# $$
#
# `mg_unblock(V, mg)` computes it for potentials of any shape (both arguments carry units).

# %%
table = {-80.0: 0.0244, -60.0: 0.0796, -40.0: 0.2302, -20.0: 0.5081, 0.0: 0.7812}
V_table = np.array(list(table)) * u.mV
B_table = np.asarray(mg_unblock(V_table, 1.0 * u.mM))
for (V, expected), B in zip(table.items(), B_table):
    print(f"B({V:5.0f} mV) = {B:.4f}   (Jahr & Stevens: {expected:.4f})")
assert np.allclose(B_table, list(table.values()), atol=5e-5)
assert round(float(mg_unblock(-60.0 * u.mV, 1.0 * u.mM)), 4) == 0.0796

# %% [markdown]
# `protocols.mg_block_iv` evaluates $B(V)$ and the current through fully open NMDA receptors,
# $I = \bar g_N\, B(V)\, (E_{NMDA} - V)$, over a range of potentials (default −100 … 40 mV).
# As everywhere in `ltp_brainpy`, a synaptic current is counted positive when it flows into
# the cell and depolarizes it.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for mg in [0.5, 1.0, 2.0]:
    r = protocols.mg_block_iv(mg=mg * u.mM)
    axes[0].plot(r.conditions["V"].to_decimal(u.mV), r.unblocked, label=f"[Mg²⁺] = {mg:g} mM")
axes[0].set_xlabel("membrane potential V (mV)")
axes[0].set_ylabel("unblocked fraction B(V)")
axes[0].legend()

iv = protocols.mg_block_iv()  # 1 mM Mg²⁺, gbar_N = 0.5 nS, E_NMDA = 0 mV
V_iv = np.asarray(iv.conditions["V"].to_decimal(u.mV))
I_mg = np.asarray(iv.current.to_decimal(u.pA))
I_free = np.asarray(iv.current_no_mg.to_decimal(u.pA))
axes[1].plot(V_iv, I_free, "--", label="no Mg²⁺ (ohmic)")
axes[1].plot(V_iv, I_mg, label="1 mM Mg²⁺")
axes[1].axhline(0, color="gray", lw=0.5)
axes[1].set_xlabel("membrane potential V (mV)")
axes[1].set_ylabel("NMDA current into the cell (pA)")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Without Mg²⁺ the current is ohmic. With Mg²⁺ the inward (depolarizing) current is largest
# around −25 mV and *shrinks* as the cell hyperpolarizes: a region of negative slope
# conductance, the signature of the voltage-dependent block.

# %%
V_peak = V_iv[np.argmax(I_mg)]
print(f"largest inward NMDA current at {V_peak:.0f} mV: {I_mg.max():.2f} pA")
assert -40.0 <= V_peak <= -10.0
below = V_iv <= V_peak
assert np.all(np.diff(I_mg[below]) > 0)  # inward current grows with depolarization up to the peak
assert np.allclose(I_free, -0.5 * V_iv, atol=1e-3)  # gbar_N (E_NMDA - V) with 0.5 nS

# %% [markdown]
# ## Calcium through NMDA receptors
#
# In `LTPProjection`, each synapse $i \to j$ has its own spine calcium, fed by the NMDA
# receptors of that synapse:
#
# $$
# \frac{dCa_{ij}}{dt} = -\frac{Ca_{ij}}{\tau_{Ca}}
#     + \rho\, \bar g_N\, g_i\, B(V_j)\, \max(E_{Ca} - V_j, 0)
# $$
#
# The influx is a product: $g_i$ (NMDA receptors opened by glutamate from axon $i$) times
# $B(V_j)$ (the block lifted by depolarization of neuron $j$). Either factor alone near zero
# means little calcium.
#
# A `Pathway(n_pre, n_post)` builds the three components of one pathway — a
# `GlutamateSynapse`, an `LTPNeuron` and the `LTPProjection` between them — and advances them
# in order. We compare three conditions, each a short train at 20 Hz:
#
# 1. **glutamate alone**: presynaptic spikes, the cell free at rest (−65 mV);
# 2. **depolarization alone**: the cell voltage-clamped at 0 mV, no presynaptic spikes;
# 3. **both**: presynaptic spikes with the cell clamped at 0 mV.

# %%
n_spikes = 3 if QUICK else 5
period, onset = int(round(50.0 / dt_ms)), int(round(20.0 / dt_ms))
n_steps = int(round((400.0 if QUICK else 600.0) / dt_ms))
i = jnp.arange(n_steps)
train = ((i >= onset) & ((i - onset) % period == 0) & ((i - onset) // period < n_spikes))[:, None]
no_spikes = jnp.zeros_like(train)


def run_condition(spikes, hold=None):
    path = Pathway(1, 1)
    brainstate.nn.init_all_states(path)
    if hold is not None:
        path.neuron.clamp(hold)

    def step(pre_spike):
        path.update(pre_spike)
        return dict(ca=path.projection.ca.value[0, 0], V=path.neuron.V.value[0],
                    w=path.projection.w.value[0, 0])

    return simulate.run(step, n_steps, spikes), path


conditions = {
    "glutamate alone (rest)": run_condition(train),
    "depolarization alone (0 mV)": run_condition(no_spikes, hold=0.0 * u.mV),
    "glutamate + depolarization": run_condition(train, hold=0.0 * u.mV),
}
rule = conditions["glutamate + depolarization"][1].projection.rule
theta_d, theta_p = float(rule.theta_d / u.uM), float(rule.theta_p / u.uM)

t = np.arange(n_steps) * dt_ms
fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
peak = {}
for k, (label, (out, _)) in enumerate(conditions.items()):
    ca = np.asarray(out["ca"].to_decimal(u.uM))
    peak[label] = ca.max()
    axes[0].plot(t, ca, color=f"C{k}", label=label)
    axes[1].plot(t, np.asarray(out["V"].to_decimal(u.mV)), color=f"C{k}", label=label)
axes[0].axhline(theta_d, ls=":", color="gray")
axes[0].axhline(theta_p, ls="--", color="gray")
axes[0].text(t[-1], theta_d, r"$\theta_d$ ", ha="right", va="bottom")
axes[0].text(t[-1], theta_p, r"$\theta_p$ ", ha="right", va="bottom")
axes[0].set_ylabel("spine calcium Ca (µM)")
axes[0].legend()
axes[1].set_ylabel("membrane potential V (mV)")
axes[1].set_xlabel("time (ms)")
axes[0].set_title(f"{n_spikes} presynaptic spikes at 20 Hz")
plt.tight_layout()
plt.show()

for label, value in peak.items():
    print(f"{label:30s} peak calcium {value:.3f} µM")

# %% [markdown]
# The dotted and dashed lines are the thresholds of the plasticity rule (tutorial 3): above
# $\theta_d$ calcium removes AMPA receptors, above $\theta_p$ it inserts them.
#
# * Depolarization alone lets in **no** calcium: without glutamate no NMDA receptor is open.
# * Glutamate alone lets in a little: at −65 mV only ~6 % of the receptors are unblocked,
#   and the calcium of one spike (~0.21 µM) stays below $\theta_d$ (0.246 µM).
# * Together they let in many times more per spike — the ratio of $B(V)\,(E_{Ca} - V)$ at 0 mV
#   and at rest, $0.781 \cdot 130 / (0.0597 \cdot 195) \approx 8.7$ (a little less in the
#   simulation, because each EPSP depolarizes the free cell by a fraction of a mV) — far above
#   $\theta_p$, and the synapse potentiates.
#
# The spine calcium decays slowly ($\tau_{Ca}$ = 100 ms), so the calcium of successive spikes
# in a 20 Hz train adds up: by the third spike even glutamate alone climbs past $\theta_p$
# (0.363 µM), and the synapse potentiates slightly without any depolarization. This summation
# is what makes high-frequency trains potentiate and low-frequency ones depress (the
# frequency-response curve of tutorial 3); the coincident condition still potentiates many
# times faster.

# %%
first = slice(0, onset + period)  # up to the second presynaptic spike
first_peak = {label: float(out["ca"][first].to_decimal(u.uM).max())
              for label, (out, _) in conditions.items()}
alone_glu = peak["glutamate alone (rest)"]
alone_dep = peak["depolarization alone (0 mV)"]
both = peak["glutamate + depolarization"]
ratio = first_peak["glutamate + depolarization"] / first_peak["glutamate alone (rest)"]
E_L, E_Ca = -65.0, 130.0
ratio_closed = (float(mg_unblock(0.0 * u.mV)) * E_Ca
                / (float(mg_unblock(E_L * u.mV)) * (E_Ca - E_L)))
print(f"one spike: {first_peak['glutamate alone (rest)']:.3f} µM alone, "
      f"{first_peak['glutamate + depolarization']:.3f} µM at 0 mV; ratio {ratio:.2f} "
      f"(B(V)(E_Ca - V) at 0 mV over -65 mV: {ratio_closed:.2f})")
assert alone_dep == 0.0
assert first_peak["glutamate alone (rest)"] < theta_d        # one spike at rest: sub-threshold
assert 0.95 * ratio_closed < ratio < ratio_closed            # the EPSP only adds a little
assert alone_glu > theta_p                                   # ... but a 20 Hz train sums up
assert both > theta_p and both > 5 * alone_glu
w_end = {label: float(out["w"][-1] / u.nS) for label, (out, _) in conditions.items()}
print("AMPA conductance at the end (nS):", {k: round(v, 4) for k, v in w_end.items()})
assert w_end["depolarization alone (0 mV)"] == 0.5               # no calcium, no change
assert w_end["glutamate + depolarization"] > 0.5 + 1e-2          # potentiating
assert 0.5 < w_end["glutamate alone (rest)"]                     # the train alone: slightly
assert w_end["glutamate + depolarization"] - 0.5 > 3 * (w_end["glutamate alone (rest)"] - 0.5)

# %% [markdown]
# ## Calcium versus holding potential
#
# With the cell clamped, $V$ is constant and $g_i$ is the same in every condition, so the
# calcium entering per spike is proportional to $B(V)\,(E_{Ca} - V)$: the Mg²⁺ block times the
# calcium driving force. A single `Pathway` can simulate many holding potentials at once:
# `init_all_states(path, batch_size=n)` gives every state a leading batch axis, `clamp`
# accepts one potential per lane, and the spike input gets a batch axis too.

# %%
holds = np.arange(-100.0, 41.0, 20.0 if QUICK else 5.0)
n_single = int(round(300.0 / dt_ms))
single = jnp.zeros((n_single, len(holds), 1), dtype=bool).at[int(round(10.0 / dt_ms))].set(True)

path = Pathway(1, 1)
brainstate.nn.init_all_states(path, batch_size=len(holds))
path.neuron.clamp(holds[:, None] * u.mV)
ca = simulate.run(lambda s: (path.update(s), path.projection.ca.value[:, 0, 0])[1],
                  n_single, single)
ca_peak = np.asarray(ca.to_decimal(u.uM)).max(axis=0)

E_Ca = float(path.projection.E_Ca / u.mV)
drive = np.asarray(mg_unblock(holds * u.mV)) * np.maximum(E_Ca - holds, 0.0)
assert np.allclose(ca_peak / ca_peak.max(), drive / drive.max(), rtol=1e-3, atol=1e-6)

V_fine = np.linspace(-100, 40, 300)
drive_fine = np.asarray(mg_unblock(V_fine * u.mV)) * (E_Ca - V_fine)
plt.figure(figsize=(5.5, 4))
plt.plot(V_fine, drive_fine / drive_fine.max() * ca_peak.max(), label=r"$\propto B(V)(E_{Ca}-V)$")
plt.plot(holds, ca_peak, "o", label="simulated peak, one spike")
plt.xlabel("holding potential (mV)")
plt.ylabel("peak spine calcium (µM)")
plt.legend()
plt.show()
print(f"calcium entry is largest near {V_fine[np.argmax(drive_fine)]:.0f} mV")

# %% [markdown]
# Calcium entry rises steeply from rest as the block is relieved and falls again as the
# potential approaches $E_{Ca}$. The steep part between −70 and −30 mV is what makes the
# synapse Hebbian: a presynaptic spike that arrives while the postsynaptic cell is
# depolarized — clamped, or during a back-propagating action potential — brings in much more
# calcium than the same spike at rest. Tutorial 3 turns this calcium into a weight change.
