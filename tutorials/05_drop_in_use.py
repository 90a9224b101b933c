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
# `GlutamateSynapse`, `LTPProjection` and the plasticity rules are ordinary `brainpy.state`
# modules: they hold `brainstate` states, are initialised with `brainstate.nn.init_all_states`,
# and run inside compiled loops, `jax.vmap` and `jax.grad`. This tutorial shows how to put them
# into a model of your own:
#
# 1. one update per step: `proj.update(spikes)`, then `post(x)`;
# 2. plasticity onto a stock neuron (`LIF`, `LIFRef`, ...), and its dendrite;
# 3. `GlutamateSynapse` in a model written for `BioNMDA`, and stock `BioNMDA` + `AMPA` as the
#    presynaptic side of a plastic projection;
# 4. connectivity and sparse storage;
# 5. learned weights survive `reset_all_states`;
# 6. a plasticity rule of your own, with its own state: trained, batched and differentiated;
# 7. batched parameter sweeps with `jax.vmap`.
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

from ltp_brainpy import (CalciumControlRule, Dendrite, FixedInDegree, GlutamateSynapse,
                         LTPNeuron, LTPProjection, ParameterError, PlasticityRule,
                         StatefulRule, protocols, simulate)
from ltp_brainpy.neuron import heaviside

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


def stock_lif(n, **kwargs):
    """A brainpy.state LIF with a 20 ms membrane (R = 0.1 GOhm, i.e. g_L = 10 nS) at -65 mV."""
    return brainpy.state.LIF(n, R=0.1 * u.Gohm, tau=20 * u.ms, V_th=-50 * u.mV,
                             V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                             V_initializer=braintools.init.Constant(-65 * u.mV), **kwargs)


def stock_lif_ref(n):
    """The same membrane with a 4 ms refractory period (LTPNeuron's passive membrane)."""
    return brainpy.state.LIFRef(n, R=0.1 * u.Gohm, tau=20 * u.ms, tau_ref=4 * u.ms,
                                V_th=-50 * u.mV, V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                                V_initializer=braintools.init.Constant(-65 * u.mV))


# %% [markdown]
# ## 1. One update per step
#
# `LTPProjection(pre, post)` connects a presynaptic receptor model — a `GlutamateSynapse`, one
# release site and receptor set per presynaptic neuron — to any `brainpy.state` neuron. For
# every synapse it holds the AMPA conductance $w_{ij}$ and the spine calcium $Ca_{ij}$, and it
# registers its current
# $I_j = \sum_i w_{ij} s_i (E_{AMPA} - V_j) + \sum_i \bar g_N g_i B(V_j)(E_{NMDA} - V_j)$
# ($s_i$, $g_i$ the AMPA and NMDA open fractions, $B$ the Mg²⁺ unblock) as a current input of
# the neuron, so the neuron's own `update` integrates it. A step is two calls, in
# brainpy.state's order (projections, then neurons):
#
# ```python
# proj.update(pre_spike)  # release and receptor gating, spine calcium, plasticity
# post(I_ext)             # membrane (with the projection's current), then the dendrite
# ```
#
# The projection **owns** its receptor model: `proj.update` advances it, then the spines and
# the rule, in that order, so the receptors cannot be forgotten, advanced twice in a step, or
# advanced after the spines have read them. Calling the neuron (`post(x)`, not
# `post.update(x)`) also runs its after-updates — here the `Dendrite` that the projection
# attached to the stock neuron, which turns its spikes into back-propagated depolarization and
# calcium for the spines.
#
# Three LIF neurons receive the same two axons, stimulated at 5 Hz: neuron 0 is depolarized
# just below threshold by 140 pA (to about −51 mV), neuron 1 a little by 60 pA (to about
# −59 mV), neuron 2 is at rest.

# %%
n_pulses = 40 if QUICK else 100
syn = GlutamateSynapse(2, name="axons")
lif = stock_lif(3)
proj = LTPProjection(syn, lif)                      # all-to-all, w_init = 0.5 nS
brainstate.nn.init_all_states([lif, proj])
print("current inputs registered on the LIF:", list(lif.current_inputs))

