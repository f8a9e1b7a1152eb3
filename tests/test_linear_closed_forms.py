"""Tests of vimp.linear: closed forms of linear-regression importances.

Every closed form is compared with an independent computation (an explicit population regression, an
eigen-decomposition, a Monte Carlo OLS fit), never with the same formula copied.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vimp import VimpWarning
from vimp.linear import (
    absorption,
    adjust_loco,
    adjust_pap,
    bladen_cov,
    bladen_loco,
    bladen_pap,
    conditional_variance,
    gcm,
    loco,
    pap,
    t_statistic,
    theory,
    vif,
)

P_GRID = (3, 6, 9, 12)
DELTA_GRID = np.round(np.arange(0.0, 1.0, 0.01), 2)  # 0, 0.01, ..., 0.99 (contains the paper's 0, .11, ..., .99)


# ----------------------------------------------------------------------------------------------------------
# Independent references
# ----------------------------------------------------------------------------------------------------------


def random_spd(rng, p):
    """A random, reasonably conditioned covariance matrix with unequal variances."""
    b = rng.normal(size=(p, p))
    scales = rng.uniform(0.5, 3.0, size=p)
    return scales[:, None] * (b @ b.T + 0.3 * np.eye(p)) * scales[None, :]


def regression_conditional_variance(cov):
    """Var(x_j | x_-j) from the normal equations of the population regression of x_j on x_-j."""
    p = cov.shape[0]
    out = np.empty(p)
    for j in range(p):
        rest = np.delete(np.arange(p), j)
        gamma = np.linalg.solve(cov[np.ix_(rest, rest)], cov[rest, j])
        out[j] = cov[j, j] - cov[j, rest] @ gamma
    return out


def bladen_a(p, delta):
    return delta * np.ones((p, p)) + (1.0 - delta) * np.eye(p)


def bladen_conditional_variance_eigen(p, delta):
    """Var(x_1 | x_-1) in the Bladen design from the eigen-decomposition of A.

    A has eigenvalue 1 + (p-1) delta on the all-ones direction (weight 1/p on e_1) and 1 - delta on its
    orthogonal complement (weight (p-1)/p), so inv(A^2)[0, 0] = (1/p) / l1^2 + ((p-1)/p) / l0^2.
    """
    l_ones = 1.0 + (p - 1) * delta
    l_rest = 1.0 - delta
    return 1.0 / ((1.0 / p) / l_ones**2 + ((p - 1) / p) / l_rest**2)


@pytest.fixture(params=[2, 3, 5, 10])
def beta_cov(request):
    rng = np.random.default_rng(20251001 + request.param)
    p = request.param
    return rng.normal(size=p) * 2.0, random_spd(rng, p)


# ----------------------------------------------------------------------------------------------------------
# General covariance
# ----------------------------------------------------------------------------------------------------------


def test_conditional_variance_matches_population_regression(beta_cov):
    _, cov = beta_cov
    np.testing.assert_allclose(conditional_variance(cov), regression_conditional_variance(cov), rtol=1e-10)


def test_loco_matches_population_regression(beta_cov):
    beta, cov = beta_cov
    expected = beta**2 * regression_conditional_variance(cov)
    np.testing.assert_allclose(loco(beta, cov), expected, rtol=1e-10)
    np.testing.assert_allclose(loco(beta, cov, scale="sqrt"), np.sqrt(expected), rtol=1e-10)


def test_loco_is_the_best_linear_refit_error(beta_cov):
    """LOCO = E[(x b - x_-j g)^2] minimised over g, minus nothing: compute the refit explicitly."""
    beta, cov = beta_cov
    p = beta.size
    for j in range(p):
        rest = np.delete(np.arange(p), j)
        # Best linear predictor of x @ beta from x_-j: g = inv(S_rr) S_r. beta.
        g = np.linalg.solve(cov[np.ix_(rest, rest)], cov[rest, :] @ beta)
        w = beta.copy()
        w[rest] -= g
        # Excess error E[(x^T w)^2] = w^T cov w, where w = beta - (g embedded with 0 at j).
        assert loco(beta, cov)[j] == pytest.approx(w @ cov @ w, rel=1e-10)


def test_pap_is_twice_beta_squared_times_variance(beta_cov):
    beta, cov = beta_cov
    np.testing.assert_allclose(pap(beta, cov), 2.0 * beta**2 * np.diag(cov), rtol=1e-14)
    np.testing.assert_allclose(
        pap(beta, cov, scale="sqrt"), np.abs(beta) * np.sqrt(2.0 * np.diag(cov)), rtol=1e-14
    )


def test_gcm_is_signed_and_linear_in_beta(beta_cov):
    beta, cov = beta_cov
    np.testing.assert_allclose(gcm(beta, cov), beta * regression_conditional_variance(cov), rtol=1e-10)


def test_vif_matches_one_over_one_minus_r_squared(beta_cov):
    _, cov = beta_cov
    r_squared = 1.0 - regression_conditional_variance(cov) / np.diag(cov)
    np.testing.assert_allclose(vif(cov), 1.0 / (1.0 - r_squared), rtol=1e-10)
    assert np.all(vif(cov) >= 1.0 - 1e-12)


def test_pap_over_loco_squared_is_twice_vif(beta_cov):
    beta, cov = beta_cov
    ratio = pap(beta, cov, scale="sqrt") ** 2 / loco(beta, cov, scale="sqrt") ** 2
    np.testing.assert_allclose(ratio, 2.0 * vif(cov), rtol=1e-10)


def test_identity_covariance():
    beta = np.array([1.0, -2.0, 0.5])
    cov = np.eye(3)
    np.testing.assert_allclose(pap(beta, cov), 2 * beta**2)
    np.testing.assert_allclose(loco(beta, cov), beta**2)
    np.testing.assert_allclose(gcm(beta, cov), beta)
    np.testing.assert_allclose(vif(cov), 1.0)


def test_results_are_float_arrays_of_length_p():
    beta, cov = [1, 2], [[2, 1], [1, 2]]  # integer input accepted
    for result in (pap(beta, cov), loco(beta, cov), gcm(beta, cov), vif(cov), conditional_variance(cov)):
        assert isinstance(result, np.ndarray)
        assert result.shape == (2,)
        assert result.dtype == np.float64


def test_tiny_asymmetry_is_tolerated():
    cov = np.array([[1.0, 0.5], [0.5 + 1e-13, 1.0]])
    np.testing.assert_allclose(loco([1.0, 1.0], cov), [0.75, 0.75], rtol=1e-12)


def test_near_singular_cov_warns():
    with pytest.warns(VimpWarning, match="nearly singular"):
        loco(np.ones(6), bladen_cov(6, 1.0 - 1e-7))


# ----------------------------------------------------------------------------------------------------------
# Bladen, Cutler & Wisler design
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", P_GRID)
@pytest.mark.parametrize("delta", [0.0, 0.11, 0.5, 0.77, 0.99])
def test_bladen_cov_is_a_squared(p, delta):
    a = bladen_a(p, delta)
    cov = bladen_cov(p, delta)
    np.testing.assert_allclose(cov, a.T @ a, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(np.diag(cov), 1.0 + (p - 1) * delta**2, rtol=1e-14)
    off_diagonal = cov[~np.eye(p, dtype=bool)]
    np.testing.assert_allclose(off_diagonal, 2 * delta + (p - 2) * delta**2, rtol=1e-14, atol=1e-15)


def test_bladen_research_checked_values():
    p, delta = 6, 0.5
    assert bladen_pap(p, delta) == pytest.approx(2.121320, abs=1e-6)
    assert bladen_loco(p, delta) == pytest.approx(0.546608, abs=1e-6)
    assert absorption(p, delta) == pytest.approx(8 / 41, abs=1e-12)
    # Exact values: sqrt(2 * 2.25) and 0.5 * sqrt(1 + 8/41) = 3.5 / sqrt(41).
    assert bladen_pap(p, delta) == pytest.approx(np.sqrt(4.5), rel=1e-14)
    assert bladen_loco(p, delta) == pytest.approx(3.5 / np.sqrt(41.0), rel=1e-14)
    beta = np.ones(p)
    cov = bladen_cov(p, delta)
    assert pap(beta, cov, scale="sqrt")[0] == pytest.approx(2.121320, abs=1e-6)
    assert loco(beta, cov, scale="sqrt")[0] == pytest.approx(0.546608, abs=1e-6)


@pytest.mark.parametrize("p", P_GRID)
def test_bladen_pap_matches_general_pap(p):
    beta = np.ones(p)
    expected = [pap(beta, bladen_cov(p, d), scale="sqrt")[0] for d in DELTA_GRID]
    np.testing.assert_allclose(bladen_pap(p, DELTA_GRID), expected, rtol=1e-13)


@pytest.mark.parametrize("p", P_GRID)
def test_bladen_loco_conjecture(p):
    """The paper's conjectured LOCO form equals the general-covariance LOCO on the whole grid."""
    beta = np.ones(p)
    general = np.array([loco(beta, bladen_cov(p, d), scale="sqrt")[0] for d in DELTA_GRID])
    np.testing.assert_allclose(bladen_loco(p, DELTA_GRID), general, rtol=1e-9)
    # ... and the eigen-decomposition form, which involves no matrix factorisation at all.
    eigen = np.sqrt(bladen_conditional_variance_eigen(p, DELTA_GRID))
    np.testing.assert_allclose(bladen_loco(p, DELTA_GRID), eigen, rtol=1e-12)


