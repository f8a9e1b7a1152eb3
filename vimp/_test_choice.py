"""Which test ``test="auto"`` runs, and the question each test's p-value answers.

The rule is read from ``benchmarks/inference.py`` (results in ``benchmarks/results/inference*.csv``
and the user guide's "Can I trust this p-value?"). A test of the *fitted* models' difference asks
whether the models at hand use the feature; a *population* test asks whether the feature matters for
the learner, so that at a feature that does not matter it rejects at most at its level, whatever the
training data and the learner's seed happened to be.

LOCO
    *Linear models* (the final step of the estimator is a deterministic ``sklearn.linear_model``
    estimator, and no earlier pipeline step is randomised with ``random_state=None``): ``"perturbed"``.
    Their fits are smooth functions of the data, so at a null feature the full and reduced models
    differ by ``O(1/n)``, which the test's ``n^(-1/4)`` perturbation dominates; it kept its level in
    every OLS cell of the bench with 94% or more of the paired test's power.
    *Any other learner* (forests, boosting, nets, nearest neighbours, ...): the full and reduced fits
    differ by more than sampling noise at a null feature (a forest's trees change when a column goes),
    and the tests on the evaluation rows of one model pair rejected true nulls too often in the bench
    (a random forest at n = 1000, cv=5, pure-noise features: paired 13.8%, perturbed 11.7%, multi-split
    Cauchy 7.9% at alpha = 0.05, 60 data sets x 4 features). With ``cv=K``
    (``K >= 2``) the default is ``"nadeau-bengio"``, whose variance comes from the spread of the
    folds' refits; with held-out data ``"split-per-feature"`` (valid, low power: cross-fit for more).
PaP
    With ``cv=K`` (``K >= 2``): ``"nadeau-bengio"``, a population test. The fitted-model test
    (``"paired-skew"``) rejects at a null feature that is correlated with others (the fitted model uses
    it as a proxy: 9% to 12% at alpha = 0.05 for OLS at n = 200 and 1000 in the bench, 1,000 data sets
    a cell); the corrected cross-fitted t test held its level there (at most 4.2%). With held-out data (``cv=None`` or ``prefit=True``) only the fitted
    model is there to test: ``"paired-skew"``, labelled as the fitted-model test.
"""

from __future__ import annotations

#: ``sklearn.linear_model`` estimators whose fits are random (stochastic solvers, random subsets).
_RANDOM_LINEAR = frozenset({
    "SGDRegressor", "SGDClassifier", "SGDOneClassSVM", "Perceptron", "PassiveAggressiveRegressor",
    "PassiveAggressiveClassifier", "RANSACRegressor", "TheilSenRegressor",
})

#: The question each test's p-value answers: ``(short label, sentence)``.
QUESTIONS = {
    "paired": ("fitted model", "do the fitted models lose accuracy without the feature? Training "
               "variability is not included: not a test of whether the feature matters"),
    "paired-skew": ("fitted model", "does the fitted model rely on the feature? Training variability is "
                    "not included: not a test of whether the feature matters in the population"),
    "nadeau-bengio": ("population", "does the feature matter to models this learner trains on data like "
                      "these? The spread of the cross-fitted refits is included"),
    "perturbed": ("population", "does the feature matter? Valid at zero importance "
                  "for learners whose fits are smooth in the data (linear models)"),
    "split": ("population", "does the feature matter? Valid at zero importance; low "
              "power, and the features share one split"),
    "split-per-feature": ("population", "does the feature matter? Valid at zero "
                          "importance; low power"),
    "multisplit-cauchy": ("population", "does the feature matter? Valid at zero "
                          "importance for learners whose fits are smooth in the data"),
    "multisplit-quantile": ("population", "does the feature matter? Valid at zero "
                            "importance; conservative"),
    "split-folds": ("population", "does the feature matter? Valid at zero importance; "
                    "low power"),
    "wald": ("population", "is y correlated with the feature given the other features?"),
    "max": ("population", "is y correlated with any feature of the group given the others?"),
    "chi2": ("population", "is y correlated with any feature of the group given the others?"),
}


_PAIRED_INTERVAL = ("paired Wald interval of the fitted models' difference, not the test's procedure: it "
                    "can exclude 0 while the p-value is large, or the reverse")
#: What the interval beside each test's p-value covers.
INTERVALS = {
    "paired": "paired Wald interval, the test's procedure (fitted models)",
    "paired-skew": "skew-corrected paired interval, the test's procedure (fitted model)",
    "nadeau-bengio": ("t interval from the folds' spread, the test's procedure (training variability "
                      "included)"),
    "perturbed": _PAIRED_INTERVAL,
    "split": _PAIRED_INTERVAL,
    "split-per-feature": _PAIRED_INTERVAL,
    "multisplit-cauchy": _PAIRED_INTERVAL,
    "multisplit-quantile": _PAIRED_INTERVAL,
    "split-folds": _PAIRED_INTERVAL,
    "wald": "Wald interval, the test's procedure",
    "max": "Wald interval of each column's effect",
    "chi2": "Wald interval of each column's effect",
}


def _final_step(estimator):
    inner = getattr(estimator, "estimator", None) if hasattr(estimator, "refit_without") else estimator
    if inner is None:
        return None, []
    steps = [s for _, s in getattr(inner, "steps", [])] or [inner]
    final = steps[-1]
    # A TransformedTargetRegressor is as smooth as its regressor (and its transformer).
    if hasattr(final, "regressor") and type(final).__name__ == "TransformedTargetRegressor":
        final = final.regressor if final.regressor is not None else final
    return final, steps[:-1]


def smooth_deterministic(estimator):
    """Whether the learner's fits are smooth, deterministic functions of the data (linear models).

    True for vimp's exact linear fitters and for estimators (or pipelines) whose final step is an
    ``sklearn.linear_model`` estimator other than the randomised ones (SGD, Perceptron,
    passive-aggressive, RANSAC, Theil-Sen), provided no earlier step has ``random_state=None``.
    """
    if hasattr(estimator, "refit_without") and getattr(estimator, "estimator", None) is None:
        return type(estimator).__module__.startswith("vimp.")  # vimp's own linear fitter
    final, before = _final_step(estimator)
    if final is None or final == "passthrough":
        return False
    module = type(final).__module__
    if not module.startswith("sklearn.linear_model") or type(final).__name__ in _RANDOM_LINEAR:
        return False
    for step in before:
        if step in (None, "passthrough"):
            continue
        params = step.get_params(deep=False) if hasattr(step, "get_params") else {}
        if "random_state" in params and params["random_state"] is None:
            return False
    return True


def resolve_test(method, test, estimator, n_folds):
    """``(test, reason)``: the test that runs and, for ``test="auto"``, why (else None).

    ``n_folds`` is the number of cross-fitting folds (None or 1 for held-out data).
    """
    if test != "auto":
        return test, None
    crossfit = n_folds is not None and n_folds >= 2
    if method == "loco":
        if smooth_deterministic(estimator):
            return "perturbed", "test='auto': a linear model, whose fits are smooth in the data"
        if crossfit:
            return "nadeau-bengio", ("test='auto': not a linear model, so the variance comes from the "
                                     "spread of the cross-fitted refits")
        return "split-per-feature", ("test='auto': not a linear model and held-out data; cross-fit "
                                     "(cv=K) for the more powerful test='nadeau-bengio'")
    if crossfit:
        return "nadeau-bengio", "test='auto': cross-fitted, so the training variability is included"
    return "paired-skew", ("test='auto': one fitted model (held-out data), so only the fitted model can "
                           "be tested; cross-fit (cv=K) for a population test")
