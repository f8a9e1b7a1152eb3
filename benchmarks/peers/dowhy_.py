"""dowhy (0.14): ``dowhy.gcm.independence_test.generalised_cov_based`` looped over the features.

The test takes one univariate X and Y and a conditioning matrix Z and returns a p-value only; residuals are
in-sample. It is given dowhy's linear regressor (``dowhy.gcm.ml.create_linear_regressor``) for both
regressions, so that it fits the same model as vimp and the loops (its default, ``AssignmentQuality.BETTER``,
selects among many models per regression and is far slower).
"""

from __future__ import annotations

import numpy as np


def gcm(X, y):
    from dowhy.gcm.independence_test.generalised_cov_measure import generalised_cov_based
    from dowhy.gcm.ml import create_linear_regressor

    out = np.empty(X.shape[1])
    for j in range(X.shape[1]):
        out[j] = generalised_cov_based(X[:, j], y, np.delete(X, j, axis=1),
                                       prediction_model_X=create_linear_regressor,
                                       prediction_model_Y=create_linear_regressor)
    return out
