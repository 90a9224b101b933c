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
# # Tutorial 5 — Using the components in your own `brainpy.state` model
#
# `GlutamateSynapse` and `LTPProjection` are ordinary `brainpy.state` modules: they hold
# `brainstate` states, are initialised with `brainstate.nn.init_all_states`, and run inside
# compiled loops, `jax.vmap` and `jax.grad`. This tutorial
#
# 1. puts a plastic `LTPProjection` onto a stock `brainpy.state.LIF` neuron;
# 2. uses `GlutamateSynapse` as a drop-in replacement for `BioNMDA` in a stock
#    `align_pre_projection` with `MgBlock`;
# 3. sweeps parameters in one batched, compiled simulation with `jax.vmap` over a function
#    that builds, initialises and runs a model;
# 4. runs STDP onto a stock `LIFRef` with the package's own protocol, and uses stock `BioNMDA`
#    and `AMPA` receptors as the presynaptic side;
# 5. stores a sparse projection and checks it against dense storage;
# 6. keeps what was learned across `reset_all_states`;
# 7. writes a plasticity rule with its own state, trains it in a compiled loop, batches it
#    with `vmap` and differentiates it.
#
# Set the environment variable `LTP_TUTORIAL_QUICK=1` for a shorter run (the test suite does).

# %%
import os

import brainpy
import brainstate
import braintools
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import saiunit as u

from ltp_brainpy import (CalciumControlRule, FixedInDegree, GlutamateSynapse, LTPNeuron,
                         LTPProjection, PlasticityRule, StatefulRule, protocols, simulate)

QUICK = os.environ.get("LTP_TUTORIAL_QUICK") == "1"

DT = simulate.DEFAULT_DT  # 0.1 ms
dt_ms = float(DT / u.ms)


def pulse_train(n_pulses, period_ms, n_axons=1, settle_ms=1000.0):
    """Spikes on all axons every `period_ms`, then `settle_ms` of silence: (time, axon)."""
    period = int(round(period_ms / dt_ms))
    n_steps = n_pulses * period + int(round(settle_ms / dt_ms))
    i = jnp.arange(n_steps)
    spikes = (i % period == 0) & (i < n_pulses * period)
    return jnp.broadcast_to(spikes[:, None], (n_steps, n_axons))


def stock_lif(n):
    """A brainpy.state LIF with a 20 ms membrane (R = 0.1 GOhm, i.e. g_L = 10 nS) at -65 mV."""
    return brainpy.state.LIF(n, R=0.1 * u.Gohm, tau=20 * u.ms, V_th=-50 * u.mV,
                             V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                             V_initializer=braintools.init.Constant(-65 * u.mV))


# %% [markdown]
# ## 1. A plastic projection onto a stock LIF neuron
#
# `LTPProjection(pre, post)` takes a `GlutamateSynapse` (for the open fractions $s_i$, $g_i$;
# a stock `BioNMDA` with `ampa=brainpy.state.AMPA(n)` works too) and any `brainpy.state`
# neuron. It registers its current
# $I_j = \sum_i w_{ij} s_i (E_{AMPA} - V_j) + \sum_i \bar g_N g_i B(V_j)(E_{NMDA} - V_j)$
# as a current input of the neuron, so the neuron's own `update` integrates it. The projection
# owns its synapse, so one call per step advances release, spine calcium and plasticity, then
# the neuron is called (brainpy.state's order: projections, then neurons):
#
# ```python
# proj.update(pre_spike)  # release and receptor gating, spine calcium, plasticity
# post(I_ext)             # membrane, with the projection's current
# ```
#
# A stock LIF gets a `Dendrite` attached (`proj.dendrite`): its spikes back-propagate and bring
# in calcium with the same parameters as an `LTPNeuron`'s. Below threshold the spines see the
# somatic $V$. Three LIF neurons receive the same two axons, stimulated at
# 5 Hz; neuron 0 is depolarized just below threshold by a 140 pA current (to about −51 mV),
# neuron 1 a little by 60 pA (to about −59 mV), neuron 2 is at rest.

