"""The package's warning classes, and :func:`warn`, which points a warning at the user's own code."""

from __future__ import annotations

import os
import sys
import warnings


class VimpWarning(UserWarning):
    """Base class of every warning that vimp emits."""


class RankDeficiencyWarning(VimpWarning):
    """The design is (numerically) rank deficient."""


class NuisanceQualityWarning(VimpWarning):
    """A nuisance regression of :class:`~vimp.GCM` predicts significantly worse than a simple baseline.

    Raised by :meth:`vimp.GCM.importance` when a learner's out-of-fold (or held-out) squared error
    exceeds that of the training mean or of OLS of the same target on the same features, fitted on the
    same folds, by more than a linear fit's estimation price (one-sided paired z test, Holm-adjusted
    over the regressions of the call, family-wise level 1%). Residuals that large can break GCM's rate
    condition, so its test may not hold its level. Its absence does not prove the rate condition holds.
    The comparison is in ``result.details["nuisance_check"]``.
    """


class DegenerateInferenceWarning(VimpWarning):
    """A standard error is zero or not finite, so no p-value or interval can be given (they are NaN)."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def external_stacklevel():
    """The ``stacklevel`` that makes a warning point at the first frame outside the vimp package.

    Public methods reach the place that warns through different numbers of internal calls; counting
    frames up to the user's code keeps the warning's file and line the user's (as ``stacklevel=2`` does
    for a warning raised directly in a public function).
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep):
        frame = frame.f_back
        level += 1
    return level


def warn(message, category):
    """``warnings.warn(message, category)`` attributed to the caller of the public vimp function."""
    warnings.warn(message, category, stacklevel=external_stacklevel())
