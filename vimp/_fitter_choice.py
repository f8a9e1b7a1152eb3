"""Which fitter serves an estimator: the one module that knows every fitter.

The fitter protocol and the scikit-learn adapter live in :mod:`vimp._fitters`; the exact linear
fitter, which builds on them, in :mod:`vimp._linear_fitter`. Choosing between them needs both, so the
choice sits one level above both (neither of them imports this module). The estimators import the
fitter layer from here: :func:`make_fitter`, :func:`is_classifier_like`, and the protocol names
:class:`~vimp.Fitter` and :class:`~vimp.SklearnFitter` re-exported from :mod:`vimp._fitters`.
"""

from __future__ import annotations

import copy

from sklearn.base import is_classifier

from ._fitters import Fitter, PermutationTerms, SklearnFitter
from ._linear_fitter import linear_fitter_for

__all__ = ["Fitter", "PermutationTerms", "SklearnFitter", "is_classifier_like", "make_fitter"]


def make_fitter(estimator, response_method="predict"):
    """The fitter that serves ``estimator``: exact linear algebra where it is exact, else sklearn.

    Parameters
    ----------
    estimator : scikit-learn estimator or Fitter
        A :class:`Fitter` instance is returned as a deep copy (one per fold), never fitted in place.
        ``LinearRegression`` and ``Ridge`` (alone or after a ``StandardScaler``) get the exact
        :class:`vimp._linear_fitter.LinearFitter` when ``response_method="predict"``; everything else a
        :class:`SklearnFitter`.
    response_method : {"predict", "predict_proba"}

    Returns
    -------
    Fitter
        Unfitted, and never the object passed in.
    """
    if isinstance(estimator, Fitter):
        # A fresh copy per call: each fold and each refit needs its own fitted state.
        return copy.deepcopy(estimator)
    if response_method == "predict":
        fitter = linear_fitter_for(estimator)
        if fitter is not None:
            return fitter
    return SklearnFitter(estimator, response_method=response_method)


def is_classifier_like(estimator):
    """Whether ``estimator`` is a classifier (pipelines included; a Fitter answers for its estimator)."""
    if isinstance(estimator, Fitter):
        inner = getattr(estimator, "estimator", None)
        return inner is not None and bool(is_classifier(inner))
    return bool(is_classifier(estimator))
