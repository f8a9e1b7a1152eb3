"""Numba kernels for importance measures of linear models.

Each kernel has a plain-NumPy twin of the same name in
:mod:`vimp._kernels.reference`; the tests check that the two agree.

Conventions shared by every kernel:

* array arguments are ``float64`` (permutation indices ``int64``) and are
  expected to be C-contiguous; the caller validates shapes, dtypes and index
  ranges (compiled code does no bounds checking and never raises);
* kernels allocate and return their outputs as NumPy arrays and never hold an
  array larger than their output, except where stated;
* a loss is selected by an integer code, :data:`LOSS_SQUARED` or
  :data:`LOSS_ABSOLUTE`; an unknown code gives ``nan`` losses;
* results are deterministic: identical on every call and for any number of
  Numba threads, because every floating-point sum is accumulated in a fixed
  order (see :mod:`vimp._kernels._config` for the flag policy).

All kernels also run as plain Python when ``NUMBA_DISABLE_JIT=1`` is set (the
test suite can be run that way, so that coverage sees the kernel code); with
JIT enabled, the original Python function of a kernel is ``kernel.py_func``.
"""

import math

import numpy as np
from numba import prange

from ._config import njit_kernel, njit_parallel
from .random_nb import derangements_from_pcg64, permutations_from_pcg64

__all__ = [
    "LOSS_ABSOLUTE",
    "LOSS_SQUARED",
    "PAP_BLOCK_SIZE",
    "column_extremes",
    "column_r2",
    "drop_one_residuals_into",
    "constant_columns",
    "gather_shifted_rows",
    "gcm_linear_products",
    "group_drop_losses",
    "loco_linear_losses",
    "loco_linear_losses_into",
    "loss_difference_summary",
    "loss_difference_sums",
    "pap_linear_groups",
    "pap_linear_losses",
    "pap_linear_terms",
    "pap_se_moments",
    "pap_se_moments_groups",
    "pap_se_sums",
    "pointwise_loss",
    "residual_products",
]

#: Loss code for the squared error ``(y - yhat) ** 2``.
LOSS_SQUARED = 0

#: Loss code for the absolute error ``|y - yhat|``.
LOSS_ABSOLUTE = 1

#: Number of observations per block in :func:`pap_linear_losses`. The blocks are
#: fixed by this constant alone (not by the number of threads), which is what makes
#: the per-repeat sums independent of the thread count.
PAP_BLOCK_SIZE = 256


@njit_kernel
def pointwise_loss(y, yhat, loss_code):
    """Loss of one prediction.

    Parameters
    ----------
    y : float
        Observed response.
    yhat : float
        Prediction.
    loss_code : int
        :data:`LOSS_SQUARED` (0) or :data:`LOSS_ABSOLUTE` (1).

    Returns
    -------
    float
        ``(y - yhat) ** 2`` or ``|y - yhat|``; ``nan`` for an unknown code.
    """
    difference = y - yhat
    if loss_code == LOSS_SQUARED:
        return difference * difference
    if loss_code == LOSS_ABSOLUTE:
        return abs(difference)
    return np.nan


@njit_parallel
def pap_linear_losses(y, pred, x_cols, coef, perms, loss_code):
    """Permute-and-predict losses of a linear model, without predicting again.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Observed responses.
    pred : ndarray of shape (n,)
        Predictions of the fitted model on the unpermuted data.
    x_cols : ndarray of shape (n, g)
        The ``g`` columns of one feature group, as used by the model.
    coef : ndarray of shape (g,)
        The model's coefficients of those columns.
    perms : ndarray of shape (R, n), int64
        One row permutation of ``0, ..., n - 1`` per repeat. All columns of the
        group are permuted jointly by the same row permutation.
    loss_code : int
        :data:`LOSS_SQUARED` (0) or :data:`LOSS_ABSOLUTE` (1).

    Returns
    -------
    obs_mean_loss : ndarray of shape (n,)
        For each observation, the loss averaged over the ``R`` repeats
        (``nan`` if ``R == 0``).
    repeat_mean_loss : ndarray of shape (R,)
        For each repeat, the loss averaged over the ``n`` observations
        (``nan`` if ``n == 0``).

    Notes
    -----
    For repeat ``r`` and observation ``i`` the permuted prediction is

    .. math:: \\hat y_{ri} = \\mathrm{pred}_i
              + \\sum_k c_k (x_{\\pi_r(i), k} - x_{i, k}),

    computed as ``pred[i] + (h[perms[r, i]] - h[i])`` with ``h = x_cols @ coef``.
    The ``R x n`` matrix of losses is never stored: losses are accumulated.
    The observations are split into fixed blocks of :data:`PAP_BLOCK_SIZE`; the
    ``prange`` runs over blocks, each block owning its observations' sums and
    one row of an ``(n_blocks, R)`` buffer of partial repeat sums, which is then
    summed over blocks in order. The result is therefore the same for any number
    of threads.
    """
    n = y.shape[0]
    n_repeats = perms.shape[0]
    n_cols = x_cols.shape[1]

    group_part = np.empty(n)
    for i in prange(n):
        total = 0.0
        for k in range(n_cols):
            total += coef[k] * x_cols[i, k]
        group_part[i] = total

    n_blocks = (n + PAP_BLOCK_SIZE - 1) // PAP_BLOCK_SIZE
    obs_sum = np.zeros(n)
    block_repeat_sum = np.zeros((n_blocks, n_repeats))
    for block in prange(n_blocks):
        start = block * PAP_BLOCK_SIZE
        stop = min(start + PAP_BLOCK_SIZE, n)
        for r in range(n_repeats):
            repeat_total = 0.0
            for i in range(start, stop):
                permuted = pred[i] + (group_part[perms[r, i]] - group_part[i])
                loss = pointwise_loss(y[i], permuted, loss_code)
                obs_sum[i] += loss
                repeat_total += loss
            block_repeat_sum[block, r] = repeat_total

    obs_mean_loss = np.empty(n)
    for i in range(n):
        if n_repeats > 0:
            obs_mean_loss[i] = obs_sum[i] / n_repeats
        else:
            obs_mean_loss[i] = np.nan

    repeat_mean_loss = np.empty(n_repeats)
    for r in range(n_repeats):
        total = 0.0
        for block in range(n_blocks):
            total += block_repeat_sum[block, r]
        if n > 0:
            repeat_mean_loss[r] = total / n
        else:
            repeat_mean_loss[r] = np.nan
    return obs_mean_loss, repeat_mean_loss


