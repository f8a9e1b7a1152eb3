"""Reproduce Zheng & Raskutti (2025): the relative efficiency of GCM and LOCO, and their p-value study.

Zheng & Raskutti compare model-agnostic feature-selection measures (GCM, LOCO, permute-and-predict and
"dropout") through the asymptotic relative efficiency (ARE) of their estimators and through the
p-values they give on simulated and real data (THEORY.md, section 2). Their exact data-generating
processes and tables are not available to us; the settings below are stated in full so that every
number can be re-derived.

Part ``efficiency`` (``vimp.simulation``, the true regression functions: no learner error)
    ARE(GCM : LOCO) = CV²_loco / CV²_gcm, in theory and by Monte Carlo (``relative_efficiency``, its
    95% bootstrap interval over the replicates), on each of the three scales of ``relative_efficiency``
    (``"native"``: GCM's covariance against LOCO's paired MSE difference; ``"matched"``: GCM on LOCO's
    scale; ``"testing"``: GCM's Wald test against LOCO's default sample-split test), n = 1,000 rows and
    5,000 replicates a point, except that the full run gives weak signals more rows (n s >= 100,
    ``MIN_SIGNAL_ROWS``: the matched scale's theory is asymptotic) and noisy points more replicates (each
    method's squared mean to 2%, ``MEAN_ERROR``, at most ``MAX_REPS``; :func:`efficiency_design`):

    * linear Gaussian model, p = 5 equicorrelated features (rho = 0.5), sigma = 1,
      beta = (beta_1, 1, 1, 1, 1), the ARE of x_1 against beta_1 (``efficiency_curve``): on the native
      scale (2s + 4)/(2s + 1) with s = beta_1² Var(x_1 | rest) / sigma² (3.3077 at beta_1 = 0.5, 2.3636
      at beta_1 = 1);
    * additive, y = sin x_1 + x_2 + eps, independent N(0, 1) features, sigma = 1, feature x_1 (2.7269);
    * single index, y = tanh(0.5 x_1 + x_2 + x_3) + eps, x ~ N(0, I), sigma = 0.5, feature x_1 (2.156).

    Target (issue 14): Monte Carlo within 5% of theory. Each point is classed ``yes`` (within 5%),
    ``no`` (its 95% interval wholly outside the 5% band) or ``undecided`` (:func:`within_5pct`).

Part ``pvalues`` (the p-value study)
    Data sets of n = 1,000 rows, p = 4 features, x_3 and x_4 never enter y (null features, for the
    calibration of the p-values):

    * ``linear``: x ~ N(0, 0.5 I + 0.5 J) (equicorrelated, so the nulls are correlated with the
      signals), y = 0.5 x_1 + x_2 + eps, sigma = 1;
    * ``additive-sin``: x ~ N(0, I), y = sin x_1 + x_2 + eps, sigma = 1;
    * ``additive-even``: x ~ N(0, I), y = x_1²/2 + sin(2 x_2) + eps, sigma = 1 (x_1 matters through an
      even function of a symmetric feature: GCM has no power against it, LOCO has);
    * ``single-index``: x ~ N(0, I), y = tanh(0.5 x_1 + x_2) + eps, sigma = 0.5.

    Learners: ``linear`` (``LinearRegression``), ``spline-additive`` (``SplineTransformer`` of each
    feature, cubic, 6 knots, linear extrapolation, then ``Ridge(alpha=1e-3)``: an additive model),
    ``single-index`` (:class:`SingleIndexRegressor`, below), ``mlp`` (standardised inputs and
    ``MLPRegressor``, one hidden layer of 10 units, L-BFGS) and ``boosting``
    (``HistGradientBoostingRegressor``, at most 15 leaves, no early stopping). Methods, all cross-fitted
    with the same ``cv`` folds count (5 in the full study):

    * ``gcm``: ``GCM(learner, x_estimator=LinearRegression(), cv=cv)``, Wald test (two-sided). The
      regressions of x_j on the others use OLS because every design here has Gaussian features, so
      E[x_j | x_-j] is linear (exact for this study; it also halves the cost of the flexible learners);
      on the diabetes data the x-regressions use the learner itself;
    * ``loco``: ``LOCO(learner, cv=cv)``, its default test (``test="auto"``: ``"perturbed"`` for the
      linear-model learners, ``"nadeau-bengio"`` for the others; ``vimp/_test_choice.py``);
    * ``loco-paired``: the same fit with ``test="paired"`` (the paired z test of the fitted models);
    * ``pap``: ``PermutationImportance(learner, cv=cv)``, its default test (``"nadeau-bengio"``);
    * ``dropout``: :func:`dropout_importance`, x_j replaced by its training mean in the full fitted
      model, no refit (Zheng & Raskutti's dropout), with a one-sided paired z test on the held-out
      squared-error differences.

    Reported: mean and SD of each p-value over the data sets, per (model, learner, method, feature),
    and the rejection rate at alpha = 0.05; a figure with alpha marked. The full study is 100 data sets
    per model; ``--datasets N`` runs another size (the output names say ``_dN``).

Part ``diabetes``
    The same learners and methods on scikit-learn's diabetes data (442 rows, 10 features; the
    x-regressions of GCM use the learner), one cross-fitted run: the p-value per feature, method and
    learner.

Targets check (printed)
    ARE Monte Carlo against theory (% difference); the KS test of GCM's null p-values (x_3, x_4) against
    the uniform law, per learner, pooled over the models for which the learner is consistent (its class
    contains E[y | x_-j]: see ``CONSISTENT``); the null rejection rate of every (model, learner,
    method) in a figure, consistent or not.

Usage::

    python benchmarks/zheng_raskutti2025.py                      # --quick: all parts, under 2 minutes
    python benchmarks/zheng_raskutti2025.py --full --part efficiency
    nice -n 10 python benchmarks/zheng_raskutti2025.py --full --part pvalues --datasets 30 --n-jobs 2
    # the full study over several sessions: each run appends to ..._pvalues_raw.partial.csv and a
    # resumed run skips the data sets it holds (commit the partial file to carry it to the next machine)
    nice -n 10 python benchmarks/zheng_raskutti2025.py --full --part pvalues --resume --n-jobs 2
    python benchmarks/zheng_raskutti2025.py --full --part pvalues --reuse-raw A.csv B.csv  # summarise files
    python benchmarks/zheng_raskutti2025.py --full --part diabetes

Outputs go to ``benchmarks/results/zheng_raskutti2025_*`` (``*_quick.*`` with ``--quick``), CSV and PNG.
The script reports; it asserts nothing.

References
----------
Zheng, Z. & Raskutti, G. (2025). Comparing model-agnostic feature selection methods through relative
efficiency. arXiv:2508.14268.
Shah, R. D. & Peters, J. (2020). The hardness of conditional independence testing and the generalised
covariance measure. Ann. Statist. 48(3), 1514-1538.
Brillinger, D. R. (1983). A generalized linear model with "Gaussian" regressor variables. In A Festschrift
for Erich L. Lehmann, 97-114 (the OLS direction of a single-index model with Gaussian features is
proportional to the index).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer, StandardScaler
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # this checkout's vimp, whatever is installed
BENCH = os.path.join(ROOT, "benchmarks")
if BENCH not in sys.path:
    sys.path.insert(1, BENCH)

import vimp  # noqa: E402
from vimp.simulation import (  # noqa: E402
    Additive,
    EquicorrelatedLinear,
    SingleIndex,
    efficiency_curve,
    relative_efficiency,
)

RESULTS = os.path.join(ROOT, "benchmarks", "results")
PREFIX = "zheng_raskutti2025_"
ALPHA = 0.05
SCALES = ("native", "matched", "testing")
PARTS = ("efficiency", "pvalues", "diabetes", "all")
METHODS = ("gcm", "loco", "loco-paired", "pap", "dropout")
LEARNERS = ("linear", "spline-additive", "single-index", "mlp", "boosting")
MODELS = ("linear", "additive-sin", "additive-even", "single-index")
FEATURES = ("x1", "x2", "x3", "x4")
NULL_FEATURES = ("x3", "x4")
#: Is E[y | x_-j] in the learner's class for every feature j of the model? (The x-regressions are OLS,
#: exact for the Gaussian designs.) MLP and boosting are consistent nonparametric learners.
CONSISTENT = {
    "linear": {"linear": True, "spline-additive": True, "single-index": True, "mlp": True, "boosting": True},
    "additive-sin": {"linear": False, "spline-additive": True, "single-index": False, "mlp": True,
                     "boosting": True},
    "additive-even": {"linear": False, "spline-additive": True, "single-index": False, "mlp": True,
                      "boosting": True},
    "single-index": {"linear": False, "spline-additive": False, "single-index": True, "mlp": True,
                     "boosting": True},
}


# ------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Settings:
    """The size of one run."""

    label: str
    efficiency_reps: int
    signal_grid: tuple
    datasets: int
    n: int
    cv: int
    mlp_iter: int
    boosting_iter: int
    diabetes_cv: int


QUICK = Settings(label="quick", efficiency_reps=1000, signal_grid=(0.5, 1.0), datasets=2, n=300,
                 cv=3, mlp_iter=100, boosting_iter=20, diabetes_cv=3)
FULL = Settings(label="full", efficiency_reps=5000, signal_grid=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
                datasets=100, n=1000, cv=5, mlp_iter=300, boosting_iter=100, diabetes_cv=5)


def suffix(settings):
    """File-name suffix: ``_quick``, nothing for the full study, ``_dN`` for a full run of N data sets."""
    if settings.label == "quick":
        return "_quick"
    return "" if settings.datasets == FULL.datasets else f"_d{settings.datasets}"


# -------------------------------------------------------------------------------- single-index learner
class SingleIndexRegressor(RegressorMixin, BaseEstimator):
    """Single-index regression ``y ≈ g(b^T z)`` on standardised features ``z``: OLS direction, spline link.

    The direction starts at the OLS coefficients of ``y`` on ``z`` (proportional to the index when the
    features are Gaussian; Brillinger, 1983), scaled to unit length. Then ``n_iter`` alternating steps:
    fit the link ``g`` (a cubic regression spline of ``y`` on the index: ``SplineTransformer`` with
    ``n_knots`` quantile knots and linear extrapolation, then ``Ridge(alpha)``), and update the
    direction by one Gauss-Newton step of ``sum (y - g(z b))²`` (the derivative of ``g`` by central
    differences), normalised again. A last link fit on the final direction gives the model.

    Parameters
    ----------
    n_knots : int, default=8
    alpha : float, default=1e-3
        Ridge penalty of the spline coefficients.
    n_iter : int, default=3
        Alternating steps after the OLS start (0: the OLS direction only).

    Attributes
    ----------
    direction_ : ndarray of shape (n_features,)
        The unit index direction on the standardised features (sign: positive largest component).
    coef_ : ndarray of shape (n_features,)
        The direction on the original features' scale, unit length.
    link_ : Pipeline
        The fitted spline link.
    """

    def __init__(self, n_knots=8, alpha=1e-3, n_iter=3):
        self.n_knots = n_knots
        self.alpha = alpha
        self.n_iter = n_iter

    def _link(self, t, y):
        link = make_pipeline(SplineTransformer(n_knots=self.n_knots, degree=3, knots="quantile",
                                               extrapolation="linear"), Ridge(alpha=self.alpha))
        return link.fit(t[:, None], y)

    def fit(self, X, y):
        X, y = check_X_y(X, y, dtype=float, y_numeric=True)
        if isinstance(self.n_iter, bool) or not isinstance(self.n_iter, (int, np.integer)) or self.n_iter < 0:
            raise ValueError(f"n_iter must be a non-negative integer; got {self.n_iter!r}")
        self.n_features_in_ = X.shape[1]
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        Z = (X - self.mean_) / self.scale_
        design = np.column_stack([np.ones(len(y)), Z])
        b = np.linalg.lstsq(design, y, rcond=None)[0][1:]
        b = self._normalise(b)
        for _ in range(self.n_iter):
            t = Z @ b
            link = self._link(t, y)
            h = 1e-3 * max(float(np.std(t)), 1e-12)
            slope = (link.predict((t + h)[:, None]) - link.predict((t - h)[:, None])) / (2 * h)
            residual = y - link.predict(t[:, None])
            step = np.linalg.lstsq(slope[:, None] * Z, residual, rcond=None)[0]
            b = self._normalise(b + step)
        self.direction_ = b
        coef = b / self.scale_
        self.coef_ = coef / np.linalg.norm(coef)
        self.link_ = self._link(Z @ b, y)
        return self

    @staticmethod
    def _normalise(b):
        norm = np.linalg.norm(b)
        if not np.isfinite(norm) or norm == 0:
            b = np.zeros_like(b)
            b[0] = 1.0
            return b
        b = b / norm
        return b if b[np.argmax(np.abs(b))] >= 0 else -b

    def predict(self, X):
        check_is_fitted(self, "link_")
        X = check_array(X, dtype=float)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the model was fitted on {self.n_features_in_}")
        return self.link_.predict((((X - self.mean_) / self.scale_) @ self.direction_)[:, None])


def make_learners(settings, seed):
    """The five learners (name -> unfitted estimator); ``seed`` seeds the MLP and the boosting."""
    return {
        "linear": LinearRegression(),
        "spline-additive": make_pipeline(SplineTransformer(n_knots=6, degree=3, extrapolation="linear"),
                                         Ridge(alpha=1e-3)),
        "single-index": SingleIndexRegressor(),
        "mlp": make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs",
                                                            max_iter=settings.mlp_iter, random_state=seed)),
        "boosting": HistGradientBoostingRegressor(max_iter=settings.boosting_iter, max_leaf_nodes=15,
                                                  early_stopping=False, random_state=seed),
    }


# ------------------------------------------------------------------------------------- dropout measure
@dataclass(frozen=True)
class DropoutResult:
    """Dropout importance of each feature: held-out MSE increase when x_j is set to its training mean.

    Attributes
    ----------
    importance, std_error, statistic, pvalue : pandas.Series
        Indexed by feature. ``pvalue`` is one-sided (H1: importance > 0).
    differences : ndarray of shape (n_samples, n_features)
        The per-row squared-error differences (each row from the model of the fold that held it out).
    """

    importance: pd.Series
    std_error: pd.Series
    statistic: pd.Series
    pvalue: pd.Series
    differences: np.ndarray


def dropout_importance(estimator, X, y, cv=5, random_state=None):
    """Zheng & Raskutti's dropout: replace x_j by its training mean in the fitted full model, no refit.

    For each of ``cv`` folds (``KFold(shuffle=True)``), the learner is fitted on the other folds; on the
    held-out rows the squared-error difference ``d_i = (y_i - f(x_i with x_ij := mean_train(x_j)))² -
    (y_i - f(x_i))²`` is recorded. The importance is the mean of ``d`` over all rows, its standard error
    ``sd(d) / sqrt(n)`` (``ddof=1``), and the test the one-sided paired z test of ``E[d] > 0``:
    ``p = 1 - Phi(mean / se)``. It tests the fitted models (training variability is not in the
    variance), like LOCO's ``"paired"`` test. When ``d`` is exactly 0 on every row (the models never use
    the feature, e.g. boosting that never splits on it) the p-value is 1 (no evidence); a constant
    positive ``d`` gives 0.

    Parameters
    ----------
    estimator : scikit-learn regressor
    X : array-like or DataFrame of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    cv : int or list of (train, test) index pairs, default=5
        Number of folds (at least 2; ``KFold(shuffle=True)`` seeded from ``random_state``), or the folds.
    random_state : None, int or numpy.random.Generator
        Seeds the folds.

    Returns
    -------
    DropoutResult
    """
    names = list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{k + 1}" for k in range(np.shape(X)[1])]
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be 2-D with as many rows as y; got {X.shape} and {y.shape}")
    n, p = X.shape
    if isinstance(cv, (list, tuple)):
        folds = [(np.asarray(tr, dtype=int), np.asarray(te, dtype=int)) for tr, te in cv]
        covered = np.sort(np.concatenate([te for _, te in folds])) if folds else np.array([], int)
        if len(folds) < 2 or not np.array_equal(covered, np.arange(n)):
            raise ValueError("cv given as folds must hold at least 2 (train, test) pairs whose test rows "
                             "cover every row exactly once")
    elif isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or not 2 <= cv <= n:
        raise ValueError(f"cv must be an integer number of folds in 2..n_samples or a list of folds; got {cv!r}")
    else:
        rng = np.random.default_rng(random_state)
        folds = KFold(int(cv), shuffle=True, random_state=int(rng.integers(2**31 - 1))).split(X)
    d = np.empty((n, p))
    for train, test in folds:
        model = clone(estimator).fit(X[train], y[train])
        full = (y[test] - model.predict(X[test])) ** 2
        means = X[train].mean(axis=0)
        for j in range(p):
            Xj = X[test].copy()
            Xj[:, j] = means[j]
            d[test, j] = (y[test] - model.predict(Xj)) ** 2 - full
    mean = d.mean(axis=0)
    se = d.std(axis=0, ddof=1) / np.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, mean / se, np.where(mean > 0, np.inf, np.where(mean < 0, -np.inf, np.nan)))
    pvalue = np.where(np.isnan(z), 1.0, stats.norm.sf(z))
    index = pd.Index(names, name="feature")
    return DropoutResult(pd.Series(mean, index), pd.Series(se, index), pd.Series(z, index),
                         pd.Series(pvalue, index), d)


# -------------------------------------------------------------------------------------- the p-values
def _square_half(x):
    return 0.5 * x**2


def _identity(x):
    return x


def _sin_2x(x):
    return np.sin(2 * x)


def make_model(name):
    """The simulation models of the p-value study (p = 4; x3 and x4 are null)."""
    if name == "linear":
        return EquicorrelatedLinear(4, 0.5, [0.5, 1.0, 0.0, 0.0], noise_sd=1.0)
    if name == "additive-sin":
        return Additive([np.sin, _identity, None, None], noise_sd=1.0)
    if name == "additive-even":
        return Additive([_square_half, _sin_2x, None, None], noise_sd=1.0)
    if name == "single-index":
        return SingleIndex(np.tanh, [0.5, 1.0, 0.0, 0.0], noise_sd=0.5)
    raise ValueError(f"model must be one of {MODELS}; got {name!r}")


def _seeds(seq, k):
    return [int(s.generate_state(1)[0]) for s in seq.spawn(k)]


def method_pvalues(X, y, learner, cv, seq, x_estimator=None):
    """Rows (method, feature, importance, pvalue) of the five methods for one learner and data set."""
    s_gcm, s_loco, s_pap, s_drop = _seeds(seq, 4)
    rows = []

    def add(method, importance, pvalue, test):
        for feature, imp, pv in zip(X.columns, np.asarray(importance, float), np.asarray(pvalue, float)):
            rows.append({"method": method, "feature": feature, "importance": imp, "pvalue": pv, "test": test})

    gcm = vimp.GCM(clone(learner), None if x_estimator is None else clone(x_estimator), cv=cv,
                   random_state=s_gcm).fit(X, y).importance()
    add("gcm", gcm.importance, gcm.pvalue, "wald")
    loco = vimp.LOCO(clone(learner), cv=cv, random_state=s_loco).fit(X, y)
    r = loco.importance()
    add("loco", r.importance, r.pvalue, str(r.test))
    r = loco.set_params(test="paired").importance()  # the same fits, the paired test
    add("loco-paired", r.importance, r.pvalue, str(r.test))
    r = vimp.PermutationImportance(clone(learner), cv=cv, random_state=s_pap).fit(X, y).importance()
    add("pap", r.importance, r.pvalue, str(r.test))
    r = dropout_importance(learner, X, y, cv=cv, random_state=s_drop)
    add("dropout", r.importance, r.pvalue, "paired-one-sided")
    return rows


def thread_limit(threads=1):
    """Limit the BLAS/OpenMP pools to ``threads`` (the learners run one per worker)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def _warning_names(records):
    return ";".join(sorted({r.category.__name__ for r in records}))


