"""scikit-learn's ``permutation_importance``, and the loops a user writes with scikit-learn estimators.

The loops are the "hand-written" peers: LOCO as a ``clone`` + refit without each column, GCM as two regressions
per feature (y and x_j on the other columns) and the mean of the residual products, in-sample (every
implementation of the GCM test does this) or cross-fitted over 5 folds (as vimp's default), the Monte Carlo study
as ``benchmarks/simulation.py`` writes it, and the floor: one ``numpy.linalg.lstsq``.
"""

from __future__ import annotations

import numpy as np

N_PERMUTATIONS = 10


def permutation_importance(X_train, y_train, X_test, y_test, *, model, n_repeats=N_PERMUTATIONS):
    """``sklearn.inspection.permutation_importance(n_repeats=10)`` on the test half, model fit included."""
    from sklearn.inspection import permutation_importance as sklearn_pi

    fitted = model().fit(X_train, y_train)
    result = sklearn_pi(fitted, X_test, y_test, n_repeats=n_repeats, random_state=0,
                        scoring="neg_mean_squared_error")
    return np.asarray(result.importances_mean)


def refit_loop_loco(X_train, y_train, X_test, y_test, *, model):
    """LOCO by hand: the full model and one ``clone`` refit without each column; test-MSE differences."""
    from sklearn.base import clone

    template = model()
    full = clone(template).fit(X_train, y_train)
    base = np.mean((y_test - full.predict(X_test)) ** 2)
    out = np.empty(X_train.shape[1])
    for j in range(X_train.shape[1]):
        reduced = clone(template).fit(np.delete(X_train, j, axis=1), y_train)
        out[j] = np.mean((y_test - reduced.predict(np.delete(X_test, j, axis=1))) ** 2) - base
    return out


def _products_statistic(R):
    n = R.shape[0]
    mean = R.mean(axis=0)
    return mean / (R.std(axis=0, ddof=1) / np.sqrt(n))


def gcm_loop_insample(X, y, *, model):
    """Per feature, two fits on all rows (y and x_j on the rest), in-sample residual products: the GCM test."""
    n, p = X.shape
    R = np.empty((n, p))
    for j in range(p):
        rest = np.delete(X, j, axis=1)
        ry = y - model().fit(rest, y).predict(rest)
        rx = X[:, j] - model().fit(rest, X[:, j]).predict(rest)
        R[:, j] = rx * ry
    return _products_statistic(R)


def gcm_loop_crossfit(X, y, *, model, cv=5):
    """Per feature and fold, two fits on the training rows; residual products on the held-out rows."""
    from sklearn.model_selection import KFold

    n, p = X.shape
    folds = list(KFold(cv, shuffle=True, random_state=0).split(X))
    R = np.empty((n, p))
    for j in range(p):
        rest = np.delete(X, j, axis=1)
        for train, test in folds:
            ry = y[test] - model().fit(rest[train], y[train]).predict(rest[test])
            rx = X[test, j] - model().fit(rest[train], X[train, j]).predict(rest[test])
            R[test, j] = rx * ry
    return _products_statistic(R)


def lstsq_train(X_train, y_train, X_test, y_test):
    """The floor of the held-out workloads: one ``lstsq`` of the training design with an intercept column."""
    return np.linalg.lstsq(np.column_stack([np.ones(len(y_train)), X_train]), y_train, rcond=None)[0]


def lstsq_all(X, y):
    """The floor of the all-rows workloads: one ``lstsq`` of every row with an intercept column."""
    return np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y, rcond=None)[0]


def monte_carlo_loop(reps):
    """The Monte Carlo study written by hand (``benchmarks/simulation.py``'s ``run_sklearn_loop``)."""
    from benchmarks import simulation

    return simulation.run_sklearn_loop(reps)


def monte_carlo_floor(reps):
    """Drawing the study's random numbers only (``benchmarks/simulation.py``'s ``run_floor``)."""
    from benchmarks import simulation

    return simulation.run_floor(reps)
