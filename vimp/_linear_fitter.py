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

Least squares that one factorisation cannot answer as scikit-learn does (collinear columns, more columns
than rows, extreme column scales) falls back to scikit-learn's own minimum-norm solution, refitted per set
of columns, with a :class:`vimp.RankDeficiencyWarning` where the design is rank deficient: a design that
``LinearRegression`` fits is never refused (see :class:`LinearFitter`, Notes).
"""

from __future__ import annotations

import copy
import numbers
import os
import re
import sys
import warnings

import numpy as np
import pandas as pd
import sklearn
from scipy import linalg
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ._data import as_float_array, permute_columns, take_rows
from ._fitters import Fitter, PermutationTerms, SklearnFitter, permutation_terms_from_losses
from ._threads import SHARED_STEP_COST, run_coarse
from ._warnings import RankDeficiencyWarning

__all__ = ["LinearFitter", "linear_fitter_for"]

_EPS = np.finfo(np.float64).eps

#: Column norms (of the centred, weighted design) outside this range leave the one-factorisation path:
#: its Gram matrix and inverse would overflow or underflow. Least squares then goes through
#: :func:`_minimum_norm_least_squares`, which LAPACK scales internally.
_NORM_RANGE = (1e-140, 1e140)

_SKLEARN_VERSION = tuple(
    int(part) for part in re.match(r"(\d+)\.(\d+)", sklearn.__version__).groups()  # type: ignore[union-attr]
)


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
    if (isinstance(columns, np.ndarray) and columns.shape == (1,) and np.issubdtype(columns.dtype, np.integer)
            and 0 <= columns[0] < n_features):
        return columns.astype(np.intp)  # the same as an array of one position (an estimator's groups)
    cols = np.atleast_1d(np.asarray(columns))
    if cols.ndim != 1 or cols.size == 0 or not np.issubdtype(cols.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty list of integer column positions; got {columns!r}")
    cols = cols.astype(np.intp)
    if cols.min() < 0 or cols.max() >= n_features:
        raise ValueError(f"{name} must be column positions in 0..{n_features - 1}; got {cols.tolist()}")
    if np.unique(cols).size != cols.size:
        raise ValueError(f"{name} must not repeat a column; got {cols.tolist()}")
    return cols


class GroupTerms(list):
    """The :class:`PermutationTerms` of several groups, whose arrays are views of one ``block`` of shape
    (groups, 5, n) in :func:`vimp._kernels.linear_nb.pap_linear_groups`'s layout (kept as ``.block``, so
    that the standard errors of all groups can be computed in one call)."""

    block = None


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


# ----------------------------------------------------------------------------- minimum-norm least squares
def _lstsq_cutoff(tol, shape):
    """The ``cond`` that scikit-learn's ``LinearRegression`` passes to ``scipy.linalg.lstsq`` (dense X).

    Singular values at or below ``cond`` times the largest are treated as zero. scikit-learn 1.9 passes
    ``tol``; 1.6 to 1.8 pass ``max(X.shape) * eps`` (scikit-learn PR 30040); earlier versions pass nothing,
    and SciPy uses ``eps``.
    """
    if _SKLEARN_VERSION >= (1, 9):
        return float(tol)
    if _SKLEARN_VERSION >= (1, 6):  # pragma: no cover - depends on the installed scikit-learn
        return max(shape) * _EPS
    return _EPS  # pragma: no cover - depends on the installed scikit-learn


def _minimum_norm_least_squares(Z, target, sample_weight, fit_intercept, cond):
    """Least squares of ``target`` on ``Z`` exactly as ``LinearRegression.fit`` computes it (dense X).

    With an intercept, ``Z`` and ``target`` are centred at their weighted means; rows are scaled by the
    square roots of their weights; ``scipy.linalg.lstsq`` (LAPACK ``gelsd``: the minimum-norm solution,
    singular values at or below ``cond`` times the largest treated as zero) gives the coefficients, and
    the intercept is ``mean(target) - mean(Z) @ coef`` (scikit-learn's ``_preprocess_data``,
    ``_rescale_data`` and ``_set_intercept``).

    Parameters
    ----------
    Z : ndarray of shape (n, k)
    target : ndarray of shape (n,) or (n, m)
    sample_weight : ndarray of shape (n,) or None
    fit_intercept : bool
    cond : float

    Returns
    -------
    coef : ndarray of shape (k,) or (k, m)
    intercept : float or ndarray of shape (m,)
    rank : int
        The numerical rank that ``lstsq`` used.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked for below
        if fit_intercept:
            offset = np.average(Z, axis=0, weights=sample_weight)
            target_offset = np.average(target, axis=0, weights=sample_weight)
            A, b = Z - offset, target - target_offset
        else:
            offset, target_offset = np.zeros(Z.shape[1]), np.zeros(target.shape[1:])
            A, b = np.array(Z, dtype=float), np.array(target, dtype=float)
        if sample_weight is not None:
            root = np.sqrt(sample_weight)
            A *= root[:, None]
            b = b * (root[:, None] if b.ndim == 2 else root)
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        raise ValueError(
            "X: the centred, weighted training design (or response) overflows to inf: its values are too "
            f"large for floating point (largest |X| entry {np.nanmax(np.abs(Z)):.3g}). Rescale X (and y)"
        )
    with np.errstate(over="ignore", under="ignore"):  # scipy's residual sums, which are not used
        coef, _, rank, _ = linalg.lstsq(A, b, cond=cond, check_finite=False)
    if not np.all(np.isfinite(coef)):
        raise ValueError("X: least squares on the training design gave non-finite coefficients; rescale X")
    return coef, target_offset - offset @ coef, int(rank)