@njit_kernel
def pap_linear_terms(y, pred, x_cols, coef, perms, weight, full, loss_code, out=None):
    """Permute-and-predict losses of a linear model, with the sums their standard error needs.

    As :func:`pap_linear_losses`, plus, for each row, its mean squared loss and three averages over the
    rows it donated its column(s) to (see :meth:`vimp.Fitter.permutation_terms` and
    :func:`vimp._inference.permutation_mean_se`).

    Parameters
    ----------
    y, pred, x_cols, coef, perms, loss_code
        As in :func:`pap_linear_losses`.
    weight : ndarray of shape (n,)
        Observation weights (ones for none); they enter the donor averages only.
    full : ndarray of shape (n,)
        Loss of each row without permutation.
    out : ndarray of shape (5, n), optional
        Where to write the five per-row arrays (overwritten): a caller measuring many groups passes the
        rows of one block allocated for all of them, so that a call allocates one large array instead of
        five small ones per group. The returned arrays are then views of ``out``.

    Returns
    -------
    obs_mean_loss : ndarray of shape (n,)
    repeat_mean_loss : ndarray of shape (R,)
        Unweighted, as in :func:`pap_linear_losses`.
    donor_mean : ndarray of shape (n,)
        For each row ``k``: ``mean_r weight[i] * L[r, i]`` over the row ``i`` with ``perms[r, i] = k``.
    square_mean : ndarray of shape (n,)
        ``mean_r L[r, i] ** 2`` for each row ``i``.
    donor_full_mean, donor_weight_mean : ndarrays of shape (n,)
        As ``donor_mean``, of ``weight[i] * full[i]`` and of ``weight[i]``.

    Notes
    -----
    One serial pass over the ``R x n`` losses, which are never stored: each loss is added to its row's
    sums and, through the permutation, to its donor's (a scatter, which is why the kernel is serial:
    callers parallelise over feature groups). Sums run in a fixed order, so the result is deterministic.
    With unit weights the donor weight average is exactly one and is not accumulated.
    """
    return _pap_terms(y, pred, x_cols, coef, perms, weight, full, loss_code, out, False)


