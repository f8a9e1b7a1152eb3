"""Benchmark: vimp's exact linear fitter against refit loops, scikit-learn and hidimstat.

Design: n = 10,000 rows (5,000 train / 5,000 test), p = 50 equicorrelated Gaussian features
(rho = 0.5), y = X beta + eps with beta_j = 1 for the first half of the features and 0 for the rest,
eps ~ N(0, 1). Every timing is the best of ``--repeats`` rounds (``time.perf_counter``) of the whole call,
model fitting included, on the same data; each round runs every method once, in turn.

Timed:

* vimp ``LOCO(LinearRegression())`` for all features (served by the exact ``LinearFitter``);
* the same LOCO by hand: ``sklearn.base.clone`` + refit without each column, test MSE difference;
* vimp ``PermutationImportance(LinearRegression(), n_permutations=10)``, with independent permutations per
  feature (the default) and with ``shared_permutations=True`` (the same 10 permutations for every feature,
  which is what scikit-learn's ``permutation_importance`` does: the like-for-like comparison);
* ``sklearn.inspection.permutation_importance(n_repeats=10)`` (fit included);
* the floor: one ``numpy.linalg.lstsq`` of the training design with an intercept column;
* hidimstat's ``LOCO`` and ``PFI`` (``n_permutations=10``) when ``import hidimstat`` works;
* for reference, the core of vimp's LOCO alone (``LinearFitter.fit`` + ``drop_one_losses``), which shows
  how much of vimp's time is the estimator's bookkeeping rather than linear algebra.

Then a scaling curve over p at n = 10,000 (vimp LOCO, the refit loop (skipped for p > 200) and the
lstsq floor), saved as ``linear_scaling.png``.

Usage::

    python benchmarks/linear.py            # full run, writes benchmarks/results/linear.{csv,json,png}
    python benchmarks/linear.py --quick    # small smoke run, writes benchmarks/results/linear_quick.*
    python benchmarks/linear.py --threads 1 --profile

The script only reports; it asserts nothing. Targets (from the issue): LOCO >= 50x faster than the refit
loop and hidimstat and <= 3x lstsq; PaP >= 10x faster than scikit-learn's permutation_importance.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LinearRegression

import vimp
from _common import best_time, machine_info, relative_difference, thread_limit, time_in_rounds
from vimp._linear_fitter import LinearFitter
from vimp._losses import LOSSES

try:  # optional peer: never a dependency of vimp
    import hidimstat
except Exception:  # noqa: BLE001 - any import failure means "not installed" here
    hidimstat = None

RESULTS = Path(__file__).resolve().parent / "results"
N_PERMUTATIONS = 10


# ----------------------------------------------------------------------------- data
PAP_SHARED = "vimp PermutationImportance (10 perms, shared)"


def make_data(n, p, rho=0.5, seed=0):
    """Equicorrelated Gaussian design split in two halves: (X_train, y_train, X_test, y_test)."""
    rng = np.random.default_rng(seed)
    X = np.sqrt(1.0 - rho) * rng.normal(size=(n, p)) + np.sqrt(rho) * rng.normal(size=(n, 1))
    beta = (np.arange(p) < p // 2).astype(float)
    y = X @ beta + rng.normal(size=n)
    half = n // 2
    return X[:half], y[:half], X[half:], y[half:]


# ----------------------------------------------------------------------------- methods
def vimp_loco(Xtr, ytr, Xte, yte):
    return vimp.LOCO(LinearRegression(), random_state=0).fit(Xtr, ytr).importance(Xte, yte).importance


def vimp_pap(Xtr, ytr, Xte, yte):
    est = vimp.PermutationImportance(LinearRegression(), n_permutations=N_PERMUTATIONS, random_state=0)
    return est.fit(Xtr, ytr).importance(Xte, yte).importance


def vimp_pap_shared(Xtr, ytr, Xte, yte):
    """PaP with the same permutations for every feature, scikit-learn's own scheme (like for like)."""
    est = vimp.PermutationImportance(LinearRegression(), n_permutations=N_PERMUTATIONS, random_state=0,
                                     shared_permutations=True)
    return est.fit(Xtr, ytr).importance(Xte, yte).importance


def vimp_core_loco(Xtr, ytr, Xte, yte):
    """The linear algebra of LOCO alone: one factorisation, every drop-one loss from the kernel."""
    fitter = LinearFitter().fit(Xtr, ytr)
    loss = LOSSES["squared_error"]
    full = fitter.losses(Xte, yte, loss)
    return fitter.drop_one_losses(Xte, yte, loss).mean(axis=0) - full.mean()


