"""Relative efficiency of GCM and LOCO, in theory and by Monte Carlo (Zheng & Raskutti, 2025).

Both importance measures of one feature :math:`x_j` are means of per-observation terms built from the
same two regressions on the other features, so their efficiency can be compared through the squared
coefficient of variation (variance over squared mean) of each estimator: the asymptotic relative
efficiency (ARE) of GCM against LOCO is :math:`\\mathrm{CV}^2_{\\mathrm{loco}} / \\mathrm{CV}^2_{\\mathrm{gcm}}`,
the factor by which LOCO needs more rows for the same relative precision. Which scale each method is
measured on changes the answer, so the scale is an explicit argument (see :func:`relative_efficiency`).

The theory reduces every supported model to seven population moments of
:math:`\\xi = x_j - E[x_j | x_{-j}]` and :math:`\\delta = \\mu(x) - \\mu_{-j}(x_{-j})` (``_Moments``),
computed in closed form (linear Gaussian model), by adaptive quadrature or Gauss-Hermite quadrature
(additive models) and by two-dimensional Gauss-Hermite quadrature (single-index models).
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from scipy import integrate

from .._split import seed_sequence
from .._validation import check_choice, check_int, check_level
from .._typing import ArrayLike, Estimator, RandomState
from .._warnings import VimpWarning, warn

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.axes import Axes

_ScaleChoice = Literal["native", "matched", "testing"]
_LocoTest = Literal["split", "paired"]

__all__ = [
    "EfficiencyCurve",
    "EfficiencyResult",
    "EfficiencyWarning",
    "are_additive",
    "are_linear",
    "are_single_index",
    "efficiency_curve",
    "relative_efficiency",
    "theoretical_efficiency",
]

#: The scales of :func:`relative_efficiency`.
SCALES = ("native", "matched", "testing")
#: The methods whose efficiency can be compared.
METHODS = ("gcm", "loco")
#: LOCO's test on ``scale="testing"``: vimp's default sample-split test, or the paired z test.
LOCO_TESTS = ("split", "paired")
#: Bootstrap resamples of the replicates behind the Monte Carlo interval.
N_BOOTSTRAP = 2000
#: Fewest replicates accepted (a variance and a bootstrap from fewer would mean little).
MIN_REPS = 10
#: Gauss-Hermite nodes per dimension of the quadratures (the error estimate doubles them).
QUADRATURE_NODES = 96
#: Gauss-Hermite nodes of the conditional means in the Monte Carlo oracle, computed on ``ORACLE_GRID``
#: points within ``ORACLE_SPAN`` standard deviations of their argument and interpolated (cubic spline).
ORACLE_NODES = 200
ORACLE_GRID = 2001
ORACLE_SPAN = 12.0
#: A quadrature whose relative change when the nodes are doubled exceeds this is reported (warning).
QUADRATURE_TOLERANCE = 1e-6
#: An estimand below this fraction of its natural size is zero (rounding noise of the quadrature).
ZERO_TOLERANCE = 1e-9

_BOOTSTRAP_CHUNK = 100


class EfficiencyWarning(VimpWarning):
    """A relative efficiency is not finite (an estimand is zero) or its quadrature is inaccurate."""


# ------------------------------------------------------------------------------------------ moments
@dataclass(frozen=True)
class _Moments:
    """Population moments of ``xi = x_j - E[x_j | x_-j]`` and ``delta = mu(x) - mu_-j(x_-j)``.

    With Gaussian noise of variance ``noise_var``, every mean and asymptotic variance of
    :func:`_method_theory` is a function of these. ``how`` says how they were computed and ``error``
    is the estimated relative quadrature error of the relative efficiency (0 for a closed form).
    """

    xi_delta: float
    xi2_delta2: float
    xi2: float
    xi4: float
    xi3_delta: float
    delta2: float
    delta4: float
    noise_var: float
    how: str = "closed form"


def _method_theory(m, method, scale, loco_test):
    """``(mean, n * variance)`` of ``method``'s estimator on ``scale`` (one row per observation).

    - GCM, covariance scale: the mean product :math:`\\bar R`, :math:`R = \\xi(\\delta + \\varepsilon)`:
      mean :math:`a = E[\\xi\\delta]`, :math:`n\\,\\mathrm{Var} = E[\\xi^2\\delta^2] - a^2 + \\sigma^2 E[\\xi^2]`.
    - GCM, LOCO's scale: :math:`\\bar R^2 / \\overline{\\xi^2}`, mean :math:`a^2/b` with :math:`b = E[\\xi^2]`;
      influence function :math:`2c(R - a) - c^2(\\xi^2 - b)` with :math:`c = a/b` (the delta method of
      ``GCM(scale="loco")``), so :math:`n\\,\\mathrm{Var} = 4c^2\\mathrm{Var}(R) + c^4\\mathrm{Var}(\\xi^2)
      - 4c^3\\mathrm{Cov}(R, \\xi^2)` with :math:`\\mathrm{Cov}(R, \\xi^2) = E[\\xi^3\\delta] - ab`.
    - LOCO, paired: the mean of :math:`D = (\\delta+\\varepsilon)^2 - \\varepsilon^2 = \\delta^2 + 2\\delta
      \\varepsilon`: mean :math:`E[\\delta^2]`, :math:`n\\,\\mathrm{Var} = \\mathrm{Var}(\\delta^2) + 4\\sigma^2
      E[\\delta^2]`.
    - LOCO, split test: the reduced model's mean loss on one half minus the full model's on the other:
      :math:`n\\,\\mathrm{Var} = 2(\\mathrm{Var}(\\varepsilon^2) + \\mathrm{Var}((\\delta+\\varepsilon)^2))`, with
      Gaussian noise :math:`\\mathrm{Var}(\\varepsilon^2) = 2\\sigma^4` and
      :math:`\\mathrm{Var}((\\delta+\\varepsilon)^2) = E\\delta^4 + 6\\sigma^2E\\delta^2 + 3\\sigma^4 -
      (E\\delta^2 + \\sigma^2)^2`.
    """
    s2 = m.noise_var
    if method == "gcm":
        a, b = m.xi_delta, m.xi2
        var_r = m.xi2_delta2 - a**2 + s2 * b
        if scale != "matched":
            return a, var_r
        c = a / b
        var_xi2 = m.xi4 - b**2
        cov = m.xi3_delta - a * b
        return a * c, 4 * c**2 * var_r + c**4 * var_xi2 - 4 * c**3 * cov
    d2 = m.delta2
    if scale == "testing" and loco_test == "split":
        var_full = 2 * s2**2
        var_reduced = m.delta4 + 6 * s2 * d2 + 3 * s2**2 - (d2 + s2) ** 2
        return d2, 2 * (var_full + var_reduced)
    return d2, m.delta4 - d2**2 + 4 * s2 * d2


@dataclass(frozen=True)
class _Theory:
    are: float
    mean: np.ndarray
    n_variance: np.ndarray
    how: str


def _theory_from_moments(m, methods, scale, loco_test):
    """The ARE of ``methods[0]`` against ``methods[1]``, with each method's mean and ``n * variance``.

    A zero GCM estimand (no conditional covariance although the feature matters, e.g. an even function
    of a symmetric feature) makes GCM's CV infinite; a feature without effect makes both estimands zero
    and the efficiency undefined. Both are warned about (:class:`EfficiencyWarning`).
    """
    size_gcm = np.sqrt(max(m.xi2, 0.0) * max(m.delta2, 0.0))
    means, nvars = [], []
    for method in methods:
        mean, nvar = _method_theory(m, method, scale, loco_test)
        means.append(mean)
        nvars.append(nvar)
    means, nvars = np.array(means, dtype=float), np.array(nvars, dtype=float)
    loco_zero = not m.delta2 > ZERO_TOLERANCE * (m.delta2 + m.noise_var)
    gcm_zero = not abs(m.xi_delta) > ZERO_TOLERANCE * size_gcm
    if loco_zero:
        warn("the feature has no effect (E[delta^2] = 0): both estimands are zero and their relative "
             "efficiency is undefined (NaN)", EfficiencyWarning)
        return _Theory(np.nan, np.zeros(2), nvars, m.how)
    cv2 = np.empty(2)
    for k, method in enumerate(methods):
        if method == "gcm" and gcm_zero:
            means[k] = 0.0
            cv2[k] = np.inf
        else:
            cv2[k] = nvars[k] / means[k] ** 2
    if gcm_zero:
        warn("GCM's estimand E[xi delta] is zero although the feature matters (E[delta^2] > 0): GCM has "
             "no power against this alternative (e.g. an even function of a symmetric feature), its CV is "
             "infinite and the relative efficiency is " + ("0" if methods[0] == "gcm" else "inf"),
             EfficiencyWarning)
    with np.errstate(divide="ignore", invalid="ignore"):
        are = cv2[1] / cv2[0]
    return _Theory(float(are), means, nvars, m.how)


def _check_noise(noise_sd):
    if isinstance(noise_sd, bool) or not isinstance(noise_sd, numbers.Real) or not np.isfinite(noise_sd) \
            or noise_sd <= 0:
        raise ValueError(f"noise_sd must be a positive finite number; got {noise_sd!r}")
    return float(noise_sd)


def _check_cov(cov, p, name="cov"):
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (p, p) or not np.all(np.isfinite(cov)):
        raise ValueError(f"{name} must be a finite {p} x {p} matrix; got shape {cov.shape}")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite") from None
    return cov


def _check_position(feature, p, names=None):
    """The column position of ``feature`` (a position, or a name among ``names``)."""
    if isinstance(feature, str):
        if names is not None and feature in list(names):
            return list(names).index(feature)
        known = [] if names is None else list(names)
        raise ValueError(f"feature {feature!r} is not a feature name; expected one of {known} or a position")
    if isinstance(feature, bool) or not isinstance(feature, numbers.Integral):
        raise TypeError(f"feature must be a column position (int) or a feature name; got {feature!r}")
    if not 0 <= feature < p:
        raise ValueError(f"feature must be a position in 0..{p - 1}; got {feature}")
    return int(feature)


def _conditional(cov, j):
    """``(gamma, v)``: ``E[x_j | x_-j] = x_-j @ gamma`` and ``v = Var(x_j | x_-j)`` for x ~ N(0, cov)."""
    rest = np.delete(np.arange(cov.shape[0]), j)
    if rest.size == 0:
        return np.zeros(0), float(cov[j, j])
    s_rr = cov[np.ix_(rest, rest)]
    s_rj = cov[rest, j]
    gamma = np.linalg.solve(s_rr, s_rj)
    return gamma, float(cov[j, j] - s_rj @ gamma)


def _linear_moments(cov, beta, noise_sd, j, kurtosis=3.0):
    gamma, v = _conditional(cov, j)
    b = float(beta[j])
    k = float(kurtosis)
    return _Moments(xi_delta=b * v, xi2_delta2=k * b**2 * v**2, xi2=v, xi4=k * v**2, xi3_delta=k * b * v**2,
                    delta2=b**2 * v, delta4=k * b**4 * v**2, noise_var=noise_sd**2)


def are_linear(cov: ArrayLike, beta: ArrayLike, noise_sd: float, feature: int, kurtosis: float = 3, *,
               scale: _ScaleChoice = "native", loco_test: _LocoTest = "split") -> float:
    """Asymptotic relative efficiency of GCM against LOCO in the linear model, in closed form.

    Parameters
    ----------
    cov : array-like of shape (p, p)
        Covariance of the features (mean zero).
    beta : array-like of shape (p,)
        Coefficients; ``y = x @ beta + eps``, ``eps ~ N(0, noise_sd^2)`` independent of x.
    noise_sd : float
    feature : int
        Position of the feature.
    kurtosis : float, default=3
        Kurtosis :math:`\\kappa = E\\xi^4 / (E\\xi^2)^2` of :math:`\\xi = x_j - E[x_j | x_{-j}]` (3 for
        Gaussian features). With non-Gaussian features the conditional mean is taken to be linear.
    scale : {"native", "matched", "testing"}, default="native"
        See :func:`relative_efficiency`.
    loco_test : {"split", "paired"}, default="split"
        LOCO's test on ``scale="testing"``.

    Returns
    -------
    float
        :math:`\\mathrm{CV}^2_{\\mathrm{loco}} / \\mathrm{CV}^2_{\\mathrm{gcm}}`; NaN (with a warning) when
        ``beta[feature] == 0``.

    Notes
    -----
    With :math:`\\sigma_\\xi^2 = \\mathrm{Var}(x_j | x_{-j}) = 1 / (\\Sigma^{-1})_{jj}`, :math:`\\delta =
    \\beta_j \\xi` and the signal-to-noise ratio :math:`s = \\beta_j^2 \\sigma_\\xi^2 / \\sigma^2`
    (derived, THEORY.md section 2):

    - GCM: :math:`\\psi = \\beta_j \\sigma_\\xi^2`, :math:`n\\,\\mathrm{Var} = \\beta_j^2 \\mathrm{Var}(\\xi^2)
      + \\sigma^2 \\sigma_\\xi^2`, so :math:`n\\,\\mathrm{CV}^2_{\\mathrm{gcm}} = (\\kappa - 1) + 1/s`;
    - LOCO: :math:`\\psi = \\beta_j^2 \\sigma_\\xi^2`, :math:`n\\,\\mathrm{Var} = \\beta_j^4 \\mathrm{Var}(\\xi^2)
      + 4 \\sigma^2 \\beta_j^2 \\sigma_\\xi^2`, so :math:`n\\,\\mathrm{CV}^2_{\\mathrm{loco}} = (\\kappa - 1) + 4/s`;
    - ``"native"``: :math:`\\mathrm{ARE} = ((\\kappa - 1)s + 4) / ((\\kappa - 1)s + 1)`, which is
      :math:`(2s + 4)/(2s + 1) \\in (1, 4)` for Gaussian features;
    - ``"matched"``: GCM on LOCO's scale has the influence function :math:`\\beta_j^2(\\xi^2 - \\sigma_\\xi^2)
      + 2\\beta_j\\xi\\varepsilon`, LOCO's own: the ARE is exactly 1;
    - ``"testing"`` with the split test (Gaussian features): :math:`n\\,\\mathrm{CV}^2_{\\mathrm{split}} =
      4(1 + (1 + s)^2)/s^2`, so :math:`\\mathrm{ARE} = 4(1 + (1+s)^2) / (s(2s + 1))`; with the paired test
      it equals the native ARE.

    References
    ----------
    Zheng, C. & Raskutti, G. (2025). Comparing model-agnostic feature selection methods through relative
    efficiency. arXiv:2508.14268.

    Examples
    --------
    >>> import numpy as np
    >>> cov = 0.5 * np.ones((5, 5)) + 0.5 * np.eye(5)  # equicorrelated, rho = 0.5: Var(x_1 | rest) = 0.6
    >>> round(are_linear(cov, [0.5, 1, 1, 1, 1], 1.0, 0), 4)  # s = 0.15: (2s + 4) / (2s + 1)
    3.3077
    """
    cov, beta, noise_sd, j = _linear_params(cov, beta, noise_sd, feature)
    if isinstance(kurtosis, bool) or not isinstance(kurtosis, numbers.Real) or not kurtosis >= 1:
        raise ValueError(f"kurtosis must be a number >= 1 (E[xi^4] >= E[xi^2]^2); got {kurtosis!r}")
    scale, loco_test = _check_scale(scale, loco_test)
    m = _linear_moments(cov, beta, noise_sd, j, kurtosis)
    return _theory_from_moments(m, METHODS, scale, loco_test).are


def _linear_params(cov, beta, noise_sd, feature):
    beta = np.asarray(beta, dtype=float).ravel()
    p = beta.size
    if p == 0 or not np.all(np.isfinite(beta)):
        raise ValueError("beta must be a non-empty array of finite coefficients")
    cov = _check_cov(cov, p)
    return cov, beta, _check_noise(noise_sd), _check_position(feature, p)


def _check_scale(scale, loco_test):
    check_choice(scale, "scale", SCALES)
    check_choice(loco_test, "loco_test", LOCO_TESTS)
    return scale, loco_test


def _scalar_function(f):
    """``f`` called on one number (the functions are vectorised: given and returning arrays)."""
    def one(x):
        value = np.asarray(f(np.array([x], dtype=float)), dtype=float).ravel()
        return float(value[0])
    return one


def _quad_normal(g, sd):
    """``E[g(Z sd)]`` for ``Z ~ N(0, 1)`` by adaptive quadrature, and its absolute error estimate."""
    norm = 1.0 / np.sqrt(2.0 * np.pi)
    value, error = integrate.quad(lambda z: g(sd * z) * norm * np.exp(-0.5 * z * z), -np.inf, np.inf,
                                  limit=400, epsabs=1e-13, epsrel=1e-12)
    return value, error


def _additive_moments_1d(f, sd, noise_sd):
    """Moments for an additive component ``f`` of a feature ``x_j ~ N(0, sd^2)`` independent of the rest."""
    f1 = _scalar_function(f)
    centre, err0 = _quad_normal(f1, sd)
    parts = {}
    errors = [err0]
    integrands = {
        "xi_delta": lambda x: x * (f1(x) - centre),
        "xi2_delta2": lambda x: x**2 * (f1(x) - centre) ** 2,
        "xi3_delta": lambda x: x**3 * (f1(x) - centre),
        "delta2": lambda x: (f1(x) - centre) ** 2,
        "delta4": lambda x: (f1(x) - centre) ** 4,
    }
    for key, g in integrands.items():
        parts[key], err = _quad_normal(g, sd)
        errors.append(err / max(abs(parts[key]), 1e-300))
    m = _Moments(xi2=sd**2, xi4=3 * sd**4, noise_var=noise_sd**2,
                 how="adaptive quadrature (scipy.integrate.quad)", **parts)
    return m, max(errors[1:])


@functools.lru_cache(maxsize=8)
def _hermite_rule(nodes):
    """Nodes and weights (summing to one) of the Gauss-Hermite rule for the standard normal."""
    z, w = hermegauss(nodes)
    z.setflags(write=False)
    w = w / w.sum()
    w.setflags(write=False)
    return z, w


def _gauss_hermite_moments(g, k, v, tau2, noise_sd, nodes):
    """Moments for ``mu(x) = g(k xi + u) + (terms free of xi)``, ``xi ~ N(0, v)``, ``u ~ N(0, tau2)``
    independent, by a tensor Gauss-Hermite rule with ``nodes`` points per dimension.

    ``mu_-j = E[g(k xi + u) | u]`` is computed on the same rule, so ``delta = g(k xi + u) - h(u)``.
    """
    z, w = _hermite_rule(nodes)
    xi = np.sqrt(v) * z
    u = np.sqrt(tau2) * z
    G = np.asarray(g((k * xi[:, None] + u[None, :]).ravel()), dtype=float).reshape(nodes, nodes)
    if not np.all(np.isfinite(G)):
        raise ValueError("the function returned non-finite values at the quadrature nodes")
    delta = G - (w @ G)[None, :]
    W = w[:, None] * w[None, :]
    X = xi[:, None]

    def mean(F):
        return float(np.sum(W * F))

    return _Moments(xi_delta=mean(X * delta), xi2_delta2=mean(X**2 * delta**2), xi2=v, xi4=3 * v**2,
                    xi3_delta=mean(X**3 * delta), delta2=mean(delta**2), delta4=mean(delta**4),
                    noise_var=noise_sd**2, how=f"Gauss-Hermite quadrature ({nodes} x {nodes} nodes)")


def _checked_quadrature(g, k, v, tau2, noise_sd, methods, scale, loco_test):
    """The 2-D Gauss-Hermite moments; the ARE with doubled nodes estimates the quadrature error."""
    m = _gauss_hermite_moments(g, k, v, tau2, noise_sd, QUADRATURE_NODES)
    fine = _gauss_hermite_moments(g, k, v, tau2, noise_sd, 2 * QUADRATURE_NODES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EfficiencyWarning)  # the degenerate cases are warned about once
        a = _theory_from_moments(m, methods, scale, loco_test).are
        b = _theory_from_moments(fine, methods, scale, loco_test).are
    if np.isfinite(a) and np.isfinite(b) and abs(a - b) > QUADRATURE_TOLERANCE * abs(b):
        warn(f"Gauss-Hermite quadrature has not converged: the relative efficiency is {b:.6g} with "
             f"{2 * QUADRATURE_NODES} nodes and {a:.6g} with {QUADRATURE_NODES} (the function is probably not "
             "smooth); use the finer value with care, or the Monte Carlo", EfficiencyWarning)
    return fine


def _additive_moments(functions, cov, noise_sd, j, methods=METHODS, scale="native", loco_test="split"):
    gamma, v = _conditional(cov, j)
    tau2 = float(cov[j, j]) - v
    f = functions[j]
    if tau2 <= 1e-12 * float(cov[j, j]):  # x_j independent of the rest: a one-dimensional integral
        m, error = _additive_moments_1d(f, np.sqrt(cov[j, j]), noise_sd)
        if error > QUADRATURE_TOLERANCE:
            warn(f"adaptive quadrature reports a relative error of {error:.2g} in a moment of the "
                 "additive component; the theory may be inaccurate", EfficiencyWarning)
        return m
    # x_j = E[x_j | x_-j] + xi with E[x_j | x_-j] ~ N(0, tau2) independent of xi ~ N(0, v)
    return _checked_quadrature(f, 1.0, v, tau2, noise_sd, methods, scale, loco_test)


def _additive_params(functions, cov, noise_sd, feature):
    functions = list(functions)
    p = len(functions)
    if p == 0 or not all(callable(f) for f in functions):
        raise TypeError("functions must be a non-empty list of callables, one per feature")
    cov = np.eye(p) if cov is None else _check_cov(cov, p)
    return functions, cov, _check_noise(noise_sd), _check_position(feature, p)


def are_additive(functions: Sequence[Callable[[np.ndarray], np.ndarray] | None], cov: ArrayLike | None,
                 noise_sd: float, feature: int, *, scale: _ScaleChoice = "native",
                 loco_test: _LocoTest = "split") -> float:
    """Asymptotic relative efficiency of GCM against LOCO in an additive model, by numerical integration.

    Parameters
    ----------
    functions : list of callables
        ``y = sum_k functions[k](x_k) + eps``; each callable is vectorised (array in, array out).
    cov : array-like of shape (p, p) or None
        Covariance of the Gaussian features (mean zero); None is the identity.
    noise_sd : float
        Standard deviation of the Gaussian noise.
    feature : int
    scale, loco_test : str
        See :func:`relative_efficiency`.

    Returns
    -------
    float

    Notes
    -----
    Only the feature's own component :math:`f_j` enters: :math:`\\delta = f_j(x_j) - E[f_j(x_j) | x_{-j}]`.
    With :math:`x_j` independent of the rest (a diagonal row of ``cov``), :math:`\\xi = x_j`,
    :math:`\\psi_{\\mathrm{gcm}} = \\mathrm{Cov}(x_j, f_j(x_j))`, :math:`\\psi_{\\mathrm{loco}} =
    \\mathrm{Var}(f_j(x_j))`, and the moments are one-dimensional integrals computed by adaptive quadrature
    (:func:`scipy.integrate.quad`, which copes with kinks). Otherwise :math:`x_j = m + \\xi` with
    :math:`m = E[x_j | x_{-j}]` and :math:`\\xi` independent Gaussians, and the moments are two-dimensional
    integrals computed by Gauss-Hermite quadrature (accurate for smooth :math:`f_j`; a warning reports a
    rule that has not converged). GCM has no power when :math:`f_j` is even and :math:`x_j` symmetric and
    independent of the rest: :math:`\\psi_{\\mathrm{gcm}} = 0` and the ARE is 0 (with a warning).

    Examples
    --------
    >>> import numpy as np
    >>> round(are_additive([np.sin, lambda x: x], None, 1.0, 0), 4)  # y = sin x_1 + x_2 + eps
    2.7269
    """
    functions, cov, noise_sd, j = _additive_params(functions, cov, noise_sd, feature)
    scale, loco_test = _check_scale(scale, loco_test)
    m = _additive_moments(functions, cov, noise_sd, j, METHODS, scale, loco_test)
    return _theory_from_moments(m, METHODS, scale, loco_test).are


def _single_index_params(link, b, noise_sd, feature):
    if not callable(link):
        raise TypeError(f"link must be a vectorised callable; got {type(link).__name__}")
    b = np.asarray(b, dtype=float).ravel()
    if b.size == 0 or not np.all(np.isfinite(b)):
        raise ValueError("b must be a non-empty array of finite coefficients")
    return link, b, _check_noise(noise_sd), _check_position(feature, b.size)


def _single_index_moments(link, b, noise_sd, j, methods=METHODS, scale="native", loco_test="split"):
    tau2 = float(np.sum(np.delete(b, j) ** 2))
    return _checked_quadrature(link, float(b[j]), 1.0, tau2, noise_sd, methods, scale, loco_test)


def are_single_index(link: Callable[[np.ndarray], np.ndarray], b: ArrayLike, noise_sd: float, feature: int, *,
                     scale: _ScaleChoice = "native", loco_test: _LocoTest = "split") -> float:
    """Asymptotic relative efficiency of GCM against LOCO in a single-index model, by quadrature.

    Parameters
    ----------
    link : callable
        ``y = link(x @ b) + eps`` with ``x ~ N(0, I)``; vectorised.
    b : array-like of shape (p,)
    noise_sd : float
    feature : int
    scale, loco_test : str
        See :func:`relative_efficiency`.

    Returns
    -------
    float

    Notes
    -----
    With :math:`u = b_{-j}^\\top x_{-j} \\sim N(0, \\lVert b_{-j} \\rVert^2)` independent of :math:`\\xi = x_j`,
    :math:`\\mu_{-j} = h(u) = E[g(b_j \\xi + u) | u]` and :math:`\\delta = g(b_j\\xi + u) - h(u)`;
    :math:`\\psi_{\\mathrm{gcm}} = b_j E[g'(b^\\top x)]` (Stein's lemma) and :math:`\\psi_{\\mathrm{loco}} =
    E[\\mathrm{Var}(g(b^\\top x) | x_{-j})]`. Every moment is a two-dimensional Gaussian integral, computed
    by a tensor Gauss-Hermite rule; the rule is checked against one with twice the nodes, and a warning
    reports a difference above ``QUADRATURE_TOLERANCE`` (a link that is not smooth).

    Examples
    --------
    >>> import numpy as np
    >>> round(are_single_index(np.tanh, [0.5, 1, 1], 0.5, 0), 3)  # y = tanh(0.5 x_1 + x_2 + x_3) + eps
    2.156
    """
    link, b, noise_sd, j = _single_index_params(link, b, noise_sd, feature)
    scale, loco_test = _check_scale(scale, loco_test)
    m = _single_index_moments(link, b, noise_sd, j, METHODS, scale, loco_test)
    return _theory_from_moments(m, METHODS, scale, loco_test).are


# -------------------------------------------------------------------------------------- DGP models
def _kind(dgp):
    """``"linear"``, ``"additive"`` or ``"single-index"`` from the DGP's attributes (duck typing)."""
    if hasattr(dgp, "beta") and hasattr(dgp, "cov"):
        return "linear"
    if hasattr(dgp, "functions"):
        return "additive"
    if hasattr(dgp, "link") and hasattr(dgp, "b"):
        return "single-index"
    raise TypeError(
        "the relative efficiency needs a linear (attributes beta and cov), additive (functions, cov) or "
        f"single-index (link, b) data-generating process; got {type(dgp).__name__}"
    )