def one_dataset(model_name, index, settings, entropy):
    """All learners and methods on data set ``index`` of ``model_name`` (seeds from ``entropy``)."""
    seq = np.random.SeedSequence([entropy, MODELS.index(model_name), index])
    data_seq, learner_seq, *fit_seqs = seq.spawn(2 + len(LEARNERS))
    X, y = make_model(model_name).sample(settings.n, np.random.default_rng(data_seq))
    X = pd.DataFrame(np.asarray(X, dtype=float), columns=list(FEATURES))
    learners = make_learners(settings, int(learner_seq.generate_state(1)[0]))
    rows = []
    with thread_limit(1):
        for (name, learner), fit_seq in zip(learners.items(), fit_seqs):
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as records:
                warnings.simplefilter("always")
                out = method_pvalues(X, y, learner, settings.cv, fit_seq, x_estimator=LinearRegression())
            seconds = time.perf_counter() - start
            for row in out:
                row.update(model=model_name, dataset=index, learner=name, seconds=seconds,
                           warnings=_warning_names(records), vimp_source=vimp_source_hash())
            rows.extend(out)
    return rows


RAW_COLUMNS = ["model", "dataset", "learner", "method", "feature", "null", "importance", "pvalue", "test",
               "seconds", "warnings", "vimp_source"]

