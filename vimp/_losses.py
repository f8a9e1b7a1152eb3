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


def _log_loss(y, proba, classes):
    proba = np.clip(np.asarray(proba, dtype=float), _EPS, 1.0)
    index = np.searchsorted(classes, y)
    return -np.log(proba[np.arange(len(index)), index])


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
        if self.name == "log_loss":
            return _log_loss(y, output, classes)
        values = np.asarray(self.function(y, output), dtype=float)
        if values.shape != (len(y),):
            raise ValueError(
                f"loss: a callable loss must return one value per observation, shape ({len(y)},); "
                f"got shape {values.shape}"
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