def _zero_function(x):
    return np.zeros_like(np.asarray(x, dtype=float))


def _dgp_parts(dgp):
    """The model's parameters, validated: ``(kind, params dict, p, names)``."""
    kind = _kind(dgp)
    noise_sd = _check_noise(getattr(dgp, "noise_sd", None))
    if kind == "linear":
        beta = np.asarray(dgp.beta, dtype=float).ravel()
        params = {"cov": _check_cov(dgp.cov, beta.size, "dgp.cov"), "beta": beta}
        p = beta.size
    elif kind == "additive":
        # a feature that does not enter y (None, as Additive allows) contributes the zero function
        functions = [_zero_function if f is None else f for f in dgp.functions]
        p = len(functions)
        cov = getattr(dgp, "cov", None)
        params = {"functions": functions, "cov": np.eye(p) if cov is None else _check_cov(cov, p, "dgp.cov")}
    else:
        b = np.asarray(dgp.b, dtype=float).ravel()
        params = {"link": dgp.link, "b": b}
        p = b.size
    params["noise_sd"] = noise_sd
    names = list(getattr(dgp, "feature_names", None) or [f"x{k}" for k in range(p)])
    if len(names) != p:
        raise ValueError(f"dgp.feature_names has {len(names)} names for {p} features")
    return kind, params, p, names


