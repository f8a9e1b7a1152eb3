"""Benchmark: size and power of LOCO's tests (``LOCO(test=...)``), and how their p-values cluster.

Designs (every data set has its own generator, spawned from one literal seed per cell):

* null ``noise``: p = 6 independent N(0, 1) features, y = x0 + 0.5 x1 + eps, eps ~ N(0, 1); x2..x5 are
  pure noise (independent of everything);
* null ``correlated``: the same with equicorrelated features (rho = 0.5): x2..x5 are null given the
  others but correlated with the signal features;
* alternatives ``alt1``, ``alt5``, ``alt20``: p = 4 independent N(0, 1) features,
  y = b x0 + 0.5 x1 + eps with Var(y) = 1 and b^2 = 0.01, 0.05, 0.20 (the R^2 contribution of x0, its
  population LOCO importance over Var(y)); x0 is tested.

Learners: ``ols`` (``LinearRegression``, served by vimp's exact linear fitter), ``rf``
(``RandomForestRegressor(n_estimators=T, random_state=None)``: full and reduced fits differ by seed noise)
and ``hgb`` (``HistGradientBoostingRegressor()``); n in {200, 1000} rows in all, evaluated ``holdout``
(fit on the first half, evaluate on the second) or ``cv5`` (``cv=5`` over all n rows).

Per data set LOCO is fitted once (``random_state`` = the data set's seed) and ``importance()`` is called
once per test (the tests see the same losses). Recorded per cell and test: the rejection rate at
alpha = 0.05 (pooled over the null features of a null design), with the binomial 99% band of the rate
of ``R`` independent data sets (the pooled rate's variance is at most that of one feature's, so this band
is the conservative one); and for nulls the mean absolute correlation, across data sets, of the p-values
of different null features (do the features' p-values move together?). Power cells also give the ratio of
each test's power to the paired test's.

Usage::

    python benchmarks/inference.py              # --quick: small (< 3 min on 2 cores)
    python benchmarks/inference.py --full       # the issue's sizes: >= 1000 null, 200 power data sets
    python benchmarks/inference.py --full --learners ols      # OLS cells at full size only
    python benchmarks/inference.py --learners rf,hgb --expensive-null 100 --expensive-power 50

Writes ``benchmarks/results/inference.csv`` with ``--full``, ``inference_quick.csv`` otherwise (``--out``
to change) and a PNG beside it. Reports only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from scipy import stats  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from vimp import LOCO, PermutationImportance, VimpWarning  # noqa: E402
from vimp._loco import LOCO_TESTS  # noqa: E402
from vimp._pap import PAP_TESTS  # noqa: E402

ALPHA = 0.05
NULL_DESIGNS = ("noise", "correlated")
ALT_DESIGNS = {"alt1": 0.01, "alt5": 0.05, "alt20": 0.20}
#: Tests whose standard error is not the paired one (computed through ``importance()``).
OWN_SE_TESTS = ("nadeau-bengio",)
#: The paired tests of the fitted-model difference: the reference of the power ratios.
REFERENCE_TESTS = ("paired", "paired-skew")
#: Tests that need cross-fitting (cv5 cells only).
CV_ONLY_TESTS = ("split-folds", "nadeau-bengio")
SEEDS = {"noise": 101, "correlated": 202, "alt1": 303, "alt5": 404, "alt20": 505}


def make_learner(name, trees):
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    if name == "ols":
        return LinearRegression()
    if name == "rf":
        return RandomForestRegressor(n_estimators=trees, random_state=None, n_jobs=1)
    if name == "hgb":
        return HistGradientBoostingRegressor()
    raise ValueError(name)


def simulate(design, n, rng):
    """``(X, y, tested columns)`` of one data set."""
    if design in NULL_DESIGNS:
        p = 6
        z = rng.standard_normal((n, p))
        if design == "correlated":  # equicorrelated rho = 0.5: sqrt(.5) common factor + sqrt(.5) own
            z = np.sqrt(0.5) * rng.standard_normal((n, 1)) + np.sqrt(0.5) * z
        y = z[:, 0] + 0.5 * z[:, 1] + rng.standard_normal(n)
        return z, y, [2, 3, 4, 5]
    share = ALT_DESIGNS[design]
    z = rng.standard_normal((n, 4))
    y = np.sqrt(share) * z[:, 0] + 0.5 * z[:, 1] + np.sqrt(1.0 - share - 0.25) * rng.standard_normal(n)
    return z, y, [0]


def fit_on_design(method, design, learner, n, split, seed, trees, **params):
    """One data set drawn and ``method`` fitted on it: ``(fitted, data)``, with ``data`` the arguments
    of ``importance()`` (the second half for ``holdout``, nothing for ``cv5``). Only the tested features
    are measured (as groups)."""
    X, y, tested = simulate(design, n, np.random.default_rng(seed))
    groups = {f"x{j}": [j] for j in tested}
    est = make_learner(learner, trees)
    if split == "holdout":
        half = n // 2
        fitted = method(est, groups=groups, random_state=int(seed), **params).fit(X[:half], y[:half])
        return fitted, (X[half:], y[half:])
    return method(est, cv=5, groups=groups, random_state=int(seed), **params).fit(X, y), ()


def one_dataset(design, learner, n, split, seed, trees, tests, check=False):
    """p-values of every test on one data set.

    LOCO is fitted once and evaluated once (``test="paired"``); every other test's p-values are then
    computed from the same losses by ``LOCO._test_pvalues`` with the known-zero and degenerate rules of
    ``importance()``. With ``check=True`` each test also runs through ``importance()`` and the two must
    agree (the first data set of every cell is checked).
    """
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VimpWarning)
        loco, data = fit_on_design(LOCO, design, learner, n, split, seed, trees, test="paired")
        result = loco.importance(*data)
        full = result.details["full_loss"]
        other = result.per_observation + full[:, None]
        w = None
        raw, raw_se = result.raw_importance, result.raw_std_error
        known_zero = loco._known_zero
        degenerate = ~np.isfinite(raw_se)
        for t in tests:
            loco.test = t
            if t in OWN_SE_TESTS:  # its standard error is its own: through importance()
                out[t] = np.asarray(loco.importance(*data).pvalue, dtype=float)
                continue
            p = loco._test_pvalues(full, other, result.per_observation, raw, raw_se, w)
            out[t] = np.where(known_zero, 1.0, np.where(degenerate, np.nan, p))
            if check:
                public = np.asarray(loco.importance(*data).pvalue, dtype=float)
                if not np.allclose(public, out[t], rtol=1e-12, atol=0, equal_nan=True):
                    raise AssertionError(f"shortcut differs from importance() for test={t!r}")
    return out


def one_dataset_pap(design, learner, n, split, seed, trees, tests, check=False):
    """p-values of every PaP test on one data set (one fit; ``importance()`` once per test)."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VimpWarning)
        pap, data = fit_on_design(PermutationImportance, design, learner, n, split, seed, trees)
        for t in tests:
            pap.test = t
            out[t] = np.asarray(pap.importance(*data).pvalue, dtype=float)
    return out


