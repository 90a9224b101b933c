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
# # Tutorial 3 — From calcium to AMPA receptors: LTP and LTD
#
# Tutorial 2 showed that spine calcium reports the coincidence of glutamate and
# depolarization. Here calcium moves AMPA receptors into or out of the postsynaptic density,
# changing the synapse's AMPA conductance $w$: long-term potentiation (LTP) and depression
# (LTD). We look at the rule itself and then at the classic induction protocols of the
# literature, each a function of `ltp_brainpy.protocols`:
#
# * **pairing** — presynaptic pulses while the cell is voltage-clamped
#   (Chen, Otmakhov & Lisman 1999);
# * **STDP** — pre- and postsynaptic spikes at a fixed delay (Bi & Poo 1998);
# * **frequency response** — trains of pulses at different rates (Dudek & Bear 1992).
#
# Each protocol runs all its conditions as one `jax.vmap`-batched compiled simulation and
# returns `weight_change` $= w_{final}/w_{initial} - 1$ per condition, plus the traces for its
# figure.
#
# Set the environment variable `LTP_TUTORIAL_QUICK=1` for a shorter run (the test suite does).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import saiunit as u

from ltp_brainpy import CalciumControlRule, protocols
from ltp_brainpy.targets import crossover_frequency, decay_constant

QUICK = os.environ.get("LTP_TUTORIAL_QUICK") == "1"

# %% [markdown]
# ## The calcium-control rule
#
# `CalciumControlRule` (Shouval, Bear & Cooper 2002) reads the plasticity calcium of each
# synapse, $c = Ca_{ij} + ca_{post,j}$ (NMDA calcium of the spine plus the calcium that the
# neuron's own spikes bring into every spine), through two sigmoid thresholds:
#
# $$
# \Omega_p(c) = \sigma\!\left(\frac{c - \theta_p}{\kappa}\right), \qquad
# \Omega_d(c) = \sigma\!\left(\frac{c - \theta_d}{\kappa}\right) - \Omega_p(c)
# $$
#
# $$
# \frac{dw}{dt} = \gamma_p\, \Omega_p(c)\, (w_{max} - w) - \gamma_d\, \Omega_d(c)\, (w - w_{min})
#     - \frac{w - w_0}{\tau_w}
# $$
#
# Low calcium does nothing, a moderate band ($\theta_d < c < \theta_p$) removes AMPA
# receptors, high calcium ($c > \theta_p$) inserts them. The weight stays in
# $[w_{min}, w_{max}]$ by construction; forgetting ($\tau_w$) is off by default.

# %%
rule = CalciumControlRule()
print(rule)
ca = np.linspace(0.0, 1.0, 1001) * u.uM
omega_p = np.asarray(rule.potentiation(ca))
omega_d = np.asarray(rule.depression(ca))
w = 0.5 * u.nS
dwdt = np.asarray(rule.dwdt(w, ca, w).to_decimal(u.nS / u.second))

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].plot(ca.to_decimal(u.uM), omega_p, label=r"$\Omega_p$ (insertion)")
axes[0].plot(ca.to_decimal(u.uM), omega_d, label=r"$\Omega_d$ (removal)")
axes[0].set_xlabel("plasticity calcium c (µM)")
axes[0].set_ylabel("drive (dimensionless)")
axes[0].legend()
axes[1].plot(ca.to_decimal(u.uM), dwdt)
axes[1].axhline(0, color="gray", lw=0.5)
axes[1].set_xlabel("plasticity calcium c (µM)")
axes[1].set_ylabel("dw/dt at w = 0.5 nS (nS/s)")
plt.tight_layout()
plt.show()


def rate_at(c):
    return float(rule.dwdt(w, c * u.uM, w).to_decimal(u.nS / u.second))


theta_d, theta_p, kappa = (float(x / u.uM) for x in (rule.theta_d, rule.theta_p, rule.kappa))
gamma_p, gamma_d = float(rule.gamma_p * u.second), float(rule.gamma_d * u.second)
mid = (theta_d + theta_p) / 2                                # the middle of the removal band


def rate_closed(c, w=0.5):                                   # the rule written out (nS/s)
    sigma = lambda x: 1.0 / (1.0 + np.exp(-x))
    p, d = sigma((c - theta_p) / kappa), sigma((c - theta_d) / kappa)
    return gamma_p * p * (1.0 - w) - gamma_d * (d - p) * w