def _moments_of(kind, params, j, methods, scale, loco_test):
    if kind == "linear":
        return _linear_moments(params["cov"], params["beta"], params["noise_sd"], j)
    if kind == "additive":
        return _additive_moments(params["functions"], params["cov"], params["noise_sd"], j, methods, scale,
                                 loco_test)
    return _single_index_moments(params["link"], params["b"], params["noise_sd"], j, methods, scale, loco_test)


def _check_methods(methods) -> tuple[str, ...]:
    if isinstance(methods, str) or not hasattr(methods, "__iter__"):
        raise TypeError(f"methods must be a pair of method names such as ('gcm', 'loco'); got {methods!r}")
    methods = tuple(methods)
    if len(methods) != 2 or set(methods) != set(METHODS):
        raise ValueError(f"methods must be ('gcm', 'loco') or ('loco', 'gcm'); got {methods!r}")
    return methods


def theoretical_efficiency(dgp: Any, feature: int | str, methods: Sequence[str] = ("gcm", "loco"), *,
                           scale: _ScaleChoice = "native", loco_test: _LocoTest = "split") -> float:
    """The asymptotic relative efficiency of ``methods[0]`` against ``methods[1]`` for a DGP's feature.

    The theory part of :func:`relative_efficiency` alone (no simulation): closed form for linear
    Gaussian DGPs, quadrature for additive and single-index ones (see :func:`are_linear`,
    :func:`are_additive`, :func:`are_single_index`).

    Returns
    -------
    float
        :math:`\\mathrm{CV}^2_{\\texttt{methods[1]}} / \\mathrm{CV}^2_{\\texttt{methods[0]}}`.
    """
    methods = _check_methods(methods)
    scale, loco_test = _check_scale(scale, loco_test)
    kind, params, p, names = _dgp_parts(dgp)
    j = _check_position(feature, p, names)
    m = _moments_of(kind, params, j, methods, scale, loco_test)
    return _theory_from_moments(m, methods, scale, loco_test).are