# %%
n_pulses = 40 if QUICK else 100
syn = GlutamateSynapse(2)
lif = stock_lif(3)
proj = LTPProjection(syn, lif)                      # all-to-all, w_init = 0.5 nS
brainstate.nn.init_all_states([lif, proj])
print("current inputs registered on the LIF:", list(lif.current_inputs))

I_ext = jnp.array([140.0, 60.0, 0.0]) * u.pA        # depolarize neurons 0 and 1
spikes = pulse_train(n_pulses, 200.0, n_axons=2)


def step(pre_spike):
    proj.update(pre_spike)
    fired = lif(I_ext)
    return dict(V=lif.V.value, fired=fired, ca=proj.ca.value.mean(axis=0),
                w=proj.w.value.mean(axis=0))


out = simulate.run(step, spikes.shape[0], spikes)
t_s = np.arange(spikes.shape[0]) * dt_ms / 1000.0
V = np.asarray(out["V"].to_decimal(u.mV))
ca = np.asarray(out["ca"].to_decimal(u.uM))
w = np.asarray(out["w"].to_decimal(u.nS))
change = w[-1] / w[0] - 1
print(f"LIF spikes: {np.asarray(out['fired']).sum(axis=0)}, peak spine calcium "
      f"{ca.max(axis=0).round(3)} µM, weight change {np.round(100 * change, 1)} %")

fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
labels = ["neuron 0 (140 pA)", "neuron 1 (60 pA)", "neuron 2 (rest)"]
for j in range(3):
    axes[0].plot(t_s, V[:, j], label=labels[j])
    axes[1].plot(t_s, ca[:, j])
    axes[2].plot(t_s, w[:, j])
for threshold, style in [(proj.rule.theta_d, ":"), (proj.rule.theta_p, "--")]:
    axes[1].axhline(float(threshold / u.uM), ls=style, color="gray")
axes[0].set_ylabel("V (mV)")
axes[0].legend()
axes[1].set_ylabel("spine Ca (µM)")
axes[2].set_ylabel("AMPA w (nS)")
axes[2].set_xlabel("time (s)")
plt.tight_layout()
plt.show()

theta_d, theta_p = float(proj.rule.theta_d / u.uM), float(proj.rule.theta_p / u.uM)
peak = ca.max(axis=0)
assert V[:, 2].max() > -64.5 and np.all(np.isfinite(V))   # the resting LIF sees the EPSPs
assert peak[0] > theta_p > peak[1] > theta_d > peak[2]      # insertion, removal band, below
assert change[0] > 0.2                                     # -51 mV: LTP, without any bpAP
assert change[1] < -0.1                                    # -59 mV: LTD
assert -0.1 < change[2] < 0 and abs(change[2]) < abs(change[1]) / 4  # rest: the soft edge only

# %% [markdown]
# The more depolarized a neuron, the more of the Mg²⁺ block is relieved and the more calcium
# its spines receive; at 5 Hz the calcium of successive pulses also adds up (it decays with
# $\tau_{Ca}$ = 100 ms). At −51 mV it climbs above $\theta_p$ (dashed), so neuron 0's synapses
# potentiate even without a bpAP; at −59 mV it stays in the removal band between $\theta_d$
# (dotted) and $\theta_p$, so neuron 1's depress. At rest it peaks just under $\theta_d$: the
# soft edge of the sigmoid (width $\kappa$) still removes a few % of neuron 2's AMPA
# conductance, as the calibrated $\theta_d$ lies only about 2 $\kappa$ above the calcium of
# one pulse at rest. (With the old defaults, $\theta_p$ = 0.55 µM, a stock LIF never reached
# $\theta_p$ and the 140 pA neuron depressed; the 60 pA neuron now shows that case.) Section 3
# sweeps $\theta_p$ on neuron 0's setting.
#
# ## 2. `GlutamateSynapse` as a drop-in `BioNMDA`
#
# `GlutamateSynapse` keeps `BioNMDA`'s contract (constructor, states and units — $g$ in mS —
# and `update(spike)` returning $g$), so it fits wherever a `BioNMDA` does — here in a stock
# `align_pre_projection` between two LIF populations, with a unitless `Linear` as for
# `BioNMDA` and `brainpy.state.MgBlock` as the output
# ($I = g_{tot}\,(E - V) / (1 + [\mathrm{Mg}]/\beta\, e^{-\alpha V})$). Unlike `BioNMDA`'s
# fixed square pulse of glutamate, the releases now depress during the presynaptic trains.

