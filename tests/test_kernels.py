"""Tests of the Numba kernels in ``vimp._kernels``.

Layers, as in STYLE.md item 9:

* kernel = plain-NumPy twin (``vimp._kernels.reference``) to ~1e-12 relative,
  for every kernel, both loss codes and edge-case shapes;
* determinism: bit-identical output on repeated calls and for any thread count;
* kernel = brute-force OLS refit (``numpy.linalg.lstsq``) for the closed-form
  drop-one, drop-group and GCM identities of THEORY.md section 1;
* the kernels' original Python functions (``.py_func``) = twin, so that a
  coverage run sees kernel code.

The whole module can also be run with the JIT switched off, which executes
every kernel as plain Python::

    NUMBA_DISABLE_JIT=1 python -m pytest tests/test_kernels.py -q
"""

import numba
import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from vimp._kernels import (
    column_extremes,
    gather_shifted_rows,
    pap_linear_groups,
    pap_se_moments_groups,
    LOSS_ABSOLUTE,
    LOSS_SQUARED,
    PAP_BLOCK_SIZE,
    TWINS,
    column_r2,
    constant_columns,
    drop_one_residuals_extremes_into,
    drop_one_residuals_into,
    derangements_from_stream,
    gcm_linear_products,
    group_drop_losses,
    loco_linear_losses,
    loco_linear_losses_into,
    loss_difference_summary,
    loss_difference_sums,
    pap_linear_losses,
    pap_linear_terms,
    pap_se_moments,
    pap_se_sums,
    permutations_from_words,
    pointwise_loss,
    reference,
    residual_products,
)

LOSS_CODES = [LOSS_SQUARED, LOSS_ABSOLUTE]
KERNEL_RTOL = 1e-12
REFIT_RTOL = 1e-8
JIT_DISABLED = bool(numba.config.DISABLE_JIT)


# --------------------------------------------------------------------------- helpers
def assert_matches_twin(actual, desired, rtol=KERNEL_RTOL):
    """Relative agreement, with an absolute floor at rtol times the array's scale.

    The floor only matters for entries that are tiny relative to the rest (a loss
    near zero after cancellation), whose relative error is not meaningful.
    """
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    assert actual.shape == desired.shape
    assert actual.dtype == np.float64
    scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


def assert_bit_identical(first, second):
    if isinstance(first, tuple):
        assert len(first) == len(second)
        for a, b in zip(first, second):
            assert_bit_identical(a, b)
        return
    first, second = np.asarray(first), np.asarray(second)  # scalars too
    assert first.shape == second.shape
    assert first.dtype == second.dtype
    assert first.tobytes() == second.tobytes()


def python_function(kernel):
    """The kernel's original Python function (the kernel itself without JIT)."""
    return getattr(kernel, "py_func", kernel)


def make_pap_inputs(rng, n, g, n_repeats):
    y = rng.normal(size=n)
    x_cols = rng.normal(size=(n, g))
    coef = rng.normal(size=g)
    pred = x_cols @ coef + 0.3 * rng.normal(size=n)
    perms = np.array([rng.permutation(n) for _ in range(n_repeats)], dtype=np.int64).reshape(n_repeats, n)
    assert perms.dtype == np.int64
    return y, pred, x_cols, coef, perms


def make_linear_inputs(rng, n, p):
    y = rng.normal(size=n)
    pred = y + 0.5 * rng.normal(size=n)
    xg = rng.normal(size=(n, p))
    shift = rng.normal(size=p)
    return y, pred, xg, shift


@pytest.fixture
def restore_threads():
    original = numba.get_num_threads()
    yield
    numba.set_num_threads(original)


THREAD_COUNTS = sorted({1, numba.config.NUMBA_NUM_THREADS})


# --------------------------------------------------------------------------- kernel = twin
@pytest.mark.parametrize("loss_code", LOSS_CODES)
def test_pointwise_loss_matches_twin(loss_code):
    rng = np.random.default_rng(20250101)
    for y, yhat in rng.normal(size=(20, 2)):
        assert_matches_twin(pointwise_loss(y, yhat, loss_code), reference.pointwise_loss(y, yhat, loss_code))


def test_pointwise_loss_values():
    assert pointwise_loss(3.0, 1.0, LOSS_SQUARED) == 4.0
    assert pointwise_loss(1.0, 3.0, LOSS_ABSOLUTE) == 2.0
    assert np.isnan(pointwise_loss(1.0, 3.0, 7))


@pytest.mark.parametrize("loss_code", LOSS_CODES)
@pytest.mark.parametrize("n_repeats", [1, 7])
@pytest.mark.parametrize("g", [1, 3])
@pytest.mark.parametrize("n", [1, 2, 57, 2 * PAP_BLOCK_SIZE + 37])
def test_pap_linear_losses_matches_twin(n, g, n_repeats, loss_code):
    rng = np.random.default_rng(11)
    inputs = make_pap_inputs(rng, n, g, n_repeats)
    obs_mean, repeat_mean = pap_linear_losses(*inputs, loss_code)
    ref_obs_mean, ref_repeat_mean = reference.pap_linear_losses(*inputs, loss_code)
    assert obs_mean.shape == (n,)
    assert repeat_mean.shape == (n_repeats,)
    assert_matches_twin(obs_mean, ref_obs_mean)
    assert_matches_twin(repeat_mean, ref_repeat_mean)


@pytest.mark.parametrize("loss_code", LOSS_CODES)
@pytest.mark.parametrize("n_repeats", [0, 1, 7])
@pytest.mark.parametrize("unit_weights", [True, False])
@pytest.mark.parametrize("n", [1, 57, 2 * PAP_BLOCK_SIZE + 37])
def test_pap_linear_terms_matches_twin_and_generic_sums(n, unit_weights, n_repeats, loss_code):
    rng = np.random.default_rng(12)
    y, pred, x_cols, coef, perms = make_pap_inputs(rng, n, 2, n_repeats)
    weight = np.ones(n) if unit_weights else rng.uniform(0.5, 2.0, size=n)
    full = rng.uniform(0.0, 3.0, size=n)
    out = pap_linear_terms(y, pred, x_cols, coef, perms, weight, full, loss_code)
    if n_repeats == 0:  # nothing to average: every per-row output is nan, the per-repeat one empty
        assert out[1].shape == (0,)
        for k in (0, 2, 3, 4, 5):
            assert out[k].shape == (n,) and np.all(np.isnan(out[k]))
        return
    ref = reference.pap_linear_terms(y, pred, x_cols, coef, perms, weight, full, loss_code)
    assert len(out) == len(ref) == 6
    for a, b in zip(out, ref):
        assert_matches_twin(a, b)
    # Written into a caller's block: the same numbers (bit for bit), as views of the block, and so for
    # the twin; the block's earlier contents do not matter.
    for function in (pap_linear_terms, reference.pap_linear_terms):
        block = np.full((5, n), 7.0)
        into = function(y, pred, x_cols, coef, perms, weight, full, loss_code, block)
        for a, b in zip(into, function(y, pred, x_cols, coef, perms, weight, full, loss_code)):
            np.testing.assert_array_equal(a, b)
        assert all(np.shares_memory(into[k], block) for k in (0, 2, 3, 4, 5))
    # The first two outputs are those of pap_linear_losses.
    obs_mean, repeat_mean = pap_linear_losses(y, pred, x_cols, coef, perms, loss_code)
    assert_matches_twin(out[0], obs_mean)
    assert_matches_twin(out[1], repeat_mean)
    # The donor averages by their definition, with an explicit loop over (r, i).
    losses = reference.pointwise_loss(y[None, :], pred[None, :] + (x_cols[perms] - x_cols[None]) @ coef,
                                      loss_code)
    donor, donor_full, donor_weight = np.zeros(n), np.zeros(n), np.zeros(n)
    for r in range(n_repeats):
        for i in range(n):
            donor[perms[r, i]] += weight[i] * losses[r, i]
            donor_full[perms[r, i]] += weight[i] * full[i]
            donor_weight[perms[r, i]] += weight[i]
    assert_matches_twin(out[2], donor / n_repeats)
    assert_matches_twin(out[3], (losses**2).mean(axis=0))
    assert_matches_twin(out[4], donor_full / n_repeats)
    assert_matches_twin(out[5], donor_weight / n_repeats)


def _se_inputs(rng, n):
    arrays = [rng.uniform(0.0, 3.0, size=n) for _ in range(7)]  # full, other, donor, square, donor_full,
    return (*arrays, rng.integers(1, 5, size=n).astype(float))  # donor_weight, weight; then n_rep


