"""Inference from per-observation terms: standard errors, Wald intervals, tests, multiple testing.

Standard errors always come from per-observation terms (the influence function of a mean), never from
the spread over permutation repeats, which is Monte Carlo noise and is reported separately.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

P_ADJUST_METHODS = ("holm", "bonferroni", "fdr_bh", "fdr_by", "sidak", "holm-sidak", "none")


def _normalised_weights(weights, n):
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def mean_and_se(terms, weights=None):
    """The (weighted) mean of ``terms`` along axis 0 and its standard error.

    The standard error is that of the influence function of a weighted mean,
    ``sqrt(sum(w_i^2 (d_i - mean)^2))`` with weights normalised to sum to one; without weights this is
    ``sd(d) / sqrt(n)`` with the 1/n variance (as in Shah & Peters, 2020).

    Parameters
    ----------
    terms : ndarray of shape (n,) or (n, k)
    weights : ndarray of shape (n,) or None
    """
    terms = np.asarray(terms, dtype=float)
    w = _normalised_weights(weights, terms.shape[0])
    wb = w if terms.ndim == 1 else w[:, None]
    mean = np.sum(wb * terms, axis=0)
    se = np.sqrt(np.sum((wb * (terms - mean)) ** 2, axis=0))
    return mean, se


def permutation_mean_se(influence, weights, blocks):
    """Standard error of a weighted mean of permute-and-predict terms, which are dependent.

    The term of evaluation row ``i`` averages the loss over permutations ``r`` with row ``i``'s column(s)
    replaced by those of the donor row ``perms[r, i]``. Two terms are dependent when they share a row:
    one row donates to the other (``k = perms[r, i]``), or both take the same donor in two repeats
    (``perms[r, i] = perms[s, k]``, ``r != s``). Terms that share no row are independent given the fitted
    model, so

    ``Var(sum_i w_i c_i) = sum_i w_i^2 c_i^2 + sum over dependent ordered pairs of w_i c_i w_k c_k``

    is estimated with centred influence terms ``c`` and weights normalised to one (the variance under a
    known dependency graph, as for cluster-robust and network-HAC variances). Ignoring these pairs, as an
    independent-terms standard error would, understates the variance: one row's column enters two terms,
    and its influence on both has the same sign (for OLS with one permutation, by a factor of about 1.5
    on the variance of the dominant term). A pair that is dependent through two routes (rare: about
    ``R^2 / m`` of them) is counted twice. Where the estimate is not positive (possible in small
    samples) the independent-terms variance is returned.

    Parameters
    ----------
    influence : ndarray of shape (n,)
        Centred influence terms of the evaluation rows.
    weights : ndarray of shape (n,) or None
    blocks : list of (rows, perms)
        For each evaluation block (a fold, or the held-out set): its global row indices (length m) and
        the permutations of shape (R, m) in block-local indices.
    """
    c = np.asarray(influence, dtype=float)
    w = _normalised_weights(weights, c.shape[0])
    wc = w * c
    independent = np.sum(wc**2)
    cross = 0.0
    for rows, perms in blocks:
        perms = np.atleast_2d(np.asarray(perms, dtype=np.int64))
        local = wc[rows]
        m = len(rows)
        order = np.arange(m)
        inverse = np.empty_like(perms)
        for r in range(len(perms)):
            inverse[r, perms[r]] = order
        for r in range(len(perms)):
            partner = perms[r]
            # ordered pair (i, donor) and, by symmetry, (donor, i)
            cross += 2.0 * np.sum(np.where(partner != order, local * local[partner], 0.0))
            for s_ in range(len(perms)):
                if s_ == r:
                    continue
                shared = inverse[s_, partner]  # the row that takes, in repeat s_, i's donor of repeat r
                cross += np.sum(np.where(shared != order, local * local[shared], 0.0))
    variance = independent + cross
    return float(np.sqrt(variance if variance > 0 else independent))


def ratio_and_se(numerator, denominator, weights=None):
    """Ratio of (weighted) means ``mean(a) / mean(b)`` and its delta-method standard error.

    ``numerator`` may be (n, k) with ``denominator`` (n,).
    """
    a = np.asarray(numerator, dtype=float)
    b = np.asarray(denominator, dtype=float)
    mean_b, _ = mean_and_se(b, weights)
    mean_a, _ = mean_and_se(a, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean_a / mean_b
        bb = b if a.ndim == 1 else b[:, None]
        influence = (a - ratio * bb) / mean_b
    _, se = mean_and_se(influence, weights)
    return ratio, se


def wald_interval(estimate, se, level):
    """Two-sided Wald interval ``estimate ± z_{(1+level)/2} · se``."""
    z = stats.norm.ppf(0.5 + level / 2.0)
    return estimate - z * se, estimate + z * se


def pvalue_greater(estimate, se):
    """One-sided p-value of ``H0: target <= 0`` against ``target > 0`` from a z statistic.

    Where the standard error is zero the p-value is 1 for a non-positive estimate and 0 for a positive one
    (a degenerate, exactly known difference).
    """
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, estimate / np.where(se > 0, se, 1.0), np.where(estimate > 0, np.inf, -np.inf))
    return stats.norm.sf(z)


def pvalue_two_sided(estimate, se):
    """Two-sided p-value ``2 Φ(-|estimate / se|)``; 1 where estimate and se are both zero."""
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, estimate / np.where(se > 0, se, 1.0), np.where(estimate != 0, np.inf, 0.0))
    return 2.0 * stats.norm.sf(np.abs(z))


def split_test(full_loss, reduced_loss, half_a, half_b, weights=None):
    """Sample-split test of ``E[reduced loss] > E[full loss]`` that stays valid at zero importance.

    The full model's loss is averaged over half ``a`` of the evaluation rows and the reduced model's loss
    over the disjoint half ``b`` (Williamson et al., 2023). The two means are independent given the fitted
    models, so their difference has a non-degenerate normal limit even where the per-observation
    differences vanish, and the one-sided z test keeps its level there.

    Parameters
    ----------
    full_loss : ndarray of shape (n,)
    reduced_loss : ndarray of shape (n, k)
    half_a, half_b : integer index arrays
    weights : ndarray of shape (n,) or None

    Returns
    -------
    estimate, se, pvalue : ndarrays of shape (k,)
    """
    wa = None if weights is None else weights[half_a]
    wb = None if weights is None else weights[half_b]
    mean_full, se_full = mean_and_se(full_loss[half_a], wa)
    mean_red, se_red = mean_and_se(reduced_loss[half_b], wb)
    estimate = mean_red - mean_full
    se = np.sqrt(se_full**2 + se_red**2)
    return estimate, se, pvalue_greater(estimate, se)


def adjust_pvalues(pvalues, method="holm"):
    """Multiple-testing adjustment, the same numbers as ``statsmodels.stats.multitest.multipletests``.

    Written here (and pinned to statsmodels by a test) because statsmodels' Holm path calls
    ``gc.collect()`` on every call, which costs tens of milliseconds in a Monte Carlo loop.
    NaN p-values are left NaN and do not count towards the number of tests.

    Parameters
    ----------
    pvalues : array_like
    method : {"holm", "bonferroni", "fdr_bh", "fdr_by", "sidak", "holm-sidak", "none"}
    """
    p_all = np.asarray(pvalues, dtype=float)
    out = np.full(p_all.shape, np.nan)
    ok = ~np.isnan(p_all)
    p = p_all[ok]
    m = p.size
    if m == 0 or method == "none":
        out[ok] = p
        return out
    order = np.argsort(p, kind="mergesort")
    ps = p[order]
    if method == "bonferroni":
        adj_sorted = np.minimum(ps * m, 1.0)
    elif method == "sidak":
        adj_sorted = -np.expm1(m * np.log1p(-ps))
    elif method == "holm":
        adj_sorted = np.minimum(1.0, np.maximum.accumulate(ps * (m - np.arange(m))))
    elif method == "holm-sidak":
        adj_sorted = np.minimum(1.0, np.maximum.accumulate(-np.expm1((m - np.arange(m)) * np.log1p(-ps))))
    elif method in ("fdr_bh", "fdr_by"):
        factor = m / np.arange(1, m + 1)
        if method == "fdr_by":
            factor = factor * np.sum(1.0 / np.arange(1, m + 1))
        adj_sorted = np.minimum(1.0, np.minimum.accumulate((ps * factor)[::-1])[::-1])
    else:
        raise ValueError(f"p_adjust must be one of {list(P_ADJUST_METHODS)}; got {method!r}")
    adjusted = np.empty(m)
    adjusted[order] = adj_sorted
    out[ok] = adjusted
    return out
