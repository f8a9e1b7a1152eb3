"""Compiled kernels of the Monte Carlo fast path (:mod:`vimp.simulation._fast`), with their NumPy twins.

:func:`pap_replicate_stats` computes, for every feature of one replicate at once, what
:class:`vimp.PermutationImportance` computes from the per-observation terms of an OLS model under
squared-error loss and unit weights: the mean loss difference, its plain standard error and the
dependence-corrected standard error, skewness and degrees of freedom of
:func:`vimp._inference.permutation_mean_se` (slope 1, offset the mean difference). The twin
:func:`pap_replicate_stats_reference` computes the same numbers with NumPy (the tests compare them, and
the kernel's Python function, to 1e-12).

The chunk kernels run a statistic for every replicate of a chunk in one call (arrays stacked over the
replicates): :func:`ols_chunk` (the OLS fits and what the estimators share), :func:`drop_chunk` (LOCO's
drop-one refits and GCM), :func:`pap_chunk` (PaP, its permutations from the PCG64 states of
:mod:`vimp._kernels.random_nb`) and :func:`loco_permute_chunk` (LOCO's permute-and-refit, with
:func:`generator_permutation`, NumPy's ``Generator.permutation``); each has a ``*_reference`` twin in
NumPy, compared in ``tests/test_simulation_fast.py``. :func:`seed_sequence_words` is NumPy's
``SeedSequence`` hash and :func:`spectral_condition` the fitter's condition estimate, compiled.
"""

import math

import numpy as np

from ._config import njit_kernel
from .random_nb import _pcg_output, _pcg_step, derangements_from_pcg64, permutations_from_pcg64

__all__ = ["drop_chunk", "drop_chunk_reference", "generator_permutation", "loco_permute_chunk",
           "loco_permute_chunk_reference", "ols_chunk", "ols_chunk_reference", "pap_chunk",
           "pap_chunk_reference", "spectral_condition", "drop_replicate_stats", "drop_replicate_stats_reference", "pap_replicate_stats",
           "pap_replicate_stats_reference", "seed_sequence_words", "seed_sequence_words_reference"]


@njit_kernel
def pap_replicate_stats(y, pred, full, x_cols, coef, perms):
    """PaP statistics of every feature of one replicate (OLS, squared error, unit weights).

    Parameters
    ----------
    y, pred, full : ndarrays of shape (n,)
        Evaluation responses, the model's predictions and its squared errors.
    x_cols : ndarray of shape (n, k)
        The evaluation columns of the ``k`` features measured.
    coef : ndarray of shape (k,)
        Their coefficients.
    perms : int64 ndarray of shape (k, R, n)
        Each feature's ``R`` row permutations (row ``i`` takes the column of row ``perms[g, r, i]``).

    Returns
    -------
    raw, raw_se, se, skew, dof : ndarrays of shape (k,)
        Mean loss difference, ``sd / sqrt(n)`` of the differences (1/n variance), the standard error,
        skewness and Satterthwaite degrees of freedom of ``permutation_mean_se``.
    diff_min, diff_max : ndarrays of shape (k,)
        Extremes of each feature's per-row differences.
    other_absmax : float
        Largest permuted mean loss (for the rounding-level check of the estimators).
    """
    n = y.shape[0]
    k = x_cols.shape[1]
    n_rep = perms.shape[1]
    raw = np.empty(k)
    raw_se = np.empty(k)
    se = np.empty(k)
    skew = np.empty(k)
    dof = np.empty(k)
    diff_min = np.empty(k)
    diff_max = np.empty(k)
    other_absmax = 0.0
    other = np.empty(n)
    square = np.empty(n)
    donor = np.empty(n)
    donor_full = np.empty(n)
    influence = np.empty(n)
    u = np.empty(n)
    scale = 1.0 / n_rep
    cx = np.empty(n)
    donors = np.empty((n, 2))  # the two scattered sums side by side (one cache line per donor)
    for g in range(k):
        c = coef[g]
        for i in range(n):
            other[i] = 0.0
            square[i] = 0.0
            donors[i, 0] = 0.0
            donors[i, 1] = 0.0
            cx[i] = c * x_cols[i, g]  # contiguous: the same products as c * x_cols[d, g] read in the loop
        for r in range(n_rep):
            for i in range(n):
                d = perms[g, r, i]
                difference = y[i] - (pred[i] + (cx[d] - cx[i]))
                loss = difference * difference
                other[i] += loss
                square[i] += loss * loss
                donors[d, 0] += loss
                donors[d, 1] += full[i]
        for i in range(n):
            donor[i] = donors[i, 0]
            donor_full[i] = donors[i, 1]
        total = 0.0
        low = np.inf
        high = -np.inf
        for i in range(n):
            other[i] *= scale
            square[i] *= scale
            donor[i] *= scale
            donor_full[i] *= scale
            if abs(other[i]) > other_absmax:
                other_absmax = abs(other[i])
            diff = other[i] - full[i]
            total += diff
            low = min(low, diff)
            high = max(high, diff)
        mean = total / n
        spread = 0.0
        for i in range(n):
            deviation = (other[i] - full[i]) - mean
            spread += deviation * deviation
        raw[g] = mean
        raw_se[g] = math.sqrt(spread / n) / math.sqrt(n)
        diff_min[g] = low
        diff_max[g] = high
        projection = 0.0
        correction = 0.0
        h_total = 0.0
        for i in range(n):
            shift = full[i] + mean
            h = (other[i] - shift) + donor[i] - donor_full[i] - mean
            noise = (square[i] - 2.0 * shift * other[i] + shift * shift) / n_rep
            influence[i] = h
            u[i] = h * h - noise
            projection += h * h
            correction += noise
            h_total += h
        variance = projection - correction
        if not variance > 0:
            variance = projection
        lost = 4.0 - 1.0 / n_rep
        if n > lost + 1.0:
            variance *= n / (n - lost)
        se[g] = math.sqrt(variance) / n
        h_mean = h_total / n
        second = 0.0
        third = 0.0
        u_total = 0.0
        for i in range(n):
            h = influence[i] - h_mean
            second += h * h
            third += h * h * h
            u_total += u[i]
        skew[g] = third / second**1.5 if second > 0 else 0.0
        u_mean = u_total / n
        u_spread = 0.0
        for i in range(n):
            u_spread += (u[i] - u_mean) * (u[i] - u_mean)
        u_spread = u_spread / (n - 1) * n if n > 1 else 0.0
        if u_total > 0 and u_spread > 0:
            dof[g] = max(2.0 * u_total * u_total / u_spread, 1.0)
        else:
            dof[g] = np.inf
    return raw, raw_se, se, skew, dof, diff_min, diff_max, other_absmax