#: Rows of one complete (model, data set) task: every learner, method and feature.
ROWS_PER_TASK = len(LEARNERS) * len(METHODS) * len(FEATURES)


def vimp_source_hash():
    """A short hash of the installed ``vimp`` package's source files: which code computed a row.

    Stored with every raw row, so that a study assembled over several runs (``--resume``) shows whether
    its data sets all came from the same code (the summary prints the hashes it holds). Computed by the
    process that runs the data set (a few milliseconds; a plain function, so that joblib's workers can
    receive it from a script run as ``__main__``).
    """
    import hashlib

    root = os.path.dirname(vimp.__file__)
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode())
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()[:12]


def read_raw(paths):
    """Raw p-value rows from one or more CSVs, each (model, data set) kept only if complete.

    A task appears once: where several files hold it, the first file's rows are kept (files are read in
    the order given). Returns the rows and a line saying what was kept and dropped.
    """
    frames = []
    for path in paths:
        frame = pd.read_csv(path, keep_default_na=True, dtype={"warnings": str, "vimp_source": str})
        frame["warnings"] = frame["warnings"].fillna("")
        if "vimp_source" not in frame:  # rows written before the column existed
            frame["vimp_source"] = "unrecorded"
        frames.append(frame[RAW_COLUMNS])
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RAW_COLUMNS)
    raw = raw.drop_duplicates(subset=["model", "dataset", "learner", "method", "feature"], keep="first")
    size = raw.groupby(["model", "dataset"]).size()
    complete = size.index[size == ROWS_PER_TASK]
    keep = raw.set_index(["model", "dataset"]).index.isin(complete)
    note = (f"{len(complete)} complete (model, data set) tasks kept"
            + (f", {int((size != ROWS_PER_TASK).sum())} incomplete dropped" if (size != ROWS_PER_TASK).any() else ""))
    return raw[keep].reset_index(drop=True), note


