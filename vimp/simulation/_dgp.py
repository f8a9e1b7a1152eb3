"""Data-generating processes with population importances ("truths").

Every process draws ``(X, y)`` with ``sample(n, rng)`` from a :class:`numpy.random.Generator` and, where the
population value is known, returns it per feature with ``truth(method, scale)``: in closed form for the
linear Gaussian models (through :mod:`vimp.linear`), by Gauss--Hermite quadrature for the additive and
single-index models.

Population values are those of the true regression function under squared-error loss (THEORY.md, sections
1 and 2), with ``mu(x) = E[y | x]``, ``mu_j(x_-j) = E[y | x_-j]``, ``delta = mu - mu_j`` and
``xi = x_j - E[x_j | x_-j]``:

- PaP (permute-and-predict): ``E[(mu(x) - mu(x'))^2]`` with ``x'`` equal to ``x`` except that ``x_j`` is an
  independent copy; ``2 beta_j^2 Var(x_j)`` in a linear model;
- LOCO: ``E[delta^2] = E[(E[y|x] - E[y|x_-j])^2]``; ``beta_j^2 Var(x_j | x_-j)`` in a linear Gaussian model;
- GCM: ``E[Cov(y, x_j | x_-j)] = E[xi (y - mu_j)] = E[xi delta]``; ``beta_j Var(x_j | x_-j)`` in a linear
  Gaussian model.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import linear as _linear
from .._typing import ArrayLike

__all__ = [
    "Additive",
    "BladenDesign",
    "CustomDGP",
    "DataGeneratingProcess",
    "EquicorrelatedLinear",
    "LinearGaussian",
    "SingleIndex",
    "check_sample_output",
]

METHODS = ("pap", "loco", "gcm")
#: Scales of PaP and LOCO (as the estimators' ``scale``) and of GCM (as :class:`vimp.GCM`'s ``scale``;
#: ``"difference"`` is accepted for GCM as its natural, covariance scale).
LOSS_SCALES = ("difference", "ratio", "sqrt")
GCM_SCALES = ("covariance", "correlation", "loco", "difference")

#: Gauss--Hermite nodes per dimension of the quadratures of :class:`Additive` and :class:`SingleIndex`.
#: Exact for polynomials of degree below ``2 * QUADRATURE_NODES``; for entire functions (polynomials, sin,
#: cos, exp) the error is at rounding level (checked against closed forms to 1e-10 in the tests); for
#: analytic functions with poles off the real axis (tanh, the logistic function) about 1e-8 relative
#: (checked against adaptive quadrature); for functions with kinks or jumps (abs, indicators) it decays
#: only polynomially in the number of nodes.
QUADRATURE_NODES = 121

_REFERENCES = """
    References
    ----------
    Bladen, K., Cutler, D. R. & Wisler, A. (2025). Mathematical theory of collinearity effects on machine
    learning variable importance measures. arXiv:2510.00557.
    Zheng, C. & Raskutti, G. (2025). Comparing model-agnostic feature selection methods through relative
    efficiency. arXiv:2508.14268.