@pytest.mark.parametrize("n", [0, 1, 57])
def test_pap_se_sums_match_twin_and_the_formula(n):
    rng = np.random.default_rng(17)
    inputs = _se_inputs(rng, n)
    for slope, offset in ((1.0, 0.3), (1.7, 0.0)):
        got = pap_se_sums(*inputs, slope, offset)
        want = reference.pap_se_sums(*inputs, slope, offset)
        assert_allclose(got, want, rtol=KERNEL_RTOL)
        python_got = python_function(pap_se_sums)(*inputs, slope, offset)
        assert_allclose(python_got, want, rtol=KERNEL_RTOL)
    if n:  # one row by hand: w (o - s) + d - a df - b dw, with s = a F + b
        full, other, donor, square, donor_full, donor_weight, weight, n_rep = (v[:1] for v in inputs)
        shift = 1.7 * full[0] + 0.3
        influence = weight[0] * (other[0] - shift) + donor[0] - 1.7 * donor_full[0] - 0.3 * donor_weight[0]
        noise = weight[0] ** 2 * (square[0] - 2 * shift * other[0] + shift**2) / n_rep[0]
        assert_allclose(pap_se_sums(full, other, donor, square, donor_full, donor_weight, weight, n_rep,
                                    1.7, 0.3), (influence**2, noise), rtol=1e-14)


@pytest.mark.parametrize("n", [0, 1, 57])
def test_pap_se_moments_match_twin_and_the_numpy_definitions(n):
    from vimp._inference import projection_skewness, variance_df

    rng = np.random.default_rng(19)
    inputs = _se_inputs(rng, n)
    for slope, offset in ((1.0, 0.3), (1.7, 0.0)):
        got = pap_se_moments(*inputs, slope, offset)
        want = reference.pap_se_moments(*inputs, slope, offset)
        assert_allclose(got, want, rtol=KERNEL_RTOL, atol=1e-12)
        assert_allclose(python_function(pap_se_moments)(*inputs, slope, offset), want, rtol=KERNEL_RTOL,
                        atol=1e-12)
        assert_allclose(got[:2], pap_se_sums(*inputs, slope, offset), rtol=KERNEL_RTOL)
        if n > 1:  # the moments give the skewness and the degrees of freedom of their definitions
            full, other, donor, square, donor_full, donor_weight, weight, n_rep = inputs
            shift = slope * full + offset
            h = weight * (other - shift) + donor - slope * donor_full - offset * donor_weight
            u = h * h - weight**2 * (square - 2.0 * shift * other + shift**2) / n_rep
            _, _, h2, h3, u_total, u_ss = got
            assert_allclose(h3 / h2**1.5, projection_skewness(h), rtol=1e-10)
            assert_allclose(max(2.0 * u_total**2 / (u_ss / (n - 1) * n), 1.0), variance_df(u), rtol=1e-10)


@pytest.mark.parametrize("layout", ["C", "F", "nonfinite"])
def test_loss_difference_summary_matches_twin_and_mean_and_se(layout):
    from vimp._inference import mean_and_se

    rng = np.random.default_rng(31)
    other = rng.exponential(size=(157, 6))
    other = np.asfortranarray(other) if layout == "F" else other
    full = rng.exponential(size=157)
    if layout == "nonfinite":
        other[3, 2] = np.inf
    got = loss_difference_summary(other, full)
    with np.errstate(invalid="ignore"):  # the twin's summaries of an infinite entry
        twins = (reference.loss_difference_summary(other, full), python_function(loss_difference_summary)(other, full))
    for want in twins:
        assert got[-1] is want[-1] or bool(got[-1]) == bool(want[-1])
        if layout == "nonfinite":
            assert not got[-1]
            continue
        for a, b in zip(got[:-1], want[:-1]):
            assert_allclose(a, b, rtol=1e-12)
    if layout != "nonfinite":
        assert bool(got[-1])
        mean, se = mean_and_se(other - full[:, None])
        assert_allclose(got[1], mean, rtol=1e-12)
        assert_allclose(got[2], se, rtol=1e-12)
        assert_bit_identical(got[0], other - full[:, None])  # a difference is one rounding: exact


@pytest.mark.parametrize("weighted", [False, True])
def test_loss_difference_sums_match_twin_and_mean_and_se(weighted):
    from vimp._inference import mean_and_se

    rng = np.random.default_rng(29)
    n, k_folds = 203, 3
    learner = rng.standard_normal((n, 4))
    source = rng.standard_normal((n, 5))
    learner_cols = np.array([3, 0, 1, 1], dtype=np.intp)
    source_cols = np.array([0, 4, 2, 2], dtype=np.intp)
    fold = rng.integers(0, k_folds, size=n).astype(np.intp)
    mu = rng.standard_normal((k_folds, 4))
    price = rng.uniform(0.0, 0.5, size=(k_folds, 4))
    w = rng.uniform(0.5, 2.0, size=n) if weighted else np.ones(n)
    wn = w / w.sum()
    args = (learner, learner_cols, source, source_cols, fold, mu, price, wn)
    got = loss_difference_sums(*args)
    for other in (reference.loss_difference_sums(*args), python_function(loss_difference_sums)(*args)):
        assert_allclose(np.vstack(got), np.vstack(other), rtol=KERNEL_RTOL)
    l2 = learner[:, learner_cols] ** 2
    b2 = (source[:, source_cols] - mu[fold]) ** 2
    mean, se = mean_and_se(l2 - (1.0 + price[fold]) * b2, w if weighted else None)
    assert_allclose(got[2], mean, rtol=1e-12)
    assert_allclose(got[3], se, rtol=1e-12)
    assert_allclose(got[0], np.average(l2, axis=0, weights=w), rtol=1e-12)


@pytest.mark.parametrize("n", [0, 1, 2, 300])
def test_column_r2_matches_twin_and_sklearn(n):
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(18)
    target = rng.normal(size=(n, 4)) + 1e6 * np.arange(4)  # large means: the two-pass sums matter
    target[:, 2] = 5.0  # a constant target: R^2 undefined
    resid = rng.normal(scale=0.5, size=(n, 4))
    got = column_r2(target, resid)
    assert_array_equal(np.isnan(got), np.isnan(reference.column_r2(target, resid)))
    finite = np.isfinite(got)
    assert_allclose(got[finite], reference.column_r2(target, resid)[finite], rtol=1e-12)
    assert_allclose(python_function(column_r2)(target, resid)[finite], got[finite], rtol=1e-12)
    assert np.isnan(got[2])
    if n <= 1:  # no spread in any column
        assert np.all(np.isnan(got))
    else:
        for j in (0, 1, 3):
            assert_allclose(got[j], r2_score(target[:, j], target[:, j] - resid[:, j]), rtol=1e-9)


def test_constant_columns_matches_twin_and_ptp():
    rng = np.random.default_rng(19)
    X = rng.normal(size=(50, 6))
    X[:, 1] = 3.0                      # constant
    X[:, 2] = 3.0
    X[49, 2] = 3.0 + 1e-12             # differs only in the last row
    X[:, 3] = np.nan                   # NaN everywhere: not constant (as with ptp)
    X[:, 4] = -0.0
    X[10, 4] = 0.0                     # -0.0 == 0.0: constant
    for layout in (X, np.asfortranarray(X), X[::2]):
        got = constant_columns(layout)
        assert got.dtype == np.bool_
        assert_array_equal(got, reference.constant_columns(layout))
        assert_array_equal(got, python_function(constant_columns)(layout))
        with np.errstate(invalid="ignore"):
            assert_array_equal(got, np.ptp(layout, axis=0) == 0)
    assert_array_equal(constant_columns(X), [False, True, False, False, True, False])
    assert constant_columns(np.empty((0, 2))).tolist() == [True, True]
    assert constant_columns(X[:1]).tolist() == [True, True, True, False, True, True]


