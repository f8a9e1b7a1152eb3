"""The package's warning classes."""


class VimpWarning(UserWarning):
    """Base class of every warning that vimp emits."""


class RankDeficiencyWarning(VimpWarning):
    """The design is (numerically) rank deficient."""


class NuisanceQualityWarning(VimpWarning):
    """A nuisance regression fits too poorly for the test to be trusted."""
