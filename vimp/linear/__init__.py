"""Closed forms of variable importances for linear regression.

Population (large-n) permute-and-predict, LOCO and GCM importances of an OLS model in terms of its
coefficients and the feature covariance, the special forms of Bladen, Cutler & Wisler (2025,
arXiv:2510.00557) for their equicorrelated design, and the finite-sample links used in the authors' code.
"""

from ._closed_forms import (
    absorption,
    adjust_loco,
    adjust_pap,
    bladen_cov,
    bladen_loco,
    bladen_pap,
    conditional_variance,
    gcm,
    loco,
    pap,
    t_statistic,
    theory,
    vif,
)

__all__ = [
    "absorption",
    "adjust_loco",
    "adjust_pap",
    "bladen_cov",
    "bladen_loco",
    "bladen_pap",
    "conditional_variance",
    "gcm",
    "loco",
    "pap",
    "t_statistic",
    "theory",
    "vif",
]
