"""Plain-NumPy twins of the kernels in :mod:`vimp._kernels.linear_nb`.

Every function here has the name, signature and outputs of the kernel it
mirrors, and is written in the most direct vectorised NumPy way, with no regard
for memory or speed (:func:`pap_linear_losses` materialises the ``R x n`` matrix
of losses). They exist to be obviously correct: the tests compare each kernel
with its twin. Floating-point results agree to rounding, not bit for bit, since
the summation order differs.
"""

import numpy as np

from .linear_nb import LOSS_ABSOLUTE, LOSS_SQUARED

__all__ = [
    "derangements_from_pcg64",
    "pcg64_raw",
    "pcg64_states",
    "permutations_from_pcg64",
    "gather_shifted_rows",
    "gcm_linear_products",
    "group_drop_losses",
    "loco_linear_losses",
    "pap_linear_losses",
    "pap_linear_groups",
    "pap_linear_terms",
    "pointwise_loss",
    "residual_products",
]


def pointwise_loss(y, yhat, loss_code):
    """Elementwise loss of predictions.

    Parameters
    ----------
    y : array_like
        Observed responses.
    yhat : array_like
        Predictions, broadcastable against ``y``.
    loss_code : int
        ``LOSS_SQUARED`` (0) or ``LOSS_ABSOLUTE`` (1).

    Returns
    -------
    ndarray
        ``(y - yhat) ** 2`` or ``|y - yhat|``, broadcast; all ``nan`` for an
        unknown code.
    """
    difference = np.asarray(y, dtype=np.float64) - np.asarray(yhat, dtype=np.float64)
    if loss_code == LOSS_SQUARED:
        return difference**2
    if loss_code == LOSS_ABSOLUTE:
        return np.abs(difference)
    return np.full(difference.shape, np.nan)


def pap_linear_losses(y, pred, x_cols, coef, perms, loss_code):
    """Permute-and-predict losses of a linear model (reference).

    Parameters
    ----------
    y : ndarray of shape (n,)
        Observed responses.
    pred : ndarray of shape (n,)
        Predictions on the unpermuted data.
    x_cols : ndarray of shape (n, g)
        The columns of one feature group.
    coef : ndarray of shape (g,)
        Their coefficients.
    perms : ndarray of shape (R, n), int64
        One row permutation per repeat, applied jointly to all ``g`` columns.
    loss_code : int
        ``LOSS_SQUARED`` (0) or ``LOSS_ABSOLUTE`` (1).

    Returns
    -------
    obs_mean_loss : ndarray of shape (n,)
        Loss of each observation averaged over repeats.
    repeat_mean_loss : ndarray of shape (R,)
        Loss of each repeat averaged over observations.
    """
    # (R, n, g) permuted group minus the original group, projected on coef.
    change = (x_cols[perms] - x_cols[np.newaxis, :, :]) @ coef
    permuted_pred = pred[np.newaxis, :] + change
    losses = pointwise_loss(y[np.newaxis, :], permuted_pred, loss_code)
    return losses.mean(axis=0), losses.mean(axis=1)


