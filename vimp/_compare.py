"""Several importance methods on one split and one full model, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

import pandas as pd

from ._loco import LOCO
from ._pap import PermutationImportance
from ._results import ImportanceResult
from ._threads import limits_threads_of_call
from ._typing import ArrayLike, CVSpec, Estimator, GroupSpec, LossSpec, MatrixLike, RandomState, Scale

METHODS = ("pap", "loco")


def _method_classes():
    classes = {"pap": PermutationImportance, "loco": LOCO}
    try:
        from ._gcm import GCM
    except ImportError:  # pragma: no cover - GCM ships with the package
        return classes
    classes["gcm"] = GCM
    return classes


@overload
def compare(X: MatrixLike, y: ArrayLike, estimator: Estimator,
            methods: str | Sequence[str] = ("pap", "loco"), *, X_test: MatrixLike | None = None,
            y_test: ArrayLike | None = None, cv: CVSpec = None, sample_weight: ArrayLike | None = None,
            sample_weight_test: ArrayLike | None = None, cv_groups: ArrayLike | None = None,
            groups: GroupSpec | None = None, loss: LossSpec | None = None, scale: Scale = "difference",
            level: float = 0.95, p_adjust: str = "holm", n_permutations: int = 1,
            test: str | dict[str, str] | None = None, random_state: RandomState = None,
            n_jobs: int | None = None, progress: bool = False, gcm_scale: str = "covariance",
            return_results: Literal[False] = False) -> pd.DataFrame: ...


@overload
def compare(X: MatrixLike, y: ArrayLike, estimator: Estimator,
            methods: str | Sequence[str] = ("pap", "loco"), *, X_test: MatrixLike | None = None,
            y_test: ArrayLike | None = None, cv: CVSpec = None, sample_weight: ArrayLike | None = None,
            sample_weight_test: ArrayLike | None = None, cv_groups: ArrayLike | None = None,
            groups: GroupSpec | None = None, loss: LossSpec | None = None, scale: Scale = "difference",
            level: float = 0.95, p_adjust: str = "holm", n_permutations: int = 1,
            test: str | dict[str, str] | None = None, random_state: RandomState = None,
            n_jobs: int | None = None, progress: bool = False, gcm_scale: str = "covariance",
            return_results: Literal[True]) -> tuple[pd.DataFrame, dict[str, ImportanceResult]]: ...


@limits_threads_of_call
def compare(X: MatrixLike, y: ArrayLike, estimator: Estimator,
            methods: str | Sequence[str] = ("pap", "loco"), *, X_test: MatrixLike | None = None,
            y_test: ArrayLike | None = None, cv: CVSpec = None, sample_weight: ArrayLike | None = None,
            sample_weight_test: ArrayLike | None = None, cv_groups: ArrayLike | None = None,
            groups: GroupSpec | None = None, loss: LossSpec | None = None, scale: Scale = "difference",
            level: float = 0.95, p_adjust: str = "holm", n_permutations: int = 1,
            test: str | dict[str, str] | None = None, random_state: RandomState = None,
            n_jobs: int | None = None, progress: bool = False, gcm_scale: str = "covariance",
            return_results: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, ImportanceResult]]:
    """Run several importance methods on the same split and the same full model.

    PaP and LOCO share the fitted full model(s) and the evaluation rows, so their per-observation terms
    pair observation by observation, and their importances differ only by what each measures.

    Parameters
    ----------
    X, y : training data (with ``X_test, y_test``) or all data (with ``cv=K``)
    estimator : scikit-learn estimator or pipeline
    methods : sequence of {"pap", "loco", "gcm"}
    X_test, y_test : held-out data, required when ``cv`` is None
    cv : None, int, scikit-learn splitter or list of (train, test) index pairs
    sample_weight : array-like of shape (n_samples,), optional
        Weights of the rows of ``X`` (in fitting and, with ``cv``, in every loss average).
    sample_weight_test : array-like, optional
        Weights of the held-out rows (``cv=None`` only).
    cv_groups : array-like of shape (n_samples,), optional
        Group labels for a group splitter such as ``GroupKFold`` (``cv`` only).
    groups, loss, scale, level, p_adjust, n_permutations, random_state, n_jobs, progress
        As in :class:`~vimp.PermutationImportance` and :class:`~vimp.LOCO` (``loss`` and
        ``n_permutations`` do not apply to GCM; ``scale`` is passed to PaP and LOCO only).
    test : None, str or dict, optional
        The test of each method: a dict method → test name (e.g. ``{"loco": "paired"}``), or one name
        for every listed method that offers it (an error if none does). None: each method's default
        (``"auto"`` for PaP and LOCO, ``"wald"`` for GCM).
    gcm_scale : {"covariance", "correlation", "loco"}, default="covariance"
        The ``scale`` of GCM (see :class:`~vimp.GCM`).
    return_results : bool, default=False
        Also return the :class:`~vimp.ImportanceResult` of each method, in a dict keyed by method.

    Returns
    -------
    frame : DataFrame
        One row per (method, feature) with the columns of :meth:`ImportanceResult.to_frame`, indexed by
        a MultiIndex ``(method, feature)``.
    results : dict, only if ``return_results``

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from vimp import compare
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(1000, 2)); y = X[:, 0] + rng.normal(size=1000)
    >>> table = compare(X, y, LinearRegression(), cv=2, random_state=0)
    >>> table.index.get_level_values("method").unique().tolist()
    ['pap', 'loco']
    """
    classes = _method_classes()
    methods = list(methods) if not isinstance(methods, str) else [methods]
    if not methods:
        raise ValueError(f"methods must name at least one of {sorted(classes)}")
    for m in methods:
        if m not in classes:
            raise ValueError(f"methods must be drawn from {sorted(classes)}; got {m!r}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods must not repeat a method; got {methods}")
    if cv is None and (X_test is None or y_test is None):
        raise ValueError("compare needs X_test and y_test when cv is None (or pass cv=K to cross-fit)")
    if cv is not None and (X_test is not None or y_test is not None or sample_weight_test is not None):
        raise ValueError(
            "compare got X_test/y_test/sample_weight_test together with cv: with cv the data X, y is "
            "cross-fitted and held-out data would be ignored; pass either cv or X_test and y_test"
        )
    if cv is None and cv_groups is not None:
        raise ValueError("cv_groups applies to cross-fitting; pass it with cv (e.g. a GroupKFold)")
    if cv is not None and not isinstance(cv, int) and not hasattr(cv, "split"):
        from ._split import check_cv_param

        cv = check_cv_param(cv)  # a generator of folds is read once, here, and shared by every method

    tests = _tests_by_method(test, methods)
    common = dict(cv=cv, groups=groups, level=level, p_adjust=p_adjust, random_state=random_state,
                  n_jobs=n_jobs, progress=progress)
    loss_common = dict(common, loss=loss, scale=scale)
    estimators = {}
    for m in methods:
        if m == "pap":
            estimators[m] = classes[m](estimator, n_permutations=n_permutations, **loss_common)
        elif m == "loco":
            estimators[m] = classes[m](estimator, **loss_common)
        else:
            estimators[m] = classes[m](estimator, scale=gcm_scale, **common)

    for m, name in tests.items():
        estimators[m].set_params(test=name)
    # Fit the full model(s) once; loss-based methods share them (and the folds).
    shared = None
    results = {}
    for m in methods:
        est = estimators[m]
        fit_args = {} if cv_groups is None else {"cv_groups": cv_groups}
        if m in ("pap", "loco"):
            if shared is None:
                est.fit(X, y, sample_weight=sample_weight, **fit_args)
                shared = est
            else:
                est._share_fit(shared, X, y, sample_weight)
        else:
            if shared is not None and cv is not None:
                est._use_folds(shared.folds_)
                fit_args = {}
            est.fit(X, y, sample_weight=sample_weight, **fit_args)
        results[m] = (est.importance() if cv is not None
                      else est.importance(X_test, y_test, sample_weight=sample_weight_test))

    frame = pd.concat({m: r.to_frame() for m, r in results.items()}, names=["method", "feature"])
    return (frame, results) if return_results else frame


def method_tests() -> dict[str, tuple[str, ...]]:
    """The tests each method offers (``"auto"`` included where it exists)."""
    from ._gcm import GCM_TESTS
    from ._loco import LOCO_TESTS
    from ._pap import PAP_TESTS

    return {"pap": ("auto",) + PAP_TESTS, "loco": ("auto",) + LOCO_TESTS, "gcm": GCM_TESTS}


def _tests_by_method(test, methods):
    """``{method: test}`` for the methods whose test is set (see ``compare``'s ``test``)."""
    if test is None:
        return {}
    offered = method_tests()
    if isinstance(test, str):
        chosen = {m: test for m in methods if test in offered.get(m, ())}
        if not chosen:
            raise ValueError(f"test={test!r} is not a test of any of {methods}; the tests are "
                             + "; ".join(f"{m}: {', '.join(offered[m])}" for m in methods))
        return chosen
    if not isinstance(test, dict):
        raise TypeError(f"test must be None, a test name or a dict method -> test; got {type(test).__name__}")
    for m, name in test.items():
        if m not in methods:
            raise ValueError(f"test names method {m!r}, which is not among methods={methods}")
        if name not in offered[m]:
            raise ValueError(f"test for {m!r} must be one of {list(offered[m])}; got {name!r}")
    return dict(test)