assert abs(float(rule.potentiation(rule.theta_p)) - 0.5) < 1e-6
in_band = (ca > rule.theta_d) & (ca < rule.theta_p)
# the band is only (theta_p - theta_d)/kappa = 7.6 kappa wide: removal peaks in its middle at
# sigma(3.8) - sigma(-3.8) = tanh((theta_p - theta_d) / (4 kappa)) = 0.956, not 1
assert abs(omega_d[np.asarray(in_band)].max() - np.tanh((theta_p - theta_d) / (4 * kappa))) < 1e-3
assert abs(rate_at(0.05)) < 1e-6                             # low calcium: nothing
assert abs(rate_at(mid) - rate_closed(mid)) < 1e-6
assert rate_at(mid) < -0.8 * gamma_d * 0.5                   # LTD: ~ -gamma_d (w - w_min)
assert rate_at(0.8) > 0.99 * gamma_p * 0.5                   # LTP: gamma_p (w_max - w)
print(f"dw/dt at 0.05, {mid:.3f}, 0.8 µM: {rate_at(0.05):.2g}, {rate_at(mid):.4f}, "
      f"{rate_at(0.8):.4f} nS/s")

# %% [markdown]
# The thresholds are close together ($\theta_d$ = 0.246 µM, $\theta_p$ = 0.363 µM, softened
# over $\kappa$ = 0.0154 µM), so the removal band is only 7.6 $\kappa$ wide and $\Omega_d$
# peaks in its middle at $\tanh\bigl((\theta_p - \theta_d)/4\kappa\bigr) = 0.956$. Insertion
# is 3.4 times faster than removal ($\gamma_p$ = 0.273/s, $\gamma_d$ = 0.081/s): above
# $\theta_p$ the weight approaches $w_{max}$ with a time constant of $1/\gamma_p$ ≈ 3.7 s,
# while depression ($1/\gamma_d$ ≈ 12 s) needs long periods of moderate calcium.
#
# ## Pairing
#
# The cell is voltage-clamped while its synapse is stimulated `n_pulses` times at 2 Hz; the
# weights are read 1 s after the last pulse. At 0 mV the Mg²⁺ block is relieved and every
# pulse brings in calcium far above $\theta_p$. At −70 mV the same pulses bring in a little,
# below $\theta_d$, and with the NMDA receptors blocked (AP5, here `nmda_block=True`, i.e.
# $\bar g_N = 0$) none at all.

# %%
n_pulses = 40 if QUICK else 200
pairing = protocols.pairing([0.0, -70.0] * u.mV, n_pulses=n_pulses)
ap5 = protocols.pairing([0.0] * u.mV, n_pulses=n_pulses, nmda_block=True)
change_0, change_70 = pairing.weight_change
change_ap5 = ap5.weight_change[0]
print(f"{n_pulses} pulses at 2 Hz: 0 mV {change_0:+.1%}, -70 mV {change_70:+.1%}, "
      f"0 mV with AP5 {change_ap5:+.1%}")
assert change_0 >= 0.5
assert abs(change_70) <= 0.05
assert abs(change_ap5) <= 0.05

plt.figure(figsize=(6, 4))
# the weight trace is sampled after every pulse; prepend the initial conductance at t = 0
w_start = 0.5  # nS, the default w_init


def with_start(result, k):
    return (np.r_[0.0, result.time.to_decimal(u.second)],
            np.r_[w_start, result.weight[k].to_decimal(u.nS)])


for k, label in enumerate(["0 mV", "-70 mV"]):
    plt.plot(*with_start(pairing, k), label=label)
plt.plot(*with_start(ap5, 0), "--", label="0 mV + AP5")
plt.xlabel("time (s)")
plt.ylabel("AMPA conductance w (nS)")
plt.title(f"pairing: {n_pulses} pulses at 2 Hz")
plt.legend()
plt.show()

# %% [markdown]
# Because calcium is a graded function of the holding potential (tutorial 2), so is the
# outcome of pairing. Sweeping the holding potential traces the voltage version of the BCM
# curve: nothing at rest and below, LTD in a narrow band of slight depolarization (around −60
# to −55 mV, where each pulse's calcium falls in the removal band), LTP from about −50 mV up.