@pytest.mark.parametrize("p", P_GRID)
def test_absorption_forms_agree_with_ols_coefficient(p):
    """c: the paper's ratio = r / (v + (p-2) r) = the population OLS coefficient after dropping x_1."""
    c = absorption(p, DELTA_GRID)
    v = 1.0 + (p - 1) * DELTA_GRID**2
    r = 2.0 * DELTA_GRID + (p - 2) * DELTA_GRID**2
    np.testing.assert_allclose(c, r / (v + (p - 2) * r), rtol=1e-13, atol=1e-16)
    for d, c_d in zip(DELTA_GRID, c):
        cov = bladen_cov(p, d)
        # Regress x_1 on x_2..x_p: each coefficient is c.
        coefficients = np.linalg.solve(cov[1:, 1:], cov[1:, 0])
        np.testing.assert_allclose(coefficients, c_d, rtol=1e-9, atol=1e-14)
        # Refit y = sum x_k without x_1: each remaining coefficient is 1 + c.
        refit = np.linalg.solve(cov[1:, 1:], cov[1:, :] @ np.ones(p))
        np.testing.assert_allclose(refit, 1.0 + c_d, rtol=1e-9)


def test_bladen_functions_are_vectorised_over_delta():
    p = 9
    grid = DELTA_GRID.reshape(10, 10)
    for function in (absorption, bladen_pap, bladen_loco):
        result = function(p, grid)
        assert isinstance(result, np.ndarray)
        assert result.shape == grid.shape
        elementwise = np.array([function(p, float(d)) for d in grid.ravel()]).reshape(grid.shape)
        np.testing.assert_allclose(result, elementwise, rtol=1e-15)
        assert isinstance(function(p, 0.3), float)