def _null_space_columns(A, cond):
    """Numerical rank of ``A`` (singular values above ``cond`` times the largest) and the columns that load
    on its null space (those involved in the collinearity)."""
    k = A.shape[1]
    R = linalg.qr(A, mode="r", check_finite=False)[0]  # same singular values as A, at most k x k
    _, s, vt = linalg.svd(R, full_matrices=True, check_finite=False)
    rank = int(np.count_nonzero(s > cond * s[0])) if s.size and s[0] > 0 else 0
    null = vt[rank:]
    if rank == k or null.size == 0:
        return rank, np.zeros(0, dtype=np.intp)
    loading = np.abs(null).max(axis=0)
    return rank, np.flatnonzero(loading > 1e-3 * loading.max())


def _stacklevel_outside_package():
    """The ``stacklevel`` that makes a warning point at the first caller outside the vimp package.

    Counted from the function that calls ``warnings.warn``; 2 when every frame is inside vimp (a worker
    thread, for instance).
    """
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(2), 2
    while frame is not None:
        if not os.path.abspath(frame.f_code.co_filename).startswith(package):
            return level
        frame, level = frame.f_back, level + 1
    return 2  # pragma: no cover - a stack entirely inside vimp


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


class _MinimumNormColumnModel:
    """Regressions of ``X[:, columns]`` on the other columns by minimum-norm least squares, as
    :meth:`vimp.SklearnFitter.regress_columns` fits them with ``LinearRegression`` (the fallback path of
    :class:`LinearFitter`): one ``lstsq`` with a column of right-hand sides per target.

    ``predict(X)`` returns the fitted values, shape (n, len(columns)); ``residuals(X)`` returns
    ``X[:, columns] - predict(X)``.
    """

    def __init__(self, fitter, columns):
        self._fitter = fitter
        self.columns = columns
        keep = np.setdiff1d(np.arange(fitter.n_features_in_), columns)
        targets = fitter._train_float()[:, columns]
        self.coef_, self.intercept_ = fitter._minimum_norm_refit(keep, targets)

    def predict(self, X):
        """Fitted values of ``X[:, columns]`` from the other columns, shape (n, len(columns))."""
        Xf = _as_2d_float(X)
        self._fitter._check_width(Xf)
        return Xf @ self.coef_ + self.intercept_

    def residuals(self, X):
        """Residuals ``X[:, columns] - predict(X)``, shape (n, len(columns))."""
        Xf = _as_2d_float(X)
        return Xf[:, self.columns] - self.predict(Xf)



# ----------------------------------------------------------------------------- cross-fitting from moments
#: Whether :meth:`LinearFitter.fit_folds` fits the folds from per-fold moment blocks (True) or fits each
#: fold on a copy of its training rows (False, the reference path; the tests and
#: ``benchmarks/crossfit.py`` compare the two).
CROSSFIT_FROM_MOMENTS = True

#: Rows of a fold that :meth:`LinearFitter.residuals_fold_into` gathers and multiplies at a time: two
#: buffers of this many rows are reused for every chunk of every fold (about 1 MB at 64 columns).
RESIDUAL_CHUNK = 1024

#: Largest ratio of the centring correction of a fold's Gram matrix (the moments are taken about one
#: common shift and corrected to the fold's mean) to the corrected diagonal. The correction is subtracted,
#: so its rounding error grows with this ratio; beyond it the fold is fitted on its own rows.
_MAX_CENTRING_RATIO = 1e2


def _partition_owner(folds, n):
    """Each row's fold when the folds' test parts partition the rows and every training part is the
    complement of its test part (K-fold cross-fitting); else None. Folds checked by
    :func:`vimp._split.check_folds` carry the answer (``Folds.owner``) and are not checked again."""
    cached = getattr(folds, "owner", None)
    if cached is not None and len(cached) == n:
        return cached
    owner = np.full(n, -1, dtype=np.intp)
    total = 0
    for f, (train, test) in enumerate(folds):
        if test is None:
            return None
        train, test = np.asarray(train), np.asarray(test)
        if (train.ndim != 1 or test.ndim != 1 or not np.issubdtype(train.dtype, np.integer)
                or not np.issubdtype(test.dtype, np.integer) or test.size == 0):
            return None
        if test.min() < 0 or test.max() >= n or np.any(owner[test] != -1):
            return None
        owner[test] = f
        total += test.size
    if total != n:  # a repeated test row: some row is not covered
        return None
    for f, (train, test) in enumerate(folds):
        train = np.asarray(train)
        if train.size != n - len(test) or train.size == 0 or train.min() < 0 or train.max() >= n:
            return None
        if np.any(owner[train] == f) or np.bincount(train, minlength=n).max() > 1:
            return None
    return owner


def _float_rows(X, rows):
    """Rows ``rows`` of ``X`` as a new float64 array (a DataFrame is converted block by block)."""
    if isinstance(X, pd.DataFrame):
        return X.iloc[rows].to_numpy(dtype=float, copy=True)  # writeable (pandas may hand out a view)
    return np.asarray(X[rows], dtype=float)


def _compiled_rows(X, w=None):
    """Whether rows of ``X`` can be gathered by the compiled kernels (an unweighted float64 array)."""
    return w is None and isinstance(X, np.ndarray) and X.dtype == np.float64 and X.ndim == 2


