"""Inference from per-observation terms: standard errors, Wald intervals, tests, multiple testing.

Standard errors always come from per-observation terms (the influence function of a mean), never from
the spread over permutation repeats, which is Monte Carlo noise and is reported separately.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

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
    if weights is None:
        mean = terms.mean(axis=0)
        return mean, terms.std(axis=0) / np.sqrt(terms.shape[0])
    w = _normalised_weights(weights, terms.shape[0])
    wb = w if terms.ndim == 1 else w[:, None]
    mean = np.sum(wb * terms, axis=0)
    se = np.sqrt(np.sum((wb * (terms - mean)) ** 2, axis=0))
    return mean, se


def permutation_mean_se(full, other, donor, square, donor_full, donor_weight, weights, n_rep, slope,
                        offset, return_skewness=False):
    """Standard error of a permute-and-predict importance, whose per-observation terms share rows.

    The term of evaluation row ``i`` averages over permutations ``r`` the loss ``L_ri`` with row ``i``'s
    column(s) replaced by those of the donor row ``perms[r, i]``. A row enters its own term and, as a
    donor, ``R`` other terms, so the terms are dependent, and a standard error that treats them as
    independent understates the variance (for OLS with one permutation, by a factor of about 1.5).

    Each row's influence is estimated by its Hájek projection: its own centred term
    ``w_k (mean_r L_rk - a F_k - b)`` plus the average of the centred terms it donated to,
    ``mean_r w_i (L_ri - a F_i - b)`` with ``perms[r, i] = k``. Each of these two estimates carries the
    other row's part of the terms it averages as noise, which adds ``Var(h) / R`` per row in expectation
    (``h`` one centred per-permutation term); that is estimated by ``mean_r (L_ri - a F_i - b)^2 / R`` per
    row (weighted by ``w_i^2``) and subtracted. In the rare small sample where the difference is not
    positive, the uncorrected (conservative) projection variance is used.

    Parameters
    ----------
    full : ndarray of shape (n,)
        Loss of the unpermuted model per row, ``F``.
    other : ndarray of shape (n,)
        Permuted loss per row, averaged over the permutations.
    donor, square, donor_full, donor_weight : ndarrays of shape (n,)
        Per row ``k``: ``mean_r w_i L_ri``, ``mean_r w_i F_i`` and ``mean_r w_i`` over the rows ``i`` that
        received row ``k`` (``perms[r, i] = k``), and ``mean_r L_kr^2`` (see
        :meth:`vimp.Fitter.permutation_terms`).
    weights : ndarray of shape (n,) or None
    n_rep : float or ndarray of shape (n,)
        Number of permutations behind each row's averages.
    slope, offset : float
        The centred term is ``L - slope * F - offset``: ``(1, mean difference)`` for the difference
        scale, ``(ratio, 0)`` for the ratio scale (then divide the result by the mean full loss).

    return_skewness : bool, default=False
        Also return the skewness of the estimate, from the third moment of the same projection
        (:func:`projection_skewness`), and Satterthwaite's degrees of freedom of the variance estimate
        from its row terms (:func:`variance_df`), for :func:`skew_corrected_limits`.

    Returns
    -------
    se : float
    skewness, df : float, only if ``return_skewness``

    Notes
    -----
    **Small samples.** The terms are centred at the estimated mean, not the true one. With ``n`` rows and
    ``R`` permutations, write each row's influence as its true value plus ``2 delta`` (its own term and
    its donated terms are both centred), ``delta`` the error of the mean; the influences sum to
    ``2 n (T - psi)``, so the projection sum loses ``4 n delta^2`` in expectation, ``4 Var(T)`` after
    scaling, and the subtracted noise term loses ``n delta^2 / R``. Together
    ``E[se^2] = (n - 4 + 1/R) / n * Var(T)`` to first order (``(n - 3)/n`` for one permutation: 0.7 at
    ``n = 10``, which ``benchmarks/pap_small_sample.py`` confirms), and the variance is multiplied by
    ``n / (n - 4 + 1/R)``. With weights ``n`` is Kish's effective size (an approximation), and on the
    ratio scale the same factor is used (the centring there is at the estimated ratio).

    The two sums come from one pass of the compiled kernel :func:`vimp._kernels.linear_nb.pap_se_sums`
    (its NumPy twin is in :mod:`vimp._kernels.reference`).
    """
    from ._kernels import pap_se_moments, pap_se_sums

    n = len(full)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    arrays = [np.ascontiguousarray(a, dtype=np.float64)
              for a in (full, other, donor, square, donor_full, donor_weight, w)]
    n_rep = np.asarray(n_rep, dtype=np.float64)
    mean_rep = float(n_rep) if n_rep.ndim == 0 else float(np.mean(n_rep))
    n_rep = np.full(n, mean_rep) if n_rep.ndim == 0 else np.ascontiguousarray(n_rep)
    if return_skewness:  # the same sums, and the moments of projection_skewness and variance_df
        moments = pap_se_moments(*arrays, n_rep, float(slope), float(offset))
    else:
        moments = pap_se_sums(*arrays, n_rep, float(slope), float(offset))
    return permutation_se_from_sums(moments, n, None if weights is None else w, mean_rep)


def permutation_se_from_sums(moments, n, weights, mean_rep):
    """:func:`permutation_mean_se` from the kernel's sums: ``(projection, correction)`` gives the standard
    error, the six sums of :func:`vimp._kernels.linear_nb.pap_se_moments` give ``(se, skewness, df)``.

    ``n`` rows, ``weights`` (None for none) and ``mean_rep``, the mean number of permutations behind a row.
    """
    projection, correction = moments[0], moments[1]
    w = weights
    variance = projection - correction
    if not variance > 0:
        variance = projection
    # Centring at the estimated mean costs 4 - 1/R rows (permutation_mean_se's Notes): undo that bias.
    total_weight = float(n) if weights is None else float(np.sum(w))
    size = float(n) if weights is None else total_weight**2 / float(np.sum(w * w))
    lost = 4.0 - 1.0 / mean_rep
    if size > lost + 1.0:
        variance *= size / (size - lost)
    se = float(np.sqrt(variance) / total_weight)
    if len(moments) == 2:
        return se
    # projection_skewness and variance_df of the influence terms h and the variance terms h^2 - noise
    h2, h3, u_total, u_ss = moments[2:]
    skewness = h3 / h2**1.5 if h2 > 0 else 0.0
    spread = u_ss / (n - 1) * n if n > 1 else 0.0
    df = max(2.0 * u_total * u_total / spread, 1.0) if (u_total > 0 and spread > 0) else np.inf
    return se, skewness, df


def projection_skewness(influence):
    """Skewness of a mean-like estimate from its per-row influence terms, ``sum h^3 / (sum h^2)^(3/2)``.

    For the mean of ``n`` i.i.d. terms of skewness ``g`` (influence ``h_i = (d_i - mean) / n``) this is
    ``g / sqrt(n)``, the skewness of the mean; :func:`skew_corrected_limits` takes it in this form.
    """
    h = np.asarray(influence, dtype=float)
    h = h - h.mean(axis=0)
    second = np.sum(h * h, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(second > 0, np.sum(h * h * h, axis=0) / np.where(second > 0, second, 1.0) ** 1.5, 0.0)


def _hall_transform(z, skew):
    """Hall's (1992) skewness-removing transform of a z statistic: ``z + k (z^2/3 + 1/6) + k^2 z^3/27``."""
    return z + skew * (z * z / 3.0 + 1.0 / 6.0) + skew * skew * z**3 / 27.0


