"""Row and column operations that work alike on NumPy arrays and pandas DataFrames.

A DataFrame stays a DataFrame all the way to the user's estimator (so that pipelines selecting columns by
name keep working); a NumPy array stays an array. Columns are always addressed by position.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def take_rows(X, rows):
    """Rows ``rows`` (integer positions) of ``X``; ``X`` itself when ``rows`` is every row in order."""
    rows = np.asarray(rows)
    if len(rows) == len(X) and (len(rows) == 0 or (rows[0] == 0 and np.all(np.diff(rows) == 1))):
        return X
    if isinstance(X, pd.DataFrame):
        return X.iloc[rows]
    return X[rows]


def take_columns(X, columns):
    """Columns ``columns`` (integer positions) of ``X``, in that order."""
    if isinstance(X, pd.DataFrame):
        return X.iloc[:, columns]
    return X[:, columns]


def drop_columns(X, columns):
    """``X`` without the columns at positions ``columns``."""
    keep = np.setdiff1d(np.arange(X.shape[1]), np.asarray(columns, dtype=np.intp))
    return take_columns(X, keep)


def permute_columns(X, columns, perm):
    """A copy of ``X`` whose ``columns`` are permuted jointly by the row permutation ``perm``.

    Row ``i`` of the result takes the values of row ``perm[i]`` in ``columns``; other columns are untouched.
    """
    columns = np.asarray(columns, dtype=np.intp)
    if isinstance(X, pd.DataFrame):
        out = X.copy()
        for c in columns:
            out.isetitem(int(c), X.iloc[perm, int(c)].to_numpy())
        return out
    out = np.array(X, copy=True)
    out[:, columns] = X[np.asarray(perm)[:, None], columns]
    return out


def as_float_array(X):
    """``X`` as a float64 ndarray (DataFrames converted)."""
    if isinstance(X, pd.DataFrame):
        return X.to_numpy(dtype=float)
    return np.asarray(X, dtype=float)