@njit_kernel
def _pap_terms(y, pred, x_cols, coef, perms, weight, full, loss_code, out, known_full):
    """:func:`pap_linear_terms`; with ``known_full`` (unit weights and the squared error only) ``out[3]``
    already holds the donor average of ``full`` over ``perms`` (:func:`_donor_full_mean`, the same sums
    in the same order) and is not accumulated again."""
    n = y.shape[0]
    n_repeats = perms.shape[0]
    n_cols = x_cols.shape[1]

    group_part = np.empty(n)
    for i in range(n):
        total = 0.0
        for k in range(n_cols):
            total += coef[k] * x_cols[i, k]
        group_part[i] = total
    unit_weights = True
    weighted_full = np.empty(n)
    for i in range(n):
        weighted_full[i] = weight[i] * full[i]
        if weight[i] != 1.0:
            unit_weights = False

    block = np.empty((5, n)) if out is None else out
    fast = unit_weights and loss_code == LOSS_SQUARED
    keep_full = known_full and fast  # block[3] already holds the donor average of full: keep it
    for c in range(5):
        if c != 3 or not keep_full:
            block[c] = 0.0
    obs, square, donor, donor_full, donor_weight = block[0], block[1], block[2], block[3], block[4]
    repeat_mean_loss = np.empty(n_repeats)
    if fast and keep_full:
        # shared permutations: the donor average of full is the same for every group (computed once by
        # _donor_full_mean), so the loop has one scatter instead of two
        base = np.empty(n)
        for i in range(n):
            base[i] = y[i] - pred[i] + group_part[i]
        for r in range(n_repeats):
            repeat_total = 0.0
            row = perms[r]
            for i in range(n):
                k = row[i]
                error = base[i] - group_part[k]
                loss = error * error
                obs[i] += loss
                square[i] += loss * loss
                donor[k] += loss
                repeat_total += loss
            repeat_mean_loss[r] = repeat_total / n if n > 0 else np.nan
    elif fast:
        # The common case in its own loop: row i's error under donor k is base[i] - group_part[k], with
        # no weights to apply and no loss to choose (1.6x faster per entry than the general loop). The
        # two donor sums sit side by side (one cache line per donor instead of two: about 25% faster) and
        # are copied out after the loop.
        base = np.empty(n)
        for i in range(n):
            base[i] = y[i] - pred[i] + group_part[i]
        pair = np.zeros((n, 2))
        for r in range(n_repeats):
            repeat_total = 0.0
            row = perms[r]
            for i in range(n):
                k = row[i]
                error = base[i] - group_part[k]
                loss = error * error
                obs[i] += loss
                square[i] += loss * loss
                pair[k, 0] += loss
                pair[k, 1] += full[i]
                repeat_total += loss
            repeat_mean_loss[r] = repeat_total / n if n > 0 else np.nan
        for k in range(n):
            donor[k] = pair[k, 0]
            donor_full[k] = pair[k, 1]
    else:
        for r in range(n_repeats):
            repeat_total = 0.0
            for i in range(n):
                k = perms[r, i]
                loss = pointwise_loss(y[i], pred[i] + (group_part[k] - group_part[i]), loss_code)
                obs[i] += loss
                square[i] += loss * loss
                donor[k] += weight[i] * loss
                donor_full[k] += weighted_full[i]
                repeat_total += loss
            if not unit_weights:
                for i in range(n):
                    donor_weight[perms[r, i]] += weight[i]
            if n > 0:
                repeat_mean_loss[r] = repeat_total / n
            else:
                repeat_mean_loss[r] = np.nan

    if n_repeats > 0:  # means, in place
        scale = 1.0 / n_repeats
        for i in range(n):
            obs[i] *= scale
            donor[i] *= scale
            square[i] *= scale
            if not keep_full:
                donor_full[i] *= scale
            donor_weight[i] = 1.0 if unit_weights else donor_weight[i] * scale
    else:
        block[:] = np.nan
    return obs, repeat_mean_loss, donor, square, donor_full, donor_weight


@njit_kernel
def _donor_full_mean(full, perms, out):
    """``out[k] = mean_r full[i]`` over the row ``i`` with ``perms[r, i] = k``, summed in the order of
    :func:`pap_linear_terms`' loop, so the same bits as the donor average it accumulates itself."""
    n = full.shape[0]
    n_repeats = perms.shape[0]
    for k in range(n):
        out[k] = 0.0
    for r in range(n_repeats):
        row = perms[r]
        for i in range(n):
            out[row[i]] += full[i]
    if n_repeats > 0:
        scale = 1.0 / n_repeats
        for k in range(n):
            out[k] *= scale


@njit_parallel
def pap_linear_groups(y, pred, X, coef, col_start, col_index, perms, states, derangements, block_words,
                      width, full, loss_code, block, repeat_mean):
    """:func:`pap_linear_terms` of every feature group of an unweighted linear model in one call.

    Group ``g`` has the columns ``col_index[col_start[g]:col_start[g + 1]]`` of ``X``. Its permutations
    are either ``perms`` (shape (R, n), the same for every group: shared permutations), or, when
    ``states`` has rows, drawn here from the group's PCG64 state ``states[g]`` exactly as
    :func:`vimp._split.draw_permutations` draws them from a Generator in that state:
    :func:`vimp._kernels.random_nb.derangements_from_pcg64` (``derangements`` True, blocks of
    ``block_words``) or :func:`vimp._kernels.random_nb.permutations_from_pcg64` (rows of ``width``
    values). So a group's permutations are made where they are used, never stored for all groups.

    Parameters
    ----------
    y, pred, full : ndarrays of shape (n,)
    X : ndarray of shape (n, p)
    coef : ndarray of shape (p,)
    col_start : int64 ndarray of shape (G + 1,); col_index : int64 ndarray
    perms : int64 ndarray of shape (R, n), or (0, n) with ``states``
    states : uint64 ndarray of shape (G, 4) or (0, 4)
    derangements : bool
    block_words : int64 ndarray of shape (R + 1,); width : int
    loss_code : int
    block : ndarray of shape (G, 5, n)
        Each group's five per-row arrays, in the layout of :func:`pap_linear_terms`'s ``out``.
    repeat_mean : ndarray of shape (G, R)
        Each group's per-permutation mean loss (written).

    Returns
    -------
    drawn : bool ndarray of shape (G,)
        False for a group whose uniform permutations ran out of words (far below 1e-20 per row; the caller
        then draws that group with its Generator); its outputs are not written.

    Notes
    -----
    Parallel over groups (``prange``); each iteration writes only its group's rows, and each group's
    sums run in the order of :func:`pap_linear_terms`, so the result does not depend on the number of
    threads and equals :func:`pap_linear_terms` group by group bit for bit.
    """
    n = y.shape[0]
    n_groups = col_start.shape[0] - 1
    n_repeats = repeat_mean.shape[1]
    unit = np.ones(n)
    drawn = np.ones(n_groups, dtype=np.bool_)
    # shared permutations and the squared error: every group's donor average of full is the same
    shared_full = states.shape[0] == 0 and loss_code == LOSS_SQUARED and n_groups > 1
    donor_full = np.empty(n)
    if shared_full:
        _donor_full_mean(full, perms, donor_full)
    for g in prange(n_groups):
        start = col_start[g]
        k = col_start[g + 1] - start
        x_cols = np.empty((n, k))
        coef_g = np.empty(k)
        for c in range(k):
            col = col_index[start + c]
            coef_g[c] = coef[col]
            for i in range(n):
                x_cols[i, c] = X[i, col]
        if states.shape[0] > 0:
            own = np.empty((1, n_repeats, n), dtype=np.int64)
            if derangements:
                derangements_from_pcg64(states[g:g + 1], n, n_repeats, block_words, own)
            elif not permutations_from_pcg64(states[g:g + 1], n, n_repeats, width, own):
                drawn[g] = False
                continue
            group_perms = own[0]
        else:
            group_perms = perms
            if shared_full:
                block[g, 3, :] = donor_full
        terms = _pap_terms(y, pred, x_cols, coef_g, group_perms, unit, full, loss_code, block[g],
                           shared_full)
        repeat_mean[g, :] = terms[1]
    return drawn


