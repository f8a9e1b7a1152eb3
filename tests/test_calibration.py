"""Calibration: null p-values of LOCO and coverage of PaP / LOCO intervals over repeated data sets.

Every band is a binomial band: with R replicates and nominal rate a, the count of events is
Binomial(R, a) if the procedure is calibrated; we accept counts inside the central 99.9% interval
(scipy.stats.binom), so a calibrated procedure fails one of these tests once in a thousand runs, and the
seeds are literal so a given run is reproducible. The fast versions use a few hundred replicates; the
`slow` versions use enough replicates to detect a 2-point miscalibration.
"""

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression

import vimp
import vimp.linear
from _designs import equicorrelated_cov, fitted_mse, fitted_pap_target, linear_gaussian

ALPHA = 0.05


def binomial_band(replicates, rate, mass=0.999):
    low, high = stats.binom.interval(mass, replicates, rate)
    return int(low), int(high)


def _loco_null_pvalues(replicates, seed, n=200):
    """p-values of LOCO's default (sample-split) test for two noise features and one real feature."""
    beta = np.array([1.0, 0.0, 0.0])
    cov = equicorrelated_cov(3, 0.5)
    rng = np.random.default_rng(seed)
    noise, signal = [], []
    for r in range(replicates):
        X, y = linear_gaussian(rng, 2 * n, beta, cov, noise_sd=1.0)
        result = vimp.LOCO(LinearRegression(), random_state=r).fit(X[:n], y[:n]).importance(X[n:], y[n:])
        noise.append(result.pvalue[1:])
        signal.append(result.pvalue[0])
    return np.array(noise), np.array(signal)


def _check_null(noise, signal):
    replicates = noise.shape[0]
    # Each noise feature separately: rejections are Binomial(R, ≤ α) if the test is valid.
    _, high = binomial_band(replicates, ALPHA)
    rejections = (noise < ALPHA).sum(axis=0)
    assert np.all(rejections <= high), (rejections, high)
    # Power: β = 1, σ = 1 and Var(x|rest) = 2/3 give a LOCO target of 0.67; the split test compares two
    # means of 100 squared residuals (variance 2σ⁴ each), so its standard error is about
    # sqrt(2 · 2/100) = 0.2 and z ≈ 3.3: power about 0.9 at α = 0.05. Require at least 0.7.
    assert np.mean(signal < ALPHA) > 0.7


def test_loco_null_pvalues_are_valid():
    noise, signal = _loco_null_pvalues(200, seed=11)
    _check_null(noise, signal)


@pytest.mark.slow
def test_loco_null_pvalues_are_valid_many_replicates():
    noise, signal = _loco_null_pvalues(2000, seed=12)
    _check_null(noise, signal)


def _coverage(replicates, seed, n=400, level=0.95):
    """Coverage of PaP and LOCO intervals of their fitted-model targets, and of the population PaP."""
    beta = np.array([1.0, 0.5, 0.0])
    cov = equicorrelated_cov(3, 0.5)
    sigma = 1.0
    population_pap = vimp.linear.pap(beta, cov)
    rng = np.random.default_rng(seed)
    hits_pap, hits_loco, hits_population = [], [], []
    for r in range(replicates):
        X, y = linear_gaussian(rng, 2 * n, beta, cov, sigma)
        Xt, yt, Xv, yv = X[:n], y[:n], X[n:], y[n:]
        pap = vimp.PermutationImportance(LinearRegression(), level=level, random_state=r).fit(Xt, yt)
        res_pap = pap.importance(Xv, yv)
        ols = LinearRegression().fit(Xt, yt)
        target = np.array([fitted_pap_target(ols.coef_, beta, cov, j) for j in range(2)])
        hits_pap.append((res_pap.ci_low[:2] <= target) & (target <= res_pap.ci_high[:2]))
        hits_population.append((res_pap.ci_low[:2] <= population_pap[:2])
                                & (population_pap[:2] <= res_pap.ci_high[:2]))

        res_loco = vimp.LOCO(LinearRegression(), level=level, random_state=r).fit(Xt, yt).importance(Xv, yv)
        loco_target = np.empty(2)
        for j in range(2):
            keep = np.delete(np.arange(3), j)
            reduced = LinearRegression().fit(Xt[:, keep], yt)
            coef = np.zeros(3)
            coef[keep] = reduced.coef_
            loco_target[j] = (fitted_mse(reduced.intercept_, coef, beta, cov, sigma)
                              - fitted_mse(ols.intercept_, ols.coef_, beta, cov, sigma))
        hits_loco.append((res_loco.ci_low[:2] <= loco_target) & (loco_target <= res_loco.ci_high[:2]))
    return np.array(hits_pap), np.array(hits_loco), np.array(hits_population)


def _check_coverage(hits_pap, hits_loco, level=0.95):
    replicates = hits_pap.shape[0]
    low, high = binomial_band(replicates, level)
    for hits in (hits_pap, hits_loco):
        counts = hits.sum(axis=0)
        assert np.all((low <= counts) & (counts <= high)), (counts, low, high)


def test_intervals_cover_the_fitted_model_target():
    hits_pap, hits_loco, _ = _coverage(300, seed=21)
    _check_coverage(hits_pap, hits_loco)


@pytest.mark.slow
def test_intervals_cover_the_fitted_model_target_many_replicates():
    # n = 1000 + 1000: at n = 400 + 400 the PaP rate was 93.5% over 2000 replicates (small-sample
    # skewness of squared-loss differences), inside the 99.9% band only by two replicates.
    replicates = 1000
    hits_pap, hits_loco, hits_population = _coverage(replicates, seed=22, n=1000)
    _check_coverage(hits_pap, hits_loco)
    # The documented caveat: intervals from per-observation terms under-cover the population PaP,
    # because they ignore the training variability of β̂ (README, PermutationImportance Notes).
    population_rate = hits_population.mean(axis=0)
    assert np.all(population_rate < 0.95 - 3 * np.sqrt(0.95 * 0.05 / replicates))
