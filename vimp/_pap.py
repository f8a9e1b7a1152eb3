"""Permute-and-predict (PaP) importance."""

from __future__ import annotations

from typing import Literal

import numpy as np

from sklearn.utils.validation import check_is_fitted

from ._base import _SEED_EVAL, LossImportance, child_rng, prefit_fitter
from ._inference import permutation_mean_se, permutation_se_from_sums, skew_corrected_pvalue_greater
from ._split import PERMUTATION_KINDS, GroupPermutations, SamePermutations, draw_permutations
from ._results import ImportanceResult
from ._test_choice import resolve_test
from ._typing import ArrayLike, CVSpec, Estimator, GroupSpec, LossSpec, MatrixLike, RandomState, Scale
from ._validation import check_choice, check_draws, check_int

PAP_TESTS = ("paired-skew", "nadeau-bengio")


class PermutationImportance(LossImportance):
    """Permute-and-predict importance with standard errors, confidence intervals and p-values.

    For each feature (or group), the evaluation column(s) are permuted jointly and the same fitted model
    predicts again; the importance is the increase in mean loss.

    Parameters
    ----------
    estimator : scikit-learn estimator or pipeline
        Cloned before fitting (the object you pass is never changed), unless ``prefit=True``.
    cv : None, int or scikit-learn splitter, default=None
        None: ``fit`` on training data, ``importance`` on held-out data. K: cross-fit on the data given to
        ``fit`` (one model per fold, each evaluated on its own held-out fold).
    n_permutations : int, default=1
        Permutations per feature; each observation's loss is averaged over them. The spread between
        repeats is reported as ``mc_std`` (Monte Carlo noise), never as a standard error.
    permutation : {"derangement", "uniform"}, default="derangement"
        How the evaluation rows are permuted, within each evaluation set (each fold with ``cv=K``).
        ``"derangement"``: uniformly random permutations in which no row keeps its own value, so that
        every permuted term pairs a row with another row's column(s) and the estimate is unbiased for
        the pair average of the Notes. ``"uniform"``: uniformly random permutations (as R's
        ``sample()``, used by Bladen et al., and scikit-learn's ``permutation_importance``); a row left in
        place contributes its unpermuted loss, which shrinks the expected importance by the factor
        ``(m - 1) / m`` in an evaluation set of ``m`` rows (0.9 at ``m = 10``). Derangements need at
        least 2 evaluation rows per fold.
    test : {"auto", "nadeau-bengio", "paired-skew"}, default="auto"
        Which question the p-values answer. ``"nadeau-bengio"`` (a population test, needs ``cv=K``): does
        the feature matter to models this learner trains on data like these? A t test on the K folds'
        estimates with the Nadeau-Bengio corrected variance ``(1/K + n_test/n_train) S^2`` (K - 1
        degrees of freedom), which carries the training variability; the interval is the matching t
        interval. ``"paired-skew"`` (the fitted-model test): does the fitted model rely on the feature?
        See Notes. ``"auto"``: ``"nadeau-bengio"`` with ``cv=K``, else ``"paired-skew"`` (held-out data
        or ``prefit=True``: one fitted model is all there is to test).
    groups : dict, optional
        Group name → list of columns (names or positions), permuted jointly. Default: one per feature.
    loss : str or callable, optional
        ``"squared_error"``, ``"absolute_error"``, ``"log_loss"``, ``"zero_one"`` or a callable
        ``loss(y_true, y_pred)`` returning per-observation losses. Default: squared error for
        regressors, log loss for classifiers.
    scale : {"difference", "ratio", "sqrt"}, default="difference"
        Mean loss increase; ratio of permuted to unpermuted mean loss; or Bladen et al.'s
        ``sqrt(max(difference, 0))``.
    level : float, default=0.95
        Confidence level of the intervals.
    p_adjust : str, default="holm"
        Multiple-testing adjustment (as in ``statsmodels.stats.multitest.multipletests``), or "none".
    prefit : bool, default=False
        ``estimator`` is already fitted: no refit; call :meth:`importance` with held-out data directly.
    shared_permutations : bool, default=False
        False: each feature group gets its own independent permutations. True: every group is permuted
        by the same ``n_permutations`` row permutations (per fold), as scikit-learn's
        ``permutation_importance`` does. Each group's estimate, standard error and test have the same
        distribution either way; with shared permutations the estimates of different groups share
        their Monte Carlo noise (common random numbers), so differences between groups carry less of
        it, and the permutations are drawn once instead of once per group.
    random_state : None, int or numpy.random.Generator
        Seed of the permutations (and of the folds for integer ``cv``).
    n_jobs : int, optional
        Parallel jobs over features (joblib). Results do not depend on it.
    progress : bool, default=False
        Show a progress bar.

    Attributes
    ----------
    fitters_ : list
        The fitted model of each fold (one for a held-out design).
    folds_ : list of (train, test) index arrays
    feature_names_in_ : ndarray
        Column names, when ``X`` was a DataFrame.

    Notes
    -----
    **Estimand.** With a fixed fitted model :math:`\\hat f`, the target is
    :math:`E[L(Y, \\hat f(X^{\\pi_j}))] - E[L(Y, \\hat f(X))]` over new data, where in
    :math:`X^{\\pi_j}` column :math:`j` is taken from an independent copy of :math:`X`: the importance *for
    that fitted model*. Within an evaluation set of :math:`m` rows, with :math:`L_{ik}` the loss of row
    :math:`i` with column :math:`j` taken from row :math:`k`, the default derangements make the
    expected permuted loss the pair average :math:`\\frac{1}{m(m-1)}\\sum_{i \\ne k} L_{ik}`, a
    U-statistic whose expectation is the permuted term of the target, so the estimate is unbiased for
    it; uniform permutations give :math:`\\frac{1}{m^2}\\sum_{i,k} L_{ik}`, whose diagonal terms are
    unpermuted losses, and so :math:`(m-1)/m` times the target (see the theory page of the
    documentation). The standard error comes from the per-observation differences (averaged over the
    permutations), corrected for the rows they share (a permuted row's column enters another row's
    term; see ``vimp._inference.permutation_mean_se``), so the intervals cover this conditional
    target asymptotically. At small n the variance gets the factor ``n / (n - 4 + 1/R)`` of centring at
    the estimated mean, and the interval and test use Hall's skewness transform with a t quantile on
    Satterthwaite degrees of freedom of the variance estimate (see the user guide); at 50 evaluation
    rows 95% intervals covered the target in 94% to 95% of replicates
    (``benchmarks/pap_small_sample.py``). They do not account for the training variability of
    :math:`\\hat f`: for OLS with Gaussian features the population value is :math:`2\\beta_j^2 \\Sigma_{jj}`, while the fitted model's is
    :math:`2\\hat\\beta_j^2 \\Sigma_{jj} + 2\\hat\\beta_j (\\Sigma(\\beta - \\hat\\beta))_j`, and the
    intervals cover the population value well below the nominal rate (95% intervals: 70% to 87% of
    replicates in the package's calibration runs, depending on the design). With ``cv=K`` the target is the
    average over the K fitted models.

    **Tests.** ``test="paired-skew"``: one-sided test of "importance > 0" for the fitted model, on the
    per-observation differences (the z statistic with the corrections above). A feature the fitted
    model uses has a positive target even if it does not matter in the population: at a null feature
    correlated with others (the model uses it as a proxy) this test rejected 9% to 12% of the time
    at alpha = 0.05 (OLS, n = 200 and 1000, ``benchmarks/inference.py``). ``test="nadeau-bengio"``
    (the default with ``cv=K``) compares the K folds' estimates, each from its own refit, so the
    training variability is in its variance; it held its level there (at most 4.2%) and keeps most of
    the power against real effects. Neither replaces LOCO or GCM for "is the feature needed given the
    others?".

    References
    ----------
    Breiman, L. (2001). Random forests. Machine Learning 45, 5-32.
    Bladen, K., Cutler, A. & Wisler, A. (2025). Mathematical theory of collinearity effects on machine
    learning variable importance measures. arXiv:2510.00557.
    Nadeau, C. & Bengio, Y. (2003). Inference for the generalization error. Machine Learning 52,
    239-281.
    Molnar, C. et al. (2023). Relating the partial dependence plot and permutation feature importance to
    the data generating process. xAI 2023, Communications in Computer and Information Science 1901.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from vimp import PermutationImportance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3)); y = X @ np.array([1.0, 0.5, 0.0]) + rng.normal(size=2000)
    >>> pap = PermutationImportance(LinearRegression(), random_state=0).fit(X[:1000], y[:1000])
    >>> result = pap.importance(X[1000:], y[1000:])
    >>> result.to_frame()[["importance", "std_error"]].round(2)  # targets 2 beta_j^2 Var(x_j) = 2, 0.5, 0
             importance  std_error
    feature
    x0             2.17       0.14
    x1             0.49       0.05
    x2            -0.00       0.00
    """

    _method = "pap"
    _min_fold_rows = 2  # one row cannot be permuted

    def _check_sizes(self, fold_rows):
        # Each group's permutations of a fold are one (n_permutations, rows) array: bound it up front.
        check_draws(self.n_permutations, max(fold_rows), "n_permutations")

    def __init__(self, estimator: Estimator, *, cv: CVSpec = None, n_permutations: int = 1,
                 groups: GroupSpec | None = None, loss: LossSpec | None = None, scale: Scale = "difference",
                 level: float = 0.95, p_adjust: str = "holm", prefit: bool = False,
                 shared_permutations: bool = False,
                 permutation: Literal["derangement", "uniform"] = "derangement",
                 test: Literal["auto", "nadeau-bengio", "paired-skew"] = "auto",
                 random_state: RandomState = None, n_jobs: int | None = None, progress: bool = False) -> None:
        self.estimator = estimator
        self.cv = cv
        self.n_permutations = n_permutations
        self.permutation = permutation
        self.test = test
        self.groups = groups
        self.loss = loss
        self.scale = scale
        self.level = level
        self.p_adjust = p_adjust
        self.prefit = prefit
        self.shared_permutations = shared_permutations
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.progress = progress

    def _validate(self):
        super()._validate()
        check_int(self.n_permutations, "n_permutations", 1)
        check_choice(self.permutation, "permutation", PERMUTATION_KINDS)
        check_choice(self.test, "test", ("auto",) + PAP_TESTS)
        if self.test == "nadeau-bengio" and (self.prefit or self.cv is None):
            raise ValueError(
                "test='nadeau-bengio' compares the estimates of the cross-fitting folds and needs cv=K "
                "(K >= 2); with held-out data or prefit=True use test='auto' or 'paired-skew'")
        if not isinstance(self.prefit, bool):
            raise TypeError(f"prefit must be True or False; got {self.prefit!r}")
        if not isinstance(self.shared_permutations, bool):
            raise TypeError(f"shared_permutations must be True or False; got {self.shared_permutations!r}")
        if self.prefit and self.cv is not None:
            raise ValueError("prefit=True uses the fitted estimator as it is; it cannot be combined with cv")

    def _make_fitter(self):
        if self.prefit:
            return prefit_fitter(self.estimator, self.loss_.response_method)
        return super()._make_fitter()

    def _fit_full(self, X, y, w):
        if self.prefit:
            check_is_fitted(self.estimator)
            return [self._make_fitter()]
        return super()._fit_full(X, y, w)

    def importance(self, X: MatrixLike | None = None, y: ArrayLike | None = None,
                   sample_weight: ArrayLike | None = None) -> ImportanceResult:
        if self.prefit and not hasattr(self, "fitters_"):
            # With prefit=True this only checks the data (None is refused there); nothing is refitted.
            self.fit(X, y)  # type: ignore[arg-type]
        return super().importance(X, y, sample_weight)

    importance.__doc__ = LossImportance.importance.__doc__

    def _batch_ready_for(self, fitters):
        # Fitters that answer every group from one prediction (exact linear fitters) take all groups at
        # once; the permutations are the per-group path's (same child Generators), so are the numbers.
        return all(hasattr(fitter, "permutation_terms_groups") for fitter in fitters)

    def _batch_group_losses(self, evaluations, fold_rows):
        n = sum(len(rows) for _, rows in evaluations)
        n_groups = len(self.groups_)
        live = [g for g in range(n_groups) if not self.constant_groups_[g]]
        other = np.empty((n_groups, n))  # one row per group (contiguous writes), transposed at the end
        repeats = [[] for _ in range(n_groups)]
        blocks = [[] for _ in range(n_groups)]
        for f, (fitter, rows) in enumerate(evaluations):
            Xf, yf, wf, full_f = fold_rows(f)
            if self.shared_permutations:
                perms = SamePermutations(self._draw(None, f, len(yf)), len(live))
            else:  # drawn group by group where they are used (by the kernel itself on the compiled path)
                perms = GroupPermutations(self.seed_, [(_SEED_EVAL, g, f) for g in live], len(yf),
                                          self.n_permutations, self.permutation)
            terms = fitter.permutation_terms_groups(Xf, yf, [self.group_columns_[g] for g in live], perms,
                                                    self.loss_, sample_weight=wf, full=full_f)
            for g, group_terms in zip(live, terms):
                other[g, rows] = group_terms.obs_mean
                repeats[g].append(group_terms.repeat_mean)
                blocks[g].append((rows, group_terms))
        stacked = getattr(terms, "block", None) if len(evaluations) == 1 else None
        if stacked is not None and np.array_equal(evaluations[0][1], np.arange(n)):
            # one held-out set in order, every group's sums in one block: one call for all standard errors
            blocks = _StackedBlocks(blocks)
            blocks.stacked = (stacked, np.asarray(live, dtype=np.int64))
        return other.T, repeats, blocks

    def _draw(self, group, fold, n):
        """The permutations of ``group`` in ``fold`` (``group=None``: the fold's shared permutations)."""
        keys = (fold,) if group is None else (group, fold)
        return draw_permutations(child_rng(self.seed_, _SEED_EVAL, *keys), n, self.n_permutations,
                                 kind=self.permutation)

    def _group_losses(self, fold, fitter, X, y, w, group, rng, full):
        perms = self._draw(None if self.shared_permutations else group, fold, len(y))
        terms = fitter.permutation_terms(X, y, self.group_columns_[group], perms, self.loss_,
                                         sample_weight=w, full=full)
        return terms.obs_mean, terms.repeat_mean, terms

    def _skew(self):
        return getattr(self, "_skewness", None)

    def _degrees(self):
        return getattr(self, "_dof", None)

    def _test_pvalues(self, full, other, diff, raw, raw_se, w):
        return skew_corrected_pvalue_greater(raw, raw_se, self._raw_skew, self._raw_df)

    def _test_in_use(self):
        return resolve_test("pap", self.test, self.estimator, self._n_folds())[0]

    def _test_name(self):
        return self._test_in_use()

    def _test_rule(self):
        return resolve_test("pap", self.test, self.estimator, self._n_folds())[1]

    def _dependent_se(self, full, other, w, blocks, slope, offset, se):
        # Permuted terms share rows (a donor row enters R other terms): see permutation_mean_se.
        # Group by group: the per-row arrays stay small enough for the cache.
        out = np.array(se, dtype=float, copy=True)
        skew = np.zeros(out.shape)
        dof = np.full(out.shape, np.inf)
        slope = np.broadcast_to(slope, out.shape)
        offset = np.broadcast_to(offset, out.shape)
        n = len(full)
        stacked = getattr(blocks, "stacked", None)
        if stacked is not None and w is None:  # every group's sums in one block: one kernel call
            from ._kernels import pap_se_moments_groups

            block, live = stacked
            sums = pap_se_moments_groups(
                np.ascontiguousarray(full, dtype=np.float64), np.ascontiguousarray(other.T), block, live,
                np.full(n, float(self.n_permutations)), np.ascontiguousarray(slope, dtype=np.float64),
                np.ascontiguousarray(offset, dtype=np.float64))
            for j, g in enumerate(live):
                out[g], skew[g], dof[g] = permutation_se_from_sums(sums[j], n, None, float(self.n_permutations))
            self._skewness = skew
            self._dof = dof
            return out
        everything = np.arange(n)
        for g, group_blocks in enumerate(blocks or []):
            if not group_blocks or self.constant_groups_[g]:
                continue
            if len(group_blocks) == 1 and np.array_equal(group_blocks[0][0], everything):
                terms = group_blocks[0][1]  # one held-out set in order: the arrays as they are
                parts = (terms.donor_mean, terms.square_mean, terms.donor_full_mean, terms.donor_weight_mean)
                n_rep = float(len(terms.repeat_mean))
            else:
                parts = tuple(np.empty(n) for _ in range(4))
                n_rep = np.empty(n)
                for rows, terms in group_blocks:
                    for part, values in zip(parts, (terms.donor_mean, terms.square_mean,
                                                    terms.donor_full_mean, terms.donor_weight_mean)):
                        part[rows] = values
                    n_rep[rows] = len(terms.repeat_mean)
            out[g], skew[g], dof[g] = permutation_mean_se(full, other[:, g], *parts, w, n_rep, slope[g],
                                                           offset[g], return_skewness=True)
        self._skewness = skew
        self._dof = dof  # of the last scale asked for: read by _build_result right after
        return out

    def _target(self):
        if self._crossfit_test():
            return (f"increase in expected {self.loss_.name} when the feature is permuted, for models this "
                    f"learner trains on {len(self.folds_) - 1}/{len(self.folds_)} of the rows (training "
                    "variability included)")
        models = "the fitted model" if self.cv_ is None else f"the {len(self.folds_)} cross-fitted models"
        return (f"increase in expected {self.loss_.name} when the feature is permuted, for {models} "
                "(conditional on the training data)")


class _StackedBlocks(list):
    """Each group's ``(rows, terms)`` blocks, with ``.stacked = (block, live)``: the live groups' sums in one
    array (:class:`vimp._linear_fitter.GroupTerms`), for :meth:`PermutationImportance._dependent_se`."""

    stacked = None
