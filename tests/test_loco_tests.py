"""LOCO's test candidates (``LOCO(test=...)``): reproducibility, null calibration, the aggregation rules."""

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from vimp import LOCO
from vimp._inference import (
    cauchy_combination,
    draw_perturbation,
    mean_and_se,
    multisplit_pvalues,
    perturbed_paired_test,
    perturbed_test_from_draws,
    quantile_aggregation,
    split_test,
)
from vimp._loco import LOCO_TESTS, MULTISPLIT_SPLITS, perturbation_scale
from vimp._results import _TEST_NAMES
from vimp._split import sample_split

HOLDOUT_TESTS = [t for t in LOCO_TESTS if t not in ("split-folds", "nadeau-bengio")]


def null_data(seed, n=400, p=4):
    """x0 carries signal; x1..x3 are pure noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X[:, 0] + rng.standard_normal(n)
    return X, y


# --------------------------------------------------------------------------- aggregation rules
def test_cauchy_combination_hand_values():
    # tan(0.4 pi) = 3.0776835, tan(0) = 0: mean 1.5388418, p = 1/2 - arctan(1.5388418)/pi = 1/2 - 0.994492/pi = 0.18343
    t = (math.tan(0.4 * math.pi) + 0.0) / 2
    assert cauchy_combination([0.1, 0.5]) == pytest.approx(0.5 - math.atan(t) / math.pi, rel=1e-12)
    assert cauchy_combination([0.1, 0.5]) == pytest.approx(0.18343, abs=1e-5)
    # equal p-values combine to themselves; a zero wins; all ones give one; NaN propagates
    for p in (1e-12, 1e-5, 0.03, 0.5, 0.9):
        assert cauchy_combination([p, p, p]) == pytest.approx(p, rel=1e-9)
    assert cauchy_combination([0.0, 0.7]) == 0.0
    assert cauchy_combination([1.0, 1.0]) == 1.0
    assert np.isnan(cauchy_combination([np.nan, 0.2]))
    # along an axis
    np.testing.assert_allclose(cauchy_combination(np.array([[0.1, 0.2], [0.5, 0.2]]), axis=0),
                               [cauchy_combination([0.1, 0.5]), 0.2], rtol=1e-12)


def test_quantile_aggregation_hand_values_and_brute_force():
    # B = 4, gamma_min = 0.05: min_k p_(k) 4 / k = min(0.04, 0.04, 0.04, 0.5) = 0.04, times 1 - log 0.05
    assert quantile_aggregation([0.03, 0.01, 0.5, 0.02]) == pytest.approx(0.04 * (1 - math.log(0.05)),
                                                                          rel=1e-12)
    assert quantile_aggregation([0.5, 0.6, 0.7, 0.8]) == 1.0
    # gamma_min = 0.5 with B = 4: only k >= 2 counts: min(0.02*2, 0.03*4/3, 0.5) = 0.04; times 1 + log 2
    assert quantile_aggregation([0.03, 0.01, 0.5, 0.02], gamma_min=0.5) == pytest.approx(
        0.04 * (1 + math.log(2)), rel=1e-12)
    # the closed form equals the infimum over a fine gamma grid of the empirical quantile (lower
    # empirical quantile: the ceil(gamma B)-th order statistic)
    rng = np.random.default_rng(11)
    for _ in range(20):
        p = rng.uniform(size=25) ** 2
        gammas = np.linspace(0.05, 0.999999, 20001)
        q = np.array([min(1.0, np.sort(p / g)[int(math.ceil(g * 25 - 1e-12)) - 1]) for g in gammas])
        brute = min(1.0, (1 - math.log(0.05)) * q.min())
        assert quantile_aggregation(p) == pytest.approx(brute, rel=1e-3)
    with pytest.raises(ValueError, match="gamma_min"):
        quantile_aggregation([0.1], gamma_min=1.0)


def test_multisplit_pvalues_equal_split_test_loop():
    rng = np.random.default_rng(5)
    full = rng.exponential(size=101)
    red = full + rng.normal(0.05, 0.3, size=101)
    w = rng.uniform(0.5, 2.0, size=101)
    splits = [sample_split(101, rng) for _ in range(7)]
    for weights in (None, w):
        loop = [split_test(full, red[:, None], a, b, weights)[2][0] for a, b in splits]
        np.testing.assert_allclose(multisplit_pvalues(full, red, splits, weights), loop, rtol=1e-12)


def test_perturbed_test_is_not_degenerate_at_exactly_zero_differences():
    rng = np.random.default_rng(3)
    n = 300
    full = rng.exponential(size=n)
    diff = np.zeros((n, 2))
    pvalues = []
    for r in range(400):
        noise = np.random.default_rng(1000 + r).standard_normal((n, 2))
        est, se, p = perturbed_paired_test(diff, full, noise, perturbation_scale(n))
        assert np.all(se > 0) and np.all(np.isfinite(p))
        pvalues.append(p)
    pvalues = np.concatenate(pvalues)
    # pure noise terms: z is a t statistic of Gaussian data with n = 300, so p is uniform; KS at 800
    # (dependent in pairs only through nothing: independent draws) values, 0.1% level
    assert stats.kstest(pvalues, "uniform").pvalue > 1e-3
    # rho = sd(full) * n^(-1/4): the perturbed terms' sd
    assert perturbation_scale(200) == pytest.approx(200 ** -0.25)
    noise = np.random.default_rng(0).standard_normal((n, 1))
    _, se, _ = perturbed_paired_test(np.zeros((n, 1)), full, noise, 0.5)
    assert se[0] == pytest.approx(0.5 * full.std() * noise.std() / np.sqrt(n), rel=1e-9)


def _rotated_draws(diff, noise):
    """The three draws that ``noise`` amounts to for the differences ``diff`` (one column each)."""
    n = diff.shape[0]
    out = []
    for d, z in zip(diff.T, noise.T):
        a = z.sum() / math.sqrt(n)
        centred = d - d.mean()
        length = np.linalg.norm(centred)
        b = centred @ z / length if length > 0 else 0.0
        out.append((a, b, z @ z - a * a - b * b))
    return np.array(out)


@pytest.mark.parametrize("zero_column", [False, True])
def test_three_draws_give_the_perturbed_test_of_the_noise_they_summarise(zero_column):
    # For one noise vector z, (a, b, c) = (u'z, v'z, |z|^2 - a^2 - b^2) put into the three-draw formula must
    # give exactly the n-draw statistic: the algebra of perturbed_test_from_draws, checked to rounding.
    rng = np.random.default_rng(11)
    n, k = 257, 4
    full = rng.exponential(size=n)
    diff = rng.standard_normal((n, k)) * [0.1, 1.0, 3.0, 0.5] + [0.0, 0.2, -0.1, 0.05]
    if zero_column:
        diff[:, 0] = 0.0  # S = 0: b is then any N(0, 1) and b^2 + c the chi^2(n - 1) of the noise
    noise = rng.standard_normal((n, k))
    raw, raw_se = mean_and_se(diff)
    scale = perturbation_scale(n)
    expected = perturbed_paired_test(diff, full, noise, scale)
    got = perturbed_test_from_draws(raw, raw_se, full, scale, _rotated_draws(diff, noise))
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-14)


def test_three_draws_have_the_distribution_of_the_n_draws():
    # The draws' law: a, b ~ N(0, 1), c ~ chi^2(n - 2), independent. Compared with the rotated n-draw noise
    # over 4,000 replicates: two-sample KS of the test statistic and of its standard error at the 0.1%
    # level (literal seeds, so the outcome is fixed; a wrong law, e.g. chi^2(n - 1) for c or a missing b,
    # shifts the se by ~1/(2n) relative and fails at this size with n = 30 and rho as large as the spread).
    n, reps = 30, 4000
    gen = np.random.default_rng(5)
    full = gen.exponential(size=n)
    diff = gen.standard_normal((n, 1)) * 0.3 + 0.05
    raw, raw_se = mean_and_se(diff)
    scale = 2.0  # a large perturbation, so that the noise dominates the statistic
    drawn = np.array([draw_perturbation(np.random.default_rng([1, r]), n) for r in range(reps)])
    rotated = np.vstack([_rotated_draws(diff, np.random.default_rng([2, r]).standard_normal((n, 1)))
                         for r in range(reps)])
    for draws in (drawn, rotated):
        assert draws.shape == (reps, 3)
    mine = perturbed_test_from_draws(np.repeat(raw, reps), np.repeat(raw_se, reps), full, scale, drawn)
    theirs = perturbed_test_from_draws(np.repeat(raw, reps), np.repeat(raw_se, reps), full, scale, rotated)
    for a, b in zip(mine[:2], theirs[:2]):
        assert stats.ks_2samp(a, b).pvalue > 1e-3
    # moments of the draws: mean 0, 0 and n - 2 within 4 Monte Carlo standard errors (1/sqrt(R), 1/sqrt(R),
    # sqrt(2 (n - 2) / R))
    assert abs(drawn[:, 0].mean()) < 4 / math.sqrt(reps) and abs(drawn[:, 1].mean()) < 4 / math.sqrt(reps)
    assert abs(drawn[:, 2].mean() - (n - 2)) < 4 * math.sqrt(2 * (n - 2) / reps)


def test_loco_perturbed_test_uses_three_draws_without_weights_and_the_noise_with_them():
    X, y = null_data(4, n=400)
    est = LOCO(LinearRegression(), test="perturbed", random_state=3).fit(X[:200], y[:200])
    res = est.importance(X[200:], y[200:])
    full = (y[200:] - est.fitters_[0].predict(X[200:])) ** 2
    diff = res.per_observation
    raw, raw_se = mean_and_se(diff)
    from vimp._base import _SEED_TEST, child_rng
    from vimp._loco import _KEY_PERTURB

    draws = np.array([draw_perturbation(child_rng(est.seed_, _SEED_TEST, _KEY_PERTURB, g), 200)
                      for g in range(X.shape[1])])
    p = perturbed_test_from_draws(raw, raw_se, full, perturbation_scale(200), draws)[2]
    np.testing.assert_allclose(res.pvalue, p, rtol=1e-10)
    # with weights: the n-draw noise (weights make the sum of squares a weighted chi-square mixture)
    w = np.random.default_rng(0).uniform(0.5, 2.0, 200)
    res_w = est.importance(X[200:], y[200:], sample_weight=w)
    noise = np.column_stack([child_rng(est.seed_, _SEED_TEST, _KEY_PERTURB, g).standard_normal(200)
                             for g in range(X.shape[1])])
    size = w.sum() ** 2 / (w * w).sum()
    p_w = perturbed_paired_test(res_w.per_observation, full, noise, perturbation_scale(size), w)[2]
    np.testing.assert_allclose(res_w.pvalue, p_w, rtol=1e-10)


# --------------------------------------------------------------------------- through LOCO
@pytest.mark.parametrize("test", LOCO_TESTS)
def test_candidate_reproducible_and_independent_of_n_jobs(test):
    X, y = null_data(7, n=300)
    est = DecisionTreeRegressor(max_depth=3, random_state=0)  # the per-group (non-batch) path
    runs = [LOCO(est, cv=5, test=test, random_state=42, n_jobs=jobs).fit(X, y).importance()
            for jobs in (None, None, 2)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.pvalue, runs[0].pvalue)
    assert runs[0].test == test and test in _TEST_NAMES
    assert _TEST_NAMES[test] in runs[0].summary().as_text()
    # a different seed moves every randomised test's p-values
    if test != "paired":
        moved = LOCO(est, cv=5, test=test, random_state=43).fit(X, y).importance()
        assert not np.array_equal(moved.pvalue, runs[0].pvalue)


def test_per_feature_splits_differ_across_features_and_shared_split_does_not():
    X, y = null_data(8, n=200)
    loco = LOCO(LinearRegression(), test="split-per-feature", random_state=0).fit(X[:100], y[:100])
    result = loco.importance(X[100:], y[100:])
    a0, _ = loco._group_splits(0, 100)[0]
    a1, _ = loco._group_splits(1, 100)[0]
    assert not np.array_equal(a0, a1)
    loco.set_params(test="split")
    assert np.array_equal(loco._group_splits(0, 100)[0][0], loco._group_splits(1, 100)[0][0])
    loco.set_params(test="multisplit-cauchy")
    multi = loco.importance(X[100:], y[100:])
    assert multi.details["split_pvalues"].shape == (4, MULTISPLIT_SPLITS)
    np.testing.assert_allclose(multi.pvalue, cauchy_combination(multi.details["split_pvalues"], axis=1))
    np.testing.assert_array_equal(multi.importance, result.importance)  # the estimate is the paired mean


def test_split_folds_uses_whole_folds_and_needs_cross_fitting():
    X, y = null_data(9, n=200)
    loco = LOCO(LinearRegression(), cv=4, test="split-folds", random_state=0).fit(X, y)
    loco.importance()
    a, b = loco._group_splits(0, 200)[0]
    folds = [set(test.tolist()) for _, test in loco.folds_]
    for half in (a, b):
        assert all(set(half.tolist()) >= f or not (set(half.tolist()) & f) for f in folds)
    assert len(a) + len(b) == 200 and np.intersect1d(a, b).size == 0
    with pytest.raises(ValueError, match="split-folds"):
        LOCO(LinearRegression(), test="split-folds").fit(X, y)


def _null_pvalues(tests, reps, cv, seed0, n=400):
    out = {t: [] for t in tests}
    for r in range(reps):
        X, y = null_data(seed0 + r, n=n)
        groups = {"x3": [3]}
        if cv is None:
            loco = LOCO(LinearRegression(), groups=groups, random_state=seed0 + r).fit(X[:n // 2], y[:n // 2])
            data = (X[n // 2:], y[n // 2:])
        else:
            loco = LOCO(LinearRegression(), cv=cv, groups=groups, random_state=seed0 + r).fit(X, y)
            data = ()
        for t in tests:
            loco.set_params(test=t)
            out[t].append(loco.importance(*data).pvalue[0])
    return {t: np.array(v) for t, v in out.items()}


# Size tolerance: with R independent data sets the count of p <= 0.05 is Binomial(R, 0.05) at an exact
# test (fewer at a conservative one); we refuse counts above its 99.9% quantile (one-sided).
def _max_rejections(reps):
    return int(stats.binom.ppf(0.999, reps, 0.05))


def test_null_pvalues_on_ols_holdout_hold_their_level():
    reps = 150
    pv = _null_pvalues(HOLDOUT_TESTS, reps, None, 5000)
    for t, p in pv.items():
        assert np.sum(p <= 0.05) <= _max_rejections(reps), t  # at most 17 of 150
    # the split-type tests are exact here (the O(1/n) fitted-model difference is small against their
    # O(1/sqrt(n)) standard error): KS against uniform at the 0.1% level
    for t in ("split", "split-per-feature"):
        assert stats.kstest(pv[t], "uniform").pvalue > 1e-3, t


def test_null_pvalues_on_ols_cv5_hold_their_level():
    reps = 100
    pv = _null_pvalues(LOCO_TESTS, reps, 5, 7000, n=200)
    for t, p in pv.items():
        assert np.sum(p <= 0.05) <= _max_rejections(reps), t
    assert stats.kstest(pv["split-per-feature"], "uniform").pvalue > 1e-3


@pytest.mark.slow
def test_null_calibration_long():
    reps = 1000
    pv = _null_pvalues(LOCO_TESTS, reps, 5, 20000, n=400)
    for t, p in pv.items():
        assert np.sum(p <= 0.05) <= _max_rejections(reps), t  # at most 71 of 1000


def test_normal_tail_and_quantile_are_scipy_stats_bit_for_bit():
    # _normal_sf / _normal_quantile call scipy.special directly (the distribution object's argument
    # handling is most of a small call's inference time); they must be scipy.stats.norm's numbers exactly.
    from scipy import stats

    from vimp._inference import _normal_quantile, _normal_sf

    z = np.concatenate([np.linspace(-40.0, 40.0, 20_001), [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-300]])
    np.testing.assert_array_equal(_normal_sf(z), stats.norm.sf(z))
    q = np.concatenate([np.linspace(0.0, 1.0, 20_001), [np.nan, 0.975, 1e-300]])
    np.testing.assert_array_equal(_normal_quantile(q), stats.norm.ppf(q))
    assert _normal_sf(1.5) == stats.norm.sf(1.5) and np.ndim(_normal_sf(1.5)) == 0