@njit_kernel
def pap_se_sums(full, other, donor, square, donor_full, donor_weight, weight, n_rep, slope, offset):
    """The two sums of the permute-and-predict standard error, in one pass.

    See :func:`vimp._inference.permutation_mean_se` for the derivation. With ``shift = slope * full +
    offset``:

    - ``projection = sum_i (w_i (other_i - shift_i) + donor_i - slope donor_full_i - offset
      donor_weight_i) ** 2``, the sum of squared Hájek projections;
    - ``correction = sum_i w_i**2 (square_i - 2 shift_i other_i + shift_i**2) / n_rep_i``, the noise the
      projections carry.

    Parameters
    ----------
    full, other, donor, square, donor_full, donor_weight, weight, n_rep : ndarrays of shape (n,)
        As in :func:`vimp._inference.permutation_mean_se` (``weight`` ones for none, ``n_rep`` the
        number of permutations behind each row).
    slope, offset : float

    Returns
    -------
    projection, correction : float
    """
    projection = 0.0
    correction = 0.0
    for i in range(full.shape[0]):
        shift = slope * full[i] + offset
        w = weight[i]
        influence = w * (other[i] - shift) + donor[i] - slope * donor_full[i] - offset * donor_weight[i]
        projection += influence * influence
        correction += w * w * (square[i] - 2.0 * shift * other[i] + shift * shift) / n_rep[i]
    return projection, correction


@njit_kernel
def column_extremes(A, high, low):
    """The column maxima and minima of ``A`` (shape (n, p)) in ``high`` and ``low``, in one pass over the
    rows (NumPy's ``max(axis=0)`` and ``min(axis=0)`` of a C-ordered array read it twice, each along the
    slow axis). A NaN propagates, as in NumPy; no rows give ``-inf`` and ``inf``."""
    n, p = A.shape
    for j in range(p):
        high[j] = -np.inf
        low[j] = np.inf
    for i in range(n):
        for j in range(p):
            v = A[i, j]
            if v > high[j] or v != v:
                if high[j] == high[j]:
                    high[j] = v
            if v < low[j] or v != v:
                if low[j] == low[j]:
                    low[j] = v
    return high, low


@njit_kernel
def gather_shifted_rows(X, rows, shift, out, lo, hi, total):
    """``out[i] = X[rows[i]] - shift`` with the columns' minimum and maximum of ``X[rows]`` (before the
    shift) in ``lo`` and ``hi`` and the column sums of ``out`` in ``total``, in one pass.

    What :func:`vimp._linear_fitter._block_moments` took in four (a fancy-indexed copy, ``min`` and
    ``max`` along the rows, the shift): the row sums accumulate row after row, as NumPy's ``sum(axis=0)``
    of a C-ordered array does, and a NaN propagates into ``lo`` and ``hi`` as in NumPy.
    Serial: one pass over the rows, bound by memory.
    """
    m = rows.shape[0]
    p = X.shape[1]
    for j in range(p):
        lo[j] = np.inf
        hi[j] = -np.inf
        total[j] = 0.0
    for i in range(m):
        r = rows[i]
        for j in range(p):
            v = X[r, j]
            if v < lo[j] or v != v:
                if lo[j] == lo[j]:
                    lo[j] = v
            if v > hi[j] or v != v:
                if hi[j] == hi[j]:
                    hi[j] = v
            a = v - shift[j]
            out[i, j] = a
            total[j] += a
    return out


@njit_kernel
def pap_se_moments_groups(full, other_rows, block, live, n_rep, slope, offset):
    """:func:`pap_se_moments` of several unweighted feature groups in one call.

    Group ``live[j]`` has its permuted losses in ``other_rows[live[j]]`` and its donor sums in ``block[j]``
    (the layout of :func:`pap_linear_groups`: obs, square, donor, donor full, donor weight), its centring
    ``slope[live[j]]``, ``offset[live[j]]``. Returns shape (len(live), 6): the six sums of
    :func:`pap_se_moments` per group, in its order.
    """
    n = full.shape[0]
    weight = np.ones(n)
    out = np.empty((live.shape[0], 6))
    h_row, e_row = np.empty(n), np.empty(n)
    for j in range(live.shape[0]):
        g = live[j]
        sums = _pap_se_moments_into(full, other_rows[g], block[j, 2], block[j, 1], block[j, 3], block[j, 4],
                                    weight, n_rep, slope[g], offset[g], h_row, e_row)
        for k in range(6):
            out[j, k] = sums[k]
    return out


