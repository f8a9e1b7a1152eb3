"""The fitter seam: one small protocol through which every estimator talks to a model.

Every importance method in vimp reduces to a few questions asked of a learner:

* ``fit(X, y, sample_weight)`` and ``predict(X)``: the full model;
* ``predict_permuted(X, columns, perm)``: predictions with ``columns`` of ``X`` permuted jointly by the
  row permutation ``perm`` (permute-and-predict);
* ``refit_without(columns)``: a fitted reduced model trained on the same data without ``columns``
  (LOCO, and GCM's regression of y on the other features);
* ``refit_permuted(columns, perm)``: a model refitted on the training data with ``columns`` permuted
  (the permute-and-refit variant of Bladen et al.);
* ``regress_columns(columns, estimator=None)``: a fitted model of ``X[:, columns]`` on the other
  columns (GCM's regression of x_j on the rest).

Every fitted object answers ``predict`` on the *full-width* design: a reduced model ignores the columns
it was fitted without. That keeps the estimators free of column bookkeeping.

:class:`SklearnFitter` adapts any scikit-learn estimator or pipeline (always through
:func:`sklearn.base.clone`; the user's object is never touched). Exact linear fitters that answer every
refit from one factorisation plug into the same seam (:mod:`vimp._linear_fitter`, which imports this
module); :func:`vimp._fitter_choice.make_fitter`, one level above both, chooses between them.
"""

from __future__ import annotations

from typing import NamedTuple, TypeVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from ._data import permute_columns, take_columns
from ._typing import ArrayLike, Design, Estimator, LossFunction, Predictor
from ._validation import signature_takes_sample_weight

_FitterT = TypeVar("_FitterT", bound="Fitter")

__all__ = ["Fitter", "PermutationTerms", "SklearnFitter"]

#: Largest stacked design (bytes) that :meth:`Fitter.permutation_terms` passes to one ``predict`` call
#: (several permuted copies of the evaluation rows); 0 predicts one permuted copy per call.
PREDICT_BATCH_BYTES = 64 * 2**20


class PermutationTerms(NamedTuple):
    """Per-row and per-repeat sums of permute-and-predict losses, returned by
    :meth:`Fitter.permutation_terms` (which says what each field holds).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from vimp import SklearnFitter
    >>> from vimp._losses import LOSSES
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 2)); y = X[:, 0] + rng.normal(size=50)
    >>> fitter = SklearnFitter(LinearRegression()).fit(X, y)
    >>> perms = np.array([rng.permutation(50) for _ in range(3)])
    >>> terms = fitter.permutation_terms(X, y, [0], perms, LOSSES["squared_error"])
    >>> terms._fields
    ('obs_mean', 'repeat_mean', 'donor_mean', 'square_mean', 'donor_full_mean', 'donor_weight_mean')
    >>> terms.repeat_mean.shape, bool(np.all(terms.donor_weight_mean == 1.0))
    ((3,), True)
    """

    obs_mean: np.ndarray
    repeat_mean: np.ndarray
    donor_mean: np.ndarray
    square_mean: np.ndarray
    donor_full_mean: np.ndarray
    donor_weight_mean: np.ndarray


def permutation_terms_from_losses(perms, permuted_losses, full, sample_weight=None):
    """:class:`PermutationTerms` from each permutation's per-row losses, accumulated in NumPy.

    Parameters
    ----------
    perms : ndarray of shape (R, n)
        Row permutations.
    permuted_losses : callable
        ``permuted_losses(perm)`` returns the (n,) losses with the group permuted by ``perm``.
    full : ndarray of shape (n,)
        Each row's loss without permutation.
    sample_weight : ndarray of shape (n,), optional
    """
    n = perms.shape[1]
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    weighted_full = weight * np.asarray(full, dtype=float)
    obs_sum, square_sum = np.zeros(n), np.zeros(n)
    donor_sum, donor_full, donor_weight = np.zeros(n), np.zeros(n), np.zeros(n)
    repeat_mean = np.empty(len(perms))
    for r, perm in enumerate(perms):
        values = permuted_losses(perm)
        obs_sum += values
        square_sum += values**2
        donor_sum[perm] += weight * values  # perm is a permutation: no repeated index
        donor_full[perm] += weighted_full
        donor_weight[perm] += weight
        repeat_mean[r] = np.average(values, weights=sample_weight)
    n_rep = len(perms)
    return PermutationTerms(obs_sum / n_rep, repeat_mean, donor_sum / n_rep, square_sum / n_rep,
                            donor_full / n_rep, donor_weight / n_rep)