# %%
n_pre, n_post = 20, 5
pre = brainpy.state.LIF(n_pre, R=0.1 * u.Gohm, tau=10 * u.ms, V_th=-50 * u.mV,
                        V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                        V_initializer=braintools.init.Constant(-65 * u.mV))
post = stock_lif(n_post)
glu = GlutamateSynapse(n_pre)
nmda = brainpy.state.align_pre_projection(
    pre, syn=glu,
    comm=brainstate.nn.Linear(n_pre, n_post, w_init=braintools.init.Constant(5e-7),
                              b_init=None),            # g (mS) x 5e-7: 0.5 nS per synapse
    out=brainpy.state.MgBlock(E=0 * u.mV, cc_Mg=1.0 * u.mM, beta=3.57 * u.mM,
                              alpha=0.062 / u.mV),
    post=post)
brainstate.nn.init_all_states([pre, post, nmda])

n_steps = int(round((300.0 if QUICK else 500.0) / dt_ms))
drive = jnp.broadcast_to(jnp.linspace(160.0, 220.0, n_pre), (n_steps, n_pre)) * u.pA


def step(I_pre):
    nmda(I_pre)        # presynaptic LIFs spike, glutamate is released, NMDA current to post
    post.update()
    return dict(V=post.V.value.mean(), D=glu.D.value.mean(), g=glu.nmda_open_fraction().mean())


out2 = simulate.run(step, n_steps, drive)
t_ms = np.arange(n_steps) * dt_ms
V_post = np.asarray(out2["V"].to_decimal(u.mV))
D = np.asarray(out2["D"].to_decimal(u.mM))

fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True)
axes[0].plot(t_ms, D)
axes[0].set_ylabel("mean docked D (mM)")
axes[1].plot(t_ms, np.asarray(out2["g"]))
axes[1].set_ylabel("mean NMDA g")
axes[2].plot(t_ms, V_post)
axes[2].set_ylabel("postsynaptic V (mV)")
axes[2].set_xlabel("time (ms)")
plt.tight_layout()
plt.show()

print(f"postsynaptic depolarization {V_post.max() + 65:.1f} mV, dock down to "
      f"{D.min() / float(glu.T / u.mM):.0%} of its resting level T")
assert np.all(np.isfinite(V_post)) and V_post.max() + 65.0 > 0.5   # NMDA current depolarizes
assert D.min() < 0.5 * float(glu.T / u.mM)                        # the trains deplete the dock

# %% [markdown]
# ## 3. Batched parameter sweeps with `jax.vmap`
#
# To run many variants of a model at once, write a function that **builds, initialises and
# runs** the model for one parameter value and returns what you want to keep, then
# `jax.jit(jax.vmap(fn))` it: `vmap` traces the function once with a batched parameter, so
# every state gets a batch axis and all variants advance together in one compiled loop. This
# is how `ltp_brainpy.protocols` runs its conditions. Parameter checks that need concrete
# numbers are skipped for traced values; units are still checked.
#
# ### Final weight versus $\theta_p$ on the stock-LIF model
#
# One axon at 5 Hz onto a LIF depolarized by 140 pA, as neuron 0 in section 1, for a range of
# potentiation thresholds $\theta_p$ (with $\theta_d$ = 0.246 µM, the default, fixed). The
# spine calcium of this setting peaks at about 0.47 µM.

# %%
theta_ps = np.linspace(0.28, 0.6, 9 if QUICK else 17)          # µM
lif_train = pulse_train(n_pulses, 200.0)


def lif_final_weight(theta_p):
    syn = GlutamateSynapse(1)
    post = stock_lif(1)
    proj = LTPProjection(syn, post, rule=CalciumControlRule(theta_p=theta_p * u.uM))
    brainstate.nn.init_all_states([post, proj])

    def step(pre_spike):
        proj.update(pre_spike)
        post(140.0 * u.pA)

    simulate.run(step, lif_train.shape[0], lif_train)
    return proj.w.value[0, 0].to_decimal(u.nS)