# --------------------------------------------------------------------------- permutations from words
@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 300])
def test_permutations_from_words_match_twin_and_are_permutations(n):
    rng = np.random.default_rng(13)
    words = rng.integers(0, 2**64, size=(9, (max(n - 1, 0) + 4) // 2), dtype=np.uint64)
    perms, exhausted = permutations_from_words(words, n)
    ref_perms, ref_exhausted = reference.permutations_from_words(words, n)
    assert perms.dtype == np.int64 and perms.shape == (9, n)
    assert_array_equal(perms, ref_perms)
    assert_array_equal(exhausted, ref_exhausted)
    assert not exhausted.any()  # 4 spare words; a rejection has probability below 300 / 2**32
    assert_array_equal(np.sort(perms, axis=1), np.broadcast_to(np.arange(n), (9, n)))


def test_permutations_from_words_by_hand_with_rejections():
    # n = 3. Step s = 3 rejects x with (3 x) mod 2**32 < 2**32 mod 3 = 1, i.e. x = 0: two zeros are
    # skipped, x = 5 gives j = floor(15 / 2**32) = 0 and swaps positions 2 and 0 -> [2, 1, 0].
    # Step s = 2 (2**32 mod 2 = 0, never rejects): x = 2**31 + 7 gives j = 1, no change; a second row with
    # x = 7 gives j = 0 and swaps positions 1 and 0 -> [1, 2, 0].
    words = np.array([[0, 0, 5, 2**31 + 7], [0, 0, 5, 7]], dtype=np.uint64)
    words = words[:, 0::2] + (words[:, 1::2] << np.uint64(32))  # two 32-bit words per value, low first
    for function in (permutations_from_words, reference.permutations_from_words):
        perms, exhausted = function(words, 3)
        assert_array_equal(perms, [[2, 1, 0], [1, 2, 0]])
        assert_array_equal(exhausted, [False, False])
    # All-zero words are rejected at s = 3 until the row runs out: flagged, for the caller to redraw.
    for function in (permutations_from_words, reference.permutations_from_words):
        perms, exhausted = function(np.zeros((2, 3), dtype=np.uint64), 3)
        assert_array_equal(exhausted, [True, True])


def test_permutations_from_words_are_uniform():
    # All 24 permutations of 4 rows from 48,000 rows of words: Pearson's chi-square against equal
    # frequencies (23 df). The seed is literal; under exact uniformity the test has size 1e-3.
    rng = np.random.default_rng(14)
    perms, _ = permutations_from_words(rng.integers(0, 2**64, size=(48_000, 4), dtype=np.uint64), 4)
    codes = perms @ np.array([64, 16, 4, 1])
    _, counts = np.unique(codes, return_counts=True)
    assert len(counts) == 24
    assert scipy.stats.chisquare(counts).pvalue > 1e-3
    # and every row lands at every position equally often at n = 50 (chi-square per position, 49 df)
    perms, _ = permutations_from_words(rng.integers(0, 2**64, size=(5_000, 27), dtype=np.uint64), 50)
    position_counts = np.stack([np.bincount(perms[:, i], minlength=50) for i in range(50)])
    pvalues = scipy.stats.chisquare(position_counts, axis=1).pvalue
    # 50 dependent tests: Bonferroni at 1e-3 overall
    assert pvalues.min() > 1e-3 / 50


# --------------------------------------------------------------------------- derangements from a stream
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 17, 300])
def test_derangements_from_stream_match_twin_and_have_no_fixed_point(n):
    rng = np.random.default_rng(17)
    count = 40
    for size in (2, 20 * max(n, 1), 2 * count * max(n, 1)):  # words running out early, midway, never
        words = rng.integers(0, 2**64, size=size, dtype=np.uint64)
        perms, done, used = derangements_from_stream(words, n, count)
        ref_perms, ref_done, ref_used = reference.derangements_from_stream(words, n, count)
        assert perms.dtype == np.int64 and perms.shape == (count, n)
        assert_array_equal(perms, ref_perms)  # exact, including the identity left in the rows not drawn
        assert (done, used) == (ref_done, ref_used)
        assert used <= 2 * size
        assert_array_equal(np.sort(perms, axis=1), np.broadcast_to(np.arange(n), (count, n)))
        assert_array_equal(perms[done:], np.broadcast_to(np.arange(n), (count - done, n)))
        if n == 1:
            assert done == 0  # one row has no derangement
            continue
        assert not np.any(perms[:done] == np.arange(n))
        if n == 0 or size == 2 * count * max(n, 1):
            assert done == count
        if n == 2:
            assert_array_equal(perms[:done], np.broadcast_to([1, 0], (done, 2)))


def test_derangements_from_stream_by_hand():
    # n = 2: step s = 2 with x = 2**31 gives j = 1: no swap, position 1 keeps 1 (fixed point) -> restart;
    # the next word x = 7 gives j = 0: swap -> [1, 0], a derangement after two words.
    words = np.array([2**31 + (7 << 32)], dtype=np.uint64)  # low half 2**31 first, then 7
    for function in (derangements_from_stream, reference.derangements_from_stream):
        perms, done, used = function(words, 2, 1)
        assert_array_equal(perms, [[1, 0]]) and (done, used) == (1, 2)
        # a second derangement wanted: the words run out, the row is left as the identity
        perms, done, used = function(words, 2, 2)
        assert perms.tolist() == [[1, 0], [0, 1]] and (done, used) == (1, 2)
    # only one word, and it gives the fixed point: nothing drawn (identity left)
    for function in (derangements_from_stream, reference.derangements_from_stream):
        perms, done, used = function(np.array([2**31 + (2**31 << 32)], dtype=np.uint64), 2, 1)
        assert (done, used) == (0, 2) and perms.tolist() == [[0, 1]]


def test_derangements_from_stream_are_uniform():
    # The 9 derangements of 4 rows, from 36,000 draws: Pearson's chi-square against equal frequencies
    # (8 df). Literal seed; under exact uniformity the test has size 1e-3.
    rng = np.random.default_rng(18)
    perms, done, _ = derangements_from_stream(rng.integers(0, 2**64, size=200_000, dtype=np.uint64), 4, 36_000)
    assert done == 36_000
    assert not np.any(perms == np.arange(4))
    codes = perms @ np.array([64, 16, 4, 1])
    _, counts = np.unique(codes, return_counts=True)
    assert len(counts) == 9
    assert scipy.stats.chisquare(counts).pvalue > 1e-3
    # each row goes to each other position with probability 1/(m - 1) at m = 30 (chi-square per row)
    perms, done, _ = derangements_from_stream(rng.integers(0, 2**64, size=200_000, dtype=np.uint64), 30, 6_000)
    assert done == 6_000
    counts = np.stack([np.bincount(perms[:, i], minlength=30) for i in range(30)])
    assert np.all(np.diag(counts) == 0)
    off = counts[~np.eye(30, dtype=bool)].reshape(30, 29)
    assert scipy.stats.chisquare(off, axis=1).pvalue.min() > 1e-3 / 30  # Bonferroni over 30 rows


def test_derangement_words_per_draw():
    # Stopping at the first fixed point saves words against rejecting whole permutations (e (n - 1) words
    # a derangement on average). 4,000 derangements at n = 50 and 20,000 at n = 10: the mean words per
    # derangement over n - 1, measured 1.75 and 1.86 (simulated by hand: sd 1.02 and 1.16 per
    # derangement, so the MC SE of the mean is 0.016 and 0.008); the bound 0.1 is over 6 SE.
    rng = np.random.default_rng(19)
    for n, count, mean in ((50, 4_000, 1.75), (10, 20_000, 1.86)):
        _, done, used = derangements_from_stream(rng.integers(0, 2**64, size=3 * n * count, dtype=np.uint64),
                                                 n, count)
        assert done == count
        assert abs(used / count / (n - 1) - mean) < 0.1
        assert used / count / (n - 1) < 2.0 < np.e  # below DERANGEMENT_WORDS_MEAN's margin and e


def test_draw_derangements_draw_enough_words_in_one_pass():
    # draw_permutations draws (1.8 R + 3 sqrt(R) + 1)(n - 1) words: at n >= 10 a second draw is needed
    # with probability about 1e-4. Counted over 300 calls of R = 10 at n = 50: at most 3 second draws
    # (expected 0.03; a bound that fails only if the rate is 100 times the stated one).
    import vimp._split as split

    calls = []
    real = split._draw_words

    def counting(rng, rows, width):
        calls.append(width)
        return real(rng, rows, width)

    rng = np.random.default_rng(21)
    split._draw_words = counting
    try:
        for _ in range(300):
            split.draw_permutations(rng, 50, 10, kind="derangement")
    finally:
        split._draw_words = real
    assert 300 <= len(calls) <= 303


def test_pap_reference_by_hand():
    # Two observations, one column, coef 2: swapping rows moves pred by +-2*(x1 - x0).
    y = np.array([1.0, 5.0])
    pred = np.array([2.0, 4.0])
    x_cols = np.array([[0.0], [1.0]])
    coef = np.array([2.0])
    perms = np.array([[1, 0], [0, 1]], dtype=np.int64)
    # repeat 0: pred -> [4, 2], squared losses [9, 9]; repeat 1: unpermuted, [1, 1]
    for function in (reference.pap_linear_losses, pap_linear_losses):
        obs_mean, repeat_mean = function(y, pred, x_cols, coef, perms, LOSS_SQUARED)
        assert_array_equal(obs_mean, [5.0, 5.0])
        assert_array_equal(repeat_mean, [9.0, 1.0])


@pytest.mark.parametrize("loss_code", LOSS_CODES)
@pytest.mark.parametrize("g", [1, 3])
def test_pap_identity_permutation_gives_unpermuted_loss(g, loss_code):
    rng = np.random.default_rng(12)
    n, n_repeats = 2 * PAP_BLOCK_SIZE + 5, 4
    y, pred, x_cols, coef, _ = make_pap_inputs(rng, n, g, 1)
    identity = np.ascontiguousarray(np.tile(np.arange(n, dtype=np.int64), (n_repeats, 1)))
    obs_mean, repeat_mean = pap_linear_losses(y, pred, x_cols, coef, identity, loss_code)
    unpermuted = reference.pointwise_loss(y, pred, loss_code)
    # Each observation's loss is averaged over identical repeats: exact up to 1/R.
    assert_allclose(obs_mean, unpermuted, rtol=1e-15, atol=0)
    assert_matches_twin(repeat_mean, np.full(n_repeats, unpermuted.mean()))
    assert np.all(repeat_mean == repeat_mean[0])