def run_pvalues(settings, seed, n_jobs, partial=None, resume=False):
    """The p-value study: one row per (model, data set, learner, method, feature).

    With ``partial`` (a path), each finished data set's rows are appended to that CSV as they arrive, so
    that an interrupted run keeps what it has done. With ``resume``, the complete tasks already in
    ``partial`` are kept and not run again (each task's seed depends only on ``seed``, the model and the
    data set's index, so a resumed study is the study run in one go, given the same code); without it,
    an existing ``partial`` is replaced.
    """
    from joblib import Parallel, delayed

    tasks = [(m, i) for i in range(settings.datasets) for m in MODELS]
    frames = []
    if partial is not None and os.path.exists(partial):
        if resume:
            done, note = read_raw([partial])
            done = done[done["dataset"] < settings.datasets]
            finished = set(zip(done["model"], done["dataset"]))
            tasks = [t for t in tasks if t not in finished]
            print(f"  --resume: {note} from {partial}; {len(tasks)} tasks left", file=sys.stderr, flush=True)
            done[RAW_COLUMNS].to_csv(partial, index=False)  # the kept rows only: appends follow them
            frames.append(done)
        else:
            os.remove(partial)
    source = vimp_source_hash()
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(one_dataset)(m, i, settings, seed) for m, i in tasks)
    for done, rows in enumerate(results, 1):
        frame = pd.DataFrame(rows)
        frame["null"] = frame["feature"].isin(NULL_FEATURES)
        if "vimp_source" not in frame:  # a task function that does not record it
            frame["vimp_source"] = source
        frame = frame[RAW_COLUMNS]
        frames.append(frame)
        if partial is not None:
            frame.to_csv(partial, mode="a", header=not os.path.exists(partial), index=False)
        print(f"  data set {done} of {len(tasks)} done", file=sys.stderr, flush=True)
    return pd.concat(frames, ignore_index=True)