def _block_moments(X, y, w, rows, shift, y_shift, standardize, work=None):
    """Moments of the rows ``rows`` about ``(shift, y_shift)``: everything a fold's fit needs from them.

    ``work``: an array of at least ``len(rows)`` rows and ``X``'s columns for the shifted copy on the
    compiled path (overwritten; the caller reuses it for every fold, so that a cross-fitting call takes
    fresh pages once, not once per fold).
    """
    shift = np.asarray(shift, dtype=np.float64)
    if _compiled_rows(X, w):
        # the copy, its extremes, the shift and its sums in one compiled pass
        from ._kernels import gather_shifted_rows

        p = X.shape[1]
        A = np.empty((len(rows), p)) if work is None else work[:len(rows)]
        lo, hi, total = np.empty(p), np.empty(p), np.empty(p)
        gather_shifted_rows(X, np.ascontiguousarray(rows, dtype=np.intp), np.broadcast_to(shift, (p,)), A, lo,
                            hi, total)
        moments = {"lo": lo, "hi": hi, "n_pos": A.shape[0]}
    else:
        A = _float_rows(X, rows)
        used = A if w is None else A[w[rows] > 0]
        moments = {
            "lo": used.min(axis=0) if used.shape[0] else np.full(A.shape[1], np.inf),
            "hi": used.max(axis=0) if used.shape[0] else np.full(A.shape[1], -np.inf),
            "n_pos": used.shape[0],
        }
        A -= shift
        total = A.sum(axis=0) if w is None or standardize else None
    u = y[rows] - y_shift
    if standardize:  # the scaler's (unweighted) moments
        moments["su"] = total
        moments["squ"] = np.einsum("ij,ij->j", A, A)
    if w is None:
        moments["sw"] = float(A.shape[0])
        moments["s"] = total
        moments["sy"] = float(u.sum())
        moments["t"] = A.T @ u
        moments["S"] = A.T @ A
    else:
        wb = w[rows]
        moments["sw"] = float(wb.sum())
        moments["s"] = wb @ A
        moments["sy"] = float(wb @ u)
        root = np.sqrt(wb)
        A *= root[:, None]
        moments["t"] = A.T @ (u * root)
        moments["S"] = A.T @ A
    return moments


def _scaler_is_constant(var, mean, n_samples):
    """scikit-learn's test for a feature that its StandardScaler treats as constant (scale 1), with a
    margin of 10: near it, the moment path leaves the fold to the scaler itself."""
    eps = np.finfo(np.float64).eps
    upper = n_samples * eps * var + (n_samples * mean * eps) ** 2
    return var <= 10.0 * upper


class _TrainingRows:
    """A fold fitter's training data: the full data and the fold's row positions, taken on use."""

    __slots__ = ("X", "y", "w", "rows")

    def __init__(self, X, y, w, rows):
        self.X, self.y, self.w, self.rows = X, y, w, rows


