"""Input checks. Every entry point validates its inputs here, before any fitting starts.

Each check raises :class:`ValueError` or :class:`TypeError` with a message that names the parameter and
what was expected.
"""

from __future__ import annotations

import inspect
import numbers

import numpy as np
import pandas as pd

#: Fewest evaluation rows (effective rows, ``(sum w)^2 / sum w^2``, with weights) behind any standard
#: error. Below ten the normal quantile misstates the interval badly even for Gaussian terms: with the
#: 1/n variance the nominal 95% interval of a mean covers 90% at n = 10 and 93% at n = 20.
MIN_EVALUATION_ROWS = 10

#: Largest array of random draws one call may hold (bytes): an (R, n) int64 array of permutations.
MAX_DRAW_BYTES = 2**30


def check_choice(value, name, options):
    """``value`` must be one of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {list(options)}; got {value!r}")
    return value


def check_int(value, name, minimum):
    """An integer ``>= minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def check_level(level, name="level"):
    """A confidence level strictly between 0 and 1."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1; got {level!r}")
    return float(level)


def is_numeric_column(column):
    """Whether a DataFrame column holds numbers (True/False columns count, as 0/1)."""
    return pd.api.types.is_numeric_dtype(column.dtype)


def non_numeric_columns(X):
    """Labels of the columns of a DataFrame that are not numeric (empty for arrays)."""
    if not isinstance(X, pd.DataFrame):
        return []
    return [c for c in X.columns if not is_numeric_column(X[c])]


def feature_names_of(X):
    """Column labels of ``X``: a DataFrame's names as strings, else ``x0, x1, ...``."""
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return [f"x{j}" for j in range(X.shape[1])]


def check_X(X, name="X"):
    """A 2-D design without NaN or inf; numeric columns or a DataFrame.

    Returns
    -------
    X : ndarray of float64 or DataFrame
        NumPy input becomes float64; a DataFrame is kept (so pipelines can select columns by name).
    numeric : bool
        Whether every column is numeric.
    """
    if isinstance(X, pd.DataFrame):
        if X.shape[1] == 0:
            raise ValueError(f"{name} must have at least one column; got 0 columns")
        if X.shape[0] == 0:
            raise ValueError(f"{name} must have at least one row; got 0 rows")
        if X.columns.duplicated().any():
            dup = list(X.columns[X.columns.duplicated()])
            raise ValueError(f"{name} has duplicated column names {dup}; column names must be unique")
        as_text = pd.Index([str(c) for c in X.columns])
        if as_text.duplicated().any():
            dup = sorted(set(as_text[as_text.duplicated()]))
            raise ValueError(
                f"{name} has column labels that differ only in type ({dup} as text, e.g. 1 and '1'); "
                "results are labelled by text, so rename the columns to unique names"
            )
        numeric_cols = [c for c in X.columns if is_numeric_column(X[c])]
        values = (X[numeric_cols].to_numpy(dtype=float, na_value=np.nan) if numeric_cols
                  else np.empty((len(X), 0)))
        _check_finite(values, name, numeric_cols)
        other = [c for c in X.columns if c not in numeric_cols]
        if other:
            missing = [c for c in other if X[c].isna().any()]
            if missing:
                raise ValueError(f"{name} has missing values in columns {missing}")
        return X, not other
    if hasattr(X, "tocsr") or hasattr(X, "sparse"):  # scipy.sparse matrices and arrays, pandas sparse
        raise TypeError(f"{name} is sparse; vimp needs dense data: pass {name}.toarray()")
    if hasattr(X, "__array__") or isinstance(X, (list, tuple)):
        arr = np.asarray(X)
    else:
        raise TypeError(f"{name} must be a 2-D array or a pandas DataFrame; got {type(X).__name__}")
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got {arr.ndim}-D with shape {arr.shape}. "
            "Reshape a single feature with X.reshape(-1, 1)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty; got shape {arr.shape}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real: Complex data not supported")
    try:
        converted = arr.astype(float, copy=False)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} has non-numeric entries; pass numbers, or a DataFrame with a pipeline that encodes "
            "its non-numeric columns"
        ) from None
    _check_finite(converted, name, None)
    if converted is arr or np.shares_memory(converted, arr):
        # The user's own float64 array, not a copy (a copy would double the memory an estimator keeps):
        # a read-only view, so that nothing in vimp can write into it. An estimator that keeps X for a
        # later call notices a change the user makes (design_fingerprint).
        converted = converted.view()
        converted.flags.writeable = False
    return converted, True


