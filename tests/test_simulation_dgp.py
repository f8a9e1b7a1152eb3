"""Data-generating processes of vimp.simulation: draws, population truths (closed forms, quadrature checked
against closed forms and against large Monte Carlo integrals), descriptions, and bad input."""

import numpy as np
import pytest
from scipy import integrate, stats

from vimp import linear
from vimp.simulation import (
    Additive,
    BladenDesign,
    CustomDGP,
    EquicorrelatedLinear,
    LinearGaussian,
    SingleIndex,
)

COV2 = np.array([[1.0, 0.5], [0.5, 2.0]])


# --------------------------------------------------------------------------------------------- linear
@pytest.mark.parametrize("p", [3, 6, 12])
@pytest.mark.parametrize("delta", [0.0, 0.33, 0.77, 0.99])
def test_bladen_truths_are_the_papers_closed_forms(p, delta):
    dgp = BladenDesign(p, delta)
    np.testing.assert_allclose(dgp.truth("pap", scale="sqrt"), linear.bladen_pap(p, delta), rtol=1e-12)
    np.testing.assert_allclose(dgp.truth("loco", scale="sqrt"), linear.bladen_loco(p, delta), rtol=1e-9)
    np.testing.assert_allclose(dgp.cov, dgp.A @ dgp.A.T, rtol=1e-14)
    np.testing.assert_allclose(dgp.cov, linear.bladen_cov(p, delta), rtol=1e-14)


