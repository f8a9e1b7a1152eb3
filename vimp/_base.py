"""The estimator contract shared by PaP and LOCO: validate → split → fit → per-observation terms → result.

Subclasses only say how their per-observation losses arise (:meth:`_fit_extra` and :meth:`_group_losses`);
everything else — input checks, the split plan, seeds, parallel loops, inference and the result — lives
here once.
"""

from __future__ import annotations

import numbers
from typing import Any, TypeVar

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._data import take_rows
from ._fitter_choice import SklearnFitter, is_classifier_like, make_fitter
from ._inference import (
    P_ADJUST_METHODS,
    adjust_pvalues,
    crossfit_t,
    degenerate_message,
    degenerate_rows,
    fold_means,
    mean_and_se,
    pvalue_greater,
    ratio_and_se,
)
from ._losses import PredictionError, get_loss
from ._results import ImportanceResult, confidence_limits
from ._split import check_cv_param, child_seed, make_folds, seed_sequence
from ._threads import limits_threads
from ._typing import ArrayLike, Design, MatrixLike
from ._validation import (
    check_choice,
    check_evaluation_size,
    check_fold_classes,
    check_groups,
    check_labels,
    check_level,
    check_same_columns,
    check_sample_weight,
    check_unchanged,
    check_weights_accepted,
    check_X,
    check_y,
    check_y_scale,
    design_fingerprint,
    feature_names_of,
    non_numeric_columns,
)
from ._warnings import DegenerateInferenceWarning, warn

SCALES = ("difference", "ratio", "sqrt")

# Keys of the child seed sequences of one call; fixed so that results never depend on call order.
_SEED_SPLIT, _SEED_FIT, _SEED_EVAL, _SEED_TEST = 0, 1, 2, 3


def child_rng(seq, *keys):
    """A Generator on :func:`child_seed`."""
    return np.random.default_rng(child_seed(seq, *keys))


def run_tasks(function, tasks, n_jobs, progress, description):
    """Run ``function(task)`` for every task through joblib, in order, with an optional tqdm bar."""
    tasks = list(tasks)
    if n_jobs in (None, 1) or len(tasks) <= 1:
        iterator = (function(t) for t in tasks)
    else:
        iterator = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(function)(t) for t in tasks)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, total=len(tasks), desc=description)
    return list(iterator)


def check_common_params(est):
    """Checks of the constructor arguments shared by every estimator (run in ``fit``)."""
    check_level(est.level)
    check_choice(est.p_adjust, "p_adjust", P_ADJUST_METHODS)
    est._cv_plan = check_cv_param(est.cv)  # read once: an iterable of folds may be a generator
    if est.n_jobs is not None and (isinstance(est.n_jobs, bool) or not isinstance(est.n_jobs, numbers.Integral)):
        raise TypeError(f"n_jobs must be None or an int; got {est.n_jobs!r}")
    if est.n_jobs == 0:
        raise ValueError("n_jobs must be None, a positive int, or negative (-1: all cores); got 0")
    if isinstance(est.estimator, type):
        raise TypeError(
            f"estimator must be an instance, e.g. {est.estimator.__name__}(); got the class itself"
        )
    if not isinstance(est.progress, bool):
        raise TypeError(f"progress must be True or False; got {est.progress!r}")
    if not (hasattr(est.estimator, "refit_without")
            or (hasattr(est.estimator, "fit") and hasattr(est.estimator, "predict"))):
        raise TypeError(
            "estimator must be a scikit-learn estimator with fit and predict (or a vimp Fitter); got "
            f"{type(est.estimator).__name__}"
        )


def model_has_intercept(estimator):
    """Whether a constant column adds nothing that the model cannot already fit.

    A model with an intercept absorbs a constant column; without one (``fit_intercept=False`` anywhere
    in its parameters, or a kernel ridge regression, which has no intercept) the constant column *is*
    the intercept. A vimp :class:`~vimp.Fitter` without a scikit-learn estimator inside is not assumed
    to have one.
    """
    if hasattr(estimator, "fit_intercept") and hasattr(estimator, "refit_without"):
        return bool(estimator.fit_intercept)
    inner = getattr(estimator, "estimator", None) if hasattr(estimator, "refit_without") else estimator
    if inner is None or not hasattr(inner, "get_params"):
        return False
    try:
        params = inner.get_params(deep=True)
    except Exception:  # noqa: BLE001 - third-party get_params may fail in many ways
        return False
    if any((k == "fit_intercept" or k.endswith("__fit_intercept")) and v is False for k, v in params.items()):
        return False
    final = inner.steps[-1][1] if hasattr(inner, "steps") else inner
    return type(final).__name__ not in ("KernelRidge",)


