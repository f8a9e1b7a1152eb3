"""Exact fitter for least squares and ridge regression: every refit from one factorisation.

:func:`linear_fitter_for` recognises the scikit-learn estimators whose refits have closed forms and
returns a :class:`LinearFitter` for them; :func:`vimp._fitter_choice.make_fitter` calls it, so that
``LOCO(LinearRegression())`` never refits anything.

Recognised estimators (exact types, not subclasses):

* ``LinearRegression(positive=False)``, with or without intercept;
* ``Ridge(alpha=a, positive=False)`` with a scalar ``a >= 0``, any ``solver`` (the exact ridge solution is
  computed, whatever solver sklearn would have used), with or without intercept;
* a two-step ``Pipeline`` of ``StandardScaler()`` (default ``with_mean=True, with_std=True``) followed by
  one of those. The scaler is fitted on the training data (unweighted, since a pipeline routes
  ``sample_weight`` to its last step only) and applied inside the fitter. Dropping or permuting a column
  leaves the scaling of every other column unchanged, so every refit stays exact, for ridge too (where the
  scaling changes the penalty).

Everything else gets ``None`` (and :class:`vimp.SklearnFitter`).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy import linalg
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ._data import as_float_array, permute_columns
from ._fitters import Fitter, PermutationTerms, SklearnFitter, permutation_terms_from_losses

__all__ = ["LinearFitter", "linear_fitter_for"]

_EPS = np.finfo(np.float64).eps


# ----------------------------------------------------------------------------- recognition
def _linear_spec(estimator):
    """The :class:`LinearFitter` parameters equivalent to ``estimator``, or None if there are none."""
    standardize = False
    final = estimator
    if type(estimator) is Pipeline:
        steps = estimator.steps
        if len(steps) != 2:
            return None
        scaler, final = steps[0][1], steps[1][1]
        if type(scaler) is not StandardScaler or not (scaler.with_mean is True and scaler.with_std is True):
            return None
        standardize = True
    if type(final) is LinearRegression:
        if final.positive:
            return None
        alpha = 0.0
        tol = final.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not np.isfinite(tol) or tol < 0:
            return None
        rank_tol = float(tol)
    elif type(final) is Ridge:
        alpha = final.alpha
        if final.positive or np.ndim(alpha) != 0 or isinstance(alpha, bool):
            return None
        if not isinstance(alpha, numbers.Real) or not np.isfinite(alpha) or alpha < 0:
            return None
        alpha = float(alpha)
        rank_tol = 0.0
    else:
        return None
    if not isinstance(final.fit_intercept, (bool, np.bool_)):
        return None
    return {
        "alpha": alpha,
        "fit_intercept": bool(final.fit_intercept),
        "standardize": standardize,
        "rank_tol": rank_tol,
    }


def linear_fitter_for(estimator):
    """A fresh, unfitted :class:`LinearFitter` equivalent to ``estimator``, or None.

    Parameters
    ----------
    estimator : object
        Any object. Recognised: ``LinearRegression`` and ``Ridge`` (scalar ``alpha``) with
        ``positive=False``, alone or after a default ``StandardScaler`` in a two-step ``Pipeline``.
        Subclasses are not recognised (they may change ``fit``).

    Returns
    -------
    LinearFitter or None
    """
    spec = _linear_spec(estimator)
    if spec is None:
        return None
    return LinearFitter(**spec, estimator=estimator)


# ----------------------------------------------------------------------------- helpers
def _as_2d_float(X, name="X"):
    Xf = as_float_array(X)
    if Xf.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {Xf.shape}")
    return Xf


def _column_positions(columns, n_features, name="columns"):
    if (isinstance(columns, (list, tuple)) and len(columns) == 1 and isinstance(columns[0], numbers.Integral)
            and not isinstance(columns[0], bool) and 0 <= columns[0] < n_features):
        return np.array([columns[0]], dtype=np.intp)  # one valid position: the common case, checked fast
    cols = np.atleast_1d(np.asarray(columns))
    if cols.ndim != 1 or cols.size == 0 or not np.issubdtype(cols.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty list of integer column positions; got {columns!r}")
    cols = cols.astype(np.intp)
    if cols.min() < 0 or cols.max() >= n_features:
        raise ValueError(f"{name} must be column positions in 0..{n_features - 1}; got {cols.tolist()}")
    if np.unique(cols).size != cols.size:
        raise ValueError(f"{name} must not repeat a column; got {cols.tolist()}")
    return cols


def _spd_solve(H, B):
    """``H^{-1} B`` for a small symmetric positive definite ``H`` (Cholesky, else a symmetric solve)."""
    if H.shape[0] == 1:
        return B / H[0, 0]
    try:
        return linalg.cho_solve(linalg.cho_factor(H, lower=False, check_finite=False), B,
                                check_finite=False)
    except linalg.LinAlgError:  # pragma: no cover - G[S, S] is positive definite when the fit succeeded
        return linalg.solve(H, B, assume_a="sym", check_finite=False)


#: Largest 2-norm condition number of the equilibrated Cholesky factor (the square root of the Gram
#: matrix's) for which the normal equations are trusted: their relative error is about
#: cond(Gram) * eps <= 1e6 * 2.2e-16. Beyond it the design itself is factorised (pivoted QR).
_CHOLESKY_MAX_CONDITION = 1e3


def _spectral_condition(R, R_inv, iterations=30):
    """Estimate of the 2-norm condition number of ``R`` by power iteration on ``R'R`` and its inverse.

    The Frobenius bound ``||R||_F ||R^{-1}||_F`` can exceed the 2-norm condition number by a factor up to
    the dimension; a few power iterations (O(k^2) each) get close to it from below, with the largest
    errors only where the leading eigenvalues are clustered (and the estimate is then nearly right).
    """
    k = R.shape[0]
    start = np.linspace(1.0, 2.0, k)
    start /= np.linalg.norm(start)
    largest = smallest_inverse = 0.0
    v, u = start.copy(), start.copy()
    for _ in range(iterations):
        v = R.T @ (R @ v)
        largest = np.linalg.norm(v)
        u = R_inv @ (R_inv.T @ u)
        smallest_inverse = np.linalg.norm(u)
        if not (np.isfinite(largest) and np.isfinite(smallest_inverse)) or largest == 0 or smallest_inverse == 0:
            return np.inf
        v /= largest
        u /= smallest_inverse
    return float(np.sqrt(largest * smallest_inverse))


def _cholesky_factor(gram, Atb, ridge):
    """Cholesky factor of ``A'A + diag(ridge)`` (given ``gram = A'A`` and ``Atb = A'b``) if it is well
    conditioned, else None.

    Returns ``(R, R^{-1}, solution, identity order)``.
    """
    k = gram.shape[0]
    gram = gram.copy()
    gram[np.diag_indices(k)] += ridge
    try:
        R = linalg.cholesky(gram, lower=False, check_finite=False)
    except linalg.LinAlgError:
        return None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        R_inv = linalg.solve_triangular(R, np.eye(k), lower=False, check_finite=False)
        condition = np.linalg.norm(R) * np.linalg.norm(R_inv)  # Frobenius: an upper bound
        if np.isfinite(condition) and condition > _CHOLESKY_MAX_CONDITION:
            condition = _spectral_condition(R, R_inv)
    if not np.isfinite(condition) or condition > _CHOLESKY_MAX_CONDITION:
        return None
    solution = R_inv @ (R_inv.T @ Atb)
    return R, R_inv, solution, np.arange(k)


def _qr_factor(A, b, k):
    """Pivoted QR of ``A`` (for ridge, the caller appends the rows ``diag(sqrt(ridge))``).

    Returns ``(R, R^{-1}, solution, pivot order)``; ``R^{-1}`` is infinite when ``A`` has fewer rows than
    columns.
    """
    qtb, R, piv = linalg.qr_multiply(A, b, mode="right", pivoting=True, overwrite_a=True)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if R.shape[0] < k:  # fewer (weighted) rows than columns: cannot be identified
            R_inv = np.full((k, k), np.inf)
            solution = np.full(k, np.nan)
        else:
            R_inv = linalg.solve_triangular(R, np.eye(k), lower=False, check_finite=False)
            solution = R_inv @ qtb[:k]
    return R, R_inv, solution, piv


class _LinearPredictor(Fitter):
    """A fitted linear model ``X @ coef_ + intercept_`` on the full-width design."""

    response_method = "predict"

    def _check_width(self, Xf):
        if Xf.shape[1] != self.coef_.shape[0]:
            raise ValueError(
                f"X has {Xf.shape[1]} columns but the model was fitted on {self.coef_.shape[0]}; "
                "pass the full-width design"
            )

    def predict(self, X):
        """Predictions on the full-width design ``X``.

        Parameters
        ----------
        X : ndarray or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        Xf = _as_2d_float(X)
        self._check_width(Xf)
        return Xf @ self.coef_ + self.intercept_

    def predict_permuted(self, X, columns, perm):
        """Predictions with ``columns`` of ``X`` permuted jointly by the row permutation ``perm``.

        Computed as ``predict(X) + (X[perm][:, S] - X[:, S]) @ coef_[S]``: no permuted copy of ``X``.
        """
        Xf = _as_2d_float(X)
        self._check_width(Xf)
        cols = _column_positions(columns, Xf.shape[1])
        part = Xf[:, cols] @ self.coef_[cols]
        return Xf @ self.coef_ + self.intercept_ + (part[np.asarray(perm, dtype=np.intp)] - part)


