"""fippy (0.2.0): ``Explainer(predict, X_train, loss).pfi`` and ``.loco`` (DataFrames in, as fippy requires).

fippy's PFI draws replacement values with replacement from the *training* marginal (not a permutation of the
test column) from the global NumPy RNG: it has no seed argument. Its LOCO refits ``clone(learner)`` on the
training rows per feature. The DataFrame conversions are part of the timed call (a user of fippy pays them).
fippy draws tqdm progress bars with an explicit ``disable=`` (which ``TQDM_DISABLE`` cannot override); the
adapter replaces ``fippy.explainer.tqdm`` by a pass-through, so the table times the computation, not the bars.
"""

from __future__ import annotations

import numpy as np

N_PERMUTATIONS = 10


def _quiet():
    import fippy.explainer

    fippy.explainer.tqdm = lambda iterable, *args, **kwargs: iterable


def _explainer(X_train, y_train, model):
    import pandas as pd
    from fippy import Explainer
    from fippy.losses import squared_error

    _quiet()
    columns = [f"x{j}" for j in range(X_train.shape[1])]
    frame = pd.DataFrame(X_train, columns=columns)
    fitted = model().fit(frame, y_train)
    explainer = Explainer(fitted.predict, frame, loss=squared_error)
    return explainer, columns


def pfi(X_train, y_train, X_test, y_test, *, model, n_repeats=N_PERMUTATIONS):
    import pandas as pd

    explainer, columns = _explainer(X_train, y_train, model)
    result = explainer.pfi(pd.DataFrame(X_test, columns=columns), y_test, n_repeats=n_repeats)
    return result.scores.mean(axis=(0, 1, 2))


def loco(X_train, y_train, X_test, y_test, *, model):
    import pandas as pd

    explainer, columns = _explainer(X_train, y_train, model)
    explainer.set_y_train(y_train)
    result = explainer.loco(pd.DataFrame(X_test, columns=columns), y_test, model())
    return result.scores.mean(axis=(0, 1, 2))