def test_bladen_draws_x_as_z_times_a_then_the_noise():
    dgp = BladenDesign(4, 0.5, beta=[1.0, 2.0, 0.0, -1.0], noise_sd=0.01)
    X, y = dgp.sample(50, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((50, 4))
    eps = rng.standard_normal(50)
    np.testing.assert_allclose(X, Z @ dgp.A, rtol=1e-14)
    np.testing.assert_allclose(y, X @ dgp.beta + 0.01 * eps, rtol=1e-13)
    np.testing.assert_allclose(dgp.regression_function(X), X @ dgp.beta)
    assert dgp.intercept == 0.0 and dgp.feature_names == ["x0", "x1", "x2", "x3"] and dgp.noise_sd == 0.01


def test_linear_gaussian_truths_on_every_scale():
    beta = np.array([1.0, -2.0])
    dgp = LinearGaussian(COV2, beta, noise_sd=0.5)
    conditional = linear.conditional_variance(COV2)
    np.testing.assert_allclose(dgp.truth("pap"), linear.pap(beta, COV2))
    np.testing.assert_allclose(dgp.truth("loco"), linear.loco(beta, COV2))
    np.testing.assert_allclose(dgp.truth("loco", "sqrt"), linear.loco(beta, COV2, scale="sqrt"))
    np.testing.assert_allclose(dgp.truth("pap", "ratio"), 1 + linear.pap(beta, COV2) / 0.25)
    np.testing.assert_allclose(dgp.truth("gcm"), linear.gcm(beta, COV2))
    np.testing.assert_allclose(dgp.truth("gcm", "covariance"), dgp.truth("gcm", "difference"))
    # GCM on LOCO's scale is LOCO in a linear Gaussian model (THEORY.md section 2).
    np.testing.assert_allclose(dgp.truth("gcm", "loco"), dgp.truth("loco"), rtol=1e-12)
    corr = beta * conditional / np.sqrt(conditional * (beta**2 * conditional + 0.25))
    np.testing.assert_allclose(dgp.truth("gcm", "correlation"), corr, rtol=1e-12)


def test_linear_gaussian_draws_have_the_covariance():
    # 20,000 rows: the sd of an empirical covariance entry is about sqrt((s_ii s_jj + s_ij^2) / n) <= 0.016;
    # 5 sd = 0.08.
    dgp = LinearGaussian(COV2, [1.0, 1.0], noise_sd=1.0)
    X, y = dgp.sample(20_000, np.random.default_rng(3))
    np.testing.assert_allclose(np.cov(X.T), COV2, atol=0.08)
    assert abs(np.var(y - X @ dgp.beta) - 1.0) < 0.05  # sd of a sample variance: sqrt(2/n) = 0.01


def test_equicorrelated_is_linear_gaussian():
    dgp = EquicorrelatedLinear(5, 0.5, [0.5, 1, 1, 1, 1])
    assert isinstance(dgp, LinearGaussian) and dgp.rho == 0.5
    np.testing.assert_allclose(np.diag(dgp.cov), 1.0)
    np.testing.assert_allclose(dgp.cov[0, 1], 0.5)
    # Var(x_j | x_-j) = (1 - rho)(1 + (p - 1) rho) / (1 + (p - 2) rho) = 0.6
    np.testing.assert_allclose(dgp.truth("loco"), dgp.beta**2 * 0.6, rtol=1e-12)
    np.testing.assert_allclose(EquicorrelatedLinear(3, 0.2, 2.0).beta, [2.0, 2.0, 2.0])


# ------------------------------------------------------------------------------------------ nonlinear
def test_additive_independent_truths_are_closed_form_integrals():
    dgp = Additive([np.sin, lambda x: x, lambda x: x**2, None], noise_sd=1.0)
    var_sin = (1 - np.exp(-2)) / 2
    np.testing.assert_allclose(dgp.truth("loco"), [var_sin, 1.0, 2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(dgp.truth("pap"), 2 * np.array([var_sin, 1.0, 2.0, 0.0]), atol=1e-12)
    # Cov(f(x), x): E[x sin x] = E[cos x] = exp(-1/2); an even function has none (GCM has no power).
    np.testing.assert_allclose(dgp.truth("gcm"), [np.exp(-0.5), 1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(dgp.cov, np.eye(4))


def test_additive_correlated_truths_match_closed_forms():
    # x0 = m + sqrt(v) z with v = Var(x0 | x1) = 1 - 0.25 / 2 = 0.875 and Var(m) = 0.125.
    cov = np.array([[1.0, 0.5], [0.5, 2.0]])
    dgp = Additive([np.sin, lambda x: x**2], cov=cov)
    v0, m0 = 1 - 0.25 / 2, 0.25 / 2
    v1, m1 = 2 - 0.25, 0.25
    var_sin = (1 - np.exp(-2)) / 2
    # E[sin x0 | x1] = sin(m) exp(-v/2): LOCO = Var(sin x0) - exp(-v) E[sin^2 m].
    loco0 = var_sin - np.exp(-v0) * (1 - np.exp(-2 * m0)) / 2
    loco1 = 4 * m1 * v1 + 2 * v1**2  # E[Var((m + sqrt(v) z)^2 | m)]
    np.testing.assert_allclose(dgp.truth("loco"), [loco0, loco1], rtol=1e-10)
    # GCM = v E[f'(x)]: v0 E[cos x0] = v0 exp(-1/2); for x^2: 2 v1 E[x1] = 0.
    np.testing.assert_allclose(dgp.truth("gcm"), [v0 * np.exp(-0.5), 0.0], atol=1e-12)
    np.testing.assert_allclose(dgp.truth("pap"), [2 * var_sin, 2 * 2 * 2.0**2], rtol=1e-10)


def _monte_carlo_truths(dgp, j, n, rng, conditional_draw):
    """Unbiased Monte Carlo integrals of PaP, LOCO and GCM of feature j from the regression function,
    with their standard errors; ``conditional_draw(X, rng)`` redraws x_j from its law given x_-j and returns
    (new column, E[x_j | x_-j])."""
    X, _ = dgp.sample(n, rng)
    mu = dgp.regression_function(X)
    X_swap = X.copy()
    X_swap[:, j] = X[rng.permutation(n), j]  # an independent copy of x_j (Gaussian marginal, permuted)
    pap_terms = (mu - dgp.regression_function(X_swap)) ** 2
    new, mean = conditional_draw(X, rng)
    X_cond = X.copy()
    X_cond[:, j] = new
    loco_terms = 0.5 * (mu - dgp.regression_function(X_cond)) ** 2  # E = E[Var(mu | x_-j)]
    gcm_terms = (X[:, j] - mean) * mu
    return [(t.mean(), t.std(ddof=1) / np.sqrt(n)) for t in (pap_terms, loco_terms, gcm_terms)]


def test_single_index_truths_match_monte_carlo():
    dgp = SingleIndex(np.tanh, [0.5, 1.0, 1.0], noise_sd=0.5)
    truth = [dgp.truth(m) for m in ("pap", "loco", "gcm")]
    rng = np.random.default_rng(11)
    for j in range(3):
        def redraw(X, rng):
            return rng.standard_normal(len(X)), np.zeros(len(X))
        estimates = _monte_carlo_truths(dgp, j, 200_000, rng, redraw)
        for t, (mean, se) in zip(truth, estimates):
            assert abs(mean - t[j]) < 4.5 * se, (j, mean, t[j], se)  # 4.5 Monte Carlo standard errors
    # Stein's lemma: GCM_j = b_j E[g'(b @ x)], with b @ x ~ N(0, 2.25), by adaptive quadrature (scipy);
    # tanh has poles off the real axis, so Gauss-Hermite is accurate to about 1e-8 relative, not 1e-15.
    stein = integrate.quad(lambda s: (1 - np.tanh(1.5 * s) ** 2) * stats.norm.pdf(s), -np.inf, np.inf,
                           epsabs=1e-14, epsrel=1e-13)[0]
    np.testing.assert_allclose(truth[2], dgp.b * stein, rtol=1e-8)
    np.testing.assert_allclose(truth[0], 2 * truth[1], rtol=1e-12)


def test_additive_correlated_truths_match_monte_carlo():
    cov = np.array([[1.0, 0.6, 0.0], [0.6, 1.5, 0.3], [0.0, 0.3, 1.0]])
    dgp = Additive([np.tanh, lambda x: np.cos(x), lambda x: x**3 / 3], cov=cov)
    truth = [dgp.truth(m) for m in ("pap", "loco", "gcm")]
    rng = np.random.default_rng(5)
    precision = np.linalg.inv(cov)
    for j in range(3):
        v = 1 / precision[j, j]
        others = [k for k in range(3) if k != j]

        def redraw(X, rng, j=j, v=v, others=others):
            mean = -X[:, others] @ precision[j, others] * v  # E[x_j | x_-j] from the precision matrix
            return mean + np.sqrt(v) * rng.standard_normal(len(X)), mean
        estimates = _monte_carlo_truths(dgp, j, 200_000, rng, redraw)
        for t, (mean, se) in zip(truth, estimates):
            assert abs(mean - t[j]) < 4.5 * se, (j, mean, t[j], se)  # 4.5 Monte Carlo standard errors


def test_single_index_with_linear_link_is_linear():
    dgp = SingleIndex(lambda s: s, [1.0, 2.0, -0.5], noise_sd=1.0)
    np.testing.assert_allclose(dgp.truth("loco"), [1.0, 4.0, 0.25], rtol=1e-10)
    np.testing.assert_allclose(dgp.truth("gcm"), [1.0, 2.0, -0.5], rtol=1e-10)
    np.testing.assert_allclose(dgp.truth("pap"), [2.0, 8.0, 0.5], rtol=1e-10)
    X, y = dgp.sample(10, np.random.default_rng(0))
    np.testing.assert_allclose(dgp.regression_function(X), X @ dgp.b)


# ------------------------------------------------------------------------------------------ custom
def _draw(n, rng):
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, X[:, 0] + 0.1 * rng.standard_normal(n)


def test_custom_dgp_wraps_a_sampler():
    dgp = CustomDGP(_draw, truth={"loco": [1 / 3, 0.0]})
    assert dgp.p == 2 and dgp.feature_names == ["x0", "x1"] and dgp.noise_sd is None
    X, y = dgp.sample(30, np.random.default_rng(1))
    X2, y2 = _draw(30, np.random.default_rng(1))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_allclose(dgp.truth("loco"), [1 / 3, 0.0])
    with pytest.raises(NotImplementedError, match="no entry for 'pap'"):
        dgp.truth("pap")
    with pytest.raises(NotImplementedError, match="'difference' scale only"):
        dgp.truth("loco", "sqrt")
    with pytest.raises(NotImplementedError, match="no truth"):
        CustomDGP(_draw).truth("loco")
    with pytest.raises(NotImplementedError, match="no regression_function"):
        CustomDGP(_draw).regression_function(X)
    assert CustomDGP(_draw, truth=lambda m, s: [1.0, 2.0]).truth("gcm").tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"must have shape \(2,\)"):
        CustomDGP(_draw, truth=lambda m, s: [1.0]).truth("gcm")


@pytest.mark.parametrize("sampler, message", [
    (lambda n, rng: rng.normal(size=(n, 2)), "must return a pair"),
    (lambda n, rng: (rng.normal(size=(n + 1, 2)), np.zeros(n)), r"X of shape \(5, 2\); got shape \(6, 2\)"),
    (lambda n, rng: (rng.normal(size=(n, 3)), np.zeros(n)), r"X of shape \(5, 2\); got shape \(5, 3\)"),
    (lambda n, rng: (rng.normal(size=(n, 2)), np.zeros((n, 1))), r"y of shape \(5,\)"),
    (lambda n, rng: (np.full((n, 2), np.nan), np.zeros(n)), "non-finite values .* in X"),
    (lambda n, rng: (rng.normal(size=(n, 2)), np.full(n, np.inf)), "non-finite values .* in y"),
    (lambda n, rng: (np.array([["a", "b"]] * n), np.zeros(n)), "non-numeric X"),
])
def test_custom_dgp_refuses_bad_output(sampler, message):
    dgp = CustomDGP(sampler, p=2)
    with pytest.raises((ValueError, TypeError), match=message):
        dgp.sample(5, np.random.default_rng(0))


# ----------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make, error, message", [
    (lambda: BladenDesign(6, 1.0), ValueError, r"delta must lie in \[0, 1\)"),
    (lambda: BladenDesign(1, 0.5), ValueError, "p must be an integer >= 2"),
    (lambda: BladenDesign(3, 0.5, beta=[1.0, 2.0]), ValueError, r"beta must be a scalar or have shape \(3,\)"),
    (lambda: BladenDesign(3, 0.5, noise_sd=0.0), ValueError, "noise_sd must be a positive"),
    (lambda: EquicorrelatedLinear(3, -0.6, 1.0), ValueError, "rho must lie in"),
    (lambda: EquicorrelatedLinear(3, 1.0, 1.0), ValueError, "rho must lie in"),
    (lambda: LinearGaussian([[1.0, 2.0], [2.0, 1.0]], [1.0, 1.0]), ValueError, "positive definite"),
    (lambda: LinearGaussian(np.eye(3), [1.0, 1.0]), ValueError, "cov must have shape"),
    (lambda: Additive(np.sin), TypeError, "sequence of callables"),
    (lambda: Additive([np.sin, 3.0]), TypeError, r"functions\[1\] must be callable"),
    (lambda: SingleIndex("tanh", [1.0]), TypeError, "link must be a vectorised callable"),
    (lambda: CustomDGP(3), TypeError, "sample must be a callable"),
])
def test_bad_parameters_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_calls_are_refused():
    dgp = BladenDesign(3, 0.5)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        dgp.sample(10, 0)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        dgp.sample(0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="method must be one of"):
        dgp.truth("shap")
    with pytest.raises(ValueError, match="scale must be one of"):
        dgp.truth("gcm", "sqrt")
    with pytest.raises(ValueError, match="must be vectorised"):
        Additive([lambda x: 1.0]).sample(4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="non-finite"), np.errstate(invalid="ignore"):
        SingleIndex(np.log, [1.0]).sample(20, np.random.default_rng(0))


def test_descriptions_are_stable_and_complete():
    assert repr(BladenDesign(3, 0.5)) == "BladenDesign(p=3, delta=0.5, beta=[1.0, 1.0, 1.0], noise_sd=0.01)"
    one = Additive([np.sin, lambda x: x])
    two = Additive([np.sin, lambda x: 2 * x])
    assert "0x" not in repr(one) and "numpy.sin" in repr(one)
    assert repr(one) != repr(two)  # the code of a function is part of its description
    assert repr(one) == repr(Additive([np.sin, lambda x: x]))
    assert repr(EquicorrelatedLinear(2, 0.1, 1.0)) != repr(EquicorrelatedLinear(2, 0.1 + 1e-15, 1.0))