# %%
holds = np.arange(-80.0, 11.0, 10.0 if QUICK else 5.0)
sweep = protocols.pairing(holds * u.mV, n_pulses=n_pulses)
print(" ".join(f"{h:.0f} mV: {c:+.0%}" for h, c in zip(holds, sweep.weight_change)))
intermediate = (holds >= -60) & (holds <= -55)
assert sweep.weight_change[intermediate].min() <= (-0.05 if QUICK else -0.3)  # LTD in between
assert np.all(np.abs(sweep.weight_change[holds <= -65]) <= 0.05)
assert np.all(sweep.weight_change[holds >= -50] >= 0.2)      # LTP from -50 mV up ...
assert np.all(sweep.weight_change[holds >= -40] >= 0.5)      # ... and strong beyond

plt.figure(figsize=(6, 4))
plt.plot(holds, 100 * sweep.weight_change, "o-")
plt.axhline(0, color="gray", lw=0.5)
plt.xlabel("holding potential during pairing (mV)")
plt.ylabel("weight change (%)")
plt.show()

# %% [markdown]
# ## Spike-timing dependent plasticity
#
# Now the cell is free. Each of `n_pairs` pairs (1 Hz) is a presynaptic spike and a
# postsynaptic spike $\Delta t = t_{post} - t_{pre}$ later, the postsynaptic spike evoked by a
# brief current pulse timed so that the spike lands exactly at $\Delta t$. The postsynaptic
# spike back-propagates into the dendrite in two parts, as in Shouval, Bear & Cooper (2002): the
# spike itself, brief and large ($\mathrm{bpap}_{fast}$: 96.7 mV decaying with 2.12 ms), and
# a small slow after-depolarization ($\mathrm{bpap}$: 21.7 mV decaying with 21.2 ms); the
# spines see $V + \mathrm{bpap} + \mathrm{bpap}_{fast}$. The spike also brings in calcium of
# its own ($ca_{post}$: 0.23 µM, decaying with 12 ms).
#
# * $\Delta t > 0$ (pre before post): glutamate has opened the NMDA receptors when the bpAP
#   arrives, and its fast peak lifts the block — calcium above $\theta_p$, LTP. The receptors
#   close with 19 ms ($\beta_1$ = 0.0529/ms), so LTP falls off quickly with $\Delta t$.
# * $\Delta t < 0$ (post before pre): glutamate arrives on the slow tail of the bpAP — a
#   moderate calcium signal in the removal band, LTD, which fades over tens of ms.
# * $|\Delta t| \approx 100$ ms: little interaction (a few %).
#
# In the full run, exponentials fitted to each side of the window (as Bi & Poo 1998 did)
# give time constants close to Bi & Poo's 16.8 ms (LTP) and 33.7 ms (LTD).

# %%
if QUICK:
    deltas, n_pairs = np.array([-100.0, -20.0, -10.0, 10.0, 20.0, 100.0]), 30
else:
    deltas = np.array([-100.0, -50.0, -30.0, -20.0, -10.0, -5.0,
                       5.0, 10.0, 20.0, 30.0, 50.0, 100.0])
    n_pairs = 60
stdp = protocols.stdp(deltas * u.ms, n_pairs=n_pairs)
change = dict(zip(deltas, stdp.weight_change))
print(" ".join(f"{d:+.0f} ms: {c:+.0%}" for d, c in change.items()))
assert change[10.0] >= 0.2
assert change[-10.0] <= (-0.1 if QUICK else -0.15)
assert change[10.0] > change[20.0] > 0 > change[-20.0] > change[-10.0]  # the window decays
assert abs(change[-100.0]) <= 0.05 and abs(change[100.0]) <= 0.05
if not QUICK:
    side = {sign: (deltas[(sign * deltas > 0) & (np.abs(deltas) <= 50)]) for sign in (1, -1)}
    tau_p = decay_constant(side[1], [change[d] for d in side[1]])
    tau_m = decay_constant(side[-1], [change[d] for d in side[-1]])
    print(f"tau+ = {tau_p:.1f} ms, tau- = {tau_m:.1f} ms (Bi & Poo: 16.8 ms, 33.7 ms)")
    assert 0.7 * 16.8 <= tau_p <= 1.3 * 16.8 and 0.7 * 33.7 <= tau_m <= 1.3 * 33.7

