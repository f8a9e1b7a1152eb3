"""Population (large-n) closed forms of variable importances for linear regression.

For a linear model ``y = x @ beta + eps`` with ``Cov(x) = cov`` fitted by OLS, the permute-and-predict (PaP),
leave-one-covariate-out (LOCO) and generalised covariance measure (GCM) importances have closed forms in
``beta`` and ``cov`` (THEORY.md, section 1). The special functions ``bladen_*`` and :func:`absorption` give
the forms stated by Bladen, Cutler & Wisler (2025) for their equicorrelated design.

Every diagonal of the precision matrix is computed from one Cholesky factorisation of ``cov``; no explicit
inverse is ever formed.
"""

from __future__ import annotations

import numbers
import operator
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import linalg

from .._typing import ArrayLike
from .._warnings import RankDeficiencyWarning

__all__ = [
    "absorption",
    "adjust_loco",
    "adjust_pap",
    "bladen_cov",
    "bladen_loco",
    "bladen_pap",
    "conditional_variance",
    "gcm",
    "loco",
    "pap",
    "t_statistic",
    "theory",
    "vif",
]

_SCALES = ("difference", "sqrt")

# Relative tolerance of the symmetry check, as a multiple of max|cov|.
_SYMMETRY_RTOL = 1e-10

# Below this reciprocal condition number (1-norm, LAPACK estimate) the closed forms keep fewer than about
# six significant digits, and a RankDeficiencyWarning is raised.
_RCOND_WARN = 1e-10

_REFERENCE_BLADEN = (
    "K. Bladen, D. R. Cutler and A. Wisler, \"Mathematical Theory of Collinearity Effects on Machine "
    "Learning Variable Importance Measures\", arXiv:2510.00557, 2025."
)


# ----------------------------------------------------------------------------------------------------------
# Input validation: one named step per kind of argument.
# ----------------------------------------------------------------------------------------------------------