I_ext = jnp.array([140.0, 60.0, 0.0]) * u.pA
spikes = pulse_train(n_pulses, 200.0, n_axons=2)


def step(pre_spike):
    proj.update(pre_spike)
    fired = lif(I_ext)
    return dict(V=lif.V.value, fired=fired, ca=proj.ca.value.mean(axis=0),
                w=proj.w.value.mean(axis=0))


out = simulate.run(step, spikes.shape[0], spikes)   # one compiled loop
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
assert np.asarray(out["fired"]).sum() == 0                  # all three stay below threshold
assert V[:, 2].max() > -64.5 and np.all(np.isfinite(V))      # the resting LIF sees the EPSPs
assert peak[0] > theta_p > peak[1] > theta_d > peak[2]       # insertion, removal band, below
assert change[0] > 0.2                                      # -51 mV: LTP, without any spike
assert change[1] < -0.1                                     # -59 mV: LTD
assert -0.1 < change[2] < 0 and abs(change[2]) < abs(change[1]) / 4  # rest: the soft edge only

# %% [markdown]
# The more depolarized a neuron, the more of the Mg²⁺ block is relieved and the more calcium
# its spines receive; at 5 Hz the calcium of successive pulses also adds up (it decays with
# $\tau_{Ca}$ = 100 ms). At −51 mV it climbs above $\theta_p$ (dashed): neuron 0's synapses
# potentiate without a single postsynaptic spike. At −59 mV it stays in the removal band
# between $\theta_d$ (dotted) and $\theta_p$: neuron 1's depress. At rest it peaks just under
# $\theta_d$, and the soft edge of the threshold (width $\kappa$) removes a few %.
#
# Because the projection advances its receptors, each receptor model serves one projection.
# Two pathways from the same axons get a receptor model each:

# %%
try:
    LTPProjection(syn, stock_lif(2))                 # `syn` already belongs to `proj`
except ParameterError as error:
    print(error)
second = LTPProjection(GlutamateSynapse(2), stock_lif(2))   # its own release sites: fine

# %% [markdown]
# ## 2. Plasticity onto a stock neuron
#
# The package's protocols take `neuron=`, a function that makes the postsynaptic cell. Here
# spike-timing dependent plasticity (60 pairs at 1 Hz, the presynaptic spike 10 ms before or
# after a postsynaptic spike evoked by a brief current pulse) onto a stock `LIFRef` with the
# passive membrane of `LTPNeuron`, compared with `LTPNeuron` itself.
#
# A stock neuron has no dendrite of its own: the projection attaches a `Dendrite` (calibrated
# defaults), which adds to every spike a back-propagated depolarization $A_{bpap,f}$ = 96.7 mV
# (decaying in 2 ms) plus $A_{bpap}$ = 21.7 mV (21 ms) and 0.23 µM of spike calcium. Its
# parameters are passed by name to the protocols (as all model parameters are). A spike that
# back-propagates less — as into distal dendrites — unblocks fewer NMDA receptors: below we
# scale both amplitudes by 0.5 and 0.3.

# %%
calibrated = Dendrite(1)                               # the default amplitudes
dendrite_defaults = dict(A_bpap_fast=calibrated.A_bpap_fast, A_bpap=calibrated.A_bpap)
scales = [1.0, 0.5, 0.3]
stdp_stock = [protocols.stdp([10, -10] * u.ms, neuron=stock_lif_ref,
                             **{k: s * v for k, v in dendrite_defaults.items()})
              for s in scales]
stdp_own = protocols.stdp([10, -10] * u.ms)            # LTPNeuron
for s, result in zip(scales, stdp_stock):
    print(f"stock LIFRef, bpAP x {s}: +10 ms {100 * result.weight_change[0]:+.1f} %, "
          f"-10 ms {100 * result.weight_change[1]:+.1f} %")
print(f"LTPNeuron:               +10 ms {100 * stdp_own.weight_change[0]:+.1f} %, "
      f"-10 ms {100 * stdp_own.weight_change[1]:+.1f} %")

fig, ax = plt.subplots(figsize=(7, 4))
for s, result in zip(scales, stdp_stock):
    for k, style in [(0, "-"), (1, "--")]:
        ax.plot(result.time.to_decimal(u.second), result.weight[k].to_decimal(u.nS), style,
                color=plt.cm.viridis(0.8 * (1 - s)),
                label=f"LIFRef, bpAP x {s}" if k == 0 else None)