def pap_linear_terms(y, pred, x_cols, coef, perms, weight, full, loss_code, out=None):
    """Permute-and-predict losses with the sums of their standard error (reference).

    Parameters
    ----------
    y, pred, x_cols, coef, perms, loss_code
        As in :func:`pap_linear_losses`.
    weight : ndarray of shape (n,)
        Observation weights (ones for none).
    full : ndarray of shape (n,)
        Loss of each row without permutation.

    Returns
    -------
    obs_mean_loss, repeat_mean_loss, donor_mean, square_mean, donor_full_mean, donor_weight_mean : ndarrays
        Per-row mean loss, per-repeat mean loss, per-row ``mean_r weight[i] L[r, i]`` over the rows ``i``
        that received the row as donor, per-row mean squared loss, and the donor averages of
        ``weight[i] * full[i]`` and ``weight[i]`` (views of ``out`` where it is given, as the kernel's).
    """
    change = (x_cols[perms] - x_cols[np.newaxis, :, :]) @ coef
    losses = pointwise_loss(y[np.newaxis, :], pred[np.newaxis, :] + change, loss_code)  # (R, n)
    n, n_repeats = len(y), perms.shape[0]
    donor, donor_full, donor_weight = np.zeros(n), np.zeros(n), np.zeros(n)
    for r in range(n_repeats):
        np.add.at(donor, perms[r], weight * losses[r])
        np.add.at(donor_full, perms[r], weight * full)
        np.add.at(donor_weight, perms[r], weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = 1.0 / n_repeats if n_repeats else np.nan
        rows = (losses.mean(axis=0), donor * scale, (losses**2).mean(axis=0), donor_full * scale,
                donor_weight * scale)
    if out is not None:  # the kernel's layout: obs, square, donor, donor_full, donor_weight
        for k, values in zip((0, 2, 1, 3, 4), rows):
            out[k] = values
        rows = (out[0], out[2], out[1], out[3], out[4])
    return rows[0], losses.mean(axis=1), *rows[1:]


def pap_linear_groups(y, pred, X, coef, col_start, col_index, perms, states, derangements, block_words,
                      width, full, loss_code, block, repeat_mean):
    """:func:`vimp._kernels.linear_nb.pap_linear_groups` group by group through :func:`pap_linear_terms`
    and the NumPy twins of the PCG64 draws (reference)."""
    n = len(y)
    n_groups = len(col_start) - 1
    n_repeats = repeat_mean.shape[1]
    drawn = np.ones(n_groups, dtype=bool)
    for g in range(n_groups):
        cols = col_index[col_start[g]:col_start[g + 1]]
        if len(states):
            own = np.empty((1, n_repeats, n), dtype=np.int64)
            if derangements:
                derangements_from_pcg64(states[g:g + 1], n, n_repeats, block_words, own)
            elif not permutations_from_pcg64(states[g:g + 1], n, n_repeats, width, own):
                drawn[g] = False
                continue
            group_perms = own[0]
        else:
            group_perms = perms
        terms = pap_linear_terms(y, pred, np.ascontiguousarray(X[:, cols]), coef[cols], group_perms,
                                 np.ones(n), full, loss_code, block[g])
        repeat_mean[g] = terms[1]
    return drawn


def pap_se_sums(full, other, donor, square, donor_full, donor_weight, weight, n_rep, slope, offset):
    """The two sums of the permute-and-predict standard error (reference).

    Same inputs and outputs as :func:`vimp._kernels.linear_nb.pap_se_sums`.
    """
    shift = slope * full + offset
    influence = weight * (other - shift) + donor - slope * donor_full - offset * donor_weight
    projection = float(np.sum(influence**2))
    correction = float(np.sum(weight**2 * (square - 2.0 * shift * other + shift**2) / n_rep))
    return projection, correction


def column_extremes(A, high, low):
    """:func:`vimp._kernels.linear_nb.column_extremes` in NumPy (reference)."""
    if A.shape[0]:
        high[:], low[:] = np.max(A, axis=0), np.min(A, axis=0)
    else:
        high[:], low[:] = -np.inf, np.inf
    return high, low


def gather_shifted_rows(X, rows, shift, out, lo, hi, total):
    """:func:`vimp._kernels.linear_nb.gather_shifted_rows` in NumPy (reference)."""
    A = np.asarray(X, dtype=float)[rows]
    if len(rows):
        lo[:], hi[:] = A.min(axis=0), A.max(axis=0)
    else:
        lo[:], hi[:] = np.inf, -np.inf
    out[:] = A - shift
    total[:] = out.sum(axis=0)
    return out


def pap_se_moments_groups(full, other_rows, block, live, n_rep, slope, offset):
    """:func:`vimp._kernels.linear_nb.pap_se_moments_groups` group by group through :func:`pap_se_moments`
    (reference)."""
    weight = np.ones(len(full))
    return np.array([pap_se_moments(full, other_rows[g], block[j, 2], block[j, 1], block[j, 3], block[j, 4],
                                    weight, n_rep, slope[g], offset[g]) for j, g in enumerate(live)],
                    dtype=float).reshape(len(live), 6)


def pap_se_moments(full, other, donor, square, donor_full, donor_weight, weight, n_rep, slope, offset):
    """:func:`pap_se_sums` with the skewness and degrees-of-freedom moments (reference).

    Same inputs and outputs as :func:`vimp._kernels.linear_nb.pap_se_moments`.
    """
    shift = slope * full + offset
    h = weight * (other - shift) + donor - slope * donor_full - offset * donor_weight
    e = weight**2 * (square - 2.0 * shift * other + shift**2) / n_rep
    u = h * h - e
    c = h - h.mean() if h.size else h
    d = u - u.mean() if u.size else u
    return (float(np.sum(h * h)), float(np.sum(e)), float(np.sum(c * c)), float(np.sum(c**3)),
            float(np.sum(u)), float(np.sum(d * d)))


def loss_difference_sums(learner, learner_cols, source, source_cols, fold, mu, price, weight):
    """GCM's nuisance-check sums (reference).

    Same inputs and outputs as :func:`vimp._kernels.linear_nb.loss_difference_sums`.
    """
    l2 = learner[:, learner_cols] ** 2
    b2 = (source[:, source_cols] - mu[fold]) ** 2
    d = l2 - (1.0 + price[fold]) * b2
    w = weight[:, None]
    mean = np.sum(w * d, axis=0)
    return (np.sum(w * l2, axis=0), np.sum(w * b2, axis=0), mean, np.sqrt(np.sum((w * (d - mean)) ** 2, axis=0)))


def loss_difference_summary(other, full):
    """Loss differences and their column summaries (reference).

    Same inputs and outputs as :func:`vimp._kernels.linear_nb.loss_difference_summary`.
    """
    diff = other - full[:, None]
    n = diff.shape[0]
    finite = bool(np.all(np.isfinite(other)) and np.all(np.isfinite(full)))
    if n == 0:
        k = diff.shape[1]
        return (diff, np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.inf), np.full(k, -np.inf), 0.0, 0.0,
                finite)
    return (diff, diff.mean(axis=0), diff.std(axis=0) / np.sqrt(n), diff.min(axis=0), diff.max(axis=0),
            float(np.max(np.abs(other), initial=0.0)), float(np.max(np.abs(full), initial=0.0)), finite)