plt.figure(figsize=(6, 4))
plt.plot(deltas, 100 * stdp.weight_change, "o-")
plt.axhline(0, color="gray", lw=0.5)
plt.axvline(0, color="gray", lw=0.5)
plt.xlabel(r"$\Delta t = t_{post} - t_{pre}$ (ms)")
plt.ylabel("weight change (%)")
plt.title(f"STDP: {n_pairs} pairs at 1 Hz")
plt.show()

# %% [markdown]
# ## Frequency response
#
# Finally no clamp and no current injection: 28 synapses onto one cell are stimulated
# together with a train of pulses. The frequency alone decides the outcome (Dudek & Bear
# 1992): 900 pulses at 1 Hz depress, 900 pulses at 50 Hz or a tetanus (100 pulses at 100 Hz)
# potentiate. At 1 Hz each pulse's compound EPSP (to about −52 mV) partly relieves the block
# and the spine calcium peaks at ~0.36 µM, inside the removal band just under $\theta_p$:
# depression, which the pulses accumulate. The spine calcium decays with
# $\tau_{Ca}$ = 100 ms, so at 10 Hz and faster the calcium of successive pulses adds up and
# spends more and more of the train above $\theta_p$, while the summating EPSPs hold the cell
# depolarized (around −60 mV during a tetanus; it fires about once). The curve turns from LTD
# to LTP near 12 Hz.
#
# A 900-pulse curve simulates 900 s of biology per frequency; the protocol takes the fine
# time step only around the pulses, so it runs in seconds, but the quick mode still runs 100
# pulses per frequency. The crossover moves little with the number of pulses (about 11 Hz
# with 100, 12 Hz with 900); the depth of LTD and the height of LTP grow with it.

# %%
freqs = np.array([1.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0])
n_train = 100 if QUICK else 900
curve = protocols.frequency_response(freqs * u.Hz, n_pulses=n_train)
tetanus = protocols.frequency_response([100.0] * u.Hz, n_pulses=100)
by_freq = dict(zip(freqs, curve.weight_change))
print(f"{n_train} pulses: " + " ".join(f"{f:g} Hz: {c:+.1%}" for f, c in by_freq.items()))
print(f"tetanus (100 pulses at 100 Hz): {tetanus.weight_change[0]:+.1%}, the cell fired at "
      f"{float(tetanus.post_rate[0] / u.Hz):.0f} Hz")
assert tetanus.weight_change[0] >= 0.2
assert by_freq[1.0] <= -0.1 and by_freq[3.0] <= -0.1          # low frequencies depress
assert by_freq[50.0] >= 0.1                                    # high frequencies potentiate
# first frequency where LTD turns into LTP (log-linear interpolation between neighbours)
crossover = crossover_frequency(freqs, curve.weight_change)
print(f"LTD turns into LTP at {crossover:.1f} Hz")
assert 7.0 <= crossover <= 15.0

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].semilogx(freqs, 100 * curve.weight_change, "o-", label=f"{n_train} pulses")
axes[0].semilogx([100.0], [100 * tetanus.weight_change[0]], "s", label="tetanus, 100 pulses")
axes[0].axhline(0, color="gray", lw=0.5)
axes[0].set_xlabel("stimulation frequency (Hz)")
axes[0].set_ylabel("weight change (%)")
axes[0].legend()
axes[1].semilogx(freqs, curve.post_rate.to_decimal(u.Hz), "o-")
axes[1].set_xlabel("stimulation frequency (Hz)")
axes[1].set_ylabel("postsynaptic firing rate (Hz)")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Summary.** One rule — calcium above $\theta_p$ inserts AMPA receptors, calcium between
# $\theta_d$ and $\theta_p$ removes them — reproduces pairing and its controls, the STDP
# window and the frequency dependence of LTP/LTD, because each protocol sets how much NMDA
# calcium the spine receives. Every model parameter can be passed to a protocol by name,
# e.g. `protocols.pairing([0] * u.mV, theta_p=0.8 * u.uM)`. Tutorial 4 puts the same synapses
# into a layered network that learns.
