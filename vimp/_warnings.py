"""The package's warning classes."""


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