for k, style in [(0, "-"), (1, "--")]:
    ax.plot(stdp_own.time.to_decimal(u.second), stdp_own.weight[k].to_decimal(u.nS), style,
            color="tab:red", label="LTPNeuron" if k == 0 else None)
ax.set_xlabel("time (s)")
ax.set_ylabel("mean AMPA w (nS)")
ax.set_title("STDP, 60 pairs at 1 Hz: +10 ms (solid), -10 ms (dashed)")
ax.legend()
plt.show()

ltp = np.array([r.weight_change[0] for r in stdp_stock])
ltd = np.array([r.weight_change[1] for r in stdp_stock])
assert ltp[0] >= 0.10 and ltd[0] < 0                         # LIFRef: LTP and LTD
assert stdp_own.weight_change[0] >= 0.10 and stdp_own.weight_change[1] < 0   # LTPNeuron too
assert ltp[0] > ltp[1] > 0 > ltp[2]                           # weaker bpAP: less LTP, then LTD
assert np.all(ltd < 0)

# %% [markdown]
# The stock `LIFRef` spikes as soon as it crosses threshold, while `LTPNeuron`'s spike has a
# duration, so the numbers differ; with the same dendrite both give LTP for pre-before-post
# and LTD for post-before-pre. With the back-propagated spike at 30 % of its amplitude,
# pre-before-post pairing depresses instead: the calcium now stays in the removal band.
#
# In your own model, pass the dendrite to the projection (`dendrite=` is used once per neuron;
# every projection onto the neuron shares it). A neuron whose input is not a current — e.g.
# `brainpy.state.Izhikevich`, which takes mV/ms — gets the conversion as `current_scale`
# (here a 100 pF membrane); a unit that does not fit is refused at construction.

# %%
distal = LTPProjection(GlutamateSynapse(3), stock_lif(2),       # bpAP at 30 %
                       dendrite=Dendrite(2, A_bpap_fast=29 * u.mV, A_bpap=6.5 * u.mV))
print("attached dendrite:", type(distal.dendrite).__name__, distal.dendrite.A_bpap_fast)

try:
    LTPProjection(GlutamateSynapse(3), brainpy.state.Izhikevich(2))
except ParameterError as error:
    print(error)
izh_V = []
izh_spikes = pulse_train(4, 50.0, n_axons=3, settle_ms=20.0)
for drive in (izh_spikes, jnp.zeros_like(izh_spikes)):
    izh = brainpy.state.Izhikevich(2)
    izh_proj = LTPProjection(GlutamateSynapse(3), izh, current_scale=1 / (100 * u.pF))
    brainstate.nn.init_all_states([izh, izh_proj])
    izh_V.append(np.asarray(simulate.run(lambda s: (izh_proj.update(s), izh(), izh.V.value)[-1],
                                         drive.shape[0], drive).to_decimal(u.mV)))
epsp = (izh_V[0] - izh_V[1]).max()
print(f"Izhikevich: EPSPs of up to {epsp:.2f} mV")
assert float(distal.dendrite.A_bpap_fast / u.mV) == 29.0
assert np.isfinite(izh_V[0]).all() and epsp > 0.2

# %% [markdown]
# ## 3. `GlutamateSynapse` in a model written for `BioNMDA`
#
# `GlutamateSynapse` is a `brainpy.state.BioNMDA`: the same constructor (`alpha1`, `beta1`,
# `alpha2`, `beta2`, `T`, `T_dur`, initializers; its own parameters keyword-only), the states
# `g` (in mS) and `x`, and `update(spike)` returning `g`. Where `BioNMDA` drives its
# receptors with a fixed square pulse of glutamate `T` for `T_dur` after each spike,
# `GlutamateSynapse` releases into the cleft (`glu`) from a dock holding `T` at rest, which
# trains deplete (short-term depression), and its cleft glutamate also gates AMPA receptors.
#
# Below, the same stock model — 20 presynaptic LIFs driven to 20–60 Hz, an
# `align_pre_projection` with a unitless `Linear` (0.5 nS per synapse) and the stock `MgBlock`
# output ($I = g_{tot}\,(E - V) / (1 + [\mathrm{Mg}]/\beta\, e^{-\alpha V})$) onto 5 LIFs — is
# built once with `BioNMDA` and once with `GlutamateSynapse`. `align_pre_projection` hands the
# receptors the spikes as a `brainevent.BinaryArray`, which `GlutamateSynapse` reads directly;
# the stock `BioNMDA` needs a two-line subclass that unwraps them.

