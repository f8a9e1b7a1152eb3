"""Data-generating processes shared by the tests (plain NumPy, one Generator per call)."""

import numpy as np


def equicorrelated_cov(p, rho):
    """Σ with unit variances and every correlation equal to ``rho``."""
    return (1.0 - rho) * np.eye(p) + rho * np.ones((p, p))


def linear_gaussian(rng, n, beta, cov, noise_sd=1.0):
    """``y = X beta + noise_sd * eps`` with ``X ~ N(0, cov)``, ``eps ~ N(0, 1)``."""
    beta = np.asarray(beta, dtype=float)
    X = rng.multivariate_normal(np.zeros(len(beta)), cov, size=n, method="cholesky")
    y = X @ beta + noise_sd * rng.standard_normal(n)
    return X, y


def fitted_mse(intercept, coef, beta, cov, noise_sd):
    """Expected squared error of the linear predictor ``intercept + coef'x`` on new data of the DGP.

    With ``x ~ N(0, cov)``: ``E(y - a - b'x)^2 = noise_sd^2 + a^2 + (beta - b)' cov (beta - b)``.
    """
    d = np.asarray(beta, dtype=float) - np.asarray(coef, dtype=float)
    return noise_sd**2 + intercept**2 + d @ cov @ d


def fitted_pap_target(coef, beta, cov, j):
    """PaP target of a fitted linear model (intercept a, coefficients b) for feature ``j``.

    Replacing x_j by an independent copy adds ``b_j (x_j - x~_j)`` to the residual, so the expected
    squared-error increase is ``2 b_j^2 Σ_jj + 2 b_j (Σ (beta - b))_j``; the intercept cancels.
    """
    b = np.asarray(coef, dtype=float)
    d = np.asarray(beta, dtype=float) - b
    return 2.0 * b[j] ** 2 * cov[j, j] + 2.0 * b[j] * (cov @ d)[j]