def _as_real_array(value, name) -> np.ndarray:
    """Return ``value`` as a float ndarray, or raise TypeError naming ``name``."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr.astype(float, copy=False)


def _validate_beta(beta) -> np.ndarray:
    beta = _as_real_array(beta, "beta")
    if beta.ndim != 1:
        raise ValueError(f"beta must be 1-D, got an array of shape {beta.shape}")
    if beta.size == 0:
        raise ValueError("beta must contain at least one coefficient")
    if not np.all(np.isfinite(beta)):
        raise ValueError("beta must be finite (no NaN or inf)")
    return beta


def _validate_cov(cov, n_features=None) -> np.ndarray:
    """Check ``cov`` (2-D, square, finite, symmetric); return its symmetrised float copy."""
    cov = _as_real_array(cov, "cov")
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"cov must be a square 2-D array, got an array of shape {cov.shape}")
    if n_features is not None and cov.shape[0] != n_features:
        raise ValueError(
            f"cov must have shape ({n_features}, {n_features}) to match beta, got {cov.shape}"
        )
    if cov.shape[0] == 0:
        raise ValueError("cov must have at least one row and column")
    if not np.all(np.isfinite(cov)):
        raise ValueError("cov must be finite (no NaN or inf)")
    scale = np.max(np.abs(cov))
    asymmetry = np.max(np.abs(cov - cov.T))
    if asymmetry > _SYMMETRY_RTOL * scale:
        raise ValueError(
            f"cov must be symmetric; max|cov - cov.T| = {asymmetry:.3g} exceeds "
            f"{_SYMMETRY_RTOL:g} * max|cov|"
        )
    return 0.5 * (cov + cov.T)


def _precision_diagonal(cov, stacklevel):
    """Diagonal of ``inv(cov)`` from a Cholesky factor ``cov = L L^T``.

    ``inv(cov) = L^{-T} L^{-1}``, so ``inv(cov)[j, j]`` is the squared norm of column j of ``L^{-1}``.
    ``stacklevel`` is the warnings stack level that points at the user's call.
    """
    try:
        lower = linalg.cholesky(cov, lower=True, check_finite=False)
    except linalg.LinAlgError:
        raise ValueError("cov must be positive definite (its Cholesky factorisation failed)") from None
    anorm = np.max(np.sum(np.abs(cov), axis=0))
    rcond, info = linalg.lapack.dpocon(lower, anorm, uplo="L")
    if info == 0 and rcond < _RCOND_WARN:
        warnings.warn(
            f"cov is nearly singular (reciprocal condition number {rcond:.2g}); the closed forms "
            "that involve inv(cov) (loco, gcm, vif, conditional_variance) lose accuracy",
            RankDeficiencyWarning,
            stacklevel=stacklevel,
        )
    inv_lower = linalg.solve_triangular(
        lower, np.eye(cov.shape[0]), lower=True, check_finite=False
    )
    return np.einsum("ij,ij->j", inv_lower, inv_lower)


def _validate_scale(scale):
    if not isinstance(scale, str) or scale not in _SCALES:
        raise ValueError(f"scale must be one of {_SCALES}, got {scale!r}")
    return scale


def _validate_integer(value, name, minimum):
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def _validate_delta(delta) -> np.ndarray:
    delta = _as_real_array(delta, "delta")
    if not np.all(np.isfinite(delta)):
        raise ValueError("delta must be finite (no NaN or inf)")
    if np.any((delta < 0.0) | (delta >= 1.0)):
        raise ValueError(
            "delta must lie in [0, 1); at delta = 1 the matrix A = delta*J + (1 - delta)*I is singular"
        )
    return delta


def _validate_finite(value, name) -> np.ndarray:
    value = _as_real_array(value, name)
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return value


def _validate_nonnegative(value, name) -> np.ndarray:
    value = _validate_finite(value, name)
    if np.any(value < 0):
        raise ValueError(f"{name} must be non-negative (an importance on the sqrt scale)")
    return value


def _validate_positive_scalar(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def _scalar_or_array(arr):
    """Return a Python float for a 0-d result, the ndarray otherwise."""
    return float(arr) if arr.ndim == 0 else arr


# ----------------------------------------------------------------------------------------------------------
# General covariance.
# ----------------------------------------------------------------------------------------------------------


def conditional_variance(cov: ArrayLike) -> np.ndarray:
    """Conditional variance of each feature given all the others, for Gaussian features.

    Parameters
    ----------
    cov : array_like of shape (p, p)
        Covariance matrix of the features; symmetric positive definite.

    Returns
    -------
    ndarray of shape (p,)
        ``Var(x_j | x_{-j}) = 1 / inv(cov)[j, j]``.

    Notes
    -----
    For any distribution this is the residual variance of the population linear regression of ``x_j`` on
    ``x_{-j}``, ``cov[j, j] - cov[j, -j] inv(cov[-j, -j]) cov[-j, j]``; for Gaussian features it is also the
    conditional variance. The diagonal of ``inv(cov)`` comes from a Cholesky factorisation.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025.

    Examples
    --------
    >>> from vimp.linear import conditional_variance
    >>> conditional_variance([[1.0, 0.5], [0.5, 1.0]])
    array([0.75, 0.75])
    """
    cov = _validate_cov(cov)
    return 1.0 / _precision_diagonal(cov, stacklevel=3)


def vif(cov: ArrayLike) -> np.ndarray:
    """Variance inflation factors.

    Parameters
    ----------
    cov : array_like of shape (p, p)
        Covariance matrix of the features; symmetric positive definite.

    Returns
    -------
    ndarray of shape (p,)
        ``VIF_j = cov[j, j] * inv(cov)[j, j] = Var(x_j) / Var(x_j | x_{-j}) = 1 / (1 - R_j^2)``, where
        ``R_j^2`` is the population R^2 of ``x_j`` on the other features.

    Notes
    -----
    For OLS at large n, ``PaP_j^2 / LOCO_j^2 = 2 VIF_j`` on the sqrt scale (equivalently, the ratio of the
    difference-scale importances): collinearity inflates permute-and-predict relative to LOCO.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025.

    Examples
    --------
    >>> from vimp.linear import vif
    >>> vif([[1.0, 0.5], [0.5, 1.0]])
    array([1.33333333, 1.33333333])
    """
    cov = _validate_cov(cov)
    return np.diag(cov) * _precision_diagonal(cov, stacklevel=3)


def pap(beta: ArrayLike, cov: ArrayLike, scale: Literal["difference", "sqrt"] = "difference") -> np.ndarray:
    """Population permute-and-predict (PaP) importance of each feature of a linear model.

    Parameters
    ----------
    beta : array_like of shape (p,)
        Regression coefficients of the (correctly specified, fitted at large n) linear model.
    cov : array_like of shape (p, p)
        Covariance matrix of the features; symmetric positive definite.
    scale : {"difference", "sqrt"}, default "difference"
        ``"difference"`` returns the increase in mean squared error when column j of an independent
        validation set is permuted; ``"sqrt"`` returns its square root, the scale that Bladen et al. report.

    Returns
    -------
    ndarray of shape (p,)
        ``2 beta_j^2 cov[j, j]`` (difference scale) or ``|beta_j| sqrt(2 cov[j, j])`` (sqrt scale).

    Notes
    -----
    Permuting column j replaces ``x_j`` by an independent copy ``x_j'`` with the same marginal law, so the
    prediction error grows by ``beta_j (x_j - x_j')``, whose second moment is ``2 beta_j^2 Var(x_j)``. The
    estimand depends on ``cov`` only through its diagonal and holds for any feature distribution.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025.

    Examples
    --------
    >>> from vimp.linear import pap
    >>> pap([1.0, -2.0], [[1.0, 0.5], [0.5, 1.0]])
    array([2., 8.])
    >>> pap([1.0, -2.0], [[1.0, 0.5], [0.5, 1.0]], scale="sqrt")
    array([1.41421356, 2.82842712])
    """
    scale = _validate_scale(scale)
    beta = _validate_beta(beta)
    cov = _validate_cov(cov, beta.size)
    _precision_diagonal(cov, stacklevel=3)  # positive-definiteness check, one contract for every function
    variance = np.diag(cov)
    if scale == "difference":
        return 2.0 * beta**2 * variance
    return np.abs(beta) * np.sqrt(2.0 * variance)


def loco(beta: ArrayLike, cov: ArrayLike, scale: Literal["difference", "sqrt"] = "difference") -> np.ndarray:
    """Population leave-one-covariate-out (LOCO) importance of each feature of a linear model.

    Parameters
    ----------
    beta : array_like of shape (p,)
        Regression coefficients of the linear model.
    cov : array_like of shape (p, p)
        Covariance matrix of the features; symmetric positive definite.
    scale : {"difference", "sqrt"}, default "difference"
        ``"difference"`` returns the increase in mean squared error when feature j is removed and the model
        refitted; ``"sqrt"`` returns its square root, the scale that Bladen et al. report.

    Returns
    -------
    ndarray of shape (p,)
        ``beta_j^2 / inv(cov)[j, j] = beta_j^2 Var(x_j | x_{-j})`` (difference scale) or
        ``|beta_j| / sqrt(inv(cov)[j, j])`` (sqrt scale).

    Notes
    -----
    Without ``x_j`` the best linear predictor replaces ``beta_j x_j`` by ``beta_j`` times the population
    regression of ``x_j`` on ``x_{-j}``; the extra error is ``beta_j`` times the regression residual, whose
    variance is ``1 / inv(cov)[j, j]``. This is LOCO for the best linear refit for any feature law, and
    ``beta_j^2 Var(x_j | x_{-j})`` exactly when the features are Gaussian. The same value is reached by the
    paper's permute-and-refit variant at large n. The diagonal of ``inv(cov)`` comes from a Cholesky
    factorisation.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025.

    Examples
    --------
    >>> from vimp.linear import loco
    >>> loco([1.0, -2.0], [[1.0, 0.5], [0.5, 1.0]])
    array([0.75, 3.  ])
    >>> loco([1.0, -2.0], [[1.0, 0.5], [0.5, 1.0]], scale="sqrt")
    array([0.8660254 , 1.73205081])
    """
    scale = _validate_scale(scale)
    beta = _validate_beta(beta)
    cov = _validate_cov(cov, beta.size)
    conditional_var = 1.0 / _precision_diagonal(cov, stacklevel=3)
    if scale == "difference":
        return beta**2 * conditional_var
    return np.abs(beta) * np.sqrt(conditional_var)


def gcm(beta: ArrayLike, cov: ArrayLike) -> np.ndarray:
    """Population generalised covariance measure (GCM) of each feature of a linear model.

    Parameters
    ----------
    beta : array_like of shape (p,)
        Regression coefficients of the linear model.
    cov : array_like of shape (p, p)
        Covariance matrix of the features; symmetric positive definite.

    Returns
    -------
    ndarray of shape (p,)
        ``E[Cov(x_j, y | x_{-j})] = beta_j / inv(cov)[j, j] = beta_j Var(x_j | x_{-j})``; signed, and linear
        in ``beta_j`` (LOCO is quadratic).

    Notes
    -----
    With ``xi = x_j - E[x_j | x_{-j}]`` and ``delta = E[y | x] - E[y | x_{-j}] = beta_j xi``, the GCM estimand
    is ``E[xi delta] = beta_j E[xi^2]``. The formula assumes Gaussian features (linear conditional means);
    for other laws it is the estimand with linear nuisance regressions.

    References
    ----------
    .. [1] R. D. Shah and J. Peters, "The hardness of conditional independence testing and the generalised
       covariance measure", Annals of Statistics 48(3), 2020.
    .. [2] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025.

    Examples
    --------
    >>> from vimp.linear import gcm
    >>> gcm([1.0, -2.0], [[1.0, 0.5], [0.5, 1.0]])
    array([ 0.75, -1.5 ])
    """
    beta = _validate_beta(beta)
    cov = _validate_cov(cov, beta.size)
    return beta / _precision_diagonal(cov, stacklevel=3)


# ----------------------------------------------------------------------------------------------------------
# Bladen, Cutler & Wisler's equicorrelated design.
# ----------------------------------------------------------------------------------------------------------


def _absorption_values(p, delta):
    """The paper's c, for validated ``p`` and ``delta``."""
    numerator = 2.0 * delta + (p - 2) * delta**2
    denominator = 1.0 - 4.0 * delta + 2.0 * p * delta + (p**2 - 3 * p + 3) * delta**2
    return numerator / denominator


def _validate_coefficient(beta, delta):
    """Check the scalar-or-array coefficient of the Bladen functions and that it broadcasts with delta."""
    beta = _validate_finite(beta, "beta")
    try:
        np.broadcast_shapes(beta.shape, delta.shape)
    except ValueError:
        raise ValueError(
            f"beta (shape {beta.shape}) must broadcast against delta (shape {delta.shape})"
        ) from None
    return beta


def bladen_cov(p: int, delta: ArrayLike) -> np.ndarray:
    """Feature covariance of the design of Bladen, Cutler & Wisler (2025).

    Parameters
    ----------
    p : int
        Number of features, at least 2.
    delta : float
        Mixing parameter in [0, 1).

    Returns
    -------
    ndarray of shape (p, p)
        ``Sigma = A^T A = A^2`` with ``A = delta J + (1 - delta) I`` (``J`` all ones), the covariance of
        ``x = A^T z`` for ``z ~ N(0, I)``.

    Notes
    -----
    ``Var(x_j) = 1 + (p - 1) delta^2`` and ``Cov(x_i, x_j) = 2 delta + (p - 2) delta^2``. ``A`` has
    eigenvalues ``1 - delta`` (multiplicity ``p - 1``) and ``1 + (p - 1) delta``, so ``Sigma`` is singular at
    ``delta = 1``, which is therefore excluded.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025.

    Examples
    --------
    >>> from vimp.linear import bladen_cov
    >>> bladen_cov(3, 0.5)
    array([[1.5 , 1.25, 1.25],
           [1.25, 1.5 , 1.25],
           [1.25, 1.25, 1.5 ]])
    """
    p = _validate_integer(p, "p", 2)
    delta = _validate_delta(delta)
    if delta.ndim != 0:
        raise ValueError(f"delta must be a scalar for bladen_cov, got an array of shape {delta.shape}")
    delta = float(delta)
    variance = 1.0 + (p - 1) * delta**2
    covariance = 2.0 * delta + (p - 2) * delta**2
    return np.full((p, p), covariance) + (variance - covariance) * np.eye(p)


def absorption(p: int, delta: ArrayLike) -> float | np.ndarray:
    """Coefficient that each remaining feature absorbs when one feature is removed (Bladen design).

    Parameters
    ----------
    p : int
        Number of features, at least 2.
    delta : float or array_like
        Mixing parameter(s) in [0, 1); vectorised.

    Returns
    -------
    float or ndarray
        ``c = (2 delta + (p - 2) delta^2) / (1 - 4 delta + 2 p delta + p^2 delta^2 - 3 p delta^2 + 3 delta^2)``,
        a float for scalar ``delta``, an array of ``delta``'s shape otherwise.

    Notes
    -----
    With ``v = Var(x_j)`` and ``r = Cov(x_i, x_j)`` (see :func:`bladen_cov`), the denominator equals
    ``v + (p - 2) r``, so ``c = r / (v + (p - 2) r)``: the population OLS coefficient of ``x_1`` on each
    other feature when ``x_1`` is dropped from an equicorrelated design. After dropping ``x_1`` from
    ``y = sum_k beta x_k`` (all coefficients equal) each remaining coefficient becomes ``beta (1 + c)``.
    Bladen et al. state ``c`` as a conjecture; the identity above proves it.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025.

    Examples
    --------
    >>> from vimp.linear import absorption
    >>> absorption(6, 0.5) == 8 / 41
    True
    >>> absorption(3, [0.0, 0.5])
    array([0.        , 0.45454545])
    """
    p = _validate_integer(p, "p", 2)
    delta = _validate_delta(delta)
    return _scalar_or_array(_absorption_values(p, delta))


def bladen_pap(p: int, delta: ArrayLike, beta: ArrayLike = 1.0) -> float | np.ndarray:
    """Permute-and-predict importance (sqrt scale) in the design of Bladen, Cutler & Wisler (2025).

    Parameters
    ----------
    p : int
        Number of features, at least 2.
    delta : float or array_like
        Mixing parameter(s) in [0, 1); vectorised.
    beta : float or array_like, default 1.0
        Coefficient of the measured feature (the paper uses 1); broadcast against ``delta``.

    Returns
    -------
    float or ndarray
        ``|beta| sqrt(2 (1 + (p - 1) delta^2))``; a float when both ``delta`` and ``beta`` are scalars.

    Notes
    -----
    The special case of :func:`pap` (``scale="sqrt"``) with ``cov = bladen_cov(p, delta)``. Only the measured
    feature's coefficient enters. The paper writes ``beta`` for a positive coefficient; the magnitude is used
    here because the sqrt-scale importance is non-negative.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025.

    Examples
    --------
    >>> from vimp.linear import bladen_pap
    >>> round(bladen_pap(6, 0.5), 6)
    2.12132
    >>> bladen_pap(3, [0.0, 0.5])
    array([1.41421356, 1.73205081])
    """
    p = _validate_integer(p, "p", 2)
    delta = _validate_delta(delta)
    beta = _validate_coefficient(beta, delta)
    return _scalar_or_array(np.abs(beta) * np.sqrt(2.0 * (1.0 + (p - 1) * delta**2)))


def bladen_loco(p: int, delta: ArrayLike, beta: ArrayLike = 1.0) -> float | np.ndarray:
    """LOCO importance (sqrt scale) in the design of Bladen, Cutler & Wisler (2025).

    Parameters
    ----------
    p : int
        Number of features, at least 2.
    delta : float or array_like
        Mixing parameter(s) in [0, 1); vectorised.
    beta : float or array_like, default 1.0
        Coefficient of the measured feature (the paper uses 1); broadcast against ``delta``.

    Returns
    -------
    float or ndarray
        ``|beta| (1 - delta) sqrt(1 + c)`` with ``c = absorption(p, delta)``; a float when both ``delta`` and
        ``beta`` are scalars.

    Notes
    -----
    The paper's form, stated there as a conjecture. It equals :func:`loco` (``scale="sqrt"``) with
    ``cov = bladen_cov(p, delta)``, i.e. ``|beta| sqrt(Var(x_1 | x_{-1}))``, which the tests check over a grid
    of ``p`` and ``delta``. Only the measured feature's coefficient enters.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025.

    Examples
    --------
    >>> from vimp.linear import bladen_loco
    >>> round(bladen_loco(6, 0.5), 6)
    0.546608
    >>> bladen_loco(3, [0.0, 0.5])
    array([1.        , 0.60302269])
    """
    p = _validate_integer(p, "p", 2)
    delta = _validate_delta(delta)
    beta = _validate_coefficient(beta, delta)
    c = _absorption_values(p, delta)
    return _scalar_or_array(np.abs(beta) * (1.0 - delta) * np.sqrt(1.0 + c))


# ----------------------------------------------------------------------------------------------------------
# Finite-sample links used in the authors' code.
# ----------------------------------------------------------------------------------------------------------


def t_statistic(loco_sqrt: ArrayLike, n: int, noise_var: float, p: int | None = None) -> float | np.ndarray:
    """OLS t-statistic implied by a sqrt-scale LOCO importance.

    Parameters
    ----------
    loco_sqrt : float or array_like
        LOCO importance(s) on the sqrt scale (non-negative).
    n : int
        Sample size, at least 2.
    noise_var : float
        Noise variance ``Var(eps)``, positive.
    p : int, optional
        Number of features. When given, the finite-sample division of the authors' code is applied:
        the result is divided by ``sqrt((n - 1) / (n - p + 1))``. Requires ``n > p``.

    Returns
    -------
    float or ndarray
        ``|t_j| = loco_sqrt_j sqrt((n - 1) / noise_var)``, or ``loco_sqrt_j sqrt((n - p + 1) / noise_var)``
        when ``p`` is given; a float for scalar ``loco_sqrt``.

    Notes
    -----
    For OLS, ``RSS_{-j} - RSS = t_j^2 sigma_hat^2`` exactly, and ``RSS_{-j} - RSS`` is about
    ``n LOCO_j^2``; hence the link. A sqrt-scale LOCO carries no sign, so this is the magnitude ``|t_j|``.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025. Adjustment as in the authors' code,
       github.com/KelvynBladen/theoryVarImportance.

    Examples
    --------
    >>> from vimp.linear import t_statistic
    >>> round(t_statistic(0.5, n=101, noise_var=0.01), 6)
    50.0
    >>> round(t_statistic(0.5, n=101, noise_var=0.01, p=5), 6)
    49.244289
    """
    loco_sqrt = _validate_nonnegative(loco_sqrt, "loco_sqrt")
    n = _validate_integer(n, "n", 2)
    noise_var = _validate_positive_scalar(noise_var, "noise_var")
    if p is None:
        dof = n - 1
    else:
        p = _validate_integer(p, "p", 1)
        if n <= p:
            raise ValueError(f"n must exceed p, got n={n} and p={p}")
        dof = n - p + 1
    return _scalar_or_array(loco_sqrt * np.sqrt(dof / noise_var))


def adjust_pap(pap_sqrt: ArrayLike, n: int) -> float | np.ndarray:
    """Finite-sample adjustment of a sqrt-scale PaP closed form, as in the authors' code.

    Parameters
    ----------
    pap_sqrt : float or array_like
        Population PaP importance(s) on the sqrt scale (non-negative).
    n : int
        Size of the training (and validation) set, at least 2.

    Returns
    -------
    float or ndarray
        ``pap_sqrt (n - 1) / n``; a float for scalar input.

    Notes
    -----
    An empirical correction that Bladen et al. compare with simulation at small n; it is not an exact
    expectation.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025; code at
       github.com/KelvynBladen/theoryVarImportance.

    Examples
    --------
    >>> from vimp.linear import adjust_pap
    >>> adjust_pap(2.0, n=20)
    1.9
    """
    pap_sqrt = _validate_nonnegative(pap_sqrt, "pap_sqrt")
    n = _validate_integer(n, "n", 2)
    return _scalar_or_array(pap_sqrt * (n - 1) / n)


def adjust_loco(loco_sqrt: ArrayLike, n: int, p: int) -> float | np.ndarray:
    """Finite-sample adjustment of a sqrt-scale LOCO closed form, as in the authors' code.

    Parameters
    ----------
    loco_sqrt : float or array_like
        Population LOCO importance(s) on the sqrt scale (non-negative).
    n : int
        Size of the training (and validation) set; must exceed ``p``.
    p : int
        Number of features, at least 1.

    Returns
    -------
    float or ndarray
        ``loco_sqrt sqrt(n / (n - p))``; a float for scalar input.

    Notes
    -----
    An empirical correction that Bladen et al. compare with simulation at small n; it is not an exact
    expectation.

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025; code at
       github.com/KelvynBladen/theoryVarImportance.

    Examples
    --------
    >>> from vimp.linear import adjust_loco
    >>> adjust_loco(1.0, n=20, p=4)
    1.118033988749895
    """
    loco_sqrt = _validate_nonnegative(loco_sqrt, "loco_sqrt")
    n = _validate_integer(n, "n", 2)
    p = _validate_integer(p, "p", 1)
    if n <= p:
        raise ValueError(f"n must exceed p, got n={n} and p={p}")
    return _scalar_or_array(loco_sqrt * np.sqrt(n / (n - p)))


# ----------------------------------------------------------------------------------------------------------
# Everything at once.
# ----------------------------------------------------------------------------------------------------------


def _validate_feature_names(feature_names, n_features):
    if feature_names is None:
        return [f"x{j}" for j in range(n_features)]
    if isinstance(feature_names, str):
        raise TypeError("feature_names must be a sequence of names, not a single string")
    names = [str(name) for name in feature_names]
    if len(names) != n_features:
        raise ValueError(f"feature_names must have {n_features} entries to match beta, got {len(names)}")
    if len(set(names)) != len(names):
        raise ValueError("feature_names must be unique")
    return names


def theory(beta: ArrayLike, cov: ArrayLike, noise_sd: float | None = None,
           feature_names: Sequence[str] | None = None) -> pd.DataFrame:
    """All population importances of a linear model in one table.

    Parameters
    ----------
    beta : array_like of shape (p,)
        Regression coefficients of the linear model.
    cov : array_like of shape (p, p)
        Covariance matrix of the features; symmetric positive definite.
    noise_sd : float, optional
        Noise standard deviation ``sigma``, positive. When given, signal-to-noise columns are added.
    feature_names : sequence of str, optional
        Row labels; default ``"x0", "x1", ...``.

    Returns
    -------
    pandas.DataFrame
        One row per feature (index named ``"feature"``) with columns

        - ``pap``, ``loco``: difference-scale importances (increase in MSE), see :func:`pap`, :func:`loco`;
        - ``pap_sqrt``, ``loco_sqrt``: their square roots (the scale of Bladen et al.);
        - ``gcm``: ``beta_j Var(x_j | x_{-j})``, see :func:`gcm`;
        - ``vif``: variance inflation factor;
        - ``var``: ``Var(x_j)``; ``conditional_var``: ``Var(x_j | x_{-j})``;
        - ``pap_loco_ratio``: ``pap_sqrt^2 / loco_sqrt^2 = 2 vif`` (NaN where ``beta_j = 0``);

        and, when ``noise_sd`` is given,

        - ``snr``: ``s_j = beta_j^2 Var(x_j | x_{-j}) / sigma^2``;
        - ``r2_drop``: drop in population R^2 when feature j is removed,
          ``beta_j^2 Var(x_j | x_{-j}) / (beta^T cov beta + sigma^2)``;
        - ``are_gcm_loco``: asymptotic relative efficiency of GCM to LOCO, ``(2 s_j + 4) / (2 s_j + 1)``.

    Notes
    -----
    ``pap_loco_ratio`` is computed as ``2 vif`` (the identity holds whenever ``beta_j != 0``), so that it
    stays exact. The efficiency column is the linear-Gaussian result of THEORY.md, section 2 (derived for
    Gaussian features; for a residual ``xi`` with kurtosis ``kappa`` replace 2 by ``kappa - 1``).

    References
    ----------
    .. [1] K. Bladen, D. R. Cutler and A. Wisler, "Mathematical Theory of Collinearity Effects on Machine
       Learning Variable Importance Measures", arXiv:2510.00557, 2025.
    .. [2] C. Zheng and G. Raskutti, "Comparing Model-agnostic Feature Selection Methods through Relative
       Efficiency", arXiv:2508.14268, 2025.

    Examples
    --------
    >>> from vimp.linear import theory
    >>> table = theory([1.0, -2.0], [[1.0, 0.5], [0.5, 1.0]], noise_sd=0.5, feature_names=["a", "b"])
    >>> table[["pap", "loco", "gcm", "vif", "snr"]]  # doctest: +NORMALIZE_WHITESPACE
             pap  loco   gcm       vif   snr
    feature
    a        2.0  0.75  0.75  1.333333   3.0
    b        8.0  3.00 -1.50  1.333333  12.0
    """
    beta = _validate_beta(beta)
    cov = _validate_cov(cov, beta.size)
    names = _validate_feature_names(feature_names, beta.size)
    if noise_sd is not None:
        noise_sd = _validate_positive_scalar(noise_sd, "noise_sd")
    precision_diagonal = _precision_diagonal(cov, stacklevel=3)

    variance = np.diag(cov).copy()
    conditional_var = 1.0 / precision_diagonal
    pap_difference = 2.0 * beta**2 * variance
    loco_difference = beta**2 * conditional_var
    vif_values = variance * precision_diagonal
    columns = {
        "pap": pap_difference,
        "loco": loco_difference,
        "pap_sqrt": np.abs(beta) * np.sqrt(2.0 * variance),
        "loco_sqrt": np.abs(beta) * np.sqrt(conditional_var),
        "gcm": beta * conditional_var,
        "vif": vif_values,
        "var": variance,
        "conditional_var": conditional_var,
        "pap_loco_ratio": np.where(beta != 0.0, 2.0 * vif_values, np.nan),
    }
    if noise_sd is not None:
        noise_var = noise_sd**2
        snr = loco_difference / noise_var
        columns["snr"] = snr
        columns["r2_drop"] = loco_difference / (beta @ cov @ beta + noise_var)
        columns["are_gcm_loco"] = (2.0 * snr + 4.0) / (2.0 * snr + 1.0)
    return pd.DataFrame(columns, index=pd.Index(names, name="feature"))