# %%
class EventBioNMDA(brainpy.state.BioNMDA):
    """Stock BioNMDA that accepts the brainevent.BinaryArray spikes of align_pre_projection."""

    def update(self, pre_spike):
        return super().update(u.math.asarray(getattr(pre_spike, "value", pre_spike)))


def nmda_model(receptor, n_pre=20, n_post=5):
    pre = brainpy.state.LIF(n_pre, R=0.1 * u.Gohm, tau=10 * u.ms, V_th=-50 * u.mV,
                            V_reset=-65 * u.mV, V_rest=-65 * u.mV,
                            V_initializer=braintools.init.Constant(-65 * u.mV))
    post = stock_lif(n_post)
    syn = receptor(n_pre)
    nmda = brainpy.state.align_pre_projection(
        pre, syn=syn,
        comm=brainstate.nn.Linear(n_pre, n_post, w_init=braintools.init.Constant(5e-7),
                                  b_init=None),           # g (mS) x 5e-7: 0.5 nS per synapse
        out=brainpy.state.MgBlock(E=0 * u.mV, cc_Mg=1.0 * u.mM, beta=3.57 * u.mM,
                                  alpha=0.062 / u.mV),
        post=post)
    brainstate.nn.init_all_states([pre, post, nmda])
    return post, syn, nmda


n_steps = int(round((300.0 if QUICK else 500.0) / dt_ms))
drive = jnp.broadcast_to(jnp.linspace(160.0, 220.0, 20), (n_steps, 20)) * u.pA
t_ms = np.arange(n_steps) * dt_ms
runs = {}
for label, receptor in [("BioNMDA", EventBioNMDA), ("GlutamateSynapse", GlutamateSynapse)]:
    post, syn3, nmda = nmda_model(receptor)

    def step(I_pre):
        nmda(I_pre)        # presynaptic LIFs spike, receptors open, NMDA current into post
        post.update()
        record = dict(V=post.V.value.mean().to_decimal(u.mV),
                      g=syn3.g.value.mean().to_decimal(u.mS))
        if isinstance(syn3, GlutamateSynapse):
            record["D"] = syn3.D.value.mean().to_decimal(u.mM)
        return record

    runs[label] = {k: np.asarray(v) for k, v in simulate.run(step, n_steps, drive).items()}

fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True)
for label, run in runs.items():
    axes[0].plot(t_ms, run["g"], label=label)
    axes[1].plot(t_ms, run["V"], label=label)
axes[2].plot(t_ms, runs["GlutamateSynapse"]["D"], color="tab:orange")
axes[0].set_ylabel("mean NMDA g (mS)")
axes[0].legend()
axes[1].set_ylabel("postsynaptic V (mV)")
axes[2].set_ylabel("docked D (mM)")
axes[2].set_xlabel("time (ms)")
plt.tight_layout()
plt.show()

late = t_ms > t_ms[-1] - 100.0                            # the last 100 ms
T_rest = float(syn3.T / u.mM)                             # docked glutamate at rest
D_min = runs["GlutamateSynapse"]["D"].min()
for label, run in runs.items():
    print(f"{label}: depolarization {run['V'].max() + 65:.1f} mV, NMDA g late / peak "
          f"{run['g'][late].mean() / run['g'].max():.2f}")
print(f"GlutamateSynapse: dock down to {D_min / T_rest:.0%} of T = {T_rest:g} mM")
for run in runs.values():
    assert np.all(np.isfinite(run["V"])) and run["V"].max() + 65.0 > 0.5  # NMDA depolarizes
assert D_min < 0.5 * T_rest                                 # the trains deplete the dock
depression = {k: r["g"][late].mean() / r["g"].max() for k, r in runs.items()}
assert depression["GlutamateSynapse"] < depression["BioNMDA"] - 0.1   # ... and the NMDA drive

