"""Leave-one-covariate-out (LOCO) importance, by dropping or by permuting the training column."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ._base import LossImportance, _SEED_FIT, _SEED_TEST, child_rng, model_has_intercept, run_tasks
from ._inference import (
    cauchy_combination,
    draw_perturbation,
    multisplit_pvalues,
    perturbed_paired_test,
    perturbed_test_from_draws,
    pvalue_greater,
    quantile_aggregation,
    skew_corrected_pvalue_greater,
    split_test,
)
from ._split import child_generators
from ._test_choice import resolve_test
from ._typing import CVSpec, Estimator, GroupSpec, LossSpec, RandomState, Scale
from ._validation import MIN_EVALUATION_ROWS, check_choice, check_evaluation_size

REFITS = ("drop", "permute")
LOCO_TESTS = ("split", "paired", "split-per-feature", "multisplit-cauchy", "multisplit-quantile",
              "split-folds", "perturbed", "nadeau-bengio")
#: Tests that split the evaluation rows at random into halves.
_ROW_SPLIT_TESTS = ("split", "split-per-feature", "multisplit-cauchy", "multisplit-quantile")
#: Random sample splits per feature of the multi-split tests.
MULTISPLIT_SPLITS = 25
#: ``gamma_min`` of the quantile aggregation (Meinshausen et al., 2009, use 0.05).
MULTISPLIT_GAMMA_MIN = 0.05
# Sub-keys of _SEED_TEST: one stream per test kind and group, so that no two tests or groups share draws.
_KEY_PER_FEATURE, _KEY_MULTISPLIT, _KEY_FOLDS, _KEY_PERTURB = 1, 2, 3, 4


def perturbation_scale(n_effective):
    """The perturbation of ``test="perturbed"`` in units of ``sd(full loss)``: ``n ** (-1/4)``.

    Dai, Shen & Pan (2022) add ``N(0, rho^2)`` noise with ``rho`` a multiple of the full loss's standard
    deviation and tune the multiple by refitting on data with the feature permuted. Without refits we use
    a rate: the perturbation has to dominate the ``O(1/n)`` difference between the fitted full and
    reduced models at a null feature (the standard error of the perturbed mean is ``~ rho / sqrt(n)``,
    so ``rho`` must shrink more slowly than ``n^(-1/2)``), and should vanish so that the test loses
    little power against a fixed alternative. ``rho = sd(L) n^(-1/4)`` is the geometric middle: the
    bias-to-standard-error ratio at the null falls like ``n^(-1/4)``, and the added variance relative
    to the loss variance, ``n^(-1/2)``, too. At ``n = 200`` the multiple is 0.27, at ``n = 1000`` 0.18.
    """
    return float(n_effective) ** -0.25


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
    test : {"auto", "perturbed", "nadeau-bengio", "split", "paired", "split-per-feature", \
"multisplit-cauchy", "multisplit-quantile", "split-folds"}, default="auto"
        How p-values are computed; see Notes. ``"auto"``: ``"perturbed"`` for linear models,
        ``"nadeau-bengio"`` for other learners with ``cv=K``, ``"split-per-feature"`` for other
        learners with held-out data (the rule and its measurements: ``vimp._test_choice``). The
        interval comes from the same procedure for ``"paired"`` and ``"nadeau-bengio"``; for the others
        it is the paired Wald interval of the fitted-model difference (``result.test`` and the summary
        say which).
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
    and the paired z test loses its normal limit; and for learners whose fits are not smooth in the data
    (trees, forests, boosting) the full and reduced fits differ at a null feature by more than
    sampling noise (the trees change when a column goes), which a test on the evaluation rows of one
    model pair reads as signal. ``test="auto"`` therefore picks by learner (measured in
    ``benchmarks/inference.py``; the user guide's "Can I trust this p-value?" has the numbers):

    - linear models (a deterministic ``sklearn.linear_model`` estimator as the final step):
      ``"perturbed"``, the paired test made non-degenerate by a vanishing perturbation (below);
    - other learners with ``cv=K``: ``"nadeau-bengio"``, a t test on the K folds' estimates with the
      Nadeau-Bengio corrected variance, which carries the training variability (data and seed) of the
      refits (:func:`vimp._inference.crossfit_t`); its interval is the matching t interval and its
      target the learner's importance (models trained on ``(K-1)/K`` of the rows);
    - other learners with held-out data: ``"split-per-feature"`` (valid, low power; cross-fit for more).

    Other tests (``benchmarks/inference.py`` measures their size and power):

    - ``"split"``: the evaluation rows split at random into two halves, the full model's mean loss on one
      against the reduced model's on the other, a one-sided z test on the difference of the two
      independent means (Williamson et al., 2023): valid at zero importance, little power (the two
      means differ by the noise of the losses, not of their differences), and one split shared by all
      features, so their p-values move together. ``"paired"``: the paired z test (valid away from zero
      importance, anti-conservative at it).
    - ``"split-per-feature"``: the split test with a split drawn for each feature (from its own child
      seed), so that the features' p-values do not move together.
    - ``"multisplit-cauchy"`` and ``"multisplit-quantile"``: ``MULTISPLIT_SPLITS`` (25) random splits per
      feature, each giving a split-test p-value, combined by the Cauchy combination (Liu & Xie, 2020;
      :func:`vimp._inference.cauchy_combination`) or by the adaptive quantile aggregation of
      Meinshausen, Meier & Buhlmann (2009) with ``gamma_min = 0.05``
      (:func:`vimp._inference.quantile_aggregation`); both are valid under the strong dependence
      between splits of one data set (the Cauchy one for small p-values).
    - ``"split-folds"``: the cross-fitted sample splitting of R vimp 2.x (Williamson et al., 2023;
      ``cv_vim``, ``generate_folds``): the cross-fitting folds, not the rows, are divided at random into
      two sets (per feature); the full model's loss is averaged over the rows of the first set's folds
      and the reduced model's over the second's. Needs ``cv=K`` with ``K >= 2``. (R vimp doubles the
      folds so that each set has ``K``; here the user's ``K`` folds are divided ``K // 2`` to the full
      model.)
    - ``"perturbed"``: the paired z test on the differences plus independent ``N(0, rho^2)`` noise (Dai,
      Shen & Pan, 2022; :func:`vimp._inference.perturbed_paired_test`), non-degenerate at the null, with
      ``rho = sd(full loss) * n^(-1/4)`` (:func:`perturbation_scale` states the rule). The noise is
      drawn per feature from the call's seed; without sample weights the statistic needs only three
      draws of it per feature, which give exactly the distribution of ``n``
      (:func:`vimp._inference.perturbed_test_from_draws`), so the test costs no ``(n, k)`` noise array.

    All of these but ``"nadeau-bengio"`` test the fitted models' difference: for a learner whose full and
    reduced fits differ at a null feature (a random forest, with or without ``random_state``), that
    difference is not zero, and the paired, perturbed and multi-split tests read it as signal (13.8%,
    11.7% and 7.9% rejections at alpha = 0.05 for a forest at n = 1000 with cv=5 in the bench); the
    split tests' larger standard error hides it, for now.

    References
    ----------
    Lei, J., G'Sell, M., Rinaldo, A., Tibshirani, R. J. & Wasserman, L. (2018). Distribution-free
    predictive inference for regression. JASA 113, 1094-1111.
    Williamson, B. D., Gilbert, P. B., Simon, N. R. & Carone, M. (2023). A general framework for inference
    on algorithm-agnostic variable importance. JASA 118, 1645-1658.
    Liu, Y. & Xie, J. (2020). Cauchy combination test. JASA 115, 393-402.
    Meinshausen, N., Meier, L. & Buhlmann, P. (2009). p-values for high-dimensional regression. JASA 104,
    1671-1681.
    Dai, B., Shen, X. & Pan, W. (2022). Significance tests of feature relevance for a black-box learner.
    IEEE Transactions on Neural Networks and Learning Systems.
    Nadeau, C. & Bengio, Y. (2003). Inference for the generalization error. Machine Learning 52,
    239-281.
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

    def __init__(self, estimator: Estimator, *, cv: CVSpec = None, refit: Literal["drop", "permute"] = "drop",
                 groups: GroupSpec | None = None, loss: LossSpec | None = None, scale: Scale = "difference",
                 test: Literal["auto", "split", "paired", "split-per-feature", "multisplit-cauchy",
                               "multisplit-quantile", "split-folds", "perturbed", "nadeau-bengio"] = "auto",
                 level: float = 0.95, p_adjust: str = "holm", random_state: RandomState = None,
                 n_jobs: int | None = None, progress: bool = False) -> None:
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
        check_choice(self.test, "test", ("auto",) + LOCO_TESTS)
        if self.test in ("split-folds", "nadeau-bengio") and self._cv_plan is None:
            raise ValueError(
                f"test={self.test!r} compares the cross-fitting folds and needs cv=K (K >= 2); with "
                "cv=None use test='auto', 'perturbed' or 'split-per-feature'"
            )

    def _test_in_use(self):
        """The test that runs: ``test``, or what ``test="auto"`` resolves to (see ``vimp._test_choice``)."""
        return resolve_test("loco", self.test, self.estimator, self._n_folds())[0]

    def _constant_ok(self):
        # Permuting a constant training column changes nothing; dropping it changes a model without an
        # intercept, where the constant column is the intercept.
        return self.refit == "permute" or model_has_intercept(self.estimator)

    def _check_evaluation(self, n, w):
        test = self._test_in_use()
        if test == "split":
            splits = [self._halves(n)]
        elif test in _ROW_SPLIT_TESTS or test == "split-folds":
            if test == "split-folds" and len(self.folds_) < 2:
                raise ValueError("test='split-folds' needs at least 2 cross-fitting folds; got 1")
            splits = [s for g in range(len(self.groups_)) for s in self._group_splits(g, n)]
        else:
            return
        what = "cross-fitted sample split" if test == "split-folds" else "sample split"
        for halves in splits:
            for name, half in zip("ab", halves):
                check_evaluation_size(
                    len(half), None if w is None else w[half], f"half {name} of LOCO's {what}",
                    MIN_EVALUATION_ROWS / 2, "use more evaluation rows, or test='paired'")

    def _group_splits(self, g, n):
        """The (half_a, half_b) pairs of group ``g``'s test (full model on ``a``, reduced on ``b``)."""
        test = self._test_in_use()
        from ._split import sample_split

        if test == "split":
            return [self._halves(n)]
        if test == "split-per-feature":
            return [sample_split(n, child_rng(self.seed_, _SEED_TEST, _KEY_PER_FEATURE, g))]
        if test in ("multisplit-cauchy", "multisplit-quantile"):
            rng = child_rng(self.seed_, _SEED_TEST, _KEY_MULTISPLIT, g)
            return [sample_split(n, rng) for _ in range(MULTISPLIT_SPLITS)]
        if test == "split-folds":
            k = len(self.folds_)
            order = child_rng(self.seed_, _SEED_TEST, _KEY_FOLDS, g).permutation(k)
            first = [self.folds_[f][1] for f in order[:k // 2]]
            second = [self.folds_[f][1] for f in order[k // 2:]]
            return [(np.sort(np.concatenate(first)), np.sort(np.concatenate(second)))]
        raise AssertionError(test)  # pragma: no cover

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

    def _batch_ready_for(self, fitters):
        return self._batch_ready(fitters)

    def _batch_group_losses(self, evaluations, fold_rows):
        return self._drop_one_batch(evaluations, fold_rows), None, None

    def _drop_one_batch(self, evaluations, fold_rows):
        n = sum(len(rows) for _, rows in evaluations)
        singles = np.array([c[0] for c in self.group_columns_], dtype=np.intp)
        in_order = np.array_equal(singles, np.arange(self.n_features_in_))
        if len(evaluations) == 1 and in_order:  # one held-out set, one group per column: no copies
            fitter, rows = evaluations[0]
            if np.array_equal(rows, np.arange(n)):
                Xf, yf, _, _ = fold_rows(0)
                return fitter.drop_one_losses(Xf, yf, self.loss_)
        other = np.empty((n, len(self.groups_)))
        for f, (fitter, rows) in enumerate(evaluations):
            Xf, yf, _, _ = fold_rows(f)
            if in_order:  # written straight into the fold's rows
                fitter.drop_one_losses(Xf, yf, self.loss_, out=other, rows=rows)
            else:
                other[rows] = fitter.drop_one_losses(Xf, yf, self.loss_)[:, singles]
            del Xf
        return other

    @property
    def reduced_fitters_(self) -> list[list[Any]]:
        """``reduced_fitters_[fold][group]``: the model refitted without the group (built on first use
        when an exact linear fitter answers the losses directly)."""
        if self._reduced is None:
            self._reduced = self._refit_all()
        return self._reduced

    def _group_losses(self, fold, fitter, X, y, w, group, rng, full):
        return self.reduced_fitters_[fold][group].losses(X, y, self.loss_), None

    def _test_pvalues(self, full, other, diff, raw, raw_se, w):
        test = self._test_in_use()
        self._test_details = {}
        n, k = other.shape
        if test == "paired":
            return pvalue_greater(raw, raw_se)
        if test == "nadeau-bengio":  # raw_se and the df come from the folds' spread (_build_result)
            return skew_corrected_pvalue_greater(raw, raw_se, 0.0, self._raw_df)
        if test == "split":
            half_a, half_b = self._halves(n)
            _, _, pvalue = split_test(full, other, half_a, half_b, w)
            return pvalue
        if test == "perturbed":
            size = n if w is None else float(np.sum(w)) ** 2 / float(np.sum(w * w))
            scale = perturbation_scale(size)
            rngs = child_generators(self.seed_, [(_SEED_TEST, _KEY_PERTURB, g) for g in range(k)])
            if w is None:  # three draws per group carry all the noise (perturbed_test_from_draws)
                draws = np.array([draw_perturbation(rng, n) for rng in rngs])
                _, _, pvalue = perturbed_test_from_draws(raw, raw_se, full, scale, draws)
            else:
                noise = np.empty((k, n))
                for g, rng in enumerate(rngs):
                    rng.standard_normal(out=noise[g])
                _, _, pvalue = perturbed_paired_test(diff, full, noise.T, scale, w)
            self._test_details = {"perturbation_scale": scale}
            return pvalue
        pvalue = np.empty(k)
        per_split = []
        for g in range(k):
            column = other[:, g:g + 1]
            splits = self._group_splits(g, n)
            ps = (multisplit_pvalues(full, column[:, 0], splits, w) if len(splits) > 1
                  else split_test(full, column, *splits[0], w)[2])
            per_split.append(ps)
            if test == "multisplit-cauchy":
                pvalue[g] = cauchy_combination(ps)
            elif test == "multisplit-quantile":
                pvalue[g] = quantile_aggregation(ps, MULTISPLIT_GAMMA_MIN)
            else:
                pvalue[g] = ps[0]
        if test.startswith("multisplit"):
            self._test_details = {"split_pvalues": np.vstack(per_split)}
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
        return self._test_in_use()

    def _test_rule(self):
        return resolve_test("loco", self.test, self.estimator, self._n_folds())[1]

    def _details(self, full, other):
        test = self._test_in_use()
        details = super()._details(full, other)
        if test == "split":
            details["split_halves"] = self._halves(len(full))
        details.update(getattr(self, "_test_details", {}))
        return details

    def _target(self):
        how = "refitted without the feature" if self.refit == "drop" else "refitted with the feature permuted"
        if self._crossfit_test():
            return (f"increase in expected {self.loss_.name} of a model {how}, for models this learner "
                    f"trains on {len(self.folds_) - 1}/{len(self.folds_)} of the rows (training "
                    "variability included)")
        models = "the fitted models" if self.cv_ is None else f"the {len(self.folds_)} cross-fitted model pairs"
        return f"increase in expected {self.loss_.name} of the model {how}, for {models}"
