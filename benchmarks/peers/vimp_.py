"""vimp itself: ``PermutationImportance``, ``LOCO`` and ``GCM`` (fit included), and its Monte Carlo runner.

Each returns ``(estimator, result)``: what a user holds after the call, so that the memory a run keeps alive
(the table's "kept") counts the fitted estimator and its result, not only the importances.
"""

from __future__ import annotations

N_PERMUTATIONS = 10


def pap(X_train, y_train, X_test, y_test, *, model, n_permutations=N_PERMUTATIONS, shared=False):
    """``PermutationImportance(model, n_permutations=10)`` fitted on the training half, scored on the test half."""
    import vimp

    est = vimp.PermutationImportance(model(), n_permutations=n_permutations, shared_permutations=shared,
                                     random_state=0)
    return est, est.fit(X_train, y_train).importance(X_test, y_test)


def loco(X_train, y_train, X_test, y_test, *, model):
    """``LOCO(model)``: fitted (every drop-one refit included) on the training half, scored on the test half."""
    import vimp

    est = vimp.LOCO(model(), random_state=0)
    return est, est.fit(X_train, y_train).importance(X_test, y_test)


def loco_cv(X, y, *, model, cv=5):
    """Cross-fitted ``LOCO(model, cv=5)`` on all rows."""
    import vimp

    est = vimp.LOCO(model(), cv=cv, random_state=0)
    return est, est.fit(X, y).importance()


def gcm(X, y, *, model, cv=5):
    """``GCM(model, cv=cv)`` on all rows (``cv=None``: in-sample residuals, as dowhy's test)."""
    import vimp

    est = vimp.GCM(model(), cv=cv, random_state=0)
    return est, est.fit(X, y).importance()


def monte_carlo(reps):
    """``vimp.simulation.monte_carlo`` of PaP + LOCO + GCM, as ``benchmarks/simulation.py`` calls it."""
    from benchmarks import simulation

    return simulation.run_runner(reps)