def _hall_inverse(t, skew):
    """The inverse of :func:`_hall_transform` in ``z`` (the transform is increasing in ``z``)."""
    t = np.asarray(t, dtype=float)
    skew = np.asarray(skew, dtype=float)
    small = np.abs(skew) < 1e-8
    safe = np.where(small, 1.0, skew)
    with np.errstate(invalid="ignore"):
        z = 3.0 / safe * (np.cbrt(1.0 + safe * (t - safe / 6.0)) - 1.0)
    return np.where(small, t - skew * (t * t / 3.0 + 1.0 / 6.0), z)  # first order in k


def variance_df(parts):
    """Satterthwaite's degrees of freedom of a variance estimate ``S = sum_k u_k`` of row terms ``u_k``:
    ``2 S^2 / (n * var(u))``, with the rows treated as independent.

    For ``u_k = h_k^2`` of i.i.d. terms of kurtosis ``k`` this is about ``2 n / (k - 1)`` (``n`` for
    Gaussian terms; heavy tails get fewer, and a wider t quantile). With the noise correction of
    :func:`permutation_mean_se` subtracted row by row it also counts the noise that the correction adds
    to the variance estimate, which dominates with one permutation.
    """
    u = np.asarray(parts, dtype=float)
    n = u.shape[0]
    total = float(np.sum(u))
    spread = float(np.var(u, ddof=1)) * n if n > 1 else 0.0
    if not (total > 0 and spread > 0):
        return np.inf
    return max(2.0 * total * total / spread, 1.0)


