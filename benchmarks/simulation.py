"""Benchmark: the Monte Carlo runner of ``vimp.simulation`` against the loop a user writes with scikit-learn.

Setting (issue 13): replicates of n = 500 rows, p = 10 equicorrelated Gaussian features (rho = 0.5),
y = X beta + eps with beta = 1 and eps ~ N(0, 1); each replicate draws a training and an independent
evaluation set of n rows (``validation="independent"``) and measures every feature with OLS:
PaP with 10 permutations, LOCO (drop and refit) and GCM. Timed, per replicate:

* ``runner``: ``monte_carlo(dgp, {"pap": PermutationImportance(LinearRegression(), n_permutations=10),
  "loco": LOCO(LinearRegression()), "gcm": GCM(LinearRegression())}, n=500, reps=R)`` (the generic path:
  each estimator cloned and fitted per replicate; the compiled path of the issue is not implemented), with
  ``n_jobs=1``, ``n_jobs=2`` (loky processes) and, in the full run, a 2-worker dask ``LocalCluster``
  (``processes=True``, one thread per worker); the parallel ones after a warm-up run of 8 replicates on
  the same workers (process start-up and imports are not counted);
* ``sklearn_loop``: the same study written by hand: ``LinearRegression`` fitted on the training set,
  ``sklearn.inspection.permutation_importance(n_repeats=10, scoring="neg_mean_squared_error")`` on the
  evaluation set, LOCO as p refits without each column (evaluation MSE differences), GCM as 2p refits
  (y and x_j on the other columns, on the training set) and the mean of the evaluation residual products;
* ``floor``: drawing the data only: ``dgp.sample`` twice and ``rng.permuted`` of the 100 index rows
  (10 features x 10 permutations) that PaP needs.

Ratios are of per-replicate times measured in one run of this script.

Usage::

    python benchmarks/simulation.py            # runner 1,000 replicates, sklearn loop 1,000, floor 1,000
    python benchmarks/simulation.py --quick    # 40 / 20 / 200 replicates, under 2 minutes

Writes ``benchmarks/results/simulation.csv`` (``simulation_quick.csv`` with ``--quick``). Reports only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's vimp, whatever is installed
sys.path.insert(1, os.path.join(ROOT, "benchmarks"))

from _common import machine_info  # noqa: E402

N, P, RHO, PERMUTATIONS = 500, 10, 0.5, 10


def _dgp():
    from vimp.simulation import EquicorrelatedLinear

    return EquicorrelatedLinear(P, RHO, 1.0, noise_sd=1.0)


def _estimators():
    from sklearn.linear_model import LinearRegression

    from vimp import GCM, LOCO, PermutationImportance

    return {"pap": PermutationImportance(LinearRegression(), n_permutations=PERMUTATIONS),
            "loco": LOCO(LinearRegression()),
            "gcm": GCM(LinearRegression())}


def run_runner(reps, n_jobs=None, scheduler=None):
    from vimp.simulation import monte_carlo

    return monte_carlo(_dgp(), _estimators(), n=N, reps=reps, random_state=0, n_jobs=n_jobs,
                       scheduler=scheduler)


def run_sklearn_loop(reps):
    """The study as a user writes it with scikit-learn today."""
    from sklearn.base import clone
    from sklearn.inspection import permutation_importance
    from sklearn.linear_model import LinearRegression

    dgp = _dgp()
    seeds = np.random.SeedSequence(0).spawn(reps)
    rows = []
    for r, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        X, y = dgp.sample(N, rng)
        X_eval, y_eval = dgp.sample(N, rng)
        model = LinearRegression().fit(X, y)
        full_mse = np.mean((y_eval - model.predict(X_eval)) ** 2)
        pap = permutation_importance(model, X_eval, y_eval, n_repeats=PERMUTATIONS,
                                     scoring="neg_mean_squared_error", random_state=rng.integers(2**31))
        for j in range(P):
            keep = [k for k in range(P) if k != j]
            reduced = clone(model).fit(X[:, keep], y)
            loco = np.mean((y_eval - reduced.predict(X_eval[:, keep])) ** 2) - full_mse
            x_model = LinearRegression().fit(X[:, keep], X[:, j])
            products = (X_eval[:, j] - x_model.predict(X_eval[:, keep])) * (y_eval - reduced.predict(X_eval[:, keep]))
            gcm = products.mean()
            gcm_se = products.std() / np.sqrt(N)
            rows.append((r, j, pap.importances_mean[j], loco, gcm, gcm_se))
    return rows


def run_floor(reps):
    """Drawing the random numbers only: the data of both sets and PaP's 100 permutations of n rows."""
    dgp = _dgp()
    seeds = np.random.SeedSequence(0).spawn(reps)
    index = np.tile(np.arange(N), (P * PERMUTATIONS, 1))
    total = 0.0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        X, y = dgp.sample(N, rng)
        X_eval, y_eval = dgp.sample(N, rng)
        perms = rng.permuted(index, axis=1)
        total += X[0, 0] + perms[0, 0]
    return total


