"""Permute-and-predict at small n: bias for the fitted-model target, and coverage of its 95% intervals.

Design: OLS on ``y = X beta + eps`` with ``X ~ N(0, Σ)`` (p = 4, unit variances, correlation 0.5),
``beta = (1, 0.5, 0.25, 0)`` (the last feature is null), ``eps ~ N(0, 1)``. The fitted-model target of
feature j for coefficients b is ``2 b_j^2 Σ_jj + 2 b_j (Σ(beta - b))_j`` (squared error; see the
PermutationImportance docstring and ``tests/_designs.py::fitted_pap_target``).

* ``bias``: ``cv=10`` on 50 rows (folds of m = 5; target = average of the 10 fold models' targets); one
  model fitted on 2,000 rows, evaluated (``prefit=True``) on fresh sets of m = 10, 20 rows (vimp refuses
  evaluation sets of fewer than 10 rows, so m = 5 occurs only as a fold); and ``cv=10`` on 100 rows. The
  ratio is mean(estimate) / mean(target) over the replicates, with its Monte Carlo SE.
* ``coverage``: held-out design, train on n and evaluate on n fresh rows, n = 50, 100, 200; coverage of
  the two-sided 95% interval for the fitted-model target, per feature, with the binomial MC SE
  ``sqrt(0.95 * 0.05 / replicates)``. ``cover_t`` is the coverage the same replicates give with a
  t quantile on ``n - 1`` degrees of freedom instead of the normal one; ``se2_over_var`` is the mean
  squared standard error over the variance of (estimate - target). ``cover`` is the coverage of the
  interval PaP reports (Hall's skewness-corrected interval), ``miss_low``/``miss_high`` how often the
  target lies below/above it, and ``cover_z`` that of the plain Wald interval on the same replicates.

Both permutation kinds (``permutation="derangement"``, the default, and ``"uniform"``) and
``n_permutations`` 1 and 10 are run on the same data and the same fitted model in each replicate.

Usage::

    python benchmarks/pap_small_sample.py            # --quick: about 1 minute
    nice -n 10 python benchmarks/pap_small_sample.py --full   # 1,000 / 2,000 replicates: about 6 CPU-minutes

Writes ``benchmarks/results/pap_small_sample.csv`` (``--full``; ``pap_small_sample_quick.csv`` otherwise)
and prints the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LinearRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vimp

import vimp  # noqa: E402
from _designs import equicorrelated_cov, fitted_pap_target, linear_gaussian  # noqa: E402

BETA = np.array([1.0, 0.5, 0.25, 0.0])
COV = equicorrelated_cov(4, 0.5)
KINDS = ("derangement", "uniform")
LEVEL = 0.95


def _targets(coef):
    return np.array([fitted_pap_target(coef, BETA, COV, j) for j in range(len(BETA))])


def bias_prefit(m, replicates, seed):
    """Rows of the bias table for a model fitted on 2,000 rows, evaluated on sets of m rows."""
    rng = np.random.default_rng(seed)
    X, y = linear_gaussian(rng, 2000, BETA, COV)
    model = LinearRegression().fit(X, y)
    target = _targets(model.coef_)
    est = {(k, R): [] for k in KINDS for R in (1, 10)}
    for r in range(replicates):
        Xe, ye = linear_gaussian(rng, m, BETA, COV)
        for kind, R in est:
            pap = vimp.PermutationImportance(model, prefit=True, permutation=kind, n_permutations=R,
                                             random_state=r)
            est[kind, R].append(pap.importance(Xe, ye).raw_importance)
    rows = []
    for (kind, R), values in est.items():
        values = np.array(values)
        for j in range(3):  # the null feature's target is ~0: no ratio
            rows.append(dict(study="bias", design=f"prefit, m={m}", m=m, permutation=kind, n_permutations=R,
                             feature=j, replicates=replicates, target=target[j],
                             ratio=values[:, j].mean() / target[j],
                             ratio_mc_se=values[:, j].std(ddof=1) / np.sqrt(replicates) / target[j]))
    return rows


def bias_cv(replicates, seed, n=100, folds=10):
    """Rows of the bias table for ``cv=folds`` on ``n`` rows (folds of ``n / folds`` evaluation rows)."""
    rng = np.random.default_rng(seed)
    est = {(k, R): [] for k in KINDS for R in (1,)}
    targets = []
    for r in range(replicates):
        X, y = linear_gaussian(rng, n, BETA, COV)
        for kind, R in est:
            pap = vimp.PermutationImportance(LinearRegression(), cv=folds, permutation=kind, n_permutations=R,
                                             random_state=r).fit(X, y)
            est[kind, R].append(pap.importance().raw_importance)
        # same folds for both kinds (the split is seeded by random_state alone)
        targets.append(np.mean([_targets(LinearRegression().fit(X[tr], y[tr]).coef_) for tr, _ in pap.folds_],
                               axis=0))
    targets = np.array(targets)
    rows = []
    for (kind, R), values in est.items():
        values = np.array(values)
        for j in range(3):
            diff = values[:, j]
            ratio = diff.mean() / targets[:, j].mean()
            # delta method for a ratio of two means over the same replicates
            infl = (diff - ratio * targets[:, j]) / targets[:, j].mean()
            rows.append(dict(study="bias", design=f"cv={folds}, n={n}", m=n // folds, permutation=kind,
                             n_permutations=R, feature=j, replicates=replicates,
                             target=targets[:, j].mean(), ratio=ratio,
                             ratio_mc_se=infl.std(ddof=1) / np.sqrt(replicates)))
    return rows


def coverage(n, replicates, seed):
    """Rows of the coverage table: train on n, evaluate on n fresh rows."""
    rng = np.random.default_rng(seed)
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    t = stats.t.ppf(0.5 + LEVEL / 2, n - 1)
    out = {(k, R): ([], [], [], []) for k in KINDS for R in (1, 10)}
    targets = []
    for r in range(replicates):
        Xt, yt = linear_gaussian(rng, n, BETA, COV)
        Xe, ye = linear_gaussian(rng, n, BETA, COV)
        model = LinearRegression().fit(Xt, yt)
        targets.append(_targets(model.coef_))
        for kind, R in out:
            res = vimp.PermutationImportance(model, prefit=True, permutation=kind, n_permutations=R,
                                             random_state=r).importance(Xe, ye)
            out[kind, R][0].append(res.raw_importance)
            out[kind, R][1].append(res.raw_std_error)
            out[kind, R][2].append(res.ci_low)
            out[kind, R][3].append(res.ci_high)
    targets = np.array(targets)
    rows = []
    for (kind, R), (est, se, low, high) in out.items():
        err = np.array(est) - targets
        se = np.array(se)
        low, high = np.array(low), np.array(high)
        for j in range(len(BETA)):
            rows.append(dict(study="coverage", design=f"holdout, n={n}", m=n, permutation=kind,
                             n_permutations=R, feature=j, replicates=replicates,
                             target=targets[:, j].mean(),
                             cover=np.mean((low[:, j] <= targets[:, j]) & (targets[:, j] <= high[:, j])),
                             miss_low=np.mean(targets[:, j] < low[:, j]),
                             miss_high=np.mean(targets[:, j] > high[:, j]),
                             cover_z=np.mean(np.abs(err[:, j]) <= z * se[:, j]),
                             cover_t=np.mean(np.abs(err[:, j]) <= t * se[:, j]),
                             cover_mc_se=np.sqrt(LEVEL * (1 - LEVEL) / replicates),
                             se2_over_var=np.mean(se[:, j] ** 2) / np.var(err[:, j], ddof=1)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="few replicates, about a minute (default)")
    mode.add_argument("--full", action="store_true", help="1,000 replicates per coverage cell, 2,000 per bias cell")
    parser.add_argument("--out", default=None,
                        help="CSV to write (default: results/pap_small_sample.csv with --full, "
                             "results/pap_small_sample_quick.csv otherwise, which git ignores)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = str(Path(__file__).parent / "results"
                       / ("pap_small_sample.csv" if args.full else "pap_small_sample_quick.csv"))
    reps_cov, reps_bias, reps_cv = (1000, 2000, 500) if args.full else (100, 200, 30)
    rows = []
    # An evaluation set needs at least 10 rows for a standard error (vimp refuses fewer), so m = 5 is
    # measured where such sets occur: as the folds of cross-fitting (cv=10 on 50 rows).
    rows += bias_cv(reps_bias, seed=100, n=50, folds=10)
    for i, m in enumerate((10, 20)):
        rows += bias_prefit(m, reps_bias, seed=101 + i)
    rows += bias_cv(reps_cv, seed=110)
    for i, n in enumerate((50, 100, 200)):
        rows += coverage(n, reps_cov, seed=120 + i)
    frame = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False, float_format="%.5g")
    pd.set_option("display.width", 200)
    bias = frame[frame.study == "bias"]
    print("Bias: mean estimate / fitted-model target (MC SE)")
    print(bias[["design", "permutation", "n_permutations", "feature", "replicates", "ratio", "ratio_mc_se"]]
          .to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    cov = frame[frame.study == "coverage"]
    print("\nCoverage of 95% intervals for the fitted-model target (binomial MC SE in cover_mc_se)")
    print(cov[["design", "permutation", "n_permutations", "feature", "replicates", "cover", "miss_low", "miss_high", "cover_z", "cover_t",
               "cover_mc_se", "se2_over_var"]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