def loco_linear_losses(y, pred, xg, shift, loss_code):
    """Losses of every drop-one OLS refit from a single fit (reference).

    Parameters
    ----------
    y : ndarray of shape (n,)
        Observed responses.
    pred : ndarray of shape (n,)
        Predictions of the full fit.
    xg : ndarray of shape (n, p)
        ``X_eval @ (X'X)^{-1}``.
    shift : ndarray of shape (p,)
        ``beta_hat / diag((X'X)^{-1})``.
    loss_code : int
        ``LOSS_SQUARED`` (0) or ``LOSS_ABSOLUTE`` (1).

    Returns
    -------
    losses : ndarray of shape (n, p)
        Loss of observation ``i`` under the refit without column ``j``.
    """
    reduced_pred = pred[:, np.newaxis] - xg * shift[np.newaxis, :]
    return pointwise_loss(y[:, np.newaxis], reduced_pred, loss_code)


def loco_linear_losses_into(y, pred, xg, shift, loss_code, out, rows):
    """:func:`loco_linear_losses` written into ``out[rows]`` (reference)."""
    out[rows] = loco_linear_losses(y, pred, xg, shift, loss_code)
    return out


def drop_one_residuals_into(V, residual, x_factor, y_factor, x_out, y_out, rows):
    """Single-column OLS residuals written into rows ``rows`` (reference)."""
    x_out[rows] = V * x_factor
    y = V * y_factor
    y += residual[:, None]
    y_out[rows] = y
    return x_out, y_out


def drop_one_residuals_extremes_into(V, residual, x_factor, y_factor, x_out, y_out, rows, extremes):
    """:func:`drop_one_residuals_into` plus the running column extremes of both outputs (reference)."""
    drop_one_residuals_into(V, residual, x_factor, y_factor, x_out, y_out, rows)
    if len(rows):
        for k, block in ((0, x_out[rows]), (2, y_out[rows])):
            extremes[k] = np.maximum(extremes[k], block.max(axis=0))
            extremes[k + 1] = np.minimum(extremes[k + 1], block.min(axis=0))
    return extremes