w_theta = np.asarray(jax.jit(jax.vmap(lif_final_weight))(jnp.asarray(theta_ps)))
change_theta = w_theta / 0.5 - 1
print(" ".join(f"{th:.2f} µM: {c:+.0%}" for th, c in zip(theta_ps, change_theta)))

# the batched run is the same as running one value on its own
k = len(theta_ps) // 2
single = float(lif_final_weight(float(theta_ps[k])))
assert abs(single - w_theta[k]) < 1e-5
assert np.all(np.diff(change_theta) <= 1e-6)     # a higher threshold never potentiates more
assert change_theta[0] >= 0.5                    # theta_p below the LIF's calcium: LTP
assert change_theta[-1] <= -0.1                  # theta_p above it: only the LTD band is reached

plt.figure(figsize=(6, 4))
plt.plot(theta_ps, 100 * change_theta, "o-")
plt.axhline(0, color="gray", lw=0.5)
plt.xlabel(r"potentiation threshold $\theta_p$ (µM)")
plt.ylabel("weight change (%)")
plt.title(f"stock LIF at 140 pA, {n_pulses} pulses at 5 Hz")
plt.show()

# %% [markdown]
# ### Final weight versus holding potential and $\theta_p$
#
# The same recipe with an `LTPNeuron`, voltage-clamped during pairing (2 Hz), on a grid of
# holding potentials × thresholds (the default $\theta_p$ = 0.363 µM and three higher ones):
# two nested `vmap`s, one compiled simulation for the whole grid.

# %%
holds = np.arange(-80.0, 11.0, 10.0 if QUICK else 5.0)         # mV
default_theta_p = float(CalciumControlRule().theta_p / u.uM)  # 0.363 µM
thresholds = np.array([default_theta_p, 0.6, 0.8, 1.2])        # µM
pairing_train = pulse_train(20 if QUICK else 60, 500.0)


def paired_weight(hold, theta_p):
    syn = GlutamateSynapse(1)
    neuron = LTPNeuron(1)
    proj = LTPProjection(syn, neuron, rule=CalciumControlRule(theta_p=theta_p * u.uM))
    brainstate.nn.init_all_states([neuron, proj])
    neuron.clamp(hold * u.mV)

    def step(pre_spike):
        proj.update(pre_spike)
        neuron()

    simulate.run(step, pairing_train.shape[0], pairing_train)
    return proj.w.value[0, 0].to_decimal(u.nS)


grid_fn = jax.vmap(jax.vmap(paired_weight, in_axes=(0, None)), in_axes=(None, 0))
change_grid = np.asarray(jax.jit(grid_fn)(jnp.asarray(holds), jnp.asarray(thresholds))) / 0.5 - 1
# change_grid[threshold, hold]

plt.figure(figsize=(6, 4))
for row, th in zip(change_grid, thresholds):
    plt.plot(holds, 100 * row, "o-", ms=3, label=rf"$\theta_p$ = {th:g} µM")
plt.axhline(0, color="gray", lw=0.5)
plt.xlabel("holding potential during pairing (mV)")
plt.ylabel("weight change (%)")
plt.legend()
plt.show()

default = change_grid[0]                                     # the default theta_p
assert default[holds == 0.0][0] >= 0.5                       # pairing at 0 mV potentiates
assert abs(default[holds == -70.0][0]) <= 0.05               # ... at -70 mV it does nothing
onset = [float(holds[np.argmax(row > 0.1)]) for row in change_grid]  # lowest potential giving LTP
print("LTP from", dict(zip(thresholds.tolist(), onset)), "mV")
# a higher theta_p needs more depolarization
assert np.all(np.diff(onset) >= 0) and onset[-1] > onset[0]

# %% [markdown]
# Raising $\theta_p$ moves the LTP side of the voltage curve to more depolarized potentials and
# widens the LTD band below it — the sliding threshold of the BCM theory, here a parameter.
# The same function could be differentiated instead of swept: every state supports
# `jax.grad` (see `tests/test_projection.py`).