def binomial_band(reps, alpha=ALPHA, level=0.99):
    lo = stats.binom.ppf((1 - level) / 2, reps, alpha) / reps
    hi = stats.binom.isf((1 - level) / 2, reps, alpha) / reps
    return lo, hi


def mean_abs_corr(p):
    """Mean |correlation| across data sets between the p-values of different features (columns)."""
    ok = np.all(np.isfinite(p), axis=1)
    p = p[ok]
    if p.shape[1] < 2 or p.shape[0] < 3:
        return np.nan
    c = np.corrcoef(p, rowvar=False)
    off = c[~np.eye(c.shape[0], dtype=bool)]
    return float(np.nanmean(np.abs(off)))


def run_cell(design, learner, n, split, reps, trees, n_jobs, method="loco"):
    candidates = LOCO_TESTS if method == "loco" else PAP_TESTS
    tests = [t for t in candidates if split == "cv5" or t not in CV_ONLY_TESTS]
    base = np.random.SeedSequence([SEEDS[design], {"ols": 1, "rf": 2, "hgb": 3}[learner], n,
                                   0 if split == "holdout" else 1] + ([] if method == "loco" else [7]))
    seeds = [int(s.generate_state(1)[0]) for s in base.spawn(reps)]
    start = time.perf_counter()
    one = one_dataset if method == "loco" else one_dataset_pap
    runs = Parallel(n_jobs=n_jobs)(
        delayed(one)(design, learner, n, split, s, trees, tests, i == 0) for i, s in enumerate(seeds))
    seconds = time.perf_counter() - start
    rows = []
    null = design in NULL_DESIGNS
    lo, hi = binomial_band(reps)
    for t in tests:
        p = np.vstack([r[t] for r in runs])
        finite = np.isfinite(p)
        rate = float(np.mean(p[finite] <= ALPHA)) if finite.any() else np.nan
        rows.append({
            "method": method, "kind": "null" if null else "power", "design": design, "learner": learner, "n": n,
            "split": split, "test": t, "reps": reps, "rate": rate, "nan_share": float(1 - finite.mean()),
            "band_low": lo if null else np.nan, "band_high": hi if null else np.nan,
            "within_band": (rate <= hi) if null else np.nan,
            "mean_abs_corr": mean_abs_corr(p) if null else np.nan,
            "seconds": seconds, "trees": trees if learner == "rf" else np.nan,
        })
    return rows