def test_pap_empty_inputs_give_nan_not_errors():
    rng = np.random.default_rng(13)
    y, pred, x_cols, coef, _ = make_pap_inputs(rng, 5, 2, 1)
    no_repeats = np.empty((0, 5), dtype=np.int64)
    obs_mean, repeat_mean = pap_linear_losses(y, pred, x_cols, coef, no_repeats, LOSS_SQUARED)
    assert obs_mean.shape == (5,) and np.all(np.isnan(obs_mean))
    assert repeat_mean.shape == (0,)

    empty = np.empty(0)
    obs_mean, repeat_mean = pap_linear_losses(
        empty, empty, np.empty((0, 2)), coef, np.empty((3, 0), dtype=np.int64), LOSS_SQUARED
    )
    assert obs_mean.shape == (0,)
    assert repeat_mean.shape == (3,) and np.all(np.isnan(repeat_mean))


@pytest.mark.parametrize("loss_code", LOSS_CODES)
@pytest.mark.parametrize("p", [1, 4])
@pytest.mark.parametrize("n", [1, 40])
def test_loco_linear_losses_matches_twin(n, p, loss_code):
    rng = np.random.default_rng(21)
    inputs = make_linear_inputs(rng, n, p)
    losses = loco_linear_losses(*inputs, loss_code)
    assert losses.shape == (n, p)
    assert_matches_twin(losses, reference.loco_linear_losses(*inputs, loss_code))


@pytest.mark.parametrize("loss_code", LOSS_CODES)
def test_loco_linear_losses_into_writes_the_same_losses_into_the_rows(loss_code):
    rng = np.random.default_rng(22)
    inputs = make_linear_inputs(rng, 40, 4)
    rows = rng.permutation(100)[:40].astype(np.intp)
    out = np.full((100, 4), -1.0)
    got = loco_linear_losses_into(*inputs, loss_code, out, rows)
    assert got is out
    assert_bit_identical(out[rows], loco_linear_losses(*inputs, loss_code))
    untouched = np.setdiff1d(np.arange(100), rows)
    assert np.all(out[untouched] == -1.0)
    twin = reference.loco_linear_losses_into(*inputs, loss_code, np.full((100, 4), -1.0), rows)
    assert_matches_twin(out, twin)


@pytest.mark.parametrize("p", [1, 4])
@pytest.mark.parametrize("n", [1, 40])
def test_residual_products_matches_twin(n, p):
    rng = np.random.default_rng(31)
    x_resid = rng.normal(size=(n, p))
    y_resid = rng.normal(size=(n, p)) + 0.5 * x_resid
    products, mean, sd = residual_products(x_resid, y_resid)
    ref_products, ref_mean, ref_sd = reference.residual_products(x_resid, y_resid)
    assert products.shape == (n, p) and mean.shape == (p,) and sd.shape == (p,)
    assert_matches_twin(products, ref_products)
    assert_matches_twin(mean, ref_mean)
    if n == 1:
        assert_array_equal(sd, np.zeros(p))
    else:
        assert_matches_twin(sd, ref_sd)


def test_residual_products_in_place_give_the_same_numbers():
    rng = np.random.default_rng(32)
    x_resid = rng.normal(size=(60, 3))
    y_resid = rng.normal(size=(60, 3)) + 0.5 * x_resid
    want = residual_products(x_resid, y_resid)
    for kernel in (residual_products, reference.residual_products):
        x_copy = x_resid.copy()
        got = kernel(x_copy, y_resid, x_copy)
        assert got[0] is x_copy  # written over the x-residuals
        assert_bit_identical(got[0], want[0])
        assert_matches_twin(got[1], want[1])
        assert_matches_twin(got[2], want[2])


def test_residual_products_sd_is_population_sd_and_stable():
    # Products with mean 1e8 and sd about 1e-2: a one-pass E[R^2] - E[R]^2 loses
    # every digit here; the two-pass sd must keep about six.
    rng = np.random.default_rng(32)
    n = 1000
    x_resid = (1e8 + 1e-2 * rng.normal(size=n)).reshape(n, 1)
    y_resid = np.ones((n, 1))
    _, mean, sd = residual_products(x_resid, y_resid)
    assert_allclose(mean, x_resid.mean(axis=0), rtol=1e-14)
    assert_allclose(sd, x_resid.std(axis=0, ddof=0), rtol=1e-6)
    assert_allclose(sd, np.sqrt(np.mean((x_resid - x_resid.mean()) ** 2)), rtol=1e-6)

    # The 1/n denominator (THEORY.md section 6, pitfall 4): sd of {0, 2} is 1.
    _, mean, sd = residual_products(np.array([[0.0], [2.0]]), np.ones((2, 1)))
    assert_array_equal(mean, [1.0])
    assert_array_equal(sd, [1.0])


def test_residual_products_empty_gives_nan():
    products, mean, sd = residual_products(np.empty((0, 3)), np.empty((0, 3)))
    assert products.shape == (0, 3)
    assert np.all(np.isnan(mean)) and np.all(np.isnan(sd))


@pytest.mark.parametrize("p", [1, 4])
@pytest.mark.parametrize("n", [1, 40])
def test_gcm_linear_products_matches_twin(n, p):
    rng = np.random.default_rng(41)
    x_resid_scaled = rng.normal(size=(n, p))
    resid = rng.normal(size=n)
    beta = rng.normal(size=p)
    products = gcm_linear_products(x_resid_scaled, resid, beta)
    assert products.shape == (n, p)
    assert_matches_twin(products, reference.gcm_linear_products(x_resid_scaled, resid, beta))


@pytest.mark.parametrize("loss_code", LOSS_CODES)
@pytest.mark.parametrize("s", [1, 3])
@pytest.mark.parametrize("n", [1, 40])
def test_group_drop_losses_matches_twin(n, s, loss_code):
    rng = np.random.default_rng(51)
    y, pred, xg_cols, shift_vec = make_linear_inputs(rng, n, s)
    losses = group_drop_losses(y, pred, xg_cols, shift_vec, loss_code)
    assert losses.shape == (n,)
    assert_matches_twin(losses, reference.group_drop_losses(y, pred, xg_cols, shift_vec, loss_code))


def test_unknown_loss_code_gives_nan_in_kernel_and_twin():
    rng = np.random.default_rng(61)
    pap_inputs = make_pap_inputs(rng, 10, 2, 3)
    linear_inputs = make_linear_inputs(rng, 10, 3)
    for module in (reference, None):
        pap = reference.pap_linear_losses if module else pap_linear_losses
        loco = reference.loco_linear_losses if module else loco_linear_losses
        group = reference.group_drop_losses if module else group_drop_losses
        for array in (*pap(*pap_inputs, 99), loco(*linear_inputs, 99), group(*linear_inputs, 99)):
            assert np.all(np.isnan(array))


# --------------------------------------------------------------------------- determinism
def _all_kernel_calls(rng):
    """One call of every kernel on fresh random inputs, large enough to use threads."""
    n, p = 5 * PAP_BLOCK_SIZE + 3, 4
    pap_inputs = make_pap_inputs(rng, n, 3, 7)
    linear_inputs = make_linear_inputs(rng, n, p)
    x_resid = rng.normal(size=(n, p))
    y_resid = rng.normal(size=(n, p))
    resid = rng.normal(size=n)
    beta = rng.normal(size=p)
    return [
        (pap_linear_losses, (*pap_inputs, LOSS_SQUARED)),
        (pap_linear_losses, (*pap_inputs, LOSS_ABSOLUTE)),
        (loco_linear_losses, (*linear_inputs, LOSS_SQUARED)),
        (loco_linear_losses, (*linear_inputs, LOSS_ABSOLUTE)),
        (residual_products, (x_resid, y_resid)),
        (gcm_linear_products, (x_resid, resid, beta)),
        (group_drop_losses, (*linear_inputs, LOSS_SQUARED)),
        (group_drop_losses, (*linear_inputs, LOSS_ABSOLUTE)),
        (pap_linear_terms, (*pap_inputs[:5], rng.uniform(0.5, 2.0, size=len(pap_inputs[0])),
                            rng.uniform(0.0, 2.0, size=len(pap_inputs[0])), LOSS_SQUARED)),
        (permutations_from_words, (rng.integers(0, 2**64, size=(11, 200), dtype=np.uint64), 390)),
        (derangements_from_stream, (rng.integers(0, 2**64, size=4_000, dtype=np.uint64), 390, 11)),
        (pap_se_sums, (*_se_inputs(rng, n), 1.3, 0.2)),
        (pap_se_moments, (*_se_inputs(rng, n), 1.3, 0.2)),
        (column_r2, (x_resid, y_resid)),
        (constant_columns, (x_resid,)),
        *_group_calls(rng, n),
    ]