def skew_corrected_limits(estimate, se, skew, level, df=None):
    """Two-sided interval of Hall (1992) for a mean-like estimate whose distribution is skewed.

    The studentised statistic ``z = (estimate - target) / se`` of a skewed mean is itself skewed, so the
    Wald interval ``estimate -/+ z_q se`` misses on one side more than on the other (for right-skewed
    terms, such as squared-error loss differences, it misses above when the estimate is low, because its
    standard error is low then too). Hall's monotone cubic transform
    ``T(z) = z + k (z^2/3 + 1/6) + k^2 z^3 / 27``, with ``k`` the skewness of the estimate
    (:func:`projection_skewness`), removes the first-order skewness term of the Edgeworth expansion of
    the t statistic; the interval is ``{target : |T(z)| <= z_q}``, i.e. ``estimate - se T^-1(z_q)`` to
    ``estimate - se T^-1(-z_q)``. At ``k = 0`` it is the Wald interval. With ``df`` the quantile is
    Student's t on ``df`` degrees of freedom (see :func:`variance_df`) instead of the normal one.

    References
    ----------
    Hall, P. (1992). On the removal of skewness by transformation. JRSS B 54(1), 221-228.
    """
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    q = _normal_quantile(0.5 + level / 2.0) if df is None else stats.t.ppf(0.5 + level / 2.0, df)
    return estimate - se * _hall_inverse(q, skew), estimate - se * _hall_inverse(-q, skew)


def skew_corrected_pvalue_greater(estimate, se, skew, df=None):
    """One-sided p-value of ``target <= 0`` from Hall's transformed statistic (see
    :func:`skew_corrected_limits`); the same NaN and known-zero rules as :func:`pvalue_greater`."""
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    ok = np.isfinite(estimate) & np.isfinite(se) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(ok, estimate / np.where(ok, se, 1.0), np.nan)
    t = _hall_transform(z, np.asarray(skew, dtype=float))
    p = _normal_sf(t) if df is None else stats.t.sf(t, df)
    return np.where((se == 0) & (estimate == 0), 1.0, p)


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


def _normal_sf(z):
    """``scipy.stats.norm.sf(z)``, bit for bit: SciPy computes it as ``scipy.special.ndtr(-z)``; called
    directly, without the distribution object's argument handling (about 0.2 ms a call, most of a small
    LOCO call's inference)."""
    return special.ndtr(-np.asarray(z, dtype=float))


def _normal_quantile(q):
    """``scipy.stats.norm.ppf(q)``, bit for bit (SciPy's is ``scipy.special.ndtri``), without its overhead."""
    return special.ndtri(np.asarray(q, dtype=float))


def wald_interval(estimate, se, level):
    """Two-sided Wald interval ``estimate ± z_{(1+level)/2} · se``."""
    z = _normal_quantile(0.5 + level / 2.0)
    return estimate - z * se, estimate + z * se