def test_bladen_beta_scales_and_broadcasts():
    assert bladen_pap(6, 0.5, beta=-3.0) == pytest.approx(3.0 * bladen_pap(6, 0.5))
    assert bladen_loco(6, 0.5, beta=2.0) == pytest.approx(2.0 * bladen_loco(6, 0.5))
    result = bladen_loco(6, [0.1, 0.5], beta=[1.0, 2.0])
    np.testing.assert_allclose(result, [bladen_loco(6, 0.1), 2.0 * bladen_loco(6, 0.5)])
    # Only the measured feature's coefficient matters: other coefficients do not change LOCO_1.
    beta = np.array([2.0, -1.0, 5.0, 0.3, 1.0, 1.0])
    assert loco(beta, bladen_cov(6, 0.4), scale="sqrt")[0] == pytest.approx(bladen_loco(6, 0.4, beta=2.0))


def test_correlation_scale_pap_is_constant():
    """Dividing PaP by sd(x_j) gives beta * sqrt(2) for every delta (the paper's correlation scale)."""
    for p in P_GRID:
        sd = np.sqrt(1.0 + (p - 1) * DELTA_GRID**2)
        np.testing.assert_allclose(bladen_pap(p, DELTA_GRID) / sd, np.sqrt(2.0), rtol=1e-14)