# %% [markdown]
# `BioNMDA` adds up to a sustained NMDA drive; with `GlutamateSynapse` the receptors follow
# the depleting release. `BioNMDA`'s parameters are set the same way on both, e.g.
# `GlutamateSynapse(n, T=2 * u.mM, T_dur=0.5 * u.ms, tau_rec=800 * u.ms)`.
#
# The other way round, a model that already has stock `BioNMDA` and `AMPA` receptors keeps
# them as the presynaptic side of a plastic projection: `LTPProjection(nmda, post, ampa=ampa)`
# reads their open fractions and advances both. Pairing 5 Hz input with a clamp at 0 mV
# potentiates:

# %%
nmda_rec, ampa_rec, cell = brainpy.state.BioNMDA(4), brainpy.state.AMPA(4), LTPNeuron(1)
stock_proj = LTPProjection(nmda_rec, cell, ampa=ampa_rec)
brainstate.nn.init_all_states([cell, stock_proj])
cell.clamp(0 * u.mV)
train = pulse_train(20, 200.0, n_axons=4)
w_stock = simulate.run(lambda s: (stock_proj.update(s), cell(), stock_proj.w.value.mean())[-1],
                       train.shape[0], train)
print(f"pairing at 0 mV through stock BioNMDA + AMPA: w 0.5 -> {float(w_stock[-1] / u.nS):.3f} nS")
assert float(w_stock[-1] / u.nS) > 0.55

# %% [markdown]
# ## 4. Connectivity and sparse storage
#
# `conn` is `None` (all to all), a probability (each pair drawn independently, with `seed`),
# a boolean `(n_pre, n_post)` mask, or `FixedInDegree(k)` (each postsynaptic neuron draws `k`
# distinct partners). By default $w$ and the spine calcium are stored as
# `(n_pre, n_post)` matrices; `sparse=True` stores them only for the synapses that exist, as one
# row per postsynaptic neuron (padded to the largest in-degree). `weight_matrix()` returns the
# usual matrix either way.

# %%
n_pre, n_post = (400, 300) if QUICK else (2000, 1500)
print(f"{n_pre} -> {n_post} neurons      synapses   stored (dense)   stored (sparse)")
for label, conn in [("FixedInDegree(20)", FixedInDegree(20)), ("probability 0.05", 0.05)]:
    stored, masks = {}, {}
    for sparse in (False, True):
        p = LTPProjection(GlutamateSynapse(n_pre), stock_lif(n_post), conn=conn, seed=0,
                          sparse=sparse)
        stored[sparse], masks[sparse] = int(np.prod(p.layout.shape)), p.mask
    print(f"{label:22s} {p.layout.n_synapses:10,d} {stored[False]:16,d} {stored[True]:17,d}")
    if isinstance(conn, FixedInDegree):
        assert (p.mask.sum(axis=0) == 20).all() and stored[True] == 20 * n_post  # no padding
    assert stored[False] == n_pre * n_post and stored[True] < stored[False] / 10
    assert np.array_equal(masks[False], masks[True])          # same seed, same synapses

# %% [markdown]
# Both storages compute the same thing. A population of LIFs held near threshold (140 pA)
# receives 20 Hz Poisson input through a random 5 % mask, stored once densely and once
# sparsely; in double precision (`brainstate.environ.context(precision=64)`, around building
# and running) membrane potentials and learned weights agree to rounding error.

# %%
n_steps = 2000 if QUICK else 5000                      # 200 ms / 500 ms
mask = np.random.default_rng(1).random((n_pre, n_post)) < 0.05
poisson = np.random.default_rng(2).random((n_steps, n_pre)) < 20.0 * dt_ms / 1000.0
results = {}
with brainstate.environ.context(precision=64):
    for sparse in (False, True):
        post = stock_lif(n_post)
        proj = LTPProjection(GlutamateSynapse(n_pre), post, conn=mask, sparse=sparse)
        brainstate.nn.init_all_states([post, proj])

        def step(s):
            proj.update(s)
            return post(140.0 * u.pA)

        fired = simulate.run(step, n_steps, jnp.asarray(poisson))
        results[sparse] = dict(w=np.asarray(proj.weight_matrix().to_decimal(u.nS)),
                               V=np.asarray(post.V.value.to_decimal(u.mV)),
                               rate=float(np.asarray(fired).sum()) / n_post
                               / (n_steps * dt_ms / 1e3))