# ----------------------------------------------------------------------------------- Monte Carlo
def _conditional_mean(g, k, tau):
    """``h(u) = E[g(k Z + u)]``, ``Z ~ N(0, 1)``, as a vectorised function of ``u ~ N(0, tau^2)``.

    Gauss-Hermite (``ORACLE_NODES`` nodes) on a grid of ``ORACLE_GRID`` points over ``ORACLE_SPAN``
    standard deviations of ``u``, interpolated by a cubic spline (``h`` is smooth: a Gaussian
    convolution); beyond the grid (probability below 1e-32) the end values are used.
    """
    from scipy.interpolate import CubicSpline

    z, w = _hermite_rule(ORACLE_NODES)
    if tau <= 0:
        constant = float(np.asarray(g(k * z), dtype=float) @ w)
        return lambda u: np.full(np.shape(u), constant)
    grid = np.linspace(-ORACLE_SPAN * tau, ORACLE_SPAN * tau, ORACLE_GRID)
    values = np.asarray(g((grid[:, None] + k * z[None, :]).ravel()), dtype=float).reshape(grid.size, -1) @ w
    if not np.all(np.isfinite(values)):
        raise ValueError("the regression function is not finite where the oracle needs its conditional mean")
    spline = CubicSpline(grid, values)
    low, high = grid[0], grid[-1]
    return lambda u: spline(np.clip(u, low, high))