# ----------------------------------------------------------------------------------------------------------
# Finite-sample links
# ----------------------------------------------------------------------------------------------------------


def test_t_statistic_and_authors_adjustment():
    loco_sqrt, n, noise_var, p = 0.7, 200, 1e-4, 6
    unadjusted = t_statistic(loco_sqrt, n, noise_var)
    assert unadjusted == pytest.approx(0.7 * np.sqrt(199 / 1e-4))
    adjusted = t_statistic(loco_sqrt, n, noise_var, p=p)
    assert adjusted == pytest.approx(unadjusted / np.sqrt((n - 1) / (n - p + 1)), rel=1e-14)
    np.testing.assert_allclose(t_statistic([0.0, 0.7], n, noise_var), [0.0, unadjusted])


def test_t_statistic_matches_ols_t_in_bladen_design():
    """|t| of x_1 from an OLS fit vs the closed-form link, Bladen design, n = 20_000.

    The t-statistic is beta_hat * sqrt(r'r) / sigma_hat; each factor has relative sd at most ~ 1/sqrt(2n)
    (plus sigma / (beta sd(xi) sqrt(n)) from beta_hat), so the relative MC standard error is below
    sqrt(1/n) ~ 0.0071; we allow 5 of them.
    """
    rng = np.random.default_rng(31415)
    n, p, delta, noise_sd = 20_000, 6, 0.5, 0.01
    x = rng.standard_normal((n, p)) @ bladen_a(p, delta)
    y = x.sum(axis=1) + noise_sd * rng.standard_normal(n)
    design = np.column_stack([np.ones(n), x])
    coefficients, rss, *_ = np.linalg.lstsq(design, y, rcond=None)
    sigma2_hat = rss[0] / (n - p - 1)
    gram = design.T @ design
    g_11 = np.linalg.solve(gram, np.eye(p + 1)[:, 1])[1]
    t_ols = abs(coefficients[1]) / np.sqrt(sigma2_hat * g_11)
    t_closed = t_statistic(bladen_loco(p, delta), n, noise_sd**2)
    assert t_ols == pytest.approx(t_closed, rel=5 * np.sqrt(1.0 / n))


def test_finite_sample_adjustments():
    assert adjust_pap(2.0, 20) == pytest.approx(1.9)
    assert adjust_loco(1.0, 20, 4) == pytest.approx(np.sqrt(20 / 16))
    np.testing.assert_allclose(adjust_pap([1.0, 2.0], 10), [0.9, 1.8])
    np.testing.assert_allclose(adjust_loco(np.array([1.0, 3.0]), 10, 5), np.sqrt(2.0) * np.array([1.0, 3.0]))


# ----------------------------------------------------------------------------------------------------------
# theory()
# ----------------------------------------------------------------------------------------------------------


