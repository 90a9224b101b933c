"""The benchmark network of ``numpy_network.py`` in Brian2 equations, for speed comparisons.

``benchmarks/throughput.py`` runs it (``pip install -e '.[bench]'``) next to ltp_brainpy and
NumPy on the same input, and checks that all three agree on rates and weight changes.

Same parameters, initial weights and input as ``NumpyNetwork``, float64, and the same order
within a step, set by Brian2's schedule (slots, and ``order`` within the 'groups' slot):

0. before_start: ``V0 = V``, the Mg block ``B0 = B(V + bpap)`` and its slope are frozen for the
   step (``constant over dt``). before_groups: input spikes (``SpikeGeneratorGroup``) set
   ``stim = 1`` for this step; after_groups resets it.
1. Terminals (a ``NeuronGroup`` per layer, order 0): D, glu, s, x, g by exponential Euler. The
   release window is ``timestep(t - lastspike) <= n_rel`` with the layer's ``lastspike``
   linked in: a spike releases for n_rel steps from the next step on, as in NumPy.
2. Synapses (order 1): ca (with the post layer's frozen B0) and w by exponential Euler, each
   linear in itself. Summed variables run just before their target: ``gA_up``/``gA_down``
   (scale s_pre w, per synapse) into the layer; ``gN_up``/``gN_down`` (scale gbar_N g_pre)
   into a one-neuron group per layer (O(n) synapses, as NumPy sums g), linked back.
3. Membranes (order 3): the current is linearised in V around V0 (B and its slope frozen, as
   in ``NumpyNetwork``), so exponential Euler is NumPy's update. A spike sets ``V = V_ap`` and
   starts ``refractory = n_ref`` steps with V frozen (``unless refractory``); the custom event
   ``ap_end``, n_ap steps after the spike, resets V to V_reset (event resets may write V during
   refractoriness; ``run_regularly`` may not).

What differs from NumPy is O(dt) timing in the terminals: Brian2 updates D, glu, s, x, g together
from the start-of-step values, NumPy one after the other (new T into s and x, new x into g,
release integrated exactly); and w sees the start-of-step calcium. A NumPy step changed to
do the same reproduces Brian2's counts and weights to 7 digits.
"""
from __future__ import annotations

import tempfile
import time

import numpy as np

TERMINAL = '''
dD/dt = (T - D)/tau_rec - k*D : mmolar
dglu/dt = k*D - glu/tau_clear : mmolar
ds/dt = alpha_A*glu*(1 - s) - beta_A*s : 1
dx/dt = alpha2*glu*(1 - x) - beta2*x : 1
dg/dt = alpha1*x*(1 - g) - beta1*g : 1
k = k_rel*int(timestep(t - spiked, dt) <= n_rel) : hertz
spiked : second (linked)
'''
MEMBRANE = '''
dV/dt = I/C : volt (unless refractory)
I = g_L*(E_L - V) + (gA_up + gA_down)*(E_AMPA - V - bpap)
    + (gN_up + gN_down)*(B0*(E_NMDA - V - bpap) + dB0*(E_NMDA - V0 - bpap)*(V - V0))
    + kick*stim : amp
dbpap_slow/dt = -bpap_slow/tau_bpap : volt
dbpap_fast/dt = -bpap_fast/tau_bpap_fast : volt
bpap = bpap_slow + bpap_fast : volt
dca_cell/dt = -ca_cell/tau_ca_post : mmolar
V0 = V : volt (constant over dt)
B0 = 1/(1 + mg/(3.57*mmolar)*exp(-0.062*(V + bpap)/mV)) : 1 (constant over dt)
dB0 = 0.062/mV*B0*(1 - B0) : 1/volt (constant over dt)
gA_up : siemens
gA_down : siemens
gN_up : siemens (linked)
gN_down : siemens (linked)
stim : 1
'''
SYNAPSE = '''
dca/dt = rho*gbar_N*g_pre*B0_post*clip(E_Ca - V_post - bpap_post, 0*mV, inf*mV)
         - ca/tau_ca : mmolar (clock-driven)
dw/dt = gamma_p*ltp*(w_max - w) + gamma_d*ltd*(w_min - w) : siemens (clock-driven)
c = ca + ca_cell_post : mmolar
ltp = 1/(1 + exp(-(c - theta_p)/kappa)) : 1
ltd = 1/(1 + exp(-(c - theta_d)/kappa)) - ltp : 1
gA_{d}_post = scale*s_pre*w : siemens (summed)
'''


def _namespace(p):
    """``NumpyNetwork.p`` (ms, mV, nS, pF, mM, uM) as Brian2 quantities."""
    from brian2 import mM, ms, mV, nS, pA, pF, uM
    units = dict(T=mM, k_rel=1 / ms, tau_rec=ms, tau_clear=ms, alpha_A=1 / (mM * ms),
                 beta_A=1 / ms, alpha1=1 / ms, beta1=1 / ms, alpha2=1 / (mM * ms), beta2=1 / ms,
                 C=pF, g_L=nS, E_L=mV, V_th=mV, V_ap=mV, V_reset=mV, A_bpap=mV, tau_bpap=ms,
                 A_bpap_fast=mV, tau_bpap_fast=ms,
                 A_ca=uM, tau_ca_post=ms, gbar_N=nS, E_AMPA=mV, E_NMDA=mV, E_Ca=mV, mg=mM,
                 rho=uM / (ms * nS * mV), tau_ca=ms, theta_d=uM, theta_p=uM, kappa=uM,
                 gamma_p=1 / ms, gamma_d=1 / ms, w_min=nS, w_max=nS, kick=pA)
    ns = {name: p[name] * unit for name, unit in units.items()}
    ns.update(n_rel=p['n_rel'], n_ap=p['n_ap'])
    return ns