class Fitter:
    """Base class of the fitter protocol.

    Subclasses implement :meth:`fit`, :meth:`predict`, :meth:`refit_without`,
    :meth:`refit_permuted` and :meth:`regress_columns`; :meth:`predict_permuted` has a generic
    default (permute a copy, predict again) that exact fitters override.

    Attributes
    ----------
    response_method : {"predict", "predict_proba"}
        What :meth:`predict` returns: predictions, or class probabilities of shape (n, n_classes).
    """

    response_method = "predict"

    def fit(self: _FitterT, X: Design, y: np.ndarray,
            sample_weight: np.ndarray | None = None) -> _FitterT:  # pragma: no cover - interface
        """Fit the full model on ``(X, y)``, keep what refits need, and return ``self``."""
        raise NotImplementedError

    def predict(self, X: Design) -> np.ndarray:  # pragma: no cover - interface
        """Predictions (or class probabilities, per :attr:`response_method`) on the full-width ``X``."""
        raise NotImplementedError

    def predict_permuted(self, X: Design, columns: ArrayLike, perm: ArrayLike) -> np.ndarray:
        """Predict with ``columns`` of ``X`` permuted jointly by the row permutation ``perm``."""
        return self.predict(permute_columns(X, columns, perm))

    def refit_without(self, columns: ArrayLike) -> Fitter:  # pragma: no cover - interface
        """A fitted model trained on the same data without ``columns``; it predicts on full-width X."""
        raise NotImplementedError

    def refit_permuted(self, columns: ArrayLike, perm: ArrayLike) -> Fitter:  # pragma: no cover - interface
        """A fitted model trained with the training ``columns`` permuted jointly by the row order ``perm``."""
        raise NotImplementedError

    def regress_columns(self, columns: ArrayLike,
                        estimator: Estimator | None = None) -> Predictor:  # pragma: no cover - interface
        """A fitted model of ``X[:, columns]`` on the other columns; ``predict`` returns (n, len(columns))."""
        raise NotImplementedError

    @property
    def classes_(self) -> np.ndarray | None:
        """Class labels of a fitted classifier (None for regressors)."""
        return getattr(getattr(self, "estimator_", None), "classes_", None)

    def losses(self, X: Design, y: np.ndarray, loss: LossFunction) -> np.ndarray:
        """Per-observation losses of the fitted model on ``(X, y)``."""
        return loss(y, self.predict(X), self.classes_)

    def permutation_losses(self, X: Design, y: np.ndarray, columns: ArrayLike, perms: np.ndarray,
                           loss: LossFunction,
                           sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Losses with ``columns`` permuted, one permutation per row of ``perms``.

        Returns
        -------
        obs_mean : ndarray of shape (n,)
            Each observation's loss averaged over the permutations.
        repeat_mean : ndarray of shape (n_permutations,)
            Each permutation's (weighted) mean loss over the observations.
        """
        # The donor sums are not used here: a zero ``full`` spares the unpermuted prediction.
        terms = self.permutation_terms(X, y, columns, perms, loss, sample_weight, full=np.zeros(len(y)))
        return terms.obs_mean, terms.repeat_mean

    def permutation_terms(self, X: Design, y: np.ndarray, columns: ArrayLike, perms: np.ndarray,
                          loss: LossFunction, sample_weight: np.ndarray | None = None,
                          full: np.ndarray | None = None) -> PermutationTerms:
        """:meth:`permutation_losses` plus what the standard error of permute-and-predict needs.

        Parameters
        ----------
        X, y, columns, perms, loss, sample_weight
            As in :meth:`permutation_losses`.
        full : ndarray of shape (n,), optional
            Each row's loss without permutation, ``self.losses(X, y, loss)``; computed when not given.

        Returns
        -------
        PermutationTerms
            A named tuple ``(obs_mean, repeat_mean, donor_mean, square_mean, donor_full_mean,
            donor_weight_mean)``:

            - ``obs_mean``, ``repeat_mean``: as in :meth:`permutation_losses`;
            - ``donor_mean`` (n,): for each row ``k``, the (weighted) losses of the rows that received
              row ``k``'s column(s), averaged over the permutations: ``mean_r w_i L_ri`` with
              ``perms[r, i] = k`` (``w = 1`` without weights);
            - ``square_mean`` (n,): each row's squared loss averaged over the permutations,
              ``mean_r L_ri^2``;
            - ``donor_full_mean``, ``donor_weight_mean`` (n,): as ``donor_mean``, of ``w_i * full_i``
              and of ``w_i``.

        Notes
        -----
        Permute-and-predict terms share rows (a row is its own term's row and another term's donor);
        :func:`vimp._inference.permutation_mean_se` uses these sums to account for that.

        Unless a subclass overrides :meth:`predict_permuted` (an exact fitter's closed form), the
        permuted copies of ``X`` are stacked into one ``predict`` call, in chunks of at most
        :data:`PREDICT_BATCH_BYTES` (64 MB) of stacked design: the numbers are those of one call per
        permutation, because a fitted model's prediction of a row depends on that row only (true of
        every scikit-learn ``predict`` and ``predict_proba``; a custom :class:`Fitter` whose ``predict``
        is not row-wise must override :meth:`predict_permuted`).
        """
        if full is None:
            full = self.losses(X, y, loss)
        perms = np.atleast_2d(perms)
        if type(self).predict_permuted is not Fitter.predict_permuted:  # an exact override: use it
            return permutation_terms_from_losses(
                perms, lambda perm: loss(y, self.predict_permuted(X, columns, perm), self.classes_),
                full, sample_weight)
        predictions = self._stacked_permuted_predictions(X, columns, perms)
        return permutation_terms_from_losses(
            perms, lambda perm: loss(y, next(predictions), self.classes_), full, sample_weight)

    def _stacked_permuted_predictions(self, X, columns, perms):
        """Predictions with ``columns`` permuted by each row of ``perms``, in order, one array each.

        Several permuted copies of ``X`` are stacked into one ``predict`` call (a model's per-call
        overhead, e.g. a forest's thread dispatch over its trees, is then paid once per chunk), in chunks
        of at most :data:`PREDICT_BATCH_BYTES` of stacked design, never fewer than one copy.
        """
        n = X.shape[0]
        copy_bytes = max(1, n * X.shape[1] * 8)
        chunk = int(max(1, min(len(perms), PREDICT_BATCH_BYTES // copy_bytes)))
        columns = np.asarray(columns, dtype=np.intp)
        for start in range(0, len(perms), chunk):
            block = perms[start:start + chunk]
            if len(block) == 1:
                yield self.predict(permute_columns(X, columns, block[0]))
                continue
            if isinstance(X, pd.DataFrame):
                stacked = pd.concat([permute_columns(X, columns, perm) for perm in block], ignore_index=True)
            else:
                stacked = np.empty((len(block), n, X.shape[1]), dtype=X.dtype)
                stacked[:] = X
                for r, perm in enumerate(block):
                    stacked[r][:, columns] = X[np.asarray(perm)[:, None], columns]
                stacked = stacked.reshape(len(block) * n, X.shape[1])
            predictions = self.predict(stacked)
            for r in range(len(block)):
                yield predictions[r * n:(r + 1) * n]

    def drop_losses(self, X: Design, y: np.ndarray, columns: ArrayLike, loss: LossFunction) -> np.ndarray:
        """Per-observation losses of the model refitted without ``columns``."""
        return self.refit_without(columns).losses(X, y, loss)

    def permuted_refit_losses(self, X: Design, y: np.ndarray, columns: ArrayLike, perm: ArrayLike,
                              loss: LossFunction) -> np.ndarray:
        """Per-observation losses of the model refitted with training ``columns`` permuted by ``perm``."""
        return self.refit_permuted(columns, perm).losses(X, y, loss)


def _fit_estimator(estimator, X, y, sample_weight):
    est = clone(estimator)
    if sample_weight is None:
        est.fit(X, y)
        return est
    if hasattr(est, "steps"):  # a Pipeline routes weights to its last step by name
        last, step = est.steps[-1]
        if signature_takes_sample_weight(step):
            est.fit(X, y, **{f"{last}__sample_weight": sample_weight})
            return est
    elif signature_takes_sample_weight(est):
        est.fit(X, y, sample_weight=sample_weight)
        return est
    raise TypeError(
        f"sample_weight was given but {type(estimator).__name__}.fit does not accept sample_weight, so "
        "the model would be fitted unweighted while the losses are weighted; use a learner that takes "
        "weights, or fit without sample_weight"
    )


class SklearnFitter(Fitter):
    """Adapter for any scikit-learn estimator or pipeline.

    Parameters
    ----------
    estimator : scikit-learn estimator
        A regressor or classifier (or a pipeline ending in one). It is cloned before every fit.
    response_method : {"predict", "predict_proba"}, default="predict"
        What :meth:`predict` returns.
    columns : sequence of int or None
        The columns of the full-width design this model was (or will be) fitted on; ``None`` for all.
        Set by :meth:`refit_without`; users leave it alone.

    Notes
    -----
    Sample weights are passed to ``fit`` (a pipeline's: to its last step); an estimator whose ``fit``
    takes none is refused with a TypeError, as scikit-learn does, rather than fitted unweighted while
    the losses are weighted.
    """

    def __init__(self, estimator: Estimator, response_method: str = "predict",
                 columns: ArrayLike | None = None) -> None:
        self.estimator = estimator
        self.response_method = response_method
        self.columns = None if columns is None else np.asarray(columns, dtype=np.intp)

    def _view(self, X):
        return X if self.columns is None else take_columns(X, self.columns)

    def fit(self, X: Design, y: np.ndarray, sample_weight: np.ndarray | None = None) -> SklearnFitter:
        """Fit a clone of the estimator on ``X`` (full width) and keep the training data for refits."""
        self.X_train_, self.y_train_, self.sample_weight_ = X, y, sample_weight
        self.estimator_ = _fit_estimator(self.estimator, self._view(X), y, sample_weight)
        return self

    def predict(self, X: Design) -> np.ndarray:
        """Predictions (or class probabilities) on the full-width design ``X``."""
        Xv = self._view(X)
        if self.response_method == "predict_proba":
            return np.asarray(self.estimator_.predict_proba(Xv), dtype=float)
        return np.asarray(self.estimator_.predict(Xv))

    def refit_without(self, columns: ArrayLike) -> SklearnFitter:
        """A new fitter, fitted on the training data without ``columns``."""
        n_features = self.X_train_.shape[1]
        keep = np.setdiff1d(np.arange(n_features), np.asarray(columns, dtype=np.intp))
        reduced = SklearnFitter(self.estimator, self.response_method, columns=keep)
        try:
            return reduced.fit(self.X_train_, self.y_train_, self.sample_weight_)
        except (ValueError, KeyError) as exc:
            if not hasattr(self.X_train_, "columns"):
                raise
            dropped = [self.X_train_.columns[c] for c in np.atleast_1d(columns)]
            raise ValueError(
                f"refitting {type(self.estimator).__name__} without columns {dropped} failed: {exc}. "
                "A pipeline step that selects columns by name cannot be refitted without them; select "
                "them by dtype instead (sklearn.compose.make_column_selector), or leave such columns "
                "out of the groups"
            ) from exc

    def refit_permuted(self, columns: ArrayLike, perm: ArrayLike) -> SklearnFitter:
        """A new fitter, fitted on the training data with ``columns`` permuted jointly by ``perm``."""
        refit = SklearnFitter(self.estimator, self.response_method, columns=self.columns)
        X_perm = permute_columns(self.X_train_, columns, perm)
        refit.fit(X_perm, self.y_train_, self.sample_weight_)
        return refit

    def regress_columns(self, columns: ArrayLike, estimator: Estimator | None = None) -> Predictor:
        """A fitted model of ``X[:, columns]`` on the other columns (one model per column).

        ``estimator`` defaults to the fitter's own estimator; it must be a regressor.
        """
        est = self.estimator if estimator is None else estimator
        columns = np.asarray(columns, dtype=np.intp)
        keep = np.setdiff1d(np.arange(self.X_train_.shape[1]), columns)
        targets = np.asarray(take_columns(self.X_train_, columns), dtype=float)
        if isinstance(targets, pd.DataFrame):  # pragma: no cover - take_columns keeps frames
            targets = targets.to_numpy(dtype=float)
        models = []
        for k in range(len(columns)):
            model = SklearnFitter(est, "predict", columns=keep)
            models.append(model.fit(self.X_train_, targets[:, k], self.sample_weight_))
        return _ColumnModels(models)


class _ColumnModels:
    """Several single-output models stacked into one (n, k) prediction."""

    def __init__(self, models):
        self.models = models

    def predict(self, X):
        return np.column_stack([m.predict(X) for m in self.models])
