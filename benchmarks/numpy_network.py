"""The network step of ``LayeredNetwork`` written in plain NumPy (float64), as a reference.

This is the model as one would write it without JAX: the same equations and the same
exponential-Euler updates (exact for every linear ODE here; for the membrane, the update
linearises the synaptic current in V, as ``brainstate.nn.exp_euler_step`` does). It runs
the 3-layer benchmark network with top-down projections, no lateral inhibition, all-to-all.
"""
from __future__ import annotations

import numpy as np

from ltp_brainpy import LayeredNetwork


def _f(q, unit):
    unit = unit.unit if hasattr(unit, 'mantissa') else unit  # 1 / u.ms is a Quantity
    return float(np.asarray(q.to_decimal(unit)))


class NumpyNetwork:
    """Mirror of a ``LayeredNetwork`` (its parameters and initial weights), stepped in NumPy."""

    def __init__(self, net: LayeredNetwork):
        import saiunit as u
        self.dt = _f(net.dt, u.ms)
        syn, neu = net.projections["up_01"].pre, net.layers[0]
        dendrite = neu.dendrite
        first = next(iter(net.projections.values()))
        rule = first.rule
        self.p = dict(
            T=_f(syn.T, u.mM), k_rel=_f(syn.k_rel, 1 / u.ms), tau_rec=_f(syn.tau_rec, u.ms),
            tau_clear=_f(syn.tau_clear, u.ms), alpha_A=_f(syn.alpha_A, 1 / (u.mM * u.ms)),
            beta_A=_f(syn.beta_A, 1 / u.ms), alpha1=_f(syn.alpha1, 1 / u.ms),
            beta1=_f(syn.beta1, 1 / u.ms), alpha2=_f(syn.alpha2, 1 / (u.mM * u.ms)),
            beta2=_f(syn.beta2, 1 / u.ms),
            n_rel=int(round(_f(syn.T_duration, u.ms) / self.dt)),
            C=_f(neu.C, u.pF), g_L=_f(neu.g_L, u.nS), E_L=_f(neu.E_L, u.mV),
            V_th=_f(neu.V_th, u.mV), V_ap=_f(neu.V_ap, u.mV), V_reset=_f(neu.V_reset, u.mV),
            n_ap=int(round(_f(neu.t_ap, u.ms) / self.dt)),
            n_ref=int(round(_f(neu.t_ref, u.ms) / self.dt)),
            A_bpap=_f(dendrite.A_bpap, u.mV), tau_bpap=_f(dendrite.tau_bpap, u.ms),
            A_bpap_fast=_f(dendrite.A_bpap_fast, u.mV),
            tau_bpap_fast=_f(dendrite.tau_bpap_fast, u.ms),
            A_ca=_f(dendrite.A_ca, u.uM), tau_ca_post=_f(dendrite.tau_ca_post, u.ms),
            gbar_N=_f(first.gbar_N, u.nS), E_AMPA=_f(first.E_AMPA, u.mV),
            E_NMDA=_f(first.E_NMDA, u.mV), E_Ca=_f(first.E_Ca, u.mV), mg=_f(first.mg, u.mM),
            rho=_f(first.rho, u.uM / (u.ms * u.nS * u.mV)), tau_ca=_f(first.tau_ca, u.ms),
            theta_d=_f(rule.theta_d, u.uM), theta_p=_f(rule.theta_p, u.uM),
            kappa=_f(rule.kappa, u.uM), gamma_p=_f(rule.gamma_p, 1 / u.ms),
            gamma_d=_f(rule.gamma_d, 1 / u.ms), w_min=_f(rule.w_min, u.nS),
            w_max=_f(rule.w_max, u.nS), kick=_f(net.kick, u.pA))
        if net.inhibition:
            raise ValueError('the NumPy reference has no lateral inhibition')
        self.sizes = list(net.sizes)
        self.proj = [(name, self._ends(name), proj.current_scale,
                      np.array(proj.w.value.to_decimal(u.nS), dtype=np.float64))
                     for name, proj in net.projections.items()]
        z = [np.zeros(n) for n in self.sizes]
        self.D = [np.full(n, self.p["T"]) for n in self.sizes]
        self.T, self.s, self.x, self.g = [a.copy() for a in z], [a.copy() for a in z], \
            [a.copy() for a in z], [a.copy() for a in z]
        self.rel = [np.zeros(n, dtype=np.int64) for n in self.sizes]
        self.V = [np.full(n, self.p['E_L']) for n in self.sizes]
        self.bpap, self.ca_post = [a.copy() for a in z], [a.copy() for a in z]
        self.bpap_fast = [a.copy() for a in z]
        self.spike = [a.copy() for a in z]
        self.ap = [np.zeros(n, dtype=np.int64) for n in self.sizes]
        self.ref = [np.zeros(n, dtype=np.int64) for n in self.sizes]
        self.ca = {name: np.zeros_like(w) for name, _, _, w in self.proj}

    @staticmethod
    def _ends(name):
        kind, ab = name.split('_')
        a, b = int(ab[0]), int(ab[1])
        return (a, b) if kind == 'up' else (b, a)

    @staticmethod
    def _exp_step(x, a, b, dt):
        """Exact step of dx/dt = a - b x (b > 0 everywhere here)."""
        return a / b + (x - a / b) * np.exp(-b * dt)

    def _unblock(self, V):
        return 1.0 / (1.0 + self.p['mg'] / 3.57 * np.exp(-0.062 * V))

    def step(self, input_spikes):
        p, dt = self.p, self.dt
        # 1. presynaptic terminals, driven by last step's spikes
        for l in range(len(self.sizes)):
            fired = self.spike[l] > 0
            steps = np.where(fired, p['n_rel'], self.rel[l])
            k = np.where(steps > 0, p['k_rel'], 0.0)
            lam = 1.0 / p['tau_rec'] + k
            D = self.D[l]
            D_new = self._exp_step(D, p["T"] / p["tau_rec"], lam, dt)
            released = k * ((p["T"] / p["tau_rec"]) / lam * dt + (D - D_new) / lam)
            T = self._exp_step(self.T[l], released / dt, 1.0 / p['tau_clear'], dt)
            self.s[l] = self._exp_step(self.s[l], p['alpha_A'] * T,
                                       p['alpha_A'] * T + p['beta_A'], dt)
            self.x[l] = self._exp_step(self.x[l], p['alpha2'] * T, p['alpha2'] * T + p['beta2'],
                                       dt)
            self.g[l] = self._exp_step(self.g[l], p['alpha1'] * self.x[l],
                                       p['alpha1'] * self.x[l] + p['beta1'], dt)
            self.D[l], self.T[l], self.rel[l] = D_new, T, np.maximum(steps - 1, 0)
        # 2. spine calcium and plasticity
        for name, (a, b), scale, w in self.proj:
            Vd = (self.V[b] + self.bpap[b] + self.bpap_fast[b])[None, :]
            influx = p['rho'] * p['gbar_N'] * self.g[a][:, None] * self._unblock(Vd) * \
                np.maximum(p['E_Ca'] - Vd, 0.0)
            decay = np.exp(-dt / p['tau_ca'])
            ca = influx * p['tau_ca'] + (self.ca[name] - influx * p['tau_ca']) * decay
            self.ca[name] = ca
            c = ca + self.ca_post[b][None, :]
            ltp = 1.0 / (1.0 + np.exp(-(c - p['theta_p']) / p['kappa']))
            ltd = 1.0 / (1.0 + np.exp(-(c - p['theta_d']) / p['kappa'])) - ltp
            rate_a = p['gamma_p'] * ltp * p['w_max'] + p['gamma_d'] * ltd * p['w_min']
            rate_b = p['gamma_p'] * ltp + p['gamma_d'] * ltd
            z = rate_b * dt
            phi = np.where(z > 1e-12, -np.expm1(-z) / np.where(z > 1e-12, z, 1.0), 1.0)
            w[...] = w + dt * (rate_a - rate_b * w) * phi
        # 3. membranes
        new_spikes = []
        for l, n in enumerate(self.sizes):
            Vd = self.V[l] + self.bpap[l] + self.bpap_fast[l]
            gA, gN = np.zeros(n), np.zeros(n)
            for name, (a, b), scale, w in self.proj:
                if b == l:
                    gA += scale * (self.s[a] @ w)
                    gN += scale * p['gbar_N'] * self.g[a].sum()
            B = self._unblock(Vd)
            dB = B * (1.0 - B) * 0.062
            I_ext = np.where(input_spikes, p['kick'], 0.0) if l == 0 else 0.0
            f = (p['g_L'] * (p['E_L'] - self.V[l]) + gA * (p['E_AMPA'] - Vd)
                 + gN * B * (p['E_NMDA'] - Vd) + I_ext) / p['C']
            J = (-p['g_L'] - gA + gN * (dB * (p['E_NMDA'] - Vd) - B)) / p['C']
            zJ = J * dt
            safe = np.abs(zJ) > 1e-12
            phi = np.where(safe, np.expm1(zJ) / np.where(safe, zJ, 1.0), 1.0)
            V_free = self.V[l] + dt * phi * f
            ap = np.maximum(self.ap[l] - 1, 0)
            ref = np.maximum(self.ref[l] - 1, 0)
            fired = (ref == 0) & (V_free > p['V_th'])
            ap = np.where(fired, p['n_ap'], ap)
            ref = np.where(fired, p['n_ref'], ref)
            self.V[l] = np.where(ap > 0, p['V_ap'], np.where(ref > 0, p['V_reset'], V_free))
            self.bpap[l] = self.bpap[l] * np.exp(-dt / p['tau_bpap']) + p['A_bpap'] * fired
            self.bpap_fast[l] = (self.bpap_fast[l] * np.exp(-dt / p['tau_bpap_fast'])
                                 + p['A_bpap_fast'] * fired)
            self.ca_post[l] = self.ca_post[l] * np.exp(-dt / p['tau_ca_post']) + p['A_ca'] * fired
            self.ap[l], self.ref[l] = ap, ref
            new_spikes.append(fired.astype(float))
        self.spike = new_spikes
        return new_spikes

    def mean_weights(self):
        return {name: float(w.mean()) for name, _, _, w in self.proj}
