"""Benchmark: vimp's GCM against a loop of scikit-learn fits, and the null rejection rate of GCM with forests.

Part 1, speed. n = 10,000 rows, p = 50 equicorrelated Gaussian features (rho = 0.5), y = X beta + eps
with beta_j = 1 for the first half of the features and 0 for the rest, eps ~ N(0, 1). Every timing is the
best of ``--repeats`` rounds (``time.perf_counter``; each round runs every method once, in turn) of the
whole call, model fitting included, on the same data. Timed, for all p features:

* vimp ``GCM(LinearRegression(), cv=None).fit(X, y).importance()``: the in-sample statistic, served by
  the exact ``LinearFitter`` (every nuisance residual from one factorisation);
* vimp ``GCM(LinearRegression(), cv=5, random_state=0)``: cross-fitted (one factorisation per fold);
* the same statistics by hand: per feature j, two scikit-learn ``LinearRegression`` fits (y on X_-j and
  x_j on X_-j), the residual product, its mean, its 1/n standard deviation and T = mean / (sd / sqrt(n));
  in-sample (the same statistic as ``cv=None``) and over 5 ``KFold`` folds (2 * 5 fits per feature);
* the floor: one ``numpy.linalg.lstsq`` of the design with an intercept column;
* pycomets' GCM when ``import pycomets`` works (optional peer, never a dependency of vimp).

The script checks that vimp's ``cv=None`` statistics equal the in-sample loop's, and that vimp's ``cv=5``
statistics equal the cross-fitted loop run on vimp's own folds (max relative differences printed).

Part 2, validity: the null rejection rate of GCM with random forests. p = 5 equicorrelated Gaussian
features (rho = 0.5), y = x_2 + x_3 + x_4 + x_5 + eps, so x_1 (column 0) is conditionally independent of
y given the others; n = 500; ``GCM(RandomForestRegressor(n_estimators=100, random_state=s), cv=5)``
against ``GCM(LinearRegression(), cv=5)`` on the same data and folds, over R replicates (each replicate's
generator spawned from one literal seed). Only x_1 is tested (``groups={"x_1": [0]}``; a one-column group
gives exactly the per-feature statistic and saves the forests of the other four features). Recorded: the
rejection rate at alpha = 0.05 with its exact binomial 95% interval, mean and sd of T, and the mean
out-of-fold R^2 of the two nuisance regressions. A histogram of T (forest vs OLS, N(0, 1) density overlaid)
goes to ``gcm_rf_null.png``.

Usage::

    python benchmarks/gcm.py                 # full run, writes benchmarks/results/gcm.{csv,json}, gcm_rf_null.png
    python benchmarks/gcm.py --quick         # small smoke run, writes benchmarks/results/gcm_quick.*
    python benchmarks/gcm.py --threads 1 --n-jobs 2

The script only reports; it asserts nothing. Target (from the issue): GCM for all 50 features >= 100x
faster than the loop of two scikit-learn fits per feature.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold

import vimp
from _common import machine_info, relative_difference, thread_limit, time_in_rounds

try:  # optional peer: never a dependency of vimp
    import pycomets
except Exception:  # noqa: BLE001 - any import failure means "not installed" here
    pycomets = None

RESULTS = Path(__file__).resolve().parent / "results"
ALPHA = 0.05
SPEED_SEED = 0
VALIDITY_SEED = 20240531


# ----------------------------------------------------------------------------- data
def equicorrelated(rng, n, p, rho=0.5):
    return np.sqrt(1.0 - rho) * rng.normal(size=(n, p)) + np.sqrt(rho) * rng.normal(size=(n, 1))


def make_speed_data(n, p, rho=0.5, seed=SPEED_SEED):
    rng = np.random.default_rng(seed)
    X = equicorrelated(rng, n, p, rho)
    beta = (np.arange(p) < p // 2).astype(float)
    return X, X @ beta + rng.normal(size=n)


def make_null_data(rng, n, p=5, rho=0.5):
    """x_1 (column 0) null: y = x_2 + ... + x_p + eps."""
    X = equicorrelated(rng, n, p, rho)
    return X, X[:, 1:].sum(axis=1) + rng.normal(size=n)


# ----------------------------------------------------------------------------- statistics
def statistics_from_products(R):
    """Mean, standard error (1/n sd over sqrt(n)) and T of residual products, column by column."""
    R = np.asarray(R, dtype=float)
    mean = R.mean(axis=0)
    se = R.std(axis=0) / np.sqrt(R.shape[0])
    return {"mean": mean, "se": se, "T": mean / se}


def vimp_statistics(result):
    return {"mean": np.asarray(result.raw_importance), "se": np.asarray(result.raw_std_error),
            "T": np.asarray(result.details["statistic"])}


# ----------------------------------------------------------------------------- methods (speed)
def vimp_gcm_insample(X, y):
    return vimp.GCM(LinearRegression(), cv=None).fit(X, y).importance()


def vimp_gcm_crossfit(X, y):
    return vimp.GCM(LinearRegression(), cv=5, random_state=0).fit(X, y).importance()


def loop_insample(X, y):
    """Per feature, two scikit-learn fits on all rows and the in-sample residual products."""
    n, p = X.shape
    R = np.empty((n, p))
    for j in range(p):
        rest = np.delete(X, j, axis=1)
        ry = y - LinearRegression().fit(rest, y).predict(rest)
        rx = X[:, j] - LinearRegression().fit(rest, X[:, j]).predict(rest)
        R[:, j] = rx * ry
    return statistics_from_products(R)


def loop_crossfit(X, y, folds=None):
    """Per feature and fold, two scikit-learn fits on the training rows; products on the held-out rows."""
    n, p = X.shape
    if folds is None:
        folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    R = np.empty((n, p))
    for j in range(p):
        rest = np.delete(X, j, axis=1)
        for train, test in folds:
            ry = y[test] - LinearRegression().fit(rest[train], y[train]).predict(rest[test])
            rx = X[test, j] - LinearRegression().fit(rest[train], X[train, j]).predict(rest[test])
            R[test, j] = rx * ry
    return statistics_from_products(R)


def lstsq_floor(X, y):
    return np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y, rcond=None)[0]


def pycomets_gcm(X, y):
    """pycomets' GCM (regressions by its default learner, here asked for linear models), all features."""
    from pycomets.gcm import GCM as CometsGCM  # noqa: N811
    from pycomets.regression import LM

    out = np.empty(X.shape[1])
    for j in range(X.shape[1]):
        test = CometsGCM()
        test.test(y, X[:, j], np.delete(X, j, axis=1), reg_yz=LM(), reg_xz=LM())
        out[j] = float(test.stat)
    return out