def test_theory_table(beta_cov):
    beta, cov = beta_cov
    p = beta.size
    table = theory(beta, cov)
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == [f"x{j}" for j in range(p)]
    assert table.index.name == "feature"
    assert list(table.columns) == [
        "pap", "loco", "pap_sqrt", "loco_sqrt", "gcm", "vif", "var", "conditional_var", "pap_loco_ratio",
    ]
    conditional = regression_conditional_variance(cov)
    np.testing.assert_allclose(table["pap"], 2 * beta**2 * np.diag(cov), rtol=1e-12)
    np.testing.assert_allclose(table["loco"], beta**2 * conditional, rtol=1e-10)
    np.testing.assert_allclose(table["pap_sqrt"] ** 2, table["pap"], rtol=1e-12)
    np.testing.assert_allclose(table["loco_sqrt"] ** 2, table["loco"], rtol=1e-12)
    np.testing.assert_allclose(table["gcm"], beta * conditional, rtol=1e-10)
    np.testing.assert_allclose(table["var"], np.diag(cov))
    np.testing.assert_allclose(table["conditional_var"], conditional, rtol=1e-10)
    np.testing.assert_allclose(table["vif"], np.diag(cov) / conditional, rtol=1e-10)
    np.testing.assert_allclose(table["pap_loco_ratio"], table["pap_sqrt"] ** 2 / table["loco_sqrt"] ** 2, rtol=1e-10)


def test_theory_noise_columns_and_names():
    beta = np.array([1.0, -2.0, 0.0])
    cov = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 2.0]])
    sigma = 0.5
    table = theory(beta, cov, noise_sd=sigma, feature_names=["a", "b", "c"])
    assert list(table.index) == ["a", "b", "c"]
    conditional = regression_conditional_variance(cov)
    snr = beta**2 * conditional / sigma**2
    np.testing.assert_allclose(table["snr"], snr, rtol=1e-10)
    np.testing.assert_allclose(table["are_gcm_loco"], (2 * snr + 4) / (2 * snr + 1), rtol=1e-10)
    assert table.loc["c", "are_gcm_loco"] == pytest.approx(4.0)
    # R^2 drop from two explicit population R^2 values.
    var_y = beta @ cov @ beta + sigma**2
    for j, name in enumerate("abc"):
        rest = np.delete(np.arange(3), j)
        explained_rest = (cov[rest, :] @ beta) @ np.linalg.solve(cov[np.ix_(rest, rest)], cov[rest, :] @ beta)
        r2_full = (beta @ cov @ beta) / var_y
        assert table.loc[name, "r2_drop"] == pytest.approx(r2_full - explained_rest / var_y, rel=1e-9, abs=1e-14)
    assert np.isnan(table.loc["c", "pap_loco_ratio"])
    assert table.loc["a", "pap_loco_ratio"] == pytest.approx(2 * vif(cov)[0])


# ----------------------------------------------------------------------------------------------------------
# Monte Carlo: sample OLS drop-one and permute-and-predict against the closed forms
# ----------------------------------------------------------------------------------------------------------


def _ols_rss(design, y):
    _, rss, *_ = np.linalg.lstsq(design, y, rcond=None)
    return rss[0]


def test_monte_carlo_ols_drop_one_and_permutation():
    """Large-n OLS: (RSS_-j - RSS) / n -> loco and the validation PaP increase -> pap.

    Tolerance. (RSS_-j - RSS)/n = (r'r / n) (beta_j + r'eps / r'r)^2 with r the residual of x_j on the
    other columns; r'r / n has relative sd sqrt(2/n) and the cross term has sd 2 |beta_j| sd(xi) sigma /
    sqrt(n). So se_j = loco_j sqrt(2/n) + 2 |beta_j| sd(xi) sigma / sqrt(n). The PaP increase is
    mean(beta_j^2 d^2 + 2 beta_j d e) with d = x_j - x_pi(j) (Var d = 2 Var x_j), giving
    se_j = pap_j sqrt(2/n) + 2 |beta_j| sqrt(2 Var x_j) sigma / sqrt(n). We allow 5 standard errors
    (a literal seed makes the test deterministic; 5 se keeps it robust to the seed).
    """
    rng = np.random.default_rng(8675309)
    n, p, sigma = 200_000, 4, 0.1
    cov = random_spd(np.random.default_rng(42), p)
    beta = np.array([1.0, -0.5, 2.0, 0.8])
    chol = np.linalg.cholesky(cov)

    def draw(size):
        x = rng.standard_normal((size, p)) @ chol.T
        return x, 3.0 + x @ beta + sigma * rng.standard_normal(size)

    x, y = draw(n)
    design = np.column_stack([np.ones(n), x])
    rss_full = _ols_rss(design, y)
    drop_one = np.array([(_ols_rss(np.delete(design, j + 1, axis=1), y) - rss_full) / n for j in range(p)])

    loco_closed = loco(beta, cov)
    sd_xi = np.sqrt(conditional_variance(cov))
    se_loco = loco_closed * np.sqrt(2 / n) + 2 * np.abs(beta) * sd_xi * sigma / np.sqrt(n)
    np.testing.assert_array_less(np.abs(drop_one - loco_closed), 5 * se_loco)

    coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
    x_val, y_val = draw(n)
    design_val = np.column_stack([np.ones(n), x_val])
    mse_val = np.mean((y_val - design_val @ coefficients) ** 2)
    pap_mc = np.empty(p)
    for j in range(p):
        permuted = design_val.copy()
        permuted[:, j + 1] = permuted[rng.permutation(n), j + 1]
        pap_mc[j] = np.mean((y_val - permuted @ coefficients) ** 2) - mse_val
    pap_closed = pap(beta, cov)
    se_pap = pap_closed * np.sqrt(2 / n) + 2 * np.abs(beta) * np.sqrt(2 * np.diag(cov)) * sigma / np.sqrt(n)
    np.testing.assert_array_less(np.abs(pap_mc - pap_closed), 5 * se_pap)


