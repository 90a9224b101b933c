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
# # Tutorial 1 — Glutamate release and short-term depression
#
# The first step of NMDA-receptor dependent plasticity happens in the presynaptic bouton: an
# action potential releases glutamate into the synaptic cleft. In `ltp_brainpy` this is the job
# of `GlutamateSynapse`, a `brainpy.state.BioNMDA` whose square glutamate pulse is replaced by
# two pools of glutamate:
#
# * $D$ — glutamate **docked** in the bouton, ready to be released;
# * $glu$ — glutamate in the **cleft**, which opens AMPA and NMDA receptors.
#
# While the presynaptic action potential lasts ($T_{dur}$ after a spike), docked glutamate is
# released at rate $k_{rel}$; the dock refills toward $T$ (BioNMDA's transmitter parameter,
# here the glutamate docked at rest) with time constant $\tau_{rec}$, and the cleft is cleared
# with $\tau_{clear}$:
#
# $$
# \frac{dD}{dt} = \frac{T - D}{\tau_{rec}} - k_{rel}\, D\, \mathbb{1}[t - t_{sp} < T_{dur}],
# \qquad
# \frac{d\,glu}{dt} = k_{rel}\, D\, \mathbb{1}[t - t_{sp} < T_{dur}] - \frac{glu}{\tau_{clear}}
# $$
#
# Cleft glutamate gates the AMPA receptors ($s$) and BioNMDA's two-step NMDA scheme ($x$, $g$):
#
# $$
# \frac{ds}{dt} = \alpha_A\, glu\, (1 - s) - \beta_A s, \qquad
# \frac{dx}{dt} = \alpha_2\, glu\, (1 - x) - \beta_2 x, \qquad
# \frac{dg}{dt} = \alpha_1 x (1 - g) - \beta_1 g
# $$
#
# This tutorial drives one synapse with a spike train, looks at $D$ and $glu$, measures
# short-term depression against its analytic recursion, and shows how the length of the
# presynaptic action potential sets how much is released.
#
# Set the environment variable `LTP_TUTORIAL_QUICK=1` for a shorter run (the test suite does).

# %%
import os

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import saiunit as u

from ltp_brainpy import GlutamateSynapse, protocols, simulate

QUICK = os.environ.get("LTP_TUTORIAL_QUICK") == "1"

DT = simulate.DEFAULT_DT  # 0.1 ms, the time step of every simulation here
dt_ms = float(DT / u.ms)

# %% [markdown]
# ## One synapse, one spike train
#
# `GlutamateSynapse(n)` holds one bouton per presynaptic neuron (all synapses of an axon share
# its pool). Every parameter is a `saiunit` quantity; the defaults are those of
# `docs/model.md`.

# %%
syn = GlutamateSynapse(1)
syn.init_state()
U = float(syn.release_fraction)  # 1 - exp(-k_rel T_dur)
D_rest = float(syn.T / u.mM)  # the dock at rest
tau_rec = float(syn.tau_rec / u.ms)
print(f"T = {syn.T}, k_rel = {syn.k_rel}, T_dur = {syn.T_duration}, "
      f"tau_rec = {syn.tau_rec}, tau_clear = {syn.tau_clear}")
print(f"release fraction U = 1 - exp(-k_rel T_dur) = {U:.4f}")

# %% [markdown]
# A train of spikes at 20 Hz, then silence so that the dock can refill. `simulate.run` compiles
# the whole loop once; the step function receives one row of the spike array per time step and
# whatever it returns is stacked along a leading time axis.