learned = results[False]["w"][mask] - 0.5
print(f"postsynaptic rate {results[False]['rate']:.1f} Hz, weight changes from "
      f"{learned.min():+.4f} to {learned.max():+.4f} nS")
w_diff = np.abs(results[True]["w"] - results[False]["w"]).max()
V_diff = np.abs(results[True]["V"] - results[False]["V"]).max()
print(f"largest difference dense vs sparse: w {w_diff:.1e} nS, V {V_diff:.1e} mV")
assert results[False]["rate"] > 1.0 and np.abs(learned).max() > 1e-3   # spikes, learning
assert w_diff < 1e-10 and V_diff < 1e-9
assert (results[True]["w"][~mask] == 0).all()

# %% [markdown]
# ## 5. Learned weights survive a reset
#
# `brainstate.nn.reset_all_states` resets activity — receptors, calcium, membrane, the rule's
# states — and keeps the AMPA conductances, as a stock `Linear` keeps its weights; so a model
# can be trained, reset, and tested. `proj.plastic = False` freezes the weights (a state,
# switchable between or inside compiled runs), and `reset_weights()` restores the initial ones.
# Below: the EPSP of four axons onto a LIF, before and after training them with the
# induction of section 1 (5 Hz volleys, 140 pA; four axons now fire the LIF on each volley).

# %%
syn5, lif5 = GlutamateSynapse(4), stock_lif(1)
proj5 = LTPProjection(syn5, lif5)
brainstate.nn.init_all_states([lif5, proj5])
test_spikes = pulse_train(1, 100.0, n_axons=4, settle_ms=100.0)
train_spikes = pulse_train(n_pulses, 200.0, n_axons=4)


def epsp():
    """Peak EPSP (mV) of one volley, plasticity off, from a fresh state."""
    brainstate.nn.reset_all_states([lif5, proj5])
    proj5.plastic = False
    V = simulate.run(lambda s: (proj5.update(s), lif5(), lif5.V.value)[-1],
                     test_spikes.shape[0], test_spikes)
    return float(u.math.max(V).to_decimal(u.mV)) + 65.0


before = epsp()
brainstate.nn.reset_all_states([lif5, proj5])
proj5.plastic = True
fired = simulate.run(lambda s: (proj5.update(s), lif5(140.0 * u.pA))[1],
                     train_spikes.shape[0], train_spikes)
learned = np.asarray(proj5.w.value.to_decimal(u.nS)).copy()
after = epsp()                                        # resets, then tests
assert np.array_equal(np.asarray(proj5.w.value.to_decimal(u.nS)), learned)
proj5.reset_weights()
restored = epsp()
print(f"{int(np.asarray(fired).sum())} spikes in training, w {learned.mean():.3f} nS; "
      f"EPSP {before:.2f} mV before, {after:.2f} mV after (reset_all_states in between), "
      f"{restored:.2f} mV after reset_weights()")
brainstate.nn.reset_all_states([lif5, proj5])                # activity back to rest:
assert float(u.math.max(proj5.ca.value) / u.uM) == 0.0      # no spine calcium,
assert bool(u.math.all(syn5.D.value == syn5.T))              # a full dock
assert learned.min() > 0.6 and after > 1.2 * before and abs(restored - before) < 1e-4

# %% [markdown]
# ## 6. A rule of your own, with its own state
#
# A rule is any object with bounds `w_min`, `w_max` and `update(w, signals)` returning the new
# $w$ (the `PlasticityRule` protocol). `signals` (`SynapseSignals`) carries the plasticity
# calcium, `w0`, the pre- and postsynaptic spikes, the somatic and dendritic potentials, `dt`,
# and `layout`, which lifts presynaptic (`layout.pre(x)`) or postsynaptic (`layout.post(x)`)
# values to the synapses, dense or sparse alike. A rule with states derives from
# `StatefulRule`: the projection hands it its layout, so `init_state` can size the states.
#
# Here, BCM-like metaplasticity: the calcium-control rule with both thresholds sliding up with
# the postsynaptic neuron's recent rate $r$ (spikes low-pass filtered over $\tau_r$):
# $\theta_{d,p} \to \theta_{d,p} + \beta\,r$. Sliding both thresholds by $\beta r$ is the
# same as evaluating the stock rule at $c - \beta r$.