@njit_kernel
def pap_se_moments(full, other, donor, square, donor_full, donor_weight, weight, n_rep, slope, offset):
    """:func:`pap_se_sums` plus the moments of the skewness and the degrees of freedom, in two passes.

    With the influence ``h_i`` and the noise ``e_i`` of :func:`pap_se_sums` (``projection = sum h^2``,
    ``correction = sum e``) and the variance terms ``u_i = h_i^2 - e_i``:

    - ``h2, h3``: ``sum (h - mean(h))^2`` and ``sum (h - mean(h))^3``, for
      :func:`vimp._inference.projection_skewness`;
    - ``u_total, u_ss``: ``sum u`` and ``sum (u - mean(u))^2``, for :func:`vimp._inference.variance_df`.

    Parameters
    ----------
    As :func:`pap_se_sums`.

    Returns
    -------
    projection, correction, h2, h3, u_total, u_ss : float
    """
    n = full.shape[0]
    return _pap_se_moments_into(full, other, donor, square, donor_full, donor_weight, weight, n_rep, slope,
                                offset, np.empty(n), np.empty(n))


@njit_kernel
def _pap_se_moments_into(full, other, donor, square, donor_full, donor_weight, weight, n_rep, slope, offset,
                         h_row, e_row):
    """:func:`pap_se_moments` with the first pass's ``h_i`` and ``e_i`` kept in ``h_row`` and ``e_row``
    (shape (n,), overwritten) for the second pass, which then needs no division: the same numbers, bit
    for bit, in about half the time. A caller measuring many groups passes the same two arrays each time.
    """
    n = full.shape[0]
    projection = 0.0
    correction = 0.0
    h_total = 0.0
    u_total = 0.0
    for i in range(n):
        shift = slope * full[i] + offset
        w = weight[i]
        h = w * (other[i] - shift) + donor[i] - slope * donor_full[i] - offset * donor_weight[i]
        e = w * w * (square[i] - 2.0 * shift * other[i] + shift * shift) / n_rep[i]
        h_row[i] = h
        e_row[i] = e
        projection += h * h
        correction += e
        h_total += h
        u_total += h * h - e
    h2 = 0.0
    h3 = 0.0
    u_ss = 0.0
    if n > 0:
        h_mean = h_total / n
        u_mean = u_total / n
        for i in range(n):
            h = h_row[i]
            c = h - h_mean
            h2 += c * c
            h3 += c * c * c
            d = h * h - e_row[i] - u_mean
            u_ss += d * d
    return projection, correction, h2, h3, u_total, u_ss


@njit_kernel
def loss_difference_sums(learner, learner_cols, source, source_cols, fold, mu, price, weight):
    """Column sums of GCM's nuisance check, without any ``(n, m)`` temporary.

    Regression ``k`` has the learner's residual ``l_i = learner[i, learner_cols[k]]`` and the mean
    baseline's ``b_i = source[i, source_cols[k]] - mu[fold[i], k]`` (the target minus its training mean
    of the row's fold); with the allowance ``price[fold[i], k]`` (finite) the test's terms are
    ``d_i = l_i^2 - (1 + price) b_i^2`` (see :func:`vimp._gcm._loss_difference_test`).

    Parameters
    ----------
    learner : ndarray of shape (n, a)
    learner_cols : int ndarray of shape (m,)
    source : ndarray of shape (n, b)
    source_cols : int ndarray of shape (m,)
    fold : int ndarray of shape (n,)
    mu, price : ndarrays of shape (K, m)
    weight : ndarray of shape (n,)
        Normalised weights (summing to one; ``1 / n`` each for none).

    Returns
    -------
    learner_mse, baseline_mse, mean, se : ndarrays of shape (m,)
        ``sum w l^2``, ``sum w b^2``, ``sum w d`` and ``sqrt(sum (w (d - mean))^2)``, the weighted mean
        and standard error of :func:`vimp._inference.mean_and_se`.

    Notes
    -----
    One pass over the rows, in order: the sums of ``d`` are taken about a shift, the first row's ``d``
    of each column (the shifted-data algorithm; Chan, Golub & LeVeque, 1983, *Am. Stat.* 37, 242-247),
    ``sum (w (d - mean))^2 = S2 - 2 delta S3 + delta^2 W2`` with ``S2 = sum (w (d - K))^2``,
    ``S3 = sum w^2 (d - K)``, ``W2 = sum w^2`` and ``delta = mean - K``, so its rounding error is of
    the order of ``eps (1 + delta^2 / var(d))`` relative, not ``eps mean^2 / var(d)`` as about zero.
    The data are read once instead of twice (this pass is bound by memory at large ``n``).
    """
    n = learner.shape[0]
    m = learner_cols.shape[0]
    l_mse = np.zeros(m)
    b_mse = np.zeros(m)
    s1 = np.zeros(m)
    s2 = np.zeros(m)
    s3 = np.zeros(m)
    shift = np.zeros(m)
    if n > 0:
        f = fold[0]
        for k in range(m):
            lv = learner[0, learner_cols[k]]
            bv = source[0, source_cols[k]] - mu[f, k]
            shift[k] = lv * lv - (1.0 + price[f, k]) * (bv * bv)
    w_total = 0.0
    w2_total = 0.0
    for i in range(n):
        f = fold[i]
        w = weight[i]
        w_total += w
        w2_total += w * w
        for k in range(m):
            lv = learner[i, learner_cols[k]]
            bv = source[i, source_cols[k]] - mu[f, k]
            l2 = lv * lv
            b2 = bv * bv
            l_mse[k] += w * l2
            b_mse[k] += w * b2
            c = l2 - (1.0 + price[f, k]) * b2 - shift[k]
            wc = w * c
            s1[k] += wc
            s2[k] += wc * wc
            s3[k] += w * wc
    mean = np.empty(m)
    se = np.empty(m)
    for k in range(m):
        mean[k] = shift[k] * w_total + s1[k]
        delta = mean[k] - shift[k]
        ss = s2[k] - 2.0 * delta * s3[k] + delta * delta * w2_total
        se[k] = math.sqrt(ss) if ss > 0.0 else 0.0
    return l_mse, b_mse, mean, se


