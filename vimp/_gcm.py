"""The generalised covariance measure (GCM) of Shah & Peters (2020), with cross-fitting and groups.

GCM's per-observation term is a residual product: the residual of a feature on the other features times
the residual of the response on the other features. Everything else (standard errors, the tests of
single features and of groups, the reported scales) is inference on those products, done here once for
:class:`GCM` and for :meth:`GCM.from_residuals`.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any, Literal, TypeVar, cast

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.utils.validation import check_is_fitted

from ._base import (
    _SEED_SPLIT,
    _SEED_TEST,
    check_common_params,
    child_rng,
    constant_columns,
    estimator_name,
    run_tasks,
)
from ._data import as_float_array, take_columns, take_rows
from ._fitter_choice import Fitter, make_fitter
from ._inference import adjust_pvalues, degenerate_message, degenerate_rows, mean_and_se, pvalue_two_sided
from ._losses import PredictionError, check_output
from ._results import ImportanceResult, confidence_limits
from ._split import check_folds, make_folds, seed_sequence, sorted_test_rows
from ._threads import limits_threads
from ._typing import ArrayLike, CVSpec, Design, Estimator, GroupSpec, MatrixLike, RandomState
from ._validation import (
    check_choice,
    check_evaluation_size,
    check_fold_classes,
    check_groups,
    check_int,
    check_level,
    check_same_columns,
    check_sample_weight,
    check_unchanged,
    check_weights_accepted,
    check_X,
    check_y,
    check_y_scale,
    design_fingerprint,
    feature_names_of,
)
from ._linear_fitter import LinearFitter
from ._warnings import DegenerateInferenceWarning, NuisanceQualityWarning, VimpWarning, warn

__all__ = ["GCM"]

GCM_TESTS = ("wald", "max")
GCM_SCALES = ("covariance", "correlation", "loco")

#: Family-wise false-alarm level of the nuisance check (:class:`~vimp.NuisanceQualityWarning`): on data
#: where every nuisance learner is as good as the better of its baselines (up to the estimation price of
#: a linear model, see :func:`_linear_price`), the warning fires in at most this share of data sets.
NUISANCE_ALPHA = 0.01

#: An x-residual below this fraction of its column's spread on every row is rounding noise (the column
#: is an exact function of the others): its R^2 would exceed 1 - 1e-16.
COLLINEAR_TOLERANCE = 1e-8

#: Largest ``n_bootstrap``: the draws are generated in chunks (memory is bounded), but time is not.
MAX_BOOTSTRAP = 100_000

# Draws of the multiplier bootstrap generated at once (bounds memory at n * _BOOTSTRAP_CHUNK floats).
_BOOTSTRAP_CHUNK = 64


# ----------------------------------------------------------------------------------------- helpers
def _is_classifier(estimator):
    """Whether ``estimator`` is a classifier; a :class:`Fitter` is one if it predicts probabilities."""
    if isinstance(estimator, Fitter):
        return getattr(estimator, "response_method", "predict") == "predict_proba"
    try:
        return bool(is_classifier(estimator))
    except (AttributeError, TypeError):  # objects without scikit-learn tags
        return False


def default_x_estimator(estimator):
    """The learner of the x-regressions when none is given (None: a clone of ``estimator``).

    A regressor serves both regressions. A classifier cannot regress a feature, so a regressor of the
    same family takes its place: :class:`~sklearn.linear_model.LinearRegression` for logistic and other
    linear classifiers, the regressor counterpart of a tree ensemble, tree or k-nearest-neighbours
    classifier (with the classifier's shared settings), and otherwise a
    :class:`~sklearn.ensemble.RandomForestRegressor` with whatever settings it shares with the classifier.
    The last step of a pipeline is replaced in the same way.
    """
    if not _is_classifier(estimator):
        return None
    return _regressor_counterpart(estimator)


def _regressor_counterpart(estimator):
    from sklearn import ensemble, linear_model, neighbors, tree
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        pipe = clone(estimator)
        pipe.set_params(**{name: _regressor_counterpart(last)})
        return pipe
    linear = (linear_model.LogisticRegression, linear_model.LogisticRegressionCV,
              linear_model.RidgeClassifier, linear_model.RidgeClassifierCV, linear_model.SGDClassifier)
    if isinstance(estimator, linear):
        return linear_model.LinearRegression(fit_intercept=getattr(estimator, "fit_intercept", True))
    counterparts = {
        ensemble.RandomForestClassifier: ensemble.RandomForestRegressor,
        ensemble.ExtraTreesClassifier: ensemble.ExtraTreesRegressor,
        ensemble.GradientBoostingClassifier: ensemble.GradientBoostingRegressor,
        ensemble.HistGradientBoostingClassifier: ensemble.HistGradientBoostingRegressor,
        tree.DecisionTreeClassifier: tree.DecisionTreeRegressor,
        neighbors.KNeighborsClassifier: neighbors.KNeighborsRegressor,
    }
    target = counterparts.get(type(estimator), ensemble.RandomForestRegressor)
    allowed = target().get_params(deep=False)
    shared = {k: v for k, v in estimator.get_params(deep=False).items()
              if k in allowed and k not in ("criterion", "loss", "class_weight", "init")}
    return target(**shared)


def _r2(target, resid, w):
    """``1 - sum(w r^2) / sum(w (t - mean_w t)^2)`` per column (NaN where the target is constant)."""
    target = np.asarray(target, dtype=float)
    resid = np.asarray(resid, dtype=float)
    if w is None and target.ndim == 2:  # unweighted: one compiled pass, no (n, k) temporaries
        from ._kernels import column_r2

        return column_r2(np.ascontiguousarray(target), np.ascontiguousarray(resid))
    wt = np.ones(target.shape[0]) if w is None else w
    wt = wt if target.ndim == 1 else wt[:, None]
    centre = np.sum(wt * target, axis=0) / np.sum(wt, axis=0)
    total = np.sum(wt * (target - centre) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1.0 - np.sum(wt * resid**2, axis=0) / np.where(total > 0, total, 1.0),
                        np.nan)


def _extremes(A):
    """``(max(A, axis=0), min(A, axis=0))`` of a 2-D array in one compiled pass (NaN propagates)."""
    A = np.asarray(A)
    if A.dtype != np.float64 or A.ndim != 2:
        return np.max(A, axis=0), np.min(A, axis=0)
    from ._kernels import column_extremes

    return column_extremes(A, np.empty(A.shape[1]), np.empty(A.shape[1]))


def _r2_shared_target(target, resid, w):
    """:func:`_r2` of one target against each column of ``resid`` (n, k)."""
    target = np.asarray(target, dtype=float)
    wt = np.ones(target.shape[0]) if w is None else np.asarray(w, dtype=float)
    centre = np.sum(wt * target) / np.sum(wt)
    total = np.sum(wt * (target - centre) ** 2)
    if not total > 0:
        return np.full(resid.shape[1], np.nan)
    explained = np.einsum("i,ij,ij->j", wt, resid, resid) if w is not None else np.einsum(
        "ij,ij->j", resid, resid)
    return 1.0 - explained / total


# ---------------------------------------------------------------------------------- nuisance check
def _linear_price(q, n_train):
    """The allowance of the nuisance check: the relative excess squared error a sound fit may have.

    For Gaussian regressors, OLS with ``q`` regressors and an intercept fitted on ``n`` rows predicts a
    new row with expected squared error ``sigma^2 (1 + 1/n) (n - 2) / (n - q - 2)`` when the target's
    conditional mean is linear with residual variance ``sigma^2`` (Breiman & Freedman, 1983), and the
    training mean with ``sigma^2 (1 + 1/n)``: the expected price of estimating ``q`` slopes is the factor
    ``1 + q / (n - q - 2)``. The price of one fitted model varies from one training set to another: it is
    ``sigma^2 (b - beta)' Sigma (b - beta)``, about ``sigma^2 chi^2_q / n``, with mean ``q / n`` and sd
    ``sqrt(2 q) / n`` (relative to ``sigma^2``). Since the check compares fitted models, the allowance is
    the mean plus two of these sds: ``(q + 2 sqrt(2 q)) / (n - q - 2)``; inf where ``n <= q + 2``.
    """
    q = np.asarray(q, dtype=float)
    room = n_train - q - 2.0
    return np.where(room > 0, (q + 2.0 * np.sqrt(2.0 * q)) / np.where(room > 0, room, 1.0), np.inf)


def _effective_size(w):
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (the row count without weights)."""
    return float(np.sum(w) ** 2 / np.sum(w**2))


def _loss_difference_test(learner, baseline, price, w):
    """One-sided paired z tests that a learner's squared error exceeds a baseline's allowance.

    Parameters
    ----------
    learner, baseline : ndarray of shape (n, m)
        Residuals of ``m`` regressions on the same evaluation rows (column by column the same target).
    price : ndarray of shape (n, m)
        The allowance: the learner is compared with ``(1 + price) * baseline**2`` row by row.
    w : ndarray of shape (n,) or None

    Returns
    -------
    learner_mse, baseline_mse, z, pvalue : ndarrays of shape (m,)
        ``z = mean(d) / se(d)`` with ``d_i = r_learner,i^2 - (1 + price_i) r_baseline,i^2`` and the
        standard error of :func:`~vimp._inference.mean_and_se`; ``pvalue = 1 - Phi(z)``. A constant
        ``d`` gives ``z = 0`` (``p = 0.5``); an infinite price (too few training rows for the
        regressors) gives NaN.
    """
    l2, b2 = learner**2, baseline**2
    ok = np.all(np.isfinite(price), axis=0)
    safe_price = np.where(np.isfinite(price), price, 0.0)
    d = l2 - (1.0 + safe_price) * b2
    mean, se = mean_and_se(d, w)
    learner_mse = np.average(l2, axis=0, weights=w)
    baseline_mse = np.average(b2, axis=0, weights=w)
    z, pvalue = _loss_difference_z(learner_mse, baseline_mse, mean, se, ok)
    return learner_mse, baseline_mse, z, pvalue


def _loss_difference_z(learner_mse, baseline_mse, mean, se, ok):
    """The z statistics and p-values of :func:`_loss_difference_test` from its column summaries (``ok``:
    the columns whose allowance is finite on every row)."""
    scale = learner_mse + baseline_mse
    degenerate = ~(se > 1e-12 * np.where(scale > 0, scale, 1.0))  # d constant: no evidence either way
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(degenerate, 0.0, mean / np.where(se > 0, se, 1.0))
    z = np.where(ok, z, np.nan)
    pvalue = np.where(ok, stats.norm.sf(z), np.nan)
    return z, pvalue


def _check_params(test, scale, level, p_adjust, n_bootstrap, random_state):
    """Checks of the inference arguments shared by :class:`GCM` and :meth:`GCM.from_residuals`."""
    check_choice(test, "test", GCM_TESTS)
    check_choice(scale, "scale", GCM_SCALES)
    check_level(level)
    from ._inference import P_ADJUST_METHODS

    check_choice(p_adjust, "p_adjust", P_ADJUST_METHODS)
    check_int(n_bootstrap, "n_bootstrap", 1)
    if n_bootstrap > MAX_BOOTSTRAP:
        raise ValueError(
            f"n_bootstrap must be at most {MAX_BOOTSTRAP} (p-values to 1e-5 are as fine as a test needs); "
            f"got {n_bootstrap}"
        )
    return seed_sequence(random_state)


# ------------------------------------------------------------------------------------- inference
def _column_scale(scale, a, rx, ry, R, w):
    """Per-column estimates on ``scale`` and their influence functions.

    ``a`` (m,) mean products, ``rx`` (n, m) x-residuals, ``ry`` (n, m) y-residuals, ``R`` (n, m) products.
    """
    if scale == "covariance":
        return a, R - a
    b = np.average(rx**2, axis=0, weights=w)
    if scale == "correlation":
        c = np.average(ry**2, axis=0, weights=w)
        root = np.sqrt(b * c)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(root > 0, a / np.where(root > 0, root, 1.0), 0.0)
            safe_b, safe_c = np.where(b > 0, b, 1.0), np.where(c > 0, c, 1.0)
            influence = ((R - a) / np.where(root > 0, root, 1.0)
                         - 0.5 * value * ((rx**2 - b) / safe_b + (ry**2 - c) / safe_c))
        return value, np.where(root > 0, influence, 0.0)
    # loco: a^2 / b, LOCO's mean squared error difference in a linear model
    safe_b = np.where(b > 0, b, 1.0)
    value = np.where(b > 0, a**2 / safe_b, 0.0)
    influence = 2.0 * a / safe_b * (R - a) - a**2 / safe_b**2 * (rx**2 - b)
    return value, np.where(b > 0, influence, 0.0)


def _max_pvalue(R, a, se, w, n_bootstrap, rng):
    """Max-type test of ``E[R] = 0`` with a Gaussian multiplier bootstrap.

    Statistic ``T = max_k |a_k / se_k|``; each draw ``T* = max_k |sum_i w_i e_i (R_ik - a_k)| / se_k`` with
    ``e ~ N(0, 1)`` and weights normalised to one; ``p = (#{T* >= T} + 1) / (B + 1)``.
    """
    n = R.shape[0]
    wn = np.full(n, 1.0 / n) if w is None else w / w.sum()
    centred = wn[:, None] * (R - a) / se
    statistic = float(np.max(np.abs(a / se)))
    exceed = 0
    done = 0
    while done < n_bootstrap:
        size = min(_BOOTSTRAP_CHUNK, n_bootstrap - done)
        e = rng.standard_normal((size, n))
        draws = np.max(np.abs(e @ centred), axis=1)
        exceed += int(np.sum(draws >= statistic))
        done += size
    return statistic, (exceed + 1.0) / (n_bootstrap + 1.0)


def _infer_group(rx, ry, w, single, test, scale, n_bootstrap, rng):
    """Inference for one feature or group from its residuals.

    Parameters
    ----------
    rx : ndarray of shape (n, m)
        x-residuals of the group's columns (a column of zeros marks a constant column).
    ry : ndarray of shape (n, m)
        The matching y-residuals.
    single : bool
        One column: report the signed value rather than a norm.

    Returns
    -------
    dict
    """
    n, m = rx.shape
    R = rx * ry
    active = np.any(rx != 0, axis=0)
    out = {"products": R}
    a_all, se_all = mean_and_se(R, w)
    a_all = np.where(active, a_all, 0.0)
    se_all = np.where(active, se_all, 0.0)
    v_all = np.zeros(m)
    if active.any():
        v_all[active], _ = _column_scale(scale, a_all[active], rx[:, active], ry[:, active], R[:, active], w)
    out.update(column_mean=a_all, column_se=se_all, column_importance=v_all)
    if not active.any():  # a constant feature or group: exactly no effect
        out.update(importance=0.0, se=0.0, raw=0.0, raw_se=0.0, per_obs=np.zeros(n), pvalue=1.0,
                   statistic=0.0, df=0)
        return out
    Ra, rxa, rya = R[:, active], rx[:, active], ry[:, active]
    a = a_all[active]
    se = se_all[active]
    value, influence = _column_scale(scale, a, rxa, rya, Ra, w)
    if single:
        est, est_se = float(value[0]), float(mean_and_se(influence[:, 0], w)[1])
        raw, raw_se = float(a[0]), float(se[0])
        per_obs = R[:, 0] if m == 1 else Ra[:, 0]
    else:
        raw = float(np.linalg.norm(a))
        per_obs = Ra @ a / raw if raw > 0 else np.zeros(n)
        raw_se = float(mean_and_se(per_obs, w)[1])
        if scale == "loco":
            # The group's LOCO difference in a linear model: abar' M^-1 abar with M = E[r_x r_x'].
            wn = np.full(n, 1.0 / n) if w is None else w / w.sum()
            M = (rxa * wn[:, None]).T @ rxa
            u = np.linalg.pinv(M) @ a
            est = float(a @ u)
            proj = rxa @ u
            group_influence = 2.0 * (Ra - a) @ u - (proj**2 - u @ M @ u)
        else:
            est = float(np.linalg.norm(value))
            group_influence = influence @ value / est if est > 0 else np.zeros(n)
        est_se = float(mean_and_se(group_influence, w)[1])
    if test == "max":
        ok = se > 0
        if ok.any():
            statistic, pvalue = _max_pvalue(Ra[:, ok], a[ok], se[ok], w, n_bootstrap, rng)
        else:
            statistic, pvalue = 0.0, 1.0
        df = int(ok.sum())
    elif single or Ra.shape[1] == 1:
        statistic = float(a[0] / se[0]) if se[0] > 0 else 0.0
        pvalue = float(pvalue_two_sided(a[0], se[0]))
        df = 1
    else:
        wn = np.full(n, 1.0 / n) if w is None else w / w.sum()
        centred = wn[:, None] * (Ra - a)
        V = centred.T @ centred  # the covariance of abar
        df = int(np.linalg.matrix_rank(V))
        statistic = float(a @ np.linalg.pinv(V) @ a)
        pvalue = float(stats.chi2.sf(statistic, df)) if df > 0 else 1.0
    out.update(importance=est, se=est_se, raw=raw, raw_se=raw_se, per_obs=per_obs, pvalue=pvalue,
               statistic=statistic, df=df)
    return out


class _SingleParts(list):
    """The per-feature dicts of :func:`_infer_singles`, with the (n, k) products kept whole."""


def _infer_singles(rx, ry, w, scale, overwrite=False):
    """:func:`_infer_group` for many single-column groups under the Wald test, vectorised over columns.

    ``rx`` and ``ry`` are (n, k), one column per feature. Returns the list of per-feature dicts that
    :func:`_infer_group` would return (the same numbers; the tests compare the two paths). ``overwrite``:
    the products may be written into ``rx`` (on the covariance scale, the only one that needs no
    residual after the products).
    """
    n, k = rx.shape
    active = np.any(rx != 0, axis=0)
    if w is None and n > 0:  # products, means and 1/n sds in one compiled pass, without temporaries
        from ._kernels import residual_products

        x_c = np.ascontiguousarray(rx, dtype=np.float64)
        in_place = overwrite and scale == "covariance" and x_c is rx and rx.flags.writeable
        R, a, sd = residual_products(x_c, np.ascontiguousarray(ry, dtype=np.float64), rx if in_place else None)
        se = sd / np.sqrt(n)
    else:
        R = rx * ry
        a, se = mean_and_se(R, w)
    a = np.where(active, a, 0.0)
    se = np.where(active, se, 0.0)
    value = np.zeros(k)
    est_se = np.zeros(k)
    if scale == "covariance":  # the estimate is the mean product: its influence is R - a
        value, est_se = a.copy(), se.copy()
    elif active.any():
        value[active], influence = _column_scale(scale, a[active], rx[:, active], ry[:, active],
                                                 R[:, active], w)
        est_se[active] = mean_and_se(influence, w)[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(se > 0, a / np.where(se > 0, se, 1.0), 0.0)
    pvalue = np.where(active, pvalue_two_sided(a, se), 1.0)
    parts = _SingleParts()
    parts.products = np.where(active, R, 0.0) if not active.all() else R
    for j in range(k):
        on = bool(active[j])
        parts.append({
            "products": R[:, j:j + 1], "column_mean": a[[j]], "column_se": se[[j]],
            "column_importance": value[[j]],
            "importance": float(value[j]) if on else 0.0, "se": float(est_se[j]) if on else 0.0,
            "raw": float(a[j]), "raw_se": float(se[j]),
            "per_obs": R[:, j] if on else np.zeros(n),
            "pvalue": float(pvalue[j]), "statistic": float(statistic[j]) if on else 0.0,
            "df": 1 if on else 0,
        })
    return parts


def _build_result(x_res, y_res, names, column_names, single, w, test, scale, level, p_adjust,
                  n_bootstrap, seq, split, target, fold_ids, extra_details, stacked=None, keep_residuals=True,
                  overwrite=False):
    """An :class:`ImportanceResult` from each group's residuals.

    ``x_res[g]`` is (n, m_g) and ``y_res[g]`` (n, m_g); ``column_names[g]`` names the group's columns.
    ``stacked``: the two lists already stacked column-wise, when the caller has them; ``overwrite``: they
    are the caller's own and may be overwritten (then ``keep_residuals`` must be False).
    """
    k = len(names)
    if stacked is None:
        stacked = (np.column_stack(x_res), np.column_stack(y_res))
    if test == "wald" and all(single) and all(x.shape[1] == 1 for x in x_res):
        parts = _infer_singles(stacked[0], stacked[1], w, scale, overwrite=overwrite and not keep_residuals)
    else:
        parts = [
            _infer_group(x_res[g], y_res[g], w, single[g], test, scale, n_bootstrap,
                         child_rng(seq, _SEED_TEST, g))
            for g in range(k)
        ]

    def gather(key):
        return np.array([p[key] for p in parts], dtype=float)

    importance, std_error = gather("importance"), gather("se")
    raw, raw_se = gather("raw"), gather("raw_se")
    # Exactly zero by construction (constant columns, or products that are all zero) versus no standard
    # error at all (zero under a non-zero mean, or NaN): the latter get NaN intervals and p-values.
    known_zero = (raw == 0) & (raw_se == 0) & (importance == 0)
    degenerate = degenerate_rows(raw, raw_se, known_zero)
    pvalue = np.where(degenerate, np.nan, gather("pvalue"))
    raw_se = np.where(degenerate, np.nan, raw_se)
    std_error = np.where(degenerate | degenerate_rows(importance, std_error, known_zero), np.nan, std_error)
    if degenerate.any():
        warn(degenerate_message(names, raw, gather("raw_se"), degenerate), DegenerateInferenceWarning)
    columns = {
        names[g]: {
            "columns": tuple(column_names[g]),
            "mean_product": parts[g]["column_mean"],
            "std_error": parts[g]["column_se"],
            "importance": parts[g]["column_importance"],
        }
        for g in range(k)
    }
    details = {
        "statistic": gather("statistic"),
        "df": np.array([p["df"] for p in parts], dtype=int),
        "columns": columns,
        "residual_columns": tuple(c for cols in column_names for c in cols),
    }
    if keep_residuals:
        details.update(x_residuals=stacked[0], y_residuals=stacked[1])
    details.update(extra_details)
    result = ImportanceResult(
        method="gcm",
        names=tuple(names),
        importance=importance,
        std_error=std_error,
        raw_importance=raw,
        raw_std_error=raw_se,
        ci_low=np.full(k, np.nan),
        ci_high=np.full(k, np.nan),
        pvalue=pvalue,
        pvalue_adjusted=adjust_pvalues(pvalue, p_adjust),
        level=float(level),
        scale=scale,
        loss="none",
        test=test,
        p_adjust=p_adjust,
        target=target,
        per_observation=(parts.products if isinstance(parts, _SingleParts)
                         else np.column_stack([p["per_obs"] for p in parts])),
        fold_ids=fold_ids,
        mc_std=np.full(k, np.nan),
        per_repeat=None,
        split=split,
        seed=seq.entropy,
        ci_method="wald",
        details=details,
    )
    low, high = confidence_limits(result, float(level))
    object.__setattr__(result, "ci_low", low)
    object.__setattr__(result, "ci_high", high)
    return result


def _target_text(scale):
    what = {
        "covariance": "E[Cov(x_j, y | x_-j)]",
        "correlation": "E[Cov(x_j, y | x_-j)] / sqrt(E[Var(x_j | x_-j)] E[Var(y | x_-j)])",
        "loco": "E[Cov(x_j, y | x_-j)]^2 / E[Var(x_j | x_-j)] (LOCO's MSE difference in a linear model)",
    }[scale]
    group = ("abar' M^-1 abar over the group's columns" if scale == "loco"
             else "norm of the vector over the group's columns")
    return f"{what}; groups: {group}"


def _check_residual_array(values, name):
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty array of shape (n,) or (n, p); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf (non-finite values)")
    with np.errstate(over="ignore"):
        squares_finite = np.all(np.isfinite(arr * arr))
    if not squares_finite:
        raise ValueError(f"{name} has values whose squares overflow in float64; rescale them")
    return arr


def _nuisance_message(check, split):
    """The text of :class:`~vimp.NuisanceQualityWarning` from the table of :meth:`GCM._nuisance_check`."""
    where = {"holdout": "held-out", "in-sample": "in-sample"}.get(split, "out-of-fold")
    flagged = check[check["flagged"]].sort_values("z", ascending=False)
    flagged = flagged.drop_duplicates(["group", "regression", "target"])  # the worse baseline of each
    items = []
    for row in flagged.itertuples():
        if row.regression == "x":
            what = f"the x-regression of {row.target!r} on the other features"
        else:
            what = f"the y-regression of y on the features other than {row.group!r}"
        items.append(f"{what} ({where} MSE {row.learner_mse:.4g} against {row.baseline_mse:.4g} for the "
                     f"{row.baseline} baseline, z = {row.z:.1f})")
    shown = "; ".join(items[:5]) + (f"; and {len(items) - 5} more" if len(items) > 5 else "")
    features = list(dict.fromkeys(flagged["group"]))
    return (
        f"GCM: the nuisance learner predicts significantly worse ({where}) than a simple baseline fitted "
        f"on the same rows, for {features[:10]}: {shown}. The baselines are the training mean and OLS of "
        "the same target on the same features (one-sided paired z test on squared errors, allowing the "
        f"estimation price of a linear model; Holm-adjusted p < {NUISANCE_ALPHA}). Residuals this large "
        "can break GCM's rate condition, so the test may not hold its level: use a better learner, "
        "the linear x-regression (x_estimator=LinearRegression()), or more data. The comparison is in "
        "result.details['nuisance_check']"
    )


class _StackedResiduals(list):
    """Per-feature ``(x_resid (n, 1), y_resid (n,))`` pairs that are views of two (n, k) matrices.

    The exact linear path produces all single-feature residuals as matrices; keeping them (``stacked``)
    spares the copies of stacking the pairs again.
    """

    @classmethod
    def of(cls, X_all, Y_all):
        out = cls((X_all[:, g:g + 1], Y_all[:, g]) for g in range(X_all.shape[1]))
        out.stacked = (X_all, Y_all)
        out.extremes = None  # (4, k): column max and min of X_all, then of Y_all, where the producer kept them
        return out


# ------------------------------------------------------------------------------------- nuisances
class _Nuisance:
    """The fitted nuisance regressions of one feature or group on one training set.

    ``kind`` is ``"fast"`` (the fitter's exact ``residuals_without``), ``"generic"`` (a reduced y-model
    and x-models through the fitter seam) or ``"constant"`` (only constant columns: no regression).
    """

    def __init__(self, fitter, columns, active, x_estimator, fast, positive_class):
        self.columns = np.asarray(columns, dtype=np.intp)
        self.active = np.asarray(active, dtype=bool)
        self.positive_class = positive_class
        self.fitter = fitter
        if not self.active.any():
            self.kind = "constant"
        elif fast:
            self.kind = "fast"
        else:
            self.kind = "generic"
            dropped = self.columns[self.active]
            self.y_model = fitter.refit_without(dropped)
            self.x_model = fitter.regress_columns(dropped, x_estimator)

    def _y_prediction(self, model, X):
        n = X.shape[0]
        if self.positive_class is None:
            return check_output(model.predict(X), n, "predict").astype(float)
        classes = list(model.classes_) if model.classes_ is not None else []
        pred = check_output(model.predict(X), n, "predict_proba", classes or None)
        if self.positive_class not in classes:  # pragma: no cover - refused by the fold check in fit
            raise ValueError(f"the y-model never saw the positive class {self.positive_class!r}")
        return pred[:, classes.index(self.positive_class)].astype(float)

    def residuals(self, X, y_num):
        """``(x_resid (n, |S|), y_resid (n,))`` on evaluation data ``(X, y_num)``."""
        n = len(y_num)
        rx = np.zeros((n, len(self.columns)))
        if self.kind == "constant":
            return rx, y_num - self._y_prediction(self.fitter, X)
        dropped = self.columns[self.active]
        if self.kind == "fast":
            xr, yr = self.fitter.residuals_without(X, y_num, dropped)
            rx[:, self.active] = np.asarray(xr, dtype=float).reshape(n, -1)
            return rx, np.asarray(yr, dtype=float).reshape(n)
        targets = as_float_array(take_columns(X, dropped))
        x_pred = np.asarray(self.x_model.predict(X))
        if x_pred.ndim == 1 and len(dropped) == 1:
            x_pred = x_pred[:, None]
        if x_pred.shape != (n, len(dropped)):
            raise PredictionError(
                f"the x-regression's predict returned shape {x_pred.shape}; expected ({n},) per column"
            )
        if not np.all(np.isfinite(x_pred)):
            raise PredictionError("the x-regression's predict returned NaN or inf")
        rx[:, self.active] = targets - x_pred.astype(float)
        return rx, y_num - self._y_prediction(self.y_model, X)


# ------------------------------------------------------------------------------------- estimator
_Self = TypeVar("_Self", bound="GCM")
_GCMTest = Literal["wald", "max"]
_GCMScale = Literal["covariance", "correlation", "loco"]


class GCM(BaseEstimator):
    """The generalised covariance measure: importance and conditional-independence test per feature.

    For each feature :math:`x_j` (or group :math:`S`), the response is regressed on the other features
    (:math:`\\hat f(x_{-j})`, with ``estimator``) and :math:`x_j` is regressed on the other features
    (:math:`\\hat g(x_{-j})`, with ``x_estimator``); the per-observation term is the residual product
    :math:`R_i = (x_{ij} - \\hat g(x_{i,-j}))(y_i - \\hat f(x_{i,-j}))`. Its mean estimates the expected
    conditional covariance, and :math:`T = \\bar R / \\mathrm{se}` tests conditional independence
    (Shah & Peters, 2020).

    Parameters
    ----------
    estimator : scikit-learn estimator, pipeline or :class:`~vimp.Fitter`
        Learner of the y-regressions; cloned before every fit (the object you pass is never changed).
        :class:`~sklearn.linear_model.LinearRegression` and :class:`~sklearn.linear_model.Ridge` are
        served by the exact linear fitter where available (all regressions from one factorisation per
        fold); wrap them as ``vimp.SklearnFitter(LinearRegression())`` to force generic refits.
        A classifier needs a binary target: its y-residual is ``y - P(y = positive class | x_-j)``, with
        the positive class the larger label (``1`` for 0/1 labels).
    x_estimator : scikit-learn regressor, optional
        Learner of the x-regressions. Default: a clone of ``estimator`` for a regressor; for a classifier a
        regressor of the same family (:class:`~sklearn.linear_model.LinearRegression` for logistic
        regression and other linear classifiers, the regressor counterpart of a tree, tree ensemble or
        k-nearest-neighbours classifier with the shared settings, else a
        :class:`~sklearn.ensemble.RandomForestRegressor` with the shared settings; a pipeline's last step
        is replaced likewise). A classifier is refused.
    cv : None, int, scikit-learn splitter or list of (train, test) index pairs, default=5
        How the residuals arise; see *Three modes* in Notes. A group splitter gets
        ``fit(..., cv_groups=...)``; the test parts must partition the rows.
    groups : dict, optional
        Group name → list of columns (names or positions), tested jointly. Default: one per feature.
    test : {"wald", "max"}, default="wald"
        Test of a group: ``"wald"`` is the quadratic form :math:`n \\bar R^\\top \\hat\\Sigma^{-1} \\bar R`
        against :math:`\\chi^2_{|S|}`; ``"max"`` is :math:`\\max_k |\\sqrt n \\bar R_k / \\hat\\sigma_k|` with
        a Gaussian multiplier bootstrap (``n_bootstrap`` draws). For one column, ``"wald"`` is the
        two-sided z test :math:`p = 2\\Phi(-|T|)`.
    scale : {"covariance", "correlation", "loco"}, default="covariance"
        The reported importance: :math:`\\bar R`; :math:`\\bar R / \\sqrt{\\overline{r_x^2}\\,
        \\overline{r_y^2}}`; or :math:`\\bar R^2 / \\overline{r_x^2}`, which estimates LOCO's increase in
        mean squared error in a linear model (for a group :math:`\\bar R^\\top M^{-1} \\bar R` with
        :math:`M` the mean of :math:`r_x r_x^\\top`, LOCO's group difference in a linear model). Standard
        errors by the delta method (influence functions). The p-value is the same on every scale.
    level : float, default=0.95
        Confidence level of the Wald intervals.
    p_adjust : str, default="holm"
        Multiple-testing adjustment (as in ``statsmodels.stats.multitest.multipletests``), or "none".
    n_bootstrap : int, default=499
        Draws of the multiplier bootstrap of ``test="max"``.
    random_state : None, int or numpy.random.Generator
        Seeds the folds (integer ``cv``) and the multiplier bootstrap.
    n_jobs : int, optional
        Parallel jobs over features and folds (joblib). Results do not depend on it.
    progress : bool, default=False
        Show a progress bar.
    nuisance_check : bool, default=True
        Compare every nuisance regression with the mean and OLS baselines on the same folds and warn
        (:class:`~vimp.NuisanceQualityWarning`) where the learner is significantly worse; see *Nuisance
        check* in Notes. Its cost is one OLS factorisation per fold (none when the learner is the exact
        OLS fit) and a few passes over the residuals; False skips it (``details["nuisance_check"]`` is
        then None).
    keep_residuals : bool, default=False
        Keep the x- and y-residuals in the result (``details["x_residuals"]``, ``details["y_residuals"]``,
        two arrays of the data's size, e.g. for :meth:`from_residuals`). By default a result keeps the
        per-observation products (``per_observation``) and the summaries only, so that it holds about one
        copy of the data's size; the estimator itself keeps no residuals when the exact linear fitter can
        recompute them (they are computed by :meth:`importance`).

    Attributes
    ----------
    fitters_ : list
        The fitted full model of each fold (of all the data with ``cv=None``).
    folds_ : list of (train, test) index arrays
    nuisance_models_ : list or None
        The nuisance regressions of each group fitted on all the data given to :meth:`fit`: set by ``fit``
        with ``cv=None``, and by the first :meth:`importance` call with held-out data otherwise.
    x_estimator_ : estimator or None
        The learner of the x-regressions (None: the estimator itself).
    classes_ : ndarray, only for a classifier
    feature_names_in_ : ndarray
        Column names, when ``X`` was a DataFrame.

    Notes
    -----
    **Estimand.** With :math:`\\xi_j = x_j - E[x_j | x_{-j}]`,

    .. math:: \\psi_j = E[\\mathrm{Cov}(x_j, y | x_{-j})] = E[(x_j - E[x_j|x_{-j}])(y - E[y|x_{-j}])],

    which is zero when :math:`y` is conditionally independent of :math:`x_j` given :math:`x_{-j}`. In a
    linear model :math:`\\psi_j = \\beta_j \\mathrm{Var}(\\xi_j)`. GCM has no power against alternatives
    whose conditional covariance is zero, e.g. an even function of a symmetric feature:
    :math:`y = x_1^2 - 1 + x_2 + \\varepsilon` with independent standard normal features has
    :math:`\\psi_1 = 0` although :math:`x_1` matters (LOCO detects it).

    **Inference.** :math:`\\mathrm{se} = \\mathrm{sd}(R)/\\sqrt n` with the :math:`1/n` sd (weighted by
    ``sample_weight`` when given), :math:`T = \\bar R / \\mathrm{se}`, :math:`p = 2\\Phi(-|T|)`. A group's
    importance is the Euclidean norm of its vector of per-column values (on the ``"loco"`` scale the
    quadratic form above; a one-column group keeps the sign), with a delta-method standard error; the per-column values are in
    ``result.details["columns"]``. Near zero the norm's Wald interval is unreliable; use the p-value.

    **Validity.** The test keeps its level when the product of the root-mean-squared errors of the two
    regressions vanishes faster than :math:`n^{-1/2}`. Biased (regularised) learners violate this: with
    random forests at :math:`n = 500` on a correlated design the null rejection rate at 5% is well above
    5% (``benchmarks/gcm.py``: 22 of 200 replicates, 11%, 95% interval 7% to 16%, mean :math:`T = 0.40`,
    against 10 of 200 with OLS, with five equicorrelated features, :math:`\\rho = 0.5`,
    :math:`y = x_2 + \\dots + x_5 + \\varepsilon`, a 100-tree forest, ``cv=5``). The former R² warning
    did not catch this (the forests' R² is well above zero); the nuisance check below does, because the
    forests predict y clearly worse than OLS of y on the same features.

    **Nuisance check.** The rate condition cannot be checked from the data (it concerns the distance to
    the unknown regression functions), but a learner that predicts worse than a simple model certainly
    has large errors. With ``nuisance_check=True`` each nuisance regression (every column of a feature
    or group on the features outside it, and the response on the same features) is compared, on the
    rows GCM evaluates, with two baselines fitted on the same training rows (each fold's training part
    with ``cv=K``; all of ``fit``'s data for held-out evaluation; the same rows with ``cv=None``): the
    training mean, and OLS of the same target on the same features (the exact :class:`~vimp.LinearFitter`,
    one factorisation per fold; skipped when the learner is itself the exact OLS fit, and when OLS is not
    identified on a training fold). For each pair the one-sided paired z test of Diebold & Mariano (1995)
    on the per-row differences :math:`d_i = r_{L,i}^2 - (1 + c)\\, r_{B,i}^2` (learner :math:`L`,
    baseline :math:`B`) tests :math:`E[d] \\le 0`, with :math:`z = \\bar d / \\mathrm{se}(\\bar d)`. The
    allowance :math:`c = (q + 2\\sqrt{2q}) / (n_{\\mathrm{train}} - q - 2)` with :math:`q` regressors is
    the price a correctly specified linear fit pays for its estimation error: its expected value
    :math:`q / (n - q - 2)` for Gaussian regressors (Breiman & Freedman, 1983) plus two standard
    deviations of its :math:`\\chi^2_q / n` fluctuation; without it OLS on an independent feature, whose
    expected out-of-fold excess over the mean is about :math:`q/n`, would be flagged. The p-values of one
    call are adjusted by Holm's method and a :class:`~vimp.NuisanceQualityWarning` names every regression
    whose adjusted p-value is below 1% (``NUISANCE_ALPHA``), so on data where every learner is as good as
    its baselines the warning fires on at most 1% of data sets (``benchmarks/nuisance_warning.py``:
    1 alarm in 5,400 correctly specified OLS data sets, 600 for each of three designs and n = 100, 200,
    500, where the former rule, out-of-fold R² below -0.05, fired on 98.7% at n = 100 with five
    independent features; with 50-tree forests on the design above it fired on 100 of 100 data sets at
    n = 500 and 91 of 100 at n = 200, mostly through the y-regression, while GCM rejected the null
    feature in 7 and 6 of them against 4 and 5 with OLS). The table is in
    ``result.details["nuisance_check"]`` (columns ``group``, ``regression`` ("x" or "y"), ``target``,
    ``baseline`` ("mean" or "linear"), ``n_regressors``, ``learner_mse``, ``baseline_mse``,
    ``allowance``, ``z``, ``pvalue``, ``pvalue_adjusted``, ``flagged``); the R² of every regression stays
    in ``result.details["r2_x"]`` (per group, the smallest over its columns) and
    ``result.details["r2_y"]``. What the warning does not mean: silence does not show that the rate
    condition holds. A learner can beat both baselines and still be too biased (a forest on a nonlinear
    truth), and with small folds the test has little power. With ``cv=None`` the errors are in-sample,
    which flatters flexible learners; the check is then weak. :meth:`from_residuals` has no learners
    and no check.

    **Three modes.**

    - ``cv=K`` (default), ``fit(X, y).importance()``: cross-fitting. The data is split into K folds;
      the regressions fitted without a fold give that fold's residuals, so every residual is out of fold.
    - ``fit(X_train, y_train).importance(X_test, y_test)`` (any ``cv``): held-out evaluation; the
      regressions are fitted on all of ``X_train`` (with ``cv=K`` on the first such call) and the
      residuals computed on the test set.
    - ``cv=None``, ``fit(X, y).importance()``: the in-sample statistic of Shah & Peters (regressions fitted
      and residuals evaluated on the same data), as in reference implementations. It is valid only for
      learners that do not overfit; prefer cross-fitting for flexible ones.

    References
    ----------
    Breiman, L. & Freedman, D. (1983). How many variables should be entered in a regression equation?
    J. Amer. Statist. Assoc. 78(381), 131-136.
    Diebold, F. X. & Mariano, R. S. (1995). Comparing predictive accuracy. J. Bus. Econom. Statist.
    13(3), 253-263.
    Shah, R. D. & Peters, J. (2020). The hardness of conditional independence testing and the generalised
    covariance measure. Ann. Statist. 48(3), 1514-1538.
    Zheng, C. & Raskutti, G. (2025). Comparing model-agnostic feature selection methods through relative
    efficiency. arXiv:2508.14268.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from vimp import GCM
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(2000, 1)); X = z + rng.normal(size=(2000, 3))  # correlated features
    >>> y = X @ np.array([1.0, 0.5, 0.0]) + rng.normal(size=2000)
    >>> result = GCM(LinearRegression(), random_state=0).fit(X, y).importance()
    >>> result.to_frame()[["importance", "std_error"]].round(2)  # beta_j Var(x_j | rest) = 4/3 beta_j
             importance  std_error
    feature
    x0             1.28       0.05
    x1             0.72       0.03
    x2             0.01       0.03
    """

    _method = "gcm"
    # Fitted attributes (set by fit), declared for type checkers.
    classes_: np.ndarray
    folds_: list[tuple[np.ndarray, np.ndarray]]

    def __init__(self, estimator: Estimator, x_estimator: Estimator | None = None, *, cv: CVSpec = 5,
                 groups: GroupSpec | None = None, test: _GCMTest = "wald", scale: _GCMScale = "covariance",
                 level: float = 0.95, p_adjust: str = "holm", n_bootstrap: int = 499,
                 random_state: RandomState = None, n_jobs: int | None = None, progress: bool = False,
                 nuisance_check: bool = True, keep_residuals: bool = False) -> None:
        self.estimator = estimator
        self.x_estimator = x_estimator
        self.cv = cv
        self.groups = groups
        self.test = test
        self.scale = scale
        self.level = level
        self.p_adjust = p_adjust
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.progress = progress
        self.nuisance_check = nuisance_check
        self.keep_residuals = keep_residuals

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        check_common_params(self)
        if not isinstance(self.nuisance_check, (bool, np.bool_)):
            raise TypeError(f"nuisance_check must be True or False; got {self.nuisance_check!r}")
        if not isinstance(self.keep_residuals, (bool, np.bool_)):
            raise TypeError(f"keep_residuals must be True or False; got {self.keep_residuals!r}")
        seq = _check_params(self.test, self.scale, self.level, self.p_adjust, self.n_bootstrap,
                            self.random_state)
        if self.x_estimator is not None:
            if not hasattr(self.x_estimator, "fit") or not hasattr(self.x_estimator, "predict"):
                raise TypeError(
                    "x_estimator must be None or a scikit-learn regressor (with fit and predict); "
                    f"got {type(self.x_estimator).__name__}"
                )
            if _is_classifier(self.x_estimator):
                raise TypeError(
                    f"x_estimator must be a regressor (it regresses each feature on the others); got the "
                    f"classifier {type(self.x_estimator).__name__}"
                )
        if _is_classifier(self.estimator) and not isinstance(self.estimator, Fitter):
            if not hasattr(self.estimator, "predict_proba"):
                raise TypeError(
                    f"estimator {type(self.estimator).__name__} is a classifier without predict_proba; "
                    "GCM needs class probabilities for the y-residuals"
                )
        return seq

    def _check_X(self, X, name="X") -> Design:
        X, numeric = check_X(X, name)
        if not numeric:
            raise TypeError(
                f"{name} must have numeric columns only: GCM regresses every feature on the others"
            )
        return X

    def _encode_y(self, y, n, name="y") -> tuple[np.ndarray, np.ndarray]:
        """The validated target and its numeric form (0/1 for a classifier)."""
        y = check_y(y, n, name, classifier=self._classifier)
        if not self._classifier:
            return y, y
        classes = np.unique(y)
        if not hasattr(self, "classes_"):
            if len(classes) != 2:
                raise ValueError(
                    f"y must have exactly two classes for GCM with a classifier (y - P(y = 1 | x_-j) is the "
                    f"y-residual); got {len(classes)} classes. Multiclass targets are not supported"
                )
            return y, (y == classes[1]).astype(float)
        unknown = np.setdiff1d(classes, self.classes_)
        if unknown.size:
            raise ValueError(f"{name} has labels {unknown.tolist()[:5]} not seen in fit")
        return y, (y == self.classes_[1]).astype(float)

    # ------------------------------------------------------------------ fitting
    def _use_folds(self, folds):
        """Use ``folds`` (train, test index pairs) in the next :meth:`fit` with ``cv=K`` (for ``compare``)."""
        self._given_folds = [(np.asarray(tr), np.asarray(te)) for tr, te in folds]
        return self

    @limits_threads
    def fit(self: _Self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None, *,
            cv_groups: ArrayLike | None = None) -> _Self:
        """Fit the nuisance regressions.

        With ``cv=K`` one set of regressions is fitted per fold and the out-of-fold residuals are kept;
        with ``cv=None`` the regressions are fitted on all the data. See *Three modes* in the class Notes.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric features.
        y : array-like of shape (n_samples,)
            Response; binary labels for a classifier.
        sample_weight : array-like of shape (n_samples,), optional
            Passed to the learners' ``fit``; used in every average. A learner whose ``fit`` takes no
            weights is refused, as in scikit-learn.
        cv_groups : array-like of shape (n_samples,), optional
            Group labels passed to the splitter's ``split`` (e.g. ``cv=GroupKFold(5)``).

        Returns
        -------
        self
        """
        seq = self._check_params()
        X = self._check_X(X)
        self._classifier = _is_classifier(self.estimator)
        n = X.shape[0]
        if hasattr(self, "classes_"):
            del self.classes_
        y, y_num = self._encode_y(y, n, "y")
        if not self._classifier:
            check_y_scale(y_num, "y")
        w = check_sample_weight(sample_weight, n)
        check_weights_accepted(self.estimator, w)
        if self.x_estimator is not None:
            check_weights_accepted(self.x_estimator, w, "x_estimator")
        names = feature_names_of(X)
        groups, group_columns = check_groups(self.groups, names, getattr(X, "columns", None))
        cv = self._cv_plan
        given = getattr(self, "_given_folds", None)
        self._given_folds = None
        if cv is None:
            if cv_groups is not None:
                raise ValueError("cv_groups applies to cross-fitting; pass it with cv (e.g. a GroupKFold)")
            folds = None
        elif given is not None:
            folds = check_folds(given, n)
        else:
            folds = make_folds(cv, X, y, self._classifier, child_rng(seq, _SEED_SPLIT), cv_groups)
        if folds is not None and self._classifier:
            check_fold_classes(folds, y)
        check_evaluation_size(n, w, "X" if cv is None else "X (cross-fitted: every row is evaluated once)")
        # ---- validated; fitting starts here
        self.seed_ = seq
        self.n_features_in_ = X.shape[1]
        self._feature_names = names
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if self._classifier:
            self.classes_ = np.unique(y)
        self.groups_, self.group_columns_ = groups, group_columns
        self.cv_ = cv
        self.x_estimator_ = self.x_estimator if self.x_estimator is not None else \
            default_x_estimator(self.estimator)
        self.constant_columns_ = constant_columns(X)
        self._X, self._y, self._y_num, self._w = X, y, y_num, w
        self._X_fingerprint = design_fingerprint(X)
        self.nuisance_models_ = None
        if cv is None:
            everything = np.arange(n)
            self.folds_ = [(everything, everything)]
            self.fitters_ = [self._fit_model(X, y, w, everything)]
            self.nuisance_models_ = self._fit_nuisances(self.fitters_[0])
            self.residuals_ = None
        else:
            self.folds_ = cast("list[tuple[np.ndarray, np.ndarray]]", folds)  # cv=K: planned above
            template = self._make_fitter()
            if hasattr(template, "fit_folds"):  # exact linear fitter: all folds from one pass over X
                self.fitters_ = template.fit_folds(X, y, w, self.folds_)
            else:
                self.fitters_ = run_tasks(lambda fold: self._fit_model(X, y, w, fold[0]), self.folds_,
                                          self.n_jobs, False, "gcm fits")
            # Residuals that the exact linear fitter recomputes cheaply are left to importance(), so that
            # the fitted estimator keeps no (n, p) arrays of its own; the others (fitted nuisance models)
            # are computed once, here.
            recomputable = all(self._batchable(f) for f in self.fitters_)
            self.residuals_ = None if recomputable else self._named(self._crossfit_residuals)
        return self

    def _named(self, compute, *args):
        """``compute(*args)``, with a prediction problem reported under the learner's name."""
        try:
            return compute(*args)
        except PredictionError as exc:
            raise ValueError(f"estimator {estimator_name(self.estimator)}: {exc}") from None

    def _make_fitter(self):
        fitter = make_fitter(self.estimator,
                             response_method="predict_proba" if self._classifier else "predict")
        return copy.deepcopy(fitter) if fitter is self.estimator else fitter

    def _fit_model(self, X, y, w, rows):
        if len(rows) == len(y) and np.array_equal(rows, np.arange(len(y))):
            return self._make_fitter().fit(X, y, w)  # all rows, in order: no copy
        return self._make_fitter().fit(take_rows(X, rows), y[rows], None if w is None else w[rows])

    def _fast(self, fitter):
        return (self.x_estimator is None and not self._classifier
                and hasattr(fitter, "residuals_without"))

    def _nuisance(self, fitter, g):
        columns = self.group_columns_[g]
        active = ~self.constant_columns_[columns]
        positive = self.classes_[1] if self._classifier else None
        return _Nuisance(fitter, columns, active, self.x_estimator_, self._fast(fitter), positive)

    def _fit_nuisances(self, fitter):
        return run_tasks(lambda g: self._nuisance(fitter, g), range(len(self.groups_)), self.n_jobs,
                         self.progress, "gcm regressions")

    def _batchable(self, fitter):
        """Whether :meth:`_batch_residuals` serves ``fitter`` (an exact linear fitter, one column per group)."""
        return (self._fast(fitter) and hasattr(fitter, "residuals_each")
                and all(len(c) == 1 for c in self.group_columns_))

    def _batch_residuals(self, fitter, X, y_num):
        """Every single-feature group's residuals from one call of an exact linear fitter, or None."""
        if not self._batchable(fitter):
            return None
        both = fitter.residuals_each(X, y_num)
        if both is None:
            return None
        x_all, y_all = both
        singles = np.array([c[0] for c in self.group_columns_], dtype=np.intp)
        if np.array_equal(singles, np.arange(x_all.shape[1])):
            X_sel, Y_sel = x_all, y_all  # one group per column, in order: no copy
        else:
            X_sel, Y_sel = x_all[:, singles], y_all[:, singles]
        constant = self.constant_columns_[singles]
        if constant.any():  # as _Nuisance: no x-regression, the full model's residual
            X_sel[:, constant] = 0.0
            Y_sel[:, constant] = (y_num - np.asarray(fitter.predict(X), dtype=float))[:, None]
        return _StackedResiduals.of(X_sel, Y_sel)

    def _crossfit_residuals(self):
        X, y_num = self._X, self._y_num
        n, k = len(y_num), len(self.groups_)
        singles = [c[0] for c in self.group_columns_] if all(len(c) == 1 for c in self.group_columns_) else []
        if (list(singles) == list(range(self.n_features_in_)) and not self.constant_columns_.any()
                and all(self._batchable(f) for f in self.fitters_)):
            # one group per column in order, none constant: each fold's residuals written straight
            # into their rows of the two arrays
            X_all, Y_all = np.empty((n, k)), np.empty((n, k))
            # the column extremes of both arrays, taken while they are written (one pass fewer each)
            extremes = np.array([[-np.inf], [np.inf], [-np.inf], [np.inf]]).repeat(k, axis=1)
            for fitter, test in zip(self.fitters_, sorted_test_rows(self.folds_, n)):  # rows in order
                if hasattr(fitter, "residuals_fold_into"):
                    done = fitter.residuals_fold_into(X, y_num, test, (X_all, Y_all), extremes)
                else:
                    done = fitter.residuals_each(take_rows(X, test), y_num[test], out=(X_all, Y_all), rows=test)
                    extremes = None  # not tracked on this path: _result reads the arrays
                if done is None:
                    break
            else:
                stacked = _StackedResiduals.of(X_all, Y_all)
                stacked.extremes = extremes
                return stacked
        X_all = Y_all = None
        for fitter, (_, test) in zip(self.fitters_, self.folds_):  # each fold's block written as it comes
            batch = self._batch_residuals(fitter, take_rows(X, test), y_num[test])
            if batch is None:
                X_all = Y_all = None
                break
            if X_all is None:
                X_all, Y_all = np.empty((n, k)), np.empty((n, k))
            X_all[test], Y_all[test] = batch.stacked
            del batch
        if X_all is not None:
            return _StackedResiduals.of(X_all, Y_all)
        tasks = [(f, g) for g in range(len(self.groups_)) for f in range(len(self.folds_))]

        def one(task):
            f, g = task
            test = self.folds_[f][1]
            model = self._nuisance(self.fitters_[f], g)
            return model.residuals(take_rows(X, test), y_num[test])

        pieces = run_tasks(one, tasks, self.n_jobs, self.progress, "gcm regressions")
        n = len(y_num)
        out = []
        for g in range(len(self.groups_)):
            rx = np.zeros((n, len(self.group_columns_[g])))
            ry = np.zeros(n)
            for f, (_, test) in enumerate(self.folds_):
                xr, yr = pieces[g * len(self.folds_) + f]
                rx[test], ry[test] = xr, yr
            out.append((rx, ry))
        return out

    # ------------------------------------------------------------------ evaluation
    @limits_threads
    def importance(self, X: MatrixLike | None = None, y: ArrayLike | None = None,
                   sample_weight: ArrayLike | None = None) -> ImportanceResult:
        """Importances with standard errors, confidence intervals and p-values.

        Parameters
        ----------
        X, y : held-out data, or None
            None: the residuals of the data given to :meth:`fit` (cross-fitted with ``cv=K``, in-sample
            with ``cv=None``). Data: held-out evaluation with the regressions fitted on all the data given
            to :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the held-out rows (without held-out data the weights given to :meth:`fit` are used).

        Warns
        -----
        NuisanceQualityWarning
            When a nuisance learner predicts significantly worse than the mean or OLS baseline.

        Returns
        -------
        ImportanceResult
            ``details`` holds ``r2_x`` and ``r2_y`` (the nuisance regressions' R² on the evaluation rows,
            out of fold unless ``cv=None``), ``nuisance_check`` (a DataFrame comparing each nuisance
            regression with the mean and OLS baselines, see *Nuisance check* in the class Notes; None with
            ``nuisance_check=False``), ``statistic`` and ``df`` of each test, the per-column parts
            of each group (``columns``), and the residuals (``x_residuals``, ``y_residuals``, one column
            per tested column, ordered as ``residual_columns``).
        """
        check_is_fitted(self, "fitters_")
        check_unchanged(self._X, getattr(self, "_X_fingerprint", None))
        if X is None and y is None:
            if sample_weight is not None:
                raise ValueError("sample_weight applies to held-out data; pass X and y with it")
            X, y_num, w = self._X, self._y_num, self._w
            if self.cv_ is None:
                residuals = self._named(self._evaluate, self.nuisance_models_, X, y_num)
                split = "in-sample"
                fold_ids = np.zeros(len(y_num), dtype=np.intp)
            else:
                residuals = (self.residuals_ if self.residuals_ is not None
                             else self._named(self._crossfit_residuals))
                split = f"cv={len(self.folds_)}"
                fold_ids = np.zeros(len(y_num), dtype=np.intp)
                for f, (_, test) in enumerate(self.folds_):
                    fold_ids[test] = f
        elif X is None or y is None:
            raise ValueError("importance needs both X and y for held-out evaluation, or neither")
        else:
            X = self._check_X(X)
            check_same_columns(X, getattr(self, "feature_names_in_", self._feature_names),
                               self.n_features_in_)
            _, y_num = self._encode_y(y, X.shape[0], "y")
            w = check_sample_weight(sample_weight, X.shape[0])
            check_evaluation_size(X.shape[0], w, "the held-out data X")
            if self.nuisance_models_ is None:
                everything = np.arange(len(self._y))
                full = self._fit_model(self._X, self._y, self._w, everything)
                self.nuisance_models_ = self._fit_nuisances(full)
            residuals = self._named(self._evaluate, self.nuisance_models_, X, y_num)
            split = "holdout"
            fold_ids = np.zeros(len(y_num), dtype=np.intp)
        # Residuals computed by this call (not kept by the estimator, nor asked for): the products may
        # overwrite the x-residuals, so that the call holds two arrays of the data's size, not three.
        private = residuals is not self.residuals_ and not self.keep_residuals
        result, check = self._result(residuals, X, y_num, w, split, fold_ids, overwrite=private)
        result.details["nuisance_check"] = check
        if check is not None and check["flagged"].any():
            warn(_nuisance_message(check, split), NuisanceQualityWarning)
        return result

    def _nuisance_check(self, residuals, X, y_num, w, split):
        """Every nuisance regression's squared error against the mean and linear baselines (see Notes).

        The baselines are fitted on the same training rows as the learner (each fold's training part;
        all the data given to :meth:`fit` for held-out data) and evaluated on the same rows.
        Returns a DataFrame, one row per (regression, baseline).
        """
        Xe = as_float_array(X)
        Xt, yt, wt = as_float_array(self._X), self._y_num, self._w
        n = len(y_num)
        if split == "holdout":
            pairs = [(np.arange(len(yt)), np.arange(n))]
            fitter = self.nuisance_models_[0].fitter
            pair_fitters = [fitter]
        elif split == "in-sample":
            pairs = [(np.arange(n), np.arange(n))]
            fitter = self.fitters_[0]
            pair_fitters = [fitter]
        else:
            pairs = self.folds_
            fitter = self.fitters_[0]
            pair_fitters = list(self.fitters_)
        # The exact OLS path: the learner is the linear baseline, no need to fit it again.
        learner_is_ols = (self._fast(fitter) and isinstance(fitter, LinearFitter)
                          and fitter.alpha == 0 and bool(fitter.fit_intercept))
        active = ~self.constant_columns_
        p_active = int(active.sum())
        regs = []  # (group, "x" or "y", column or -1)
        for g, cols in enumerate(self.group_columns_):
            regs.extend((g, "x", int(c)) for c in cols if active[c])
            regs.append((g, "y", -1))
        m = len(regs)
        group_of = np.array([g for g, _, _ in regs], dtype=np.intp)
        is_x = np.array([kind == "x" for _, kind, _ in regs])
        x_cols = np.array([c for _, kind, c in regs if kind == "x"], dtype=np.intp)
        q = np.array([p_active - int(active[self.group_columns_[g]].sum()) for g in group_of], dtype=float)
        stacked = getattr(residuals, "stacked", None)
        if learner_is_ols and stacked is not None and all(len(c) == 1 for c in self.group_columns_):
            summaries = self._mean_baseline_sums(stacked, pairs, pair_fitters, wt, Xe, y_num, w, group_of,
                                                 is_x, x_cols, q)
            return self._nuisance_table(group_of, is_x, regs, q, [("mean",) + summaries])
        learner = np.empty((n, m))
        for k, (g, kind, c) in enumerate(regs):
            rx, ry = residuals[g]
            learner[:, k] = rx[:, list(self.group_columns_[g]).index(c)] if kind == "x" else ry
        mean_base = np.empty((n, m))
        linear_base = None if learner_is_ols else np.empty((n, m))
        price = np.empty((n, m))
        for train, test in pairs:
            w_train = None if wt is None else wt[train]
            n_train = len(train) if w_train is None else _effective_size(w_train)
            price[test] = _linear_price(q, n_train)[None, :]
            X_train = Xt[train]
            mu_y = np.average(yt[train], weights=w_train)
            if x_cols.size:  # none when every group is constant
                mu_x = np.average(X_train[:, x_cols], axis=0, weights=w_train)
                mean_base[np.ix_(test, np.flatnonzero(is_x))] = Xe[np.ix_(test, x_cols)] - mu_x
            mean_base[np.ix_(test, np.flatnonzero(~is_x))] = (y_num[test] - mu_y)[:, None]
            if linear_base is not None:
                lin = self._linear_baseline(X_train, yt[train], w_train, Xe[test], y_num[test], regs)
                if lin is None:  # OLS is not identified on some training fold: the mean baseline only
                    linear_base = None
                else:
                    linear_base[test] = lin
        parts = [("mean", mean_base)] + ([("linear", linear_base)] if linear_base is not None else [])
        finite = np.all(np.isfinite(price), axis=0)
        allowance = np.where(finite, np.average(np.where(np.isfinite(price), price, 0.0), axis=0,
                                                weights=w), np.inf)
        summaries = [(label,) + _loss_difference_test(learner, base, price, w) + (allowance,)
                     for label, base in parts]
        return self._nuisance_table(group_of, is_x, regs, q, summaries)

    def _mean_baseline_sums(self, stacked, pairs, pair_fitters, wt, Xe, y_num, w, group_of, is_x, x_cols, q):
        """The mean baseline's part of :meth:`_nuisance_check` from the stacked single-feature residuals
        of an exact OLS learner, in one compiled pass (:func:`vimp._kernels.loss_difference_sums`): the
        same numbers as :func:`_loss_difference_test` up to rounding, without its ``(n, m)`` arrays
        (learner and baseline residuals, the allowance per row and their squares). The training means
        are the fold fitters' own centres (an OLS fit with an intercept centres at the weighted
        training means), not another pass over the rows."""
        from ._kernels import loss_difference_sums

        X_all, Y_all = stacked
        n, m, k_folds = len(y_num), len(group_of), len(pairs)
        fold = np.zeros(n, dtype=np.intp)
        price = np.empty((k_folds, m))
        mu = np.empty((k_folds, m))
        fold_weight = np.empty(k_folds)
        wn = np.full(n, 1.0 / n) if w is None else w / np.sum(w)
        x_pos, y_pos = np.flatnonzero(is_x), np.flatnonzero(~is_x)
        for f, (train, test) in enumerate(pairs):
            fold[test] = f
            fold_weight[f] = np.sum(wn[test])
            w_train = None if wt is None else wt[train]
            price[f] = _linear_price(q, len(train) if w_train is None else _effective_size(w_train))
            mu[f, y_pos] = pair_fitters[f].y_center_
            if x_cols.size:
                mu[f, x_pos] = pair_fitters[f].center_[x_cols]
        ok = np.all(np.isfinite(price), axis=0)
        safe = np.ascontiguousarray(np.where(np.isfinite(price), price, 0.0))
        allowance = np.where(ok, fold_weight @ safe, np.inf)
        out = [np.empty(m) for _ in range(4)]
        y_column = np.ascontiguousarray(y_num, dtype=np.float64)[:, None]
        for pos, learner, source, source_cols in (
                (x_pos, X_all, Xe, x_cols), (y_pos, Y_all, y_column, np.zeros(len(y_pos), dtype=np.intp))):
            if pos.size:
                sums = loss_difference_sums(learner, np.ascontiguousarray(group_of[pos]), source,
                                            np.ascontiguousarray(source_cols, dtype=np.intp), fold,
                                            np.ascontiguousarray(mu[:, pos]), np.ascontiguousarray(safe[:, pos]),
                                            wn)
                for target, values in zip(out, sums):
                    target[pos] = values
        learner_mse, base_mse, mean, se = out
        z, pvalue = _loss_difference_z(learner_mse, base_mse, mean, se, ok)
        return learner_mse, base_mse, z, pvalue, allowance

    def _nuisance_table(self, group_of, is_x, regs, q, summaries):
        """The nuisance check's DataFrame from ``(baseline, learner_mse, baseline_mse, z, pvalue,
        allowance)`` per baseline."""
        import pandas as pd

        names = self._feature_names
        frames = []
        for label, learner_mse, base_mse, z, pvalue, allowance in summaries:
            frames.append(pd.DataFrame({
                "group": [self.groups_[g] for g in group_of],
                "regression": ["x" if x else "y" for x in is_x],
                "target": [names[c] if kind == "x" else "y" for _, kind, c in regs],
                "baseline": label,
                "n_regressors": q.astype(int),
                "learner_mse": learner_mse,
                "baseline_mse": base_mse,
                "allowance": allowance,
                "z": z,
                "pvalue": pvalue,
            }))
        table = pd.concat(frames, ignore_index=True)
        table["pvalue_adjusted"] = adjust_pvalues(table["pvalue"].to_numpy(), "holm")
        table["flagged"] = table["pvalue_adjusted"].to_numpy() < NUISANCE_ALPHA
        return table

    def _linear_baseline(self, X_train, y_train, w_train, X_eval, y_eval, regs):
        """Residuals of OLS of each regression's target on its regressors, or None if OLS fails."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", VimpWarning)
                ols = LinearFitter().fit(X_train, y_train, w_train)
        except (ValueError, np.linalg.LinAlgError):
            return None
        out = np.empty((len(y_eval), len(regs)))
        if all(len(cols) == 1 for cols in self.group_columns_):
            x_all, y_all = ols.residuals_each(X_eval, y_eval)
            for k, (g, kind, c) in enumerate(regs):
                out[:, k] = x_all[:, c] if kind == "x" else y_all[:, self.group_columns_[g][0]]
            return out
        active = ~self.constant_columns_
        done = {}
        for k, (g, kind, c) in enumerate(regs):
            if g not in done:
                cols = np.asarray(self.group_columns_[g], dtype=np.intp)
                cols = cols[active[cols]]
                if cols.size:
                    xr, yr = ols.residuals_without(X_eval, y_eval, cols)
                else:
                    xr, yr = np.zeros((len(y_eval), 0)), y_eval - ols.predict(X_eval)
                done[g] = (cols.tolist(), xr, yr)
            cols, xr, yr = done[g]
            out[:, k] = xr[:, cols.index(c)] if kind == "x" else yr
        return out

    def _evaluate(self, models, X, y_num):
        fitters = {id(m.fitter) for m in models}
        if len(fitters) == 1:
            batch = self._batch_residuals(models[0].fitter, X, y_num)
            if batch is not None:
                return batch
        return run_tasks(lambda m: m.residuals(X, y_num), models, self.n_jobs, False, "gcm residuals")

    def _zero_collinear_residuals(self, residuals, Xf, x_extremes=None):
        """Set to zero the x-residuals that are rounding noise (a column that is an exact function of the
        others, e.g. exactly collinear): a feature without variation of its own has no conditional
        covariance with y, and the scale-free z statistic of its rounding noise would be noise itself.
        ``x_extremes``: the stacked x-residuals' column maxima and minima, where the caller has them."""
        high, low = _extremes(Xf)  # one pass, no (n, p) temporaries
        spread = high - low
        if isinstance(residuals, _StackedResiduals):
            X_all = residuals.stacked[0]
            singles = np.array([c[0] for c in self.group_columns_], dtype=np.intp)
            high, low = x_extremes if x_extremes is not None else (np.max(X_all, axis=0), np.min(X_all, axis=0))
            largest = np.maximum(high, -low)
            noise = largest <= COLLINEAR_TOLERANCE * spread[singles]
            if noise.any():
                X_all[:, noise] = 0.0
            return
        for (rx, _), cols in zip(residuals, self.group_columns_):
            noise = np.max(np.abs(rx), axis=0) <= COLLINEAR_TOLERANCE * spread[cols]
            if noise.any():
                rx[:, noise] = 0.0

    def _result(self, residuals, X, y_num, w, split, fold_ids, overwrite=False):
        """The result and the nuisance check (None when off) from the residuals; ``overwrite``: the
        residual arrays are this call's own and may be overwritten once the check has read them."""
        # max and min propagate NaN and show inf, without an (n, p) temporary; the stacked x-residuals'
        # column extremes serve the collinearity check too
        x_extremes = None
        if isinstance(residuals, _StackedResiduals):
            X_all, Y_all = residuals.stacked
            kept = getattr(residuals, "extremes", None)
            if kept is not None and X_all.size:  # taken while the residuals were written: the same numbers
                x_extremes, y_extremes = (kept[0], kept[1]), (kept[2], kept[3])
            else:
                x_extremes = _extremes(X_all) if X_all.size else None
                y_extremes = _extremes(Y_all) if Y_all.size else None
            finite = ((x_extremes is None or bool(np.all(np.isfinite(x_extremes[0]) & np.isfinite(x_extremes[1]))))
                      and (y_extremes is None or bool(np.all(np.isfinite(np.concatenate(y_extremes))))))
        else:
            arrays = [a for pair in residuals for a in pair]
            finite = all(np.isfinite(np.max(a)) and np.isfinite(np.min(a)) for a in arrays if a.size)
        if not finite:
            raise ValueError(
                f"estimator {estimator_name(self.estimator)}: the residuals are not finite on some rows "
                "(an overflow: X or y on an extreme scale?); rescale the data"
            )
        Xf = as_float_array(X)
        self._zero_collinear_residuals(residuals, Xf, x_extremes)
        x_res = [rx for rx, _ in residuals]
        stacked = None
        if all(len(cols) == 1 for cols in self.group_columns_):
            # one column per group: R² of all regressions at once, residual matrices stacked once
            singles = np.array([cols[0] for cols in self.group_columns_], dtype=np.intp)
            if isinstance(residuals, _StackedResiduals):
                X_all, Y_all = residuals.stacked
            else:
                X_all = np.column_stack(x_res)
                Y_all = np.column_stack([ry for _, ry in residuals])
            targets = Xf if np.array_equal(singles, np.arange(Xf.shape[1])) else Xf[:, singles]
            r2_x = np.where(self.constant_columns_[singles], np.nan, _r2(targets, X_all, w))
            r2_y = _r2_shared_target(y_num, Y_all, w)
            y_res = [Y_all[:, g:g + 1] for g in range(Y_all.shape[1])]
            stacked = (X_all, Y_all)
        else:
            r2_x, r2_y = [], []
            for g, (rx, ry) in enumerate(residuals):
                cols = self.group_columns_[g]
                active = ~self.constant_columns_[cols]
                r2_y.append(float(_r2(y_num, ry, w)))
                r2 = _r2(Xf[:, cols[active]], rx[:, active], w) if active.any() else np.array([np.nan])
                r2_x.append(float(np.min(r2)))
            y_res = [np.repeat(ry[:, None], rx.shape[1], axis=1) for rx, ry in residuals]
        column_names = [[self._feature_names[c] for c in cols] for cols in self.group_columns_]
        single = [len(cols) == 1 for cols in self.group_columns_]
        mode = {"in-sample": "in-sample residuals", "holdout": "held-out residuals"}.get(
            split, f"residuals cross-fitted over {len(self.folds_)} folds")
        extra = {"r2_x": np.array(r2_x), "r2_y": np.array(r2_y)}
        if self._classifier:
            extra["positive_class"] = self.classes_[1]
        check = self._nuisance_check(residuals, X, y_num, w, split) if self.nuisance_check else None
        result = _build_result(x_res, y_res, self.groups_, column_names, single, w, self.test, self.scale,
                               self.level, self.p_adjust, self.n_bootstrap, self.seed_, split,
                               f"{_target_text(self.scale)}; from {mode}", fold_ids, extra, stacked,
                               keep_residuals=bool(self.keep_residuals), overwrite=overwrite)
        return result, check

    # ------------------------------------------------------------------ residuals given
    @classmethod
    def from_residuals(cls, x_residuals: ArrayLike, y_residuals: ArrayLike, *,
                       names: Sequence[str] | None = None, groups: GroupSpec | None = None,
                       test: _GCMTest = "wald",
                       scale: _GCMScale = "covariance", level: float = 0.95, p_adjust: str = "holm",
                       n_bootstrap: int = 499, random_state: RandomState = None,
                       sample_weight: ArrayLike | None = None) -> ImportanceResult:
        """GCM inference from residuals computed elsewhere.

        Parameters
        ----------
        x_residuals : array-like of shape (n,) or (n, p)
            Residual of each feature on the other features (a column of zeros marks a constant feature).
        y_residuals : array-like of shape (n,) or (n, p)
            Residual of the response on the other features: one column shared by all features, or one
            per feature. For a group, pass the residual of y on the features outside the group.
        names : sequence of str, optional
            Feature labels (default ``x0, x1, ...``).
        groups, test, scale, level, p_adjust, n_bootstrap, random_state
            As in :class:`GCM`; ``groups`` name columns of ``x_residuals`` (by ``names`` or position).
        sample_weight : array-like of shape (n,), optional
            Weights of the rows in every average.

        Returns
        -------
        ImportanceResult

        Examples
        --------
        >>> import numpy as np
        >>> from vimp import GCM
        >>> rng = np.random.default_rng(0)
        >>> rx = rng.normal(size=500); ry = 0.5 * rx + rng.normal(size=500)
        >>> GCM.from_residuals(rx, ry).importance.round(2)  # E[rx ry] = 0.5
        array([0.52])
        """
        rx = _check_residual_array(x_residuals, "x_residuals")
        ry = _check_residual_array(y_residuals, "y_residuals")
        n, p = rx.shape
        if ry.shape[0] != n:
            raise ValueError(
                f"x_residuals and y_residuals must have the same number of rows; got {n} and {ry.shape[0]}"
            )
        if ry.shape[1] not in (1, p):
            raise ValueError(
                f"y_residuals must have one column or one per column of x_residuals ({p}); "
                f"got {ry.shape[1]}"
            )
        if names is None:
            names = [f"x{j}" for j in range(p)]
        elif isinstance(names, str) or len(names) != p:
            raise ValueError(f"names must be a sequence of {p} labels, one per column of x_residuals")
        names = [str(s) for s in names]
        if len(set(names)) != p:
            raise ValueError("names must be unique")
        seq = _check_params(test, scale, level, p_adjust, n_bootstrap, random_state)
        w = check_sample_weight(sample_weight, n)
        labels, members = check_groups(groups, names)
        check_evaluation_size(n, w, "x_residuals")
        if ry.shape[1] == 1:
            ry = np.repeat(ry, p, axis=1)
        x_res = [rx[:, cols] for cols in members]
        y_res = [ry[:, cols] for cols in members]
        column_names = [[names[c] for c in cols] for cols in members]
        single = [len(cols) == 1 for cols in members]
        return _build_result(x_res, y_res, labels, column_names, single, w, test, scale, level, p_adjust,
                             n_bootstrap, seq, "given", f"{_target_text(scale)}; from given residuals",
                             np.zeros(n, dtype=np.intp), {})
