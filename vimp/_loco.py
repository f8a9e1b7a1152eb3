"""Leave-one-covariate-out (LOCO) importance, by dropping or by permuting the training column."""

from __future__ import annotations

import numpy as np

from ._base import LossImportance, _SEED_FIT, _SEED_TEST, child_rng, model_has_intercept, run_tasks
from ._inference import pvalue_greater, split_test
from ._validation import MIN_EVALUATION_ROWS, check_choice, check_evaluation_size

REFITS = ("drop", "permute")
LOCO_TESTS = ("split", "paired")


class LOCO(LossImportance):
    """Leave-one-covariate-out importance with standard errors, confidence intervals and p-values.

    For each feature (or group), the learner is refitted without it (``refit="drop"``) or with its
    training column(s) permuted (``refit="permute"``, the variant of Bladen et al.); the importance is the
    increase in mean loss of the refitted model over the full model on held-out data.

    Parameters
    ----------
    estimator : scikit-learn estimator or pipeline
        Cloned before every fit; the object you pass is never changed.
    cv : None, int, scikit-learn splitter or list of (train, test) index pairs, default=None
        None: ``fit`` on training data, ``importance`` on held-out data. K (or a splitter, or pairs whose
        test parts partition the rows): cross-fit on the data given to ``fit``; a group splitter gets
        ``fit(..., cv_groups=...)``.
    refit : {"drop", "permute"}, default="drop"
        Refit without the column(s), or refit with the training column(s) permuted jointly (kept in the
        model as noise).
    groups : dict, optional
        Group name → list of columns (names or positions), left out jointly.
    loss : str or callable, optional
        As in :class:`PermutationImportance`.
    scale : {"difference", "ratio", "sqrt"}, default="difference"
    test : {"split", "paired"}, default="split"
        How p-values are computed; see Notes.
    level : float, default=0.95
    p_adjust : str, default="holm"
    random_state : None, int or numpy.random.Generator
        Seeds the sample split of the test, the training permutations of ``refit="permute"`` and the folds.
    n_jobs : int, optional
        Parallel jobs over features (joblib). Results do not depend on it.
    progress : bool, default=False

    Attributes
    ----------
    fitters_ : list
        The full model of each fold.
    reduced_fitters_ : list of lists
        ``reduced_fitters_[fold][group]``: the refitted models.
    folds_ : list of (train, test) index arrays

    Notes
    -----
    **Estimand.** :math:`E[L(Y, \\hat f_{-j}(X))] - E[L(Y, \\hat f(X))]` over new data, for the fitted
    full and reduced models (with ``cv=K``, averaged over the folds' models). The reported importance is
    the paired mean of the per-observation differences over all evaluation rows, and its interval is the
    paired Wald interval.

    **Test.** At zero importance the per-observation differences degenerate (both models predict alike),
    and the paired z test loses its normal limit. The default ``test="split"`` therefore splits the
    evaluation rows at random into two halves, averages the full model's loss over one half and the
    reduced model's loss over the other, and applies a one-sided z test to the difference of these two
    independent means (Williamson et al., 2023). It keeps its level at zero importance at the price of
    some power, which is large in small samples: the two halves' mean losses differ by the noise of the
    losses themselves, not of their differences (a few hundred rows may not be enough to detect a
    feature that the paired interval clearly excludes from zero). All features share one split, so their
    split-test p-values are correlated. ``test="paired"`` uses the paired differences (more power,
    valid away from zero importance, anti-conservative at it). The interval is always the paired one.

    References
    ----------
    Lei, J., G'Sell, M., Rinaldo, A., Tibshirani, R. J. & Wasserman, L. (2018). Distribution-free
    predictive inference for regression. JASA 113, 1094-1111.
    Williamson, B. D., Gilbert, P. B., Simon, N. R. & Carone, M. (2023). A general framework for inference
    on algorithm-agnostic variable importance. JASA 118, 1645-1658.
    Bladen, K., Cutler, A. & Wisler, A. (2025). Mathematical theory of collinearity effects on machine
    learning variable importance measures. arXiv:2510.00557.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from vimp import LOCO
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3)); y = X @ np.array([1.0, 0.5, 0.0]) + rng.normal(size=2000)
    >>> loco = LOCO(LinearRegression(), random_state=0).fit(X[:1000], y[:1000])
    >>> result = loco.importance(X[1000:], y[1000:])
    >>> result.to_frame()[["importance", "std_error"]].round(2)  # targets beta_j^2 Var(x_j | rest) = 1, 0.25, 0
             importance  std_error
    feature
    x0             1.09       0.08
    x1             0.24       0.04
    x2            -0.00       0.00
    """

    _method = "loco"

    def __init__(self, estimator, *, cv=None, refit="drop", groups=None, loss=None,
                 scale="difference", test="split", level=0.95, p_adjust="holm", random_state=None,
                 n_jobs=None, progress=False):
        self.estimator = estimator
        self.cv = cv
        self.refit = refit
        self.groups = groups
        self.loss = loss
        self.scale = scale
        self.test = test
        self.level = level
        self.p_adjust = p_adjust
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.progress = progress

    def _validate(self):
        super()._validate()
        check_choice(self.refit, "refit", REFITS)
        check_choice(self.test, "test", LOCO_TESTS)

    def _constant_ok(self):
        # Permuting a constant training column changes nothing; dropping it changes a model without an
        # intercept, where the constant column is the intercept.
        return self.refit == "permute" or model_has_intercept(self.estimator)

    def _check_evaluation(self, n, w):
        if self.test != "split":
            return
        for name, half in zip("ab", self._halves(n)):
            check_evaluation_size(
                len(half), None if w is None else w[half], f"half {name} of LOCO's sample split",
                MIN_EVALUATION_ROWS / 2, "use more evaluation rows, or test='paired'")

    def _fit_extra(self, X, y, sample_weight):
        self._reduced = None
        if not self._batch_ready(self.fitters_):
            self._reduced = self._refit_all()

    def _refit_all(self):
        tasks = [(f, g) for f in range(len(self.folds_)) for g in range(len(self.groups_))]

        def refit(task):
            f, g = task
            full = self.fitters_[f]
            if self.constant_groups_[g]:
                return full  # leaving out a constant column changes nothing
            columns = self.group_columns_[g]
            if self.refit == "drop":
                return full.refit_without(columns)
            n_train = len(self.folds_[f][0])
            perm = child_rng(self.seed_, _SEED_FIT, g, f).permutation(n_train)
            return full.refit_permuted(columns, perm)

        fitted = run_tasks(refit, tasks, self.n_jobs, self.progress, "loco refits")
        n_groups = len(self.groups_)
        return [fitted[f * n_groups:(f + 1) * n_groups] for f in range(len(self.folds_))]

    def _batch_ready(self, fitters):
        """Whether every fold's model answers all drop-one losses at once (exact linear fitters)."""
        return (self.refit == "drop" and all(len(c) == 1 for c in self.group_columns_)
                and all(hasattr(f, "drop_one_losses") for f in fitters))

    def _batch_group_losses(self, evaluations, fold_data, fold_full):
        if not self._batch_ready([fitter for fitter, _ in evaluations]):
            return None
        return self._drop_one_batch(evaluations, fold_data), None, None

    def _drop_one_batch(self, evaluations, fold_data):
        n = sum(len(rows) for _, rows in evaluations)
        singles = np.array([c[0] for c in self.group_columns_], dtype=np.intp)
        in_order = np.array_equal(singles, np.arange(self.n_features_in_))
        if len(evaluations) == 1 and in_order:  # one held-out set, one group per column: no copies
            fitter, rows = evaluations[0]
            Xf, yf, _ = fold_data[0]
            if np.array_equal(rows, np.arange(n)):
                return fitter.drop_one_losses(Xf, yf, self.loss_)
        other = np.empty((n, len(self.groups_)))
        for (fitter, rows), (Xf, yf, _) in zip(evaluations, fold_data):
            losses = fitter.drop_one_losses(Xf, yf, self.loss_)
            other[rows] = losses if in_order else losses[:, singles]
        return other

    @property
    def reduced_fitters_(self):
        """``reduced_fitters_[fold][group]``: the model refitted without the group (built on first use
        when an exact linear fitter answers the losses directly)."""
        if self._reduced is None:
            self._reduced = self._refit_all()
        return self._reduced

    def _group_losses(self, fold, fitter, X, y, w, group, rng, full):
        return self.reduced_fitters_[fold][group].losses(X, y, self.loss_), None

    def _test_pvalues(self, full, other, diff, raw, raw_se, w):
        if self.test == "paired":
            return pvalue_greater(raw, raw_se)
        half_a, half_b = self._halves(len(full))
        _, _, pvalue = split_test(full, other, half_a, half_b, w)
        return pvalue

    def _halves(self, n):
        from ._split import sample_split

        cached = getattr(self, "_halves_cache", None)
        if cached is not None and cached[0] == n and cached[1] is self.seed_:
            return cached[2]
        halves = sample_split(n, child_rng(self.seed_, _SEED_TEST))
        self._halves_cache = (n, self.seed_, halves)
        return halves

    def _test_name(self):
        return self.test

    def _details(self, full, other):
        details = super()._details(full, other)
        if self.test == "split":
            details["split_halves"] = self._halves(len(full))
        return details

    def _target(self):
        models = "the fitted models" if self.cv_ is None else f"the {len(self.folds_)} cross-fitted model pairs"
        how = "refitted without the feature" if self.refit == "drop" else "refitted with the feature permuted"
        return f"increase in expected {self.loss_.name} of the model {how}, for {models}"