# %%
class SlidingThresholdRule(StatefulRule):
    """Calcium control whose thresholds rise by beta * (postsynaptic rate)."""

    def __init__(self, beta=0.01 * u.uM / u.Hz, tau_r=5.0 * u.second, **calcium_control):
        super().__init__()
        self.base = CalciumControlRule(**calcium_control)
        self.beta, self.tau_r = beta, tau_r
        self.w_min, self.w_max = self.base.w_min, self.base.w_max

    def init_state(self, batch_size=None, **kwargs):
        shape = ((batch_size,) if batch_size else ()) + (self.layout.n_post,)
        self.rate = brainstate.HiddenState(jnp.zeros(shape) * u.Hz)

    def reset_state(self, batch_size=None, **kwargs):
        self.rate.value = u.math.zeros_like(self.rate.value)

    def update(self, w, signals):
        decay = u.math.exp(-signals.dt / self.tau_r)
        self.rate.value = self.rate.value * decay + signals.post_spike / self.tau_r
        shift = signals.layout.post(self.beta * self.rate.value)  # per neuron -> per synapse
        return self.base.step(w, signals.calcium - shift, signals.w0, signals.dt)


assert isinstance(SlidingThresholdRule(), PlasticityRule)

# %% [markdown]
# The experiment: two LIFs receive one axon. Neuron 1 is first *primed* — driven to fire at
# about 35 Hz for 2 s by a 200 pA current, with no synaptic input — while neuron 0 rests; then
# both get the LTP induction of section 1 (140 pA, 40 pulses at 5 Hz). The function below
# builds, initialises and runs the whole model in one compiled loop for a sliding strength
# $\beta$ and returns both weights every 100 ms. `jax.vmap` runs several $\beta$ at once, and
# `jax.grad` gives $\partial w / \partial \beta$.
#
# For gradients, give the stock LIF a plain step as spike function (`heaviside`): its default
# surrogate gradient, meant for training networks, would let a pseudo-derivative flow through
# a membrane near threshold even where no spike time changes.

# %%
prime_steps, period = int(2000.0 / dt_ms), int(200.0 / dt_ms)
n_steps = prime_steps + 40 * period + int(1000.0 / dt_ms)
i = jnp.arange(n_steps)
induction = i >= prime_steps
pre6 = induction & ((i - prime_steps) % period == 0) & (i < prime_steps + 40 * period)
I6 = jnp.stack([jnp.where(induction, 140.0, 0.0), jnp.where(induction, 140.0, 200.0)], 1)


def primed_run(beta):
    """Both neurons' weights every 100 ms (nS), for a threshold slide beta (uM/Hz)."""
    post = stock_lif(2, spk_fun=heaviside)
    proj = LTPProjection(GlutamateSynapse(1), post,
                         rule=SlidingThresholdRule(beta=beta * u.uM / u.Hz))
    brainstate.nn.init_all_states([post, proj])

    def step(s, I):
        proj.update(s[None])
        post(I * u.pA)

    return simulate.run(step, n_steps, pre6, I6, every=1000,
                        monitor=lambda: proj.w.value[0].to_decimal(u.nS))


betas = jnp.array([0.0, 0.005, 0.01, 0.02, 0.03])
w_beta = np.asarray(jax.jit(jax.vmap(primed_run))(betas))      # (beta, time, neuron)
change_beta = w_beta[:, -1] / 0.5 - 1


def primed_weight(beta):
    return primed_run(beta)[-1, 1]


grad = float(jax.jit(jax.grad(primed_weight))(0.01))
h = 1e-3
fd = (float(primed_weight(0.01 + h)) - float(primed_weight(0.01 - h))) / (2 * h)
for b, c in zip(betas.tolist(), change_beta):
    print(f"beta {b:.3f} uM/Hz: naive {100 * c[0]:+.1f} %, primed {100 * c[1]:+.1f} %")