# ----------------------------------------------------------------------------- timing / machine












def stat_differences(mine, reference):
    return {key: relative_difference(mine[key], reference[key]) for key in ("mean", "se", "T")}


# ----------------------------------------------------------------------------- part 1: speed
def run_speed(n, p, repeats):
    data = make_speed_data(n, p)
    methods = [
        ("vimp GCM cv=None (in-sample)", "vimp", vimp_gcm_insample),
        ("loop: 2 sklearn fits per feature, in-sample", "scikit-learn", loop_insample),
        ("vimp GCM cv=5 (cross-fitted)", "vimp", vimp_gcm_crossfit),
        ("loop: 2 sklearn fits per feature and fold, cv=5", "scikit-learn", loop_crossfit),
        ("pycomets GCM (in-sample)", "pycomets", pycomets_gcm),
        ("numpy lstsq (floor)", "numpy", lstsq_floor),
    ]
    warmup = {}
    for name, _, function in methods[:1] + methods[2:3]:
        start = time.perf_counter()
        function(*data)
        warmup[name] = time.perf_counter() - start

    live = {name: function for name, library, function in methods
            if not (library == "pycomets" and pycomets is None)}
    runs, results, notes = time_in_rounds(live, data, repeats)
    notes.update({name: "not installed" for name, _, _ in methods if name not in live})
    rows = []
    for name, library, _ in methods:
        if name in notes:
            rows.append({"section": "speed", "method": name, "library": library, "best_seconds": None,
                         "runs": [], "note": notes[name]})
        else:
            rows.append({"section": "speed", "method": name, "library": library,
                         "best_seconds": min(runs[name]), "runs": runs[name], "note": ""})
    by_name = {r["method"]: r["best_seconds"] for r in rows}
    floor = by_name["numpy lstsq (floor)"]
    pairs = {
        "loop: 2 sklearn fits per feature, in-sample": "vimp GCM cv=None (in-sample)",
        "pycomets GCM (in-sample)": "vimp GCM cv=None (in-sample)",
        "loop: 2 sklearn fits per feature and fold, cv=5": "vimp GCM cv=5 (cross-fitted)",
    }
    for row in rows:
        t = row["best_seconds"]
        row["multiple_of_lstsq"] = None if t is None else t / floor
        ref = pairs.get(row["method"])
        row["vimp_speedup"] = None if t is None or ref is None else t / by_name[ref]
        if t is not None and row["method"] in warmup:
            row["first_call_seconds"] = warmup[row["method"]]

    insample = vimp_statistics(results["vimp GCM cv=None (in-sample)"])
    checks = {f"vimp cv=None vs in-sample loop, max relative difference of {k}": v
              for k, v in stat_differences(insample, results["loop: 2 sklearn fits per feature, in-sample"]).items()}
    gcm5 = vimp.GCM(LinearRegression(), cv=5, random_state=0).fit(*data)
    crossfit = vimp_statistics(gcm5.importance())
    same_folds = loop_crossfit(*data, folds=gcm5.folds_)
    checks.update({f"vimp cv=5 vs cross-fitted loop on vimp's folds, max relative difference of {k}": v
                   for k, v in stat_differences(crossfit, same_folds).items()})
    if "pycomets GCM (in-sample)" in results:
        checks["pycomets |statistic| vs vimp cv=None |T|, max relative difference"] = relative_difference(
            np.abs(results["pycomets GCM (in-sample)"]), np.abs(insample["T"]))
    targets = {
        "GCM cv=None speed-up vs in-sample loop (target >= 100)":
            by_name["loop: 2 sklearn fits per feature, in-sample"] / by_name["vimp GCM cv=None (in-sample)"],
        "GCM cv=5 speed-up vs cross-fitted loop (target >= 100)":
            by_name["loop: 2 sklearn fits per feature and fold, cv=5"] / by_name["vimp GCM cv=5 (cross-fitted)"],
        "GCM cv=None multiple of lstsq": by_name["vimp GCM cv=None (in-sample)"] / floor,
        "GCM cv=5 multiple of lstsq": by_name["vimp GCM cv=5 (cross-fitted)"] / floor,
    }
    if by_name.get("pycomets GCM (in-sample)"):
        targets["GCM cv=None speed-up vs pycomets"] = (by_name["pycomets GCM (in-sample)"]
                                                       / by_name["vimp GCM cv=None (in-sample)"])
    return rows, checks, targets


