"""hidimstat (0.4.0): ``PFI`` and ``LOCO``, both given the fitted full model (fit included in the time).

``PFI`` stacks its permuted copies of a feature into one ``predict`` call (n_permutations x the test rows);
``LOCO`` clones and refits the estimator once per feature. What they print is discarded.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

N_PERMUTATIONS = 10


def pfi(X_train, y_train, X_test, y_test, *, model, n_permutations=N_PERMUTATIONS):
    import hidimstat

    with contextlib.redirect_stdout(io.StringIO()):
        fitted = model().fit(X_train, y_train)
        est = hidimstat.PFI(fitted, n_permutations=n_permutations, random_state=0)
        return np.asarray(est.fit(X_train, y_train).importance(X_test, y_test), dtype=float)


def loco(X_train, y_train, X_test, y_test, *, model):
    import hidimstat

    with contextlib.redirect_stdout(io.StringIO()):
        fitted = model().fit(X_train, y_train)
        return np.asarray(hidimstat.LOCO(fitted).fit(X_train, y_train).importance(X_test, y_test), dtype=float)