def pap_replicate_stats_reference(y, pred, full, x_cols, coef, perms):
    """:func:`pap_replicate_stats` in NumPy (the twin): the same inputs and outputs."""
    n = y.shape[0]
    n_rep = perms.shape[1]
    k = x_cols.shape[1]
    others, squares, donors, donor_fulls = (np.empty((k, n)) for _ in range(4))
    for g in range(k):
        change = coef[g] * x_cols[perms[g], g] - coef[g] * x_cols[:, g][None, :]
        losses = (y[None, :] - (pred[None, :] + change)) ** 2  # (R, n)
        others[g] = losses.mean(axis=0)
        squares[g] = (losses**2).mean(axis=0)
        donors[g] = np.bincount(perms[g].ravel(), weights=losses.ravel(), minlength=n) / n_rep
        donor_fulls[g] = np.bincount(perms[g].ravel(), weights=np.tile(full, n_rep), minlength=n) / n_rep
    diff = others - full[None, :]
    raw = diff.mean(axis=1)
    raw_se = diff.std(axis=1) / np.sqrt(n)
    shift = full[None, :] + raw[:, None]
    influence = (others - shift) + donors - donor_fulls - raw[:, None]
    noise = (squares - 2.0 * shift * others + shift * shift) / n_rep
    projection = np.sum(influence**2, axis=1)
    variance = projection - np.sum(noise, axis=1)
    variance = np.where(variance > 0, variance, projection)
    lost = 4.0 - 1.0 / n_rep
    if n > lost + 1.0:
        variance = variance * (n / (n - lost))
    se = np.sqrt(variance) / n
    h = influence - influence.mean(axis=1, keepdims=True)
    second = np.sum(h**2, axis=1)
    skew = np.where(second > 0, np.sum(h**3, axis=1) / np.where(second > 0, second, 1.0) ** 1.5, 0.0)
    u = influence**2 - noise
    total = np.sum(u, axis=1)
    spread = np.var(u, axis=1, ddof=1) * n if n > 1 else np.zeros(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = np.where((total > 0) & (spread > 0), np.maximum(2.0 * total**2 / spread, 1.0), np.inf)
    return (raw, raw_se, se, skew, dof, diff.min(axis=1), diff.max(axis=1),
            float(np.max(np.abs(others))) if others.size else 0.0)


# ------------------------------------------------------------------------------------------ seeding
# numpy.random.SeedSequence's hash (O'Neill's seed_seq design as NumPy implements it), on 32-bit words
# held in uint64 and masked after each product, so that Numba and NumPy compute it alike.
_MASK32 = 0xFFFFFFFF
_INIT_A = 0x43B0D7E5
_MULT_A = 0x931E8875
_INIT_B = 0x8B51F9DD
_MULT_B = 0x58F38DED
_MIX_MULT_L = 0xCA01F9DD
_MIX_MULT_R = 0x4973F715
_XSHIFT = 16
_POOL = 4


@njit_kernel
def seed_sequence_words(entropy, n_words):
    """``SeedSequence(...).generate_state(n_words, uint32)`` for each row of assembled entropy words.

    Parameters
    ----------
    entropy : uint64 ndarray of shape (m, L), L >= 4
        Each row the assembled entropy of one ``SeedSequence`` (the run entropy as 32-bit words, padded
        with zeros to the pool size of 4 when there is a spawn key, then the spawn key's words), each
        value below 2**32.
    n_words : int
        32-bit words of state to generate per row.

    Returns
    -------
    uint64 ndarray of shape (m, n_words)
        The 32-bit words (as NumPy's ``generate_state(n_words, np.uint32)``).
    """
    m, length = entropy.shape
    out = np.empty((m, n_words), dtype=np.uint64)
    mask = np.uint64(_MASK32)
    mixer = np.empty(_POOL, dtype=np.uint64)
    for row in range(m):
        hash_const = np.uint64(_INIT_A)
        for i in range(_POOL):
            value = entropy[row, i] if i < length else np.uint64(0)
            value = value ^ hash_const
            hash_const = (hash_const * np.uint64(_MULT_A)) & mask
            value = (value * hash_const) & mask
            value = value ^ (value >> np.uint64(_XSHIFT))
            mixer[i] = value
        for i_src in range(_POOL):
            for i_dst in range(_POOL):
                if i_src != i_dst:
                    value = mixer[i_src] ^ hash_const
                    hash_const = (hash_const * np.uint64(_MULT_A)) & mask
                    value = (value * hash_const) & mask
                    value = value ^ (value >> np.uint64(_XSHIFT))
                    mixed = (((np.uint64(_MIX_MULT_L) * mixer[i_dst]) & mask) + np.uint64(1 << 32)
                             - ((np.uint64(_MIX_MULT_R) * value) & mask)) & mask  # no wrap-around
                    mixer[i_dst] = mixed ^ (mixed >> np.uint64(_XSHIFT))
        for i_src in range(_POOL, length):
            for i_dst in range(_POOL):
                value = entropy[row, i_src] ^ hash_const
                hash_const = (hash_const * np.uint64(_MULT_A)) & mask
                value = (value * hash_const) & mask
                value = value ^ (value >> np.uint64(_XSHIFT))
                mixed = (((np.uint64(_MIX_MULT_L) * mixer[i_dst]) & mask) + np.uint64(1 << 32)
                             - ((np.uint64(_MIX_MULT_R) * value) & mask)) & mask  # no wrap-around
                mixer[i_dst] = mixed ^ (mixed >> np.uint64(_XSHIFT))
        hash_const = np.uint64(_INIT_B)
        for i_dst in range(n_words):
            value = mixer[i_dst % _POOL] ^ hash_const
            hash_const = (hash_const * np.uint64(_MULT_B)) & mask
            value = (value * hash_const) & mask
            out[row, i_dst] = value ^ (value >> np.uint64(_XSHIFT))
    return out


def seed_sequence_words_reference(entropy, n_words):
    """:func:`seed_sequence_words` through :class:`numpy.random.SeedSequence` itself (the twin).

    Each row is read back as the run entropy (its first four words, little-endian: the padding zeros
    are high words of zero) and the spawn key (one key per further word, each below 2**32), which is
    how the fast path lays the rows out.
    """
    out = np.empty((entropy.shape[0], n_words), dtype=np.uint64)
    for row, words in enumerate(entropy):
        run = sum(int(words[i]) << (32 * i) for i in range(_POOL))
        key = tuple(int(w) for w in words[_POOL:])
        seq = np.random.SeedSequence(run, spawn_key=key)
        out[row] = seq.generate_state(n_words, np.uint32).astype(np.uint64)
    return out


# --------------------------------------------------------------------------------------- LOCO and GCM
@njit_kernel
def drop_replicate_stats(y, pred, full, V, cols, shift, inv_diag, x_eval, x_mean, y_base, price):
    """LOCO (drop-one refits) and GCM statistics of the features ``cols`` of one replicate (OLS).

    Parameters
    ----------
    y, pred, full : ndarrays of shape (n,)
        Evaluation responses, the full model's predictions and squared errors.
    V : ndarray of shape (n, p)
        ``(X_eval - center) @ G`` (``G`` the inverse centred Gram matrix of the training design).
    cols : int64 ndarray of shape (k,)
    shift, inv_diag : ndarrays of shape (p,)
        ``beta / diag(G)`` and ``1 / diag(G)``.
    x_eval : ndarray of shape (n, p)
        Evaluation features; ``x_mean`` (p,) their training means and ``y_base`` (n,) ``y - mean(y_train)``:
        the mean baselines of GCM's nuisance check, with the allowance ``price`` (inf: no check).

    Returns
    -------
    loco_raw, loco_se : ndarrays of shape (k,)
        Mean of the loss differences and its ``sd / sqrt(n)`` (LOCO's perturbed test needs nothing more:
        :func:`vimp._inference.perturbed_test_from_draws`).
    diff_min, diff_max : ndarrays of shape (k,)
        Extremes of the loss differences; ``other_absmax`` the largest reduced loss.
    gcm_raw, gcm_se : ndarrays of shape (k,)
        Mean residual product and its ``sd / sqrt(n)``.
    x_resid_absmax, x_spread : ndarrays of shape (k,)
        Largest absolute x-residual and the range of the evaluation column (collinearity check).
    nuisance_z : float
        Largest z statistic of the nuisance check (x- and y-regressions against the mean baselines).
    """
    n = y.shape[0]
    k = cols.shape[0]
    out = np.empty((8, k))
    other_absmax = 0.0
    nuisance_z = -np.inf
    diff = np.empty(n)
    prod = np.empty(n)
    l2x = np.empty(n)
    l2y = np.empty(n)
    b2x = np.empty(n)
    b2y = np.empty(n)
    check = price < np.inf
    for g in range(k):
        c = cols[g]
        s_diff = 0.0
        s_prod = 0.0
        low = np.inf
        high = -np.inf
        x_abs = 0.0
        x_low = np.inf
        x_high = -np.inf
        for i in range(n):
            error = y[i] - (pred[i] - V[i, c] * shift[c])
            other = error * error
            if other > other_absmax:
                other_absmax = other
            d = other - full[i]
            diff[i] = d
            s_diff += d
            low = min(low, d)
            high = max(high, d)
            xr = V[i, c] * inv_diag[c]
            yr = V[i, c] * shift[c]
            yr += y[i] - pred[i]
            prod[i] = xr * yr
            s_prod += prod[i]
            x_abs = max(x_abs, abs(xr))
            x_low = min(x_low, x_eval[i, c])
            x_high = max(x_high, x_eval[i, c])
            if check:
                bx = x_eval[i, c] - x_mean[c]
                l2x[i] = xr * xr
                b2x[i] = bx * bx
                l2y[i] = yr * yr
                b2y[i] = y_base[i] * y_base[i]
        m_diff = s_diff / n
        m_prod = s_prod / n
        v_diff = 0.0
        v_prod = 0.0
        for i in range(n):
            v_diff += (diff[i] - m_diff) ** 2
            v_prod += (prod[i] - m_prod) ** 2
        root = math.sqrt(n)
        out[0, g] = m_diff
        out[1, g] = math.sqrt(v_diff / n) / root
        out[2, g] = low
        out[3, g] = high
        out[4, g] = m_prod
        out[5, g] = math.sqrt(v_prod / n) / root
        out[6, g] = x_abs
        out[7, g] = x_high - x_low
        if check:
            for which in range(2):
                ll = l2x if which == 0 else l2y
                bb = b2x if which == 0 else b2y
                s_d = 0.0
                s_l = 0.0
                s_b = 0.0
                for i in range(n):
                    s_d += ll[i] - (1.0 + price) * bb[i]
                    s_l += ll[i]
                    s_b += bb[i]
                m_d = s_d / n
                v_d = 0.0
                for i in range(n):
                    v_d += (ll[i] - (1.0 + price) * bb[i] - m_d) ** 2
                se = math.sqrt(v_d / n) / root
                scale = s_l / n + s_b / n
                if not scale > 0:
                    scale = 1.0
                z = m_d / se if se > 1e-12 * scale else 0.0
                nuisance_z = max(nuisance_z, z)
    return out, other_absmax, nuisance_z


def drop_replicate_stats_reference(y, pred, full, V, cols, shift, inv_diag, x_eval, x_mean, y_base, price):
    """:func:`drop_replicate_stats` in NumPy (the twin): the same inputs and outputs."""
    n = y.shape[0]
    Vc = V[:, cols]
    other = (y[:, None] - (pred[:, None] - Vc * shift[cols])) ** 2
    diff = other - full[:, None]
    x_res = Vc * inv_diag[cols]
    y_res = Vc * shift[cols] + (y - pred)[:, None]
    prod = x_res * y_res
    root = np.sqrt(n)
    out = np.vstack([diff.mean(axis=0), diff.std(axis=0) / root, diff.min(axis=0), diff.max(axis=0),
                     prod.mean(axis=0), prod.std(axis=0) / root, np.max(np.abs(x_res), axis=0),
                     np.ptp(x_eval[:, cols], axis=0)])
    nuisance_z = -np.inf
    if price < np.inf:
        base_x = x_eval[:, cols] - x_mean[cols]
        for learner, base in ((x_res, base_x), (y_res, np.repeat(y_base[:, None], len(cols), axis=1))):
            d = learner**2 - (1.0 + price) * base**2
            se = d.std(axis=0) / root
            scale = (learner**2).mean(axis=0) + (base**2).mean(axis=0)
            scale = np.where(scale > 0, scale, 1.0)
            z = np.where(se > 1e-12 * scale, d.mean(axis=0) / np.where(se > 0, se, 1.0), 0.0)
            nuisance_z = max(nuisance_z, float(np.max(z)))
    return out, float(np.max(other)) if other.size else 0.0, nuisance_z


# ------------------------------------------------------------------------------------------ whole chunks
@njit_kernel
def _ols_fit(X, y, intercept, threshold, max_condition, norm_low, norm_high, A, b, center, work, beta, G, want_G):
    """One OLS fit of :func:`ols_chunk` (see there): writes ``center``, ``beta`` and, with ``want_G``, ``G``;
    returns ``(good, y_center)``. ``A`` (n, p), ``b`` (n,) and ``work`` (3 p + 3, p) are scratch space."""
    n, p = X.shape
    gram = work[0:p]
    R = work[p:2 * p]
    R_inv = work[2 * p:3 * p]
    atb = work[3 * p]
    norms = work[3 * p + 1]
    solution = work[3 * p + 2]
    y_center = 0.0
    if intercept:
        for i in range(n):
            y_center += y[i]
        y_center /= n
    for j in range(p):
        c = 0.0
        if intercept:
            for i in range(n):
                c += X[i, j]
            c /= n
        center[j] = c
    for i in range(n):
        for j in range(p):
            A[i, j] = X[i, j] - center[j]
        b[i] = y[i] - y_center
    gram[:, :] = np.dot(A.T, A)  # BLAS
    atb[:] = np.dot(A.T, b)
    for j in range(p):
        for l in range(j, p):
            if not np.isfinite(gram[j, l]):
                return False, y_center
            gram[l, j] = gram[j, l]  # exactly symmetric
    for j in range(p):
        norms[j] = math.sqrt(gram[j, j])
        if not (norms[j] > norm_low and norms[j] < norm_high):
            return False, y_center
    # Cholesky of the equilibrated Gram matrix (upper: R^T R)
    for j in range(p):
        for l in range(p):
            R[j, l] = 0.0
            R_inv[j, l] = 0.0
    for j in range(p):
        s = gram[j, j] / (norms[j] * norms[j])
        for q in range(j):
            s -= R[q, j] * R[q, j]
        if not s > 0.0:
            return False, y_center
        R[j, j] = math.sqrt(s)
        for l in range(j + 1, p):
            s = gram[j, l] / (norms[j] * norms[l])
            for q in range(j):
                s -= R[q, j] * R[q, l]
            R[j, l] = s / R[j, j]
    # R^-1 (upper triangular) by back substitution
    for c in range(p):
        R_inv[c, c] = 1.0 / R[c, c]
        for j in range(c - 1, -1, -1):
            s = 0.0
            for q in range(j + 1, c + 1):
                s += R[j, q] * R_inv[q, c]
            R_inv[j, c] = -s / R[j, j]
    norm_r = 0.0
    norm_inv = 0.0
    norm_rd = 0.0
    norm_inv_d = 0.0
    for j in range(p):
        for l in range(p):
            norm_r += R[j, l] * R[j, l]
            norm_inv += R_inv[j, l] * R_inv[j, l]
            rd = R[j, l] * norms[l]
            norm_rd += rd * rd
            inv_d = R_inv[j, l] / norms[j]
            norm_inv_d += inv_d * inv_d
    condition = math.sqrt(norm_r) * math.sqrt(norm_inv)
    if not (np.isfinite(condition) and condition <= max_condition):
        return False, y_center
    bound = math.sqrt(norm_rd) * math.sqrt(norm_inv_d)
    if not (np.isfinite(bound) and bound * threshold < 0.5):
        return False, y_center
    # solution of the equilibrated system, then the original scale
    for j in range(p):
        s = 0.0
        for q in range(j + 1):
            s += R_inv[q, j] * (atb[q] / norms[q])
        solution[j] = s
    for j in range(p):
        s = 0.0
        for q in range(j, p):
            s += R_inv[j, q] * solution[q]
        beta[j] = s / norms[j]
    if want_G:
        for j in range(p):
            for l in range(p):
                s = 0.0
                for q in range(max(j, l), p):
                    s += R_inv[j, q] * R_inv[l, q]
                G[j, l] = s / (norms[j] * norms[l])
    return True, y_center


@njit_kernel
def ols_chunk(Xt, yt, Xe, ye, intercept, threshold, max_condition, norm_low, norm_high):
    """OLS fits of the replicates of a chunk and what the estimators share, in one call.

    Each replicate's fit is :class:`vimp._linear_fitter.LinearFitter`'s one-factorisation path: centre
    (with an intercept), equilibrate the Gram matrix by the column norms, Cholesky-factor it (``R^T R``),
    invert ``R`` and solve; the inverse Gram matrix is ``G = D^-1 R^-1 R^-T D^-1``. Where the fitter might
    decide otherwise, or this factorisation is not accurate to far below the fast path's tolerance, the
    replicate is flagged (``ok`` False) and the caller fits it as the fitter does: a Gram matrix that
    is not finite, column norms outside ``(norm_low, norm_high)``, a failed factorisation,
    ``||R||_F ||R^-1||_F`` above ``max_condition`` (at most the fitter's Cholesky limit) or the rank
    check ``||R D||_F ||D^-1 R^-1||_F threshold < 0.5`` failing.

    Parameters
    ----------
    Xt : ndarray of shape (m, n_train, p)
    yt : ndarray of shape (m, n_train)
    Xe : ndarray of shape (m, n_eval, p)
    ye : ndarray of shape (m, n_eval)
    intercept : bool
    threshold, max_condition, norm_low, norm_high : float

    Returns
    -------
    ok : bool ndarray of shape (m,)
    beta : ndarray of shape (m, p)
    G : ndarray of shape (m, p, p)
    pred, full : ndarrays of shape (m, n_eval)
        Predictions and squared errors on the evaluation rows.
    V : ndarray of shape (m, n_eval, p)
        ``(X_eval - center) G``.
    x_mean : ndarray of shape (m, p)
        Training column means (GCM's nuisance baseline), and ``y_base`` (m, n_eval) ``y_eval - mean(y_train)``.
    constant : bool ndarray of shape (m,)
        Whether some training column is constant (the caller hands the replicate to the generic path).
    """
    m, n, p = Xt.shape
    n_eval = Xe.shape[1]
    ok = np.zeros(m, dtype=np.bool_)
    beta_out = np.zeros((m, p))
    G_out = np.zeros((m, p, p))
    pred_out = np.zeros((m, n_eval))
    full_out = np.zeros((m, n_eval))
    V_out = np.zeros((m, n_eval, p))
    x_mean = np.zeros((m, p))
    y_base = np.zeros((m, n_eval))
    A = np.empty((n, p))
    b = np.empty(n)
    center = np.empty(p)
    work = np.empty((3 * p + 3, p))
    beta = np.empty(p)
    E = np.empty((n_eval, p))
    constant = np.zeros(m, dtype=np.bool_)
    for r in range(m):
        for j in range(p):
            s = 0.0
            low = np.inf
            high = -np.inf
            for i in range(n):
                x = Xt[r, i, j]
                s += x
                low = min(low, x)
                high = max(high, x)
            x_mean[r, j] = s / n
            if low == high:
                constant[r] = True
        s = 0.0
        for i in range(n):
            s += yt[r, i]
        for i in range(n_eval):
            y_base[r, i] = ye[r, i] - s / n
        good, y_center = _ols_fit(Xt[r], yt[r], intercept, threshold, max_condition, norm_low, norm_high, A, b,
                                  center, work, beta, G_out[r], True)
        if not good:
            continue
        for j in range(p):
            beta_out[r, j] = beta[j]
        offset = y_center
        for j in range(p):
            offset -= center[j] * beta[j]
        for i in range(n_eval):
            s = 0.0
            for j in range(p):
                s += Xe[r, i, j] * beta[j]
            pred_out[r, i] = s + offset
            e = ye[r, i] - pred_out[r, i]
            full_out[r, i] = e * e
            for j in range(p):
                E[i, j] = Xe[r, i, j] - center[j]
        V_out[r] = np.dot(E, G_out[r])  # BLAS
        ok[r] = True
    return ok, beta_out, G_out, pred_out, full_out, V_out, x_mean, y_base, constant


def ols_chunk_reference(Xt, yt, Xe, ye, intercept, threshold, max_condition, norm_low, norm_high):
    """:func:`ols_chunk` in NumPy (the twin): ``numpy.linalg.cholesky`` and ``inv`` per replicate, the
    same checks; the same outputs (zeros where ``ok`` is False)."""
    m, n, p = Xt.shape
    n_eval = Xe.shape[1]
    ok = np.zeros(m, dtype=bool)
    beta_out, G_out = np.zeros((m, p)), np.zeros((m, p, p))
    pred_out, full_out, V_out = np.zeros((m, n_eval)), np.zeros((m, n_eval)), np.zeros((m, n_eval, p))
    x_mean = Xt.mean(axis=1)
    y_base = ye - yt.mean(axis=1)[:, None]
    for r in range(m):
        center = x_mean[r] if intercept else np.zeros(p)
        y_center = float(yt[r].mean()) if intercept else 0.0
        A, b = Xt[r] - center, yt[r] - y_center
        gram = A.T @ A
        if not np.all(np.isfinite(gram)):
            continue
        norms = np.sqrt(np.diag(gram))
        if not (norms.min() > norm_low and norms.max() < norm_high):
            continue
        try:
            R = np.linalg.cholesky(gram / np.outer(norms, norms)).T
        except np.linalg.LinAlgError:
            continue
        R_inv = np.linalg.inv(R)
        condition = np.linalg.norm(R) * np.linalg.norm(R_inv)
        bound = np.linalg.norm(R * norms[None, :]) * np.linalg.norm(R_inv / norms[:, None])
        if not (np.isfinite(condition) and condition <= max_condition and np.isfinite(bound)
                and bound * threshold < 0.5):
            continue
        beta = (R_inv @ (R_inv.T @ ((A.T @ b) / norms))) / norms
        G = (R_inv @ R_inv.T) / np.outer(norms, norms)
        ok[r] = True
        beta_out[r], G_out[r] = beta, G
        pred_out[r] = Xe[r] @ beta + (y_center - center @ beta)
        full_out[r] = (ye[r] - pred_out[r]) ** 2
        V_out[r] = (Xe[r] - center) @ G
    constant = np.any(Xt.max(axis=1) == Xt.min(axis=1), axis=1)
    return ok, beta_out, G_out, pred_out, full_out, V_out, x_mean, y_base, constant


@njit_kernel
def drop_chunk(ye, pred, full, V, cols, beta, G, Xe, x_mean, y_base, price, ok):
    """:func:`drop_replicate_stats` of every replicate of a chunk with ``ok`` (``shift = beta / diag(G)``,
    ``inv_diag = 1 / diag(G)``): ``stats`` (m, 8, k), ``other_absmax`` (m,), ``nuisance_z`` (m,)."""
    m, n_eval, p = V.shape
    k = cols.shape[0]
    stats = np.full((m, 8, k), np.nan)
    other_absmax = np.full(m, np.nan)
    nuisance_z = np.full(m, np.nan)
    shift = np.empty(p)
    inv_diag = np.empty(p)
    for r in range(m):
        if not ok[r]:
            continue
        for j in range(p):
            inv_diag[j] = 1.0 / G[r, j, j]
            shift[j] = beta[r, j] / G[r, j, j]
        out, other_absmax[r], nuisance_z[r] = drop_replicate_stats(ye[r], pred[r], full[r], V[r], cols, shift,
                                                                   inv_diag, Xe[r], x_mean[r], y_base[r], price)
        stats[r] = out
    return stats, other_absmax, nuisance_z


def drop_chunk_reference(ye, pred, full, V, cols, beta, G, Xe, x_mean, y_base, price, ok):
    """:func:`drop_chunk` through :func:`drop_replicate_stats_reference` (the twin)."""
    m = V.shape[0]
    k = cols.shape[0]
    stats = np.full((m, 8, k), np.nan)
    other_absmax, nuisance_z = np.full(m, np.nan), np.full(m, np.nan)
    for r in range(m):
        if ok[r]:
            diag = np.diag(G[r])
            stats[r], other_absmax[r], nuisance_z[r] = drop_replicate_stats_reference(
                ye[r], pred[r], full[r], V[r], cols, beta[r] / diag, 1.0 / diag, Xe[r], x_mean[r], y_base[r], price)
    return stats, other_absmax, nuisance_z


@njit_kernel
def pap_chunk(ye, pred, full, Xe, beta, cols, states, n_permutations, derangement, shared, width, table, ok):
    """PaP of every replicate of a chunk with ``ok``: the permutations from each replicate's PCG64 states
    (:func:`vimp._kernels.random_nb.derangements_from_pcg64` or ``permutations_from_pcg64``), then
    :func:`pap_replicate_stats`.

    ``Xe`` (m, n, p) and ``beta`` (m, p): the evaluation features and coefficients, of which the columns
    ``cols`` (k,) are measured; ``states`` (m, keys, 4): one state per feature, or one shared by all
    (``shared``).

    Returns ``stats`` (m, 7, k): raw, raw_se, se, skew, dof, diff_min, diff_max; ``other_absmax`` (m,);
    ``drawn`` (m,) False where a uniform permutation ran out of words (the caller's fallback).
    """
    m, n, p = Xe.shape
    k = cols.shape[0]
    R = n_permutations
    keys = states.shape[1]
    x_cols = np.empty((n, k))
    coef = np.empty(k)
    perms = np.empty((keys, R, n), dtype=np.int64)
    group_perms = np.empty((k, R, n), dtype=np.int64)
    stats = np.full((m, 7, k), np.nan)
    other_absmax = np.full(m, np.nan)
    drawn = np.ones(m, dtype=np.bool_)
    for r in range(m):
        if not ok[r]:
            continue
        if derangement:
            derangements_from_pcg64(states[r], n, R, table, perms)
        elif not permutations_from_pcg64(states[r], n, R, width, perms):
            drawn[r] = False
            continue
        if shared:
            for g in range(k):
                group_perms[g] = perms[0]
        else:
            group_perms[:] = perms
        for g in range(k):
            coef[g] = beta[r, cols[g]]
            for i in range(n):
                x_cols[i, g] = Xe[r, i, cols[g]]
        raw, raw_se, se, skew, dof, low, high, other_absmax[r] = pap_replicate_stats(
            ye[r], pred[r], full[r], x_cols, coef, group_perms)
        stats[r, 0] = raw
        stats[r, 1] = raw_se
        stats[r, 2] = se
        stats[r, 3] = skew
        stats[r, 4] = dof
        stats[r, 5] = low
        stats[r, 6] = high
    return stats, other_absmax, drawn


def pap_chunk_reference(ye, pred, full, Xe, beta, cols, states, n_permutations, derangement, shared, width, table,
                        ok):
    """:func:`pap_chunk` through NumPy's PCG64 (:mod:`vimp._kernels.reference`) and
    :func:`pap_replicate_stats_reference` (the twin)."""
    from . import reference

    x_cols, coef = Xe[:, :, cols], beta[:, cols]
    m, n, k = x_cols.shape
    R = n_permutations
    stats = np.full((m, 7, k), np.nan)
    other_absmax = np.full(m, np.nan)
    drawn = np.ones(m, dtype=bool)
    for r in range(m):
        if not ok[r]:
            continue
        perms = np.empty((states.shape[1], R, n), dtype=np.int64)
        if derangement:
            reference.derangements_from_pcg64(states[r], n, R, table, perms)
        elif not reference.permutations_from_pcg64(states[r], n, R, width, perms):
            drawn[r] = False
            continue
        group_perms = np.repeat(perms[:1], k, axis=0) if shared else perms
        out = pap_replicate_stats_reference(ye[r], pred[r], full[r], x_cols[r], coef[r], group_perms)
        stats[r] = np.vstack(out[:7])
        other_absmax[r] = out[7]
    return stats, other_absmax, drawn


@njit_kernel(inline="always")
def _interval(hi, lo, inc_hi, inc_lo, has_half, half, bound):
    """NumPy's ``random_interval(bitgen, bound)`` on a PCG64 state (``bound < 2**32``): the smallest bit
    mask covering ``bound``, then masked 32-bit words (``next_uint32``: the low half of a raw output, its
    high half kept for the next call) until one is at most ``bound``. Returns the value and the state."""
    mask = np.uint64(bound)
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    while True:
        if has_half:
            x = half
            has_half = False
        else:
            hi, lo = _pcg_step(hi, lo, inc_hi, inc_lo)
            value = _pcg_output(hi, lo)
            x = value & np.uint64(0xFFFFFFFF)
            half = value >> np.uint64(32)
            has_half = True
        x &= mask
        if x <= np.uint64(bound):
            return np.int64(x), hi, lo, has_half, half


@njit_kernel
def generator_permutation(state, n, out):
    """``Generator.permutation(n)`` of a Generator on a fresh PCG64 state, into ``out`` (n,): NumPy's
    Fisher--Yates (``for i = n-1, ..., 1: swap i and random_interval(i)``) from the identity."""
    hi, lo, inc_hi, inc_lo = state[0], state[1], state[2], state[3]
    has_half = False
    half = np.uint64(0)
    for i in range(n):
        out[i] = i
    for i in range(n - 1, 0, -1):
        j, hi, lo, has_half, half = _interval(hi, lo, inc_hi, inc_lo, has_half, half, i)
        tmp = out[i]
        out[i] = out[j]
        out[j] = tmp
    return out


@njit_kernel
def loco_permute_chunk(Xt, yt, Xe, ye, full, cols, states, intercept, threshold, max_condition, norm_low,
                       norm_high, ok):
    """LOCO with permute-and-refit of every replicate of a chunk with ``ok``: for each feature ``c`` of
    ``cols``, the training column permuted by ``Generator.permutation(n_train)`` of its PCG64 state
    (``states`` (m, k, 4); :func:`generator_permutation`), the OLS refit (:func:`_ols_fit`) and the
    squared errors on the evaluation rows.

    Returns ``stats`` (m, 4, k): mean loss difference, its ``sd / sqrt(n)``, the differences' extremes;
    ``other_absmax`` (m,): the largest reduced loss; ``refit`` (m,): False where a refit was flagged
    (the caller fits that replicate as the fitter does).
    """
    m, n, p = Xt.shape
    n_eval = Xe.shape[1]
    k = cols.shape[0]
    stats = np.full((m, 4, k), np.nan)
    other_absmax = np.full(m, np.nan)
    refit = np.ones(m, dtype=np.bool_)
    Xp = np.empty((n, p))
    A = np.empty((n, p))
    b = np.empty(n)
    center = np.empty(p)
    work = np.empty((3 * p + 3, p))
    beta = np.empty(p)
    G = np.empty((p, p))
    perm = np.empty(n, dtype=np.int64)
    diff = np.empty(n_eval)
    for r in range(m):
        if not ok[r]:
            continue
        largest = 0.0
        for g in range(k):
            c = cols[g]
            generator_permutation(states[r, g], n, perm)
            for i in range(n):
                for j in range(p):
                    Xp[i, j] = Xt[r, i, j]
                Xp[i, c] = Xt[r, perm[i], c]
            good, y_center = _ols_fit(Xp, yt[r], intercept, threshold, max_condition, norm_low, norm_high, A, b,
                                      center, work, beta, G, False)
            if not good:
                refit[r] = False
                break
            offset = y_center
            for j in range(p):
                offset -= center[j] * beta[j]
            total = 0.0
            low = np.inf
            high = -np.inf
            for i in range(n_eval):
                s = 0.0
                for j in range(p):
                    s += Xe[r, i, j] * beta[j]
                e = ye[r, i] - (s + offset)
                other = e * e
                largest = max(largest, other)
                d = other - full[r, i]
                diff[i] = d
                total += d
                low = min(low, d)
                high = max(high, d)
            mean = total / n_eval
            spread = 0.0
            for i in range(n_eval):
                spread += (diff[i] - mean) ** 2
            stats[r, 0, g] = mean
            stats[r, 1, g] = math.sqrt(spread / n_eval) / math.sqrt(n_eval)
            stats[r, 2, g] = low
            stats[r, 3, g] = high
        other_absmax[r] = largest
    return stats, other_absmax, refit


def loco_permute_chunk_reference(Xt, yt, Xe, ye, full, cols, states, intercept, threshold, max_condition,
                                 norm_low, norm_high, ok):
    """:func:`loco_permute_chunk` in NumPy (the twin): ``Generator.permutation`` of NumPy's PCG64 on each
    state and the refits by :func:`ols_chunk_reference`."""
    from . import reference

    m, n, p = Xt.shape
    k = cols.shape[0]
    stats = np.full((m, 4, k), np.nan)
    other_absmax = np.full(m, np.nan)
    refit = np.ones(m, dtype=bool)
    for r in range(m):
        if not ok[r]:
            continue
        others = []
        for g, c in enumerate(cols):
            perm = reference._generator(states[r, g]).permutation(n)
            Xp = Xt[r].copy()
            Xp[:, c] = Xt[r, perm, c]
            fit = ols_chunk_reference(Xp[None], yt[r][None], Xe[r][None], ye[r][None], intercept, threshold,
                                      max_condition, norm_low, norm_high)
            if not fit[0][0]:
                refit[r] = False
                break
            other = fit[4][0]
            d = other - full[r]
            stats[r, :, g] = d.mean(), d.std() / np.sqrt(len(d)), d.min(), d.max()
            others.append(other)
        if refit[r]:
            other_absmax[r] = float(np.max(others))
    return stats, other_absmax, refit


@njit_kernel
def spectral_condition(R, R_inv, iterations):
    """:func:`vimp._linear_fitter._spectral_condition` compiled (the twin is that function itself): power
    iteration on ``R'R`` and on its inverse from the same start, ``iterations`` steps; inf where a step is
    not finite or vanishes. Agrees with the fitter's estimate to rounding (the matrix-vector products
    summed in another order)."""
    k = R.shape[0]
    v = np.empty(k)
    u = np.empty(k)
    w = np.empty(k)
    length = 0.0
    for i in range(k):
        v[i] = 1.0 + i / (k - 1) if k > 1 else 1.0
        length += v[i] * v[i]
    length = math.sqrt(length)
    for i in range(k):
        v[i] /= length
        u[i] = v[i]
    largest = 0.0
    smallest_inverse = 0.0
    for _ in range(iterations):
        for i in range(k):  # w = R v, then v = R' w
            s = 0.0
            for j in range(k):
                s += R[i, j] * v[j]
            w[i] = s
        largest = 0.0
        for j in range(k):
            s = 0.0
            for i in range(k):
                s += R[i, j] * w[i]
            v[j] = s
            largest += s * s
        largest = math.sqrt(largest)
        for i in range(k):  # w = R_inv' u, then u = R_inv w
            s = 0.0
            for j in range(k):
                s += R_inv[j, i] * u[j]
            w[i] = s
        smallest_inverse = 0.0
        for i in range(k):
            s = 0.0
            for j in range(k):
                s += R_inv[i, j] * w[j]
            u[i] = s
            smallest_inverse += s * s
        smallest_inverse = math.sqrt(smallest_inverse)
        if not (np.isfinite(largest) and np.isfinite(smallest_inverse)) or largest == 0 or smallest_inverse == 0:
            return np.inf
        for i in range(k):
            v[i] /= largest
            u[i] /= smallest_inverse
    return math.sqrt(largest * smallest_inverse)