# %%
n_train = 5 if QUICK else 10
period = int(round(50.0 / dt_ms))           # 20 Hz
onset = int(round(10.0 / dt_ms))
n_steps = int(round((1000.0 if QUICK else 2000.0) / dt_ms))
i = jnp.arange(n_steps)
pre_spikes = ((i >= onset) & ((i - onset) % period == 0)
              & ((i - onset) // period < n_train))[:, None]


def step(spike):
    syn.update(spike)
    return dict(D=syn.D.value[0], glu=syn.glu.value[0], released=syn.released.value[0],
                s=syn.s.value[0], g=syn.nmda_open_fraction()[0])


out = simulate.run(step, n_steps, pre_spikes)
t = np.arange(n_steps) * dt_ms
D = np.asarray(out["D"].to_decimal(u.mM))
glu = np.asarray(out["glu"].to_decimal(u.mM))
released = np.asarray(out["released"].to_decimal(u.mM))

fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
axes[0].plot(t, D)
axes[0].set_ylabel("docked D (mM)")
axes[1].plot(t, glu, color="C1")
axes[1].set_ylabel("cleft glu (mM)")
axes[2].plot(t, np.asarray(out["s"]), label="AMPA open fraction s")
axes[2].plot(t, np.asarray(out["g"]), label="NMDA open fraction g")
axes[2].set_ylabel("open fraction")
axes[2].set_xlabel("time (ms)")
axes[2].legend()
axes[0].set_title(f"{n_train} presynaptic spikes at 20 Hz")
plt.tight_layout()
plt.show()

# %% [markdown]
# Each spike empties a fixed *fraction* of what is docked, so successive releases shrink
# while the dock has no time to refill. The cleft pulse is brief (cleared within about a
# millisecond), AMPA receptors close within a few milliseconds, while NMDA receptors stay open
# for about 20 ms ($1/\beta_1$ = 19 ms). The longer NMDA signal, and the spine calcium that
# it feeds and that decays more slowly still (100 ms, tutorial 2), is what later lets calcium
# integrate over several spikes.
#
# Two checks against closed forms. The first spike releases $U D_0$. After the train the dock
# refills exponentially: $D(t) = D_0 - (D_0 - D_{last})\, e^{-(t - t_{last})/\tau_{rec}}$.

# %%
first = released[onset:onset + period].sum()
print(f"first spike released {first:.4f} mM = {first / D_rest:.4f} D_rest (U = {U:.4f})")
assert abs(first / D_rest - U) < 1e-3

end_of_train = onset + (n_train - 1) * period + int(round(float(syn.T_duration / DT)))
D_last, elapsed = D[end_of_train], (n_steps - 1 - end_of_train) * dt_ms
D_expected = D_rest - (D_rest - D_last) * np.exp(-elapsed / tau_rec)
print(f"dock at the end: simulated {D[-1]:.4f} mM, analytic {D_expected:.4f} mM")
assert abs(D[-1] / D_expected - 1) < 1e-3
peaks = [glu[onset + k * period: onset + (k + 1) * period].max() for k in range(n_train)]
assert np.all(np.diff(peaks) < 0)  # every cleft pulse is smaller than the one before

# %% [markdown]
# ## Short-term depression versus frequency
#
# For a regular train with inter-spike interval $\Delta t$, spike $n$ releases $R_n = U D_n$,
# and between spikes the dock recovers:
#
# $$
# R_n = U D_n, \qquad
# D_{n+1} = D_0 - \bigl(D_0 - (1 - U) D_n\bigr)\, e^{-\Delta t/\tau_{rec}}
# $$
#
# (Tsodyks & Markram 1997). Its fixed point is the steady state of a long train,
#
# $$
# \frac{D_{ss}}{D_0} = \frac{1 - e^{-\Delta t/\tau_{rec}}}{1 - (1 - U)\, e^{-\Delta t/\tau_{rec}}}.
# $$
#
# `protocols.short_term_depression` runs all frequencies as one batched, compiled simulation and
# returns the simulated release per spike next to the recursion.

# %%
freqs = np.array([5.0, 20.0, 50.0]) if QUICK else np.array([2.0, 5.0, 10.0, 20.0, 50.0, 100.0])
std = protocols.short_term_depression(freqs * u.Hz, n_spikes=20)
rel_sim, rel_analytic = std.relative_release, std.analytic_relative_release
deviation = np.abs(rel_sim / rel_analytic - 1).max()
print(f"largest deviation from the recursion: {deviation:.2e}")
assert deviation < 1e-3

e = np.exp(-1000.0 / freqs / tau_rec)
steady = (1 - e) / (1 - (1 - U) * e)          # D_ss / D_rest
assert np.all(np.abs(rel_sim[:, -1] - steady) < 1e-3)  # 20 spikes reach the steady state
assert np.all(np.diff(rel_sim[:, -1]) < 0)           # faster trains depress more

# glutamate released per second at steady state: U D_ss f  ->  D_rest / tau_rec at high rates
rate = U * steady * D_rest * freqs                        # mM/s
limit = D_rest / (tau_rec / 1000.0)
print(f"steady-state release at {freqs[-1]:.0f} Hz: {rate[-1]:.2f} mM/s "
      f"(limit D_rest/tau_rec = {limit:.1f} mM/s)")
assert 0.85 < rate[-1] / limit < 1.0

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for k, f in enumerate(freqs):
    axes[0].plot(std.spike, rel_analytic[k], "-", color=f"C{k}", label=f"{f:g} Hz")
    axes[0].plot(std.spike, rel_sim[k], "o", color=f"C{k}", ms=3)
axes[0].set_xlabel("spike number")
axes[0].set_ylabel("release / first release")
axes[0].set_title("simulation (dots) vs recursion (lines)")
axes[0].legend()
f_fine = np.logspace(0, 2.3, 200)
e_fine = np.exp(-1000.0 / f_fine / tau_rec)
axes[1].semilogx(f_fine, U * D_rest * f_fine * (1 - e_fine) / (1 - (1 - U) * e_fine), label="analytic")
axes[1].semilogx(freqs, np.asarray(std.released.to_decimal(u.mM))[:, -1] * freqs, "o",
                 label="simulated (spike 20)")
axes[1].axhline(limit, ls="--", color="gray", label=r"$D_0/\tau_{rec}$")
axes[1].set_xlabel("frequency (Hz)")
axes[1].set_ylabel("glutamate released per second (mM/s)")
axes[1].set_title("steady state: a low-pass filter")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Above a few hertz the amount of glutamate transmitted per second saturates at
# $D_0/\tau_{rec}$: the synapse reports *changes* in presynaptic rate rather than the rate
# itself.
#
# ## The action potential length sets the release fraction
#
# While the window is open and refilling is negligible ($T_{dur} \ll \tau_{rec}$),
# $dD/dt = -k_{rel} D$, so one spike releases
#
# $$
# U = 1 - e^{-k_{rel} T_{dur}} .
# $$
#
# A broader action potential (e.g. when potassium channels are blocked) releases more. Every
# parameter may be an array with one value per presynaptic neuron, so one synapse object with
# six axons tries six action-potential lengths at once. To compare with the formula exactly,
# refilling is switched off here ($\tau_{rec} \to 10^9$ ms); with the default $\tau_{rec}$ the
# dock refills slightly during the window, adding a fraction of order $T_{dur}/\tau_{rec}$.
# The window lasts `round(T_dur / dt)` steps, so $T_{dur}$ should be a multiple of `dt`.

# %%
T_durs = np.array([0.2, 0.5, 1.0, 2.0, 3.0, 5.0])                 # ms
k_rel = 0.5                                                       # 1/ms, the default
spike_once = jnp.zeros((300, len(T_durs)), dtype=bool).at[10].set(True)


def release_fractions(**params):
    syn = GlutamateSynapse(len(T_durs), T_dur=T_durs * u.ms, **params)
    syn.init_state()
    out = simulate.run(lambda s: (syn.update(s), syn.released.value)[1], 300, spike_once)
    return np.asarray(out.to_decimal(u.mM)).sum(axis=0) / D_rest


U_formula = 1 - np.exp(-k_rel * T_durs)
U_sim = release_fractions(tau_rec=1e9 * u.ms)
U_default = release_fractions()
for T_dur, a, b, c in zip(T_durs, U_formula, U_sim, U_default):
    print(f"T_dur = {T_dur:3.1f} ms: formula {a:.4f}, simulated {b:.4f}, "
          f"with refilling {c:.4f}")
assert np.abs(U_sim - U_formula).max() < 1e-3
assert np.all(U_default >= U_sim - 1e-6) and np.abs(U_default - U_formula).max() < 5e-3
assert np.all(np.diff(U_sim) > 0)

T_fine = np.linspace(0, 6, 200)
plt.figure(figsize=(5.5, 4))
plt.plot(T_fine, 1 - np.exp(-k_rel * T_fine), label=r"$1 - e^{-k_{rel} T_{dur}}$")
plt.plot(T_durs, U_sim, "o", label="simulated")
plt.xlabel(r"action potential length $T_{dur}$ (ms)")
plt.ylabel("fraction of the dock released")
plt.legend()
plt.show()

# %% [markdown]
# A longer action potential makes the first response larger but depletes the dock faster, so
# the train depresses more: release probability and short-term depression are two sides of
# one parameter. Model parameters are passed to the protocols by name.

# %%
lengths = [0.5, 1.0, 2.0]                                         # ms
trains = {T_dur: protocols.short_term_depression([20.0] * u.Hz, n_spikes=20,
                                                 T_dur=T_dur * u.ms)
          for T_dur in lengths}
first_release = [float(trains[T].released[0, 0] / u.mM) for T in lengths]
last_relative = [float(trains[T].relative_release[0, -1]) for T in lengths]
assert np.all(np.diff(first_release) > 0)   # longer AP, more glutamate on the first spike ...
assert np.all(np.diff(last_relative) < 0)   # ... and deeper depression

plt.figure(figsize=(5.5, 4))
for T_dur in lengths:
    r = trains[T_dur]
    plt.plot(r.spike, np.asarray(r.released[0].to_decimal(u.mM)), "o-", ms=3,
             label=f"T_dur = {T_dur:g} ms")
plt.xlabel("spike number (20 Hz)")
plt.ylabel("glutamate released per spike (mM)")
plt.legend()
plt.show()

# %% [markdown]
# Late in the train the release per spike hardly depends on $T_{dur}$: it is set by how much
# the dock refills between spikes, $U D_{ss} \to D_0\,(1 - e^{-\Delta t/\tau_{rec}})$ when
# $U$ is large.
#
# **Summary.** `GlutamateSynapse` turns presynaptic spikes into a depleting cleft-glutamate
# signal: one spike releases $U = 1 - e^{-k_{rel}T_{dur}}$ of the dock, trains depress
# following the Tsodyks–Markram recursion, and the AMPA ($s$) and NMDA ($g$) open fractions
# follow the cleft. Tutorial 2 asks when that glutamate lets calcium into the spine.