@njit_kernel
def loss_difference_summary(other, full):
    """The per-observation loss differences ``other - full[:, None]`` and their unweighted column summaries.

    Parameters
    ----------
    other : ndarray of shape (n, k)
        Per-observation losses of the ``k`` perturbed (reduced or permuted) models.
    full : ndarray of shape (n,)
        The full model's.

    Returns
    -------
    diff : ndarray of shape (n, k)
    mean, se : ndarrays of shape (k,)
        Column means of ``diff`` and ``sd / sqrt(n)`` with the ``1/n`` variance (two passes), as
        :func:`vimp._inference.mean_and_se` without weights.
    low, high : ndarrays of shape (k,)
        Column extremes of ``diff``.
    other_absmax, full_absmax : float
        ``max |other|`` and ``max |full|``.
    finite : bool
        Whether every entry of ``other`` and ``full`` is finite (the summaries are meaningless otherwise).
    """
    n, k = other.shape
    diff = np.empty((n, k))
    mean = np.zeros(k)
    low = np.full(k, np.inf)
    high = np.full(k, -np.inf)
    other_absmax = 0.0
    full_absmax = 0.0
    finite = True
    for i in range(n):
        fi = full[i]
        if not math.isfinite(fi):
            finite = False
        full_absmax = max(full_absmax, abs(fi))
        for j in range(k):
            o = other[i, j]
            if not math.isfinite(o):
                finite = False
            other_absmax = max(other_absmax, abs(o))
            d = o - fi
            diff[i, j] = d
            mean[j] += d
            low[j] = min(low[j], d)
            high[j] = max(high[j], d)
    se = np.zeros(k)
    if n == 0:
        return diff, np.full(k, np.nan), np.full(k, np.nan), low, high, other_absmax, full_absmax, finite
    for j in range(k):
        mean[j] /= n
    for i in range(n):
        for j in range(k):
            e = diff[i, j] - mean[j]
            se[j] += e * e
    for j in range(k):
        se[j] = math.sqrt(se[j] / n) / math.sqrt(n)
    return diff, mean, se, low, high, other_absmax, full_absmax, finite


@njit_parallel
def loco_linear_losses(y, pred, xg, shift, loss_code):
    """Losses of every drop-one OLS refit, from a single fit.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Observed responses on the evaluation set.
    pred : ndarray of shape (n,)
        Predictions of the full OLS fit on the evaluation set.
    xg : ndarray of shape (n, p)
        ``X_eval @ G`` with ``G = (X'X)^{-1}`` from the training design.
    shift : ndarray of shape (p,)
        ``beta_hat[j] / G[j, j]`` for each column ``j``.
    loss_code : int
        :data:`LOSS_SQUARED` (0) or :data:`LOSS_ABSOLUTE` (1).

    Returns
    -------
    losses : ndarray of shape (n, p)
        ``losses[i, j]`` is the loss of observation ``i`` under the OLS model
        refitted without column ``j``.

    Notes
    -----
    The refit without column ``j`` predicts ``pred - shift[j] * xg[:, j]``
    exactly (THEORY.md section 1). The ``prange`` runs over observations; each
    row of the output is computed independently, so the result does not depend
    on the number of threads.
    """
    n = y.shape[0]
    p = shift.shape[0]
    losses = np.empty((n, p))
    for i in prange(n):
        for j in range(p):
            reduced = pred[i] - shift[j] * xg[i, j]
            losses[i, j] = pointwise_loss(y[i], reduced, loss_code)
    return losses