def _timed(function, *args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few replicates (under 2 minutes)")
    args = parser.parse_args(argv)
    reps = {"runner": 40, "sklearn_loop": 20, "floor": 200} if args.quick else \
        {"runner": 1000, "sklearn_loop": 1000, "floor": 1000}

    from threadpoolctl import threadpool_limits

    print("machine:", machine_info({}))
    run_runner(4)  # warm-up: imports and Numba's compiled kernels (loaded from its cache)
    rows = []

    def record(name, count, seconds):
        rows.append({"measure": name, "reps": count, "seconds": seconds,
                     "ms_per_replicate": 1000 * seconds / count})
        print(f"{name:>22}: {count:5d} replicates in {seconds:8.2f} s = {1000 * seconds / count:8.3f} ms each",
              flush=True)

    with threadpool_limits(1):  # every measure single-threaded in this process, as vimp's policy runs it
        record("floor", reps["floor"], _timed(run_floor, reps["floor"]))
        record("runner_n_jobs_1", reps["runner"], _timed(run_runner, reps["runner"]))
        record("sklearn_loop", reps["sklearn_loop"], _timed(run_sklearn_loop, reps["sklearn_loop"]))
    run_runner(8, 2)  # warm-up of the loky workers (reused by the timed run)
    record("runner_n_jobs_2", reps["runner"], _timed(run_runner, reps["runner"], 2))
    if not args.quick:
        try:
            import distributed
        except ImportError:
            print("dask.distributed not installed: LocalCluster timing skipped")
        else:
            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                          dashboard_address=None, silence_logs=40) as cluster, \
                    distributed.Client(cluster) as client:
                run_runner(8, scheduler=client)
                record("runner_dask_2_workers", reps["runner"],
                       _timed(run_runner, reps["runner"], None, client))

    frame = pd.DataFrame(rows)
    per = frame.set_index("measure")["ms_per_replicate"]
    ratios = {
        "sklearn_loop / runner_n_jobs_1 (target >= 50)": per["sklearn_loop"] / per["runner_n_jobs_1"],
        "runner_n_jobs_1 / floor (target <= 1.5)": per["runner_n_jobs_1"] / per["floor"],
        "runner_n_jobs_1 / runner_n_jobs_2": per["runner_n_jobs_1"] / per["runner_n_jobs_2"],
    }
    if "runner_dask_2_workers" in per:
        ratios["runner_dask_2_workers / runner_n_jobs_2 (target <= 1.3)"] = \
            per["runner_dask_2_workers"] / per["runner_n_jobs_2"]
    for name, value in ratios.items():
        print(f"{name}: {value:.3g}")
        rows.append({"measure": f"ratio: {name}", "reps": np.nan, "seconds": np.nan, "ms_per_replicate": value})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                       "simulation_quick.csv" if args.quick else "simulation.csv")
    pd.DataFrame(rows).to_csv(out, index=False)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
