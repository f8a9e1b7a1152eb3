"""Input checks. Every entry point validates its inputs here, before any fitting starts.

Each check raises :class:`ValueError` or :class:`TypeError` with a message that names the parameter and
what was expected.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd


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
        numeric_cols = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])
                        and not pd.api.types.is_bool_dtype(X[c])]
        values = X[numeric_cols].to_numpy(dtype=float) if numeric_cols else np.empty((len(X), 0))
        _check_finite(values, name, numeric_cols)
        other = [c for c in X.columns if c not in numeric_cols]
        if other:
            missing = [c for c in other if X[c].isna().any()]
            if missing:
                raise ValueError(f"{name} has missing values in columns {missing}")
        return X, not other
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
        arr = arr.astype(float)  # a copy: later in-place changes to the user's array cannot reach us
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} has non-numeric entries; pass numbers, or a DataFrame with a pipeline that encodes "
            "its non-numeric columns"
        ) from None
    _check_finite(arr, name, None)
    return arr, True


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
    if classifier and not np.issubdtype(arr.dtype, np.number):
        if pd.isna(arr).any():
            raise ValueError(f"{name} contains missing values")
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
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("sample_weight must be finite, non-negative and not all zero")
    return w


def check_groups(groups, feature_names):
    """Resolve ``groups`` into ``(labels, list of integer column arrays)``.

    ``None`` makes each feature its own group. A dict maps a group name to its columns, given as names
    (of a DataFrame's columns, or ``x0, x1, ...``) or integer positions. A column may belong to one group
    only; columns not named in any group are left out.
    """
    p = len(feature_names)
    if groups is None:
        return list(feature_names), [np.array([j]) for j in range(p)]
    if not isinstance(groups, dict) or not groups:
        raise TypeError(
            "groups must be None or a non-empty dict mapping a group name to a list of columns; "
            f"got {type(groups).__name__}"
        )
    index = {name: j for j, name in enumerate(feature_names)}
    labels, members, seen = [], [], {}
    for label, cols in groups.items():
        if isinstance(cols, (str, numbers.Integral)):
            cols = [cols]
        cols = list(cols)
        if not cols:
            raise ValueError(f"groups[{label!r}] is empty; every group needs at least one column")
        resolved = []
        for c in cols:
            if isinstance(c, numbers.Integral) and not isinstance(c, bool):
                if not 0 <= c < p:
                    raise ValueError(
                        f"groups[{label!r}] names column position {c}, outside 0..{p - 1}"
                    )
                j = int(c)
            elif str(c) in index:
                j = index[str(c)]
            else:
                raise ValueError(
                    f"groups[{label!r}] names unknown column {c!r}; known columns: {feature_names[:20]}"
                )
            if j in seen and seen[j] != label:
                raise ValueError(
                    f"column {feature_names[j]!r} is in two groups ({seen[j]!r} and {label!r}); "
                    "groups must not overlap"
                )
            seen[j] = label
            if j not in resolved:
                resolved.append(j)
        labels.append(str(label))
        members.append(np.array(resolved, dtype=np.intp))
    return labels, members


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