def residual_products(x_resid, y_resid, out=None):
    """GCM residual products with their column means and 1/n sds (reference).

    Parameters
    ----------
    x_resid : ndarray of shape (n, p)
        Feature residuals.
    y_resid : ndarray of shape (n, p)
        Response residuals, one column per feature.

    Returns
    -------
    products : ndarray of shape (n, p)
        ``x_resid * y_resid``.
    mean : ndarray of shape (p,)
        Column means.
    sd : ndarray of shape (p,)
        Column standard deviations with the ``1/n`` denominator.
    """
    products = np.multiply(x_resid, y_resid, out=out)
    return products, products.mean(axis=0), products.std(axis=0, ddof=0)


def constant_columns(X):
    """Which columns of ``X`` take a single value (reference); see
    :func:`vimp._kernels.linear_nb.constant_columns`."""
    X = np.asarray(X, dtype=float)
    return np.all(X == X[:1], axis=0) & (np.all(~np.isnan(X[:1]), axis=0) if len(X) else True)


def column_r2(target, resid):
    """Coefficient of determination of each column (reference); see :func:`vimp._kernels.linear_nb.column_r2`."""
    target = np.asarray(target, dtype=float)
    if target.shape[0] == 0:
        return np.full(target.shape[1], np.nan)
    total = np.sum((target - target.mean(axis=0)) ** 2, axis=0)
    explained = np.sum(np.asarray(resid, dtype=float) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1.0 - explained / np.where(total > 0, total, 1.0), np.nan)


def gcm_linear_products(x_resid_scaled, resid, beta):
    """In-sample GCM residual products from one OLS fit (reference).

    Parameters
    ----------
    x_resid_scaled : ndarray of shape (n, p)
        Feature residuals ``X G e_j / G_jj``, one column per feature.
    resid : ndarray of shape (n,)
        Residuals of the full fit.
    beta : ndarray of shape (p,)
        Coefficients of the full fit.

    Returns
    -------
    products : ndarray of shape (n, p)
        ``e_ij * (resid[i] + beta[j] * e_ij)``.
    """
    y_resid_reduced = resid[:, np.newaxis] + beta[np.newaxis, :] * x_resid_scaled
    return x_resid_scaled * y_resid_reduced


def group_drop_losses(y, pred, xg_cols, shift_vec, loss_code):
    """Losses of the OLS refit without a group of columns (reference).

    Parameters
    ----------
    y : ndarray of shape (n,)
        Observed responses.
    pred : ndarray of shape (n,)
        Predictions of the full fit.
    xg_cols : ndarray of shape (n, s)
        ``X_eval @ G[:, S]``.
    shift_vec : ndarray of shape (s,)
        ``G[S, S]^{-1} beta_hat[S]``.
    loss_code : int
        ``LOSS_SQUARED`` (0) or ``LOSS_ABSOLUTE`` (1).

    Returns
    -------
    losses : ndarray of shape (n,)
        Loss of each observation under the refit without ``S``.
    """
    return pointwise_loss(y, pred - xg_cols @ shift_vec, loss_code)


def _bounded_draw(stream, bound):
    """Lemire's exact bounded integer in ``[0, bound)`` from an iterator of 32-bit words (reference);
    None when the words run out."""
    threshold = (2**32) % bound
    for x in stream:
        m = x * bound
        if m % 2**32 >= threshold:
            return m >> 32
    return None