def _training_attribute(name):
    """A property for ``X_train_``, ``y_train_`` or ``sample_weight_``: set by :meth:`LinearFitter.fit`,
    or taken from the full data by row positions (a fold of :meth:`LinearFitter.fit_folds`)."""
    key = "_" + name

    def getter(self):
        if key in self.__dict__:
            return self.__dict__[key]
        source = self.__dict__.get("_training_rows")
        if source is None:
            raise AttributeError(name)
        if name == "X_train_":
            return take_rows(source.X, source.rows)
        if name == "y_train_":
            return source.y[source.rows]
        return None if source.w is None else source.w[source.rows]

    def setter(self, value):
        self.__dict__[key] = value
        self.__dict__.pop("_training_rows", None) if name == "X_train_" else None

    return property(getter, setter, doc=f"The training data ({name}); see the class Notes.")


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
        For ``alpha=0``: the design is treated as rank deficient when its smallest singular value is below
        ``rank_tol`` times its largest (after centring, weighting and scaling; never less than
        ``max(n, p) * eps``), and is then fitted by the minimum-norm fallback (see Notes).
        ``LinearRegression(tol=t)`` is given ``rank_tol=t``, because scikit-learn (1.9 and later) passes
        ``tol`` to ``scipy.linalg.lstsq`` as its cutoff and truncates singular values at that threshold.
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
    factorisation_ : {"cholesky", "qr", "lstsq"} or None
        How the Gram matrix was factorised (see Notes); ``"lstsq"`` on the minimum-norm fallback (no
        factor; ``G_`` is None); None if every column is constant.
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

    **Constant columns.** With an intercept (or after a scaler, which centres it to zero), a column that is
    constant on the rows with positive weight carries no information: its coefficient is 0, exactly the
    minimum-norm answer of ``LinearRegression``, and it is left out of the factorisation, silently. Its
    refits leave the model unchanged, and its regression on the other columns is its training mean.
    *Without* an intercept (and without a scaler) a constant column is the model's intercept: it is an
    ordinary column, and its refits, regressions and drop-one losses are the true ones (only an all-zero
    column is left out then).

    **Collinearity, p > n and extreme scales: the minimum-norm fallback.** For ``alpha=0``, where the
    one-factorisation answers are not scikit-learn's (a smallest singular value of the unequilibrated
    design below ``rank_tol`` times its largest, where scikit-learn truncates; fewer rows with positive
    weight than non-constant columns; or column norms outside ``[1e-140, 1e140]``, where the Gram matrix
    and its inverse over- or underflow), the fitter computes what ``LinearRegression`` computes: the design
    (after the scaler, if any) and the response centred at their weighted means, rows scaled by the square
    roots of their weights, ``scipy.linalg.lstsq`` (LAPACK ``gelsd``: the minimum-norm solution, with
    scikit-learn's cutoff) and the intercept ``mean(y) - mean(X) @ coef``. Every refit and column
    regression is then solved the same way, one ``lstsq`` per set of columns, as scikit-learn would fit it:
    exact (equal to :class:`vimp.SklearnFitter` to rounding), but not one-factorisation fast (a LOCO of
    ``p`` features costs ``p`` solves). When singular values are truncated (not when only the scales are
    extreme), :meth:`fit` warns once with a :class:`vimp.RankDeficiencyWarning` naming the collinear
    columns (those that load on the null space), or saying that there are more columns than rows;
    refits do not warn again. Ridge (``alpha > 0``) is always identified and never needs the fallback.

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

    X_train_ = _training_attribute("X_train_")
    y_train_ = _training_attribute("y_train_")
    sample_weight_ = _training_attribute("sample_weight_")

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
        if float(spec["rank_tol"]) != float(self.rank_tol):  # sklearn's truncation threshold
            return False
        if spec["standardize"] == bool(self.standardize):
            return True
        if self._minimum_norm:  # truncated least squares depends on the scaling
            return False
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
            If the design's values overflow (centring, weighting or a scaler give inf): the message names
            ``X``. A rank-deficient least-squares design is fitted as scikit-learn fits it, with a warning.

        Warns
        -----
        RankDeficiencyWarning
            If ``alpha == 0`` and scikit-learn's least squares truncates singular values of the design (it is
            collinear, or has more columns than rows): the fit and all refits then use minimum-norm least
            squares (see Notes).
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
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused just below
                scaler = StandardScaler().fit(Xf)
            mean, scale = scaler.mean_.astype(float), scaler.scale_.astype(float)
            bad = ~(np.isfinite(mean) & np.isfinite(scale))
            if bad.any():
                raise ValueError(
                    f"X: the StandardScaler's mean or standard deviation of columns {np.flatnonzero(bad).tolist()} "
                    "overflows (values too large for floating point); rescale X"
                )
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
            with np.errstate(over="ignore"):  # an overflowing mean leaves the fast path below
                center = np.average(Xf, axis=0, weights=w)
            center[null] = used[0, null]  # exact: a constant column's mean is its value
            y_center = float(np.average(yf, weights=w))
        else:
            center = mean.copy()
            y_center = 0.0
        self.center_, self.scale_, self.y_center_, self.active_ = center, scale, y_center, active

        self._z_mean = mean
        beta = np.zeros(p)
        G = np.zeros((p, p))
        self.factorisation_, self.factor_, self.factor_columns_ = None, np.zeros((0, 0)), idx[:0]
        if idx.size:
            n_rows = int(np.count_nonzero(w)) if w is not None else n
            k = idx.size
            if alpha == 0.0 and n_rows < k:  # more columns than rows: least squares is not unique
                return self._fit_minimum_norm(Xf, yf, w)
            with np.errstate(over="ignore", invalid="ignore"):  # non-finite values leave the fast path
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
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                gram = A.T @ A
                norms = np.sqrt(np.diag(gram))
                in_range = bool(np.all(np.isfinite(gram)) and norms.min() > _NORM_RANGE[0]
                                and norms.max() < _NORM_RANGE[1])
            if not in_range:
                if alpha == 0.0:
                    return self._fit_minimum_norm(Xf, yf, w)
                raise ValueError(
                    "X: the centred, weighted training columns have norms between "
                    f"{np.nanmin(norms):.3g} and {np.nanmax(norms):.3g}, outside the range "
                    f"[{_NORM_RANGE[0]:.0e}, {_NORM_RANGE[1]:.0e}] where ridge regression is solved accurately "
                    "here; rescale X (for example with a StandardScaler before Ridge)"
                )
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
                if alpha == 0.0 and self._needs_minimum_norm(R, scale_piv, R_inv, n_rows):
                    return self._fit_minimum_norm(Xf, yf, w)
                beta_piv = beta_scaled / scale_piv
            G_piv = R_inv @ R_inv.T
            order = idx[piv]
            self.factor_, self.factor_columns_ = R * scale_piv[None, :], order
            if np.array_equal(order, np.arange(p)):
                beta, G = beta_piv, G_piv
            else:
                beta[order] = beta_piv
                G[np.ix_(order, order)] = G_piv
            if not (np.all(np.isfinite(beta)) and np.all(np.isfinite(G))):
                if alpha == 0.0:  # pragma: no cover - guarded above
                    return self._fit_minimum_norm(Xf, yf, w)
                raise ValueError("X: the ridge problem could not be solved (non-finite factor); rescale X")
        self.beta_, self.G_ = beta, G
        self.coef_ = beta / scale
        self.intercept_ = float(y_center - center @ self.coef_)
        return self

    def fit_folds(self, X, y, sample_weight, folds):
        """Fitted copies of this (unfitted) fitter, one per fold, each on its fold's training rows.

        Each result equals ``LinearFitter(**params).fit(X[train], y[train], sample_weight[train])`` to
        rounding. When the folds' test parts partition the rows and every training part is the
        complement of its test part (K-fold cross-fitting), the design is read once, in K blocks (the
        test parts), and every fold is solved from the sum of the other blocks' moments (Gram matrix,
        ``X'y``, column sums) with one ``p x p`` Cholesky factorisation: no copy of any fold's training
        rows, and one pass over the data instead of K - 1. A fold whose Gram matrix is not well
        conditioned (the Cholesky path of :meth:`fit` would pass it to the pivoted QR of its rows), needs
        the minimum-norm fallback, has a constant column, or whose centring correction is large (see
        Notes) is fitted by :meth:`fit` on its own rows, so every check of :meth:`fit` still holds
        (a :class:`vimp.RankDeficiencyWarning` included).

        Parameters
        ----------
        X : ndarray or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : ndarray of shape (n_samples,) or None
        folds : list of (train, test) pairs of integer row positions

        Returns
        -------
        list of LinearFitter
            A fold fitted from the moments keeps the full data and its row positions, not a copy of its
            rows: ``X_train_`` and ``y_train_`` are taken from them when something asks for them.

        Notes
        -----
        The moments of each block are taken about one common shift (the first block's column means) and
        corrected to each fold's weighted mean by the rank-one term ``s s' / sum(w)`` (``s``: the fold's
        weighted sum of the shifted rows). Blocks are added, never subtracted from a full-data total, so
        no accuracy is lost to downdating; the one subtraction, the centring correction, is trusted while
        its diagonal is at most ``_MAX_CENTRING_RATIO`` (100) times the corrected diagonal (it is of the
        order of ``1/n`` of it for shuffled folds).
        """
        self._check_params()
        n = len(y)
        # A subclass may change fit: it is fitted fold by fold, as any fitter.
        exact = CROSSFIT_FROM_MOMENTS and len(folds) >= 2 and type(self) is LinearFitter
        owner = _partition_owner(folds, n) if exact else None

        def fit_rows(train):
            fitter = copy.deepcopy(self)  # unfitted: its parameters (and a subclass's type)
            return fitter.fit(take_rows(X, train), np.asarray(y)[train],
                              None if sample_weight is None else sample_weight[train])

        if owner is None or getattr(X, "ndim", 2) != 2:
            return [fit_rows(train) for train, _ in folds]
        yf = np.asarray(y, dtype=float)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        standardize = bool(self.standardize)
        first = np.asarray(folds[0][1])
        work = None
        if _compiled_rows(X, w):  # one buffer for every fold's shifted copy (fresh pages once)
            from ._kernels import gather_shifted_rows

            p = X.shape[1]
            work = np.empty((max(len(test) for _, test in folds), p))
            total = np.empty(p)
            # the first fold's column means, as ``X[first].mean(axis=0)`` gives them (NumPy sums axis 0
            # of a C-ordered array row after row, then divides), without a copy of its own
            gather_shifted_rows(X, np.ascontiguousarray(first, dtype=np.intp), np.zeros(p), work[:len(first)],
                                np.empty(p), np.empty(p), total)
            shift = total / len(first)
        else:
            shift = _float_rows(X, first).mean(axis=0)
        y_shift = float(yf[first].mean())
        # Each block is read in row order (its rows' moments do not depend on the order up to rounding,
        # and a gather in order runs about 1.6x faster than one in a shuffled fold's order).
        blocks = [_block_moments(X, yf, w, np.flatnonzero(owner == f) if work is not None else np.asarray(test),
                                 shift, y_shift, standardize, work)
                  for f, (_, test) in enumerate(folds)]
        del work
        out = []
        for f, (train, test) in enumerate(folds):
            others = [b for g, b in enumerate(blocks) if g != f]
            fitter = self._fit_from_moments(others, len(train), shift, y_shift)
            if fitter is None:
                out.append(fit_rows(train))
                continue
            fitter.feature_names_ = (
                [str(c) for c in X.columns] if isinstance(X, pd.DataFrame)
                else [f"x{j}" for j in range(X.shape[1])])
            fitter.__dict__["_training_rows"] = _TrainingRows(X, yf, w, np.asarray(train))
            out.append(fitter)
        return out

    def _fit_from_moments(self, blocks, n_train, shift, y_shift):
        """A fitted copy from the moments of the training blocks, or None if they do not suffice."""
        p = shift.shape[0]
        total = {key: sum(b[key] for b in blocks) for key in ("n_pos", "sw", "s", "sy", "t", "S")}
        lo = np.min([b["lo"] for b in blocks], axis=0)
        hi = np.max([b["hi"] for b in blocks], axis=0)
        alpha, fit_intercept = float(self.alpha), bool(self.fit_intercept)
        sw, s, sy = total["sw"], total["s"], total["sy"]
        if not sw > 0:
            return None
        if self.standardize:
            su = sum(b["su"] for b in blocks)
            squ = sum(b["squ"] for b in blocks)
            d = su / n_train
            var = squ / n_train - d * d
            mean = shift + d
            if np.any(var <= 0) or np.any(d * d > _MAX_CENTRING_RATIO * var):
                return None
            if np.any(_scaler_is_constant(var, mean, n_train)):
                return None
            scale = np.sqrt(var)
        else:
            mean, scale = np.zeros(p), np.ones(p)
        null = (lo == hi) if (fit_intercept or self.standardize) else ((lo == 0) & (hi == 0))
        if null.any() or (alpha == 0.0 and total["n_pos"] < p):
            return None
        if fit_intercept:  # the fold's weighted means
            e = -s / sw
            center = shift - e
            h = -sy / sw
            y_center = y_shift - h
        else:
            center = mean.copy()
            e = shift - center
            h = y_shift
            y_center = 0.0
        correction = np.outer(s, e)
        correction += correction.T
        correction += sw * np.outer(e, e)
        gram = total["S"] + correction
        Atb = total["t"] + s * h + e * sy + sw * e * h
        diag = np.diag(gram)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            if not (np.all(diag > 0) and np.all(np.abs(np.diag(correction)) <= _MAX_CENTRING_RATIO * diag)):
                return None
            if self.standardize:
                gram = gram / np.outer(scale, scale)
                Atb = Atb / scale
            norms = np.sqrt(np.diag(gram))
            if not (np.all(np.isfinite(gram)) and np.all(np.isfinite(Atb))
                    and norms.min() > _NORM_RANGE[0] and norms.max() < _NORM_RANGE[1]):
                return None
            factor = _cholesky_factor(gram / np.outer(norms, norms), Atb / norms, alpha / norms**2)
            if factor is None:
                return None
            R, R_inv, beta_scaled, _ = factor
            R_inv /= norms[:, None]
            if alpha == 0.0 and self._needs_minimum_norm(R, norms, R_inv, int(total["n_pos"])):
                return None
            beta = beta_scaled / norms
            G = R_inv @ R_inv.T
        if not (np.all(np.isfinite(beta)) and np.all(np.isfinite(G))):
            return None
        fitter = LinearFitter(**self._params())
        fitter.n_features_in_ = p
        fitter.center_, fitter.scale_, fitter.y_center_ = center, scale, float(y_center)
        fitter.active_ = np.ones(p, dtype=bool)
        fitter._z_mean = mean
        fitter.factorisation_ = "cholesky"
        fitter.factor_, fitter.factor_columns_ = R * norms[None, :], np.arange(p)
        fitter.beta_, fitter.G_ = beta, G
        fitter.coef_ = beta / scale
        fitter.intercept_ = float(y_center - center @ fitter.coef_)
        return fitter

    def _rank_cutoff(self, n_rows, k):
        """Relative singular-value threshold of the one-factorisation path (least squares)."""
        tol = float(self.rank_tol)
        return max(tol, _lstsq_cutoff(tol, (n_rows, k)), max(n_rows, k) * _EPS)

    def _needs_minimum_norm(self, R, scale_piv, R_inv, n_rows):
        """Whether the (unequilibrated) factor ``R diag(scale_piv)`` has a singular value below the cutoff
        (:meth:`_rank_cutoff` times the largest), where scikit-learn truncates."""
        k = R.shape[1]
        threshold = self._rank_cutoff(n_rows, k)
        if R.shape[0] < k:
            return True
        R_full = R * scale_piv[None, :]
        # Frobenius-norm condition number: an upper bound on the 2-norm one; the SVD only if needed.
        bound = np.linalg.norm(R_full) * np.linalg.norm(R_inv)
        if np.isfinite(bound) and bound * threshold < 1.0:
            return False
        s = linalg.svd(R_full, compute_uv=False, check_finite=False)
        return not (np.isfinite(s[0]) and s[-1] > threshold * s[0])

    # ------------------------------------------------------------------ the minimum-norm fallback
    @property
    def _minimum_norm(self):
        return getattr(self, "factorisation_", None) == "lstsq"

    def _train_float(self):
        return _as_2d_float(self.X_train_)

    def _design(self):
        """The training design the regressions see: ``X``, or ``(X - mean) / scale`` after a scaler."""
        Xf = self._train_float()
        if not self.standardize:
            return Xf
        return (Xf - self._z_mean) / self.scale_  # as StandardScaler.transform

    def _minimum_norm_refit(self, keep, target):
        """Coefficients (full width, zero outside ``keep``, on the original columns) and intercept of the
        regression of ``target`` on the columns ``keep``, as scikit-learn's ``LinearRegression`` (after the
        scaler, if any) fits it."""
        p = self.n_features_in_
        coef = np.zeros((p,) + target.shape[1:])
        if keep.size == 0:  # an intercept-only model (scikit-learn refuses zero columns)
            intercept = (np.average(target, axis=0, weights=self.sample_weight_) if self.fit_intercept
                         else np.zeros(target.shape[1:]))
            return coef, intercept
        Z = self._design()[:, keep]
        cond = _lstsq_cutoff(self.rank_tol, Z.shape)
        coef_z, intercept_z, _ = _minimum_norm_least_squares(Z, target, self.sample_weight_,
                                                             bool(self.fit_intercept), cond)
        scale = self.scale_[keep] if coef_z.ndim == 1 else self.scale_[keep][:, None]
        coef[keep] = coef_z / scale
        intercept = intercept_z - (self._z_mean[keep] / self.scale_[keep]) @ coef_z
        return coef, intercept

    def _fit_minimum_norm(self, Xf, yf, w):
        """The fallback fit: minimum-norm least squares as scikit-learn computes it (see Notes)."""
        self.factorisation_ = "lstsq"
        self.factor_, self.factor_columns_ = np.zeros((0, 0)), np.zeros(0, dtype=np.intp)
        p = self.n_features_in_
        coef, intercept = self._minimum_norm_refit(np.arange(p), yf)
        self.coef_, self.intercept_ = coef, float(intercept)
        self.beta_ = coef * self.scale_
        self.G_ = None
        if getattr(self, "_warn_rank_deficiency", True):
            self._warn_if_rank_deficient(w)
        return self

    def _warn_if_rank_deficient(self, w):
        """Warn (once per fit) when scikit-learn's least squares truncates singular values of the design."""
        idx = np.flatnonzero(self.active_)
        if idx.size == 0:  # pragma: no cover - only constant columns never reach the fallback
            return
        Z = self._design()[:, idx]
        if self.fit_intercept:
            Z = Z - np.average(Z, axis=0, weights=w)
        if w is not None:
            Z = Z * np.sqrt(w)[:, None]
        n_rows = int(np.count_nonzero(w)) if w is not None else Z.shape[0]
        cond = _lstsq_cutoff(self.rank_tol, (Z.shape[0], self.n_features_in_))
        rank, involved = _null_space_columns(Z, cond)
        k = idx.size
        if rank == k:  # full rank: the fallback only avoided extreme column scales
            return
        centred = "centred " if self.fit_intercept else ""
        if n_rows < k:
            what = (f"has more non-constant columns ({k}) than rows with positive weight ({n_rows}), so "
                    "least squares has no unique solution")
        else:
            cols = idx[involved]
            names = [self.feature_names_[j] for j in cols]
            shown = names if len(names) <= 12 else names[:12] + [f"... ({len(names)} in all)"]
            what = (f"is rank deficient: columns {shown} (positions {cols[:12].tolist()}"
                    f"{' ...' if len(cols) > 12 else ''}) are collinear, or on a scale too small beside the "
                    "others")
        warnings.warn(
            f"{type(self._source_estimator()).__name__}: the {centred}training design {what} (numerical "
            f"rank {rank} < {k}; singular values at or below {cond:.3g} times the largest are treated as "
            "zero, as scikit-learn's LinearRegression does). The fit and every refit use scikit-learn's "
            "minimum-norm least-squares solution, refitted for each set of columns (exact, but not from "
            "one factorisation). The importance of each collinear column then describes that particular "
            "solution; treat such columns as one group, drop or rescale them, or use Ridge, for an "
            "importance that does not depend on it",
            RankDeficiencyWarning,
            stacklevel=_stacklevel_outside_package(),
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
        if self._minimum_norm:
            keep = np.setdiff1d(np.arange(self.n_features_in_), cols)
            coef, intercept = self._minimum_norm_refit(keep, self.y_train_)
            return _ReducedLinearModel(coef, intercept, cols)
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
        refit = LinearFitter(**self._params())
        refit._warn_rank_deficiency = False  # a refit: the full fit has said what there is to say
        return refit.fit(X_perm, self.y_train_, self.sample_weight_)

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
        if self._minimum_norm:
            return _MinimumNormColumnModel(self, cols)
        if self._columns_need_sklearn:
            source = self._source_estimator() if estimator is None else estimator
            return self._sklearn_view(source).regress_columns(cols, source)
        return _LinearColumnModel(self, cols)

    def residuals_fold_into(self, X, y, rows, out, extremes=None):
        """:meth:`residuals_each` of the rows ``rows`` of ``(X, y)``, written into those rows of ``out``.

        The numbers of ``residuals_each(X[rows], y[rows], out=out, rows=rows)`` (to rounding: the product
        is taken in chunks of rows), without a copy of the fold: an unweighted float64 ``X`` is gathered
        :data:`RESIDUAL_CHUNK` rows at a time into a buffer of that size, centred there and multiplied
        into a second one, so a cross-fitting call takes no fresh fold-sized memory besides ``out``.
        Other inputs, and designs that need more than the product, go through :meth:`residuals_each`.
        ``extremes`` (shape (4, n_features), optional): running column maxima and minima of the written
        x- and y-residuals, updated in place (see
        :func:`vimp._kernels.linear_nb.drop_one_residuals_extremes_into`), so that the caller need not
        read the two arrays again for them. Returns ``out``, or None as :meth:`residuals_each` does.
        """
        rows = np.ascontiguousarray(rows, dtype=np.intp)
        if not (_compiled_rows(X) and X.shape[1] == self.n_features_in_ and self.active_.all()
                and not self._minimum_norm and not self._columns_need_sklearn):
            done = self.residuals_each(take_rows(X, rows), np.asarray(y)[rows], out=out, rows=rows)
            if done is not None and extremes is not None and len(rows):
                from ._kernels import column_extremes

                for k, part in ((0, out[0][rows]), (2, out[1][rows])):
                    high, low = column_extremes(np.ascontiguousarray(part), np.empty(part.shape[1]),
                                                np.empty(part.shape[1]))
                    extremes[k] = np.maximum(extremes[k], high)
                    extremes[k + 1] = np.minimum(extremes[k + 1], low)
            return done
        from ._kernels import drop_one_residuals_extremes_into, drop_one_residuals_into

        yf = np.asarray(y, dtype=float)
        diag = np.diag(self.G_)
        x_factor, y_factor = self.scale_ / diag, self.beta_ / diag
        size = min(len(rows), RESIDUAL_CHUNK)
        block, product = np.empty((size, X.shape[1])), np.empty((size, X.shape[1]))
        for a in range(0, len(rows), size):
            part = rows[a:a + size]
            m = len(part)
            chunk = np.take(X, part, axis=0, out=block[:m])
            residual = yf[part] - (chunk @ self.coef_ + self.intercept_)
            chunk -= self.center_  # as _centred, in place
            if self.standardize:
                chunk /= self.scale_
            V = np.matmul(chunk, self.G_, out=product[:m])
            if extremes is None:
                drop_one_residuals_into(V, residual, x_factor, y_factor, out[0], out[1], part)
            else:
                drop_one_residuals_extremes_into(V, residual, x_factor, y_factor, out[0], out[1], part, extremes)
        return out

    def residuals_each(self, X, y, out=None, rows=None):
        """:meth:`residuals_without` for every single column at once, from one product ``Z_c G``.

        Parameters
        ----------
        X, y : evaluation data
        out : pair of ndarrays of shape (N, n_features), optional
            Where to write the residuals: row ``i`` of ``X`` goes to row ``rows[i]`` of each (one
            cross-fitting fold of the full arrays; ``rows`` distinct positions). ``out`` is returned.
            :meth:`residuals_fold_into` does this from the full data without copying the fold.

        Returns
        -------
        x_resid, y_resid : ndarrays of shape (n, n_features)
            Column ``j``: the residual of ``X[:, j]`` on the other columns, and ``y`` minus the prediction
            of the model refitted without column ``j`` (for a column left out of the fit as constant:
            ``X[:, j]`` minus its training value, and the full model's residual).
            None when the x-regressions need scikit-learn (a scaler before a model without intercept).
        """
        if self._columns_need_sklearn and not self._minimum_norm:
            return None
        Xf = _as_2d_float(X)
        self._check_width(Xf)
        yf = np.asarray(y, dtype=float)
        if yf.shape != (Xf.shape[0],):
            raise ValueError(f"y must be 1-D with one value per row of X ({Xf.shape[0]}); got shape {yf.shape}")
        if self._minimum_norm:  # one refit pair per column
            pairs = [self.residuals_without(Xf, yf, [j]) for j in range(Xf.shape[1])]
            x_resid = np.column_stack([xr[:, 0] for xr, _ in pairs])
            y_resid = np.column_stack([yr for _, yr in pairs])
            if out is not None:
                out[0][rows], out[1][rows] = x_resid, y_resid
                return out
            return x_resid, y_resid
        residual = yf - (Xf @ self.coef_ + self.intercept_)
        if self.active_.all() and out is not None:  # straight into the rows of the caller's arrays
            from ._kernels import drop_one_residuals_into

            diag = np.diag(self.G_)
            V = self._centred(Xf) @ self.G_
            drop_one_residuals_into(V, residual, self.scale_ / diag, self.beta_ / diag, out[0], out[1],
                                    np.ascontiguousarray(rows, dtype=np.intp))
            return out
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
        if out is not None:
            out[0][rows], out[1][rows] = x_resid, y_resid
            return out
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
        if self._minimum_norm:
            x_resid = _MinimumNormColumnModel(self, cols).residuals(Xf)
            return x_resid, yf - self.refit_without(cols).predict(Xf)
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
        # The kernel's per-row outputs for every group in one block (not five arrays per group): a
        # process whose allocator has not seen large blocks yet (glibc raises its mmap and trim
        # thresholds when one is freed) otherwise returns these pages to the system after each call
        # and faults them in again at the next; measured in benchmarks/heap.py.
        block = np.empty((len(groups), 5, n)) if use_kernel else None
        if use_kernel:
            done = self._permutation_terms_compiled(Xf, yf, pred, full, groups, perms, int(loss.kernel_code),
                                                    block)
            if done is not None:
                return done
        out = []
        for g, (columns, group_perms) in enumerate(zip(groups, perms, strict=True)):
            cols = _column_positions(columns, Xf.shape[1])
            group_perms = np.atleast_2d(np.asarray(group_perms))
            if group_perms.ndim != 2 or group_perms.shape[1] != n:
                raise ValueError(f"perms must have shape (n_permutations, {n}); got {group_perms.shape}")
            if use_kernel:
                from ._kernels import pap_linear_terms

                out.append(PermutationTerms(*pap_linear_terms(
                    yf, pred, np.ascontiguousarray(Xf[:, cols]), np.ascontiguousarray(self.coef_[cols]),
                    np.ascontiguousarray(group_perms, dtype=np.int64), unit_weight, full,
                    int(loss.kernel_code), block[g])))
                continue
            part = Xf[:, cols] @ self.coef_[cols]  # rank one: pred + part[perm] - part
            out.append(permutation_terms_from_losses(
                group_perms.astype(np.intp, copy=False),
                lambda perm, part=part: loss(yf, pred + (part[perm] - part), None), full, sample_weight))
        return out

    def _permutation_terms_compiled(self, Xf, yf, pred, full, groups, perms, loss_code, block):
        """:meth:`permutation_terms_groups` of every group in one call of the compiled kernel
        :func:`vimp._kernels.linear_nb.pap_linear_groups`, where the permutations are shared
        (:class:`vimp._split.SamePermutations`) or drawn from each group's seed
        (:class:`vimp._split.GroupPermutations`, drawn inside the kernel: the same permutations as the
        group's Generator gives). None for other permutation sources (the caller loops over groups)."""
        from ._kernels import pap_linear_groups, pap_linear_terms

        n, p = Xf.shape
        n_groups = len(groups)
        shared = getattr(perms, "perms", None)
        compiled = None if shared is not None or not hasattr(perms, "compiled") else perms.compiled()
        if shared is None and compiled is None:
            return None
        if len(perms) != n_groups:
            raise ValueError(f"perms must give one permutation array per group ({n_groups}); got {len(perms)}")
        positions = [_column_positions(columns, p) for columns in groups]
        col_start = np.zeros(n_groups + 1, dtype=np.int64)
        col_start[1:] = np.cumsum([len(c) for c in positions])
        col_index = (np.concatenate(positions) if positions else np.zeros(0)).astype(np.int64)
        if shared is not None:
            shared = np.ascontiguousarray(np.atleast_2d(shared), dtype=np.int64)
            if shared.ndim != 2 or shared.shape[1] != n:
                raise ValueError(f"perms must have shape (n_permutations, {n}); got {shared.shape}")
            n_repeats = shared.shape[0]
            states, derangements, block_words, width = np.zeros((0, 4), np.uint64), False, np.zeros(1, np.int64), 0
        else:
            states, derangements, block_words, width = compiled
            n_repeats = perms.n_permutations
            shared = np.zeros((0, n), dtype=np.int64)
        repeat_mean = np.empty((n_groups, n_repeats))
        coef = np.ascontiguousarray(self.coef_, dtype=np.float64)
        drawn = np.ones(n_groups, dtype=bool)

        def groups_between(a, b):  # the kernel on groups a..b-1 (each writes only its own rows)
            drawn[a:b] = pap_linear_groups(yf, pred, Xf, coef, col_start[a:b + 1], col_index, shared,
                                           states[a:b] if len(states) else states, derangements, block_words,
                                           width, full, loss_code, block[a:b], repeat_mean[a:b])

        work = n * n_repeats * n_groups * (SHARED_STEP_COST if len(shared) else 1.0)
        run_coarse(groups_between, n_groups, work)  # threads where they pay (policy)
        unit_weight = np.ones(n)
        for g in np.flatnonzero(~drawn):  # uniform permutations that ran out of words: the Generator's draw
            cols = positions[g]
            terms = pap_linear_terms(yf, pred, np.ascontiguousarray(Xf[:, cols]),
                                     np.ascontiguousarray(coef[cols]), perms.draw(g), unit_weight, full,
                                     loss_code, block[g])
            repeat_mean[g] = terms[1]
        out = GroupTerms(PermutationTerms(block[g, 0], repeat_mean[g], block[g, 2], block[g, 1], block[g, 3],
                                          block[g, 4]) for g in range(n_groups))
        out.block = block
        return out

    def drop_losses(self, X, y, columns, loss):
        """Per-observation losses of the model refitted without ``columns``, through the compiled kernel.

        Other losses than squared and absolute error take the generic path.
        """
        if loss.kernel_code is None or self._minimum_norm:
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

    def drop_one_losses(self, X, y, loss, out=None, rows=None):
        """Losses of every drop-one refit at once, shape (n, n_features).

        Column ``j`` holds the per-observation losses of the model refitted without column ``j``
        (one ``n x p x p`` product and the compiled kernel for squared and absolute error; other losses
        loop over :meth:`drop_losses`). With ``out`` (shape (N, n_features)) and ``rows`` (n positions),
        the losses are written into ``out[rows]`` instead (one cross-fitting fold of a larger array) and
        ``out`` is returned.
        """
        Xf = _as_2d_float(X)
        self._check_width(Xf)
        p = Xf.shape[1]
        if loss.kernel_code is None or self._minimum_norm:
            losses = np.column_stack([self.drop_losses(Xf, y, [j], loss) for j in range(p)])
            if out is None:
                return losses
            out[rows] = losses
            return out
        from ._kernels import loco_linear_losses, loco_linear_losses_into

        yf = np.ascontiguousarray(y, dtype=np.float64)
        pred = np.ascontiguousarray(Xf @ self.coef_ + self.intercept_)
        xg = np.ascontiguousarray(self._centred(Xf) @ self.G_)
        diag = np.diag(self.G_)
        shift = np.zeros(p)
        shift[self.active_] = self.beta_[self.active_] / diag[self.active_]
        if out is not None:
            return loco_linear_losses_into(yf, pred, xg, shift, int(loss.kernel_code), out,
                                           np.ascontiguousarray(rows, dtype=np.intp))
        return loco_linear_losses(yf, pred, xg, shift, int(loss.kernel_code))