def summarise_pvalues(raw):
    """Mean, SD and rejection rate (alpha = 0.05) of the p-values per (model, learner, method, feature)."""
    g = raw.groupby(["model", "learner", "method", "feature"], sort=False)
    out = g["pvalue"].agg(mean_p="mean", sd_p="std", n_datasets="count",
                          reject=lambda p: float(np.mean(p < ALPHA))).reset_index()
    out["n_nan"] = g["pvalue"].apply(lambda p: int(p.isna().sum())).to_numpy()
    out["null"] = out["feature"].isin(NULL_FEATURES)
    out["consistent"] = [CONSISTENT[m][lr] for m, lr in zip(out["model"], out["learner"])]
    return out


def null_calibration(raw):
    """Null rejection rate of every (model, learner, method), with the exact 95% binomial interval."""
    rows = []
    for (model, learner, method), part in raw[raw["null"]].groupby(["model", "learner", "method"], sort=False):
        p = part["pvalue"].dropna().to_numpy()
        k = int(np.sum(p < ALPHA))
        ci = stats.binomtest(k, len(p)).proportion_ci(0.95) if len(p) else None
        rows.append({"model": model, "learner": learner, "method": method, "n_pvalues": len(p),
                     "reject": k / len(p) if len(p) else np.nan, "ci_low": ci.low if ci else np.nan,
                     "ci_high": ci.high if ci else np.nan, "consistent": CONSISTENT[model][learner],
                     "ks_pvalue": stats.kstest(p, "uniform").pvalue if len(p) else np.nan})
    return pd.DataFrame(rows)


def gcm_ks_by_learner(raw):
    """KS test of GCM's null p-values against U(0, 1), per learner, over the models it is consistent for.

    The two null features of one data set share the data (their p-values are dependent); the KS p-value
    treats them as independent, so read it as indicative.
    """
    rows = []
    null = raw[raw["null"] & (raw["method"] == "gcm")]
    for learner in LEARNERS:
        models = [m for m in MODELS if CONSISTENT[m][learner]]
        p = null[(null["learner"] == learner) & null["model"].isin(models)]["pvalue"].dropna().to_numpy()
        rows.append({"learner": learner, "models": ",".join(models), "n_pvalues": len(p),
                     "reject": float(np.mean(p < ALPHA)) if len(p) else np.nan,
                     "ks_statistic": stats.kstest(p, "uniform").statistic if len(p) else np.nan,
                     "ks_pvalue": stats.kstest(p, "uniform").pvalue if len(p) else np.nan})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------- efficiency
def _linear_model(beta_1):
    return EquicorrelatedLinear(5, 0.5, [beta_1, 1, 1, 1, 1], noise_sd=1.0)


#: Var(x_1 | rest) in the linear model (p = 5, rho = 0.5); the signal is s = beta_1^2 Var(x_1 | rest) / sigma^2.
VAR_X1_GIVEN_REST = 0.6
#: Rows of signal, n * s, a Monte Carlo point needs (the full run): the matched scale's ratio
#: R-bar^2 / xi-bar^2 has an O(1 / (n s)) bias that the asymptotic theory leaves out (at n = 1,000: +28% at
#: n s = 6 with 5,000 replicates, +5% at n s = 38 with 1,000; +0.3% and +2% at n s = 100), so weak signals
#: get more rows. The native and testing scales are means of i.i.d. terms, exact at every n.
MIN_SIGNAL_ROWS = 100
#: Relative Monte Carlo error allowed to each method's squared mean (the full run): a CV² is a variance
#: over a squared mean, and the squared mean of R replicates has relative error about 2 CV / sqrt(R),
#: where CV is one replicate's (the theory's, used only to plan R). Points whose CV is large (LOCO's
#: split test at weak signal) get more replicates, up to ``MAX_REPS``.
MEAN_ERROR = 0.02
MAX_REPS = 150_000


def efficiency_design(settings, scale, beta_1=None, dgp=None):
    """Rows and replicates of one Monte Carlo point: ``(n, reps)``.

    The quick run keeps ``settings.n`` and ``settings.efficiency_reps``. The full run raises ``n`` to
    ``MIN_SIGNAL_ROWS / s`` where the signal is weak (linear model) and the replicates to
    ``(2 CV / MEAN_ERROR)^2`` where one replicate's estimate is noisy (``CV`` from the theory at that ``n``),
    never below ``settings.efficiency_reps`` nor above ``MAX_REPS``.
    """
    n, reps = settings.n, settings.efficiency_reps
    if settings.label == "quick":
        return n, reps
    if beta_1 is not None:
        signal = beta_1**2 * VAR_X1_GIVEN_REST
        n = max(n, int(np.ceil(MIN_SIGNAL_ROWS / signal)))
        dgp = _linear_model(beta_1)
    pilot = relative_efficiency(dgp, 0, n=n, reps=10, scale=scale, random_state=0)  # theory CV² only
    cv = float(np.sqrt(np.max(pilot.theory_cv2)))
    reps = int(min(MAX_REPS, max(reps, np.ceil((2 * cv / MEAN_ERROR) ** 2))))
    return n, reps