class _ReducedLinearModel(_LinearPredictor):
    """A linear model refitted (in closed form) without some columns.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients over the full width, zero at the dropped columns.
    intercept_ : float
    dropped_ : ndarray of int
        The columns it was fitted without.
    """

    def __init__(self, coef, intercept, dropped):
        self.coef_ = coef
        self.intercept_ = float(intercept)
        self.dropped_ = dropped


class _LinearColumnModel:
    """Regressions of ``X[:, columns]`` on the other columns, from the full fit's ``G``.

    ``predict(X)`` returns the fitted values, shape (n, len(columns)); ``residuals(X)`` returns
    ``X[:, columns] - predict(X)``.
    """

    def __init__(self, fitter, columns):
        self._fitter = fitter
        self.columns = columns
        active = fitter.active_[columns]
        self._active_pos = np.flatnonzero(active)
        self._null_pos = np.flatnonzero(~active)
        sa = columns[active]
        self._sa = sa
        # Residual (Z scale) of the active targets: Zc @ M with M = G[:, S] G[S, S]^{-1}.
        if sa.size:
            G = fitter.G_
            self._M = _spd_solve(G[np.ix_(sa, sa)], G[:, sa].T).T
        else:
            self._M = np.zeros((len(fitter.coef_), 0))

    def residuals(self, X):
        """Residuals ``X[:, columns] - predict(X)``, shape (n, len(columns))."""
        f = self._fitter
        Xf = _as_2d_float(X)
        f._check_width(Xf)
        out = np.empty((Xf.shape[0], len(self.columns)))
        if self._sa.size:
            Zc = (Xf - f.center_) / f.scale_
            out[:, self._active_pos] = (Zc @ self._M) * f.scale_[self._sa]
        for k in self._null_pos:
            c = self.columns[k]
            # A constant (or all-zero) training column: its regression is its training mean (or zero).
            out[:, k] = Xf[:, c] - (f.center_[c] if f.fit_intercept else 0.0)
        return out

    def predict(self, X):
        """Fitted values of ``X[:, columns]`` from the other columns, shape (n, len(columns))."""
        Xf = _as_2d_float(X)
        return Xf[:, self.columns] - self.residuals(Xf)