def _group_calls(rng, n):
    """pap_linear_groups on shared permutations and on drawn ones (5 groups of one or two columns)."""
    from vimp._split import GroupPermutations

    X = rng.normal(size=(n, 6))
    y, coef = rng.normal(size=n), rng.normal(size=6)
    pred = X @ coef + 0.3 * rng.normal(size=n)
    full = (y - pred) ** 2
    col_start, col_index = np.array([0, 1, 3, 4, 5, 6]), np.array([0, 1, 2, 3, 4, 5])
    calls = []
    for kind in ("derangement", "uniform"):
        draws = GroupPermutations(np.random.SeedSequence(5), [(2, g, 0) for g in range(5)], n, 3, kind)
        states, derangements, block_words, width = draws.compiled()
        calls.append((pap_linear_groups, (y, pred, X, coef, col_start, col_index, np.zeros((0, n), np.int64),
                                          states, derangements, block_words, width, full, LOSS_SQUARED,
                                          np.empty((5, 5, n)), np.empty((5, 3)))))
    calls.append((pap_linear_groups, (y, pred, X, coef, col_start, col_index, draws.draw(0),
                                      np.zeros((0, 4), np.uint64), False, np.zeros(1, np.int64), 0, full,
                                      LOSS_ABSOLUTE, np.empty((5, 5, n)), np.empty((5, 3)))))
    return calls


def test_kernels_are_deterministic_across_calls():
    for kernel, args in _all_kernel_calls(np.random.default_rng(71)):
        assert_bit_identical(kernel(*args), kernel(*args))


@pytest.mark.usefixtures("restore_threads")
def test_kernels_do_not_depend_on_thread_count():
    calls = _all_kernel_calls(np.random.default_rng(72))
    results = []
    for n_threads in THREAD_COUNTS:
        numba.set_num_threads(n_threads)
        results.append([kernel(*args) for kernel, args in calls])
    for other in results[1:]:
        for first, second in zip(results[0], other):
            assert_bit_identical(first, second)


# --------------------------------------------------------------------------- brute-force refits
def _ols_setting(seed):
    """Collinear design with an intercept (Bladen et al. style), a fit and G = (X'X)^{-1}."""
    rng = np.random.default_rng(seed)
    n, p_features, delta = 60, 4, 0.5
    mixing = delta * np.ones((p_features, p_features)) + (1 - delta) * np.eye(p_features)

    def design(size):
        return np.column_stack([np.ones(size), rng.normal(size=(size, p_features)) @ mixing])

    X = design(n)
    X_val = design(n)
    beta_true = np.array([0.5, 1.0, -2.0, 0.0, 1.5])
    y = X @ beta_true + rng.normal(size=n)
    y_val = X_val @ beta_true + rng.normal(size=n)
    beta_hat = np.linalg.lstsq(X, y, rcond=None)[0]
    cholesky = scipy.linalg.cho_factor(X.T @ X)
    G = scipy.linalg.cho_solve(cholesky, np.eye(X.shape[1]))
    return X, y, X_val, y_val, beta_hat, cholesky, G


def _refit_prediction(X, y, X_eval, dropped):
    keep = np.setdiff1d(np.arange(X.shape[1]), dropped)
    coef = np.linalg.lstsq(X[:, keep], y, rcond=None)[0]
    return X_eval[:, keep] @ coef


@pytest.mark.parametrize("loss_code", LOSS_CODES)
@pytest.mark.parametrize("evaluation", ["training", "validation"])
def test_loco_linear_losses_matches_brute_force_refit(evaluation, loss_code):
    X, y, X_val, y_val, beta_hat, cholesky, G = _ols_setting(81)
    X_eval, y_eval = (X, y) if evaluation == "training" else (X_val, y_val)
    pred = X_eval @ beta_hat
    xg = np.ascontiguousarray(scipy.linalg.cho_solve(cholesky, X_eval.T).T)  # X_eval @ G
    shift = beta_hat / np.diag(G)
    losses = loco_linear_losses(y_eval, pred, xg, shift, loss_code)
    for j in range(1, X.shape[1]):  # every column but the intercept
        brute = reference.pointwise_loss(y_eval, _refit_prediction(X, y, X_eval, [j]), loss_code)
        assert_allclose(losses[:, j], brute, rtol=REFIT_RTOL)
    if loss_code == LOSS_SQUARED and evaluation == "training":
        # RSS_{-j} - RSS = beta_j^2 / G_jj (THEORY.md section 1).
        rss = np.sum((y - pred) ** 2)
        assert_allclose(losses.sum(axis=0) - rss, beta_hat**2 / np.diag(G), rtol=REFIT_RTOL)


@pytest.mark.parametrize("loss_code", LOSS_CODES)
@pytest.mark.parametrize("evaluation", ["training", "validation"])
@pytest.mark.parametrize("group", [[2], [1, 3], [1, 2, 4]])
def test_group_drop_losses_matches_brute_force_refit(group, evaluation, loss_code):
    X, y, X_val, y_val, beta_hat, cholesky, G = _ols_setting(82)
    X_eval, y_eval = (X, y) if evaluation == "training" else (X_val, y_val)
    pred = X_eval @ beta_hat
    xg_cols = np.ascontiguousarray(X_eval @ G[:, group])
    shift_vec = scipy.linalg.solve(G[np.ix_(group, group)], beta_hat[group], assume_a="pos")
    losses = group_drop_losses(y_eval, pred, xg_cols, shift_vec, loss_code)
    brute = reference.pointwise_loss(y_eval, _refit_prediction(X, y, X_eval, group), loss_code)
    assert_allclose(losses, brute, rtol=REFIT_RTOL)
    if len(group) == 1:
        # A group of one is the drop-one case.
        xg = np.ascontiguousarray(X_eval @ G)
        loco = loco_linear_losses(y_eval, pred, xg, beta_hat / np.diag(G), loss_code)
        assert_allclose(losses, loco[:, group[0]], rtol=1e-12)


def test_gcm_linear_products_matches_brute_force_refit():
    X, y, _, _, beta_hat, cholesky, G = _ols_setting(83)
    features = np.arange(1, X.shape[1])  # every column but the intercept
    resid = y - X @ beta_hat
    x_resid_scaled = np.ascontiguousarray((X @ G)[:, features] / np.diag(G)[features])
    products = gcm_linear_products(x_resid_scaled, resid, np.ascontiguousarray(beta_hat[features]))

    brute_x_resid = np.empty_like(x_resid_scaled)
    brute_y_resid = np.empty_like(x_resid_scaled)
    for column, j in enumerate(features):
        others = np.setdiff1d(np.arange(X.shape[1]), [j])
        coef_x = np.linalg.lstsq(X[:, others], X[:, j], rcond=None)[0]
        brute_x_resid[:, column] = X[:, j] - X[:, others] @ coef_x
        brute_y_resid[:, column] = y - _refit_prediction(X, y, X, [j])

    # The x-residual X G e_j / G_jj is the residual of x_j on the other columns ...
    assert_allclose(x_resid_scaled, brute_x_resid, rtol=REFIT_RTOL, atol=1e-12)
    # ... and resid + beta_j e_j is the residual of y under the refit without j.
    assert_allclose(
        resid[:, None] + beta_hat[features] * x_resid_scaled, brute_y_resid, rtol=REFIT_RTOL, atol=1e-12
    )
    brute_products = brute_x_resid * brute_y_resid
    assert_allclose(products, brute_products, rtol=REFIT_RTOL, atol=1e-12)

    # The GCM summaries agree whichever way the products were formed.
    _, mean, sd = residual_products(brute_x_resid, brute_y_resid)
    assert_allclose(mean, products.mean(axis=0), rtol=REFIT_RTOL)
    assert_allclose(sd, products.std(axis=0), rtol=REFIT_RTOL)