def run_efficiency(settings, seed):
    """ARE theory and Monte Carlo: the linear curve and the two nonlinear examples, on every scale."""
    seq = np.random.SeedSequence(seed)
    curve_seqs, additive_seqs, index_seqs = (s.spawn(len(SCALES)) for s in seq.spawn(3))
    rows, curves = [], {}
    grid = list(settings.signal_grid)
    for scale, child in zip(SCALES, curve_seqs):
        sizes, counts = zip(*(efficiency_design(settings, scale, beta_1=b) for b in grid))
        curve = efficiency_curve(_linear_model, grid, feature=0, n=list(sizes), reps=list(counts), scale=scale,
                                 random_state=child, signal_label="beta_1")
        curves[scale] = curve
        for b, r in zip(curve.signal, curve.results):
            rows.append(_efficiency_row("linear", scale, float(b), b**2 * VAR_X1_GIVEN_REST, r))
    examples = [
        ("additive", Additive([np.sin, _identity], noise_sd=1.0), additive_seqs),
        ("single-index", SingleIndex(np.tanh, [0.5, 1.0, 1.0], noise_sd=0.5), index_seqs),
    ]
    for name, dgp, seqs in examples:
        for scale, child in zip(SCALES, seqs):
            n, reps = efficiency_design(settings, scale, dgp=dgp)
            r = relative_efficiency(dgp, 0, n=n, reps=reps, scale=scale, random_state=child)
            rows.append(_efficiency_row(name, scale, np.nan, np.nan, r))
    return pd.DataFrame(rows), curves


def within_5pct(theory, low, high, value):
    """``"yes"`` when the Monte Carlo is within 5% of the theory; ``"no"`` when its 95% interval lies wholly
    outside the 5% band around the theory; ``"undecided"`` otherwise (the Monte Carlo cannot tell)."""
    if not (np.isfinite(theory) and np.isfinite(value)):
        return "undecided"
    band = 0.05 * abs(theory)
    if abs(value - theory) <= band:
        return "yes"
    if np.isfinite(low) and np.isfinite(high) and (low > theory + band or high < theory - band):
        return "no"
    return "undecided"


def _efficiency_row(model, scale, beta_1, snr, r):
    return {"model": model, "scale": scale, "beta_1": beta_1, "snr": snr, "n_snr": r.n * snr, "n": r.n,
            "reps": r.reps,
            "theory": r.theory, "monte_carlo": r.monte_carlo, "ci_low": r.ci_low, "ci_high": r.ci_high,
            "monte_carlo_se": r.monte_carlo_se,
            "pct_diff": 100 * (r.monte_carlo - r.theory) / r.theory if np.isfinite(r.theory) else np.nan,
            "within_5pct": within_5pct(r.theory, r.ci_low, r.ci_high, r.monte_carlo),
            "theory_in_ci": bool(r.ci_low <= r.theory <= r.ci_high)}


