"""Calibration report: the numbers behind the closing notes, printed (nothing asserted).

* LOCO's default sample-split test under the null (two noise features) and its power for one real
  feature, over repeated data sets;
* coverage of 95% intervals of PaP and LOCO for their fitted-model targets, and of the population PaP;
* PaP standard errors against the Monte Carlo spread of the estimate around its fitted-model target.

The data-generating processes and the replicate loops are those of ``tests/test_calibration.py`` (which
asserts binomial bands on the same quantities); this script prints the rates themselves.

Usage::

    python benchmarks/calibration.py            # about 15 minutes on 2 cores
    python benchmarks/calibration.py --quick    # about 1 minute
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LinearRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import vimp  # noqa: E402
from _designs import equicorrelated_cov, fitted_pap_target, linear_gaussian  # noqa: E402
from test_calibration import _coverage, _loco_null_pvalues  # noqa: E402


def pap_se_ratio(n_permutations, n, replicates, seed=9):
    """Mean reported SE and sd of (estimate - fitted-model target) of PaP, OLS, p = 3, ρ = 0.5."""
    beta = np.array([1.0, 0.5, 0.0])
    cov = equicorrelated_cov(3, 0.5)
    rng = np.random.default_rng(seed)
    errors, ses = [], []
    for r in range(replicates):
        X, y = linear_gaussian(rng, 2 * n, beta, cov, 1.0)
        result = vimp.PermutationImportance(LinearRegression(), n_permutations=n_permutations,
                                            random_state=r).fit(X[:n], y[:n]).importance(X[n:], y[n:])
        ols = LinearRegression().fit(X[:n], y[:n])
        target = np.array([fitted_pap_target(ols.coef_, beta, cov, j) for j in range(2)])
        errors.append(result.importance[:2] - target)
        ses.append(result.std_error[:2])
    return np.mean(ses, axis=0), np.std(errors, axis=0, ddof=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer replicates")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1

    noise, signal = _loco_null_pvalues(2000 // scale, seed=12)
    print(f"LOCO split test, {2000 // scale} replicates, n = 200 + 200, alpha = 0.05: rejection rate of "
          f"the two noise features {np.round((noise < 0.05).mean(axis=0), 4)}, power for beta = 1: "
          f"{(signal < 0.05).mean():.3f}")
    for n, replicates in ((400, 2000 // scale), (1000, 1000 // scale)):
        hits_pap, hits_loco, hits_population = _coverage(replicates, seed=22, n=n)
        print(f"95% intervals, n = {n} + {n}, {replicates} replicates: fitted-model target covered by PaP "
              f"{np.round(hits_pap.mean(axis=0), 4)}, by LOCO {np.round(hits_loco.mean(axis=0), 4)}; "
              f"population PaP covered {np.round(hits_population.mean(axis=0), 4)}")
    for n_permutations, n in ((1, 400), (5, 100), (1, 100)):
        se, sd = pap_se_ratio(n_permutations, n, 400 // scale)
        print(f"PaP, R = {n_permutations}, n = {n} + {n}, {400 // scale} replicates: mean SE / sd of "
              f"(estimate - fitted target) = {np.round(se / sd, 3)}")


if __name__ == "__main__":
    main()
