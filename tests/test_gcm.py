"""Tests of vimp.GCM: closed forms, calibration, groups, residual input, modes and bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures
from sklearn.tree import DecisionTreeRegressor

import vimp
from vimp import GCM, NuisanceQualityWarning

Z95 = stats.norm.ppf(0.975)


def equicorrelated(n, beta, rho, rng, sigma=1.0):
    """x ~ N(0, (1 - rho) I + rho 11'), y = x beta + sigma * eps."""
    p = len(beta)
    cov = np.full((p, p), rho)
    np.fill_diagonal(cov, 1.0)
    X = rng.normal(size=(n, p)) @ np.linalg.cholesky(cov).T
    return X, X @ np.asarray(beta, dtype=float) + sigma * rng.normal(size=n)


def binomial_band(n_trials, prob, coverage=0.999):
    """The central ``coverage`` band of a Binomial(n_trials, prob) count."""
    tail = (1.0 - coverage) / 2.0
    return stats.binom.ppf(tail, n_trials, prob), stats.binom.isf(tail, n_trials, prob)


def quiet(call, *args, **kwargs):
    """Run ``call`` with NuisanceQualityWarning silenced (for calls whose learners are poor on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NuisanceQualityWarning)
        return call(*args, **kwargs)


def gcm_x1_result(X, y, **kwargs):
    return quiet(lambda: GCM(LinearRegression(), **kwargs).fit(X, y).importance())


# ------------------------------------------------------------------------------ closed forms
def test_linear_gaussian_estimate_and_standard_error():
    # p = 5 equicorrelated rho = 0.5: (Sigma^-1)_11 = 5/3, so Var(xi) = 0.6 and psi_1 = beta_1 * 0.6 = 0.3;
    # n AVar = Var(xi delta) + sigma^2 E[xi^2] = 2 beta_1^2 0.6^2 + 0.6 = 0.78 (THEORY.md section 2).
    n = 20_000
    rng = np.random.default_rng(20251)
    X, y = equicorrelated(n, [0.5, 1, 1, 1, 1], 0.5, rng)
    result = GCM(LinearRegression(), cv=2, random_state=0).fit(X, y).importance()
    # Mean: psi_hat ~ N(0.3, 0.78 / n); 4 Monte Carlo sds (sd = 0.0062) fail about 1 run in 16,000.
    mc_sd = np.sqrt(0.78 / n)
    assert abs(result.importance[0] - 0.3) < 4 * mc_sd
    # SE: se = sd(R) / sqrt(n). The sample sd of n products has relative sd sqrt((kurt - 1) / (4 n))
    # (delta method on the sample variance, Var(s^2) = (m4 - m2^2) / n), kurt estimated from the products.
    R = result.per_observation[:, 0]
    kurt = np.mean((R - R.mean()) ** 4) / np.var(R) ** 2
    rel_tol = 4 * np.sqrt((kurt - 1) / (4 * n))
    assert abs(result.std_error[0] / np.sqrt(0.78 / n) - 1) < rel_tol
    assert result.std_error[0] == pytest.approx(R.std() / np.sqrt(n), rel=1e-12)
    assert result.pvalue[0] < 1e-10


def test_additive_sine_matches_stein_closed_form():
    # y = sin(x1) + x2 + eps, x ~ N(0, I): psi_1 = E[x1 sin x1] = E[cos x1] = exp(-1/2) (Stein).
    # OLS is exact for both regressions of x1's test (E[x1|x_-1] = 0, E[y|x_-1] = x2 + E[sin x1] = x2).
    n = 20_000
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 3))
    y = np.sin(X[:, 0]) + X[:, 1] + rng.normal(size=n)
    result = gcm_x1_result(X, y, cv=2, random_state=1)
    # 4 standard errors: a normal estimate misses by more about 1 time in 16,000.
    assert abs(result.importance[0] - np.exp(-0.5)) < 4 * result.std_error[0]
    assert abs(result.importance[2]) < 4 * result.std_error[2]


def test_even_function_has_no_gcm_power_but_loco_detects_it():
    # y = x1^2 - 1 + x2 + eps with x1 symmetric and independent of x2: E[Cov(x1, y | x2)] = E[x1^3] = 0.
    rng = np.random.default_rng(31)
    pvalues = []
    for _ in range(200):
        X = rng.normal(size=(300, 2))
        y = X[:, 0] ** 2 - 1 + X[:, 1] + rng.normal(size=300)
        pvalues.append(gcm_x1_result(X, y, groups={"x1": [0]}, cv=2, random_state=0).pvalue[0])
    assert stats.ks_1samp(pvalues, stats.uniform.cdf).pvalue > 0.001
    X = rng.normal(size=(2000, 2))
    y = X[:, 0] ** 2 - 1 + X[:, 1] + rng.normal(size=2000)
    loco = vimp.LOCO(make_pipeline(PolynomialFeatures(2), LinearRegression()), cv=2, random_state=0)
    assert loco.fit(X, y).importance().pvalue[0] < 1e-6


# ------------------------------------------------------------------------------ calibration
def null_rejections(n_replicates, seed, groups=None):
    rng = np.random.default_rng(seed)
    rejected = 0
    for r in range(n_replicates):
        X, y = equicorrelated(500, [0.0, 1, 1, 1, 1], 0.5, rng)
        result = GCM(LinearRegression(), groups=groups, random_state=r).fit(X, y).importance()
        rejected += result.pvalue[0] < 0.05
    return rejected


def test_null_calibration_cross_fitted_ols():
    low, high = binomial_band(200, 0.05)
    assert low <= null_rejections(200, 2024, groups={"x1": [0]}) <= high


@pytest.mark.slow
def test_null_calibration_cross_fitted_ols_slow():
    low, high = binomial_band(1000, 0.05)
    assert low <= null_rejections(1000, 2025) <= high


@pytest.mark.slow
def test_random_forest_null_is_biased_towards_positive_statistics():
    # Forests shrink both regressions towards the signal of the correlated neighbours, so the product
    # of their errors has a positive mean and T is biased upwards (the rate condition of Shah & Peters
    # fails at n = 500; a 200-replicate run with 100 trees gave mean T = 0.46 and 11% rejections at 5%).
    # Asserted: mean T exceeds 0 by more than 3 Monte Carlo sds of the mean (sd(T) / sqrt(100)).
    rng = np.random.default_rng(99)
    statistics = []
    for r in range(100):
        X, y = equicorrelated(500, [0.0, 1, 1, 1, 1], 0.5, rng)
        est = GCM(RandomForestRegressor(n_estimators=50, random_state=r), groups={"x1": [0]},
                  random_state=r)
        statistics.append(quiet(lambda: est.fit(X, y).importance()).details["statistic"][0])
    statistics = np.array(statistics)
    mc_sd = statistics.std(ddof=1) / np.sqrt(len(statistics))
    rejection = np.mean(np.abs(statistics) > Z95)
    assert statistics.mean() - 3 * mc_sd > 0, (statistics.mean(), mc_sd, rejection)


# ------------------------------------------------------------------------------ reference
def test_in_sample_ols_matches_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    X, y = equicorrelated(300, [0.5, 0.0, -1.0], 0.3, rng)
    result = GCM(LinearRegression(), cv=None).fit(X, y).importance()
    assert result.split == "in-sample"
    n = len(y)
    for j in range(3):
        others = sm.add_constant(np.delete(X, j, axis=1))
        rx = sm.OLS(X[:, j], others).fit().resid
        ry = sm.OLS(y, others).fit().resid
        R = rx * ry
        T = np.sqrt(n) * R.mean() / R.std()
        assert result.raw_importance[j] == pytest.approx(R.mean(), abs=1e-10)
        assert result.details["statistic"][j] == pytest.approx(T, abs=1e-10)
        assert result.pvalue[j] == pytest.approx(2 * stats.norm.sf(abs(T)), abs=1e-10)


def test_fast_linear_path_agrees_with_generic_refits():
    fitter = vimp._fitter_choice.make_fitter(LinearRegression())
    if not hasattr(fitter, "residuals_without"):
        pytest.skip("the exact linear fitter (vimp/_linear_fitter.py) is not available")
    rng = np.random.default_rng(8)
    X, y = equicorrelated(400, [1.0, 0.5, 0.0, -0.5], 0.4, rng)
    for cv in (None, 3):
        fast = GCM(LinearRegression(), cv=cv, random_state=0).fit(X, y)
        slow = GCM(vimp.SklearnFitter(LinearRegression()), cv=cv, random_state=0).fit(X, y)
        for a, b in ((fast.importance(), slow.importance()),
                     (fast.importance(X[:100], y[:100]), slow.importance(X[:100], y[:100]))):
            np.testing.assert_allclose(a.per_observation, b.per_observation, atol=1e-8)
            np.testing.assert_allclose(a.pvalue, b.pvalue, atol=1e-8)
        group_fast = GCM(LinearRegression(), groups={"g": [0, 1]}, random_state=0, keep_residuals=True).fit(X, y).importance()
        group_slow = GCM(vimp.SklearnFitter(LinearRegression()), groups={"g": [0, 1]}, keep_residuals=True,
                         random_state=0).fit(X, y).importance()
        np.testing.assert_allclose(group_fast.details["x_residuals"], group_slow.details["x_residuals"],
                                   atol=1e-8)


# ------------------------------------------------------------------------------ scales
@pytest.mark.parametrize("scale", ["covariance", "correlation", "loco"])
@pytest.mark.parametrize("grouped", [False, True])
def test_delta_method_standard_errors_match_the_bootstrap(scale, grouped):
    # The delta-method SE against the sd of 400 nonparametric bootstrap estimates. The bootstrap sd of
    # B = 400 draws has relative Monte Carlo sd about 1 / sqrt(2 B) = 3.5%; 15% allows 4 of those plus the
    # bootstrap's own O(n^-1/2) error at n = 2000.
    rng = np.random.default_rng(11)
    n = 2000
    rx = rng.normal(size=(n, 2))
    ry = 0.4 * rx[:, 0] + 0.2 * rx[:, 1] + rng.normal(size=n)
    groups = {"g": [0, 1]} if grouped else None
    result = GCM.from_residuals(rx, ry, groups=groups, scale=scale)
    boot = []
    for _ in range(400):
        rows = rng.integers(0, n, size=n)
        boot.append(GCM.from_residuals(rx[rows], ry[rows], groups=groups, scale=scale).importance)
    np.testing.assert_allclose(result.std_error, np.std(boot, axis=0), rtol=0.15)


def test_loco_scale_estimates_loco_in_a_linear_model():
    # In a linear model LOCO's MSE difference is beta_j^2 Var(xi_j) = 0.25 * 0.6 = 0.15 for x1.
    rng = np.random.default_rng(12)
    X, y = equicorrelated(20_000, [0.5, 1, 1, 1, 1], 0.5, rng)
    result = GCM(LinearRegression(), cv=2, scale="loco", random_state=0).fit(X, y).importance()
    assert abs(result.importance[0] - 0.15) < 4 * result.std_error[0]
    correlation = GCM(LinearRegression(), cv=2, scale="correlation", random_state=0).fit(X, y).importance()
    assert np.all(np.abs(correlation.importance) <= 1)
    np.testing.assert_allclose(correlation.pvalue, result.pvalue)  # the test does not depend on scale


# ------------------------------------------------------------------------------ groups
def test_group_wald_pvalue_is_the_chi_square_of_the_residual_products():
    rng = np.random.default_rng(13)
    X, y = equicorrelated(600, [0.1, 0.1, 0.0, 1.0], 0.3, rng)
    result = GCM(LinearRegression(), groups={"a": [0, 1], "b": ["x2", "x3"]},
                 random_state=0, keep_residuals=True).fit(X, y).importance()
    for g in range(2):
        cols = slice(2 * g, 2 * g + 2)
        R = result.details["x_residuals"][:, cols] * result.details["y_residuals"][:, cols]
        mean = R.mean(axis=0)
        sigma = np.cov(R, rowvar=False, bias=True)
        statistic = len(R) * mean @ np.linalg.solve(sigma, mean)
        assert result.details["statistic"][g] == pytest.approx(statistic, rel=1e-10)
        assert result.pvalue[g] == pytest.approx(stats.chi2.sf(statistic, 2), rel=1e-8)
        assert result.raw_importance[g] == pytest.approx(np.linalg.norm(mean), rel=1e-12)
        np.testing.assert_allclose(result.details["columns"][result.names[g]]["mean_product"], mean)


def test_single_column_max_test_matches_the_normal_pvalue():
    rng = np.random.default_rng(14)
    X, y = equicorrelated(500, [0.08, 1.0, 0.0], 0.3, rng)
    wald = GCM(LinearRegression(), groups={"g": [0]}, random_state=0).fit(X, y).importance()
    maxt = GCM(LinearRegression(), groups={"g": [0]}, test="max", n_bootstrap=4999,
               random_state=0).fit(X, y).importance()
    # Bootstrap p-value: Monte Carlo sd sqrt(p (1 - p) / B) <= 0.0071 at B = 4999; 4 sds = 0.028.
    p = wald.pvalue[0]
    assert 0.01 < p < 0.9  # the comparison is informative
    assert abs(maxt.pvalue[0] - p) < 4 * np.sqrt(p * (1 - p) / 4999) + 1 / 5000
    # a one-column group keeps the sign; the two paths sum in different orders (compiled, NumPy)
    assert maxt.importance[0] == pytest.approx(wald.importance[0], rel=1e-13)


@pytest.mark.parametrize("test", ["wald", "max"])
def test_group_of_two_under_the_null_is_not_rejected_too_often(test):
    rng = np.random.default_rng(15)
    rejected = 0
    for r in range(100):
        X, y = equicorrelated(300, [0.0, 0.0, 1.0], 0.5, rng)
        result = GCM(LinearRegression(), groups={"g": [0, 1]}, test=test, n_bootstrap=199,
                     random_state=r).fit(X, y).importance()
        rejected += result.pvalue[0] < 0.05
    assert rejected <= binomial_band(100, 0.05)[1]


# ------------------------------------------------------------------------------ residual input
def test_from_residuals_reproduces_the_estimator():
    rng = np.random.default_rng(16)
    X, y = equicorrelated(400, [1.0, 0.0, 0.5], 0.4, rng)
    result = GCM(LinearRegression(), scale="correlation", random_state=0, keep_residuals=True).fit(X, y).importance()
    again = GCM.from_residuals(result.details["x_residuals"], result.details["y_residuals"],
                               names=result.names, scale="correlation")
    for field in ("importance", "std_error", "pvalue", "pvalue_adjusted", "ci_low", "ci_high"):
        np.testing.assert_allclose(getattr(again, field), getattr(result, field), rtol=1e-12)
    groups = {"a": ["x0", "x1"], "b": ["x2"]}
    grouped = GCM(LinearRegression(), groups=groups, test="max", random_state=3, keep_residuals=True).fit(X, y).importance()
    again = GCM.from_residuals(grouped.details["x_residuals"], grouped.details["y_residuals"],
                               names=grouped.details["residual_columns"], groups=groups, test="max",
                               random_state=3)
    np.testing.assert_allclose(again.pvalue, grouped.pvalue)
    np.testing.assert_allclose(again.importance, grouped.importance)


def test_from_residuals_accepts_one_dimensional_input():
    rng = np.random.default_rng(17)
    rx = rng.normal(size=200)
    ry = 0.5 * rx + rng.normal(size=200)
    result = GCM.from_residuals(rx, ry)
    assert result.names == ("x0",)
    R = rx * ry
    assert result.importance[0] == pytest.approx(R.mean())
    assert result.std_error[0] == pytest.approx(R.std() / np.sqrt(200))


@pytest.mark.parametrize(
    "x, y, kwargs, match",
    [
        (np.ones((10, 2)), np.ones(9), {}, "same number of rows"),
        (np.array([[1.0, np.nan]] * 5), np.ones(5), {}, "x_residuals"),
        (np.ones((5, 2)), np.array([1.0, 2, np.inf, 1, 1]), {}, "y_residuals"),
        (np.ones((5, 2)), np.ones((5, 3)), {}, "y_residuals"),
        (np.ones((5, 2)), np.ones(5), {"names": ["a"]}, "names"),
        (np.ones((5, 2)), np.ones(5), {"test": "t"}, "test"),
        (np.ones((5, 2)), np.ones(5), {"scale": "r2"}, "scale"),
        (np.ones((5, 2)), np.ones(5), {"n_bootstrap": 0}, "n_bootstrap"),
        (np.ones((5, 2)), np.ones(5), {"level": 1.5}, "level"),
        (np.ones((5, 2)), np.ones(5), {"groups": {"g": ["zz"]}}, "groups"),
    ],
)
def test_from_residuals_refuses_bad_input(x, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        GCM.from_residuals(x, y, **kwargs)


# ------------------------------------------------------------------------------ classification
def test_binary_target_with_logistic_regression():
    rng = np.random.default_rng(18)
    X, _ = equicorrelated(1000, [0, 0, 0], 0.3, rng)
    y = (rng.uniform(size=1000) < 1 / (1 + np.exp(-1.5 * X[:, 0]))).astype(int)
    result = GCM(LogisticRegression(), random_state=0).fit(X, y).importance()
    assert result.importance[0] > 0 and result.pvalue[0] < 1e-6
    assert result.details["positive_class"] == 1
    labels = np.where(y == 1, "yes", "no")  # the positive class is the larger label
    named = GCM(LogisticRegression(), random_state=0).fit(X, labels).importance()
    np.testing.assert_allclose(named.importance, result.importance)
    with pytest.raises(ValueError, match="two classes"):
        GCM(LogisticRegression()).fit(X, np.arange(1000) % 3)


# ------------------------------------------------------------------------------ modes and contract
def test_three_modes():
    rng = np.random.default_rng(19)
    X, y = equicorrelated(600, [1.0, 0.0], 0.5, rng)
    crossfit = GCM(LinearRegression(), random_state=0).fit(X, y).importance()
    assert crossfit.split == "cv=5" and set(crossfit.fold_ids) == set(range(5))
    est = GCM(LinearRegression(), random_state=0).fit(X[:400], y[:400])
    holdout = est.importance(X[400:], y[400:])
    same = GCM(LinearRegression(), cv=None).fit(X[:400], y[:400]).importance(X[400:], y[400:])
    assert holdout.split == "holdout" and holdout.per_observation.shape == (200, 2)
    np.testing.assert_allclose(holdout.per_observation, same.per_observation, rtol=1e-12)
    np.testing.assert_allclose(est.importance().importance,  # the cross-fitted result is unchanged
                               GCM(LinearRegression(), random_state=0).fit(X[:400], y[:400])
                               .importance().importance)
    with pytest.raises(ValueError, match="both X and y"):
        est.importance(X[400:])


def test_constant_feature_has_zero_importance_and_pvalue_one():
    rng = np.random.default_rng(20)
    X, y = equicorrelated(300, [1.0, 0.5, 0.0], 0.3, rng)
    X[:, 2] = 3.0
    for scale in ("covariance", "correlation", "loco"):
        result = GCM(LinearRegression(), scale=scale, random_state=0).fit(X, y).importance()
        assert result.importance[2] == 0.0 and result.std_error[2] == 0.0 and result.pvalue[2] == 1.0
        assert np.isnan(result.details["r2_x"][2])
    alone = GCM(LinearRegression(), groups={"c": [2]}, test="max", random_state=0).fit(X, y).importance()
    assert alone.importance[0] == 0.0 and alone.pvalue[0] == 1.0
    mixed = GCM(LinearRegression(), groups={"mixed": [1, 2]}, test="max", random_state=0,
                keep_residuals=True).fit(X, y)
    result = mixed.importance()
    assert result.details["df"][0] == 1 and result.pvalue[0] < 0.01  # the constant column drops out
    assert np.all(result.details["x_residuals"][:, 1] == 0.0)


def test_nuisance_quality_warning_for_a_poor_x_regression():
    rng = np.random.default_rng(21)
    X = rng.normal(size=(300, 3))  # independent: a deep tree overfits noise, R^2 well below 0
    y = X[:, 0] + rng.normal(size=300)
    with pytest.warns(NuisanceQualityWarning, match="x-regression of 'x0' on the other features"):
        result = GCM(LinearRegression(), DecisionTreeRegressor(random_state=0),
                     random_state=0).fit(X, y).importance()
    assert np.all(result.details["r2_x"] < -0.05)
    check = result.details["nuisance_check"]
    assert set(check.loc[check["flagged"], "regression"]) == {"x"}  # the OLS y-regressions are sound
    assert result.details["r2_y"][1] > 0.3  # y on (x0, x2) explains x0's share


def test_results_do_not_depend_on_n_jobs():
    rng = np.random.default_rng(22)
    X, y = equicorrelated(300, [1.0, 0.0, 0.5], 0.4, rng)
    kwargs = dict(groups={"a": [0, 1], "b": [2]}, test="max", n_bootstrap=99, random_state=4)
    one = GCM(LinearRegression(), n_jobs=1, **kwargs).fit(X, y).importance()
    two = GCM(LinearRegression(), n_jobs=2, **kwargs).fit(X, y).importance()
    for field in ("importance", "std_error", "pvalue"):
        np.testing.assert_array_equal(getattr(one, field), getattr(two, field))
    np.testing.assert_array_equal(one.per_observation, two.per_observation)


def test_dataframe_and_ndarray_agree_and_estimator_is_not_mutated():
    rng = np.random.default_rng(23)
    X, y = equicorrelated(300, [1.0, 0.0, 0.5], 0.4, rng)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    learner = LinearRegression()
    params = learner.get_params()
    from_frame = GCM(learner, random_state=0).fit(frame, pd.Series(y)).importance()
    from_array = GCM(learner, random_state=0).fit(X, y).importance()
    # LinearRegression itself differs in the last bits between a frame and an array (memory layout).
    np.testing.assert_allclose(from_frame.importance, from_array.importance, rtol=1e-12)
    np.testing.assert_allclose(from_frame.pvalue, from_array.pvalue, rtol=1e-10)
    assert from_frame.names == ("a", "b", "c")
    assert learner.get_params() == params and not hasattr(learner, "coef_")
    table = from_frame.to_frame()
    assert list(table.index) == ["a", "b", "c"] and "pvalue" in table
    assert "GCM" in str(from_frame.summary())


def test_importance_before_fit_raises():
    with pytest.raises(NotFittedError):
        GCM(LinearRegression()).importance()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"test": "score"}, ValueError, "test"),
        ({"scale": "ratio"}, ValueError, "scale"),
        ({"n_bootstrap": 0}, ValueError, "n_bootstrap"),
        ({"n_bootstrap": 1.5}, TypeError, "n_bootstrap"),
        ({"level": 0}, ValueError, "level"),
        ({"p_adjust": "magic"}, ValueError, "p_adjust"),
        ({"cv": 1}, ValueError, "cv"),
        ({"n_jobs": "all"}, TypeError, "n_jobs"),
        ({"progress": 1}, TypeError, "progress"),
        ({"random_state": -1}, ValueError, "random_state"),
        ({"groups": {"g": [7]}}, ValueError, "groups"),
        ({"x_estimator": LogisticRegression()}, TypeError, "x_estimator"),
        ({"x_estimator": "ols"}, TypeError, "x_estimator"),
        ({"estimator": "ols"}, TypeError, "estimator"),
    ],
)
def test_bad_parameters_are_refused_before_fitting(kwargs, error, match):
    rng = np.random.default_rng(24)
    X, y = equicorrelated(50, [1.0, 0.0], 0.3, rng)
    params = {"estimator": LinearRegression(), **kwargs}
    with pytest.raises(error, match=match):
        GCM(**params).fit(X, y)


@pytest.mark.parametrize(
    "X, y, sample_weight, match",
    [
        (np.ones(10), np.ones(10), None, "X must be 2-D"),
        (np.array([[1.0, np.nan]] * 10), np.ones(10), None, "X contains NaN"),
        (np.ones((10, 2)), np.ones(9), None, "same number of rows"),
        (np.ones((10, 2)), np.r_[np.ones(9), np.inf], None, "y contains"),
        (np.ones((10, 2)), np.ones(10), -np.ones(10), "sample_weight"),
    ],
)
def test_bad_data_is_refused(X, y, sample_weight, match):
    with pytest.raises(ValueError, match=match):
        GCM(LinearRegression()).fit(X, y, sample_weight=sample_weight)


def test_held_out_data_must_match_the_training_columns():
    rng = np.random.default_rng(25)
    X, y = equicorrelated(100, [1.0, 0.0], 0.3, rng)
    est = GCM(LinearRegression(), cv=None).fit(X, y)
    with pytest.raises(ValueError, match="columns"):
        est.importance(np.ones((5, 3)), np.ones(5))


# ------------------------------------------------------------------------------ compare
def test_compare_runs_gcm_with_pap_and_loco():
    rng = np.random.default_rng(26)
    X, y = equicorrelated(600, [1.0, 0.5, 0.0], 0.5, rng)
    table, results = vimp.compare(X, y, LinearRegression(), methods=("pap", "loco", "gcm"), cv=3,
                                  random_state=0, return_results=True)
    assert table.index.get_level_values("method").unique().tolist() == ["pap", "loco", "gcm"]
    assert len(table) == 9
    np.testing.assert_array_equal(results["gcm"].fold_ids, results["loco"].fold_ids)  # same folds
    alone = vimp.compare(X, y, LinearRegression(), methods=("gcm",), cv=3, random_state=0)
    np.testing.assert_allclose(alone["importance"].to_numpy(), table.loc["gcm", "importance"].to_numpy())
    held_out = vimp.compare(X[:400], y[:400], LinearRegression(), methods=("pap", "loco", "gcm"),
                            X_test=X[400:], y_test=y[400:], random_state=0)
    assert held_out.index.get_level_values("method").unique().tolist() == ["pap", "loco", "gcm"]
    direct = GCM(LinearRegression(), cv=None).fit(X[:400], y[:400]).importance(X[400:], y[400:])
    np.testing.assert_allclose(held_out.loc["gcm", "importance"].to_numpy(), direct.importance)


# ------------------------------------------------------------------------------ learners and weights
def test_default_x_estimator_of_a_classifier_is_a_comparable_regressor():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(27)
    X, _ = equicorrelated(200, [0, 0], 0.3, rng)
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    logistic = GCM(LogisticRegression(), cv=2, random_state=0).fit(X, y)
    assert type(logistic.x_estimator_) is LinearRegression
    pipe = GCM(make_pipeline(StandardScaler(), LogisticRegression()), cv=2, random_state=0).fit(X, y)
    assert type(pipe.x_estimator_.steps[-1][1]) is LinearRegression
    forest = GCM(RandomForestClassifier(n_estimators=5, max_depth=3, random_state=1), cv=2,
                 random_state=0).fit(X, y)
    assert type(forest.x_estimator_) is RandomForestRegressor
    assert forest.x_estimator_.get_params()["max_depth"] == 3
    assert forest.x_estimator_.get_params()["n_estimators"] == 5
    assert GCM(LinearRegression(), random_state=0).fit(X, y).x_estimator_ is None


def test_sample_weights():
    rng = np.random.default_rng(28)
    X, y = equicorrelated(300, [1.0, 0.0, 0.5], 0.4, rng)
    plain = GCM(LinearRegression(), random_state=0).fit(X, y).importance()
    ones = GCM(LinearRegression(), random_state=0).fit(X, y, sample_weight=np.ones(300)).importance()
    np.testing.assert_allclose(ones.importance, plain.importance, rtol=1e-10)
    np.testing.assert_allclose(ones.std_error, plain.std_error, rtol=1e-10)
    weights = rng.integers(1, 4, size=300).astype(float)
    weighted = GCM(LinearRegression(), random_state=0).fit(X, y, sample_weight=weights).importance()
    R = weighted.per_observation
    np.testing.assert_allclose(weighted.importance, np.average(R, axis=0, weights=weights), rtol=1e-12)
    # Integer weights act as repeated rows in the averages of given residuals.
    rx, ry = rng.normal(size=(50, 2)), rng.normal(size=50)
    counts = rng.integers(1, 4, size=50)
    by_weight = GCM.from_residuals(rx, ry, sample_weight=counts)
    by_rows = GCM.from_residuals(np.repeat(rx, counts, axis=0), np.repeat(ry, counts))
    np.testing.assert_allclose(by_weight.importance, by_rows.importance, rtol=1e-12)


@pytest.mark.parametrize("scale", ["covariance", "correlation", "loco"])
@pytest.mark.parametrize("weighted", [False, True])
def test_vectorised_single_feature_inference_equals_the_per_group_path(scale, weighted):
    from vimp._gcm import _infer_group, _infer_singles

    rng = np.random.default_rng(1)
    n, k = 300, 5
    rx = rng.normal(size=(n, k))
    ry = 0.3 * rx + rng.normal(size=(n, k))
    rx[:, 2] = 0.0  # a constant feature
    w = rng.uniform(0.5, 2.0, size=n) if weighted else None
    fast = _infer_singles(rx, ry, w, scale)
    for j in range(k):
        slow = _infer_group(rx[:, [j]], ry[:, [j]], w, True, "wald", scale, 10, None)
        for key in ("importance", "se", "raw", "raw_se", "pvalue", "statistic", "df", "per_obs",
                    "column_mean", "column_se", "column_importance"):
            np.testing.assert_allclose(fast[j][key], slow[key], rtol=1e-12, atol=1e-15, err_msg=key)


def test_residuals_are_kept_only_when_asked_for():
    rng = np.random.default_rng(41)
    X, y = equicorrelated(300, [1.0, 0.5, 0.0], 0.3, rng)
    lean = GCM(LinearRegression(), random_state=0).fit(X, y)
    assert lean.residuals_ is None  # the exact fitter recomputes them in importance()
    plain = lean.importance()
    assert "x_residuals" not in plain.details and "y_residuals" not in plain.details
    kept = GCM(LinearRegression(), random_state=0, keep_residuals=True).fit(X, y).importance()
    np.testing.assert_array_equal(kept.importance, plain.importance)
    np.testing.assert_array_equal(kept.pvalue, plain.pvalue)
    np.testing.assert_array_equal(kept.per_observation,
                                  kept.details["x_residuals"] * kept.details["y_residuals"])
    with pytest.raises(TypeError, match="keep_residuals"):
        GCM(LinearRegression(), keep_residuals="yes").fit(X, y)
