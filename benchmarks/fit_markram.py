"""Wall time of fitting Markram et al. (1997): 8 rows, 6 free parameters, on this machine.

    python benchmarks/fit_markram.py          # the CLI's default fit -> results/fit_markram.json
    python benchmarks/fit_markram.py --quick  # 2 starts, 2 + 2 steps (a smoke test), writes nothing

The fit is the one ``ltp-brainpy fit markram1997`` runs (4 starts in one batch, 30 Adam and
40 L-BFGS steps each); the report holds its wall time (compilation included), its chi2, the
rows within 2 SEM, the peak memory, and the time of one batched gradient of the loss.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_json  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import saiunit as u  # noqa: E402

from ltp_brainpy.datasets import load_dataset  # noqa: E402
from ltp_brainpy.experiments import package_versions  # noqa: E402
from ltp_brainpy.fit import STDP_FREE_PARAMETERS, DatasetModel, fit  # noqa: E402


def gradient_time(dataset, repeats=3) -> float:
    """Median wall time of one value-and-gradient of chi2 over all rows (after compiling)."""
    model = DatasetModel(dataset)
    data, sem = jnp.asarray(dataset.change), jnp.asarray(dataset.sem)

    def loss(x):
        change = model.predict(theta_p=x[0] * u.uM, tau_ca=x[1] * u.ms)
        return jnp.sum(((change - data) / sem) ** 2)

    step = jax.jit(jax.value_and_grad(loss))
    x = jnp.array([0.55, 20.0])  # the defaults of theta_p (uM) and tau_ca (ms)
    jax.block_until_ready(step(x))
    times = []
    for k in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(step(x * (1 + 0.01 * (k + 1))))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a tiny fit (smoke test)')
    args = parser.parse_args(argv)
    dataset = load_dataset('markram1997')
    steps = dict(n_starts=2, iterations=2, polish=2) if args.quick else dict(
        n_starts=4, iterations=30, polish=40)
    start = time.perf_counter()
    result = fit(dataset, STDP_FREE_PARAMETERS, **steps, progress=not args.quick)
    wall = time.perf_counter() - start
    summary = result.summary()
    report = dict(
        benchmark='fit of Markram et al. 1997', quick=args.quick, rows=len(dataset),
        free_parameters=list(STDP_FREE_PARAMETERS), **steps, wall_s=round(wall, 2),
        chi2=summary['chi2'], reduced_chi2=summary['reduced_chi2'],
        rows_within_2_sem=summary['rows_within_2_sem'], parameters=summary['parameters'],
        gradient_s=round(gradient_time(dataset, 1 if args.quick else 3), 3),
        peak_rss_MB=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        machine=machine(), versions=package_versions())
    print(f"fit: {wall:.0f} s, chi2 {report['chi2']:.3f}, {report['rows_within_2_sem']}/8 rows "
          f"within 2 SEM; one gradient over all rows {report['gradient_s']} s; peak "
          f"{report['peak_rss_MB']} MB")
    if not args.quick:
        print(f'wrote {write_json("fit_markram.json", report)}')
    return report


if __name__ == '__main__':
    main()
