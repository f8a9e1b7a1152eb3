"""Benchmark: the Monte Carlo runner of ``vimp.simulation`` against the loop a user writes with scikit-learn.

Setting (issue 13): replicates of n = 500 rows, p = 10 equicorrelated Gaussian features (rho = 0.5),
y = X beta + eps with beta = 1 and eps ~ N(0, 1); each replicate draws a training and an independent
evaluation set of n rows (``validation="independent"``) and measures every feature with OLS:
PaP with 10 permutations, LOCO (drop and refit) and GCM. Timed, per replicate:

* ``runner``: ``monte_carlo(dgp, {"pap": PermutationImportance(LinearRegression(), n_permutations=10),
  "loco": LOCO(LinearRegression()), "gcm": GCM(LinearRegression())}, n=500, reps=R)`` (the runner takes
  its fast path, ``vimp.simulation._fast``, by itself for these OLS estimators), with
  ``n_jobs=1``, ``n_jobs=2`` (loky processes) and, in the full run, a 2-worker dask ``LocalCluster``
  (``processes=True``, one thread per worker); the parallel ones after a warm-up run of 8 replicates on
  the same workers (process start-up and imports are not counted), and in the full run the median of
  three alternating runs of each;
* ``sklearn_loop``: the same study written by hand: ``LinearRegression`` fitted on the training set,
  ``sklearn.inspection.permutation_importance(n_repeats=10, scoring="neg_mean_squared_error")`` on the
  evaluation set, LOCO as p refits without each column (evaluation MSE differences), GCM as 2p refits
  (y and x_j on the other columns, on the training set) and the mean of the evaluation residual products;
* ``runner_generic_n_jobs_1``: the same call on the runner's generic path (each estimator cloned,
  validated and fitted per replicate), as before the fast path;
* ``floor``: drawing the data only: ``dgp.sample`` twice and ``rng.permuted`` of the 100 index rows
  (10 features x 10 permutations) that PaP needs (the issue's floor: uniform permutations);
* ``floor_derangements``: the same with the permutations PaP draws by default: derangements
  (``vimp._split.draw_permutations``), one child Generator per feature, as the estimator does;
* ``bladen_*``: a Bladen et al.-sized OLS grid (200 settings x 100 replicates; ``--quick``: 20 settings), PaP
  (one uniform permutation) and LOCO of feature 1 on the sqrt scale, independent evaluation set:
  ``bladen_runner`` (fast path), ``bladen_generic`` (vimp's estimators one call at a time, through the
  runner's generic path) and ``bladen_floor`` (drawing the data and the permutation only).

Ratios are of per-replicate times measured in one run of this script.

Usage::

    python benchmarks/simulation.py            # runner 1,000 replicates, sklearn loop 1,000, floor 1,000
    python benchmarks/simulation.py --quick    # fewer replicates and settings, under 2 minutes

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
#: Alternating runs of the n_jobs=2 and dask measures (medians recorded).
PARALLEL_RUNS = 3


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


class _generic_path:
    """Within: the runner's generic path (vimp's estimators, one call at a time) instead of the fast one."""

    def __enter__(self):
        import vimp.simulation._fast as fast

        self._fast, self._plan = fast, fast.plan
        fast.plan = lambda spec: None

    def __exit__(self, *exc):
        self._fast.plan = self._plan


def run_runner_generic(reps):
    with _generic_path():
        return run_runner(reps)


def run_floor_derangements(reps):
    """The random numbers the runner draws: both data sets, and PaP's derangements (vimp's default) from
    the same child Generators as the estimator (10 features x 10 permutations of n rows)."""
    from vimp._split import draw_permutations

    dgp = _dgp()
    seeds = np.random.SeedSequence(0).spawn(reps)
    total = 0.0
    for r, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        X, y = dgp.sample(N, rng)
        X_eval, y_eval = dgp.sample(N, rng)
        for g in range(P):
            perms = draw_permutations(np.random.default_rng(np.random.SeedSequence(r, spawn_key=(2, g, 0))), N,
                                      PERMUTATIONS, kind="derangement")
            total += perms[0, 0]
    return total


# Bladen et al.'s OLS study: a grid of 200 settings (p x delta x n; the same size as the paper's grid,
# not necessarily its values) x 100 replicates, PaP (one uniform permutation, as R's sample) and LOCO
# (drop and refit) of feature 1 on the sqrt scale, an independent evaluation set of n rows.
BLADEN_P = (2, 4, 6, 8, 10)
BLADEN_DELTA = tuple(round(0.1 * k, 1) for k in range(10))
BLADEN_N = (20, 50, 100, 200)


def _bladen_grid(settings):
    grid = [(p, d, n) for p in BLADEN_P for d in BLADEN_DELTA for n in BLADEN_N]
    return grid[::max(1, len(grid) // settings)][:settings]


def _bladen_estimators():
    from sklearn.linear_model import LinearRegression

    from vimp import LOCO, PermutationImportance

    return {"pap": PermutationImportance(LinearRegression(), permutation="uniform", scale="sqrt"),
            "loco": LOCO(LinearRegression(), scale="sqrt")}


def run_bladen(settings, reps, generic=False):
    from vimp.simulation import BladenDesign, monte_carlo

    def go():
        for k, (p, delta, n) in enumerate(_bladen_grid(settings)):
            monte_carlo(BladenDesign(p, delta), _bladen_estimators(), n=n, reps=reps, features=["x0"],
                        random_state=k)

    if generic:
        with _generic_path():
            go()
    else:
        go()


def run_bladen_floor(settings, reps):
    """Drawing Bladen's data only: training and evaluation sets and one permutation of n rows."""
    from vimp.simulation import BladenDesign

    total = 0.0
    for k, (p, delta, n) in enumerate(_bladen_grid(settings)):
        dgp = BladenDesign(p, delta)
        for seed in np.random.SeedSequence(k).spawn(reps):
            rng = np.random.default_rng(seed)
            X, y = dgp.sample(n, rng)
            X_eval, y_eval = dgp.sample(n, rng)
            total += rng.permutation(n)[0]
    return total


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
    reps = {"runner": 200, "generic": 20, "sklearn_loop": 20, "floor": 200, "bladen_settings": 20,
            "bladen_reps": 100} if args.quick else \
        {"runner": 1000, "generic": 1000, "sklearn_loop": 1000, "floor": 1000, "bladen_settings": 200,
         "bladen_reps": 100}

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
        record("floor_derangements", reps["floor"], _timed(run_floor_derangements, reps["floor"]))
        record("runner_n_jobs_1", reps["runner"], _timed(run_runner, reps["runner"]))
        record("runner_generic_n_jobs_1", reps["generic"], _timed(run_runner_generic, reps["generic"]))
        record("sklearn_loop", reps["sklearn_loop"], _timed(run_sklearn_loop, reps["sklearn_loop"]))
        settings, b_reps = reps["bladen_settings"], reps["bladen_reps"]
        run_bladen(2, 2)  # warm-up
        cells = settings * b_reps
        record("bladen_floor", cells, _timed(run_bladen_floor, settings, b_reps))
        record("bladen_runner", cells, _timed(run_bladen, settings, b_reps))
        record("bladen_generic", cells, _timed(run_bladen, settings, b_reps, True))
    run_runner(8, 2)  # warm-up of the loky workers (reused by the timed runs)
    distributed = None
    if not args.quick:
        try:
            import distributed
        except ImportError:
            print("dask.distributed not installed: LocalCluster timing skipped")
    if distributed is None:
        record("runner_n_jobs_2", reps["runner"], _timed(run_runner, reps["runner"], 2))
    else:
        # The parallel runs take about a second, and a dask run has a fixed cost of 0.1-0.4 s (measured):
        # n_jobs=2 and the cluster alternate, three runs each, and the medians are recorded.
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs=40) as cluster, \
                distributed.Client(cluster) as client:
            run_runner(8, scheduler=client)
            local, dask = [], []
            for _ in range(PARALLEL_RUNS):
                local.append(_timed(run_runner, reps["runner"], 2))
                dask.append(_timed(run_runner, reps["runner"], None, client))
        record("runner_n_jobs_2", reps["runner"], float(np.median(local)))
        record("runner_dask_2_workers", reps["runner"], float(np.median(dask)))
        print(f"  n_jobs=2 runs {[round(t, 3) for t in local]} s, dask runs {[round(t, 3) for t in dask]} s")

    frame = pd.DataFrame(rows)
    per = frame.set_index("measure")["ms_per_replicate"]
    ratios = {
        "sklearn_loop / runner_n_jobs_1 (target >= 50)": per["sklearn_loop"] / per["runner_n_jobs_1"],
        "runner_n_jobs_1 / floor (target <= 1.5)": per["runner_n_jobs_1"] / per["floor"],
        "runner_n_jobs_1 / floor_derangements": per["runner_n_jobs_1"] / per["floor_derangements"],
        "runner_generic_n_jobs_1 / runner_n_jobs_1": per["runner_generic_n_jobs_1"] / per["runner_n_jobs_1"],
        "bladen_runner / bladen_floor (target <= 1.5)": per["bladen_runner"] / per["bladen_floor"],
        "bladen_generic / bladen_runner (target >= 5)": per["bladen_generic"] / per["bladen_runner"],
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