@njit_parallel
def loco_linear_losses_into(y, pred, xg, shift, loss_code, out, rows):
    """:func:`loco_linear_losses` written into the rows ``rows`` of ``out`` (shape (N, p)): row ``i`` of
    the evaluation block goes to ``out[rows[i]]`` (a cross-fitting fold's rows in the full array; distinct
    positions, so the rows written in parallel never overlap), so that
    no block of losses is allocated and copied. Returns ``out``."""
    n = y.shape[0]
    p = shift.shape[0]
    for i in prange(n):
        r = rows[i]
        for j in range(p):
            reduced = pred[i] - shift[j] * xg[i, j]
            out[r, j] = pointwise_loss(y[i], reduced, loss_code)
    return out


@njit_parallel
def drop_one_residuals_into(V, residual, x_factor, y_factor, x_out, y_out, rows):
    """Every single column's x- and y-residuals of an OLS fit, written into rows ``rows`` of two arrays.

    Row ``i`` of the evaluation block gives ``x_out[rows[i], j] = V[i, j] * x_factor[j]`` and
    ``y_out[rows[i], j] = V[i, j] * y_factor[j] + residual[i]`` (``V = Z_c G``, ``x_factor = scale /
    diag(G)``, ``y_factor = beta / diag(G)``; see :meth:`vimp._linear_fitter.LinearFitter.residuals_each`,
    whose numbers these are, operation for operation). ``rows`` are distinct positions, so the rows
    written in parallel never overlap.
    """
    n, p = V.shape
    for i in prange(n):
        r = rows[i]
        e = residual[i]
        for j in range(p):
            v = V[i, j]
            x_out[r, j] = v * x_factor[j]
            y_out[r, j] = v * y_factor[j] + e
    return x_out, y_out


@njit_kernel
def drop_one_residuals_extremes_into(V, residual, x_factor, y_factor, x_out, y_out, rows, extremes):
    """:func:`drop_one_residuals_into` that also updates the column extremes of what it writes.

    ``extremes`` (shape (4, p)): the column maxima and minima of the x-residuals (rows 0 and 1) and of
    the y-residuals (rows 2 and 3) written so far, updated in place with this block's (start from
    ``-inf`` / ``inf``); the semantics of :func:`column_extremes` (a NaN propagates). The residuals are
    the numbers of :func:`drop_one_residuals_into`, operation for operation; one pass instead of three
    (the extremes of the two (N, p) arrays would otherwise be read again afterwards). Serial: each row
    updates the shared extremes.
    """
    n, p = V.shape
    for i in range(n):
        r = rows[i]
        e = residual[i]
        for j in range(p):
            v = V[i, j]
            xv = v * x_factor[j]
            yv = v * y_factor[j] + e
            x_out[r, j] = xv
            y_out[r, j] = yv
            _widen(extremes, 0, j, xv)
            _widen(extremes, 2, j, yv)
    return extremes


@njit_kernel
def _widen(extremes, k, j, v):
    """Widen column ``j``'s running maximum ``extremes[k, j]`` and minimum ``extremes[k + 1, j]`` by ``v``
    (a NaN propagates and then stays, as in :func:`column_extremes`)."""
    if v > extremes[k, j] or v != v:
        if extremes[k, j] == extremes[k, j]:
            extremes[k, j] = v
    if v < extremes[k + 1, j] or v != v:
        if extremes[k + 1, j] == extremes[k + 1, j]:
            extremes[k + 1, j] = v


@njit_kernel
def residual_products(x_resid, y_resid, out=None):
    """Residual products of the generalised covariance measure, with mean and sd.

    Parameters
    ----------
    x_resid : ndarray of shape (n, p)
        Residuals of each feature (column) on the other features.
    y_resid : ndarray of shape (n, p)
        Residuals of the response on the features other than the column's own.
    out : ndarray of shape (n, p), optional
        Where to write the products; may be ``x_resid`` itself (each entry is read before it is written).

    Returns
    -------
    products : ndarray of shape (n, p)
        ``x_resid * y_resid``.
    mean : ndarray of shape (p,)
        Column means of ``products`` (``nan`` if ``n == 0``).
    sd : ndarray of shape (p,)
        Column standard deviations of ``products`` with the ``1/n`` denominator
        (``nan`` if ``n == 0``).

    Notes
    -----
    The GCM statistic of Shah & Peters (2020) is
    ``sqrt(n) * mean / sd`` with this ``1/n`` sd (THEORY.md section 6,
    pitfall 4). The sd is computed in two passes, first the mean and then the
    mean squared deviation from it, which stays accurate when the mean is large
    relative to the spread. Sums run over rows in order (serial kernel).
    """
    n = x_resid.shape[0]
    p = x_resid.shape[1]
    products = np.empty((n, p)) if out is None else out
    total = np.zeros(p)
    for i in range(n):
        for j in range(p):
            product = x_resid[i, j] * y_resid[i, j]
            products[i, j] = product
            total[j] += product

    mean = np.empty(p)
    sd = np.empty(p)
    if n == 0:
        mean[:] = np.nan
        sd[:] = np.nan
        return products, mean, sd
    for j in range(p):
        mean[j] = total[j] / n

    squared_deviation = np.zeros(p)
    for i in range(n):
        for j in range(p):
            deviation = products[i, j] - mean[j]
            squared_deviation[j] += deviation * deviation
    for j in range(p):
        sd[j] = np.sqrt(squared_deviation[j] / n)
    return products, mean, sd