# ----------------------------------------------------------------------------- the fitter
class LinearFitter(_LinearPredictor):
    """Exact fitter for (weighted) least squares and ridge regression.

    One factorisation of the training Gram matrix answers the full fit, every refit without a set
    of columns, every regression of a set of columns on the others and every permute-and-predict, exactly
    (to rounding), with no refit.

    Parameters
    ----------
    alpha : float, default=0.0
        Ridge penalty ``alpha * ||beta||^2`` (0: ordinary least squares), as in ``sklearn.linear_model.Ridge``.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept (the design and response are centred at their weighted means).
    standardize : bool, default=False
        Divide each column by its training standard deviation (and, without an intercept, subtract its
        training mean) before fitting, as a ``StandardScaler`` before the regressor in a pipeline does. The
        scaler is fitted without weights (a pipeline routes ``sample_weight`` to its last step only).
    rank_tol : float, default=1e-6
        For ``alpha=0``: the design is treated as rank deficient, and :meth:`fit` raises, when its smallest
        singular value is below ``rank_tol`` times its largest (after centring, weighting and scaling).
        ``LinearRegression(tol=t)`` is given ``rank_tol=t``, because sklearn truncates singular values at that
        same threshold: below it sklearn's answer is not the least-squares solution. Never less than
        ``max(n, p) * eps``.
    estimator : scikit-learn estimator, optional
        The estimator this fitter stands for (set by :func:`linear_fitter_for`); used only where a
        regression has no closed form here and scikit-learn is called instead.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients on the original (unscaled) columns.
    intercept_ : float
    beta_ : ndarray of shape (n_features,)
        Coefficients on the centred and scaled columns ``(X - center_) / scale_``.
    G_ : ndarray of shape (n_features, n_features)
        ``(Z_c' W Z_c + alpha I)^{-1}`` of the centred, scaled training design, from triangular solves with
        the QR factor (zero rows and columns at constant columns).
    center_, scale_ : ndarray of shape (n_features,)
        ``Z_c = (X - center_) / scale_``. ``center_`` is the weighted training mean with an intercept.
    y_center_ : float
        Weighted training mean of ``y`` (0 without an intercept).
    active_ : ndarray of bool
        False at constant columns (see Notes).
    factorisation_ : {"cholesky", "qr"} or None
        How the Gram matrix was factorised (see Notes); None if every column is constant.
    factor_ : ndarray of shape (k, k)
        Upper-triangular ``R`` with ``R' R = Z_c' W Z_c + alpha I`` restricted to the columns
        ``factor_columns_`` (the non-constant ones, in pivot order).
    factor_columns_ : ndarray of int
    X_train_, y_train_, sample_weight_ :
        The training data, kept for :meth:`refit_permuted` and for the scikit-learn fallback of
        :meth:`regress_columns`.

    Notes
    -----
    With ``Z_c`` the centred (if ``fit_intercept``), scaled (if ``standardize``) design, ``W`` the weights and
    ``G = (Z_c' W Z_c + alpha I)^{-1}``, ridge is least squares on the augmented design
    ``[W^{1/2} Z_c; sqrt(alpha) I]``, whose columns can be dropped exactly, so for a set ``S`` of columns
    (THEORY.md section 1):

    * the refit without ``S`` has ``beta_{-S} = beta - G[:, S] G[S, S]^{-1} beta_S`` (zero on ``S``) and
      the intercept ``ybar - zbar' beta_{-S}``; its prediction is ``pred - Z_c G[:, S] G[S, S]^{-1} beta_S``;
    * the residual of ``X[:, S]`` regressed (by the same method, same ``alpha``) on the other columns is
      ``Z_c G[:, S] G[S, S]^{-1}`` (times the column scales).

    ``G`` is never formed from an explicit inverse of the Gram matrix. The weighted, centred design is
    equilibrated (unit column norms) and its Gram matrix ``Z_c' W Z_c + alpha I`` is Cholesky-factorised,
    ``R' R``; ``G = R^{-1} R^{-T}`` comes from a triangular solve. The normal equations lose accuracy as
    the square of the design's condition number, so when the factor's condition number exceeds ``1e3``
    (the Gram matrix's ``1e6``), the design itself (augmented by ``sqrt(alpha) I`` for ridge) is factorised
    by a pivoted QR instead: the same ``R`` up to column order, with errors proportional to the condition
    number of the design, not its square. ``factorisation_`` says which was used.

    **Constant columns.** A column that is constant on the rows with positive weight (with an intercept or
    a scaler; all zero without) carries no information: its coefficient is 0, exactly the minimum-norm
    answer of ``LinearRegression``, and it is left out of the factorisation, silently. Its refits leave the
    model unchanged, and its regression on the other columns is its training mean.

    **Collinearity.** For ``alpha=0`` a design whose smallest singular value is below ``rank_tol`` times its
    largest raises a ``ValueError`` naming the collinear columns (those that load on the near null space).
    Ridge (``alpha > 0``) is always identified.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from vimp._linear_fitter import linear_fitter_for
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 3)); y = X @ np.array([1.0, 2.0, 0.0]) + rng.normal(size=100)
    >>> fitter = linear_fitter_for(LinearRegression()).fit(X, y)
    >>> reduced = fitter.refit_without([1])
    >>> refit = LinearRegression().fit(X[:, [0, 2]], y)
    >>> bool(np.allclose(reduced.coef_[[0, 2]], refit.coef_))
    True
    """

    def __init__(self, alpha=0.0, fit_intercept=True, standardize=False, rank_tol=1e-6, estimator=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.rank_tol = rank_tol
        self.estimator = estimator

    # ------------------------------------------------------------------ parameters
    def _params(self):
        return {
            "alpha": self.alpha,
            "fit_intercept": self.fit_intercept,
            "standardize": self.standardize,
            "rank_tol": self.rank_tol,
            "estimator": self.estimator,
        }

    def _check_params(self):
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be a finite number >= 0; got {alpha!r}")
        for name in ("fit_intercept", "standardize"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False; got {getattr(self, name)!r}")
        tol = self.rank_tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not np.isfinite(tol) or tol < 0:
            raise ValueError(f"rank_tol must be a finite number >= 0; got {tol!r}")

    def _same_model(self, spec):
        """Whether the estimator described by ``spec`` fits the same model as this fitter."""
        if float(spec["alpha"]) != float(self.alpha) or spec["fit_intercept"] != bool(self.fit_intercept):
            return False
        if spec["standardize"] == bool(self.standardize):
            return True
        # A scaler before least squares with an intercept changes nothing.
        return float(self.alpha) == 0.0 and bool(self.fit_intercept)

    def _source_estimator(self):
        """The scikit-learn estimator this fitter stands for."""
        if self.estimator is not None:
            return self.estimator
        if float(self.alpha) > 0:
            final = Ridge(alpha=float(self.alpha), fit_intercept=bool(self.fit_intercept))
        else:
            final = LinearRegression(fit_intercept=bool(self.fit_intercept), tol=float(self.rank_tol))
        return make_pipeline(StandardScaler(), final) if self.standardize else final

    def _sklearn_view(self, estimator):
        """A :class:`SklearnFitter` on this fitter's training data, for regressions without a closed form."""
        view = SklearnFitter(estimator)
        view.X_train_, view.y_train_, view.sample_weight_ = self.X_train_, self.y_train_, self.sample_weight_
        return view

    @property
    def _columns_need_sklearn(self):
        # Scaler without intercept: the raw target x_j = s_j z_j + m_j has a constant part that the
        # no-intercept regression on the other (scaled) columns does not remove; no closed form from G.
        return bool(self.standardize) and not bool(self.fit_intercept)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, sample_weight=None):
        """Fit on ``(X, y)`` with optional weights; factorise the training design once.

        Parameters
        ----------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            Numeric design.
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights: weighted least squares, as scikit-learn fits it (weighted centring,
            rows scaled by the square root of their weight).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``alpha == 0`` and the design is (numerically) rank deficient; the message names the
            collinear columns.
        """
        self._check_params()
        Xf = _as_2d_float(X)
        n, p = Xf.shape
        yf = np.asarray(y, dtype=float)
        if yf.ndim != 1 or yf.shape[0] != n:
            raise ValueError(f"y must be 1-D with one value per row of X ({n}); got shape {yf.shape}")
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=float)
            if w.shape != (n,):
                raise ValueError(
                    f"sample_weight must be 1-D with one weight per row ({n}); got shape {w.shape}"
                )
            if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise ValueError("sample_weight must be finite, non-negative and not all zero")
        self.X_train_, self.y_train_, self.sample_weight_ = X, yf, w
        self.feature_names_ = (
            [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else [f"x{j}" for j in range(p)]
        )
        self.n_features_in_ = p
        alpha = float(self.alpha)
        fit_intercept = bool(self.fit_intercept)

        if self.standardize:  # unweighted, as in a pipeline (weights go to the last step only)
            scaler = StandardScaler().fit(Xf)
            mean, scale = scaler.mean_.astype(float), scaler.scale_.astype(float)
        else:
            mean, scale = np.zeros(p), np.ones(p)

        used = Xf if w is None else Xf[w > 0]
        if fit_intercept or self.standardize:
            from ._kernels import constant_columns

            null = constant_columns(used)
        else:
            null = np.all(used == 0, axis=0)
        active = ~null
        idx = np.flatnonzero(active)

        if fit_intercept:
            center = np.average(Xf, axis=0, weights=w)
            center[null] = used[0, null]  # exact: a constant column's mean is its value
            y_center = float(np.average(yf, weights=w))
        else:
            center = mean.copy()
            y_center = 0.0
        self.center_, self.scale_, self.y_center_, self.active_ = center, scale, y_center, active

        beta = np.zeros(p)
        G = np.zeros((p, p))
        self.factorisation_, self.factor_, self.factor_columns_ = None, np.zeros((0, 0)), idx[:0]
        if idx.size:
            A = Xf[:, idx] - center[idx] if idx.size < p else Xf - center
            if self.standardize:
                A /= scale[idx]
            b = yf - y_center
            if w is not None:
                sw = np.sqrt(w)
                A *= sw[:, None]
                b = b * sw
            # Equilibrate (unit column norms) on the Gram matrix, not on A: O(p^2) instead of two passes
            # over (n, p); the QR fallback equilibrates A itself.
            gram = A.T @ A
            norms = np.sqrt(np.diag(gram))
            n_rows = int(np.count_nonzero(w)) if w is not None else n
            k = idx.size
            factor = _cholesky_factor(gram / np.outer(norms, norms), (A.T @ b) / norms, alpha / norms**2)
            self.factorisation_ = "cholesky"
            if factor is None:
                A /= norms
                if alpha > 0:  # ridge is least squares on the augmented design
                    A = np.vstack([A, np.diag(np.sqrt(alpha) / norms)])
                    b = np.concatenate([b, np.zeros(k)])
                factor = _qr_factor(A, b, k)
                self.factorisation_ = "qr"
            R, R_inv, beta_scaled, piv = factor
            scale_piv = norms[piv]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                R_inv /= scale_piv[:, None]  # inverse of the unequilibrated factor R * diag(scale_piv)
                if alpha == 0.0:
                    self._check_rank(R, scale_piv, R_inv, idx[piv], n_rows)
                beta_piv = beta_scaled / scale_piv
            G_piv = R_inv @ R_inv.T
            order = idx[piv]
            self.factor_, self.factor_columns_ = R * scale_piv[None, :], order
            if np.array_equal(order, np.arange(p)):
                beta, G = beta_piv, G_piv
            else:
                beta[order] = beta_piv
                G[np.ix_(order, order)] = G_piv
            if not (np.all(np.isfinite(beta)) and np.all(np.isfinite(G))):  # pragma: no cover - guarded above
                raise ValueError("X: the least-squares problem could not be solved (non-finite factor)")
        self.beta_, self.G_ = beta, G
        self.coef_ = beta / scale
        self.intercept_ = float(y_center - center @ self.coef_)
        return self

    def _check_rank(self, R, scale_piv, R_inv, order, n_rows):
        """Raise if the (unequilibrated) factor ``R diag(scale_piv)`` is numerically singular."""
        k = len(order)
        threshold = max(float(self.rank_tol), max(n_rows, k) * _EPS)
        if R.shape[0] == k:
            R_full = R * scale_piv[None, :]
            # Frobenius-norm condition number: an upper bound on the 2-norm one; the SVD only if needed.
            bound = np.linalg.norm(R_full) * np.linalg.norm(R_inv)
            if np.isfinite(bound) and bound * threshold < 1.0:
                return
        else:
            R_full = np.vstack([R * scale_piv[None, :], np.zeros((k - R.shape[0], k))])
        _, s, vt = linalg.svd(R_full, check_finite=False)
        if s[-1] >= threshold * s[0]:
            return
        null = vt[s < threshold * s[0]]
        loading = np.abs(null).max(axis=0)
        involved = np.sort(order[loading > 1e-3 * loading.max()])
        names = [self.feature_names_[j] for j in involved]
        rank = int(np.count_nonzero(s >= threshold * s[0]))
        centred = "centred " if self.fit_intercept else ""
        rows = f" ({n_rows} rows with positive weight for {k} non-constant columns)" if n_rows <= k else ""
        raise ValueError(
            f"X: columns {names} (positions {involved.tolist()}) are collinear, or on a scale too small "
            f"for the others: the {centred}training design has numerical rank {rank} < {k}{rows} (smallest "
            f"singular value below {threshold:.3g} times the largest), so least squares is not identified. "
            "Drop, combine or rescale these columns, treat them as one group, use Ridge, or pass "
            "vimp.SklearnFitter(LinearRegression()) to keep scikit-learn's truncated least squares"
        )

    # ------------------------------------------------------------------ refits
    def _active_subset(self, columns):
        cols = _column_positions(columns, self.n_features_in_)
        return cols, cols[self.active_[cols]]

    def _centred(self, Xf):
        centred = Xf - self.center_
        if self.standardize:  # otherwise the scale is one: no second pass
            centred /= self.scale_
        return centred

    def refit_without(self, columns):
        """The model refitted on the training data without ``columns``, in closed form.

        Parameters
        ----------
        columns : sequence of int
            Column positions to drop (jointly).

        Returns
        -------
        fitted model
            Has ``predict(X)`` and ``losses(X, y, loss)`` on the full-width design, ``coef_`` over the full
            width (zero at ``columns``) and ``intercept_``.
        """
        cols, sa = self._active_subset(columns)
        beta = self.beta_.copy()
        if sa.size:
            G = self.G_
            shift = _spd_solve(G[np.ix_(sa, sa)], self.beta_[sa])
            beta -= G[:, sa] @ shift
        beta[cols] = 0.0
        coef = beta / self.scale_
        return _ReducedLinearModel(coef, self.y_center_ - self.center_ @ coef, cols)

    def refit_permuted(self, columns, perm):
        """A new fitter, fitted on the training data with ``columns`` permuted jointly by ``perm``."""
        X_perm = permute_columns(self.X_train_, np.asarray(columns, dtype=np.intp), perm)
        return LinearFitter(**self._params()).fit(X_perm, self.y_train_, self.sample_weight_)

    def regress_columns(self, columns, estimator=None):
        """A fitted model of ``X[:, columns]`` on the other columns (one regression per column).

        Parameters
        ----------
        columns : sequence of int
        estimator : scikit-learn regressor, optional
            Default: this fitter's own model. An estimator that fits the same model (same ``alpha``,
            intercept and scaling) is answered in closed form from ``G_``; any other one is fitted by
            scikit-learn, as :meth:`vimp.SklearnFitter.regress_columns` does.

        Returns
        -------
        fitted model
            ``predict(X)`` returns the fitted values, shape (n, len(columns)).
        """
        cols = _column_positions(columns, self.n_features_in_)
        if estimator is not None:
            spec = _linear_spec(estimator)
            if spec is None or not self._same_model(spec):
                return self._sklearn_view(estimator).regress_columns(cols, estimator)
        if self._columns_need_sklearn:
            source = self._source_estimator() if estimator is None else estimator
            return self._sklearn_view(source).regress_columns(cols, source)
        return _LinearColumnModel(self, cols)

    def residuals_each(self, X, y):
        """:meth:`residuals_without` for every single column at once, from one product ``Z_c G``.

        Returns
        -------
        x_resid, y_resid : ndarrays of shape (n, n_features)
            Column ``j``: the residual of ``X[:, j]`` on the other columns, and ``y`` minus the prediction
            of the model refitted without column ``j`` (for a column left out of the fit as constant:
            ``X[:, j]`` minus its training value, and the full model's residual).
            None when the x-regressions need scikit-learn (a scaler before a model without intercept).
        """
        if self._columns_need_sklearn:
            return None
        Xf = _as_2d_float(X)
        self._check_width(Xf)
        yf = np.asarray(y, dtype=float)
        if yf.shape != (Xf.shape[0],):
            raise ValueError(f"y must be 1-D with one value per row of X ({Xf.shape[0]}); got shape {yf.shape}")
        residual = yf - (Xf @ self.coef_ + self.intercept_)
        if self.active_.all():  # the common case, in few passes and two (n, p) allocations
            centred = self._centred(Xf)
            V = centred @ self.G_
            diag = np.diag(self.G_)
            x_resid = np.multiply(V, self.scale_ / diag, out=centred)  # the centred copy is not needed again
            y_resid = V
            y_resid *= self.beta_ / diag
            y_resid += residual[:, None]
            return x_resid, y_resid
        active = np.flatnonzero(self.active_)
        y_resid = np.repeat(residual[:, None], Xf.shape[1], axis=1)
        x_resid = Xf - (self.center_ if self.fit_intercept else 0.0)
        if active.size:
            V = self._centred(Xf) @ self.G_[:, active]
            diag = np.diag(self.G_)[active]
            x_resid[:, active] = V / diag * self.scale_[active]
            y_resid[:, active] += V * (self.beta_[active] / diag)
        return x_resid, y_resid

    def residuals_without(self, X, y, columns):
        """Residuals of ``X[:, columns]`` and of ``y`` on the other columns, on evaluation data.

        Parameters
        ----------
        X : ndarray or DataFrame of shape (n, n_features)
        y : array-like of shape (n,)
        columns : sequence of int

        Returns
        -------
        x_resid : ndarray of shape (n, len(columns))
            ``X[:, columns]`` minus its regression on the other columns (fitted on the training data).
        y_resid : ndarray of shape (n,)
            ``y`` minus the prediction of the model refitted without ``columns``:
            ``y - pred + Z_c G[:, S] G[S, S]^{-1} beta_S``.
        """
        Xf = _as_2d_float(X)
        self._check_width(Xf)
        yf = np.asarray(y, dtype=float)
        if yf.shape != (Xf.shape[0],):
            raise ValueError(f"y must be 1-D with one value per row of X ({Xf.shape[0]}); got shape {yf.shape}")
        cols, sa = self._active_subset(columns)
        y_resid = yf - (Xf @ self.coef_ + self.intercept_)
        if sa.size:
            G = self.G_
            V = self._centred(Xf) @ G[:, sa]
            H = G[np.ix_(sa, sa)]
            y_resid += V @ _spd_solve(H, self.beta_[sa])
        if self._columns_need_sklearn:
            x_resid = Xf[:, cols] - self.regress_columns(cols).predict(X)
        else:
            x_resid = np.empty((Xf.shape[0], cols.size))
            active = self.active_[cols]
            if sa.size:
                x_resid[:, active] = _spd_solve(H, V.T).T * self.scale_[sa]
            for k in np.flatnonzero(~active):
                c = cols[k]
                x_resid[:, k] = Xf[:, c] - (self.center_[c] if self.fit_intercept else 0.0)
        return x_resid, y_resid

    # ------------------------------------------------------------------ losses with kernels
    def permutation_losses(self, X, y, columns, perms, loss, sample_weight=None):
        """Permute-and-predict losses, through the compiled kernel for squared and absolute error.

        Same inputs and outputs as :meth:`vimp.Fitter.permutation_losses`; other losses, and weights, take
        the generic path (with the rank-one :meth:`predict_permuted`).
        """
        if loss.kernel_code is None or sample_weight is not None:
            return super().permutation_losses(X, y, columns, perms, loss, sample_weight=sample_weight)
        from ._kernels import pap_linear_losses

        Xf = _as_2d_float(X)
        self._check_width(Xf)
        cols = _column_positions(columns, Xf.shape[1])
        perms = np.ascontiguousarray(np.atleast_2d(perms), dtype=np.int64)
        n = Xf.shape[0]
        if perms.ndim != 2 or perms.shape[1] != n:
            raise ValueError(f"perms must have shape (n_permutations, {n}); got {perms.shape}")
        yf = np.ascontiguousarray(y, dtype=np.float64)
        pred = np.ascontiguousarray(Xf @ self.coef_ + self.intercept_)
        x_cols = np.ascontiguousarray(Xf[:, cols])
        coef = np.ascontiguousarray(self.coef_[cols])
        return pap_linear_losses(yf, pred, x_cols, coef, perms, int(loss.kernel_code))

    def permutation_terms(self, X, y, columns, perms, loss, sample_weight=None, full=None):
        """Permute-and-predict loss sums for the standard error, with rank-one permuted predictions.

        Same inputs and outputs as :meth:`vimp.Fitter.permutation_terms`. The model predicts once; each
        permutation's prediction is ``pred + h[perm] - h`` with ``h = X[:, S] @ coef_[S]``, so a repeat
        costs O(n) instead of a permuted copy of ``X`` and a full prediction. Squared and absolute error
        without weights go through the compiled kernel ``pap_linear_terms``; other losses, and weights (the
        kernel's repeat means are unweighted), through NumPy.
        """
        return self.permutation_terms_groups(X, y, [columns], [perms], loss, sample_weight, full)[0]

    def permutation_terms_groups(self, X, y, groups, perms, loss, sample_weight=None, full=None):
        """:meth:`permutation_terms` for several column groups, predicting ``X`` once for all of them.

        Parameters
        ----------
        X, y, loss, sample_weight, full
            As in :meth:`vimp.Fitter.permutation_terms`.
        groups : list of sequences of int
            Column positions of each group.
        perms : iterable of ndarrays of shape (R_g, n)
            Each group's row permutations, one array per group, consumed in order (a generator may draw
            them as they are needed).

        Returns
        -------
        list of PermutationTerms
            One per group, in order.
        """
        Xf = _as_2d_float(X)
        self._check_width(Xf)
        n = Xf.shape[0]
        yf = np.ascontiguousarray(y, dtype=np.float64)
        pred = np.ascontiguousarray(Xf @ self.coef_ + self.intercept_)
        full = loss(yf, pred, None) if full is None else np.asarray(full, dtype=float)
        full = np.ascontiguousarray(full)
        use_kernel = loss.kernel_code is not None and sample_weight is None
        unit_weight = np.ones(n)  # the kernel path is unweighted
        out = []
        for columns, group_perms in zip(groups, perms, strict=True):
            cols = _column_positions(columns, Xf.shape[1])
            group_perms = np.atleast_2d(np.asarray(group_perms))
            if group_perms.ndim != 2 or group_perms.shape[1] != n:
                raise ValueError(f"perms must have shape (n_permutations, {n}); got {group_perms.shape}")
            if use_kernel:
                from ._kernels import pap_linear_terms

                out.append(PermutationTerms(*pap_linear_terms(
                    yf, pred, np.ascontiguousarray(Xf[:, cols]), np.ascontiguousarray(self.coef_[cols]),
                    np.ascontiguousarray(group_perms, dtype=np.int64), unit_weight, full,
                    int(loss.kernel_code))))
                continue
            part = Xf[:, cols] @ self.coef_[cols]  # rank one: pred + part[perm] - part
            out.append(permutation_terms_from_losses(
                group_perms.astype(np.intp, copy=False),
                lambda perm, part=part: loss(yf, pred + (part[perm] - part), None), full, sample_weight))
        return out

    def drop_losses(self, X, y, columns, loss):
        """Per-observation losses of the model refitted without ``columns``, through the compiled kernel.

        Other losses than squared and absolute error take the generic path.
        """
        if loss.kernel_code is None:
            return super().drop_losses(X, y, columns, loss)
        from ._kernels import group_drop_losses

        Xf = _as_2d_float(X)
        self._check_width(Xf)
        cols, sa = self._active_subset(columns)
        yf = np.ascontiguousarray(y, dtype=np.float64)
        pred = np.ascontiguousarray(Xf @ self.coef_ + self.intercept_)
        if sa.size:
            G = self.G_
            xg = np.ascontiguousarray(self._centred(Xf) @ G[:, sa])
            shift = np.ascontiguousarray(_spd_solve(G[np.ix_(sa, sa)], self.beta_[sa]))
        else:
            xg, shift = np.zeros((Xf.shape[0], 0)), np.zeros(0)
        return group_drop_losses(yf, pred, xg, shift, int(loss.kernel_code))

    def drop_one_losses(self, X, y, loss):
        """Losses of every drop-one refit at once, shape (n, n_features).

        Column ``j`` holds the per-observation losses of the model refitted without column ``j``
        (one ``n x p x p`` product and the compiled kernel for squared and absolute error; other losses
        loop over :meth:`drop_losses`).
        """
        Xf = _as_2d_float(X)
        self._check_width(Xf)
        p = Xf.shape[1]
        if loss.kernel_code is None:
            return np.column_stack([self.drop_losses(Xf, y, [j], loss) for j in range(p)])
        from ._kernels import loco_linear_losses

        yf = np.ascontiguousarray(y, dtype=np.float64)
        pred = np.ascontiguousarray(Xf @ self.coef_ + self.intercept_)
        xg = np.ascontiguousarray(self._centred(Xf) @ self.G_)
        diag = np.diag(self.G_)
        shift = np.zeros(p)
        shift[self.active_] = self.beta_[self.active_] / diag[self.active_]
        return loco_linear_losses(yf, pred, xg, shift, int(loss.kernel_code))