def pvalue_greater(estimate, se):
    """One-sided p-value of ``H0: target <= 0`` against ``target > 0`` from a z statistic.

    A zero standard error is no evidence of certainty: the p-value is NaN there (see
    :func:`degenerate_rows`), except for an estimate of exactly zero from terms that are all zero, which
    the callers mark as a known zero (p = 1). NaN in gives NaN out.
    """
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    ok = np.isfinite(estimate) & np.isfinite(se) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(ok, estimate / np.where(ok, se, 1.0), np.nan)
    p = _normal_sf(z)
    return np.where((se == 0) & (estimate == 0), 1.0, p)


def pvalue_two_sided(estimate, se):
    """Two-sided p-value ``2 Φ(-|estimate / se|)``; 1 where estimate and se are both zero, NaN where the
    standard error is zero under a non-zero estimate or anything is not finite."""
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    ok = np.isfinite(estimate) & np.isfinite(se) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(ok, estimate / np.where(ok, se, 1.0), np.nan)
    p = 2.0 * _normal_sf(np.abs(z))
    return np.where((se == 0) & (estimate == 0), 1.0, p)


def degenerate_rows(estimate, se, known_zero=None):
    """Where no interval or p-value can be given: a zero standard error under a non-zero estimate, or a
    non-finite estimate or standard error. ``known_zero`` marks rows that are exactly zero by
    construction (a constant feature; terms that are all zero), which are not degenerate."""
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    bad = ~(np.isfinite(estimate) & np.isfinite(se)) | ((se == 0) & (estimate != 0))
    if known_zero is not None:
        bad &= ~np.asarray(known_zero, dtype=bool)
    return bad


def degenerate_message(names, estimate, se, bad):
    """The text of a :class:`~vimp.DegenerateInferenceWarning` for the rows ``bad``."""
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    parts = []
    for g in np.flatnonzero(bad)[:10]:
        if not np.isfinite(estimate[g]):
            why = "the estimate is not finite"
        elif not np.isfinite(se[g]):
            why = "the standard error is not finite"
        else:
            why = "every per-observation term is equal, so the standard error is zero"
        parts.append(f"{names[g]!r} ({why})")
    more = f" and {int(bad.sum()) - 10} more" if bad.sum() > 10 else ""
    return (
        f"no standard error for {', '.join(parts)}{more}: their p-values and intervals are NaN. "
        "Evaluate on more rows (or rows with more spread) to get inference"
    )


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