# %% [markdown]
# ## 4. The package's protocols onto a stock neuron, stock receptors as the presynaptic side
#
# `protocols.stdp` takes `neuron=`, a function that makes the postsynaptic cell: here a stock
# `LIFRef` with the passive membrane of `LTPNeuron` and a 4 ms refractory period. Its latency to
# the current pulse is measured by simulation, and the attached `Dendrite` gives its spikes the
# same back-propagation and calcium as an `LTPNeuron`'s.

# %%
def stock_lif_ref(n):
    return brainpy.state.LIFRef(n, R=0.1 * u.Gohm, tau=20 * u.ms, tau_ref=4 * u.ms,
                                V_th=-50 * u.mV, V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                                V_initializer=braintools.init.Constant(-65 * u.mV))


stock = protocols.stdp([10, -10] * u.ms, neuron=stock_lif_ref)
own = protocols.stdp([10, -10] * u.ms)
print(f"60 pairs at 1 Hz, +10 / -10 ms: stock LIFRef {100 * stock.weight_change[0]:+.1f} / "
      f"{100 * stock.weight_change[1]:+.1f} %, LTPNeuron {100 * own.weight_change[0]:+.1f} / "
      f"{100 * own.weight_change[1]:+.1f} %")
assert stock.weight_change[0] >= 0.10 and stock.weight_change[1] < 0

# %% [markdown]
# A model that already has `BioNMDA` and `AMPA` receptors keeps them: the projection reads
# their open fractions (their `g` carries mS, as brainpy.state defines it) and advances them.

# %%
nmda, ampa, cell = brainpy.state.BioNMDA(4), brainpy.state.AMPA(4), LTPNeuron(1)
stock_proj = LTPProjection(nmda, cell, ampa=ampa)
brainstate.nn.init_all_states([cell, stock_proj])
cell.clamp(0 * u.mV)
train = pulse_train(20, 200.0, n_axons=4)
w_stock = simulate.run(lambda s: (stock_proj.update(s), cell(), stock_proj.w.value.mean())[-1],
                       train.shape[0], train)
print(f"pairing at 0 mV through stock BioNMDA + AMPA: w {float(w_stock[-1] / u.nS):.3f} nS")
assert float(w_stock[-1] / u.nS) > 0.55

# %% [markdown]
# ## 5. Sparse connectivity
#
# `conn` takes a probability, a boolean mask or `FixedInDegree(k)`; `sparse=True` stores $w$
# and the spine calcium only for the synapses that exist, listed per postsynaptic neuron.
# `weight_matrix()` returns the usual $(n_{pre}, n_{post})$ matrix either way, and both storages
# give the same numbers (in float64 to 1e-10; `tests/test_drop_in.py`).

# %%
n = 400 if QUICK else 2000
mask = np.random.default_rng(0).random((n, n)) < 0.05
drive = (jax.random.uniform(jax.random.PRNGKey(1), (2000, n)) < 0.002)
results = {}
for sparse in (False, True):
    post = LTPNeuron(n)
    proj = LTPProjection(GlutamateSynapse(n), post, conn=mask, sparse=sparse, current_scale=0.5)
    brainstate.nn.init_all_states([post, proj])
    post.clamp(-30 * u.mV)
    simulate.run(lambda s: (proj.update(s), post())[0], drive.shape[0], drive)
    results[sparse] = np.asarray(proj.weight_matrix().to_decimal(u.nS))
    print(f"sparse={sparse}: {int(np.prod(proj.w.value.shape)):,} stored entries for "
          f"{proj.layout.n_synapses:,} synapses")
difference = np.abs(results[True] - results[False]).max()
print(f"largest difference dense vs sparse (float32): {difference:.1e} nS")
assert difference < 1e-5 and np.abs(results[True] - 0.5 * mask).max() > 1e-3
fixed = LTPProjection(GlutamateSynapse(n), LTPNeuron(n), conn=FixedInDegree(20), sparse=True)
assert (fixed.mask.sum(axis=0) == 20).all()

# %% [markdown]
# ## 6. Learned weights survive a reset
#
# `brainstate.nn.reset_all_states` resets activity — gating, calcium, membrane, the rule's
# traces — and keeps the AMPA conductances, as a stock `Linear` keeps its weights;
# `reset_weights()` restores the initial ones.

