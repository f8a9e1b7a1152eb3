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
    """A nuisance regression fits too poorly for the test to be trusted."""


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