# --------------------------------------------------------------------------- LOCO test candidates
def cauchy_combination(pvalues, axis=0):
    """Cauchy combination of (arbitrarily dependent) p-values, ``1/2 - arctan(mean tan((1/2 - p) pi)) / pi``.

    Each p-value is mapped to a standard Cauchy variable ``tan((1/2 - p) pi)``; their mean is again
    standard Cauchy when the p-values are independent, and its tail stays Cauchy-like under arbitrary
    dependence, so the combined p-value is valid (and asymptotically exact) for small p-values whatever
    the dependence between the inputs (Liu & Xie, 2020, Theorem 1). It is used to combine the p-values
    of many random sample splits of one data set, which are strongly dependent.

    A p-value of 0 gives 0; a combination that contains 1 (tan = -inf) and no 0 gives 1. NaN in any input
    gives NaN.

    References
    ----------
    Liu, Y. & Xie, J. (2020). Cauchy combination test: a powerful test with analytic p-value calculation
    under arbitrary dependency structures. JASA 115, 393-402.
    """
    p = np.asarray(pvalues, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # For tiny p, tan((1/2 - p) pi) = 1 / tan(p pi) loses nothing, unlike the subtraction.
        t = np.where(p < 1e-8, 1.0 / (np.pi * p), np.tan((0.5 - p) * np.pi))
        t = np.where(p >= 1.0, -np.inf, t)
        stat = np.mean(t, axis=axis)
        # Cauchy upper tail: arctan(1/T)/pi for T > 0 (accurate far out), 1/2 - arctan(T)/pi otherwise.
        out = np.where(stat > 0, np.arctan(1.0 / np.where(stat > 0, stat, 1.0)) / np.pi,
                       0.5 - np.arctan(stat) / np.pi)
    anynan = np.any(np.isnan(p), axis=axis)
    return np.where(anynan, np.nan, np.clip(out, 0.0, 1.0))


def quantile_aggregation(pvalues, gamma_min=0.05, axis=0):
    """Adaptive quantile aggregation of multi-split p-values (Meinshausen, Meier & Buhlmann, 2009).

    For ``B`` p-values ``p_1..p_B`` (one per random split), ``Q(gamma)`` is the empirical
    ``gamma``-quantile of ``p_b / gamma`` (capped at 1), and the aggregated p-value is
    ``min(1, (1 - log gamma_min) * inf_{gamma in [gamma_min, 1)} Q(gamma))``, which controls the type I
    error under any dependence between the splits (their Theorem 3.2). The empirical quantile is a step
    function with its infimum over each step at its right end, so the infimum is
    ``min_{k >= ceil(gamma_min B)} p_(k) B / k`` over the order statistics ``p_(k)``.

    Parameters
    ----------
    pvalues : ndarray, the splits along ``axis``
    gamma_min : float in (0, 1), default=0.05 (the value the paper uses)

    References
    ----------
    Meinshausen, N., Meier, L. & Buhlmann, P. (2009). p-values for high-dimensional regression. JASA 104,
    1671-1681.
    """
    if not 0.0 < gamma_min < 1.0:
        raise ValueError(f"gamma_min must be in (0, 1); got {gamma_min!r}")
    p = np.moveaxis(np.asarray(pvalues, dtype=float), axis, 0)
    b = p.shape[0]
    ordered = np.sort(p, axis=0)
    k = np.arange(1, b + 1, dtype=float).reshape((-1,) + (1,) * (p.ndim - 1))
    first = int(np.ceil(gamma_min * b - 1e-12))
    best = np.min((ordered * b / k)[max(first, 1) - 1:], axis=0)
    out = np.minimum(1.0, (1.0 - np.log(gamma_min)) * np.minimum(best, 1.0))
    return np.where(np.any(np.isnan(p), axis=0), np.nan, out)


def perturbed_paired_test(diff, full_loss, noise, scale, weights=None):
    """Paired z test on loss differences plus independent Gaussian noise (Dai, Shen & Pan, 2022).

    The statistic is the z statistic of ``diff_i + rho * noise_i`` with ``noise_i ~ N(0, 1)`` independent
    of the data and ``rho = scale * sd(full_loss)`` (Dai et al. measure the perturbation in units of the
    standard deviation of the full model's losses). The perturbed terms have variance at least
    ``rho^2 > 0``, so their mean has a normal limit even where the paired differences degenerate (both
    models predict alike), and the ``O(1/n)`` difference between the fitted models, which a paired test
    reads as signal at a null feature, is small against the standard error ``~ rho / sqrt(n)``.

    Parameters
    ----------
    diff : ndarray of shape (n, k)
        Per-observation loss differences (reduced minus full).
    full_loss : ndarray of shape (n,)
    noise : ndarray of shape (n, k)
        Independent standard normal draws.
    scale : float
        The perturbation in units of ``sd(full_loss)``.
    weights : ndarray of shape (n,) or None

    Returns
    -------
    estimate, se, pvalue : ndarrays of shape (k,)
        The mean of the perturbed terms, its standard error and the one-sided p-value of
        ``E[diff] <= 0``.

    References
    ----------
    Dai, B., Shen, X. & Pan, W. (2022). Significance tests of feature relevance for a black-box learner.
    IEEE Transactions on Neural Networks and Learning Systems (2022); the scale of the perturbation as in
    the authors' implementation (``dnn_inference``, ``split_test.diff_p_value``).
    """
    _, sd_full = mean_and_se(full_loss, weights)
    n = len(full_loss)
    w = _normalised_weights(weights, n)
    size = 1.0 / float(np.sum(w * w))  # Kish's effective size: sd = se * sqrt(size)
    rho = float(scale) * float(sd_full) * np.sqrt(size)
    terms = np.asarray(diff, dtype=float) + rho * np.asarray(noise, dtype=float)
    estimate, se = mean_and_se(terms, weights)
    return estimate, se, pvalue_greater(estimate, se)


#: The draws of one group's perturbation noise in :func:`perturbed_test_from_draws`: two standard normals
#: and one chi-square with ``n - 2`` degrees of freedom, in this order.
PERTURBATION_DRAWS = 3


def draw_perturbation(rng, n):
    """One group's draws for :func:`perturbed_test_from_draws`: ``(a, b, c)`` with ``a, b ~ N(0, 1)`` and
    ``c ~ chi^2(n - 2)``, independent, from ``rng`` in this order."""
    a, b = rng.standard_normal(2)
    return a, b, rng.chisquare(n - 2)


def perturbed_test_from_draws(raw, raw_se, full_loss, scale, draws):
    """:func:`perturbed_paired_test` without weights, from three draws per group instead of ``n``.

    Without weights the statistic depends on the noise ``z ~ N(0, I_n)`` only through ``sum(z)``,
    ``sum((d - mean(d)) z)`` and ``sum((z - mean(z))^2)``. Write ``u = 1 / sqrt(n)`` and ``v`` the unit
    vector along ``d - mean(d)`` (orthogonal to ``u``): by the rotation invariance of ``z``,
    ``a = u'z`` and ``b = v'z`` are independent ``N(0, 1)``, and the squared length of the rest of ``z``,
    ``c``, is an independent ``chi^2(n - 2)``. So, with ``S = sum((d - mean(d))^2)``, the perturbed terms
    ``t = d + rho z`` have, exactly in distribution,

    ``mean(t) = mean(d) + rho a / sqrt(n)`` and
    ``sum((t - mean(t))^2) = (sqrt(S) + rho b)^2 + rho^2 c``

    (also where ``S = 0``: ``b^2 + c`` is then the ``chi^2(n - 1)`` of ``sum((z - mean(z))^2)``). The
    test is the same test as with ``n`` draws per group (same distribution of the p-value given the
    data); it costs three draws and no ``(n, k)`` array.

    Parameters
    ----------
    raw, raw_se : ndarrays of shape (k,)
        The mean of the differences and its unweighted standard error (:func:`mean_and_se`:
        ``sd(d) / sqrt(n)`` with the ``1/n`` variance), so that ``S = (n raw_se)^2``.
    full_loss : ndarray of shape (n,)
    scale : float
        The perturbation in units of ``sd(full_loss)``.
    draws : ndarray of shape (k, 3)
        :func:`draw_perturbation` of each group.

    Returns
    -------
    estimate, se, pvalue : ndarrays of shape (k,)
    """
    full_loss = np.asarray(full_loss, dtype=float)
    n = full_loss.shape[0]
    rho = float(scale) * float(full_loss.std())
    draws = np.asarray(draws, dtype=float).reshape(-1, PERTURBATION_DRAWS)
    estimate, se = perturbed_statistic(raw, raw_se, rho, n, draws)
    return estimate, se, pvalue_greater(estimate, se)


def perturbed_statistic(raw, raw_se, rho, n, draws):
    """The estimate and standard error of :func:`perturbed_test_from_draws` from the perturbation's scale
    ``rho`` (``scale * sd(full_loss)``) and ``n`` evaluation rows; ``draws`` has the shape of ``raw`` plus
    a last axis of 3, ``rho`` broadcasts against ``raw`` (one per replicate of a Monte Carlo chunk)."""
    draws = np.asarray(draws, dtype=float)
    a, b, c = draws[..., 0], draws[..., 1], draws[..., 2]
    root = n * np.asarray(raw_se, dtype=float)
    estimate = np.asarray(raw, dtype=float) + rho * a / math.sqrt(n)
    se = np.sqrt((root + rho * b) ** 2 + rho * rho * c) / n
    return estimate, se


def multisplit_pvalues(full_loss, reduced_loss, splits, weights=None):
    """:func:`split_test` p-values of one feature for many splits at once (same numbers, vectorised).

    Parameters
    ----------
    full_loss, reduced_loss : ndarrays of shape (n,)
    splits : list of (half_a, half_b) index arrays, all of the same two sizes
    weights : ndarray of shape (n,) or None

    Returns
    -------
    pvalue : ndarray of shape (len(splits),)
    """
    a = np.vstack([s[0] for s in splits])
    b = np.vstack([s[1] for s in splits])
    full_loss = np.asarray(full_loss, dtype=float)
    reduced_loss = np.asarray(reduced_loss, dtype=float)

    def mean_se(values, rows):
        x = values[rows]
        if weights is None:
            return x.mean(axis=1), x.std(axis=1) / np.sqrt(x.shape[1])
        w = weights[rows]
        w = w / w.sum(axis=1, keepdims=True)
        m = np.sum(w * x, axis=1)
        return m, np.sqrt(np.sum((w * (x - m[:, None])) ** 2, axis=1))

    mean_full, se_full = mean_se(full_loss, a)
    mean_red, se_red = mean_se(reduced_loss, b)
    return pvalue_greater(mean_red - mean_full, np.sqrt(se_full**2 + se_red**2))


def fold_means(values, fold_ids, n_folds, weights=None):
    """Per-fold (weighted) means of the columns of ``values``: an ``(n_folds, k)`` array."""
    values = np.asarray(values, dtype=float)
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    totals = np.zeros((n_folds, values.shape[1]))
    np.add.at(totals, fold_ids, values * w[:, None])
    mass = np.bincount(fold_ids, weights=w, minlength=n_folds)
    return totals / mass[:, None]


def crossfit_t(fold_estimates, test_train_ratio):
    """Standard error and degrees of freedom of the corrected cross-fitted t test.

    ``fold_estimates`` (K, k) are the K folds' estimates, each from its own model trained on the other
    folds; their spread carries the training variability (data and seed) that a test on the
    evaluation rows of fixed models leaves out. Because the folds' training sets overlap, the K
    estimates are positively correlated and the naive ``S^2 / K`` underestimates the variance of their
    mean; Nadeau & Bengio (2003) correct it to ``(1/K + n_test/n_train) S^2``, with ``S^2`` the sample
    variance of the K estimates and ``n_test/n_train`` (``1/(K-1)`` for equal folds) standing for the
    correlation between two folds' estimates. Bouckaert & Frank (2004) apply it to K-fold
    cross-validation, as here; Molnar et al. (2023) recommend it for the learner-level permutation
    importance. The statistic is referred to Student's t on ``K - 1`` degrees of freedom.

    References
    ----------
    Nadeau, C. & Bengio, Y. (2003). Inference for the generalization error. Machine Learning 52,
    239-281.
    Bouckaert, R. R. & Frank, E. (2004). Evaluating the replicability of significance tests for
    comparing learning algorithms. PAKDD 2004, LNCS 3056, 3-12.
    Molnar, C., Freiesleben, T., König, G., Herbinger, J., Reisinger, T., Casalicchio, G., Wright, M. N.
    & Bischl, B. (2023). Relating the partial dependence plot and permutation feature importance to the
    data generating process. xAI 2023, Communications in Computer and Information Science 1901.
    """
    fold_estimates = np.asarray(fold_estimates, dtype=float)
    k = fold_estimates.shape[0]
    if k < 2:
        raise ValueError(f"the cross-fitted t test needs at least 2 folds; got {k}")
    spread = np.var(fold_estimates, axis=0, ddof=1)
    return np.sqrt((1.0 / k + float(test_train_ratio)) * spread), float(k - 1)