def permutations_from_words(words, n):
    """Fisher–Yates permutations from 32-bit words with Lemire's rejection (reference, plain Python).

    Same inputs and outputs as :func:`vimp._kernels.random_nb.permutations_from_words`, written with
    Python integers (so no fixed-width arithmetic is involved) for small test sizes.
    """
    words = np.asarray(words, dtype=np.uint64)
    n_perms = words.shape[0]
    perms = np.tile(np.arange(n, dtype=np.int64), (n_perms, 1))
    exhausted = np.zeros(n_perms, dtype=bool)
    for r in range(n_perms):
        # each 64-bit value gives two 32-bit words, its low half first
        stream = iter(half for v in words[r] for half in (int(v) % 2**32, int(v) // 2**32))
        perm = list(range(n))
        for i in range(n - 1, 0, -1):
            j = _bounded_draw(stream, i + 1)
            if j is None:
                exhausted[r] = True
                break
            perm[i], perm[j] = perm[j], perm[i]
        perms[r] = perm
    return perms, exhausted


def derangements_from_stream(words, n, count):
    """Uniform derangements by Fisher–Yates restarted at the first fixed point (reference, plain Python).

    Same inputs and outputs as :func:`vimp._kernels.random_nb.derangements_from_stream`, written with
    Python integers: attempt after attempt reads the stream's 32-bit words (low half of each 64-bit value
    first, as :func:`permutations_from_words`), an attempt stops at the first position ``i`` whose final
    value is ``i``, and the derangements follow one another in the stream.
    """
    words = np.asarray(words, dtype=np.uint64).reshape(-1)
    perms = np.tile(np.arange(n, dtype=np.int64), (count, 1))
    if n <= 1:
        return perms, (count if n == 0 else 0), 0
    halves = [half for v in words for half in (int(v) % 2**32, int(v) // 2**32)]
    position = 0

    def stream():
        nonlocal position
        while position < len(halves):
            position += 1
            yield halves[position - 1]

    source = stream()
    for r in range(count):
        while True:
            perm = list(range(n))
            fixed = False
            for i in range(n - 1, 0, -1):
                j = _bounded_draw(source, i + 1)
                if j is None:
                    return perms, r, position
                perm[i], perm[j] = perm[j], perm[i]
                if perm[i] == i:
                    fixed = True
                    break
            if not fixed and perm[0] != 0:
                perms[r] = perm
                break
    return perms, count, position


# ------------------------------------------------------------------------------------------------ PCG64
# Twins of the PCG64 kernels of :mod:`vimp._kernels.random_nb`: NumPy's own PCG64 and vimp's own draws.
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_MASK64 = (1 << 64) - 1
_MASK128 = (1 << 128) - 1


def _generator(state):
    """A Generator on the PCG64 state given as four uint64 (state high, low, increment high, low)."""
    hi, lo, inc_hi, inc_lo = (int(v) for v in state)
    bit_generator = np.random.PCG64()
    bit_generator.state = {"bit_generator": "PCG64", "state": {"state": (hi << 64) | lo, "inc": (inc_hi << 64) | inc_lo},
                           "has_uint32": 0, "uinteger": 0}
    return np.random.Generator(bit_generator)


def _halves(value):
    return [value >> 64, value & _MASK64]


def pcg64_states(words):
    """:func:`vimp._kernels.random_nb.pcg64_states` in Python integers (``pcg64_set_seed``)."""
    out = np.empty((len(words), 4), dtype=np.uint64)
    for r, row in enumerate(words):
        v = [int(row[2 * i]) | (int(row[2 * i + 1]) << 32) for i in range(4)]
        seed = (v[0] << 64) | v[1]
        inc = (((v[2] << 64) | v[3]) << 1 | 1) & _MASK128
        state = ((inc + seed) * _PCG_MULT + inc) & _MASK128
        out[r] = _halves(state) + _halves(inc)
    return out


def pcg64_raw(state, count):
    """:func:`vimp._kernels.random_nb.pcg64_raw` through NumPy's PCG64."""
    bit_generator = _generator(state).bit_generator
    out = bit_generator.random_raw(count)
    after = bit_generator.state["state"]
    return out, np.array(_halves(after["state"]) + _halves(after["inc"]), dtype=np.uint64)


def permutations_from_pcg64(states, n, count, width, out):
    """:func:`vimp._kernels.random_nb.permutations_from_pcg64` through NumPy's PCG64 and
    :func:`permutations_from_words` (False where a row runs out of words)."""
    for s, state in enumerate(states):
        words = _generator(state).bit_generator.random_raw((count, width))
        perms, exhausted = permutations_from_words(words, n)
        if exhausted.any():
            return False
        out[s] = perms
    return True


def derangements_from_pcg64(states, n, count, block_words, out):
    """:func:`vimp._kernels.random_nb.derangements_from_pcg64` through NumPy's PCG64 and
    :func:`derangements_from_stream`, block by block as :func:`vimp._split._draw_derangements` draws."""
    for s, state in enumerate(states):
        bit_generator = _generator(state).bit_generator
        done = 0
        while done < count:
            words = bit_generator.random_raw(int(block_words[count - done]))
            drawn, got, _ = derangements_from_stream(words, n, count - done)
            out[s, done:done + got] = drawn[:got]
            done += got
    return out