"""


# ---------------------------------------------------------------------------------------------- checks
def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value}")
    return value


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)); got {type(rng).__name__}"
        )
    return rng


def _coefficients(beta, p, name="beta"):
    """``beta`` as a float array of length ``p`` (a scalar is repeated)."""
    arr = np.asarray(beta)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number or a real array; got dtype {arr.dtype}")
    arr = arr.astype(float)
    if arr.ndim == 0:
        arr = np.full(p, float(arr))
    if arr.shape != (p,):
        raise ValueError(f"{name} must be a scalar or have shape ({p},); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def check_sample_output(out, n, p, where="sample"):
    """Check what a sampler returned: ``(X, y)`` with X finite, shape (n, p), and y finite, shape (n,).

    Parameters
    ----------
    out : object
        The sampler's return value.
    n : int
        Rows asked for.
    p : int or None
        Features expected (None: any).
    where : str
        Name of the sampler, for the messages.

    Returns
    -------
    X : ndarray of float64, shape (n, p)
    y : ndarray of float64, shape (n,)
    """
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ValueError(f"{where}(n, rng) must return a pair (X, y); got {type(out).__name__}")
    X, y = (np.asarray(a) for a in out)
    for name, arr in (("X", X), ("y", y)):
        if arr.dtype.kind not in "iufb":
            raise TypeError(f"{where}(n, rng) returned a non-numeric {name} (dtype {arr.dtype})")
    X, y = X.astype(float, copy=False), y.astype(float, copy=False)
    want = f"({n}, {p})" if p is not None else f"({n}, p)"
    if X.ndim != 2 or X.shape[0] != n or (p is not None and X.shape[1] != p):
        raise ValueError(f"{where}(n={n}, rng) must return X of shape {want}; got shape {X.shape}")
    if y.shape != (n,):
        raise ValueError(f"{where}(n={n}, rng) must return y of shape ({n},); got shape {y.shape}")
    for name, arr in (("X", X), ("y", y)):
        if not np.all(np.isfinite(arr)):
            bad = int(np.sum(~np.isfinite(arr)))
            raise ValueError(f"{where}(n={n}, rng) returned {bad} non-finite values (NaN or inf) in {name}")
    return X, y


def _check_function_output(values, shape, name):
    values = np.asarray(values, dtype=float)
    if values.shape != shape:
        raise ValueError(
            f"{name} must be vectorised: called on an array of shape {shape} it must return that shape; "
            f"got {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} returned non-finite values (NaN or inf)")
    return values


# --------------------------------------------------------------------------------------- descriptions
def describe(value):
    """A stable text description of a parameter value (the same in every process and session).

    Arrays and floats are written in full precision; a function by its qualified name and a hash of its
    code (a lambda's address changes from run to run, its code does not).
    """
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, numbers.Integral):
        return repr(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, np.ndarray):
        return describe(value.tolist())
    if isinstance(value, (list, tuple)):
        inner = ", ".join(describe(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{describe(k)}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, np.ufunc):
        return f"numpy.{value.__name__}"
    code = getattr(value, "__code__", None)
    if code is not None:
        digest = hashlib.sha256()
        digest.update(code.co_code)
        digest.update(repr(code.co_consts).encode())
        digest.update(repr(code.co_names).encode())
        for cell in getattr(value, "__closure__", None) or ():
            try:
                digest.update(describe(cell.cell_contents).encode())
            except ValueError:  # an empty cell
                pass
        name = f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', '?')}"
        return f"{name}#{digest.hexdigest()[:16]}"
    if hasattr(value, "get_params"):
        params = value.get_params(deep=False)
        inner = ", ".join(f"{k}={describe(params[k])}" for k in sorted(params))
        return f"{type(value).__name__}({inner})"
    return repr(value)


# ----------------------------------------------------------------------------------------- quadrature
def _gauss_hermite(nodes=QUADRATURE_NODES):
    """Nodes and weights of E[h(Z)], Z ~ N(0, 1): ``sum(w * h(t))``."""
    t, w = np.polynomial.hermite_e.hermegauss(nodes)
    return t, w / w.sum()


# ------------------------------------------------------------------------------------------ base class
class DataGeneratingProcess:
    """Base class of the data-generating processes.

    Subclasses set ``p`` and ``noise_sd`` and implement ``_draw(n, rng)``, :meth:`regression_function`,
    ``_natural(method)`` (the population value on the natural scale: loss difference for PaP and LOCO,
    covariance for GCM) and ``_conditional_variance()`` (``E[Var(x_j | x_-j)]``, for GCM's other scales).

    Attributes
    ----------
    p : int
        Number of features.
    feature_names : list of str
        ``"x0", "x1", ...``.
    noise_sd : float or None
        Standard deviation of the noise ``y - E[y | x]`` (None where unknown).
    """

    p: int
    noise_sd = None
    _draw: Callable[[int, np.random.Generator], Any]  # implemented by each subclass

    @property
    def feature_names(self) -> list[str]:
        return [f"x{j}" for j in range(self.p)]

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` observations.

        Parameters
        ----------
        n : int
            Number of rows, at least 1.
        rng : numpy.random.Generator
            Source of every random number of the draw.

        Returns
        -------
        X : ndarray of shape (n, p)
        y : ndarray of shape (n,)
        """
        n = _check_int(n, "n", 1)
        _check_rng(rng)
        return check_sample_output(self._draw(n, rng), n, self.p, f"{type(self).__name__}.sample")

    def regression_function(self, X: ArrayLike) -> np.ndarray:
        """``E[y | X]`` row by row (ndarray of shape (n,))."""
        raise NotImplementedError(f"{type(self).__name__} does not know its regression function")

    def truth(self, method: str, scale: str = "difference") -> np.ndarray:
        """Population importance of every feature.

        Parameters
        ----------
        method : {"pap", "loco", "gcm"}
            Permute-and-predict, leave-one-covariate-out or the generalised covariance measure, under
            squared-error loss and the true regression function.
        scale : str, default "difference"
            As the estimators' ``scale``. PaP and LOCO: ``"difference"`` (increase in mean squared error),
            ``"ratio"`` (``1 + difference / noise_sd**2``: the ratio of mean squared errors, the full model
            being the true regression function) or ``"sqrt"`` (``sqrt(difference)``, Bladen et al.'s scale).
            GCM: ``"covariance"`` (``E[Cov(y, x_j | x_-j)]``; ``"difference"``, the default, means the same:
            each method's natural scale), ``"correlation"`` (``psi / sqrt(E[xi^2] E[(y - E[y|x_-j])^2])``)
            or ``"loco"`` (``psi^2 / E[xi^2]``).

        Returns
        -------
        ndarray of shape (p,)

        Raises
        ------
        NotImplementedError
            Where the population value is not known for this process.
        """
        method, scale = _check_method_scale(method, scale)
        natural = np.asarray(self._natural(method), dtype=float)
        if method in ("pap", "loco"):
            if scale == "difference":
                return natural
            if scale == "sqrt":
                return np.sqrt(np.maximum(natural, 0.0))
            return 1.0 + natural / self._noise_var("ratio")
        if scale in ("covariance", "difference"):
            return natural
        conditional = np.asarray(self._conditional_variance(), dtype=float)
        if scale == "loco":
            return natural**2 / conditional
        loco = np.asarray(self._natural("loco"), dtype=float)
        return natural / np.sqrt(conditional * (loco + self._noise_var("correlation")))

    def _noise_var(self, scale):
        if self.noise_sd is None:
            raise NotImplementedError(f"scale={scale!r} needs the noise variance, which "
                                      f"{type(self).__name__} does not know")
        return float(self.noise_sd) ** 2

    def _natural(self, method):
        raise NotImplementedError(f"{type(self).__name__} does not know its population {method} importance")

    def _conditional_variance(self):
        raise NotImplementedError(f"{type(self).__name__} does not know Var(x_j | x_-j)")

    def _params(self):
        """Parameter name -> value, in constructor order, for :meth:`__repr__`."""
        return {}

    def __repr__(self):
        inner = ", ".join(f"{k}={describe(v)}" for k, v in self._params().items())
        return f"{type(self).__name__}({inner})"


def _check_method_scale(method, scale):
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    method = method.lower()
    allowed = GCM_SCALES if method == "gcm" else LOSS_SCALES
    if not isinstance(scale, str) or scale not in allowed:
        raise ValueError(f"scale must be one of {allowed} for method {method!r}; got {scale!r}")
    return method, scale


# -------------------------------------------------------------------------------------- linear models
class LinearGaussian(DataGeneratingProcess):
    """Linear model with Gaussian features: ``x ~ N(0, cov)``, ``y = x @ beta + eps``, ``eps ~ N(0, noise_sd^2)``.

    Parameters
    ----------
    cov : array_like of shape (p, p)
        Covariance of the features; symmetric positive definite.
    beta : array_like of shape (p,)
        Coefficients.
    noise_sd : float, default 1.0
        Standard deviation of the noise, positive.

    Attributes
    ----------
    cov, beta : ndarray
    intercept : float
        0.
    p, feature_names, noise_sd
        See :class:`DataGeneratingProcess`.

    Notes
    -----
    ``X = Z @ F`` with ``Z`` standard normal, ``F`` the upper Cholesky factor of ``cov`` (``F^T F = cov``),
    then the noise. Truths in closed form (:mod:`vimp.linear`): PaP ``2 beta_j^2 cov_jj``, LOCO
    ``beta_j^2 Var(x_j | x_-j)``, GCM ``beta_j Var(x_j | x_-j)``, ``Var(x_j | x_-j) = 1 / inv(cov)_jj``.
    %(references)s
    Examples
    --------
    >>> import numpy as np
    >>> from vimp.simulation import LinearGaussian
    >>> dgp = LinearGaussian([[1.0, 0.5], [0.5, 1.0]], [1.0, -2.0])
    >>> X, y = dgp.sample(5, np.random.default_rng(0))
    >>> X.shape, y.shape
    ((5, 2), (5,))
    >>> dgp.truth("loco")
    array([0.75, 3.  ])
    """

    intercept = 0.0

    def __init__(self, cov: ArrayLike, beta: ArrayLike, noise_sd: float = 1.0) -> None:
        beta = _linear._closed_forms._validate_beta(beta)
        cov = _linear._closed_forms._validate_cov(cov, beta.size)
        _linear.conditional_variance(cov)  # positive definite, or a clear error
        self.cov = cov
        self.beta = beta
        self.noise_sd = _check_positive(noise_sd, "noise_sd")
        self.p = beta.size
        self._factor = np.linalg.cholesky(cov).T

    def _draw(self, n, rng):
        X = rng.standard_normal((n, self.p)) @ self._factor
        y = X @ self.beta + self.noise_sd * rng.standard_normal(n)
        return X, y

    def regression_function(self, X: ArrayLike) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return X @ self.beta + self.intercept

    def _natural(self, method):
        if method == "pap":
            return _linear.pap(self.beta, self.cov)
        if method == "loco":
            return _linear.loco(self.beta, self.cov)
        return _linear.gcm(self.beta, self.cov)

    def _conditional_variance(self):
        return _linear.conditional_variance(self.cov)

    def _params(self):
        return {"cov": self.cov, "beta": self.beta, "noise_sd": self.noise_sd}


class EquicorrelatedLinear(LinearGaussian):
    """Linear Gaussian model with unit variances and one correlation ``rho`` between every pair of features.

    Parameters
    ----------
    p : int
        Number of features, at least 1.
    rho : float
        Common correlation, in ``(-1 / (p - 1), 1)`` so that the covariance is positive definite.
    beta : float or array_like of shape (p,)
        Coefficients (a scalar is used for every feature).
    noise_sd : float, default 1.0

    Notes
    -----
    ``cov = (1 - rho) I + rho J``; ``Var(x_j | x_-j) = (1 - rho)(1 + (p - 1) rho) / (1 + (p - 2) rho)``. The
    linear-Gaussian design of Zheng & Raskutti's (2025) comparison.
    %(references)s
    Examples
    --------
    >>> from vimp.simulation import EquicorrelatedLinear
    >>> dgp = EquicorrelatedLinear(5, 0.5, [0.5, 1, 1, 1, 1])
    >>> dgp.truth("gcm").round(4)  # beta_j Var(x_j | x_-j), Var(x_j | x_-j) = 0.6
    array([0.3, 0.6, 0.6, 0.6, 0.6])
    """

    def __init__(self, p: int, rho: float, beta: ArrayLike, noise_sd: float = 1.0) -> None:
        p = _check_int(p, "p", 1)
        if isinstance(rho, bool) or not isinstance(rho, numbers.Real) or not np.isfinite(rho):
            raise TypeError(f"rho must be a finite real number; got {rho!r}")
        low = -1.0 / (p - 1) if p > 1 else -np.inf
        if not low < rho < 1.0:
            raise ValueError(f"rho must lie in ({low:.6g}, 1) for p={p} (positive definite covariance); got {rho}")
        self.rho = float(rho)
        cov = np.full((p, p), self.rho) + (1.0 - self.rho) * np.eye(p)
        super().__init__(cov, _coefficients(beta, p), noise_sd)

    def _params(self):
        return {"p": self.p, "rho": self.rho, "beta": self.beta, "noise_sd": self.noise_sd}


class BladenDesign(LinearGaussian):
    """The design of Bladen, Cutler & Wisler (2025): ``X = Z A``, ``A = delta J + (1 - delta) I``, ``y = X beta + eps``.

    Parameters
    ----------
    p : int
        Number of features, at least 2.
    delta : float
        Mixing parameter in [0, 1) (1 makes ``A`` singular).
    beta : float or array_like of shape (p,), default 1.0
        Coefficients (the paper: all ones).
    noise_sd : float, default 0.01
        Standard deviation of the noise (the paper: 0.01).

    Attributes
    ----------
    delta : float
    A : ndarray of shape (p, p)
    cov : ndarray
        ``A A^T`` (:func:`vimp.linear.bladen_cov`): variances ``1 + (p - 1) delta^2``, covariances
        ``2 delta + (p - 2) delta^2``.

    Notes
    -----
    ``Z`` is n x p i.i.d. standard normal and ``X = Z A`` exactly as in the authors' code, then the noise.
    On the sqrt scale the truths are the paper's closed forms :func:`vimp.linear.bladen_pap` and
    :func:`vimp.linear.bladen_loco` (for ``beta = 1``).
    %(references)s
    Examples
    --------
    >>> from vimp.simulation import BladenDesign
    >>> dgp = BladenDesign(6, 0.5)
    >>> round(float(dgp.truth("pap", scale="sqrt")[0]), 6), round(float(dgp.truth("loco", scale="sqrt")[0]), 6)
    (2.12132, 0.546608)
    """

    def __init__(self, p: int, delta: float, beta: ArrayLike = 1.0, noise_sd: float = 0.01) -> None:
        p = _check_int(p, "p", 2)
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real):
            raise TypeError(f"delta must be a real number in [0, 1); got {delta!r}")
        if not 0.0 <= float(delta) < 1.0:
            raise ValueError(f"delta must lie in [0, 1) (A is singular at 1); got {delta}")
        self.delta = float(delta)
        self.A = self.delta * np.ones((p, p)) + (1.0 - self.delta) * np.eye(p)
        super().__init__(_linear.bladen_cov(p, self.delta), _coefficients(beta, p), noise_sd)
        self._factor = self.A  # X = Z A, as the paper writes it

    def _params(self):
        return {"p": self.p, "delta": self.delta, "beta": self.beta, "noise_sd": self.noise_sd}


# ----------------------------------------------------------------------------------- nonlinear models
class Additive(DataGeneratingProcess):
    """Additive model: ``x ~ N(0, cov)``, ``y = sum_j f_j(x_j) + eps``.

    Parameters
    ----------
    functions : sequence of callables (or None)
        One vectorised function per feature (``f(array) -> array`` of the same shape); None for a
        feature that does not enter ``y``.
    noise_sd : float, default 1.0
    cov : array_like of shape (p, p), optional
        Covariance of the Gaussian features (default: the identity).

    Attributes
    ----------
    functions : list
    cov : ndarray of shape (p, p)

    Notes
    -----
    With ``v_j = Var(x_j | x_-j)`` and ``x_j = m_j + sqrt(v_j) z`` (``m_j = E[x_j | x_-j]`` Gaussian with
    variance ``cov_jj - v_j``, ``z`` standard normal independent of ``x_-j``):
    PaP ``2 Var(f_j(x_j))``; LOCO ``E[Var(f_j(x_j) | x_-j)]``; GCM ``E[sqrt(v_j) z f_j(m_j + sqrt(v_j) z)]``
    (``= v_j E[f_j'(x_j)]`` by Stein's lemma). With independent features (``cov=None``) these are
    ``2 Var(f_j(x_j))``, ``Var(f_j(x_j))`` and ``Cov(f_j(x_j), x_j)``. Computed by Gauss--Hermite quadrature
    (``QUADRATURE_NODES`` nodes per dimension: rounding-level error for smooth functions). GCM has no
    power for an even ``f_j`` of an independent feature (its truth is 0) while LOCO does (Zheng & Raskutti, 2025).
    %(references)s
    Examples
    --------
    >>> import numpy as np
    >>> from vimp.simulation import Additive
    >>> dgp = Additive([np.sin, lambda x: x])
    >>> dgp.truth("loco").round(6)  # Var(sin x) = (1 - exp(-2)) / 2, Var(x) = 1
    array([0.432332, 1.      ])
    >>> dgp.truth("gcm").round(6)  # E[x sin x] = exp(-1/2)
    array([0.606531, 1.      ])
    """

    def __init__(self, functions: Sequence[Callable[[np.ndarray], np.ndarray] | None], noise_sd: float = 1.0,
                 cov: ArrayLike | None = None) -> None:
        if callable(functions) or isinstance(functions, (str, bytes)):
            raise TypeError("functions must be a sequence of callables, one per feature")
        functions = list(functions)
        if not functions:
            raise ValueError("functions must name at least one function (one per feature)")
        for j, f in enumerate(functions):
            if f is not None and not callable(f):
                raise TypeError(f"functions[{j}] must be callable or None; got {type(f).__name__}")
        self.functions = functions
        self.p = len(functions)
        self.noise_sd = _check_positive(noise_sd, "noise_sd")
        self._identity = cov is None
        if cov is None:
            cov = np.eye(self.p)
        else:
            cov = _linear._closed_forms._validate_cov(cov, self.p)
        self._conditional = _linear.conditional_variance(cov)
        self.cov = cov
        self._factor = np.linalg.cholesky(cov).T

    def _f(self, j, x):
        f = self.functions[j]
        if f is None:
            return np.zeros(np.shape(x))
        return _check_function_output(f(x), np.shape(x), f"functions[{j}]")

    def _draw(self, n, rng):
        X = rng.standard_normal((n, self.p))
        if not self._identity:
            X = X @ self._factor
        y = self.regression_function(X) + self.noise_sd * rng.standard_normal(n)
        return X, y

    def regression_function(self, X: ArrayLike) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.p:
            raise ValueError(f"X must have shape (n, {self.p}); got {X.shape}")
        total = np.zeros(X.shape[0])
        for j in range(self.p):
            total += self._f(j, X[:, j])
        return total

    def _moments(self, j):
        """(PaP, LOCO, GCM) of feature j by two-dimensional Gauss--Hermite quadrature."""
        t, w = _gauss_hermite()
        v = self._conditional[j]
        spread = np.sqrt(max(self.cov[j, j] - v, 0.0))
        x = spread * t[:, None] + np.sqrt(v) * t[None, :]  # rows: m nodes, columns: z nodes
        fx = self._f(j, x)
        inner_mean = fx @ w
        inner_var = ((fx - inner_mean[:, None]) ** 2) @ w
        marginal = np.sqrt(self.cov[j, j]) * t
        fm = self._f(j, marginal)
        pap = 2.0 * (((fm - fm @ w) ** 2) @ w)
        loco = inner_var @ w
        gcm = (fx * (np.sqrt(v) * t[None, :])) @ w @ w
        return pap, loco, gcm

    def _natural(self, method):
        index = METHODS.index(method)
        return np.array([self._moments(j)[index] for j in range(self.p)])

    def _conditional_variance(self):
        return self._conditional

    def _params(self):
        return {"functions": self.functions, "noise_sd": self.noise_sd,
                "cov": None if self._identity else self.cov}


class SingleIndex(DataGeneratingProcess):
    """Single-index model: ``x ~ N(0, I)``, ``y = link(b @ x) + eps``.

    Parameters
    ----------
    link : callable
        Vectorised link function ``g`` (e.g. ``numpy.tanh``).
    b : array_like of shape (p,)
        Index coefficients.
    noise_sd : float, default 1.0

    Attributes
    ----------
    link : callable
    b : ndarray

    Notes
    -----
    With ``u = b @ x - b_j x_j ~ N(0, |b|^2 - b_j^2)`` and ``a = x_j``: LOCO ``E[Var(g(u + b_j a) | u)]``,
    PaP twice that (the features are independent), GCM ``E[a g(u + b_j a)] = b_j E[g'(b @ x)]`` (Stein's
    lemma) (Zheng & Raskutti, 2025). Computed by two-dimensional Gauss--Hermite quadrature (``QUADRATURE_NODES`` per dimension).
    %(references)s
    Examples
    --------
    >>> import numpy as np
    >>> from vimp.simulation import SingleIndex
    >>> dgp = SingleIndex(lambda s: s, [1.0, 2.0])  # linear link: LOCO = b_j^2, GCM = b_j
    >>> dgp.truth("loco").round(10), dgp.truth("gcm").round(10)
    (array([1., 4.]), array([1., 2.]))
    """

    def __init__(self, link: Callable[[np.ndarray], np.ndarray], b: ArrayLike, noise_sd: float = 1.0) -> None:
        if not callable(link):
            raise TypeError(f"link must be a vectorised callable; got {type(link).__name__}")
        b = np.asarray(b)
        if b.dtype.kind not in "iuf" or b.ndim != 1 or b.size == 0:
            raise ValueError(f"b must be a non-empty 1-D real array; got {b!r}")
        b = b.astype(float)
        if not np.all(np.isfinite(b)):
            raise ValueError("b must be finite (no NaN or inf)")
        self.link = link
        self.b = b
        self.p = b.size
        self.noise_sd = _check_positive(noise_sd, "noise_sd")

    def _g(self, s):
        return _check_function_output(self.link(s), np.shape(s), "link")

    def _draw(self, n, rng):
        X = rng.standard_normal((n, self.p))
        y = self._g(X @ self.b) + self.noise_sd * rng.standard_normal(n)
        return X, y

    def regression_function(self, X: ArrayLike) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.p:
            raise ValueError(f"X must have shape (n, {self.p}); got {X.shape}")
        return self._g(X @ self.b)

    def _moments(self, j):
        t, w = _gauss_hermite()
        spread = np.sqrt(max(float(self.b @ self.b) - self.b[j] ** 2, 0.0))
        gx = self._g(spread * t[:, None] + self.b[j] * t[None, :])  # rows: u nodes, columns: a nodes
        inner_mean = gx @ w
        loco = (((gx - inner_mean[:, None]) ** 2) @ w) @ w
        gcm = (gx * t[None, :]) @ w @ w
        return 2.0 * loco, loco, gcm

    def _natural(self, method):
        index = METHODS.index(method)
        return np.array([self._moments(j)[index] for j in range(self.p)])

    def _conditional_variance(self):
        return np.ones(self.p)

    def _params(self):
        return {"link": self.link, "b": self.b, "noise_sd": self.noise_sd}


# ------------------------------------------------------------------------------------- user processes
class CustomDGP(DataGeneratingProcess):
    """A data-generating process from a user's sampler, with its output checked.

    Parameters
    ----------
    sample : callable
        ``sample(n, rng) -> (X, y)`` with ``rng`` a :class:`numpy.random.Generator`; X of shape (n, p), y of
        shape (n,), both finite (checked on every draw, with a message naming what is wrong).
    truth : callable or mapping, optional
        ``truth(method, scale) -> array of length p`` (raise NotImplementedError where unknown), or a
        mapping ``method -> array`` on each method's natural scale (``"difference"`` for PaP and LOCO,
        ``"covariance"`` for GCM). None: every truth is unknown (NaN in :func:`monte_carlo` tables).
    p : int, optional
        Number of features. None: found from one draw of 10 rows with ``numpy.random.default_rng(0)``.
    regression_function : callable, optional
        ``E[y | X]``, if known.
    noise_sd : float, optional
        Standard deviation of the noise, if known.

    Notes
    -----
    In a :func:`~vimp.simulation.monte_carlo` store the sampler is identified by its qualified name and a
    hash of its code (:func:`describe`), so a changed sampler does not resume an old store.

    Examples
    --------
    >>> import numpy as np
    >>> from vimp.simulation import CustomDGP
    >>> def draw(n, rng):
    ...     X = rng.uniform(-1, 1, size=(n, 2))
    ...     return X, X[:, 0] + 0.1 * rng.standard_normal(n)
    >>> dgp = CustomDGP(draw, truth={"loco": [1 / 3, 0.0]})
    >>> dgp.p, dgp.truth("loco").round(4)
    (2, array([0.3333, 0.    ]))
    """

    def __init__(self, sample: Callable[[int, np.random.Generator], tuple[Any, Any]],
                 truth: Callable[[str, str], ArrayLike] | Mapping[str, ArrayLike] | None = None,
                 p: int | None = None, *, regression_function: Callable[[Any], ArrayLike] | None = None,
                 noise_sd: float | None = None) -> None:
        if not callable(sample):
            raise TypeError(f"sample must be a callable sample(n, rng) -> (X, y); got {type(sample).__name__}")
        if truth is not None and not callable(truth) and not hasattr(truth, "items"):
            raise TypeError("truth must be None, a callable truth(method, scale) or a mapping method -> values")
        if regression_function is not None and not callable(regression_function):
            raise TypeError("regression_function must be None or a callable")
        self._sample = sample
        self._truth = dict(truth) if hasattr(truth, "items") else truth  # type: ignore[arg-type]
        self._regression = regression_function
        self.noise_sd = None if noise_sd is None else _check_positive(noise_sd, "noise_sd")
        if p is None:
            X, _ = check_sample_output(sample(10, np.random.default_rng(0)), 10, None, "sample")
            p = X.shape[1]
        self.p = _check_int(p, "p", 1)

    def _draw(self, n, rng):
        return self._sample(n, rng)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n = _check_int(n, "n", 1)
        _check_rng(rng)
        return check_sample_output(self._sample(n, rng), n, self.p, "sample")

    sample.__doc__ = DataGeneratingProcess.sample.__doc__

    def regression_function(self, X: ArrayLike) -> np.ndarray:
        if self._regression is None:
            raise NotImplementedError("this CustomDGP was given no regression_function")
        return np.asarray(self._regression(X), dtype=float)

    def truth(self, method: str, scale: str = "difference") -> np.ndarray:
        method, scale = _check_method_scale(method, scale)
        if self._truth is None:
            raise NotImplementedError("this CustomDGP was given no truth")
        if callable(self._truth):
            values = self._truth(method, scale)
        else:
            natural = "covariance" if method == "gcm" else "difference"
            if method not in self._truth:
                raise NotImplementedError(f"this CustomDGP's truth has no entry for {method!r}")
            if scale not in (natural, "difference"):
                raise NotImplementedError(
                    f"this CustomDGP's truth gives {method} on the {natural!r} scale only; got scale={scale!r}"
                )
            values = self._truth[method]
        values = np.asarray(values, dtype=float)
        if values.shape != (self.p,):
            raise ValueError(f"truth({method!r}, {scale!r}) must have shape ({self.p},); got {values.shape}")
        return values

    truth.__doc__ = DataGeneratingProcess.truth.__doc__

    def _params(self):
        return {"sample": self._sample, "truth": self._truth, "p": self.p,
                "regression_function": self._regression, "noise_sd": self.noise_sd}


for _cls in (LinearGaussian, EquicorrelatedLinear, BladenDesign, Additive, SingleIndex):
    _cls.__doc__ = (_cls.__doc__ or "").replace("    %(references)s", "\n" + _REFERENCES.strip("\n") + "\n")
del _cls
