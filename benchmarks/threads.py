"""Benchmark: vimp's calls at default threads, under vimp's thread policy, and on one thread.

Design: OLS through the exact linear fitter, on a grid of (n, p) from (250, 10) to (100,000, 50);
p equicorrelated Gaussian features (rho = 0.5), y = X beta + eps with beta_j = 1 for the first half of
the features and 0 for the rest, eps ~ N(0, 1). Timed, model fit included:

* LOCO: ``LOCO(LinearRegression()).fit(X[:h], y[:h]).importance(X[h:], y[h:])`` with h = n / 2;
* PaP: the same with ``PermutationImportance(LinearRegression(), n_permutations=10)``;
* GCM: ``GCM(LinearRegression(), cv=5).fit(X, y).importance()``.

Each under three thread settings:

* ``default``: ``vimp.config_context(threads="off")``, the pools as a pip-installed process has them
  (what every call did before the thread policy);
* ``auto``: ``threads="auto"``, vimp's thread policy (the default);
* ``one``: ``threads=1``: every BLAS and OpenMP pool and Numba on one thread.

and two machine loads: ``idle`` (nothing else started by the benchmark; other users of the machine are
not controlled) and ``busy``: one other CPU-bound process, ``python -c "while True: pass"``, started by
the benchmark for that part of each round and stopped after it.

Rounds interleave everything: each round runs, for the idle and then the busy load, every setting (in an
order rotated from round to round, after a pause of 0.2 s so that the previous setting's idle threads,
which spin for a while after their last task, do not slow the next one) and within it every method once. A timing is the mean of ``k``
consecutive calls (k = 20 for n <= 1,000, 5 for n <= 10,000, else 1; with ``--quick`` 10 and 1: a Monte
Carlo loop calls back to back too). The full run takes 7 rounds up to n = 10,000 and 5 above. Reported per cell: the median, min and max over rounds, and the median over rounds of the
paired ratio to the ``one`` setting of the same round and load, which a slow spell of the shared machine
affects less than the times themselves.

The threshold of the policy (``vimp._threads.THRESHOLD_CELLS``) is read off the ``default`` / ``one``
ratios: the smallest n * p from which default threads are never slower than one thread (ratio <= 1.0 for
every method and both loads, at that size and every larger one). If there is no such size in the grid,
threads never paid for themselves here and the policy keeps one thread over the whole grid.

Usage::

    python benchmarks/threads.py            # full grid, 7 rounds: benchmarks/results/threads.{csv,json}
    python benchmarks/threads.py --quick    # (250, 10) and (10,000, 50), 3 rounds: results/threads_quick.*
    python benchmarks/threads.py --sizes 1000000:20 --rounds 5 --tag 1e6   # other sizes: threads_1e6.*

The script only reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's vimp, whatever is installed
sys.path.insert(1, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402

import vimp  # noqa: E402
from _common import machine_info  # noqa: E402
from vimp import _threads  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SETTINGS = {"default": "off", "auto": "auto", "one": 1}
FULL_GRID = [(n, p) for p in (10, 50) for n in (250, 1_000, 2_500, 10_000, 25_000, 100_000)]
QUICK_GRID = [(250, 10), (10_000, 50)]
SETTLE_SECONDS = 0.2


def make_data(n, p, seed=0):
    """Equicorrelated Gaussian design (rho = 0.5) and a linear response."""
    rng = np.random.default_rng(seed)
    X = np.sqrt(0.5) * rng.standard_normal((n, p)) + np.sqrt(0.5) * rng.standard_normal((n, 1))
    beta = np.zeros(p)
    beta[: p // 2] = 1.0
    y = X @ beta + rng.standard_normal(n)
    return X, y


def loco(X, y, h):
    return vimp.LOCO(LinearRegression()).fit(X[:h], y[:h]).importance(X[h:], y[h:])


def pap(X, y, h):
    model = vimp.PermutationImportance(LinearRegression(), n_permutations=10, random_state=0)
    return model.fit(X[:h], y[:h]).importance(X[h:], y[h:])


def gcm(X, y, h):
    return vimp.GCM(LinearRegression(), cv=5, random_state=0).fit(X, y).importance()


METHODS = {"LOCO": loco, "PaP": pap, "GCM cv=5": gcm}


def calls_per_timing(n, quick=False):
    if quick:
        return 10 if n <= 1_000 else 1
    return 20 if n <= 1_000 else 5 if n <= 10_000 else 1


def time_block(function, data, k):
    start = time.perf_counter()
    for _ in range(k):
        function(*data)
    return (time.perf_counter() - start) / k


def start_busy():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.3)  # let it start spinning
    return busy


def stop_busy(busy):
    busy.kill()
    busy.wait()


def run_cell(n, p, rounds, quick=False):
    """Times (seconds) per (method, load, setting): one list over rounds."""
    X, y = make_data(n, p)
    data, k = (X, y, n // 2), calls_per_timing(n, quick)
    for setting in SETTINGS.values():  # warm-up: compilation, imports, the controller's first scan
        with vimp.config_context(threads=setting):
            for function in METHODS.values():
                function(*data)
    times = {}
    names = list(SETTINGS)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for load in ("idle", "busy"):
            busy = start_busy() if load == "busy" else None
            try:
                for name in order:
                    time.sleep(SETTLE_SECONDS)  # the previous setting's spinning threads go to sleep
                    with vimp.config_context(threads=SETTINGS[name]):
                        for method, function in METHODS.items():
                            times.setdefault((method, load, name), []).append(time_block(function, data, k))
            finally:
                if busy is not None:
                    stop_busy(busy)
    return times, k


def threshold_from(rows):
    """Smallest n * p from which default threads are never slower than one thread, or None."""
    ratio = {}
    for row in rows:
        if row["threads"] == "default":
            key = row["cells"]
            ratio[key] = max(ratio.get(key, 0.0), row["ratio_to_one"])
    sizes = sorted(ratio)
    for i, cells in enumerate(sizes):
        if all(ratio[c] <= 1.0 for c in sizes[i:]):
            return cells
    return None


def _sizes(text):
    """``n:p,n:p`` -> [(n, p), ...] (argparse type)."""
    cells = []
    for part in text.split(","):
        try:
            n, p = (int(v) for v in part.split(":"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected n:p pairs such as 1000000:20; got {part!r}") from None
        if n < 20 or p < 2:
            raise argparse.ArgumentTypeError(f"n must be at least 20 and p at least 2; got {part!r}")
        cells.append((n, p))
    return cells


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two sizes, 3 rounds (about a minute)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 7; 3 with --quick)")
    parser.add_argument("--sizes", type=_sizes, default=None,
                        help="comma-separated n:p cells instead of the grid, e.g. 1000000:20")
    parser.add_argument("--tag", default=None,
                        help="results/threads_TAG.{csv,json} (with --sizes; default: the sizes)")
    args = parser.parse_args(argv)
    if args.tag is not None and args.sizes is None:
        parser.error("--tag names the results of a --sizes run; give --sizes too")
    if args.tag is not None and not args.tag.replace("_", "").isalnum():
        parser.error(f"--tag must be letters, digits and underscores; got {args.tag!r}")
    grid = args.sizes or (QUICK_GRID if args.quick else FULL_GRID)
    rounds = args.rounds or (3 if args.quick else 7)
    warnings.simplefilter("ignore", vimp.VimpWarning)  # small cross-fitted GCM fits may warn; timed all the same
    info = machine_info({})
    started = time.time()
    rows = []
    for n, p in grid:
        cell_rounds = rounds if (args.rounds or n <= 10_000) else min(rounds, 5)
        times, k = run_cell(n, p, cell_rounds, args.quick)
        for (method, load, name), values in times.items():
            one = np.array(times[(method, load, "one")])
            values = np.array(values)
            rows.append({
                "n": n, "p": p, "cells": n * p, "method": method, "load": load, "threads": name,
                "median_ms": round(1e3 * float(np.median(values)), 4),
                "min_ms": round(1e3 * float(values.min()), 4),
                "max_ms": round(1e3 * float(values.max()), 4),
                "ratio_to_one": round(float(np.median(values / one)), 3),
                "rounds": cell_rounds, "calls_per_timing": k,
            })
        cell = [r for r in rows if r["n"] == n and r["p"] == p]
        for r in cell:
            if r["threads"] != "one":
                print(f"n={n:>7} p={p:>3} {r['method']:<9} {r['load']:<4} {r['threads']:<7} "
                      f"{r['median_ms']:>10.3f} ms  x{r['ratio_to_one']:.2f} of one thread", flush=True)
    if args.sizes is not None:
        suffix = "_" + (args.tag or "_".join(f"{n}x{p}" for n, p in args.sizes))
    else:
        suffix = "_quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"threads{suffix}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    threshold = threshold_from(rows)
    summary = {
        "design": "OLS via LinearFitter; LOCO and PaP (10 permutations) on a half split, GCM cv=5; "
                  "equicorrelated Gaussian X (rho=0.5)",
        "grid": grid, "rounds": rounds, "wall_seconds": round(time.time() - started, 1),
        "threshold_read": threshold,
        # strict JSON has no infinity: the policy's "one thread at every size" is written "inf"
        "threshold_in_use": _threads.THRESHOLD_CELLS if np.isfinite(_threads.THRESHOLD_CELLS) else "inf",
        "machine": info,
        "rows": rows,
    }
    with open(RESULTS / f"threads{suffix}.json", "w") as handle:
        json.dump(summary, handle, indent=2, default=str)
    print(f"threshold read off the grid (cells from which default threads never lose): {threshold} "
          f"(in use: {_threads.THRESHOLD_CELLS}); {summary['wall_seconds']} s")


if __name__ == "__main__":
    main()