print(f"dw/dbeta (primed, beta = 0.01): jax.grad {grad:.3f}, finite difference {fd:.3f} "
      f"nS Hz/uM")

t_w = (np.arange(w_beta.shape[1]) + 1) * 0.1
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for k in (0, 3):
    axes[0].plot(t_w, w_beta[k, :, 0], color=f"C{k}", ls=":",
                 label=rf"naive, $\beta$ = {float(betas[k]):g}")
    axes[0].plot(t_w, w_beta[k, :, 1], color=f"C{k}",
                 label=rf"primed, $\beta$ = {float(betas[k]):g}")
axes[0].axvspan(0, 2, color="gray", alpha=0.2)
axes[0].set_xlabel("time (s); priming shaded")
axes[0].set_ylabel("AMPA w (nS)")
axes[0].legend()
axes[1].plot(betas, 100 * change_beta[:, 0], "o:", label="naive")
axes[1].plot(betas, 100 * change_beta[:, 1], "o-", label="primed")
axes[1].axhline(0, color="gray", lw=0.5)
axes[1].set_xlabel(r"threshold slide $\beta$ (µM/Hz)")
axes[1].set_ylabel("weight change (%)")
axes[1].legend()
plt.tight_layout()
plt.show()

naive, primed = change_beta[:, 0], change_beta[:, 1]
assert np.allclose(naive, naive[0], atol=1e-6) and naive[0] > 0.25  # silent neuron: r = 0
assert abs(primed[0] - naive[0]) < 0.03                 # beta = 0: priming changes nothing
assert np.all(np.diff(primed) < 0) and primed[3] < 0.05  # primed: LTP shrinks, then vanishes
single = np.asarray(primed_run(float(betas[2])))         # vmap lane == run on its own
assert np.allclose(single, w_beta[2], atol=1e-5)
assert grad < 0 and abs(grad - fd) < 0.02 * abs(fd)

# %% [markdown]
# Without a slide ($\beta$ = 0) priming leaves the induction unchanged. With it, the
# priming spikes (about 70) raise neuron 1's thresholds, and from $\beta$ = 0.02 µM/Hz the
# induction that potentiates the naive neuron's synapse by a third no longer potentiates the
# primed one's: prior activity makes LTP harder, as in the metaplasticity experiments of
# Huang et al. (1992) and Abraham & Bear (1996). The naive neuron never fires, so its synapse
# does not depend on $\beta$.
#
# ## 7. Batched parameter sweeps with `jax.vmap`
#
# Section 6 used the general recipe: write a function that **builds, initialises and runs** a
# model for one parameter value and returns what to keep, then `jax.jit(jax.vmap(fn))` it.
# `vmap` traces the function once with a batched parameter, so every state gets a batch axis
# and all variants advance together in one compiled loop (this is how `ltp_brainpy.protocols`
# runs its conditions). Parameter checks that need concrete numbers are skipped for traced
# values; units are still checked. With random inputs drawn inside the model (e.g. stock
# `PoissonSpike`), use `brainstate.transform.vmap2` to give every lane its own random stream.
#
# Two nested `vmap`s sweep a grid: an `LTPNeuron`, voltage-clamped during pairing (2 Hz), on
# holding potentials × potentiation thresholds $\theta_p$ (the default 0.363 µM and three
# higher ones), one compiled simulation for the whole grid.

# %%
holds = np.arange(-80.0, 11.0, 10.0 if QUICK else 5.0)         # mV
default_theta_p = float(CalciumControlRule().theta_p / u.uM)   # 0.363 µM
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
assert np.all(np.diff(onset) >= 0) and onset[-1] > onset[0]  # a higher theta_p needs more
k = len(holds) - 1                                           # one grid cell run on its own
assert abs(float(paired_weight(float(holds[k]), float(thresholds[1]))) / 0.5 - 1
           - change_grid[1, k]) < 1e-5

# %% [markdown]
# Raising $\theta_p$ moves the LTP side of the voltage curve to more depolarized potentials
# and widens the LTD band below it — the sliding threshold of section 6, here as a fixed
# parameter.