def run_brian2(numpy_net, spikes, target='runtime', threads=1, directory=None) -> dict:
    """Run the network of ``numpy_net`` in Brian2 on the input ``spikes``.

    Parameters
    ----------
    numpy_net : NumpyNetwork
        Source of the parameters and the (current) weights; not modified.
    spikes : ndarray of bool, shape (n_steps, n)
        Input spikes to layer 0, one row per step of ``numpy_net.dt``.
    target : {'runtime', 'cpp_standalone'}
        Brian2 device; 'runtime' uses Brian2's default code generation target (Cython here).
    threads : int
        ``prefs.devices.cpp_standalone.openmp_threads`` for cpp_standalone (0: no OpenMP).
    directory : str, optional
        Project directory for cpp_standalone (default: a new temporary directory).

    Returns
    -------
    dict
        ``loop_s``: the simulation loop as Brian2 times it (``device._last_run_time``; for
        standalone timed inside the binary, without process start, synapse creation and array
        I/O); ``build_s``: code generation and compilation (runtime: the ``run`` call minus
        ``loop_s``, about 1 s once Cython's cache holds the modules; standalone:
        ``device.build(run=False)``); ``counts``: spikes per neuron, one array per layer;
        ``weights``: mean w (nS) per projection.

    Notes
    -----
    Standalone resets the device afterwards (``device.reinit()``, then runtime), so repeated
    calls in one process work, each building its own project. Objects have fixed names, so
    the Cython cache also serves repeated runtime calls.
    """
    import brian2 as b2
    from brian2 import (Network, NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, Synapses,
                        linked_var, ms, nS)
    if target not in ('runtime', 'cpp_standalone'):
        raise ValueError(f'unknown target {target!r}')
    p, dt = numpy_net.p, numpy_net.dt * ms
    standalone = target == 'cpp_standalone'
    if standalone:
        directory = directory or tempfile.mkdtemp(prefix='brian2_network_')
        b2.set_device('cpp_standalone', directory=directory, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = threads
    try:
        b2.defaultclock.dt = dt
        ns = _namespace(p)
        mems, terms, nmdas, objects = [], [], [], []
        for k, n in enumerate(numpy_net.sizes):
            mem = NeuronGroup(n, MEMBRANE, threshold='V > V_th',
                              reset='V = V_ap; bpap_slow += A_bpap; bpap_fast += A_bpap_fast; '
                                    'ca_cell += A_ca',
                              refractory=p['n_ref'] * dt, method='exponential_euler',
                              events={'ap_end': 'timestep(t - lastspike, dt) == n_ap'},
                              namespace=ns, order=3, name=f'layer{k}')
            mem.V = ns['E_L']
            mem.run_on_event('ap_end', 'V = V_reset')
            term = NeuronGroup(n, TERMINAL, method='exponential_euler', namespace=ns, order=0,
                               name=f'terminal{k}')
            term.D = ns['T']
            term.spiked = linked_var(mem, 'lastspike')
            nmda = NeuronGroup(1, 'gN_up : siemens\ngN_down : siemens', order=2, name=f'nmda{k}')
            for d in ('up', 'down'):
                setattr(mem, f'gN_{d}', linked_var(nmda, f'gN_{d}', index=np.zeros(n, int)))
            mems += [mem]
            terms += [term]
            nmdas += [nmda]
            objects += [mem, term, nmda, SpikeMonitor(mem, record=False, name=f'spikes{k}')]
        step, idx = np.nonzero(spikes)
        inp = SpikeGeneratorGroup(spikes.shape[1], idx, step * dt, when='before_groups',
                                  name='input')
        kick = Synapses(inp, mems[0], on_pre='stim_post = 1', namespace=ns, name='kick')
        kick.connect(j='i')
        kick.pre.when, kick.pre.order = 'before_groups', 1
        mems[0].run_regularly('stim = 0', when='after_groups', order=1)
        objects += [inp, kick]
        syns = {}
        for name, (a, b), scale, w in numpy_net.proj:
            d = name.split('_')[0]
            syn = Synapses(terms[a], mems[b], SYNAPSE.format(d=d),
                           method='exponential_euler', namespace=dict(ns, scale=scale), order=1,
                           name=name)
            pre, post = np.indices(w.shape)
            syn.connect(i=pre.ravel(), j=post.ravel())
            syn.w = w.ravel() * nS
            syns[name] = syn
            nmda = Synapses(terms[a], nmdas[b], f'gN_{d}_post = scale*gbar_N*g_pre : siemens '
                            '(summed)', namespace=dict(ns, scale=scale), name=f'{name}_nmda')
            nmda.connect()
            objects += [syn, nmda]
        net = Network(*objects)
        start = time.perf_counter()
        net.run(spikes.shape[0] * dt, namespace={})
        if standalone:
            b2.device.build(directory=directory, compile=True, run=False, with_output=False)
            build_s = time.perf_counter() - start
            b2.device.run(directory=directory, with_output=False)
            loop_s = b2.device._last_run_time
        else:
            loop_s = b2.device._last_run_time
            build_s = time.perf_counter() - start - loop_s
        monitors = [o for o in objects if isinstance(o, SpikeMonitor)]
        return dict(build_s=build_s, loop_s=loop_s,
                    counts=[np.array(m.count[:]) for m in monitors],
                    weights={name: float(np.mean(syn.w[:] / nS)) for name, syn in syns.items()})
    finally:
        if standalone:
            b2.device.reinit()
            b2.set_device('runtime')
