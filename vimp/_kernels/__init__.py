"""Compiled kernels of vimp (private).

All Numba code of the package lives in this subpackage; the flag policy is in
:mod:`vimp._kernels._config`. Each kernel re-exported here has a plain-NumPy
twin of the same name in :mod:`vimp._kernels.reference` (also re-exported, as
``reference``); :data:`TWINS` maps each kernel to its twin.

The kernels also run as plain Python with ``NUMBA_DISABLE_JIT=1``.
"""

from . import reference
from ._config import njit_kernel, njit_parallel
from .linear_nb import (
    LOSS_ABSOLUTE,
    LOSS_SQUARED,
    PAP_BLOCK_SIZE,
    column_extremes,
    column_r2,
    constant_columns,
    drop_one_residuals_extremes_into,
    drop_one_residuals_into,
    gather_shifted_rows,
    gcm_linear_products,
    group_drop_losses,
    loco_linear_losses,
    loco_linear_losses_into,
    loss_difference_summary,
    loss_difference_sums,
    pap_linear_groups,
    pap_linear_losses,
    pap_linear_terms,
    pap_se_moments,
    pap_se_moments_groups,
    pap_se_sums,
    pointwise_loss,
    residual_products,
)
from .random_nb import derangements_from_stream, permutations_from_words

#: Each kernel and its plain-NumPy twin.
TWINS = {
    column_r2: reference.column_r2,
    column_extremes: reference.column_extremes,
    constant_columns: reference.constant_columns,
    drop_one_residuals_into: reference.drop_one_residuals_into,
    drop_one_residuals_extremes_into: reference.drop_one_residuals_extremes_into,
    pointwise_loss: reference.pointwise_loss,
    pap_linear_losses: reference.pap_linear_losses,
    pap_linear_terms: reference.pap_linear_terms,
    pap_linear_groups: reference.pap_linear_groups,
    pap_se_sums: reference.pap_se_sums,
    pap_se_moments: reference.pap_se_moments,
    pap_se_moments_groups: reference.pap_se_moments_groups,
    loco_linear_losses: reference.loco_linear_losses,
    loco_linear_losses_into: reference.loco_linear_losses_into,
    loss_difference_sums: reference.loss_difference_sums,
    loss_difference_summary: reference.loss_difference_summary,
    residual_products: reference.residual_products,
    gcm_linear_products: reference.gcm_linear_products,
    gather_shifted_rows: reference.gather_shifted_rows,
    group_drop_losses: reference.group_drop_losses,
    permutations_from_words: reference.permutations_from_words,
    derangements_from_stream: reference.derangements_from_stream,
}

__all__ = [
    "LOSS_ABSOLUTE",
    "LOSS_SQUARED",
    "PAP_BLOCK_SIZE",
    "TWINS",
    "column_extremes",
    "column_r2",
    "constant_columns",
    "derangements_from_stream",
    "drop_one_residuals_extremes_into",
    "drop_one_residuals_into",
    "gather_shifted_rows",
    "gcm_linear_products",
    "group_drop_losses",
    "loco_linear_losses",
    "loco_linear_losses_into",
    "loss_difference_summary",
    "loss_difference_sums",
    "njit_kernel",
    "njit_parallel",
    "pap_linear_groups",
    "pap_linear_losses",
    "pap_linear_terms",
    "pap_se_moments",
    "pap_se_moments_groups",
    "pap_se_sums",
    "permutations_from_words",
    "pointwise_loss",
    "reference",
    "residual_products",
]