def refit_loop_loco(Xtr, ytr, Xte, yte):
    model = LinearRegression()
    full = clone(model).fit(Xtr, ytr)
    base = np.mean((yte - full.predict(Xte)) ** 2)
    out = np.empty(Xtr.shape[1])
    for j in range(Xtr.shape[1]):
        reduced = clone(model).fit(np.delete(Xtr, j, axis=1), ytr)
        out[j] = np.mean((yte - reduced.predict(np.delete(Xte, j, axis=1))) ** 2) - base
    return out


def sklearn_pfi(Xtr, ytr, Xte, yte):
    model = LinearRegression().fit(Xtr, ytr)
    result = permutation_importance(model, Xte, yte, n_repeats=N_PERMUTATIONS, random_state=0,
                                    scoring="neg_mean_squared_error")
    return result.importances_mean


def lstsq_floor(Xtr, ytr, Xte, yte):
    design = np.column_stack([np.ones(len(ytr)), Xtr])
    return np.linalg.lstsq(design, ytr, rcond=None)[0]


def hidimstat_loco(Xtr, ytr, Xte, yte):
    model = LinearRegression().fit(Xtr, ytr)
    return np.asarray(hidimstat.LOCO(model).fit(Xtr, ytr).importance(Xte, yte), dtype=float)


def hidimstat_pfi(Xtr, ytr, Xte, yte):
    model = LinearRegression().fit(Xtr, ytr)
    pfi = hidimstat.PFI(model, n_permutations=N_PERMUTATIONS, random_state=0)
    return np.asarray(pfi.fit(Xtr, ytr).importance(Xte, yte), dtype=float)


# ----------------------------------------------------------------------------- timing









_COLD_COMPILE = """
import time
import numpy as np
start = time.perf_counter()
from vimp._kernels import (group_drop_losses, loco_linear_losses, pap_linear_losses, pap_linear_terms,
                           permutations_from_words)
imported = time.perf_counter()
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 3)); y = rng.normal(size=64)
perms = permutations_from_words(rng.integers(0, 2**64, size=(2, 40), dtype=np.uint64), 64)[0]
pap_linear_losses(y, y, x, np.ones(3), perms, 0)
pap_linear_terms(y, y, x, np.ones(3), perms, np.ones(64), np.ones(64), 0)
loco_linear_losses(y, y, x, np.ones(3), 0)
group_drop_losses(y, y, x, np.ones(3), 0)
print(imported - start, time.perf_counter() - imported)
"""