#: Loss differences below this fraction of the losses, on every row, are floating-point rounding.
ROUNDING_TOLERANCE = 1e-12


def numerically_zero(diff, full, other, extremes=None):
    """Groups whose every per-observation loss difference is zero up to floating-point rounding.

    A refit that reproduces the same model (a tree that never used the feature) can differ from the
    full model by a few ulps of its leaf means; such differences carry no information, yet their
    tiny spread would give a huge z statistic. A difference counts as zero when it is below
    ``ROUNDING_TOLERANCE`` (1e-12, thousands of machine epsilons) times the size of the row's losses
    (plus the mean full loss).
    """
    out = np.zeros(diff.shape[1], dtype=bool)
    # Only a column whose differences are all tiny can qualify: screen on the extremes first (cheap),
    # then check row by row where the screen lets a column through. ``extremes``: the column minima and
    # maxima of ``diff`` and ``max |other|``, ``max |full|`` where the caller has them already.
    if extremes is None:
        extremes = (np.min(diff, axis=0), np.max(diff, axis=0), np.max(np.abs(other)), np.max(np.abs(full)))
    low, high, other_absmax, full_absmax = extremes
    bound = ROUNDING_TOLERANCE * (2.0 * full_absmax + other_absmax + 1e-300)
    candidates = np.flatnonzero((high <= bound) & (low >= -bound))
    if candidates.size:
        sub_other = other[:, candidates]
        scale = ROUNDING_TOLERANCE * (np.abs(full)[:, None] + np.abs(sub_other) + np.mean(np.abs(full)))
        out[candidates] = np.all(np.abs(diff[:, candidates]) <= scale, axis=0)
    return out


def estimator_name(estimator):
    """The class name of the user's learner (a Fitter: of the estimator inside it)."""
    inner = getattr(estimator, "estimator", None) if hasattr(estimator, "refit_without") else None
    return type(inner if inner is not None else estimator).__name__


def constant_columns(X):
    """Boolean mask of the columns of ``X`` that take a single value."""
    if hasattr(X, "nunique"):
        return (X.nunique(dropna=False) <= 1).to_numpy()
    from ._kernels import constant_columns as scan

    return scan(np.asarray(X, dtype=np.float64))  # any memory layout: the scan reads a few rows


_Self = TypeVar("_Self", bound="LossImportance")


