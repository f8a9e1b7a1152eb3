"""Monte Carlo studies of variable importance: data-generating processes with population truths and a
runner that is reproducible replicate by replicate, parallel (joblib, dask) and resumable.

The data-generating processes (:class:`BladenDesign`, :class:`EquicorrelatedLinear`,
:class:`LinearGaussian`, :class:`Additive`, :class:`SingleIndex`, :class:`CustomDGP`) draw ``(X, y)`` with
``sample(n, rng)`` and give the population importance of each feature with ``truth(method, scale)``;
:func:`monte_carlo` runs vimp's estimators on many draws and returns one tidy table;
:func:`relative_efficiency` and :func:`efficiency_curve` compare two measures (GCM against LOCO, in
Zheng & Raskutti's sense) in theory and by Monte Carlo.

References
----------
Bladen, K., Cutler, D. R. & Wisler, A. (2025). Mathematical theory of collinearity effects on machine
learning variable importance measures. arXiv:2510.00557.
Zheng, C. & Raskutti, G. (2025). Comparing model-agnostic feature selection methods through relative
efficiency. arXiv:2508.14268.
"""

from ._dgp import (
    Additive,
    BladenDesign,
    CustomDGP,
    DataGeneratingProcess,
    EquicorrelatedLinear,
    LinearGaussian,
    SingleIndex,
)
from ._efficiency import (
    EfficiencyCurve,
    EfficiencyResult,
    EfficiencyWarning,
    are_additive,
    are_linear,
    are_single_index,
    efficiency_curve,
    relative_efficiency,
    theoretical_efficiency,
)
from ._runner import monte_carlo, monte_carlo_summary, run_replicate

__all__ = [
    "Additive",
    "BladenDesign",
    "CustomDGP",
    "DataGeneratingProcess",
    "EfficiencyCurve",
    "EfficiencyResult",
    "EfficiencyWarning",
    "EquicorrelatedLinear",
    "LinearGaussian",
    "SingleIndex",
    "are_additive",
    "are_linear",
    "are_single_index",
    "efficiency_curve",
    "monte_carlo",
    "monte_carlo_summary",
    "relative_efficiency",
    "run_replicate",
    "theoretical_efficiency",
]