def design_fingerprint(X):
    """A cheap summary of ``X`` (column sums; a DataFrame's row hashes summed), to notice that a design
    kept by an estimator (``cv=K``) was changed in place between ``fit`` and ``importance``."""
    if isinstance(X, pd.DataFrame):
        return np.add.reduce(pd.util.hash_pandas_object(X, index=True).to_numpy(dtype=np.uint64))
    return np.sum(X, axis=0)


def check_unchanged(X, fingerprint):
    """Refuse a kept design whose values changed since ``fit`` (see :func:`design_fingerprint`)."""
    if fingerprint is not None and not np.array_equal(design_fingerprint(X), fingerprint):
        raise ValueError(
            "X was changed in place after fit: the estimator evaluates the data given to fit (with cv=K, "
            "or GCM's nuisance baselines), and those values are no longer the ones it was fitted on; call "
            "fit again after changing X, or pass a copy to fit"
        )


def _check_finite(values, name, labels):
    bad = ~np.isfinite(values)
    if bad.any():
        cols = np.flatnonzero(bad.any(axis=0))
        where = [labels[c] for c in cols] if labels is not None else [int(c) for c in cols]
        kind = "NaN" if np.isnan(values[bad]).any() else "inf"
        raise ValueError(f"{name} contains {kind} (non-finite values) in columns {where[:10]}")