class LossImportance(BaseEstimator):
    """Shared machinery of the loss-based importances (PaP and LOCO)."""

    _method: str | None = None
    _prefit = False

    # --------------------------------------------------------------- fitting
    def _validate(self):
        check_common_params(self)
        check_choice(self.scale, "scale", SCALES)

    @limits_threads
    def fit(self: _Self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None, *,
            cv_groups: ArrayLike | None = None) -> _Self:
        """Fit the model(s) on training data ``(X, y)``.

        With ``cv=None`` the data is the training set and :meth:`importance` needs held-out data; with
        ``cv=K`` the data is split into K folds, one model is fitted per fold, and :meth:`importance`
        with no arguments evaluates each model on its own held-out fold.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Passed to the estimator's ``fit`` (a pipeline: its last step); used in every loss average.
            An estimator whose ``fit`` takes no weights is refused, as in scikit-learn.
        cv_groups : array-like of shape (n_samples,), optional
            Group labels passed to the splitter's ``split`` (e.g. ``cv=GroupKFold(5)``), as the ``groups``
            argument of scikit-learn's ``cross_validate``. Not to be confused with ``groups``, the feature
            groups.

        Returns
        -------
        self
        """
        self._validate()
        X, y, sample_weight = self._check_data(X, y, sample_weight, fitting=True)
        seq = seed_sequence(self.random_state)
        groups, group_columns = check_groups(self.groups, self._feature_names, getattr(X, "columns", None))
        cv = self._cv_plan
        if cv is None:
            if cv_groups is not None:
                raise ValueError("cv_groups applies to cross-fitting; pass it with cv (e.g. a GroupKFold)")
            folds = [(np.arange(len(y)), None)]
        else:
            folds = make_folds(cv, X, y, self._classifier, child_rng(seq, _SEED_SPLIT), cv_groups)
            self._check_folds(folds, y, sample_weight)
        # ---- validated; fitting starts here
        self.seed_ = seq
        self.groups_, self.group_columns_ = groups, group_columns
        self.cv_, self.folds_ = cv, folds
        if self.cv_ is not None:
            self._X, self._y, self._w = X, y, sample_weight
            self._X_fingerprint = design_fingerprint(X)
        self.fitters_ = self._fit_full(X, y, sample_weight)
        self.constant_groups_ = self._constant_groups(X)
        self._fit_extra(X, y, sample_weight)
        return self

    def _constant_groups(self, X):
        """Groups made of constant columns, whose importance is exactly zero (see :meth:`_constant_ok`)."""
        if not self._constant_ok():
            return np.zeros(len(self.group_columns_), dtype=bool)
        constant = constant_columns(X)
        if all(len(c) == 1 for c in self.group_columns_):
            return constant[np.array([c[0] for c in self.group_columns_], dtype=np.intp)]
        return np.array([bool(np.all(constant[c])) for c in self.group_columns_])

    def _constant_ok(self):
        """Whether a constant group is known to have exactly zero importance (permuting it changes
        nothing; LOCO overrides: dropping it matters for a model without an intercept)."""
        return True

    def _check_folds(self, folds, y, w):
        """Checks of a cross-fitting plan before any fitting: class coverage and evaluation sizes."""
        if self._classifier:
            check_fold_classes(folds, y)
        check_evaluation_size(len(y), w, "X (cross-fitted: every row is evaluated once)")
        smallest = self._min_fold_rows
        for f, (_, test) in enumerate(folds):
            if len(test) < smallest:
                raise ValueError(
                    f"cv: the test part of fold {f} has {len(test)} rows; {self._method.upper()} needs at "
                    f"least {smallest} per fold; use fewer folds"
                )
        self._check_sizes([len(test) for _, test in folds])

    #: Fewest evaluation rows in one fold (PaP needs two to permute).
    _min_fold_rows = 1

    def _check_sizes(self, fold_rows):
        """Method-specific checks of the evaluation folds' sizes (PaP bounds its permutation draws)."""

    def _share_fit(self, other, X, y, sample_weight):
        """Fit by reusing ``other``'s folds and full models (same split, same full model)."""
        self._validate()
        X, y, sample_weight = self._check_data(X, y, sample_weight, fitting=True)
        for name in ("seed_", "groups_", "group_columns_", "cv_", "folds_", "fitters_"):
            setattr(self, name, getattr(other, name))
        self.constant_groups_ = self._constant_groups(X)
        if self.cv_ is not None:
            self._X, self._y, self._w = X, y, sample_weight
            self._X_fingerprint = design_fingerprint(X)
        self._fit_extra(X, y, sample_weight)
        return self

    def _check_data(self, X, y, sample_weight, fitting) -> tuple[Design, np.ndarray, np.ndarray | None]:
        X, numeric = check_X(X, "X")
        if fitting:
            self._classifier = is_classifier_like(self.estimator)
            if not numeric and not hasattr(self.estimator, "steps"):
                bad = non_numeric_columns(X)
                raise TypeError(
                    f"X has non-numeric columns {bad[:10]} that {estimator_name(self.estimator)} cannot "
                    "take; encode them, or pass a Pipeline that does (e.g. with a OneHotEncoder)"
                )
            self._numeric = numeric
            self.loss_ = get_loss(self.loss, classifier=self._classifier)
            if (self.loss_.response_method == "predict_proba" and not hasattr(self.estimator, "refit_without")
                    and not hasattr(self.estimator, "predict_proba")):
                raise TypeError(
                    f"loss={self.loss_.name!r} needs class probabilities, but "
                    f"{estimator_name(self.estimator)} has no predict_proba (e.g. SVC needs "
                    "probability=True); use loss='zero_one' or a probabilistic classifier"
                )
            self._feature_names = feature_names_of(X)
        y = check_y(y, X.shape[0], "y", classifier=self._classifier)
        if not self._classifier and self.loss_.task == "regression":
            check_y_scale(y, "y")
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        if fitting:
            if not getattr(self, "prefit", False):
                check_weights_accepted(self.estimator, sample_weight)
            self.n_features_in_ = X.shape[1]
            if hasattr(X, "columns"):
                self.feature_names_in_ = np.asarray(self._feature_names, dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            if self._classifier:
                self.classes_ = np.unique(y)
        return X, y, sample_weight

    def _make_fitter(self):
        return make_fitter(self.estimator, response_method=self.loss_.response_method)

    def _fit_full(self, X, y, w):
        if self.cv_ is not None:
            template = self._make_fitter()
            if hasattr(template, "fit_folds"):  # exact linear fitter: all folds from one pass over X
                return template.fit_folds(X, y, w, self.folds_)

        def fit_fold(fold):
            train = fold[0]
            return self._make_fitter().fit(
                take_rows(X, train), y[train], None if w is None else w[train]
            )

        return run_tasks(fit_fold, self.folds_, self.n_jobs, False, "fit")

    def _fit_extra(self, X, y, sample_weight):
        """Hook for method-specific fitting (LOCO's reduced models)."""

    # ------------------------------------------------------------ evaluation
    @limits_threads
    def importance(self, X: MatrixLike | None = None, y: ArrayLike | None = None,
                   sample_weight: ArrayLike | None = None) -> ImportanceResult:
        """Importances with standard errors, confidence intervals and p-values.

        Parameters
        ----------
        X, y : held-out data, or None
            Required when fitted with ``cv=None``; must be None with ``cv=K`` (each fold's model is then
            evaluated on its own held-out fold of the data given to :meth:`fit`).
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the evaluation rows in every loss average (with ``cv=K`` the weights given to
            :meth:`fit` are used).

        Returns
        -------
        ImportanceResult
        """
        check_is_fitted(self, "fitters_")
        if self.cv_ is None:
            if X is None or y is None:
                raise ValueError(
                    "importance(X, y) needs held-out data when the estimator was fitted with cv=None; "
                    "pass X and y, or fit with cv=K to cross-fit"
                )
            X, y, w = self._check_data(X, y, sample_weight, fitting=False)
            check_same_columns(X, getattr(self, "feature_names_in_", self._feature_names),
                               self.n_features_in_)
            check_evaluation_size(len(y), w, "the held-out data X")
            self._check_sizes([len(y)])
            evaluations: list[tuple[Any, Any]] = [(self.fitters_[0], np.arange(len(y)))]
        else:
            if X is not None or y is not None or sample_weight is not None:
                raise ValueError(
                    "with cv=K, importance() evaluates each fold's model on its held-out fold of the data "
                    "given to fit; call importance() without X, y and sample_weight"
                )
            X, y, w = self._X, self._y, self._w
            check_unchanged(X, getattr(self, "_X_fingerprint", None))
            evaluations = [(f, test) for f, (_, test) in zip(self.fitters_, self.folds_)]
        if self._crossfit_test() and self.cv_ is None:
            raise ValueError(
                f"test={self._test_in_use()!r} compares the estimates of the cross-fitting folds; this "
                "estimator was fitted with cv=None: fit with cv=K (K >= 2), or use test='auto'")
        self._check_evaluation(len(y), w)
        if self._classifier:
            for f, (fitter, rows) in enumerate(evaluations):
                classes = fitter.classes_
                if classes is not None:
                    where = "" if len(evaluations) == 1 else f" of fold {f}"
                    check_labels(y[rows], classes, "y", where)
        try:
            result = self._evaluate(X, y, w, evaluations)
        except PredictionError as exc:
            raise ValueError(f"estimator {estimator_name(self.estimator)}: {exc}") from None
        bad = degenerate_rows(result.raw_importance, result.raw_std_error, self._known_zero)
        if bad.any():
            warn(degenerate_message(result.names, result.raw_importance, result.raw_std_error, bad),
                 DegenerateInferenceWarning)
        return result

    def _check_evaluation(self, n, w):
        """Method-specific checks of the evaluation rows before any work (LOCO: its split halves)."""

    def _evaluate(self, X, y, w, evaluations):
        n = len(y)
        fold_ids = np.zeros(n, dtype=np.intp)
        full = np.empty(n)
        for f, (_, rows) in enumerate(evaluations):
            fold_ids[rows] = f

        def fold_rows(f):
            """Fold ``f``'s evaluation rows ``(X, y, w)`` (a copy of X's rows unless they are all of them,
            in order) and the full model's losses on them, which also go into ``full``."""
            fitter, rows = evaluations[f]
            if len(rows) == n and np.array_equal(rows, np.arange(n)):
                data = (X, y, w)
            else:
                data = (take_rows(X, rows), y[rows], None if w is None else w[rows])
            loss = fitter.losses(data[0], data[1], self.loss_)
            full[rows] = loss
            return data + (loss,)

        if self._batch_ready_for([fitter for fitter, _ in evaluations]):
            # All groups of a fold at once, fold after fold: one fold's rows are copied at a time.
            other, repeats, blocks = self._batch_group_losses(evaluations, fold_rows)
            for g in np.flatnonzero(self.constant_groups_):
                other[:, g] = full
            per_repeat = None if repeats is None else self._combine_repeats(repeats, full, w, evaluations)
            return self._build_result(full, other, w, fold_ids, per_repeat, blocks)

        # Each fold's evaluation rows, taken once (not once per group).
        fold_data, fold_full = [], []
        for f in range(len(evaluations)):
            *data, loss = fold_rows(f)
            fold_data.append(tuple(data))
            fold_full.append(loss)

        def one_group(g):
            other = np.empty(n)
            repeats, blocks = [], []
            for f, (fitter, rows) in enumerate(evaluations):
                if self.constant_groups_[g]:
                    other[rows] = full[rows]
                    continue
                Xf, yf, wf = fold_data[f]
                rng = child_rng(self.seed_, _SEED_EVAL, g, f)
                out = self._group_losses(f, fitter, Xf, yf, wf, g, rng, fold_full[f])
                other[rows], rep = out[0], out[1]
                if rep is not None:
                    repeats.append(rep)
                if len(out) > 2:
                    blocks.append((rows, out[2]))
            return other, repeats, blocks

        results = run_tasks(one_group, range(len(self.groups_)), self.n_jobs, self.progress,
                            self._method)
        other = np.column_stack([r[0] for r in results])
        per_repeat = self._combine_repeats([r[1] for r in results], full, w, evaluations)
        blocks = [r[2] for r in results]
        return self._build_result(full, other, w, fold_ids, per_repeat, blocks)

    def _group_losses(self, fold, fitter, X, y, w, group, rng, full):  # pragma: no cover - interface
        raise NotImplementedError

    def _batch_ready_for(self, fitters):
        """Whether these fitters answer every group's losses at once (:meth:`_batch_group_losses`)."""
        return False

    def _batch_group_losses(self, evaluations, fold_rows):
        """Every group's losses at once (where :meth:`_batch_ready_for`), fold after fold.

        ``fold_rows(f)`` gives fold ``f``'s evaluation rows and full losses, ``(X, y, w, full)``; call it
        once per fold. Returns ``(other, repeats, blocks)``: the (n, n_groups) losses, and per group the list
        of its per-repeat means and of its ``(rows, extra)`` blocks, as the per-group path collects them
        (both None when the method has neither).
        """
        raise NotImplementedError  # pragma: no cover - only called where _batch_ready_for

    def _combine_repeats(self, repeats, full, w, evaluations):
        """Natural-scale importance of each permutation repeat, pooled over folds (None for LOCO)."""
        if not any(repeats):
            return None
        mean_full = np.average(full, weights=w)
        fold_weight = np.array([len(rows) if w is None else w[rows].sum() for _, rows in evaluations])
        fold_weight = fold_weight / fold_weight.sum()
        if len(evaluations) == 1 and all(len(rep) == 1 for rep in repeats if rep):
            # one evaluation set: each repeat's mean minus the full loss, for all groups at once
            width = max(len(rep[0]) for rep in repeats if rep)
            out_array = np.zeros((len(repeats), width))
            for g, rep in enumerate(repeats):
                if rep:
                    out_array[g, :len(rep[0])] = rep[0]
                    out_array[g, :len(rep[0])] -= mean_full
            return out_array
        out = []
        for rep in repeats:
            if not rep:  # constant group: every repeat equals the unpermuted loss
                out.append(None)
                continue
            out.append(np.tensordot(fold_weight, np.vstack(rep), axes=1) - mean_full)
        width = max(len(r) for r in out if r is not None)
        return np.vstack([np.zeros(width) if r is None else r for r in out])

    def _test_pvalues(self, full, other, diff, raw, raw_se, w):
        return pvalue_greater(raw, raw_se)

    def _build_result(self, full, other, w, fold_ids, per_repeat, blocks=None):
        level = float(self.level)
        if w is None:  # the differences and their summaries in one compiled pass, no temporaries
            from ._kernels import loss_difference_summary

            diff, raw, raw_se, low, high, other_absmax, full_absmax, finite = loss_difference_summary(
                other, np.ascontiguousarray(full, dtype=np.float64))
            extremes = (low, high, other_absmax, full_absmax)
        else:
            finite = all(np.isfinite(np.max(a)) and np.isfinite(np.min(a)) for a in (full, other))
            extremes = None
        if not finite:
            raise ValueError(
                f"estimator {estimator_name(self.estimator)}: the {self.loss_.name} losses are not finite "
                "on some evaluation rows (an overflow: X or y on an extreme scale?); rescale the data"
            )
        if w is not None:
            diff = other - full[:, None]
            raw, raw_se = mean_and_se(diff, w)
        raw_se = self._dependent_se(full, other, w, blocks, 1.0, raw, raw_se)
        raw_skew, raw_df = self._skew(), self._degrees()
        crossfit = self._crossfit_test()
        if crossfit:  # the corrected cross-fitted t test: the spread of the folds' estimates
            raw_se, raw_skew, raw_df = self._crossfit_se(fold_means(diff, fold_ids, len(self.folds_), w))
        # Exactly zero by construction: a constant group, or a group whose every per-observation
        # difference is zero up to rounding (the model's losses do not change). No sampling noise at all.
        known_zero = self.constant_groups_ | numerically_zero(diff, full, other, extremes)
        self._known_zero = known_zero
        raw = np.where(known_zero, 0.0, raw)
        raw_se = np.where(known_zero, 0.0, raw_se)
        # No standard error (a zero one under a non-zero estimate, or NaN): no interval, no p-value.
        degenerate = degenerate_rows(raw, raw_se, known_zero)
        raw_se = np.where(degenerate, np.nan, raw_se)
        ci_method = "wald"
        skew, df = raw_skew, raw_df
        if self.scale == "difference":
            est, se = raw, raw_se
        elif self.scale == "ratio":
            est, se = ratio_and_se(other, full, w)
            mean_full = np.average(full, weights=w)
            se = self._dependent_se(full, other, w, blocks, est, 0.0, se * mean_full) / mean_full
            skew, df = self._skew(), self._degrees()
            if crossfit:
                k = len(self.folds_)
                ratios = fold_means(other, fold_ids, k, w) / fold_means(full[:, None], fold_ids, k, w)
                se, skew, df = self._crossfit_se(ratios)
            est = np.where(known_zero, 1.0, est)
            se = np.where(known_zero, 0.0, np.where(degenerate, np.nan, se))
        else:  # sqrt: Bladen et al.'s sqrt(max(difference, 0)); delta-method se where raw > 0
            est = np.sqrt(np.maximum(raw, 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                se = np.where(raw > 0, raw_se / (2.0 * est), np.where(raw_se == 0, 0.0, np.nan))
            ci_method = "sqrt"
        if raw_skew is not None:
            raw_skew = np.where(known_zero | degenerate, 0.0, raw_skew)
            skew = np.where(known_zero | degenerate, 0.0, skew)
        self._raw_skew, self._raw_df = raw_skew, raw_df
        pvalue = self._test_pvalues(full, other, diff, raw, raw_se, w)
        pvalue = np.where(known_zero, 1.0, np.where(degenerate, np.nan, pvalue))
        mc_std = (np.std(per_repeat, axis=1, ddof=1) if per_repeat is not None and per_repeat.shape[1] > 1
                  else np.full(len(raw), np.nan))
        result = ImportanceResult(
            method=self._method,
            names=tuple(self.groups_),
            importance=est,
            std_error=se,
            raw_importance=raw,
            raw_std_error=raw_se,
            ci_low=np.full(len(raw), np.nan),
            ci_high=np.full(len(raw), np.nan),
            pvalue=pvalue,
            pvalue_adjusted=adjust_pvalues(pvalue, self.p_adjust),
            level=level,
            scale=self.scale,
            loss=self.loss_.name,
            test=self._test_name(),
            p_adjust=self.p_adjust,
            target=self._target(),
            per_observation=diff,
            fold_ids=fold_ids,
            mc_std=mc_std,
            per_repeat=per_repeat,
            split="holdout" if self.cv_ is None else f"cv={len(self.folds_)}",
            seed=self.seed_.entropy,
            ci_method=ci_method,
            details=self._result_details(full, other),
            skewness=None if self.scale == "sqrt" else skew,
            raw_skewness=raw_skew,
            ci_df=None if self.scale == "sqrt" else df,
            raw_ci_df=raw_df,
        )
        low, high = confidence_limits(result, level)
        object.__setattr__(result, "ci_low", low)
        object.__setattr__(result, "ci_high", high)
        return result

    def _test_in_use(self):
        """The test that runs (methods with a ``test`` choice resolve ``"auto"`` here)."""
        return self._test_name()

    def _n_folds(self):
        """Cross-fitting folds: after ``fit`` the plan's count, before it the ``cv`` parameter's (None
        for held-out data; 2 when a splitter's count is not known yet)."""
        if hasattr(self, "folds_"):
            return None if self.cv_ is None else len(self.folds_)
        cv = getattr(self, "_cv_plan", None)
        if cv is None:
            return None
        if isinstance(cv, numbers.Integral):
            return int(cv)
        if isinstance(cv, (list, tuple)):
            return len(cv)
        try:
            return int(cv.get_n_splits())
        except Exception:  # noqa: BLE001 - splitters that need the data to count
            return 2

    def _crossfit_test(self):
        """Whether the test is the corrected cross-fitted t test (``test="nadeau-bengio"``)."""
        return self._test_in_use() == "nadeau-bengio"

    def _crossfit_se(self, fold_estimates):
        """``(se, skewness, df)`` of the corrected cross-fitted t test from the folds' estimates."""
        ratio = float(np.mean([len(test) / len(train) for train, test in self.folds_]))
        se, df = crossfit_t(fold_estimates, ratio)
        return se, np.zeros(se.shape), np.full(se.shape, df)

    def _skew(self):
        """Skewness of the estimate computed by the last :meth:`_dependent_se` call, or None (no
        skewness correction: plain Wald intervals)."""
        return None

    def _degrees(self):
        """Degrees of freedom of the standard errors of the last :meth:`_dependent_se` call, or None
        (normal quantiles)."""
        return None

    def _dependent_se(self, full, other, w, blocks, slope, offset, se):
        """Standard errors that account for dependence between per-observation terms (PaP overrides).

        The centred term of group ``g`` is ``other[:, g] - slope[g] * full - offset[g]``; ``se`` is the
        independent-terms standard error of its weighted mean; ``blocks[g]`` lists, per evaluation block,
        ``(rows, extra)`` with whatever ``_group_losses`` returned beyond its two values.
        """
        return se

    def _test_name(self):
        return "paired"

    def _details(self, full, other):
        # The perturbed models' losses are not kept: they are ``per_observation + full_loss[:, None]``, and
        # a second (n, n_groups) array would double the memory a result keeps (issue 12).
        return {"full_loss": full}

    def _test_rule(self):
        """Why ``test="auto"`` chose the test that ran (None when the test was given)."""
        return None

    def _result_details(self, full, other):
        details = self._details(full, other)
        rule = self._test_rule()
        if rule is not None:
            details["test_rule"] = rule
        return details

    def _target(self):  # pragma: no cover - interface
        raise NotImplementedError


def prefit_fitter(estimator, response_method):
    """A fitter around an already fitted estimator (no clone, no refit: PaP only)."""
    fitter = SklearnFitter(estimator, response_method)
    fitter.estimator_ = estimator
    return fitter
