"""Estimator ≈ closed form: PaP and LOCO of OLS on an equicorrelated Gaussian design (THEORY.md §1).

Design: p = 5, unit variances, ρ = 0.5, known β, σ = 1; 20,000 training and 20,000 held-out rows.

Two targets are checked, each with a tolerance derived from its standard error:

* the fitted-model target (the importance of the OLS model actually fitted, computed exactly from the
  known Σ and the fitted coefficients): the estimate must be within 4 reported standard errors (a
  two-sided normal tail of 6e-5 per feature);
* the population target (2β_j²Σ_jj for PaP, β_j²/(Σ⁻¹)_jj for LOCO, from :mod:`vimp.linear`): the
  tolerance adds the training variability of β̂_j by the delta method, with
  sd(β̂_j) = σ·sqrt((Σ⁻¹)_jj / n_train), to the evaluation standard error, again at 4 standard errors.
"""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

import vimp
import vimp.linear
from _designs import equicorrelated_cov, fitted_mse, fitted_pap_target, linear_gaussian

P, RHO, SIGMA, N = 5, 0.5, 1.0, 20_000
BETA = np.array([1.0, -0.5, 0.25, 2.0, 0.75])
COV = equicorrelated_cov(P, RHO)
PRECISION = np.linalg.inv(COV)  # a test-side reference, independent of vimp's factorisations


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20261123)
    X, y = linear_gaussian(rng, 2 * N, BETA, COV, SIGMA)
    return X[:N], y[:N], X[N:], y[N:]


def _sd_beta_hat():
    return SIGMA * np.sqrt(np.diag(PRECISION) / N)


def test_pap_matches_2_beta_squared_var(data):
    X_train, y_train, X_test, y_test = data
    result = vimp.PermutationImportance(LinearRegression(), random_state=1).fit(X_train, y_train).importance(
        X_test, y_test)
    ols = LinearRegression().fit(X_train, y_train)
    fitted = np.array([fitted_pap_target(ols.coef_, BETA, COV, j) for j in range(P)])
    assert np.all(np.abs(result.importance - fitted) <= 4 * result.std_error)

    population = vimp.linear.pap(BETA, COV)
    np.testing.assert_allclose(population, 2 * BETA**2 * np.diag(COV), rtol=1e-12)
    # d(2 β² Σ_jj)/dβ = 4 β Σ_jj, so the training sd of the fitted target is 4 |β_j| Σ_jj sd(β̂_j).
    train_sd = 4 * np.abs(BETA) * np.diag(COV) * _sd_beta_hat()
    tolerance = 4 * np.sqrt(result.std_error**2 + train_sd**2)
    assert np.all(np.abs(result.importance - population) <= tolerance)


def test_loco_matches_beta_squared_conditional_var(data):
    X_train, y_train, X_test, y_test = data
    result = vimp.LOCO(LinearRegression(), random_state=1).fit(X_train, y_train).importance(X_test, y_test)
    full = LinearRegression().fit(X_train, y_train)
    fitted = np.empty(P)
    for j in range(P):
        keep = np.delete(np.arange(P), j)
        reduced = LinearRegression().fit(X_train[:, keep], y_train)
        coef = np.zeros(P)
        coef[keep] = reduced.coef_
        fitted[j] = (fitted_mse(reduced.intercept_, coef, BETA, COV, SIGMA)
                     - fitted_mse(full.intercept_, full.coef_, BETA, COV, SIGMA))
    assert np.all(np.abs(result.importance - fitted) <= 4 * result.std_error)

    population = vimp.linear.loco(BETA, COV)
    np.testing.assert_allclose(population, BETA**2 / np.diag(PRECISION), rtol=1e-12)
    # d(β² / P_jj)/dβ = 2 β / P_jj.
    train_sd = 2 * np.abs(BETA) / np.diag(PRECISION) * _sd_beta_hat()
    tolerance = 4 * np.sqrt(result.std_error**2 + train_sd**2)
    assert np.all(np.abs(result.importance - population) <= tolerance)


def test_sqrt_scale_tracks_bladen_forms(data):
    """On Bladen et al.'s sqrt scale, PaP ≈ |β_j| sqrt(2 Σ_jj) and LOCO ≈ |β_j| / sqrt((Σ⁻¹)_jj)."""
    X_train, y_train, X_test, y_test = data
    pap = vimp.PermutationImportance(LinearRegression(), scale="sqrt", random_state=2).fit(
        X_train, y_train).importance(X_test, y_test)
    loco = vimp.LOCO(LinearRegression(), scale="sqrt", random_state=2).fit(X_train, y_train).importance(
        X_test, y_test)
    for result, closed, train_sd in (
        (pap, vimp.linear.pap(BETA, COV, scale="sqrt"), np.sqrt(2 * np.diag(COV)) * _sd_beta_hat()),
        (loco, vimp.linear.loco(BETA, COV, scale="sqrt"), _sd_beta_hat() / np.sqrt(np.diag(PRECISION))),
    ):
        tolerance = 4 * np.sqrt(result.std_error**2 + train_sd**2)
        assert np.all(np.abs(result.importance - closed) <= tolerance)
    # The identity PaP² / LOCO² = 2 VIF of the closed forms (sqrt scale).
    ratio = vimp.linear.pap(BETA, COV, scale="sqrt") ** 2 / vimp.linear.loco(BETA, COV, scale="sqrt") ** 2
    np.testing.assert_allclose(ratio, 2 * vimp.linear.vif(COV), rtol=1e-12)


def test_permute_and_refit_matches_loco_for_ols(data):
    """Refitting with x_j permuted gives a coefficient ≈ 0 on x_j: the same target as dropping it."""
    X_train, y_train, X_test, y_test = data
    drop = vimp.LOCO(LinearRegression(), random_state=3).fit(X_train, y_train).importance(X_test, y_test)
    permute = vimp.LOCO(LinearRegression(), refit="permute", random_state=3).fit(X_train, y_train).importance(
        X_test, y_test)
    # Both are within 4 of their own SEs of the same population value; compare them with the sum.
    tolerance = 4 * (drop.std_error + permute.std_error) + 8 * _sd_beta_hat()
    assert np.all(np.abs(drop.importance - permute.importance) <= tolerance)