def check_y(y, n_samples, name="y", classifier=False):
    """A 1-D target of length ``n_samples`` without NaN or inf."""
    if y is None:
        raise ValueError(f"this estimator requires y to be passed, but the target {name} is None")
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(f"{name} must be 1-D; got a DataFrame with {y.shape[1]} columns")
        y = y.iloc[:, 0]
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real: Complex data not supported")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"X and {name} must have the same number of rows; got {n_samples} and {arr.shape[0]}"
        )
    if classifier:
        if pd.isna(arr).any():
            raise ValueError(f"{name} contains missing values")
        from sklearn.utils.multiclass import type_of_target

        kind = type_of_target(arr)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"{name} must hold class labels for a classifier; got {kind} values (for a numeric target "
                "use a regressor)"
            )
        return arr
    try:
        numeric = arr.astype(float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric for a regressor; got dtype {arr.dtype}") from None
    if not np.all(np.isfinite(numeric)):
        raise ValueError(f"{name} contains NaN or inf (non-finite values)")
    return arr if classifier else numeric


def check_sample_weight(sample_weight, n_samples):
    """Non-negative finite weights, one per row, not all zero (None passes through)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float)
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must be 1-D with one weight per row ({n_samples}); got shape {w.shape}"
        )
    with np.errstate(over="ignore"):
        total = w.sum()
    if not np.all(np.isfinite(w)) or np.any(w < 0) or total <= 0:
        raise ValueError("sample_weight must be finite, non-negative and not all zero")
    if not (np.isfinite(total) and np.isfinite(np.sum((w / w.max()) ** 2))):
        raise ValueError("sample_weight sums to inf in float64; rescale the weights (only their ratios matter)")
    return w


def check_groups(groups, feature_names, labels=None):
    """Resolve ``groups`` into ``(labels, list of integer column arrays)``.

    ``None`` makes each feature its own group. A dict maps a group name to its columns. How a column is
    named:

    * a DataFrame: by its label, matched first (a label also matches by its text, ``"1"`` for ``1``);
      an integer that is not a label is a position only where no label is an integer (then it cannot
      be mistaken for one), so with integer labels ``2`` always means the column labelled 2;
    * a NumPy array: by position, or by the names ``x0, x1, ...``.

    A column may belong to one group only; columns not named in any group are left out.

    Parameters
    ----------
    groups : dict or None
    feature_names : list of str
        The columns' names as text (:func:`feature_names_of`).
    labels : pandas Index or None
        The DataFrame's column labels (None for arrays).
    """
    p = len(feature_names)
    if groups is None:
        return list(feature_names), [np.array([j]) for j in range(p)]
    if not isinstance(groups, dict) or not groups:
        raise TypeError(
            "groups must be None or a non-empty dict mapping a group name to a list of columns; "
            f"got {type(groups).__name__}"
        )
    by_position = labels is None or (isinstance(labels, pd.RangeIndex) and labels.start == 0
                                     and labels.step == 1)
    positions_too = labels is not None and not any(
        isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_)) for c in labels)
    index = {name: j for j, name in enumerate(feature_names)}
    by_label = {} if by_position else {label: j for j, label in enumerate(labels)}
    group_names, members, seen = [], [], {}
    for label, cols in groups.items():
        if isinstance(cols, (str, numbers.Integral)) and not isinstance(cols, bool):
            cols = [cols]
        if cols is None or isinstance(cols, (bool, float, dict)) or not hasattr(cols, "__iter__"):
            raise TypeError(
                f"groups[{label!r}] must be a column or a list of columns (names or positions); "
                f"got {cols!r}"
            )
        cols = list(cols)
        if not cols:
            raise ValueError(f"groups[{label!r}] is empty; every group needs at least one column")
        resolved = []
        for c in cols:
            j = _resolve_column(c, label, p, index, by_label, by_position or
                                (positions_too and isinstance(c, numbers.Integral)), feature_names)
            if j in seen and seen[j] != label:
                raise ValueError(
                    f"column {feature_names[j]!r} is in two groups ({seen[j]!r} and {label!r}); "
                    "groups must not overlap"
                )
            seen[j] = label
            if j not in resolved:
                resolved.append(j)
        group_names.append(str(label))
        members.append(np.array(resolved, dtype=np.intp))
    if len(set(group_names)) != len(group_names):
        dup = sorted({g for g in group_names if group_names.count(g) > 1})
        raise ValueError(
            f"groups has names that are equal as text ({dup}, e.g. 1 and '1'); results are labelled by "
            "text, so give every group a distinct name"
        )
    return group_names, members


def _resolve_column(c, label, p, index, by_label, by_position, feature_names):
    """The position of column ``c`` of ``groups[label]`` (see :func:`check_groups`)."""
    if isinstance(c, (bool, np.bool_)) or c is None or isinstance(c, (float, np.floating)):
        raise TypeError(f"groups[{label!r}] names column {c!r}; name columns by label or position")
    if not by_position:
        try:
            if c in by_label:
                return by_label[c]
        except TypeError:  # unhashable
            raise TypeError(f"groups[{label!r}] names column {c!r}; name columns by label") from None
        if str(c) in index:
            return index[str(c)]
        hint = (" (integers name labels here, not positions, because X's columns are labelled)"
                if isinstance(c, numbers.Integral) else "")
        raise ValueError(
            f"groups[{label!r}] names unknown column {c!r}{hint}; known columns: {feature_names[:20]}"
        )
    if isinstance(c, numbers.Integral):
        if not 0 <= c < p:
            raise ValueError(f"groups[{label!r}] names column position {c}, outside 0..{p - 1}")
        return int(c)
    if isinstance(c, str) and c in index:
        return index[c]
    raise ValueError(
        f"groups[{label!r}] names unknown column {c!r}; known columns: {feature_names[:20]} "
        f"or positions 0..{p - 1}"
    )


def effective_size(n_rows, weights=None):
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (the row count without weights)."""
    if weights is None:
        return float(n_rows)
    w = np.asarray(weights, dtype=float)
    total = w.sum()
    squares = np.sum(w * w)
    return float(total * total / squares) if squares > 0 else 0.0


def check_evaluation_size(n_rows, weights, what, minimum=MIN_EVALUATION_ROWS, advice=None):
    """Refuse an evaluation set (or fold, or split half) too small for a standard error.

    Parameters
    ----------
    n_rows : int
    weights : ndarray or None
        The rows' weights (the effective size then decides).
    what : str
        What the rows are, for the message (e.g. ``"the held-out data X"``).
    minimum : float
    advice : str, optional
        What to do, appended to the message.
    """
    size = effective_size(n_rows, weights)
    if size < minimum:
        eff = "" if weights is None else f" (effective size {size:.3g} with its sample_weight)"
        hint = f"; {advice}" if advice else ""
        raise ValueError(
            f"{what} has {n_rows} rows{eff}, but a standard error needs at least {minimum:g} "
            f"(effective) rows{hint}"
        )
    return size


def check_draws(count, n_rows, name, per_value_bytes=8, budget=MAX_DRAW_BYTES):
    """Refuse a number of random draws whose arrays would not fit a memory budget (checked up front)."""
    need = float(count) * float(n_rows) * per_value_bytes
    if need > budget:
        largest = max(int(budget // (per_value_bytes * max(n_rows, 1))), 1)
        raise ValueError(
            f"{name}={count} would need {need / 2**30:.3g} GiB of draws for {n_rows} rows "
            f"(at most {budget / 2**30:.3g} GiB); use {name} <= {largest}"
        )


def check_labels(y, classes, name, where=""):
    """Every label of ``y`` must be one of the fitted model's ``classes``."""
    unknown = np.setdiff1d(np.unique(np.asarray(y)), np.asarray(classes))
    if unknown.size:
        raise ValueError(
            f"{name} has labels {unknown.tolist()[:5]} that the fitted model{where} never saw (its "
            f"classes are {np.asarray(classes).tolist()[:10]}); a loss cannot score them"
        )


def check_fold_classes(folds, y):
    """Every training part of a cross-fitting plan must contain every class of ``y``."""
    classes = np.unique(y)
    for f, (train, _) in enumerate(folds):
        missing = np.setdiff1d(classes, np.unique(y[train]))
        if missing.size:
            raise ValueError(
                f"cv: the training part of fold {f} has no row of class {missing.tolist()[:5]}, so its "
                "model could not score that class; use a stratified splitter (the default for integer "
                "cv) or fewer folds, or merge rare classes"
            )


def fit_accepts_sample_weight(estimator):
    """Whether ``estimator.fit`` (a pipeline: its last step) takes ``sample_weight``."""
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
        if estimator in (None, "passthrough"):
            return False
    return signature_takes_sample_weight(estimator)


def signature_takes_sample_weight(estimator):
    """Whether the signature of ``estimator.fit`` itself has ``sample_weight`` (or ``**kwargs``)."""
    fit = getattr(estimator, "fit", None)
    if fit is None:
        return False
    try:
        params = inspect.signature(fit).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False
    return "sample_weight" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def check_weights_accepted(estimator, sample_weight, name="estimator"):
    """Refuse ``sample_weight`` for a learner whose ``fit`` cannot take it (as scikit-learn does)."""
    if sample_weight is None or hasattr(estimator, "refit_without"):
        return  # a vimp Fitter's fit takes sample_weight by the protocol
    if not fit_accepts_sample_weight(estimator):
        raise TypeError(
            f"sample_weight was given but {name} {type(estimator).__name__}.fit does not accept "
            "sample_weight, so the models would be fitted unweighted while the losses are weighted; "
            "use a learner that takes weights, or call fit without sample_weight"
        )


def check_y_scale(y, name="y"):
    """A numeric target whose squared deviations are representable in float64."""
    y = np.asarray(y, dtype=float)
    spread = float(np.max(y) - np.min(y)) if y.size else 0.0
    if spread > 0 and (spread * spread == 0.0 or not np.isfinite(spread * spread)
                       or not np.isfinite(np.max(np.abs(y)) ** 2)):
        raise ValueError(
            f"{name} ranges over {spread:.3g}: its squared errors under- or overflow in float64, so the "
            f"losses would be meaningless; rescale {name} (e.g. to unit standard deviation)"
        )


def check_same_columns(X, names_in, n_features_in, name="X"):
    """Evaluation data must have the training data's columns."""
    if X.shape[1] != n_features_in:
        raise ValueError(
            f"{name} has {X.shape[1]} columns but the model was fitted on {n_features_in}; "
            "pass data with the training columns"
        )
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        if names != list(names_in):
            raise ValueError(
                f"{name} has columns {names[:10]} but the model was fitted on {list(names_in)[:10]}; "
                "columns must match in name and order"
            )