# --------------------------------------------------------------------------- pure-Python kernels
def test_python_functions_of_kernels_match_twins():
    """Run the kernels' own Python code (``py_func``), so coverage sees it."""
    rng = np.random.default_rng(91)
    n, p = PAP_BLOCK_SIZE + 9, 3  # two blocks in the PaP kernel
    for loss_code in LOSS_CODES:
        pap_inputs = make_pap_inputs(rng, n, 2, 3)
        for actual, desired in zip(
            python_function(pap_linear_losses)(*pap_inputs, loss_code),
            reference.pap_linear_losses(*pap_inputs, loss_code),
        ):
            assert_matches_twin(actual, desired)
        weight, full = rng.uniform(0.5, 2.0, size=n), rng.uniform(0.0, 2.0, size=n)
        for actual, desired in zip(
            python_function(pap_linear_terms)(*pap_inputs, weight, full, loss_code),
            reference.pap_linear_terms(*pap_inputs, weight, full, loss_code),
        ):
            assert_matches_twin(actual, desired)

        linear_inputs = make_linear_inputs(rng, n, p)
        assert_matches_twin(
            python_function(loco_linear_losses)(*linear_inputs, loss_code),
            reference.loco_linear_losses(*linear_inputs, loss_code),
        )
        assert_matches_twin(
            python_function(group_drop_losses)(*linear_inputs, loss_code),
            reference.group_drop_losses(*linear_inputs, loss_code),
        )
        for y, yhat in rng.normal(size=(5, 2)):
            assert_matches_twin(
                python_function(pointwise_loss)(y, yhat, loss_code), reference.pointwise_loss(y, yhat, loss_code)
            )
    assert np.isnan(python_function(pointwise_loss)(1.0, 2.0, 99))

    x_resid = rng.normal(size=(n, p))
    y_resid = rng.normal(size=(n, p))
    for actual, desired in zip(
        python_function(residual_products)(x_resid, y_resid), reference.residual_products(x_resid, y_resid)
    ):
        assert_matches_twin(actual, desired)
    _, mean, sd = python_function(residual_products)(np.empty((0, 2)), np.empty((0, 2)))
    assert np.all(np.isnan(mean)) and np.all(np.isnan(sd))

    resid = rng.normal(size=n)
    beta = rng.normal(size=p)
    assert_matches_twin(
        python_function(gcm_linear_products)(x_resid, resid, beta),
        reference.gcm_linear_products(x_resid, resid, beta),
    )

    y, pred, x_cols, coef, _ = make_pap_inputs(rng, 4, 1, 1)
    obs_mean, repeat_mean = python_function(pap_linear_losses)(
        y, pred, x_cols, coef, np.empty((0, 4), dtype=np.int64), LOSS_SQUARED
    )
    assert np.all(np.isnan(obs_mean)) and repeat_mean.shape == (0,)
    empty = np.empty(0)
    _, repeat_mean = python_function(pap_linear_losses)(
        empty, empty, np.empty((0, 1)), coef, np.empty((2, 0), dtype=np.int64), LOSS_SQUARED
    )
    assert np.all(np.isnan(repeat_mean))

    words = rng.integers(0, 2**64, size=(3, 20), dtype=np.uint64)
    for actual, desired in zip(python_function(permutations_from_words)(words, 30),
                               reference.permutations_from_words(words, 30)):
        assert_array_equal(actual, desired)
    _, exhausted = python_function(permutations_from_words)(np.zeros((1, 2), dtype=np.uint64), 3)
    assert exhausted.all()
    words = rng.integers(0, 2**64, size=60, dtype=np.uint64)
    for n in (0, 1, 2, 30):
        for count in (1, 5):
            for actual, desired in zip(python_function(derangements_from_stream)(words, n, count),
                                       reference.derangements_from_stream(words, n, count)):
                assert_array_equal(actual, desired)
    _, done, _ = python_function(derangements_from_stream)(np.zeros(2, dtype=np.uint64), 3, 1)
    assert done == 0


# --------------------------------------------------------------------------- flag policy
def test_every_kernel_has_a_twin_with_the_same_signature():
    import inspect

    for kernel, twin in TWINS.items():
        function = python_function(kernel)
        assert function.__name__ == twin.__name__
        assert inspect.signature(function) == inspect.signature(twin)
        assert function.__doc__ and twin.__doc__


@pytest.mark.skipif(JIT_DISABLED, reason="flags exist only on compiled dispatchers")
def test_flag_policy():
    parallel_kernels = {pap_linear_losses, loco_linear_losses, loco_linear_losses_into, gcm_linear_products,
                        group_drop_losses, drop_one_residuals_into, pap_linear_groups}
    for kernel in TWINS:
        options = kernel.targetoptions
        # cache=True is not kept in targetoptions; it installs an on-disk FunctionCache.
        assert type(kernel._cache).__name__ == "FunctionCache"
        assert "fastmath" not in options
        assert bool(options.get("parallel", False)) == (kernel in parallel_kernels)