def cold_compile_seconds():
    """Numba compilation time of the linear kernels, in a fresh process with an empty cache folder."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        done = subprocess.run([sys.executable, "-c", _COLD_COMPILE], env=env, capture_output=True, text=True,
                              check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    import_s, compile_s = (float(v) for v in done.stdout.split())
    return {"import_seconds": import_s, "compile_seconds": compile_s}


# ----------------------------------------------------------------------------- main table
def run_main(n, p, repeats):
    data = make_data(n, p)
    methods = [
        ("vimp LOCO", "vimp", vimp_loco),
        ("refit loop LOCO (clone + fit)", "scikit-learn", refit_loop_loco),
        ("hidimstat LOCO", "hidimstat", hidimstat_loco),
        ("vimp PermutationImportance (10 perms)", "vimp", vimp_pap),
        (PAP_SHARED, "vimp", vimp_pap_shared),
        ("sklearn permutation_importance (10 repeats)", "scikit-learn", sklearn_pfi),
        ("hidimstat PFI (10 perms)", "hidimstat", hidimstat_pfi),
        ("numpy lstsq (floor)", "numpy", lstsq_floor),
        ("vimp LinearFitter core (fit + drop_one_losses)", "vimp", vimp_core_loco),
    ]
    # Warm-up: the first call of each vimp path pays imports, Numba compilation (or loading the on-disk
    # cache) and first-touch allocations; reported separately, never mixed into the timings.
    warmup = {}
    for name, function in (("vimp LOCO", vimp_loco), ("vimp PermutationImportance (10 perms)", vimp_pap),
                           (PAP_SHARED, vimp_pap_shared),
                           ("vimp LinearFitter core (fit + drop_one_losses)", vimp_core_loco)):
        start = time.perf_counter()
        function(*data)
        warmup[name] = time.perf_counter() - start

    live = {name: function for name, library, function in methods
            if not (library == "hidimstat" and hidimstat is None)}
    runs, results, notes = time_in_rounds(live, data, repeats)
    notes.update({name: "not installed" for name, _, _ in methods if name not in live})
    rows = []
    for name, library, _ in methods:
        if name in notes:
            rows.append({"method": name, "library": library, "best_seconds": None, "runs": [],
                         "note": notes[name]})
            continue
        rows.append({"method": name, "library": library, "best_seconds": min(runs[name]), "runs": runs[name],
                     "note": ""})
    by_name = {r["method"]: r["best_seconds"] for r in rows}
    floor = by_name["numpy lstsq (floor)"]
    for row in rows:
        t = row["best_seconds"]
        row["multiple_of_lstsq"] = None if t is None else t / floor
        if row["library"] == "vimp" or t is None:
            row["vimp_speedup"] = None
        elif "LOCO" in row["method"]:
            row["vimp_speedup"] = t / by_name["vimp LOCO"]
        elif "perm" in row["method"].lower() or "PFI" in row["method"]:
            row["vimp_speedup"] = t / by_name["vimp PermutationImportance (10 perms)"]
        else:
            row["vimp_speedup"] = None
        if t is not None and row["method"] in warmup:
            row["first_call_seconds"] = warmup[row["method"]]
            row["warmup_overhead_seconds"] = warmup[row["method"]] - t

    checks = {
        "vimp LOCO vs refit loop, max relative difference of importances": relative_difference(
            results["vimp LOCO"], results["refit loop LOCO (clone + fit)"]),
        "LinearFitter core vs refit loop, max relative difference": relative_difference(
            results["vimp LinearFitter core (fit + drop_one_losses)"], results["refit loop LOCO (clone + fit)"]),
    }
    if "hidimstat LOCO" in results:
        checks["hidimstat LOCO vs refit loop, max relative difference"] = relative_difference(
            results["hidimstat LOCO"], results["refit loop LOCO (clone + fit)"])
    targets = {
        "LOCO speedup vs refit loop (target >= 50)": by_name["refit loop LOCO (clone + fit)"] / by_name["vimp LOCO"],
        "LOCO multiple of lstsq (target <= 3)": by_name["vimp LOCO"] / floor,
        "PaP speedup vs sklearn permutation_importance (target >= 10)":
            by_name["sklearn permutation_importance (10 repeats)"] / by_name["vimp PermutationImportance (10 perms)"],
        "PaP (shared permutations, scikit-learn's scheme) speedup vs sklearn permutation_importance":
            by_name["sklearn permutation_importance (10 repeats)"] / by_name[PAP_SHARED],
    }
    if by_name.get("hidimstat LOCO"):
        targets["LOCO speedup vs hidimstat LOCO (target >= 50)"] = by_name["hidimstat LOCO"] / by_name["vimp LOCO"]
    if by_name.get("hidimstat PFI (10 perms)"):
        targets["PaP speedup vs hidimstat PFI"] = (by_name["hidimstat PFI (10 perms)"]
                                                   / by_name["vimp PermutationImportance (10 perms)"])
    return rows, checks, targets, warmup


def print_main(rows, checks, targets, n, p):
    print(f"\nLinear benchmark: n = {n} ({n // 2} train / {n - n // 2} test), p = {p}, rho = 0.5")
    header = f"{'method':<50} {'best (s)':>10} {'x lstsq':>9} {'vimp speedup':>13}"
    print(header)
    print("-" * len(header))
    for row in rows:
        if row["best_seconds"] is None:
            print(f"{row['method']:<50} {row['note']:>10}")
            continue
        speed = "" if row["vimp_speedup"] is None else f"{row['vimp_speedup']:.1f}x"
        print(f"{row['method']:<50} {row['best_seconds']:>10.4f} {row['multiple_of_lstsq']:>9.1f} {speed:>13}")
    print("\nwarm-up (first call in this process; the Numba on-disk cache may already be warm):")
    for row in rows:
        if "first_call_seconds" in row:
            print(f"  {row['method']:<48} first call {row['first_call_seconds']:.3f} s "
                  f"(overhead {row['warmup_overhead_seconds']:.3f} s)")
    print("\ntargets (reported, not asserted):")
    for name, value in targets.items():
        print(f"  {name}: {value:.2f}")
    print("\ncorrectness checks:")
    for name, value in checks.items():
        print(f"  {name}: {value:.2e}")


# ----------------------------------------------------------------------------- scaling
def run_scaling(n, ps, repeats, loop_max_p):
    rows = []
    for p in ps:
        data = make_data(n, p, seed=p)
        reps = repeats if p <= 200 else 1
        row = {"p": p, "repeats": reps}
        row["vimp_loco"] = best_time(vimp_loco, data, reps)[0]
        row["vimp_core"] = best_time(vimp_core_loco, data, reps)[0]
        row["lstsq"] = best_time(lstsq_floor, data, max(reps, 3))[0]
        if p <= loop_max_p:
            row["refit_loop"] = best_time(refit_loop_loco, data, reps)[0]
        else:
            row["refit_loop"] = None
        rows.append(row)
        loop = "skipped" if row["refit_loop"] is None else f"{row['refit_loop']:.3f}"
        print(f"  p = {p:>5}: vimp LOCO {row['vimp_loco']:.3f} s, core {row['vimp_core']:.3f} s, "
              f"lstsq {row['lstsq']:.4f} s, refit loop {loop} s", flush=True)
    return rows


def plot_scaling(rows, n, path, threads=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ps = np.array([r["p"] for r in rows])
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.plot(ps, [r["vimp_loco"] for r in rows], "o-", label="vimp LOCO (LinearFitter)")
    ax.plot(ps, [r["vimp_core"] for r in rows], "^--", label="LinearFitter core (fit + drop_one_losses)")
    loop = [(r["p"], r["refit_loop"]) for r in rows if r["refit_loop"] is not None]
    if loop:
        ax.plot(*zip(*loop), "s-", label="clone + refit loop")
    ax.plot(ps, [r["lstsq"] for r in rows], "k:", label="one numpy lstsq (floor)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of features p")
    ax.set_ylabel("best wall-clock time (s)")
    limit = "library default threads" if threads is None else f"{threads} thread(s)"
    ax.set_title(f"LOCO for all p features, n = {n} (half train, half test), {limit}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- entry point
def write_outputs(out, stem, payload, rows, scaling):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{stem}.json", "w") as fh:
        json.dump(payload, fh, indent=2)
    fields = ["method", "library", "best_seconds", "multiple_of_lstsq", "vimp_speedup", "first_call_seconds",
              "warmup_overhead_seconds", "runs", "note"]
    with open(out / f"{stem}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "runs": ";".join(f"{t:.6f}" for t in row["runs"])})
    if scaling:
        with open(out / f"{stem}_scaling.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["p", "repeats", "vimp_loco", "vimp_core", "lstsq",
                                                    "refit_loop"])
            writer.writeheader()
            writer.writerows(scaling)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (n=2000, p=10, short curve)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per timing (best is kept; default 3)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS/OpenMP and Numba threads (default: library defaults)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling curve")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one vimp LOCO call")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    args = parser.parse_args(argv)

    if args.quick:
        n, p, ps, repeats, stem = 2000, 10, (5, 10, 20), args.repeats or 2, "linear_quick"
    else:
        n, p, ps, repeats, stem = 10_000, 50, (10, 20, 50, 100, 200, 500, 1000), args.repeats or 3, "linear"
    loop_max_p = 200

    with thread_limit(args.threads):
        info = machine_info({"hidimstat": hidimstat})  # inside the limit: the thread pools as the timings saw them
        info["threads_limit"] = args.threads
        rows, checks, targets, warmup = run_main(n, p, repeats)
        print_main(rows, checks, targets, n, p)
        cold = cold_compile_seconds()
        print(f"  cold Numba compilation of the linear kernels (empty cache, fresh process): {cold}")
        if args.profile:
            import cProfile
            import pstats

            data = make_data(n, p)
            profiler = cProfile.Profile()
            profiler.runcall(vimp_loco, *data)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        scaling = []
        if not args.no_scaling:
            print(f"\nscaling over p at n = {n} (refit loop skipped for p > {loop_max_p}; "
                  "one run per timing for p > 200):")
            scaling = run_scaling(n, ps, repeats, loop_max_p)
    if hasattr(os, "getloadavg"):
        info["load_average_at_end"] = list(os.getloadavg())

    payload = {
        "config": {"n": n, "n_train": n // 2, "n_test": n - n // 2, "p": p, "rho": 0.5,
                   "n_permutations": N_PERMUTATIONS, "repeats": repeats, "scaling_p": list(ps),
                   "refit_loop_max_p": loop_max_p, "quick": args.quick},
        "machine": info,
        "results": rows,
        "targets": targets,
        "checks": checks,
        "cold_numba_compile": cold,
        "scaling": scaling,
    }
    write_outputs(args.out, stem, payload, rows, scaling)
    if scaling:
        plot_scaling(scaling, n, args.out / f"{stem}_scaling.png", args.threads)
    print(f"\nwrote {args.out / stem}.csv, .json" + (", _scaling.csv, _scaling.png" if scaling else ""))


if __name__ == "__main__":
    main()