def plot(frame, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # the tests a reader compares (every test is in the CSV)
    tests = [t for t in ("paired", "paired-skew", "perturbed", "nadeau-bengio", "split-per-feature",
                         "multisplit-cauchy", "split") if t in set(frame["test"])]
    frame = frame[frame["test"].isin(tests)]
    n_cells = max(len(frame[frame["kind"] == k].groupby(["method", "design", "learner", "n", "split"]))
                  for k in ("null", "power"))
    fig, axes = plt.subplots(2, 1, figsize=(max(13.0, 0.3 * n_cells * len(tests) / 3), 11), sharey=False)
    for ax, kind in zip(axes, ("null", "power")):
        sub = frame[frame["kind"] == kind]
        cells = list(dict.fromkeys(sub["method"] + " " + sub["design"] + " " + sub["learner"] + " n=" + sub["n"].astype(str)
                                   + " " + sub["split"]))
        width = 0.8 / max(len(tests), 1)
        for i, t in enumerate(tests):
            st = sub[sub["test"] == t]
            keys = st["method"] + " " + st["design"] + " " + st["learner"] + " n=" + st["n"].astype(str) + " " + st["split"]
            x = [cells.index(k) + (i - len(tests) / 2) * width for k in keys]
            ax.bar(x, st["rate"], width=width, label=t)
        if kind == "null":
            ax.axhline(ALPHA, color="black", lw=0.8)
            if len(sub):
                ax.axhline(float(sub["band_high"].min()), color="red", lw=0.8, ls="--",
                           label="99% band top (largest R)")
            ax.set_title(f"size at alpha = {ALPHA} (null features pooled)")
        else:
            ax.set_title("power at alpha = 0.05 (x0, R^2 share 1/5/20%)")
        ax.set_xticks(range(len(cells)))
        ax.set_xticklabels(cells, rotation=75, fontsize=7)
        ax.set_ylabel("rejection rate")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def default_test(method, learner, split):
    """The test ``test="auto"`` runs for this learner and design (``vimp._test_choice``)."""
    from vimp._test_choice import resolve_test

    return resolve_test(method, "auto", make_learner(learner, 1), 5 if split == "cv5" else None)[0]


def plot_defaults(frame, path):
    """Size and power of each cell's default test beside the paired fitted-model test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = frame.copy()
    frame["default"] = [default_test(m, lr, sp) for m, lr, sp in
                        zip(frame["method"], frame["learner"], frame["split"])]
    frame["cell"] = (frame["method"].str.upper() + " " + frame["learner"] + " n=" + frame["n"].astype(str)
                     + " " + frame["split"])
    fig, axes = plt.subplots(1, 2, figsize=(14, 6.5))
    for ax, kind in zip(axes, ("null", "power")):
        sub = frame[frame["kind"] == kind]
        chosen = sub[sub["test"] == sub["default"]]
        ref = sub[sub["test"].isin(REFERENCE_TESTS)].set_index(["cell", "design"])["rate"]
        labels = list(dict.fromkeys(chosen["cell"] + "  " + chosen["design"]))
        y = np.arange(len(labels))
        ax.barh(y + 0.2, chosen["rate"], height=0.4, color="C2", label="default test (test='auto')")
        ax.barh(y - 0.2, [ref.get((c, d), np.nan) for c, d in zip(chosen["cell"], chosen["design"])],
                height=0.4, color="C7", label="paired fitted-model test")
        for yy, (rate, name) in enumerate(zip(chosen["rate"], chosen["default"])):
            ax.text(rate + 0.005, yy + 0.2, name, va="center", fontsize=6)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=6.5)
        ax.invert_yaxis()
        if kind == "null":
            ax.axvline(ALPHA, color="black", lw=0.8)
            ax.scatter(chosen["band_high"], y, marker="|", s=120, color="red", zorder=3,
                       label="99% band top of the cell (its R)")
            ax.set_title("rejections at null features, alpha = 0.05")
        else:
            ax.set_title("power (x0's R^2 share 1%, 5%, 20%)")
        ax.set_xlabel("rejection rate")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small run (the default)")
    ap.add_argument("--full", action="store_true", help="the issue's sizes")
    ap.add_argument("--methods", default="loco", help="loco, pap or loco,pap")
    ap.add_argument("--learners", default="ols,rf,hgb")
    ap.add_argument("--ols-null", type=int, help="null data sets per OLS cell")
    ap.add_argument("--ols-power", type=int, help="power data sets per OLS cell")
    ap.add_argument("--expensive-null", type=int, help="null data sets per rf/hgb cell")
    ap.add_argument("--expensive-power", type=int, help="power data sets per rf/hgb cell")
    ap.add_argument("--expensive-sizes", default=None, help="n for rf/hgb, e.g. 200 or 200,1000")
    ap.add_argument("--splits", default="holdout,cv5", help="holdout, cv5 or both")
    ap.add_argument("--trees", type=int, default=None)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", default=None,
                    help="CSV to write (default: benchmarks/results/inference.csv with --full, "
                         "inference_quick.csv otherwise, which git ignores)")
    ap.add_argument("--combine", nargs="+", metavar="CSV",
                    help="no simulation: read these result files, write one table (--out) and one figure")
    args = ap.parse_args(argv)
    if args.combine:
        args.out = args.out or os.path.join(ROOT, "benchmarks", "results", "inference.csv")
        frame = pd.concat([pd.read_csv(f, keep_default_na=False, na_values=[""]) for f in args.combine],
                          ignore_index=True)  # "null" is a cell kind here, not a missing value
        if "method" not in frame:
            frame["method"] = "loco"
        frame["method"] = frame["method"].fillna("loco")
        report(frame, args.out)
        plot_defaults(frame, os.path.splitext(args.out)[0] + "_defaults.png")
        return
    full = args.full and not args.quick
    if args.out is None:
        args.out = os.path.join(ROOT, "benchmarks", "results", "inference.csv" if full else "inference_quick.csv")
    ols_null = args.ols_null or (1000 if full else 100)
    ols_power = args.ols_power or (200 if full else 40)
    exp_null = args.expensive_null or (1000 if full else 5)
    exp_power = args.expensive_power or (200 if full else 5)
    trees = args.trees or (100 if full else 50)
    exp_sizes = [int(s) for s in (args.expensive_sizes or ("200,1000" if full else "200")).split(",")]
    learners = [s for s in args.learners.split(",") if s]
    methods = [s for s in args.methods.split(",") if s]
    splits = [s for s in args.splits.split(",") if s]

    rows = []
    for method in methods:
        for learner in learners:
            sizes = (200, 1000) if learner == "ols" else exp_sizes
            for n in sizes:
                for split in splits:
                    for design in NULL_DESIGNS + tuple(ALT_DESIGNS):
                        null = design in NULL_DESIGNS
                        reps = (ols_null if null else ols_power) if learner == "ols" else (
                            exp_null if null else exp_power)
                        cell = run_cell(design, learner, n, split, reps, trees, args.n_jobs, method)
                        rows.extend(cell)
                        os.makedirs(os.path.dirname(args.out), exist_ok=True)
                        pd.DataFrame(rows).to_csv(args.out + ".partial", index=False)  # survives a stop
                        print(f"{method:4s} {design:10s} {learner:3s} n={n:5d} {split:7s} R={reps:5d} "
                              f"({cell[0]['seconds']:.0f} s): "
                              + "  ".join(f"{r['test']}={r['rate']:.3f}" for r in cell), flush=True)
    report(pd.DataFrame(rows), args.out)


def report(frame, out):
    """Power ratios, the CSV, the figure and the printed summary of a result table."""
    cell_key = ["method", "design", "learner", "n", "split"]
    # The reference of the power ratios: the paired test of the fitted-model difference (LOCO "paired",
    # PaP "paired-skew").
    reference = frame[frame["test"].isin(REFERENCE_TESTS)].set_index(cell_key)["rate"]
    key = list(frame[cell_key].itertuples(index=False, name=None))
    frame["power_vs_paired"] = [
        (r / reference.get(k, np.nan)) if kind == "power" else np.nan
        for r, k, kind in zip(frame["rate"], key, frame["kind"])]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    frame.to_csv(out, index=False)
    if os.path.exists(out + ".partial"):
        os.remove(out + ".partial")
    plot(frame, os.path.splitext(out)[0] + ".png")

    print()
    bands = sorted({(int(r), *binomial_band(int(r))) for r in frame.loc[frame["kind"] == "null", "reps"]})
    for reps, lo, hi in bands:
        print(f"binomial 99% band at alpha = {ALPHA}, R = {reps} data sets: [{lo:.4f}, {hi:.4f}]")
    null = frame[frame["kind"] == "null"]
    by = ["method", "learner", "test"]
    summary = null.groupby(by).agg(worst_size=("rate", "max"), cells=("rate", "size"),
                                   cells_above_band=("within_band", lambda s: int((~s.astype(bool)).sum())),
                                   mean_abs_corr=("mean_abs_corr", "mean"))
    power = frame[frame["kind"] == "power"]
    eligible = power[power.set_index(cell_key).index.map(lambda k: reference.get(k, 0.0) >= 0.5)]
    summary["mean_power"] = power.groupby(by)["rate"].mean()
    summary["min_power_vs_paired(paired>=0.5)"] = eligible.groupby(by)["power_vs_paired"].min()
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 200):
        print(summary.round(3).to_string())
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