def print_speed(rows, checks, targets, n, p):
    print(f"\nGCM speed: n = {n}, p = {p}, rho = 0.5, all features")
    header = f"{'method':<50} {'best (s)':>10} {'x lstsq':>9} {'vimp speedup':>13}"
    print(header)
    print("-" * len(header))
    for row in rows:
        if row["best_seconds"] is None:
            print(f"{row['method']:<50} {row['note']}")
            continue
        speed = "" if row["vimp_speedup"] is None else f"{row['vimp_speedup']:.1f}x"
        print(f"{row['method']:<50} {row['best_seconds']:>10.4f} {row['multiple_of_lstsq']:>9.1f} {speed:>13}")
    print("\nfirst calls (warm-up, not in the timings):")
    for row in rows:
        if "first_call_seconds" in row:
            print(f"  {row['method']:<48} {row['first_call_seconds']:.3f} s")
    print("\ntargets (reported, not asserted):")
    for name, value in targets.items():
        print(f"  {name}: {value:.2f}")
    print("\ncorrectness checks:")
    for name, value in checks.items():
        print(f"  {name}: {value:.2e}")


# ----------------------------------------------------------------------------- part 2: validity
def one_replicate(seed_seq, n):
    """GCM of x_1 with a forest and with OLS on one null data set (same data, same folds)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed_seq)
    X, y = make_null_data(rng, n)
    forest_seed = int(rng.integers(2**31 - 1))
    split_seed = int(rng.integers(2**31 - 1))
    learners = {
        "random forest": RandomForestRegressor(n_estimators=100, random_state=forest_seed),
        "OLS": LinearRegression(),
    }
    out = {}
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, learner in learners.items():
            start = time.perf_counter()
            r = vimp.GCM(learner, cv=5, random_state=split_seed, groups={"x_1": [0]}).fit(X, y).importance()
            out[name] = {
                "T": float(r.details["statistic"][0]),
                "T_raw": float(r.raw_importance[0] / r.raw_std_error[0]),
                "pvalue": float(r.pvalue[0]),
                "r2_x": float(r.details["r2_x"][0]),
                "r2_y": float(r.details["r2_y"][0]),
                "seconds": time.perf_counter() - start,
            }
    out["warnings"] = sorted({type(w.message).__name__ for w in caught})
    return out


def run_validity(n, replicates, n_jobs):
    from joblib import Parallel, delayed

    children = np.random.SeedSequence(VALIDITY_SEED).spawn(replicates)
    start = time.perf_counter()
    reps = Parallel(n_jobs=n_jobs)(delayed(one_replicate)(child, n) for child in children)
    wall = time.perf_counter() - start
    summary = {}
    for name in ("random forest", "OLS"):
        T = np.array([r[name]["T"] for r in reps])
        pv = np.array([r[name]["pvalue"] for r in reps])
        rejected = int(np.sum(pv < ALPHA))
        ci = stats.binomtest(rejected, replicates, ALPHA).proportion_ci(confidence_level=0.95)
        summary[name] = {
            "rejections": rejected,
            "replicates": replicates,
            "rejection_rate": rejected / replicates,
            "ci_low": float(ci.low),
            "ci_high": float(ci.high),
            "binomtest_pvalue_vs_alpha": float(stats.binomtest(rejected, replicates, ALPHA).pvalue),
            "mean_T": float(T.mean()),
            "sd_T": float(T.std(ddof=1)),
            "se_mean_T": float(T.std(ddof=1) / np.sqrt(replicates)),
            "mean_r2_x": float(np.mean([r[name]["r2_x"] for r in reps])),
            "mean_r2_y": float(np.mean([r[name]["r2_y"] for r in reps])),
            "mean_seconds_per_replicate": float(np.mean([r[name]["seconds"] for r in reps])),
            "max_abs_T_minus_raw_ratio": float(np.max(np.abs(T - np.array([r[name]["T_raw"] for r in reps])))),
        }
    warned = sorted({w for r in reps for w in r["warnings"]})
    return summary, reps, wall, warned


def print_validity(summary, wall, warned, n):
    print(f"\nGCM null rejection of x_1 (alpha = {ALPHA}), n = {n}, p = 5, rho = 0.5, cv = 5:")
    header = (f"{'learner':<15} {'reject':>8} {'rate':>7} {'95% CI':>17} {'mean T':>8} {'sd T':>6} "
              f"{'R2 x':>6} {'R2 y':>6}")
    print(header)
    print("-" * len(header))
    for name, s in summary.items():
        print(f"{name:<15} {s['rejections']:>4}/{s['replicates']:<3} {s['rejection_rate']:>7.3f} "
              f"[{s['ci_low']:.3f}, {s['ci_high']:.3f}] {s['mean_T']:>8.3f} {s['sd_T']:>6.3f} "
              f"{s['mean_r2_x']:>6.3f} {s['mean_r2_y']:>6.3f}")
    print(f"  wall time {wall:.1f} s; warnings seen: {warned or 'none'}")


def plot_null(reps, summary, n, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    grid = np.linspace(-4.5, 4.5, 400)
    bins = np.linspace(-4.5, 4.5, 37)
    for name, colour in (("OLS", "tab:blue"), ("random forest", "tab:orange")):
        T = np.clip([r[name]["T"] for r in reps], bins[0], bins[-1])
        s = summary[name]
        ax.hist(T, bins=bins, density=True, alpha=0.5, color=colour,
                label=f"{name}: reject {100 * s['rejection_rate']:.1f}% "
                      f"[{100 * s['ci_low']:.1f}, {100 * s['ci_high']:.1f}], mean T {s['mean_T']:.2f}")
        ax.axvline(s["mean_T"], color=colour, lw=1.5, ls="--")
    ax.plot(grid, stats.norm.pdf(grid), "k-", lw=1.5, label="N(0, 1)")
    for z in (-stats.norm.ppf(1 - ALPHA / 2), stats.norm.ppf(1 - ALPHA / 2)):
        ax.axvline(z, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("GCM statistic T of the null feature x_1")
    ax.set_ylabel("density")
    ax.set_title(f"GCM under the null, {len(reps)} replicates: n = {n}, p = 5, rho = 0.5, cv = 5\n"
                 "y = x_2 + x_3 + x_4 + x_5 + eps; dotted: +-1.96", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- entry point
def write_outputs(out, stem, payload, rows, summary):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{stem}.json", "w") as fh:
        json.dump(payload, fh, indent=2)
    fields = ["section", "method", "library", "best_seconds", "multiple_of_lstsq", "vimp_speedup",
              "first_call_seconds", "runs", "note", "rejections", "replicates", "rejection_rate", "ci_low",
              "ci_high", "mean_T", "sd_T", "mean_r2_x", "mean_r2_y"]
    with open(out / f"{stem}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "runs": ";".join(f"{t:.6f}" for t in row["runs"])})
        for name, s in summary.items():
            writer.writerow({"section": "null rejection", "method": f"GCM {name}, cv=5, x_1", **s})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small smoke run (n=2000, p=10 for speed; 20 null replicates)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per timing (best is kept; default 3)")
    parser.add_argument("--replicates", type=int, default=None,
                        help="null replicates (default 200, 20 with --quick)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS/OpenMP threads for the timings (default: library defaults)")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel replicates of the null study")
    parser.add_argument("--no-speed", action="store_true", help="skip part 1")
    parser.add_argument("--no-validity", action="store_true", help="skip part 2")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    args = parser.parse_args(argv)

    if args.quick:
        n, p, repeats, replicates, stem = 2000, 10, args.repeats or 2, args.replicates or 20, "gcm_quick"
    else:
        n, p, repeats, replicates, stem = 10_000, 50, args.repeats or 3, args.replicates or 200, "gcm"
    n_null = 500

    rows, checks, targets = [], {}, {}
    with thread_limit(args.threads):
        info = machine_info({"pycomets": pycomets})
        info["threads_limit"] = args.threads
        if not args.no_speed:
            rows, checks, targets = run_speed(n, p, repeats)
            print_speed(rows, checks, targets, n, p)
    summary, reps, wall, warned = {}, [], None, []
    if not args.no_validity:
        summary, reps, wall, warned = run_validity(n_null, replicates, args.n_jobs)
        print_validity(summary, wall, warned, n_null)
    if hasattr(os, "getloadavg"):
        info["load_average_at_end"] = list(os.getloadavg())

    payload = {
        "config": {"speed": {"n": n, "p": p, "rho": 0.5, "repeats": repeats, "seed": SPEED_SEED,
                             "folds": 5},
                   "validity": {"n": n_null, "p": 5, "rho": 0.5, "null_feature": "x_1 (column 0)",
                                "model": "y = x_2 + x_3 + x_4 + x_5 + eps", "cv": 5, "alpha": ALPHA,
                                "replicates": replicates, "seed": VALIDITY_SEED, "n_jobs": args.n_jobs,
                                "forest": "RandomForestRegressor(n_estimators=100, random_state=per replicate)"},
                   "quick": args.quick},
        "machine": info,
        "speed": rows,
        "targets": targets,
        "checks": checks,
        "null_rejection": summary,
        "null_wall_seconds": wall,
        "null_warnings": warned,
        "null_replicates": reps,
    }
    write_outputs(args.out, stem, payload, rows, summary)
    written = [f"{stem}.csv", f"{stem}.json"]
    if reps:
        plot_null(reps, summary, n_null, args.out / f"{stem}_rf_null.png")
        written.append(f"{stem}_rf_null.png")
    print(f"\nwrote {', '.join(str(args.out / w) for w in written)}")


if __name__ == "__main__":
    main()