# ----------------------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------------------


@st.composite
def linear_models(draw):
    p = draw(st.integers(min_value=1, max_value=6))
    finite = {"allow_nan": False, "allow_infinity": False}
    # No subnormal coefficients: relative error is not defined down there (|beta| < 1e-300 or exactly 0).
    coefficient = st.one_of(st.just(0.0), st.floats(1e-100, 5, **finite), st.floats(-5, -1e-100, **finite))
    beta = draw(arrays(np.float64, p, elements=coefficient))
    b = draw(arrays(np.float64, (p, p), elements=st.floats(-2, 2, **finite)))
    cov = b @ b.T + 0.5 * np.eye(p)
    return beta, cov


@settings(max_examples=60, deadline=None)
@given(model=linear_models(), c=st.floats(-10, 10, allow_nan=False).filter(lambda v: abs(v) > 1e-3))
def test_scaling_beta_scales_importances(model, c):
    beta, cov = model
    np.testing.assert_allclose(pap(c * beta, cov), c**2 * pap(beta, cov), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(loco(c * beta, cov), c**2 * loco(beta, cov), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(loco(c * beta, cov, "sqrt"), abs(c) * loco(beta, cov, "sqrt"), rtol=1e-12)
    np.testing.assert_allclose(gcm(c * beta, cov), c * gcm(beta, cov), rtol=1e-12, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(model=linear_models(), data=st.data())
def test_permuting_features_permutes_importances(model, data):
    beta, cov = model
    order = np.array(data.draw(st.permutations(range(beta.size))))
    permuted_cov = cov[np.ix_(order, order)]
    for function in (pap, loco, gcm):
        np.testing.assert_allclose(
            function(beta[order], permuted_cov), function(beta, cov)[order], rtol=1e-9, atol=1e-12
        )
    np.testing.assert_allclose(vif(permuted_cov), vif(cov)[order], rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(model=linear_models(), data=st.data())
def test_changing_feature_units(model, data):
    """x -> D x, beta -> beta / D leaves PaP, LOCO and VIF unchanged; GCM (a covariance) scales by D."""
    beta, cov = model
    d = data.draw(arrays(np.float64, beta.size, elements=st.floats(0.1, 10)))
    cov_d = d[:, None] * cov * d[None, :]
    beta_d = beta / d
    np.testing.assert_allclose(pap(beta_d, cov_d), pap(beta, cov), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(loco(beta_d, cov_d), loco(beta, cov), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(vif(cov_d), vif(cov), rtol=1e-9)
    np.testing.assert_allclose(gcm(beta_d, cov_d), d * gcm(beta, cov), rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(model=linear_models())
def test_pap_dominates_twice_loco(model):
    beta, cov = model
    assert np.all(pap(beta, cov) >= 2 * loco(beta, cov) * (1 - 1e-12))
    assert np.all(vif(cov) >= 1 - 1e-12)


# ----------------------------------------------------------------------------------------------------------
# Input validation: every bad input is refused with the parameter's name
# ----------------------------------------------------------------------------------------------------------

GOOD_BETA = np.array([1.0, 2.0])
GOOD_COV = np.array([[1.0, 0.3], [0.3, 1.0]])


@pytest.mark.parametrize("function", [pap, loco, gcm])
@pytest.mark.parametrize(
    "beta, cov, error, match",
    [
        ([[1.0, 2.0]], GOOD_COV, ValueError, "beta must be 1-D"),
        ([], np.empty((0, 0)), ValueError, "beta must contain"),
        ([1.0, np.nan], GOOD_COV, ValueError, "beta must be finite"),
        ([1.0, np.inf], GOOD_COV, ValueError, "beta must be finite"),
        (["a", "b"], GOOD_COV, TypeError, "beta must be a real numeric"),
        ([1 + 1j, 2.0], GOOD_COV, TypeError, "beta must be a real numeric"),
        (GOOD_BETA, [1.0, 1.0], ValueError, "cov must be a square 2-D"),
        (GOOD_BETA, np.ones((2, 3)), ValueError, "cov must be a square 2-D"),
        (GOOD_BETA, np.eye(3), ValueError, r"cov must have shape \(2, 2\)"),
        (GOOD_BETA, [[1.0, np.nan], [np.nan, 1.0]], ValueError, "cov must be finite"),
        (GOOD_BETA, [[1.0, 0.3], [0.2, 1.0]], ValueError, "cov must be symmetric"),
        (GOOD_BETA, [[1.0, 2.0], [2.0, 1.0]], ValueError, "cov must be positive definite"),
        (GOOD_BETA, [[1.0, 1.0], [1.0, 1.0]], ValueError, "cov must be positive definite"),
        (GOOD_BETA, np.zeros((2, 2)), ValueError, "cov must be positive definite"),
        (GOOD_BETA, np.eye(2, dtype=complex), TypeError, "cov must be a real numeric"),
    ],
)
def test_general_functions_reject_bad_input(function, beta, cov, error, match):
    with pytest.raises(error, match=match):
        function(beta, cov)


@pytest.mark.parametrize("function", [vif, conditional_variance])
@pytest.mark.parametrize(
    "cov, match",
    [
        ([1.0, 1.0], "cov must be a square 2-D"),
        ([[1.0, 0.3], [0.2, 1.0]], "cov must be symmetric"),
        ([[1.0, 2.0], [2.0, 1.0]], "cov must be positive definite"),
        ([[np.inf, 0.0], [0.0, 1.0]], "cov must be finite"),
    ],
)
def test_cov_functions_reject_bad_input(function, cov, match):
    with pytest.raises(ValueError, match=match):
        function(cov)


@pytest.mark.parametrize("function", [pap, loco])
@pytest.mark.parametrize("scale", ["log", "SQRT", None, 2])
def test_bad_scale(function, scale):
    with pytest.raises(ValueError, match="scale must be one of"):
        function(GOOD_BETA, GOOD_COV, scale=scale)


@pytest.mark.parametrize("function", [bladen_cov, absorption, bladen_pap, bladen_loco])
@pytest.mark.parametrize(
    "p, delta, error, match",
    [
        (1, 0.5, ValueError, "p must be an integer >= 2"),
        (0, 0.5, ValueError, "p must be an integer >= 2"),
        (2.5, 0.5, TypeError, "p must be an integer"),
        (6.0, 0.5, TypeError, "p must be an integer"),
        (True, 0.5, TypeError, "p must be an integer"),
        (6, 1.0, ValueError, r"delta must lie in \[0, 1\)"),
        (6, -0.1, ValueError, r"delta must lie in \[0, 1\)"),
        (6, 1.5, ValueError, r"delta must lie in \[0, 1\)"),
        (6, np.nan, ValueError, "delta must be finite"),
        (6, "0.5", TypeError, "delta must be a real numeric"),
    ],
)
def test_bladen_functions_reject_bad_input(function, p, delta, error, match):
    with pytest.raises(error, match=match):
        function(p, delta)


@pytest.mark.parametrize("function", [absorption, bladen_pap, bladen_loco])
def test_bladen_vectorised_delta_rejects_any_bad_entry(function):
    with pytest.raises(ValueError, match="delta"):
        function(6, [0.1, 0.5, 1.0])


def test_bladen_cov_requires_scalar_delta():
    with pytest.raises(ValueError, match="delta must be a scalar"):
        bladen_cov(3, [0.1, 0.2])


@pytest.mark.parametrize("function", [bladen_pap, bladen_loco])
def test_bladen_bad_beta(function):
    with pytest.raises(ValueError, match="beta must be finite"):
        function(6, 0.5, beta=np.nan)
    with pytest.raises(ValueError, match="beta .* must broadcast against delta"):
        function(6, [0.1, 0.2, 0.3], beta=[1.0, 2.0])
    with pytest.raises(TypeError, match="beta must be a real numeric"):
        function(6, 0.5, beta="one")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"loco_sqrt": -0.1}, ValueError, "loco_sqrt must be non-negative"),
        ({"loco_sqrt": np.nan}, ValueError, "loco_sqrt must be finite"),
        ({"n": 1}, ValueError, "n must be an integer >= 2"),
        ({"n": 100.0}, TypeError, "n must be an integer"),
        ({"noise_var": 0.0}, ValueError, "noise_var must be a positive"),
        ({"noise_var": -1.0}, ValueError, "noise_var must be a positive"),
        ({"noise_var": np.inf}, ValueError, "noise_var must be a positive"),
        ({"noise_var": "1"}, TypeError, "noise_var must be a real number"),
        ({"p": 100}, ValueError, "n must exceed p"),
        ({"p": 0}, ValueError, "p must be an integer >= 1"),
        ({"p": 2.0}, TypeError, "p must be an integer"),
    ],
)
def test_t_statistic_rejects_bad_input(kwargs, error, match):
    arguments = {"loco_sqrt": 0.5, "n": 100, "noise_var": 0.01} | kwargs
    with pytest.raises(error, match=match):
        t_statistic(**arguments)


def test_adjustments_reject_bad_input():
    with pytest.raises(ValueError, match="pap_sqrt must be non-negative"):
        adjust_pap(-1.0, 10)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        adjust_pap(1.0, 1)
    with pytest.raises(TypeError, match="n must be an integer"):
        adjust_pap(1.0, 10.5)
    with pytest.raises(ValueError, match="loco_sqrt must be non-negative"):
        adjust_loco(-1.0, 10, 3)
    with pytest.raises(ValueError, match="n must exceed p"):
        adjust_loco(1.0, 5, 5)
    with pytest.raises(ValueError, match="p must be an integer >= 1"):
        adjust_loco(1.0, 5, 0)


def test_theory_rejects_bad_input():
    with pytest.raises(ValueError, match="noise_sd must be a positive"):
        theory(GOOD_BETA, GOOD_COV, noise_sd=0.0)
    with pytest.raises(TypeError, match="noise_sd must be a real number"):
        theory(GOOD_BETA, GOOD_COV, noise_sd="0.1")
    with pytest.raises(ValueError, match="feature_names must have 2 entries"):
        theory(GOOD_BETA, GOOD_COV, feature_names=["a"])
    with pytest.raises(ValueError, match="feature_names must be unique"):
        theory(GOOD_BETA, GOOD_COV, feature_names=["a", "a"])
    with pytest.raises(TypeError, match="feature_names must be a sequence"):
        theory(GOOD_BETA, GOOD_COV, feature_names="ab")
    with pytest.raises(ValueError, match="cov must be positive definite"):
        theory(GOOD_BETA, [[1.0, 2.0], [2.0, 1.0]])