class _Oracle:
    """The true nuisance functions of feature ``j``: ``(xi, mu, mu_-j)`` for a sample ``X``."""

    def __init__(self, dgp, kind, params, j):
        self.dgp, self.kind, self.params, self.j = dgp, kind, params, j
        if kind in ("linear", "additive"):
            self.gamma, self.v = _conditional(params["cov"], j)
        if kind == "additive":
            sd = float(np.sqrt(params["cov"][j, j]))
            self.independent = float(params["cov"][j, j]) - self.v <= 1e-12 * sd**2
            if self.independent:
                self.centre = _quad_normal(_scalar_function(params["functions"][j]), sd)[0]
            if not self.independent:
                tau = np.sqrt(float(params["cov"][j, j]) - self.v)
                self.h = _conditional_mean(params["functions"][j], np.sqrt(self.v), tau)
        if kind == "single-index":
            b = params["b"]
            self.h = _conditional_mean(params["link"], float(b[j]), float(np.sqrt(np.sum(np.delete(b, j) ** 2))))
        self.checked = False

    def __call__(self, X):
        j, params = self.j, self.params
        rest = np.delete(X, j, axis=1)
        mu = np.asarray(self.dgp.regression_function(X), dtype=float).ravel()
        if self.kind == "linear":
            xi = X[:, j] - rest @ self.gamma
            model = X @ params["beta"]
            mu_rest = mu - params["beta"][j] * xi
        elif self.kind == "additive":
            f = params["functions"][j]
            fj = np.asarray(f(X[:, j]), dtype=float).ravel()
            model = sum(np.asarray(g(X[:, k]), dtype=float).ravel() for k, g in enumerate(params["functions"]))
            if self.independent:
                xi = X[:, j]
                mu_rest = mu - fj + self.centre
            else:
                m = rest @ self.gamma
                xi = X[:, j] - m
                mu_rest = mu - fj + self.h(m)
        else:
            b = params["b"]
            xi = X[:, j]
            u = rest @ np.delete(b, j)
            model = np.asarray(params["link"](X @ b), dtype=float).ravel()
            mu_rest = self.h(u)
        if not self.checked:  # the attributes must describe the regression function the DGP samples from
            gap = mu - model
            spread = np.std(gap)
            if not spread <= 1e-8 * (1.0 + np.std(mu)):
                raise ValueError(
                    f"dgp.regression_function does not match the {self.kind} model its attributes describe "
                    f"(they differ by more than a constant: sd {spread:.3g}); the theory would not apply"
                )
            self.checked = True
        return xi, mu, mu_rest


#: Columns of the per-replicate statistics (all computed from the same sample).
_STATS = ("gcm_covariance", "gcm_loco_scale", "loco_paired", "loco_split")


def _oracle_statistics(X, y, oracle):
    xi, mu, mu_rest = oracle(X)
    ry = y - mu_rest
    a = float(np.mean(xi * ry))
    b = float(np.mean(xi * xi))
    full = (y - mu) ** 2
    reduced = ry**2
    half = len(y) // 2  # rows are i.i.d.: the first and second halves are a random split
    return (a, a * a / b, float(np.mean(reduced - full)), float(np.mean(reduced[half:]) - np.mean(full[:half])))


def _learner_statistics(X, y, learner, j, name, seq):
    from sklearn.base import clone

    from .._gcm import GCM
    from .._loco import LOCO

    gcm_seed, loco_seed = seq.spawn(2)
    groups = {name: [j]}
    gcm = GCM(clone(learner), cv=5, groups=groups, scale="loco", random_state=np.random.default_rng(gcm_seed))
    g = gcm.fit(X, y).importance()
    loco = LOCO(clone(learner), cv=5, groups=groups, test="split", random_state=np.random.default_rng(loco_seed))
    r = loco.fit(X, y).importance()
    full = np.asarray(r.details["full_loss"], dtype=float).reshape(len(y), -1)[:, 0]
    reduced = full + np.asarray(r.per_observation, dtype=float).reshape(len(y), -1)[:, 0]
    half_a, half_b = r.details["split_halves"]
    split = float(np.mean(reduced[half_b]) - np.mean(full[half_a]))
    return (float(g.raw_importance[0]), float(g.importance[0]), float(r.raw_importance[0]), split)


def _columns(methods, scale, loco_test):
    """Which of ``_STATS`` measures each method on ``scale``."""
    out = []
    for method in methods:
        if method == "gcm":
            out.append("gcm_loco_scale" if scale == "matched" else "gcm_covariance")
        else:
            out.append("loco_split" if scale == "testing" and loco_test == "split" else "loco_paired")
    return [_STATS.index(c) for c in out]


