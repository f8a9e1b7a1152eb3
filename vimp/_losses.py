"""Per-observation losses.

A :class:`Loss` turns targets and model outputs into one loss per observation; every importance in
vimp is an average of such terms, and every standard error is computed from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Loss", "get_loss", "LOSSES"]

_EPS = 1e-15


def _squared_error(y, pred):
    return (np.asarray(y, dtype=float) - pred) ** 2


def _absolute_error(y, pred):
    return np.abs(np.asarray(y, dtype=float) - pred)


class PredictionError(ValueError):
    """A model's output cannot be scored (wrong shape, NaN or inf); the estimators name the model."""


def class_positions(y, classes):
    """The position of each label of ``y`` in ``classes``; a label not among them is refused."""
    classes = np.asarray(classes)
    y = np.asarray(y)
    order = np.argsort(classes, kind="mergesort")
    sorted_classes = classes[order]
    where = np.searchsorted(sorted_classes, y)
    where = np.clip(where, 0, len(classes) - 1)
    found = sorted_classes[where] == y
    if not np.all(found):
        unknown = np.unique(y[~found]).tolist()[:5]
        raise PredictionError(
            f"y has labels {unknown} that the fitted model never saw (its classes_ are "
            f"{classes.tolist()[:10]}); log_loss cannot score them"
        )
    return order[where]


def _log_loss(y, proba, classes):
    proba = np.clip(np.asarray(proba, dtype=float), _EPS, 1.0)
    index = class_positions(y, classes)
    return -np.log(proba[np.arange(len(index)), index])


def check_output(output, n, response_method, classes=None):
    """A model's ``predict`` (shape (n,), or (n, 1)) or ``predict_proba`` (n, n_classes) output, finite."""
    output = np.asarray(output)
    method = "predict_proba" if response_method == "predict_proba" else "predict"
    if method == "predict":
        if output.ndim == 2 and output.shape[1] == 1:
            output = output[:, 0]
        if output.shape != (n,):
            raise PredictionError(
                f"predict returned shape {output.shape} for {n} rows; vimp needs one prediction per row, "
                f"shape ({n},) (multi-output models are not supported)"
            )
    else:
        width = None if classes is None else len(classes)
        if output.ndim != 2 or output.shape[0] != n or (width is not None and output.shape[1] != width):
            expected = f"({n}, {width})" if width is not None else f"({n}, n_classes)"
            raise PredictionError(f"predict_proba returned shape {output.shape}; expected {expected}")
    if np.issubdtype(output.dtype, np.number) and not np.all(np.isfinite(output)):
        bad = int(np.sum(~np.isfinite(output).reshape(n, -1).all(axis=1)))
        raise PredictionError(
            f"{method} returned NaN or inf for {bad} of {n} rows; the losses of those rows (and every "
            "importance built on them) would be meaningless"
        )
    return output


def _zero_one(y, pred):
    return (np.asarray(y) != np.asarray(pred)).astype(float)


@dataclass(frozen=True)
class Loss:
    """A per-observation loss.

    Attributes
    ----------
    name : str
        Label used in results.
    function : callable
        ``function(y, output)`` returns one loss per observation; for ``log_loss`` the class labels are
        bound when the model is fitted.
    response_method : {"predict", "predict_proba"}
        Which model output the loss needs.
    task : {"regression", "classification", "any"}
        Which estimators the loss is meant for.
    kernel_code : int or None
        Code of the compiled kernels for this loss (0 squared, 1 absolute), or None.
    """

    name: str
    function: Callable
    response_method: str = "predict"
    task: str = "any"
    kernel_code: int | None = None

    def __call__(self, y, output, classes=None):
        n = len(y)
        output = check_output(output, n, self.response_method, classes)
        if self.name == "log_loss" and self.function is _log_loss:
            return _log_loss(y, output, classes)
        values = np.asarray(self.function(y, output), dtype=float)
        if values.shape != (n,):
            raise ValueError(
                f"loss: {self.name!r} must return one value per observation, shape ({n},); "
                f"got shape {values.shape}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"loss: {self.name!r} returned NaN or inf for {int(np.sum(~np.isfinite(values)))} of {n} "
                "rows; a loss must be finite for every row"
            )
        return values


LOSSES = {
    "squared_error": Loss("squared_error", _squared_error, "predict", "regression", 0),
    "absolute_error": Loss("absolute_error", _absolute_error, "predict", "regression", 1),
    "log_loss": Loss("log_loss", _log_loss, "predict_proba", "classification", None),
    "zero_one": Loss("zero_one", _zero_one, "predict", "classification", None),
}


def get_loss(loss, *, classifier):
    """Resolve the ``loss`` parameter.

    Parameters
    ----------
    loss : str, callable or None
        A name from :data:`LOSSES`, a callable ``loss(y_true, y_pred) -> per-observation losses`` (it
        receives ``predict`` output, or ``predict_proba`` output if the callable has an attribute
        ``response_method = "predict_proba"``), or None for the default (``squared_error`` for
        regressors, ``log_loss`` for classifiers).
    classifier : bool
        Whether the estimator is a classifier.
    """
    if loss is None:
        return LOSSES["log_loss" if classifier else "squared_error"]
    if isinstance(loss, Loss):
        return loss
    if callable(loss):
        response = getattr(loss, "response_method", "predict")
        if response not in ("predict", "predict_proba"):
            raise ValueError(
                "loss: a callable's response_method attribute must be 'predict' or 'predict_proba'; "
                f"got {response!r}"
            )
        name = getattr(loss, "__name__", "custom")
        return Loss(name, loss, response, "any", None)
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)} or a callable; got {loss!r}")
    resolved = LOSSES[loss]
    if resolved.task == "classification" and not classifier:
        raise ValueError(
            f"loss={loss!r} is a classification loss but the estimator is a regressor; use "
            "'squared_error' or 'absolute_error', or pass a classifier"
        )
    if resolved.task == "regression" and classifier:
        raise ValueError(
            f"loss={loss!r} is a regression loss but the estimator is a classifier; use "
            "'log_loss' or 'zero_one'"
        )
    return resolved
