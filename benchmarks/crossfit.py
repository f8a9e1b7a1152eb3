"""Benchmark: cross-fitting (``cv=5``) with the exact linear fitter, and batched permute-and-predict.

Part 1, cross-fitting. Design: ``n`` rows, ``p`` equicorrelated Gaussian features (rho = 0.5),
y = X beta + eps (beta_j = 1 for the first half of the features, 0 for the rest), eps ~ N(0, 1). Timed, each
as the whole call ``fit(X, y).importance()`` with ``cv=5``:

* vimp ``LOCO(LinearRegression(), cv=5)``, ``GCM(LinearRegression(), cv=5)`` and
  ``PermutationImportance(LinearRegression(), cv=5)``;
* the floor: one ``numpy.linalg.lstsq`` of all ``n`` rows with an intercept column.

Each estimator runs twice per round: "before" fits every fold on a copy of its training rows (the path
of ``LinearFitter.fit``, ``vimp._linear_fitter.CROSSFIT_FROM_MOMENTS = False``), "after" fits all folds from
per-fold moment blocks (``LinearFitter.fit_folds``). Peak memory (``tracemalloc``, which sees NumPy's
allocations) is measured in one separate run of each, as the peak during the call and as what the fitted
estimator and its result keep alive, both relative to the size of ``X``.

Part 2, batched prediction. ``PermutationImportance(RandomForestRegressor(100 trees), n_permutations=10)``
on n = 2,000 (1,000 train / 1,000 held out), p = 10: ``importance`` timed with one ``predict`` call per
permutation ("before", ``vimp._fitters.PREDICT_BATCH_BYTES = 0``) and with the permuted copies of a
feature stacked into one call of at most 64 MB ("after"). The forest is fitted once, outside the timing.

Usage::

    python benchmarks/crossfit.py --quick   # n = 10,000, p = 20; < 2 minutes; crossfit_quick.csv
    python benchmarks/crossfit.py           # n = 10,000 and 100,000, p = 20 and 50; crossfit.csv

Timings are medians over ``--repeats`` rounds, every method once per round, single-threaded BLAS by
default (``--threads 1``; ``--threads 0`` leaves the pools as they are). The script only reports.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's vimp, not an installed one

import vimp  # noqa: E402
import vimp._fitters as fitters_module  # noqa: E402
import vimp._linear_fitter as linear_module  # noqa: E402
from _common import machine_info, thread_limit  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def make_data(n, p, rho=0.5, seed=0):
    rng = np.random.default_rng(seed)
    X = np.sqrt(1 - rho) * rng.standard_normal((n, p)) + np.sqrt(rho) * rng.standard_normal((n, 1))
    beta = np.zeros(p)
    beta[: p // 2] = 1.0
    return X, X @ beta + rng.standard_normal(n)


def lstsq_floor(X, y):
    design = np.column_stack([X, np.ones(len(y))])
    return np.linalg.lstsq(design, y, rcond=None)[0]


ESTIMATORS = {
    "LOCO": lambda: vimp.LOCO(LinearRegression(), cv=5, random_state=0),
    "GCM": lambda: vimp.GCM(LinearRegression(), cv=5, random_state=0),
    "PaP": lambda: vimp.PermutationImportance(LinearRegression(), cv=5, random_state=0),
}


def crossfit_call(name, moments):
    def call(X, y):
        linear_module.CROSSFIT_FROM_MOMENTS = moments
        try:
            est = ESTIMATORS[name]()
            return est, est.fit(X, y).importance()
        finally:
            linear_module.CROSSFIT_FROM_MOMENTS = True
    return call


def traced(function, *args):
    """``(peak bytes during the call, bytes still held by its result)`` by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = function(*args)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak - base, current - base