def _bootstrap_are(values, rng, n_bootstrap):
    """ARE of the bootstrap resamples of the replicates (rows resampled jointly for both methods)."""
    r = values.shape[0]
    centred = values - values.mean(axis=0)  # the CV² needs the mean; centring keeps the sums accurate
    both = np.column_stack([centred, centred**2])
    shift = values.mean(axis=0)
    out = np.empty(n_bootstrap)
    done = 0
    while done < n_bootstrap:
        size = min(_BOOTSTRAP_CHUNK, n_bootstrap - done)
        rows = rng.integers(0, r, size=(size, r)) + r * np.arange(size)[:, None]
        counts = np.bincount(rows.ravel(), minlength=size * r).reshape(size, r).astype(float)
        sums = counts @ both  # (size, 4): sums and sums of squares of the resampled replicates
        mean = sums[:, :2] / r
        var = (sums[:, 2:] - r * mean**2) / (r - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cv2 = var / (mean + shift) ** 2
            out[done:done + size] = cv2[:, 1] / cv2[:, 0]
        done += size
    return out


# ------------------------------------------------------------------------------------------ results
_ESTIMANDS = {
    ("gcm", "native"): "E[xi (y - mu_-j)] (covariance scale)",
    ("gcm", "testing"): "E[xi (y - mu_-j)] (Wald z test)",
    ("gcm", "matched"): "E[xi (y - mu_-j)]^2 / E[xi^2] (LOCO's scale)",
    ("loco", "paired"): "E[(y - mu_-j)^2 - (y - mu)^2] (paired mean)",
    ("loco", "split"): "E[(y - mu_-j)^2 - (y - mu)^2] (split-test difference of half means)",
}


def _estimand(method, scale, loco_test):
    if method == "gcm":
        return _ESTIMANDS[("gcm", scale)]
    return _ESTIMANDS[("loco", loco_test if scale == "testing" else "paired")]


@dataclass(frozen=True, eq=False)
class EfficiencyResult:
    """Relative efficiency of two importance measures for one feature, in theory and by Monte Carlo.

    Returned by :func:`relative_efficiency`. Arrays are indexed like :attr:`methods`.

    Attributes
    ----------
    methods : tuple of str
        ``(first, second)``; the efficiency is the first's relative to the second's,
        :math:`\\mathrm{CV}^2_{\\mathrm{second}} / \\mathrm{CV}^2_{\\mathrm{first}}` (above 1: the first needs
        fewer rows).
    feature : str
    scale : str
    loco_test : str
        LOCO's test on ``scale="testing"``.
    dgp : str
        Description of the data-generating process.
    n, reps : int
        Rows per replicate and number of replicates.
    learner : str
        ``"true regression functions"`` (oracle) or the learner's class name.
    theory : float
        Asymptotic relative efficiency.
    theory_method : str
        How the theory was computed (closed form, quadrature).
    monte_carlo : float
        Ratio of the Monte Carlo CV²s over the replicates.
    ci_low, ci_high : float
        95% percentile bootstrap interval of :attr:`monte_carlo` (replicates resampled).
    monte_carlo_se : float
        Bootstrap standard error of :attr:`monte_carlo`.
    theory_mean, theory_variance, theory_cv2 : ndarray of shape (2,)
        Each estimator's population mean, variance at ``n`` rows (asymptotic variance over ``n``) and CV².
    mc_mean, mc_variance, mc_cv2 : ndarray of shape (2,)
        The same over the replicates (variance with ``ddof=1``).
    replicates : ndarray of shape (reps, 2)
        Each replicate's two estimates.
    bootstrap_distribution : ndarray
        The relative efficiency of each bootstrap resample.
    seed : int
        Entropy of the SeedSequence behind the replicates and the bootstrap.
    """

    methods: tuple
    feature: str
    scale: str
    loco_test: str
    dgp: str
    n: int
    reps: int
    learner: str
    theory: float
    theory_method: str
    monte_carlo: float
    ci_low: float
    ci_high: float
    monte_carlo_se: float
    theory_mean: np.ndarray
    theory_variance: np.ndarray
    theory_cv2: np.ndarray
    mc_mean: np.ndarray
    mc_variance: np.ndarray
    mc_cv2: np.ndarray
    replicates: np.ndarray = field(repr=False)
    bootstrap_distribution: np.ndarray = field(repr=False)
    seed: int = 0
    level: float = 0.95

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Percentile bootstrap interval of the Monte Carlo relative efficiency at ``level``.

        Returns
        -------
        pandas.DataFrame
            One row, ``"relative_efficiency"``, columns ``lower`` and ``upper``.
        """
        level = check_level(level)
        finite = self.bootstrap_distribution[np.isfinite(self.bootstrap_distribution)]
        low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2]) if finite.size else (np.nan, np.nan)
        return pd.DataFrame({"lower": [low], "upper": [high]}, index=["relative_efficiency"])

    def to_frame(self) -> pd.DataFrame:
        """Each method's estimand, mean, variance and CV², in theory and over the replicates.

        Returns
        -------
        pandas.DataFrame
            Indexed by method.
        """
        frame = pd.DataFrame({
            "estimand": [_estimand(m, self.scale, self.loco_test) for m in self.methods],
            "theory_mean": self.theory_mean, "mc_mean": self.mc_mean,
            "theory_variance": self.theory_variance, "mc_variance": self.mc_variance,
            "theory_cv2": self.theory_cv2, "mc_cv2": self.mc_cv2,
        }, index=pd.Index(list(self.methods), name="method"))
        return frame

    def summary(self) -> str:
        """A few lines of text: the setting and both relative efficiencies."""
        first, second = self.methods
        return "\n".join([
            f"relative efficiency of {first.upper()} against {second.upper()} (CV^2 {second} / CV^2 {first}), "
            f"scale {self.scale}" + (f", LOCO test {self.loco_test}" if self.scale == "testing" else ""),
            f"{self.dgp}; feature {self.feature}; n = {self.n}, {self.reps} replicates; {self.learner}; "
            f"seed {self.seed}",
            f"theory ({self.theory_method}): {self.theory:.4f}",
            f"Monte Carlo: {self.monte_carlo:.4f} (95% bootstrap interval {self.ci_low:.4f} to {self.ci_high:.4f}; "
            f"se {self.monte_carlo_se:.4f})",
        ])

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax: Axes | None = None) -> Axes:
        """The Monte Carlo relative efficiency with its interval beside the theory (a dashed line).

        Returns
        -------
        matplotlib.axes.Axes
        """
        ax = _axes(ax)
        low, high = self.monte_carlo - self.ci_low, self.ci_high - self.monte_carlo
        ax.errorbar([0], [self.monte_carlo], yerr=[[max(low, 0.0)], [max(high, 0.0)]], fmt="o", color="C0",
                    capsize=4, label=f"Monte Carlo ({self.reps} replicates, 95% interval)")
        if np.isfinite(self.theory):
            ax.axhline(self.theory, color="C1", linestyle="--", label=f"theory {self.theory:.3f}")
        ax.axhline(1.0, color="0.6", linewidth=0.8)
        ax.set_xticks([0])
        ax.set_xticklabels([f"{self.feature}, n = {self.n}"])
        ax.set_xlim(-1, 1)
        first, second = self.methods
        ax.set_ylabel(f"CV² {second} / CV² {first}")
        ax.set_title(f"{first.upper()} vs {second.upper()}, {self.scale} scale")
        ax.legend(loc="best", fontsize="small")
        return ax


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.figure().subplots()


def _describe(dgp):
    text = repr(dgp)
    if len(text) > 120 or text.startswith("<"):
        text = type(dgp).__name__
    return text


def _check_learner(learner):
    if learner is None:
        return None
    if not (hasattr(learner, "fit") and hasattr(learner, "predict") and hasattr(learner, "get_params")):
        raise TypeError(f"learner must be None or a scikit-learn regressor; got {type(learner).__name__}")
    return learner


def relative_efficiency(dgp: Any, feature: int | str, methods: Sequence[str] = ("gcm", "loco"), n: int = 1000,
                        reps: int = 1000, scale: _ScaleChoice = "native", random_state: RandomState = None,
                        learner: Estimator | None = None, *,
                        loco_test: _LocoTest = "split") -> EfficiencyResult:
    """Relative efficiency of GCM and LOCO for one feature: theory beside a Monte Carlo with its interval.

    Parameters
    ----------
    dgp : data-generating process
        Linear (attributes ``cov``, ``beta``), additive (``functions``, ``cov``) or single-index (``link``,
        ``b``) with Gaussian features of mean zero and Gaussian noise ``noise_sd``; ``sample(n, rng)`` and
        ``regression_function(X)`` as in :mod:`vimp.simulation`.
    feature : int or str
        Position or name (``dgp.feature_names``) of the feature.
    methods : pair of str, default=("gcm", "loco")
        The efficiency of ``methods[0]`` relative to ``methods[1]``: :math:`\\mathrm{CV}^2_{\\texttt{methods[1]}}
        / \\mathrm{CV}^2_{\\texttt{methods[0]}}`; above 1, the first needs fewer rows for the same relative
        precision.
    n : int, default=1000
        Rows per replicate (the sample size of Zheng & Raskutti's simulations).
    reps : int, default=1000
        Monte Carlo replicates (at least ``MIN_REPS``).
    scale : {"native", "matched", "testing"}, default="native"
        - ``"native"`` (the paper's): GCM on the covariance scale (mean residual product), LOCO on the
          loss-difference scale (paired mean squared-error difference);
        - ``"matched"``: GCM on LOCO's scale, :math:`\\bar R^2 / \\overline{\\xi^2}` (``GCM(scale="loco")``);
          in the linear model this is exactly as efficient as LOCO (ARE 1);
        - ``"testing"``: the ratio of the squared noncentralities of the two tests (equal power at sample
          sizes in that ratio): GCM's Wald test against LOCO's ``loco_test``. With ``loco_test="paired"``
          this equals ``"native"`` (a test's squared noncentrality is :math:`1/\\mathrm{CV}^2` of its
          estimate); the default is LOCO's default sample-split test.
    random_state : None, int, SeedSequence or numpy.random.Generator
        Seeds the replicates (one child SeedSequence each) and the bootstrap.
    learner : scikit-learn regressor, optional
        None: the oracle, with the true regression functions of the DGP (GCM from the true residuals
        :math:`y - E[y|x_{-j}]` and :math:`x_j - E[x_j|x_{-j}]`, LOCO from the true :math:`E[y|x]` and
        :math:`E[y|x_{-j}]`). A learner: vimp's estimators, ``GCM(learner, cv=5)`` and
        ``LOCO(learner, cv=5)``, cross-fitted on each replicate's ``n`` rows (the learner also regresses
        :math:`x_j`). The estimation error of the learner moves the Monte Carlo away from the theory:
        with OLS in the linear target setting (p = 5, rho = 0.5, beta_1 = 0.5, n = 1000, 400
        replicates, seed 7) the ratio was 3.48 (95% interval 3.30 to 3.67) against 3.31 on the native
        scale and 1.045 (1.020 to 1.070) against 1 on the matched one. The CV² is not robust: one
        replicate in which the learner fails (an unregularised spline basis extrapolating to a tail row,
        say) can dominate it, which shows as a very wide interval; inspect ``result.replicates``. Each
        vimp warning class the estimators raise is reported once, with the number of replicates it
        fired in.
    loco_test : {"split", "paired"}, default="split"
        LOCO's test on ``scale="testing"`` (ignored otherwise).

    Returns
    -------
    EfficiencyResult

    Notes
    -----
    **Definitions.** Let :math:`\\mu_{-j} = E[y | x_{-j}]`, :math:`\\delta = \\mu(x) - \\mu_{-j}(x_{-j})` and
    :math:`\\xi = x_j - E[x_j | x_{-j}]`. GCM estimates :math:`\\psi_{\\mathrm{gcm}} = E[\\xi\\delta]` with
    :math:`n\\,\\mathrm{Var} = \\mathrm{Var}(\\xi\\delta) + \\sigma^2 E[\\xi^2]`; LOCO (squared error) estimates
    :math:`\\psi_{\\mathrm{loco}} = E[\\delta^2]` with :math:`n\\,\\mathrm{Var} = \\mathrm{Var}(\\delta^2) +
    4\\sigma^2 E[\\delta^2]` (derived; THEORY.md section 2). The CV² of each is its variance over its
    squared mean, and the ARE is the ratio of the CV²s. The scales are explained under ``scale``; the
    formulas of each are in the docstrings of :func:`are_linear` and ``_method_theory``. The
    oracle's per-replicate estimates are exact means of i.i.d. terms on the native and testing scales,
    so there the Monte Carlo CV² estimates the theory at every ``n``; on the matched scale the ratio
    :math:`\\bar R^2/\\overline{\\xi^2}` has an :math:`O(1/n)` bias.

    **Monte Carlo.** Each replicate draws ``n`` rows from ``dgp.sample`` with its own Generator and
    computes both estimates on them; the Monte Carlo relative efficiency is the ratio of the CV²s over
    the replicates, and its interval is the percentile interval of ``N_BOOTSTRAP`` bootstrap resamples
    of the replicates (both estimates of a replicate resampled together). The relative standard error
    of one CV² over ``R`` near-normal replicates is about :math:`\\sqrt{2/R}` (4.5% at ``R = 1000``).

    References
    ----------
    Zheng, C. & Raskutti, G. (2025). Comparing model-agnostic feature selection methods through relative
    efficiency. arXiv:2508.14268.
    Shah, R. D. & Peters, J. (2020). The hardness of conditional independence testing and the generalised
    covariance measure. Ann. Statist. 48(3), 1514-1538.
    """
    methods = _check_methods(methods)
    scale, loco_test = _check_scale(scale, loco_test)
    n = check_int(n, "n", 4)
    reps = check_int(reps, "reps", MIN_REPS)
    learner = _check_learner(learner)
    seq = seed_sequence(random_state)
    kind, params, p, names = _dgp_parts(dgp)
    j = _check_position(feature, p, names)
    if not hasattr(dgp, "sample") or not hasattr(dgp, "regression_function"):
        raise TypeError("dgp must have sample(n, rng) and regression_function(X)")
    theory = _theory_from_moments(_moments_of(kind, params, j, methods, scale, loco_test), methods, scale,
                                  loco_test)
    replicate_seqs, bootstrap_seq = seq.spawn(2)
    oracle = _Oracle(dgp, kind, params, j) if learner is None else None
    stats = np.empty((reps, len(_STATS)))
    caught: dict[Any, Any] = {}
    for r, child in enumerate(replicate_seqs.spawn(reps)):
        sample_seq, fit_seq = child.spawn(2)
        X, y = dgp.sample(n, np.random.default_rng(sample_seq))
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float).ravel()
        if X.shape != (n, p) or y.shape != (n,):
            raise ValueError(f"dgp.sample({n}, rng) returned X of shape {X.shape} and y of shape {y.shape}; "
                             f"expected ({n}, {p}) and ({n},)")
        if learner is None:
            stats[r] = _oracle_statistics(X, y, oracle)
        else:
            with warnings.catch_warnings(record=True) as records:
                warnings.simplefilter("always", VimpWarning)
                stats[r] = _learner_statistics(X, y, learner, j, names[j], fit_seq)
            seen = set()
            for record in records:
                if not issubclass(record.category, VimpWarning):  # not ours: pass it on unchanged
                    warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
                elif record.category not in seen:  # one count per replicate and class; the first message
                    seen.add(record.category)
                    count, first = caught.get(record.category, (0, str(record.message)))
                    caught[record.category] = (count + 1, first)
    for category, (count, first) in caught.items():
        warn(f"{category.__name__} in {count} of {reps} replicates; the first: {first}", category)
    values = stats[:, _columns(methods, scale, loco_test)]
    mc_mean = values.mean(axis=0)
    mc_var = values.var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mc_cv2 = mc_var / mc_mean**2
        monte_carlo = float(mc_cv2[1] / mc_cv2[0])
    boot = _bootstrap_are(values, np.random.default_rng(bootstrap_seq), N_BOOTSTRAP)
    finite = boot[np.isfinite(boot)]
    ci_low, ci_high = (np.quantile(finite, [0.025, 0.975]) if finite.size else (np.nan, np.nan))
    theory_var = theory.n_variance / n
    with np.errstate(divide="ignore", invalid="ignore"):
        theory_cv2 = np.where(theory.mean != 0, theory_var / theory.mean**2, np.inf)
    return EfficiencyResult(
        methods=methods, feature=names[j], scale=scale, loco_test=loco_test, dgp=_describe(dgp), n=n,
        reps=reps, learner="true regression functions" if learner is None else type(learner).__name__,
        theory=theory.are, theory_method=theory.how, monte_carlo=monte_carlo, ci_low=float(ci_low),
        ci_high=float(ci_high), monte_carlo_se=float(np.std(finite, ddof=1)) if finite.size > 1 else np.nan,
        theory_mean=theory.mean, theory_variance=theory_var, theory_cv2=theory_cv2, mc_mean=mc_mean,
        mc_variance=mc_var, mc_cv2=mc_cv2, replicates=values, bootstrap_distribution=boot,
        seed=int(seq.entropy) if isinstance(seq.entropy, numbers.Integral) else 0,
    )


# -------------------------------------------------------------------------------------------- curve
@dataclass(frozen=True, eq=False)
class EfficiencyCurve:
    """Relative efficiency against signal strength: theory on a fine grid, Monte Carlo at grid points.

    Attributes
    ----------
    signal : ndarray
        The signal values of the Monte Carlo points.
    results : tuple of EfficiencyResult
        One per signal value.
    theory_signal, theory_line : ndarray
        The theory on a fine grid spanning ``signal``.
    signal_label : str
    """

    signal: np.ndarray
    results: tuple[EfficiencyResult, ...]
    theory_signal: np.ndarray
    theory_line: np.ndarray
    signal_label: str = "signal"

    def to_frame(self) -> pd.DataFrame:
        """One row per signal value: theory, Monte Carlo and its 95% interval.

        Returns
        -------
        pandas.DataFrame
        """
        return pd.DataFrame({
            "theory": [r.theory for r in self.results],
            "monte_carlo": [r.monte_carlo for r in self.results],
            "ci_low": [r.ci_low for r in self.results],
            "ci_high": [r.ci_high for r in self.results],
        }, index=pd.Index(self.signal, name=self.signal_label))

    def plot(self, ax: Axes | None = None) -> Axes:
        """Theory as a line, Monte Carlo as points with their 95% bootstrap intervals.

        Returns
        -------
        matplotlib.axes.Axes
        """
        ax = _axes(ax)
        ax.plot(self.theory_signal, self.theory_line, color="C1", label="theory")
        mc = np.array([r.monte_carlo for r in self.results])
        low = np.array([r.ci_low for r in self.results])
        high = np.array([r.ci_high for r in self.results])
        ax.errorbar(self.signal, mc, yerr=[np.maximum(mc - low, 0), np.maximum(high - mc, 0)], fmt="o",
                    color="C0", capsize=3, label="Monte Carlo (95% interval)")
        ax.axhline(1.0, color="0.6", linewidth=0.8)
        first = self.results[0]
        ax.set_xlabel(self.signal_label)
        ax.set_ylabel(f"CV² {first.methods[1]} / CV² {first.methods[0]}")
        sizes = sorted({r.n for r in self.results})
        rows = f"n = {sizes[0]}" if len(sizes) == 1 else f"n = {sizes[0]} to {sizes[-1]}"
        ax.set_title(f"{first.methods[0].upper()} vs {first.methods[1].upper()}, {first.scale} scale, {rows}")
        ax.legend(loc="best", fontsize="small")
        return ax


def _per_signal(value, name, size):
    """``value`` for each of ``size`` signal values: an int repeated, or a sequence of that length."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return [value] * size
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(f"{name} must be an integer or a sequence of integers, one per signal value; "
                        f"got {value!r}")
    values = list(value)
    if len(values) != size:
        raise ValueError(f"{name} must hold one integer per signal value ({size}); got {len(values)}")
    return values


def efficiency_curve(dgp_factory: Callable[[float], Any], signal_grid: ArrayLike, feature: int | str = 0,
                     methods: Sequence[str] = ("gcm", "loco"), n: int | Sequence[int] = 1000,
                     reps: int | Sequence[int] = 1000,
                     scale: _ScaleChoice = "native", random_state: RandomState = None,
                     learner: Estimator | None = None, *, loco_test: _LocoTest = "split",
                     theory_points: int = 100, signal_label: str = "signal") -> EfficiencyCurve:
    """Relative efficiency against signal strength, in theory and by Monte Carlo.

    Parameters
    ----------
    dgp_factory : callable
        ``dgp_factory(signal)`` returns a DGP (as for :func:`relative_efficiency`).
    signal_grid : array-like of float
        Signal values of the Monte Carlo points (at least one, finite, distinct).
    n, reps : int or sequence of int
        As in :func:`relative_efficiency`, for every signal value, or one per signal value (so that weak
        signals can be given more rows, where an asymptotic theory needs them, or more replicates, where
        a small mean makes the Monte Carlo CV² noisy).
    feature, methods, scale, learner, loco_test
        As in :func:`relative_efficiency`.
    random_state : None, int, SeedSequence or Generator
        One child SeedSequence per signal value.
    theory_points : int, default=100
        Points of the theory line, evenly spaced between the smallest and largest signal (the grid
        points are added); 0 draws the theory at the grid points only.
    signal_label : str, default="signal"
        The x-axis label.

    Returns
    -------
    EfficiencyCurve

    Examples
    --------
    >>> import numpy as np
    >>> from vimp.simulation import EquicorrelatedLinear
    >>> curve = efficiency_curve(lambda b: EquicorrelatedLinear(5, 0.5, [b, 1, 1, 1, 1]), [0.5, 1.0],
    ...                          n=200, reps=200, random_state=0, theory_points=0)
    >>> curve.to_frame()["theory"].round(4).tolist()
    [3.3077, 2.3636]
    """
    if not callable(dgp_factory):
        raise TypeError("dgp_factory must be a callable: signal -> data-generating process")
    grid = np.asarray(signal_grid, dtype=float).ravel()
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.unique(grid).size != grid.size:
        raise ValueError("signal_grid must hold at least one finite value, none repeated")
    theory_points = check_int(theory_points, "theory_points", 0)
    sizes = _per_signal(n, "n", grid.size)
    counts = _per_signal(reps, "reps", grid.size)
    seq = seed_sequence(random_state)
    results = tuple(
        relative_efficiency(dgp_factory(float(s)), feature, methods, size, count, scale, child, learner,
                            loco_test=loco_test)
        for s, size, count, child in zip(grid, sizes, counts, seq.spawn(grid.size))
    )
    fine = np.unique(np.concatenate([grid, np.linspace(grid.min(), grid.max(), theory_points)])) \
        if theory_points else np.sort(grid)
    line = np.array([theoretical_efficiency(dgp_factory(float(s)), feature, methods, scale=scale,
                                            loco_test=loco_test) for s in fine])
    return EfficiencyCurve(signal=grid, results=results, theory_signal=fine, theory_line=line,
                           signal_label=signal_label)
