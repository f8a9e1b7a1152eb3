"""vimpy: ``vim(y, x, s, measure_type="r_squared", pred_func=model)``, one object per feature.

vimpy's LOCO-type importance is a difference of R^2 (predictiveness) between the full regression, fitted and
evaluated on one random half of the rows, and the reduced one on the other half; the halves come from the
global NumPy RNG (no seed argument). It is given all rows (training + test) and the user loops over features.
Note: the index's vimpy 2.1 declares a dependency named ``scipy.stats`` that no package provides, so pip
installs 2.0.2.2 (the same ``vim`` API); the table's machine block names the version that ran.
"""

from __future__ import annotations

import numpy as np


def loco(X_train, y_train, X_test, y_test, *, model):
    import vimpy

    X = np.vstack([X_train, X_test])
    y = np.concatenate([y_train, y_test])
    out = np.empty(X.shape[1])
    for j in range(X.shape[1]):
        est = vimpy.vim(y=y, x=X, s=np.array([j]), measure_type="r_squared", pred_func=model())
        est.get_point_est().get_influence_function().get_se()
        out[j] = float(np.ravel(est.vimp_)[0])
    return out