# %%
learned = np.asarray(proj.w.value.to_decimal(u.nS)).copy()
brainstate.nn.reset_all_states([post, proj])
assert np.array_equal(np.asarray(proj.w.value.to_decimal(u.nS)), learned)
assert float(u.math.max(proj.ca.value) / u.uM) == 0.0
proj.reset_weights()
assert np.allclose(np.asarray(proj.weight_matrix().to_decimal(u.nS)), 0.5 * mask)

# %% [markdown]
# ## 7. A rule of your own, with its own state
#
# A rule is a module with bounds `w_min`, `w_max` and `update(w, signals)`; `signals` carries
# the plasticity calcium, the pre- and postsynaptic spikes, the potentials, `w0` and `dt`, and
# `signals.layout` lifts per-neuron values to the synapses (dense or sparse alike). Deriving
# from `StatefulRule` gives the rule the projection's layout, so `init_state` can size its
# states. Here, a calcium-control rule whose potentiation threshold slides with the
# postsynaptic rate (BCM-like metaplasticity): $\theta_p = \theta_0 + \beta\, r$, with $r$
# the neuron's spike count low-pass filtered over $\tau_r$.

# %%
class SlidingThresholdRule(StatefulRule):
    def __init__(self, theta_0=0.363 * u.uM, beta=0.05 * u.uM * u.second, tau_r=2.0 * u.second):
        super().__init__()
        self.theta_0, self.beta, self.tau_r = theta_0, beta, tau_r
        self.w_min, self.w_max = 0.0 * u.nS, 1.0 * u.nS

    def init_state(self, batch_size=None, **kwargs):
        shape = ((batch_size,) if batch_size else ()) + (self.layout.n_post,)
        self.rate = brainstate.HiddenState(jnp.zeros(shape) * u.Hz)

    def reset_state(self, batch_size=None, **kwargs):
        self.rate.value = u.math.zeros_like(self.rate.value)

    def update(self, w, signals):
        decay = u.math.exp(-signals.dt / self.tau_r)
        self.rate.value = self.rate.value * decay + signals.post_spike / self.tau_r
        theta_p = self.theta_0 + self.beta * self.rate.value
        rule = CalciumControlRule(theta_p=u.math.maximum(theta_p, 0.3 * u.uM))
        return rule.step(w, signals.calcium, signals.w0, signals.dt)


def sliding_weight(beta):
    """Mean w after 40 STDP pairs at +10 ms, 20 Hz, for a sliding strength beta (uM s)."""
    rule = SlidingThresholdRule(beta=beta * u.uM * u.second)
    neuron = LTPNeuron(1)
    proj = LTPProjection(GlutamateSynapse(1), neuron, rule=rule)
    brainstate.nn.init_all_states([neuron, proj])
    period, n_steps = 500, 40 * 500 + 5000
    i = jnp.arange(n_steps)
    pre = (i % period == 0) & (i < 40 * period)
    current = jnp.where((i % period >= 90) & (i % period < 95) & (i < 40 * period), 10.0, 0.0)
    simulate.run(lambda s, I: (proj.update(s[None]), neuron(I[None] * u.nA))[0], n_steps,
                 pre, current)
    return proj.w.value.mean().to_decimal(u.nS)


assert isinstance(SlidingThresholdRule(), PlasticityRule)
betas = jnp.array([0.0, 0.005, 0.02])
swept = np.asarray(jax.jit(jax.vmap(sliding_weight))(betas))   # one batched, compiled run
slope = float(jax.grad(sliding_weight)(0.005))                   # and its derivative
h = 1e-3
fd = (float(sliding_weight(0.005 + h)) - float(sliding_weight(0.005 - h))) / (2 * h)
print("final w (nS) for beta =", dict(zip(betas.tolist(), np.round(swept, 4).tolist())))
print(f"dw/dbeta: jax.grad {slope:.4f}, finite difference {fd:.4f} nS/(uM s)")
assert swept[0] > swept[1] > swept[2]        # a faster-sliding threshold potentiates less
assert slope < 0 and abs(slope - fd) < 0.05 * abs(fd)