@pytest.mark.skipif(JIT_DISABLED, reason="this is the run that the test starts")
def test_kernels_as_plain_python():
    """The kernel tests again with NUMBA_DISABLE_JIT=1, so the kernels' Python code runs (and is covered)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", __file__],
        env=env, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


# --------------------------------------------------------------------------- draw_permutations
def test_draw_permutations_uses_only_the_generator():
    from vimp._split import _permutation_reserve, draw_permutations

    n, R = 1000, 6
    width = (n - 1 + _permutation_reserve(n) + 1) // 2
    perms = draw_permutations(np.random.default_rng(15), n, R)
    words = np.random.default_rng(15).bit_generator.random_raw((R, width))  # PCG64: raw 64-bit outputs
    assert_array_equal(perms, reference.permutations_from_words(words, n)[0])
    # a 32-bit bit generator goes through Generator.integers
    mt_perms = draw_permutations(np.random.Generator(np.random.MT19937(15)), n, R)
    mt_words = np.random.Generator(np.random.MT19937(15)).integers(0, 2**64, size=(R, width), dtype=np.uint64)
    assert_array_equal(mt_perms, reference.permutations_from_words(mt_words, n)[0])
    assert_array_equal(np.sort(perms, axis=1), np.broadcast_to(np.arange(n), (R, n)))
    assert draw_permutations(np.random.default_rng(15), 1, 3).tolist() == [[0], [0], [0]]
    assert draw_permutations(np.random.default_rng(15), 0, 2).shape == (2, 0)
    assert draw_permutations(np.random.default_rng(15), 5, 0).shape == (0, 5)
    with pytest.raises(ValueError, match="n and n_permutations"):
        draw_permutations(np.random.default_rng(15), -1, 2)


def test_draw_permutations_redraws_an_exhausted_row(monkeypatch):
    import vimp._kernels
    from vimp._split import draw_permutations

    real = vimp._kernels.permutations_from_words

    def exhaust_row_one(words, n):
        perms, exhausted = real(words, n)
        exhausted[1] = True
        perms[1] = 0  # not a permutation: must be replaced
        return perms, exhausted

    monkeypatch.setattr(vimp._kernels, "permutations_from_words", exhaust_row_one)
    perms = draw_permutations(np.random.default_rng(16), 50, 3)
    rng = np.random.default_rng(16)
    from vimp._split import _permutation_reserve

    rng.bit_generator.random_raw((3, (49 + _permutation_reserve(50) + 1) // 2))
    assert_array_equal(perms[1], rng.permutation(50))  # drawn after the words, from the same Generator
    monkeypatch.setattr(vimp._kernels, "permutations_from_words", real)
    unpatched = draw_permutations(np.random.default_rng(16), 50, 3)
    assert_array_equal(perms[[0, 2]], unpatched[[0, 2]])


def test_draw_derangements_uses_only_the_generator(monkeypatch):
    import vimp._split as split
    from vimp._split import _derangement_words, draw_permutations

    n, R = 40, 50

    def by_hand(seed, size):
        # one stream of words; where it runs out, fresh words for the remaining rows
        rng = np.random.default_rng(seed)
        out = np.empty((R, n), dtype=np.int64)
        done = draws = 0
        while done < R:
            drawn, got, _ = reference.derangements_from_stream(rng.bit_generator.random_raw(size(n, R - done)),
                                                               n, R - done)
            out[done:done + got] = drawn[:got]
            done += got
            draws += 1
        return out, draws

    perms = draw_permutations(np.random.default_rng(20), n, R, kind="derangement")
    expected, draws = by_hand(20, _derangement_words)
    assert_array_equal(perms, expected)
    assert draws == 1
    # with words for about one derangement per draw (3 (n - 1) words), the loop runs many times and an
    # attempt often runs out: still the same stream
    def few(n, m):
        return (3 * (n - 1) + 1) // 2

    monkeypatch.setattr(split, "_derangement_words", few)
    expected_small, draws = by_hand(20, few)
    assert draws > R // 2
    assert_array_equal(draw_permutations(np.random.default_rng(20), n, R, kind="derangement"), expected_small)
    assert not np.any(expected_small == np.arange(n))
    monkeypatch.undo()
    assert not np.any(perms == np.arange(n))
    mt = draw_permutations(np.random.Generator(np.random.MT19937(20)), n, R, kind="derangement")
    assert not np.any(mt == np.arange(n))
    assert_array_equal(mt, draw_permutations(np.random.Generator(np.random.MT19937(20)), n, R,
                                             kind="derangement"))
    assert draw_permutations(np.random.default_rng(20), 2, 3, kind="derangement").tolist() == [[1, 0]] * 3
    assert draw_permutations(np.random.default_rng(20), 0, 2, kind="derangement").shape == (2, 0)
    assert draw_permutations(np.random.default_rng(20), 1, 0, kind="derangement").shape == (0, 1)
    with pytest.raises(ValueError, match="at least 2 rows"):
        draw_permutations(np.random.default_rng(20), 1, 2, kind="derangement")
    with pytest.raises(ValueError, match="kind must be one of"):
        draw_permutations(np.random.default_rng(20), 5, 2, kind="cyclic")


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 300), n_permutations=st.integers(0, 5), seed=st.integers(0, 2**32 - 1))
def test_draw_derangements_always_gives_derangements(n, n_permutations, seed):
    from vimp._split import draw_permutations

    perms = draw_permutations(np.random.default_rng(seed), n, n_permutations, kind="derangement")
    assert perms.shape == (n_permutations, n) and perms.dtype == np.int64
    assert_array_equal(np.sort(perms, axis=1), np.broadcast_to(np.arange(n), (n_permutations, n)))
    assert not np.any(perms == np.arange(n))
    assert_array_equal(perms, draw_permutations(np.random.default_rng(seed), n, n_permutations,
                                                kind="derangement"))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 400), n_permutations=st.integers(0, 5), seed=st.integers(0, 2**32 - 1))
def test_draw_permutations_always_gives_permutations(n, n_permutations, seed):
    from vimp._split import draw_permutations

    perms = draw_permutations(np.random.default_rng(seed), n, n_permutations)
    assert perms.shape == (n_permutations, n) and perms.dtype == np.int64
    assert_array_equal(np.sort(perms, axis=1), np.broadcast_to(np.arange(n), (n_permutations, n)))
    # the same Generator state gives the same permutations
    assert_array_equal(perms, draw_permutations(np.random.default_rng(seed), n, n_permutations))


def test_drop_one_residuals_into_matches_twin_and_the_fitter():
    from vimp._linear_fitter import LinearFitter

    rng = np.random.default_rng(34)
    X = rng.normal(size=(80, 4))
    y = X @ [1.0, -0.5, 0.0, 2.0] + rng.normal(size=80)
    fitter = LinearFitter().fit(X[:50], y[:50])
    rows = rng.permutation(100)[:30].astype(np.intp)
    outs = [(np.full((100, 4), -1.0), np.full((100, 4), -1.0)) for _ in range(2)]
    got = fitter.residuals_each(X[50:], y[50:], out=outs[0], rows=rows)
    assert got is outs[0]
    x_block, y_block = fitter.residuals_each(X[50:], y[50:])
    assert_bit_identical(outs[0][0][rows], x_block)  # the same operations, into the rows
    assert_bit_identical(outs[0][1][rows], y_block)
    untouched = np.setdiff1d(np.arange(100), rows)
    assert np.all(outs[0][0][untouched] == -1.0) and np.all(outs[0][1][untouched] == -1.0)
    diag = np.diag(fitter.G_)
    V = fitter._centred(X[50:]) @ fitter.G_
    residual = y[50:] - fitter.predict(X[50:])
    twin = reference.drop_one_residuals_into(V, residual, fitter.scale_ / diag, fitter.beta_ / diag,
                                            *outs[1], rows)
    assert_matches_twin(outs[0][0], twin[0])
    assert_matches_twin(outs[0][1], twin[1])


# --------------------------------------------------------------------------- PaP of all groups at once
@pytest.mark.parametrize("kind", ["derangement", "uniform"])
@pytest.mark.parametrize("n", [2, 3, 17, 600])
def test_pap_linear_groups_equals_pap_linear_terms_with_each_groups_generator(kind, n):
    # Each group's permutations drawn inside the kernel from its PCG64 state are those of
    # draw_permutations on the group's Generator, so the outputs equal pap_linear_terms group by group,
    # bit for bit; the twin (NumPy's PCG64 and the word kernels) gives the same to rounding.
    from vimp._split import GroupPermutations, draw_permutations

    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 5))
    y, coef = rng.normal(size=n), rng.normal(size=5)
    pred = X @ coef + 0.1 * rng.normal(size=n)
    full = (y - pred) ** 2
    groups = [[4], [0, 2], [1], [3]]
    col_start = np.array([0, 1, 3, 4, 5])
    col_index = np.array([4, 0, 2, 1, 3])
    seq = np.random.SeedSequence(12345, spawn_key=(7,))
    draws = GroupPermutations(seq, [(2, g, 1) for g in range(4)], n, 4, kind)
    states, derangements, block_words, width = draws.compiled()
    outs = []
    for function in (pap_linear_groups, reference.pap_linear_groups, python_function(pap_linear_groups)):
        block, repeat = np.full((4, 5, n), np.nan), np.full((4, 4), np.nan)
        drawn = function(y, pred, X, coef, col_start, col_index, np.zeros((0, n), np.int64), states,
                         derangements, block_words, width, full, LOSS_SQUARED, block, repeat)
        assert drawn.all()
        outs.append((block, repeat))
    assert_matches_twin(outs[1][0], outs[0][0])  # the twin sums in NumPy's order
    assert_matches_twin(outs[1][1], outs[0][1])
    assert_bit_identical(outs[2], outs[0])  # the kernel's own Python code
    for g, cols in enumerate(groups):
        perms = draw_permutations(np.random.default_rng(np.random.SeedSequence(12345, spawn_key=(7, 2, g, 1))),
                                  n, 4, kind=kind)
        assert_array_equal(perms, draws.draw(g))
        expected = pap_linear_terms(y, pred, np.ascontiguousarray(X[:, cols]), coef[cols], perms, np.ones(n), full,
                                    LOSS_SQUARED)
        assert_bit_identical(outs[0][0][g, 0], expected[0])  # obs_mean
        assert_bit_identical(outs[0][1][g], expected[1])  # repeat means
        for row, field in ((2, 2), (1, 3), (3, 4), (4, 5)):  # donor, square, donor_full, donor_weight
            assert_bit_identical(outs[0][0][g, row], expected[field])


def test_pap_linear_groups_reports_a_group_whose_uniform_words_run_out():
    # width 1 (two words) cannot make a permutation of 10 rows: the group is flagged, not written.
    n = 10
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n, 2)), rng.normal(size=n)
    states = np.array([[1, 2, 3, 5], [7, 11, 13, 17]], dtype=np.uint64)
    for function in (pap_linear_groups, reference.pap_linear_groups):
        block = np.full((2, 5, n), -7.0)
        drawn = function(y, y, X, np.ones(2), np.array([0, 1, 2]), np.array([0, 1]), np.zeros((0, n), np.int64),
                         states, False, np.zeros(3, np.int64), 1, y * 0, LOSS_SQUARED, block, np.empty((2, 2)))
        assert not drawn.any() and np.all(block == -7.0)


@pytest.mark.parametrize("entropy, spawn_key", [(0, ()), (2**32 + 5, (3,)), (2**127 + 11, ()), (None, (1, 2))])
def test_child_pcg64_states_are_the_states_of_the_childrens_generators(entropy, spawn_key):
    from vimp._split import child_pcg64_states

    seq = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    keys = [(2, g, f) for g in (0, 1, 2**31) for f in (0, 4)]
    states = child_pcg64_states(seq, keys)
    for key, state in zip(keys, states):
        child = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=tuple(seq.spawn_key) + key))
        numpy_state = child.bit_generator.state["state"]
        as_ints = [int(state[0]) << 64 | int(state[1]), int(state[2]) << 64 | int(state[3])]
        assert as_ints == [numpy_state["state"], numpy_state["inc"]]


def test_child_pcg64_states_refuse_layouts_they_do_not_cover():
    from vimp._split import GroupPermutations, child_pcg64_states

    assert child_pcg64_states(np.random.SeedSequence(2**130), [(1,)]) is None  # entropy above 128 bits
    assert child_pcg64_states(np.random.SeedSequence([1, 2]), [(1,)]) is None  # a list of words
    assert child_pcg64_states(np.random.SeedSequence(1), [(2**32,)]) is None  # a key word of 33 bits
    assert child_pcg64_states(np.random.SeedSequence(1), [(1,), (1, 2)]) is None  # keys of two lengths
    assert GroupPermutations(np.random.SeedSequence(1), [(1,)], 1, 3, "uniform").compiled() is None  # n < 2
    # the Generators still give each group's permutations there
    draws = GroupPermutations(np.random.SeedSequence(2**130), [(1,), (2,)], 6, 2, "derangement")
    assert draws.compiled() is None
    assert [p.shape for p in draws] == [(2, 6), (2, 6)]


@pytest.mark.parametrize("n", [1, 57])
def test_pap_se_moments_groups_are_pap_se_moments_group_by_group(n):
    rng = np.random.default_rng(n + 3)
    full = rng.uniform(0.0, 3.0, size=n)
    other_rows = rng.uniform(0.0, 3.0, size=(4, n))
    block = rng.uniform(0.0, 3.0, size=(3, 5, n))
    block[:, 4] = 1.0  # unit weights: donor weight means of one
    live = np.array([0, 2, 3])
    n_rep = np.full(n, 6.0)
    slope, offset = rng.uniform(0.5, 1.5, size=4), rng.normal(size=4)
    got = pap_se_moments_groups(full, other_rows, block, live, n_rep, slope, offset)
    assert got.shape == (3, 6)
    for j, g in enumerate(live):
        one = pap_se_moments(full, other_rows[g], block[j, 2], block[j, 1], block[j, 3], block[j, 4], np.ones(n),
                             n_rep, slope[g], offset[g])
        assert_bit_identical(got[j], np.array(one, dtype=float))
    assert_matches_twin(got, reference.pap_se_moments_groups(full, other_rows, block, live, n_rep, slope, offset))
    assert_bit_identical(python_function(pap_se_moments_groups)(full, other_rows, block, live, n_rep, slope,
                                                                offset), got)


@pytest.mark.parametrize("entropy, spawn_key", [(3, ()), (2**127 + 11, (4,)), (2**130, ())])
def test_child_generators_draw_what_the_childrens_generators_draw(entropy, spawn_key):
    # 2**130: a seed the compiled states do not cover (fresh Generators then); same draws either way.
    from vimp._base import child_rng
    from vimp._split import child_generators

    seq = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    keys = [(3, 0, g) for g in range(5)]
    got = [(gen.standard_normal(2), gen.chisquare(7.0)) for gen in child_generators(seq, keys)]
    again = [(gen.standard_normal(2), gen.chisquare(7.0)) for gen in child_generators(seq, keys)]  # reused
    want = [(rng.standard_normal(2), rng.chisquare(7.0)) for rng in (child_rng(seq, *key) for key in keys)]
    for a, b, c in zip(got, again, want):
        assert_array_equal(a[0], c[0]) and assert_array_equal(b[0], c[0])
        assert a[1] == b[1] == c[1]


@pytest.mark.parametrize("case", ["plain", "nan", "empty"])
def test_gather_shifted_rows_is_numpys_copy_extremes_shift_and_sums_bit_for_bit(case):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 7)) * rng.uniform(0.1, 1e3, size=7)
    if case == "nan":
        X[[5, 17], [2, 2]] = np.nan
    rows = np.array([], dtype=np.intp) if case == "empty" else rng.permutation(300)[:211]
    shift = rng.normal(size=7)
    outs = []
    for function in (gather_shifted_rows, reference.gather_shifted_rows, python_function(gather_shifted_rows)):
        got = (np.empty((len(rows), 7)), np.empty(7), np.empty(7), np.empty(7))
        function(X, rows, shift, *got)
        outs.append(got)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            assert_bit_identical(a, b)  # NumPy sums axis 0 of a C-ordered array row after row, as the kernel
    if case == "nan":
        assert np.isnan(outs[0][1][2]) and np.isnan(outs[0][2][2]) and np.isfinite(outs[0][1][[0, 1, 3]]).all()


@pytest.mark.parametrize("case", ["plain", "nan", "inf"])
def test_drop_one_residuals_extremes_into_writes_the_same_residuals_and_their_extremes(case):
    # Two blocks written into disjoint rows of the same arrays, as two folds: the residuals are those of
    # drop_one_residuals_into bit for bit, and the running extremes are NumPy's max / min of the arrays.
    rng = np.random.default_rng(35)
    p, N = 4, 90
    blocks = []
    rows = rng.permutation(N).astype(np.intp)
    for part in (rows[:50], rows[50:]):
        V = rng.normal(size=(len(part), p)) * [1.0, 1e3, 1e-3, 5.0]
        blocks.append((V, rng.normal(size=len(part)), rng.normal(size=p), rng.normal(size=p), part))
    if case == "nan":
        blocks[1][0][3, 2] = np.nan
    if case == "inf":
        blocks[0][0][7, 0] = np.inf
    expected = (np.zeros((N, p)), np.zeros((N, p)))
    for V, residual, xf, yf, part in blocks:
        drop_one_residuals_into(V, residual, xf, yf, *expected, part)
    for function in (drop_one_residuals_extremes_into, reference.drop_one_residuals_extremes_into,
                     python_function(drop_one_residuals_extremes_into)):
        out = (np.zeros((N, p)), np.zeros((N, p)))
        extremes = np.array([[-np.inf], [np.inf], [-np.inf], [np.inf]]).repeat(p, axis=1)
        for V, residual, xf, yf, part in blocks:
            got = function(V, residual, xf, yf, *out, part, extremes)
            assert got is extremes
        assert_bit_identical(out, expected)
        with np.errstate(invalid="ignore"):
            assert_array_equal(extremes, [expected[0].max(axis=0), expected[0].min(axis=0),
                                          expected[1].max(axis=0), expected[1].min(axis=0)])


@pytest.mark.parametrize("case", ["plain", "nan", "inf", "empty"])
def test_column_extremes_are_numpys_max_and_min(case):
    rng = np.random.default_rng(6)
    A = rng.normal(size=(0 if case == "empty" else 123, 5))
    if case == "nan":
        A[7, 1] = np.nan
    if case == "inf":
        A[3, 4], A[9, 0] = np.inf, -np.inf
    for function in (column_extremes, reference.column_extremes, python_function(column_extremes)):
        high, low = function(A, np.empty(5), np.empty(5))
        if case == "empty":
            assert np.all(high == -np.inf) and np.all(low == np.inf)
            continue
        assert_array_equal(high, np.max(A, axis=0))
        assert_array_equal(low, np.min(A, axis=0))


def test_loss_difference_sums_one_pass_keeps_precision_far_from_zero():
    # The one-pass shifted sums against NumPy's two passes where the terms' mean is 1e6 times their spread
    # (a naive one-pass sum of squares would lose every digit of the variance here).
    from vimp._inference import mean_and_se

    rng = np.random.default_rng(47)
    n = 5000
    learner = 1e3 + 1e-3 * rng.standard_normal((n, 2))  # l^2 ~ 1e6, spread ~ 2
    source = rng.standard_normal((n, 2))
    cols = np.array([0, 1], dtype=np.intp)
    fold = np.zeros(n, dtype=np.intp)
    mu, price = np.zeros((1, 2)), np.full((1, 2), 0.1)
    wn = np.full(n, 1.0 / n)
    got = loss_difference_sums(learner, cols, source, cols, fold, mu, price, wn)
    d = learner ** 2 - 1.1 * source ** 2
    mean, se = mean_and_se(d, None)
    assert_allclose(got[2], mean, rtol=1e-13)
    assert_allclose(got[3], se, rtol=1e-7)  # two-pass NumPy itself carries ~eps * mean / sd = 2e-10


@pytest.mark.parametrize("loss_code", [LOSS_SQUARED, LOSS_ABSOLUTE])
@pytest.mark.parametrize("n", [1, 2, 97])
def test_pap_linear_groups_on_shared_permutations_equals_pap_linear_terms_bit_for_bit(loss_code, n):
    # With shared permutations and the squared error the kernel takes the donor average of the full
    # model's losses once for all groups (_donor_full_mean) instead of in each group's loop; every output
    # must still be pap_linear_terms' own, group by group, bit for bit (groups of one and two columns),
    # in compiled code and as plain Python; the absolute error keeps the per-group loop.
    rng = np.random.default_rng(100 + n)
    X = rng.normal(size=(n, 5))
    y, coef = rng.normal(size=n), rng.normal(size=5)
    pred = X @ coef + 0.1 * rng.normal(size=n)
    full = (y - pred) ** 2 if loss_code == LOSS_SQUARED else np.abs(y - pred)
    groups = [[4], [0, 2], [1], [3]]
    col_start, col_index = np.array([0, 1, 3, 4, 5]), np.array([4, 0, 2, 1, 3])
    perms = np.array([rng.permutation(n) for _ in range(6)], dtype=np.int64)
    for function in (pap_linear_groups, python_function(pap_linear_groups)):
        block, repeat = np.full((4, 5, n), np.nan), np.full((4, 6), np.nan)
        drawn = function(y, pred, X, coef, col_start, col_index, perms, np.zeros((0, 4), np.uint64), False,
                         np.zeros(1, np.int64), 0, full, loss_code, block, repeat)
        assert drawn.all()
        for g, cols in enumerate(groups):
            expected = pap_linear_terms(y, pred, np.ascontiguousarray(X[:, cols]), coef[cols], perms, np.ones(n),
                                        full, loss_code)
            assert_bit_identical(block[g, 0], expected[0])
            assert_bit_identical(repeat[g], expected[1])
            for row, field in ((2, 2), (1, 3), (3, 4), (4, 5)):
                assert_bit_identical(block[g, row], expected[field])
