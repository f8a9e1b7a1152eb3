"""vimp: variable importance with honest inference.

Permute-and-predict (:class:`PermutationImportance`), leave-one-covariate-out (:class:`LOCO`) and the
generalised covariance measure on one model-agnostic fitter interface, each returning an
:class:`ImportanceResult` with standard errors, confidence intervals and p-values.
"""

from ._compare import compare
from ._fitters import Fitter, PermutationTerms, SklearnFitter
from ._gcm import GCM
from ._loco import LOCO
from ._pap import PermutationImportance
from ._results import ImportanceResult
from ._threads import config_context, get_config, set_config
from ._version import __version__
from ._warnings import DegenerateInferenceWarning, NuisanceQualityWarning, RankDeficiencyWarning, VimpWarning

__all__ = [
    "DegenerateInferenceWarning",
    "Fitter",
    "GCM",
    "ImportanceResult",
    "LOCO",
    "NuisanceQualityWarning",
    "PermutationImportance",
    "PermutationTerms",
    "RankDeficiencyWarning",
    "SklearnFitter",
    "VimpWarning",
    "__version__",
    "compare",
    "config_context",
    "get_config",
    "set_config",
]