def run_crossfit(ns, ps, repeats):
    rows = []
    for n in ns:
        for p in ps:
            X, y = make_data(n, p)
            methods = {"lstsq": lstsq_floor}
            for name in ESTIMATORS:
                methods[f"{name} before"] = crossfit_call(name, False)
                methods[f"{name} after"] = crossfit_call(name, True)
            times = {m: [] for m in methods}
            results = {}
            for _ in range(repeats):
                for m, function in methods.items():
                    start = time.perf_counter()
                    out = function(X, y)
                    times[m].append(time.perf_counter() - start)
                    results[m] = out
            floor = float(np.median(times["lstsq"]))
            for name in ESTIMATORS:
                a, b = results[f"{name} before"][1], results[f"{name} after"][1]
                agree = float(np.max(np.abs(a.importance - b.importance)) / np.max(np.abs(a.importance)))
                for when in ("before", "after"):
                    m = f"{name} {when}"
                    peak, kept = traced(methods[m], X, y)
                    median = float(np.median(times[m]))
                    rows.append({
                        "part": "crossfit", "n": n, "p": p, "method": name, "when": when,
                        "median_seconds": median, "multiple_of_lstsq": median / floor,
                        "lstsq_seconds": floor, "peak_over_data": peak / X.nbytes,
                        "kept_over_data": kept / X.nbytes, "data_mb": X.nbytes / 2**20,
                        "max_rel_difference": agree, "repeats": repeats,
                    })
                    print(f"n={n:>7} p={p:>3} {m:<11} {median:8.4f} s  {median / floor:5.2f}x lstsq  "
                          f"peak {peak / X.nbytes:5.2f}x data, kept {kept / X.nbytes:5.2f}x", flush=True)
            del results
    return rows


def run_forest(repeats):
    rng = np.random.default_rng(0)
    n, p = 2000, 10
    X = rng.standard_normal((n, p))
    y = X[:, 0] + X[:, 1] ** 2 + np.sin(X[:, 2]) + rng.standard_normal(n)
    pap = vimp.PermutationImportance(RandomForestRegressor(n_estimators=100, random_state=0),
                                     n_permutations=10, random_state=0)
    start = time.perf_counter()
    pap.fit(X[:1000], y[:1000])
    fit_seconds = time.perf_counter() - start

    def call(budget):
        def run():
            fitters_module.PREDICT_BATCH_BYTES = budget
            try:
                return pap.importance(X[1000:], y[1000:])
            finally:
                fitters_module.PREDICT_BATCH_BYTES = 64 * 2**20
        return run

    methods = {"before": call(0), "after": call(64 * 2**20)}
    times = {m: [] for m in methods}
    results = {}
    for _ in range(repeats):
        for m, function in methods.items():
            start = time.perf_counter()
            results[m] = function()
            times[m].append(time.perf_counter() - start)
    agree = float(np.max(np.abs(results["before"].importance - results["after"].importance)))
    rows = []
    for m in methods:
        peak, kept = traced(methods[m])
        median = float(np.median(times[m]))
        rows.append({"part": "forest PaP", "n": n, "p": p, "method": "PaP RF100 R=10", "when": m,
                     "median_seconds": median, "lstsq_seconds": None, "multiple_of_lstsq": None,
                     "peak_over_data": peak / X[1000:].nbytes, "kept_over_data": None,
                     "data_mb": X[1000:].nbytes / 2**20, "max_rel_difference": agree, "repeats": repeats,
                     "fit_seconds": fit_seconds})
        print(f"forest PaP {m:<7} {median:8.3f} s  (fit {fit_seconds:.2f} s)  peak "
              f"{peak / 2**20:6.1f} MB  max |difference| {agree:.1e}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (0: leave as they are)")
    args = parser.parse_args(argv)
    ns, ps = ((10_000,), (20,)) if args.quick else ((10_000, 100_000), (20, 50))
    repeats = args.repeats or (3 if args.quick else 5)
    with thread_limit(args.threads or None):
        rows = run_crossfit(ns, ps, repeats)
        rows += run_forest(repeats)
    RESULTS.mkdir(exist_ok=True)
    stem = "crossfit_quick" if args.quick else "crossfit"
    fields = ["part", "n", "p", "method", "when", "median_seconds", "multiple_of_lstsq", "lstsq_seconds",
              "peak_over_data", "kept_over_data", "data_mb", "max_rel_difference", "repeats", "fit_seconds"]
    with open(RESULTS / f"{stem}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    with open(RESULTS / f"{stem}.json", "w") as fh:
        json.dump({"machine": machine_info({}), "vimp_path": vimp.__file__, "threads": args.threads, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
