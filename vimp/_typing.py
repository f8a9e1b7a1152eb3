"""Type aliases of the public signatures (for type checkers and readers; nothing here runs checks).

scikit-learn, dask and numba ship no type hints, so an estimator, a splitter or a cluster client is
``Any`` to a type checker; the aliases still say in the signature what is expected. The values accepted
are documented (and checked at run time) where each parameter is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeAlias, Union

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ArrayLike",
    "CVSpec",
    "Design",
    "Estimator",
    "GroupSpec",
    "LossFunction",
    "LossSpec",
    "MatrixLike",
    "NDArray",
    "Predictor",
    "RandomState",
    "Scale",
]

#: Data of shape (n_samples, n_features): an array-like or a DataFrame (whose column names are kept).
MatrixLike: TypeAlias = Union[ArrayLike, pd.DataFrame]
#: The validated design a :class:`vimp.Fitter` receives: a 2-D ndarray or a DataFrame.
Design: TypeAlias = Union[np.ndarray, pd.DataFrame]
#: A scikit-learn estimator or pipeline (or a :class:`vimp.Fitter` where the docstring says so).
Estimator: TypeAlias = Any
#: None (held-out data), an int K >= 2 (K folds), a scikit-learn splitter or a list of (train, test) pairs.
CVSpec: TypeAlias = Union[int, Iterable[tuple[ArrayLike, ArrayLike]], Any, None]
#: Group name -> the group's columns (DataFrame labels or positions).
GroupSpec: TypeAlias = Mapping[Any, Sequence[Any]]
#: A loss name ("squared_error", "absolute_error", "log_loss", "zero_one") or ``loss(y_true, y_pred)``
#: returning per-observation losses.
LossSpec: TypeAlias = Union[str, Callable[[Any, Any], Any]]
#: A resolved per-observation loss, ``loss(y_true, prediction, classes)`` -> ndarray of shape (n,), as a
#: :class:`vimp.Fitter` receives it.
LossFunction: TypeAlias = Callable[[Any, Any, Any], np.ndarray]
#: None (fresh entropy), an int >= 0, a numpy Generator (advanced by one draw) or a SeedSequence.
RandomState: TypeAlias = Union[int, np.random.Generator, np.random.SeedSequence, None]
#: The scale of a loss-based importance.
Scale: TypeAlias = Literal["difference", "ratio", "sqrt"]


class Predictor(Protocol):
    """Anything with ``predict(X)`` (e.g. the models :meth:`vimp.Fitter.regress_columns` returns)."""

    def predict(self, X: Any) -> np.ndarray: ...