def plot_efficiency(frame, curves, path):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    for ax, scale in zip(axes, SCALES):
        curves[scale].plot(ax=ax)
        ax.set_title(f"linear, p = 5, rho = 0.5: {scale} scale", fontsize="medium")
        if scale == "testing":
            ax.set_yscale("log")
    ax = axes[3]
    other = frame[frame["model"] != "linear"].reset_index(drop=True)
    x = np.arange(len(other))
    ax.errorbar(x, other["monte_carlo"], yerr=[other["monte_carlo"] - other["ci_low"],
                                               other["ci_high"] - other["monte_carlo"]],
                fmt="o", color="C0", capsize=3, label="Monte Carlo (95% interval)")
    ax.scatter(x, other["theory"], marker="_", s=300, color="C1", label="theory", zorder=3)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{m}\n{s}" for m, s in zip(other["model"], other["scale"])], fontsize="x-small")
    ax.axhline(1.0, color="0.6", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("CV² loco / CV² gcm")
    ax.set_title("sin x1 + x2 (sigma 1); tanh(0.5x1 + x2 + x3) (sigma 0.5)", fontsize="small")
    ax.legend(fontsize="small")
    fig.suptitle(f"Zheng & Raskutti (2025): ARE of GCM vs LOCO for x1, n = {frame['n'].min()} to "
                 f"{frame['n'].max()}, {frame['reps'].min()} to {frame['reps'].max()} replicates a point, "
                 "true regression functions")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -------------------------------------------------------------------------------------------- figures
_METHOD_STYLE = {"gcm": ("C0", "o"), "loco": ("C1", "s"), "loco-paired": ("C2", "D"), "pap": ("C3", "^"),
                 "dropout": ("C4", "v")}


def plot_pvalues(summary, path, title):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(MODELS), len(LEARNERS), figsize=(3.4 * len(LEARNERS), 2.8 * len(MODELS)),
                             sharey=True, squeeze=False)
    width = 0.14
    for r, model in enumerate(MODELS):
        for c, learner in enumerate(LEARNERS):
            ax = axes[r, c]
            part = summary[(summary["model"] == model) & (summary["learner"] == learner)]
            for k, method in enumerate(METHODS):
                m = part[part["method"] == method].set_index("feature").reindex(list(FEATURES))
                x = np.arange(len(FEATURES)) + (k - 2) * width
                color, marker = _METHOD_STYLE[method]
                ax.errorbar(x, m["mean_p"], yerr=m["sd_p"].fillna(0), fmt=marker, color=color, ms=4,
                            capsize=2, elinewidth=0.8, label=method if (r, c) == (0, 0) else None)
            ax.axhline(ALPHA, color="red", linestyle="--", linewidth=0.8)
            ax.axvspan(1.5, 3.5, color="0.93", zorder=0)
            ax.set_xticks(range(len(FEATURES)))
            ax.set_xticklabels(FEATURES)
            ax.set_ylim(-0.05, 1.05)
            flag = "" if CONSISTENT[model][learner] else " (misspecified)"
            ax.set_title(f"{model} / {learner}{flag}", fontsize="small")
            if c == 0:
                ax.set_ylabel("p-value, mean ± SD")
    fig.legend(loc="upper center", ncol=len(METHODS), fontsize="small", bbox_to_anchor=(0.5, 1.0))
    fig.suptitle(title + "; grey: null features, red: alpha = 0.05", y=0.975, fontsize="medium")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_null_rejection(calibration, path, title):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(MODELS), figsize=(4.2 * len(MODELS), 4), sharey=True)
    width = 0.15
    for ax, model in zip(axes, MODELS):
        part = calibration[calibration["model"] == model]
        for k, method in enumerate(METHODS):
            m = part[part["method"] == method].set_index("learner").reindex(list(LEARNERS))
            x = np.arange(len(LEARNERS)) + (k - 2) * width
            color, marker = _METHOD_STYLE[method]
            ax.errorbar(x, m["reject"], yerr=[m["reject"] - m["ci_low"], m["ci_high"] - m["reject"]],
                        fmt=marker, color=color, ms=4, capsize=2, label=method if model == MODELS[0] else None)
        ax.axhline(ALPHA, color="red", linestyle="--", linewidth=0.8)
        ax.set_xticks(range(len(LEARNERS)))
        ax.set_xticklabels([lr + ("" if CONSISTENT[model][lr] else "*") for lr in LEARNERS], rotation=30,
                           fontsize="small")
        ax.set_title(model, fontsize="medium")
    axes[0].set_ylabel("rejection rate at the null features (x3, x4)")
    fig.legend(loc="upper center", ncol=len(METHODS), fontsize="small")
    fig.suptitle(title + "; * learner misspecified for the model; bars: exact 95% binomial interval",
                 y=0.93, fontsize="small")
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_diabetes(settings, seed):
    """Every learner and method on scikit-learn's diabetes data: p-value per feature."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    X, y = data.data, data.target.to_numpy(dtype=float)
    seq = np.random.SeedSequence(seed)
    learner_seq, *fit_seqs = seq.spawn(1 + len(LEARNERS))
    learners = make_learners(settings, int(learner_seq.generate_state(1)[0]))
    rows = []
    with thread_limit(1):
        for (name, learner), fit_seq in zip(learners.items(), fit_seqs):
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as records:
                warnings.simplefilter("always")
                out = method_pvalues(X, y, learner, settings.diabetes_cv, fit_seq)
            for row in out:
                row.update(learner=name, seconds=time.perf_counter() - start, warnings=_warning_names(records))
            rows.extend(out)
    return pd.DataFrame(rows)[["learner", "method", "feature", "importance", "pvalue", "test", "seconds",
                               "warnings"]]


def plot_diabetes(frame, path):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(LEARNERS), figsize=(3.3 * len(LEARNERS), 4), sharey=True)
    for ax, learner in zip(axes, LEARNERS):
        part = frame[frame["learner"] == learner].pivot(index="feature", columns="method", values="pvalue")
        part = part.reindex(columns=list(METHODS))
        values = -np.log10(np.clip(part.to_numpy(dtype=float), 1e-16, 1))
        im = ax.imshow(values, vmin=0, vmax=8, cmap="viridis", aspect="auto")
        for (i, j), p in np.ndenumerate(part.to_numpy(dtype=float)):
            ax.text(j, i, "*" if p < ALPHA else "", ha="center", va="center", color="white")
        ax.set_xticks(range(len(METHODS)))
        ax.set_xticklabels(METHODS, rotation=45, fontsize="small")
        ax.set_yticks(range(len(part.index)))
        ax.set_yticklabels(part.index)
        ax.set_title(learner, fontsize="medium")
    fig.colorbar(im, ax=axes, label="-log10 p (clipped at 8); * p < 0.05")
    fig.suptitle("Diabetes data (442 rows): p-value per feature, method and learner", fontsize="medium")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


# ------------------------------------------------------------------------------------------------- CLI
def parse_args(argv=None):
    """The command line: ``--quick`` (default) or ``--full``, ``--part``, ``--n-jobs``, ``--seed``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="full", action="store_false", help="small run, under 2 minutes (default)")
    mode.add_argument("--full", dest="full", action="store_true", help="the study's size")
    parser.set_defaults(full=False)
    parser.add_argument("--part", choices=PARTS, default="all")
    parser.add_argument("--n-jobs", type=int, default=1, help="joblib workers over the data sets")
    parser.add_argument("--seed", type=int, default=20250819)
    parser.add_argument("--datasets", type=int, default=None,
                        help="data sets per model in the p-value study (default: 3 quick, 100 full)")
    parser.add_argument("--reuse-raw", metavar="CSV", nargs="+", default=None,
                        help="summarise existing raw p-value CSVs (pvalues part; several are merged, each "
                             "complete data set once) instead of running the study")
    parser.add_argument("--resume", action="store_true",
                        help="pvalues part: keep the complete data sets of the run's .partial.csv and run "
                             "only the others (a study spread over several sessions)")
    args = parser.parse_args(argv)
    if args.resume and args.reuse_raw:
        parser.error("--resume runs the study and --reuse-raw summarises files; give one of them")
    if args.n_jobs == 0 or args.n_jobs < -1:
        parser.error(f"--n-jobs must be a positive number of workers or -1; got {args.n_jobs}")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer; got {args.seed}")
    if args.datasets is not None and args.datasets < 2:
        parser.error(f"--datasets must be at least 2 (an SD needs two); got {args.datasets}")
    return args