@njit_kernel
def constant_columns(X):
    """Which columns of ``X`` take a single value: ``X[i, j] == X[0, j]`` for every row ``i``.

    Parameters
    ----------
    X : ndarray of shape (n, p)

    Returns
    -------
    constant : ndarray of shape (p,), bool
        True for a constant column (every column of an empty ``X``). A NaN never equals anything, so a
        column with a NaN is not constant (as with ``np.ptp(X, axis=0) == 0``).

    Notes
    -----
    Rows are scanned in order and the scan stops once every column has shown a second value, which for
    continuous data is after the second row: the cost is then O(p), not O(np).
    """
    n = X.shape[0]
    p = X.shape[1]
    constant = np.ones(p, dtype=np.bool_)
    remaining = p
    for j in range(p):
        if n > 0 and X[0, j] != X[0, j]:  # NaN in the first row
            constant[j] = False
            remaining -= 1
    i = 1
    while i < n and remaining > 0:
        for j in range(p):
            if constant[j] and X[i, j] != X[0, j]:
                constant[j] = False
                remaining -= 1
        i += 1
    return constant


@njit_kernel
def column_r2(target, resid):
    """Coefficient of determination of each column: ``1 - sum(resid**2) / sum((target - mean)**2)``.

    Parameters
    ----------
    target : ndarray of shape (n, p)
        The regressions' targets, one per column.
    resid : ndarray of shape (n, p)
        Their residuals.

    Returns
    -------
    r2 : ndarray of shape (p,)
        ``nan`` where the target column is constant (or ``n == 0``).

    Notes
    -----
    Two passes over ``target`` (the mean, then the squared deviations from it), so the total sum of
    squares stays accurate when a column's mean is large relative to its spread; no (n, p) temporary.
    """
    n = target.shape[0]
    p = target.shape[1]
    mean = np.zeros(p)
    for i in range(n):
        for j in range(p):
            mean[j] += target[i, j]
    r2 = np.full(p, np.nan)
    if n == 0:
        return r2
    for j in range(p):
        mean[j] /= n
    total = np.zeros(p)
    explained = np.zeros(p)
    for i in range(n):
        for j in range(p):
            deviation = target[i, j] - mean[j]
            total[j] += deviation * deviation
            explained[j] += resid[i, j] * resid[i, j]
    for j in range(p):
        if total[j] > 0:
            r2[j] = 1.0 - explained[j] / total[j]
    return r2


@njit_parallel
def gcm_linear_products(x_resid_scaled, resid, beta):
    """In-sample GCM residual products of every feature, from one OLS fit.

    Parameters
    ----------
    x_resid_scaled : ndarray of shape (n, p)
        Column ``j`` is the residual ``e_j`` of feature ``j`` regressed on the
        other columns, ``X G e_j / G_jj`` with ``G = (X'X)^{-1}``.
    resid : ndarray of shape (n,)
        Residuals ``y - X beta_hat`` of the full OLS fit.
    beta : ndarray of shape (p,)
        Coefficients ``beta_hat`` of the full fit, aligned with the columns of
        ``x_resid_scaled``.

    Returns
    -------
    products : ndarray of shape (n, p)
        ``products[i, j] = e_ij * (resid[i] + beta[j] * e_ij)``.

    Notes
    -----
    The residual of ``y`` under the OLS refit without column ``j`` is
    ``resid + beta[j] * e_j`` (THEORY.md section 1), so the GCM product of
    Shah & Peters (2020) needs no refit. The ``prange`` runs over observations;
    rows are independent, so the result does not depend on the thread count.
    """
    n = resid.shape[0]
    p = beta.shape[0]
    products = np.empty((n, p))
    for i in prange(n):
        for j in range(p):
            e = x_resid_scaled[i, j]
            products[i, j] = e * (resid[i] + beta[j] * e)
    return products


@njit_parallel
def group_drop_losses(y, pred, xg_cols, shift_vec, loss_code):
    """Losses of the OLS refit without a group of columns, from a single fit.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Observed responses on the evaluation set.
    pred : ndarray of shape (n,)
        Predictions of the full OLS fit on the evaluation set.
    xg_cols : ndarray of shape (n, s)
        ``X_eval @ G[:, S]`` for the group ``S`` of ``s`` columns, with
        ``G = (X'X)^{-1}`` from the training design.
    shift_vec : ndarray of shape (s,)
        ``G[S, S]^{-1} beta_hat[S]``, computed by the caller.
    loss_code : int
        :data:`LOSS_SQUARED` (0) or :data:`LOSS_ABSOLUTE` (1).

    Returns
    -------
    losses : ndarray of shape (n,)
        Loss of each observation under the model refitted without ``S``.

    Notes
    -----
    The refit without ``S`` predicts ``pred - xg_cols @ shift_vec`` exactly.
    The inner product is summed over the group's columns in order; the
    ``prange`` runs over observations, so the result does not depend on the
    number of threads.
    """
    n = y.shape[0]
    s = shift_vec.shape[0]
    losses = np.empty(n)
    for i in prange(n):
        correction = 0.0
        for k in range(s):
            correction += xg_cols[i, k] * shift_vec[k]
        losses[i] = pointwise_loss(y[i], pred[i] - correction, loss_code)
    return losses