def _headline_efficiency(frame):
    print("\nARE(GCM : LOCO), Monte Carlo (true regression functions) vs theory")
    show = frame.copy()
    show["beta_1"] = show["beta_1"].map(lambda b: "" if np.isnan(b) else f"{b:g}")
    print(show[["model", "scale", "beta_1", "n", "reps", "theory", "monte_carlo", "ci_low", "ci_high",
                "pct_diff", "within_5pct"]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    counts = frame["within_5pct"].value_counts()
    print(f"within 5%: {counts.get('yes', 0)} of {len(frame)}, undecided (the 95% interval reaches both "
          f"inside and outside the 5% band) {counts.get('undecided', 0)}, outside {counts.get('no', 0)}; "
          f"largest |difference| {frame['pct_diff'].abs().max():.2f}%; theory inside the 95% interval: "
          f"{int(frame['theory_in_ci'].sum())} of {len(frame)}")
    for _, row in frame[frame["within_5pct"] != "yes"].iterrows():
        where = f"beta_1 = {row['beta_1']:g}, n*s = {row['n_snr']:.0f}" if row["model"] == "linear" else ""
        print(f"  {row['within_5pct']}: {row['model']} {row['scale']} {where}, n = {row['n']}, "
              f"{row['reps']} replicates: {row['pct_diff']:+.1f}% (95% interval {row['ci_low']:.4g} to "
              f"{row['ci_high']:.4g}, theory {row['theory']:.4g})")


def main(argv=None):
    args = parse_args(argv)
    settings = FULL if args.full else QUICK
    if args.datasets is not None:
        settings = replace(settings, datasets=args.datasets)
    os.makedirs(RESULTS, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")

    def out(name):
        return os.path.join(RESULTS, f"{PREFIX}{name}{suffix(settings)}")

    parts = PARTS[:-1] if args.part == "all" else (args.part,)
    print(f"vimp {vimp.__version__}; {settings}; seed {args.seed}; n_jobs {args.n_jobs}")
    if "efficiency" in parts:
        start = time.perf_counter()
        frame, curves = run_efficiency(settings, args.seed)
        frame.to_csv(out("efficiency") + ".csv", index=False)
        plot_efficiency(frame, curves, out("efficiency") + ".png")
        print(f"efficiency part: {time.perf_counter() - start:.1f} s")
        _headline_efficiency(frame)
    if "pvalues" in parts:
        start = time.perf_counter()
        if args.reuse_raw:
            raw, note = read_raw(args.reuse_raw)
            print(f"--reuse-raw: {note}")
            per_dataset = raw.groupby("dataset")["model"].nunique()
            complete = per_dataset.index[per_dataset == len(MODELS)]
            if len(complete) < per_dataset.size:
                print(f"--reuse-raw: keeping the {len(complete)} data sets done for every model "
                      f"(dropped {per_dataset.size - len(complete)} done for some models only)")
            raw = raw[raw["dataset"].isin(complete)].reset_index(drop=True)
            if len(complete) < 2:
                raise SystemExit("--reuse-raw: fewer than 2 complete data sets in the files")
            settings = replace(settings, datasets=len(complete))
        else:
            raw = run_pvalues(settings, args.seed, args.n_jobs, partial=out("pvalues_raw") + ".partial.csv",
                              resume=args.resume)
        sources = raw.groupby("vimp_source")["dataset"].nunique()
        print("vimp source of the rows (hash of vimp/*.py: data sets): "
              + ", ".join(f"{h}: {k}" for h, k in sources.items()))
        summary = summarise_pvalues(raw)
        calibration = null_calibration(raw)
        ks = gcm_ks_by_learner(raw)
        raw.to_csv(out("pvalues_raw") + ".csv", index=False)
        if not args.reuse_raw and os.path.exists(out("pvalues_raw") + ".partial.csv"):
            os.remove(out("pvalues_raw") + ".partial.csv")  # the complete file replaces it
        summary.to_csv(out("pvalues") + ".csv", index=False)
        calibration.to_csv(out("null_rejection") + ".csv", index=False)
        ks.to_csv(out("gcm_ks") + ".csv", index=False)
        size = f"{settings.datasets} data sets of n = {settings.n} per model, cv = {settings.cv}"
        plot_pvalues(summary, out("pvalues") + ".png", f"p-values, {size}")
        plot_null_rejection(calibration, out("null_rejection") + ".png", f"Null rejection rate, {size}")
        print(f"\np-value part ({size}): {time.perf_counter() - start:.1f} s; mean seconds per learner "
              "and data set: " + ", ".join(f"{k} {v:.2f}" for k, v in
                                           raw.groupby("learner")["seconds"].mean().items()))
        print("\nGCM null p-values (x3, x4) vs U(0, 1), per learner over the models it is consistent for")
        print(ks.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        wide = calibration.pivot_table(index=["model", "learner"], columns="method", values="reject",
                                       sort=False)[list(METHODS)]
        print("\nnull rejection rate at alpha = 0.05 (x3, x4), every model and learner "
              "(* misspecified learner)")
        wide.index = [f"{m} / {lr}" + ("" if CONSISTENT[m][lr] else " *") for m, lr in wide.index]
        print(wide.to_string(float_format=lambda v: f"{v:.3f}"))
        power = summary[~summary["null"]].pivot_table(index=["model", "feature"], columns="method",
                                                      values="reject", sort=False)[list(METHODS)]
        print("\nrejection rate at the signal features (power), averaged over learners")
        print(power.to_string(float_format=lambda v: f"{v:.3f}"))
    if "diabetes" in parts:
        start = time.perf_counter()
        frame = run_diabetes(settings, args.seed)
        frame.to_csv(out("diabetes") + ".csv", index=False)
        plot_diabetes(frame, out("diabetes") + ".png")
        print(f"\ndiabetes part: {time.perf_counter() - start:.1f} s; features with p < 0.05 per "
              "learner and method")
        counts = frame.assign(sig=frame["pvalue"] < ALPHA).pivot_table(index="learner", columns="method",
                                                                      values="sig", aggfunc="sum",
                                                                      sort=False)[list(METHODS)]
        print(counts.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
