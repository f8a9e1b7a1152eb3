"""Reproduce Bladen, Cutler & Wisler (2025)'s collinearity study (OLS and random forest) in one command.

The study (arXiv:2510.00557; the authors' R code and stored output: github.com/KelvynBladen/theoryVarImportance,
``R scripts/theory_reg_sim_plots.R`` and ``R scripts/sim_RF.R``), exactly as there:

* design: ``Z`` n x p i.i.d. N(0, 1), ``A = delta J + (1 - delta) I``, ``X = Z A``, ``y = X 1 + eps`` with
  ``eps ~ N(0, 0.01^2)`` (:class:`vimp.simulation.BladenDesign`); an independent validation set of the same
  size n drawn afresh;
* grid: delta in {0, .11, ..., .99} (10 values), n in {20, 63, 200, 632, 2000}, p in {3, 6, 9, 12};
  100 replicates; feature 1 (``x0``) measured;
* PaP: permute validation column 1 once (a uniform permutation, R's ``sample``), predict with the fitted
  model, ``sqrt(max(MSE_perm - MSE_v, 0))``: ``PermutationImportance(learner, permutation="uniform",
  n_permutations=1, scale="sqrt")``;
* LOCO, the paper's variant (permute-and-refit): permute training column 1 once, refit, predict the
  unpermuted validation set: ``LOCO(learner, refit="permute", scale="sqrt")`` (one uniform permutation).
  The drop-and-refit LOCO (``refit="drop"``, vimp's default) is run alongside as ``loco_drop``: the
  paper's figures show only permute-and-refit, and the two share the same population value;
* the absorbed coefficient ``c``: the mean coefficient of the other features after the permute-and-refit,
  minus 1 (the authors' ``beta - 1``), and the OLS t-statistic of x1 in the full fit, put on the LOCO
  scale as ``t sd / sqrt(n - 1)`` (the authors' "LOCO vs t" figure). Both are recomputed here from each
  replicate's training data (regenerated from the table's ``seed`` column, as
  :func:`vimp.simulation.monte_carlo` documents); the permutation of ``c`` is drawn from its own child
  seed, not LOCO's;
* OLS with an intercept (``LinearRegression()``; the runner takes its compiled fast path by itself: the
  full OLS grid's simulation takes about 13 s over two workers on the 2-core machines here, the whole
  command about 20 s, benchmarks/README.md);
* random forest: ``RandomForestRegressor(n_estimators=500, max_features=max(2, p // 3), min_samples_split=4,
  min_samples_leaf=1, bootstrap=True)``. The authors use R ``randomForest`` with ``mtry = max(2,
  floor(p / 3))`` and the default ``nodesize = 5``. R's ``nodesize`` is not a minimum leaf size: a node of
  at most 5 *draws* (bootstrap duplicates counted) is not split, and leaves may be smaller. The nearest
  scikit-learn rule is ``min_samples_split=4`` (on distinct rows) with ``min_samples_leaf=1``; the literal
  reading ``min_samples_leaf=5`` grows shallower trees and puts LOCO up to 9 Monte Carlo standard errors
  below the authors' values (issue 14). ``max_features`` is a count, as ``mtry``. Each fit is seeded from
  the replicate's seed and a hash of its training rows (:class:`IndependentForest`): the authors' full and
  permuted-refit forests are two successive ``randomForest`` calls, so they share no random numbers, while
  a learner cloned with one ``random_state`` would grow both forests from the same bootstrap samples and
  feature draws (common random numbers), which narrows LOCO's spread (at n = 632, p = 12, delta = .88 in
  the committed grid runs of 10 replicates: sd 0.066 with one shared seed, 0.117 with independent forests;
  the authors' 0.112).

Theory (THEORY.md, section 1; :mod:`vimp.linear`): PaP ``sqrt(2 (1 + (p - 1) delta^2))``, LOCO ``(1 - delta)
sqrt(1 + c)``, ``c = (2 delta + (p - 2) delta^2) / (1 - 4 delta + 2 p delta + (p^2 - 3 p + 3) delta^2)``; the
authors' finite-sample adjustments PaP x (n - 1) / n, LOCO x sqrt(n / (n - p)), t / sqrt((n - 1) / (n - p + 1)).

The authors stored their Monte Carlo output per replicate (100 x 200 tables ``data/pap.csv``,
``data/loco.csv``, ``data/pap_rf.csv``, ``data/loco_rf.csv``); ``benchmarks/data/bladen2025_authors_*.csv.gz``
bundle the four tables in full (:data:`AUTHORS_FILES`), used to compare the spread and the means
(:func:`compare_authors`, :func:`spread_ratio`).

Usage::

    python benchmarks/bladen2025.py                      # --quick: a small OLS grid, seconds
    python benchmarks/bladen2025.py --full --model ols   # the paper's OLS grid (200 settings x 100), about 30 s
    python benchmarks/bladen2025.py --full --model ols --n-jobs 2   # settings and figures over 2 workers, about 20 s
    python benchmarks/bladen2025.py --quick --model both # plus a tiny forest at n = 632 (about a minute)
    python benchmarks/bladen2025.py --full --model rf --n-jobs -1 --store runs/ --resume
                                                         # the forest grid: overnight or on a cluster
    python benchmarks/bladen2025.py --full --model rf --ns 632,2000 --reps 10 --n-jobs 2 --store runs/
                                                         # the settings compared with the authors' means
    python benchmarks/bladen2025.py --full --model rf --settings 632:9:0,2000:3:0.66 --reps 100 --n-jobs 2 \
        --replicates benchmarks/results/bladen2025_rf_replicates.csv
                                                         # more replicates of a few cells; the rest from the CSV

Writes ``benchmarks/results/bladen2025_*.csv`` and ``.png`` (``*_quick.*`` for ``--quick``) and prints a
headline table against the paper's closed forms.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # this checkout's vimp, whatever is installed

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
AUTHORS_DIR = os.path.join(HERE, "data")
#: The authors' four stored tables (github.com/KelvynBladen/theoryVarImportance, ``data/*.csv``), bundled.
AUTHORS_FILES = {("ols", "pap"): "bladen2025_authors_pap.csv.gz", ("ols", "loco"): "bladen2025_authors_loco.csv.gz",
                 ("rf", "pap"): "bladen2025_authors_pap_rf.csv.gz",
                 ("rf", "loco"): "bladen2025_authors_loco_rf.csv.gz"}

#: The paper's grid.
DELTAS = tuple(round(0.11 * k, 2) for k in range(10))
NS = (20, 63, 200, 632, 2000)
PS = (3, 6, 9, 12)
REPS = 100
NOISE_SD = 0.01
RF_TREES = 500
#: ``--quick``: a small OLS grid, and a handful of forest settings at n >= 632 with few trees and replicates.
QUICK = {"deltas": (0.0, 0.33, 0.66, 0.99), "ns": (20, 200, 2000), "ps": (3, 12), "reps": 100}
QUICK_RF = {"deltas": (0.0, 0.44, 0.88), "ns": (632,), "ps": (3, 6), "reps": 8, "trees": 100}
#: Settings where the authors' finite-sample adjustment is known to be approximate (issue 14: LOCO's
#: sqrt(n / (n - p)) under-corrects by 4-7% at n = 20, p >= 9, delta >= 0.66): n = 20 with p >= 9.
APPROXIMATE = {"n": (20,), "min_p": 9}
#: Monte Carlo standard errors within which a setting counts as reproduced.
Z_LIMIT = 3.0
#: The measured feature and the estimators compared with theory in the headline.
FEATURE = "x0"
HEADLINE = ("pap", "loco", "loco_drop", "t")


@dataclass(frozen=True)
class Setting:
    """One cell of the grid."""

    n: int
    p: int
    delta: float

    @property
    def seed(self):
        """The setting's ``random_state``: fixed by the setting alone, so quick and full runs agree on it."""
        return 1_000_000 * self.n + 1_000 * self.p + int(round(100 * self.delta))

    @property
    def label(self):
        return f"n{self.n}_p{self.p}_delta{self.delta:.2f}"

    @property
    def approximate(self):
        return self.n in APPROXIMATE["n"] and self.p >= APPROXIMATE["min_p"]


def grid(deltas=DELTAS, ns=NS, ps=PS):
    """The settings in the authors' order (n outermost, then p, then delta)."""
    return [Setting(int(n), int(p), float(d)) for n in ns for p in ps for d in deltas]


# ------------------------------------------------------------------------------------------ estimators
def ols_estimators():
    """PaP and both LOCO variants around OLS with an intercept, one uniform permutation, sqrt scale."""
    from sklearn.linear_model import LinearRegression

    from vimp import LOCO, PermutationImportance

    return {
        "pap": PermutationImportance(LinearRegression(), permutation="uniform", n_permutations=1, scale="sqrt"),
        "loco": LOCO(LinearRegression(), refit="permute", scale="sqrt"),
        "loco_drop": LOCO(LinearRegression(), refit="drop", scale="sqrt"),
    }


def forest(p, n_estimators=RF_TREES, random_state=None):
    """The forest nearest to R ``randomForest(mtry = max(2, floor(p / 3)))`` with ``nodesize = 5``.

    ``min_samples_split=4`` on distinct rows with no minimum leaf size: R stops splitting a node of at most
    5 bootstrap draws and sets no minimum leaf (see the module docstring).
    """
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=n_estimators, max_features=max(2, p // 3), min_samples_split=4,
                                 min_samples_leaf=1, bootstrap=True, random_state=random_state)


class IndependentForest(RegressorMixin, BaseEstimator):
    """:func:`forest` whose seed is drawn from ``random_state`` *and* the training data.

    The authors fit the full and the permuted-refit forest with two successive ``randomForest`` calls,
    which draw successive stretches of R's one random stream: the two forests are independent. A
    scikit-learn forest cloned with one ``random_state`` (as LOCO clones its learner, and as
    :func:`vimp.simulation.monte_carlo` seeds it per replicate) grows both forests from the same bootstrap
    samples and feature draws: common random numbers, which narrow LOCO's spread and move its
    square-root-scale mean (issue 14; benchmarks/README). Seeding from a hash of the training rows gives
    the permuted refit its own stream and keeps every replicate repeatable.
    """

    def __init__(self, p=3, n_estimators=RF_TREES, random_state=None):
        self.p = p
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, X, y):
        import hashlib

        X = np.ascontiguousarray(X, dtype=float)
        digest = hashlib.sha256(X.tobytes()).digest()
        words = [int.from_bytes(digest[k:k + 4], "little") for k in range(0, 16, 4)]
        base = [] if self.random_state is None else [int(self.random_state)]
        seed = int(np.random.SeedSequence(base + words).generate_state(1)[0])
        self.forest_ = forest(self.p, self.n_estimators, random_state=seed).fit(X, y)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return self.forest_.predict(np.asarray(X, dtype=float))


def forest_estimators(p, n_estimators=RF_TREES):
    """PaP and permute-and-refit LOCO around :class:`IndependentForest`: one uniform permutation, sqrt scale."""
    from vimp import LOCO, PermutationImportance

    return {
        "pap": PermutationImportance(IndependentForest(p, n_estimators), permutation="uniform",
                                     n_permutations=1, scale="sqrt"),
        "loco": LOCO(IndependentForest(p, n_estimators), refit="permute", scale="sqrt"),
    }


# ---------------------------------------------------------------------------------------------- theory
def theory(setting):
    """The paper's closed forms for feature 1 of a setting: raw and finite-sample adjusted.

    Returns
    -------
    dict
        ``estimator -> (population value, adjusted value)`` for ``"pap"``, ``"loco"``, ``"loco_drop"``,
        ``"t"`` (the t-statistic on the LOCO scale, ``t sd / sqrt(n - 1)``) and ``"c"`` (not adjusted).
    """
    from vimp import linear

    n, p, d = setting.n, setting.p, setting.delta
    pap = float(linear.bladen_pap(p, d))
    loco = float(linear.bladen_loco(p, d))
    loco_adjusted = float(linear.adjust_loco(loco, n, p))
    # the authors' t_theory_fixed: t_theory sd / sqrt(n - 1) (= LOCO's closed form) / sqrt((n-1)/(n-p+1))
    t_adjusted = loco / np.sqrt((n - 1) / (n - p + 1))
    c = float(linear.absorption(p, d))
    return {"pap": (pap, float(linear.adjust_pap(pap, n))), "loco": (loco, loco_adjusted),
            "loco_drop": (loco, loco_adjusted), "t": (loco, t_adjusted), "c": (c, c)}


# ------------------------------------------------------------------------------------------------ runs
def _store_path(store, model, setting):
    if store is None:
        return None
    return os.path.join(store, f"bladen2025_{model}_{setting.label}.sqlite")


def run_setting(setting, model="ols", reps=REPS, *, trees=RF_TREES, n_jobs=None, scheduler=None, store=None,
                resume=False):
    """One setting through :func:`vimp.simulation.monte_carlo`: a long table of replicate values.

    Parameters
    ----------
    setting : Setting
    model : {"ols", "rf"}
    reps : int
    trees : int
        Trees of the forest (``model="rf"``).
    n_jobs, scheduler
        As in :func:`~vimp.simulation.monte_carlo`.
    store : str, optional
        A folder: the setting's runs go to its own SQLite file there (a monte_carlo store holds one
        configuration), resumable with ``resume=True``.
    resume : bool

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``estimator``, ``n``, ``p``, ``delta``, ``replicate``, ``value``, ``seed``; for OLS
        also the rows of ``"t"`` and ``"c"`` (:func:`auxiliary`).
    """
    from vimp.simulation import BladenDesign, monte_carlo

    dgp = BladenDesign(setting.p, setting.delta, beta=1.0, noise_sd=NOISE_SD)
    estimators = ols_estimators() if model == "ols" else forest_estimators(setting.p, trees)
    table = monte_carlo(dgp, estimators, n=setting.n, reps=reps, validation="independent", features=[FEATURE],
                        random_state=setting.seed, n_jobs=n_jobs, scheduler=scheduler,
                        store=_store_path(store, model, setting), resume=resume)
    out = pd.DataFrame({"model": model, "estimator": table["estimator"].to_numpy(), "n": setting.n,
                        "p": setting.p, "delta": setting.delta, "replicate": table["replicate"].to_numpy(),
                        "value": table["importance"].to_numpy(), "seed": table["seed"].to_numpy()})
    if model == "ols":
        seeds = table.drop_duplicates("replicate")[["replicate", "seed"]]
        out = pd.concat([out, auxiliary(dgp, setting, seeds)], ignore_index=True)
    return out


def training_data(dgp, n, seed):
    """The training set of the replicate with this ``seed``: the data child ``(0,)`` of the seed, first draw
    (:func:`vimp.simulation.monte_carlo`, Notes)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0,)))
    X, y = dgp.sample(n, rng)
    return X, y, rng


def _generators(seeds, key):
    """``default_rng(SeedSequence(seed, spawn_key=key))`` for each seed, seeded in bulk as the runner's fast
    path seeds them (:mod:`vimp.simulation._fast`); each Generator is used before the next is made."""
    from vimp.simulation._fast import _child_states, _Pool

    pool = _Pool()
    for state in _child_states(np.asarray(seeds, dtype=np.uint64), [key])[:, 0].tolist():
        yield pool.on(state)


def training_sets(dgp, n, seeds):
    """:func:`training_data` of every seed, stacked: ``X`` (len(seeds), n, p) and ``y`` (len(seeds), n).

    Drawn by the design's ``_draw`` without :meth:`~vimp.simulation.DataGeneratingProcess.sample`'s output
    checks, as the runner's fast path draws a built-in design (the same numbers; the draws themselves,
    the Generators' normal variates, are most of the time).
    """
    X, y = np.empty((len(seeds), n, dgp.p)), np.empty((len(seeds), n))
    for r, rng in enumerate(_generators(seeds, (0,))):
        X[r], y[r] = dgp._draw(n, rng)
    return X, y


#: Child of a replicate's seed for the permutation of the absorbed coefficient (unused by the runner).
_C_STREAM = (0xC0EF,)


def auxiliary(dgp, setting, seeds):
    """The OLS t-statistic of x1 (on the LOCO scale) and the absorbed coefficient c, per replicate.

    ``t sd / sqrt(n - 1)`` with ``t`` the full fit's t-statistic of x1 (OLS with an intercept); ``c`` the
    mean coefficient of x2..xp after refitting with training column 1 permuted once
    (uniformly, from the child ``_C_STREAM`` of the replicate's seed), minus 1 (the authors' ``beta - 1``).
    """
    n, p = setting.n, setting.p
    replicates, seed_values = seeds["replicate"].to_numpy(), seeds["seed"].to_numpy()
    m = len(seed_values)
    X, y = training_sets(dgp, n, seed_values)
    perms = np.empty((m, n), dtype=np.intp)
    for r, gen in enumerate(_generators(seed_values, _C_STREAM)):
        perms[r] = gen.permutation(n)
    # The intercept by centring; normal equations of the centred design (condition number of Sigma at most
    # about 1e6 on the paper's grid: ample digits for t and c), for all replicates at once, in few passes
    # over the (m, n, p) training sets (the regenerated draws are most of this function's time).
    X -= X.mean(axis=1, keepdims=True)
    y -= y.mean(axis=1, keepdims=True)
    Xt = X.transpose(0, 2, 1)
    gram = np.matmul(Xt, X)
    rhs = np.zeros((m, p, 2))
    rhs[:, :, :1] = np.matmul(Xt, y[:, :, None])
    rhs[:, 0, 1] = 1.0  # the unit vector e_1: (X'X)^-1_11 from the same solve
    solved = np.linalg.solve(gram, rhs)
    coef, g00 = solved[:, :, 0], solved[:, 0, 1]
    resid = y - np.matmul(X, coef[:, :, None])[:, :, 0]
    sigma2 = np.einsum("ri,ri->r", resid, resid) / (n - p - 1)
    t_scaled = np.abs(coef[:, 0]) / np.sqrt(sigma2 * g00) * NOISE_SD / np.sqrt(n - 1)
    # The permuted design differs from X only in column 1 (a permutation keeps it centred and keeps its sum
    # of squares): only row and column 1 of the Gram matrix and entry 1 of X'y change.
    x1 = np.take_along_axis(X[:, :, 0], perms, axis=1)
    cross = np.matmul(x1[:, None, :], X)[:, 0]
    gram_perm = gram.copy()
    gram_perm[:, 0, 1:] = gram_perm[:, 1:, 0] = cross[:, 1:]
    xty_perm = rhs[:, :, 0].copy()
    xty_perm[:, 0] = np.einsum("ri,ri->r", x1, y)
    coef_perm = np.linalg.solve(gram_perm, xty_perm[:, :, None])[:, :, 0]
    c = coef_perm[:, 1:].mean(axis=1) - 1.0
    return pd.DataFrame({"model": "ols", "estimator": np.tile(np.array(["t", "c"], dtype=object), m), "n": n,
                         "p": p, "delta": setting.delta, "replicate": np.repeat(replicates, 2),
                         "value": np.column_stack([t_scaled, c]).ravel(), "seed": np.repeat(seed_values, 2)})


def _ols_settings(settings, reps, store, resume):
    """:func:`run_setting` of some OLS settings in one worker, on one BLAS thread (:func:`_threads_for`)."""
    with _threads_for("ols", None):
        return [run_setting(setting, "ols", reps, store=store, resume=resume) for setting in settings]


def _processes(workers):
    """``joblib.Parallel`` over ``workers`` processes, for the script's own loops (the OLS settings and the
    figures): joblib's ``"multiprocessing"`` backend where the platform starts processes by forking (Linux
    before Python 3.14), else loky. A forked worker starts with this process's modules already imported;
    a loky worker imports NumPy, SciPy, pandas, scikit-learn and vimp afresh, about 3 s a worker on these
    machines (2 cores), a fifth of the full OLS grid's time. The results are the same either way (each
    setting draws from its own seed)."""
    import multiprocessing

    from joblib import Parallel

    forking = multiprocessing.get_context().get_start_method() == "fork"
    return Parallel(n_jobs=workers, backend="multiprocessing" if forking else "loky", batch_size=1)


def run_grid(settings, model="ols", reps=REPS, *, trees=RF_TREES, n_jobs=None, scheduler=None, store=None,
             resume=False, log=None):
    """:func:`run_setting` over ``settings``; one long table.

    ``n_jobs`` spreads the *settings* of an OLS grid over joblib workers (a setting's 100 replicates are
    tiny fits that the runner's compiled path takes in one pass: spreading them costs more than it
    gains), and the *replicates* of a forest setting (seconds each), as :func:`vimp.simulation.monte_carlo`
    does with ``scheduler``. Every setting draws from its own seed, so the table is the same for any
    ``n_jobs``.
    """
    if model == "ols" and n_jobs not in (None, 1) and scheduler is None:
        from joblib import cpu_count, delayed

        import vimp.simulation  # noqa: F401  (imported before the workers start: see _processes)

        workers = cpu_count() if n_jobs < 0 else n_jobs
        # balanced by cost (rows x features), dealt round-robin, several chunks a worker
        order = sorted(settings, key=lambda s: s.n * s.p, reverse=True)
        chunks = [order[k::4 * workers] for k in range(min(len(order), 4 * workers))]
        parts = _processes(workers)(delayed(_ols_settings)(chunk, reps, store, resume) for chunk in chunks)
        by_label = {frame_setting.label: frame for chunk, frames in zip(chunks, parts)
                    for frame_setting, frame in zip(chunk, frames)}
        return pd.concat([by_label[setting.label] for setting in settings], ignore_index=True)
    frames = []
    for k, setting in enumerate(settings):
        start = time.perf_counter()
        frames.append(run_setting(setting, model, reps, trees=trees, n_jobs=n_jobs, scheduler=scheduler,
                                  store=store, resume=resume))
        if log is not None:
            log(f"  {model} {k + 1}/{len(settings)} {setting.label}: {time.perf_counter() - start:.1f} s")
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------- summaries
def merge_replicates(run, earlier, model="rf"):
    """``run`` and the ``model`` replicates of ``earlier`` (a replicates CSV of this script) for every setting
    that ``run`` does not hold: a few settings rerun with more replicates replace their earlier values."""
    columns = ["model", "estimator", "n", "p", "delta", "replicate", "value", "seed"]
    missing = sorted(set(columns) - set(earlier.columns))
    if missing:
        raise ValueError(f"--replicates: the CSV lacks the columns {missing} of a bladen2025_rf_replicates.csv")
    earlier = earlier[earlier["model"] == model]
    keys = ["n", "p", "delta"]
    ran = set(map(tuple, run.loc[run["model"] == model, keys].drop_duplicates().itertuples(index=False)))
    keep = [tuple(key) not in ran for key in earlier[keys].itertuples(index=False)]
    merged = pd.concat([run, earlier.loc[keep, columns]], ignore_index=True)
    return merged.sort_values(["model", "n", "p", "delta"], kind="stable", ignore_index=True)


def _with_theory(replicates):
    """``replicates`` (in its order) with the columns ``theory`` and ``theory_adjusted`` of :func:`theory`."""
    keys = ["n", "p", "delta", "estimator"]
    rows = []
    for n, p, delta in replicates[["n", "p", "delta"]].drop_duplicates().itertuples(index=False):
        for name, (value, adjusted) in theory(Setting(int(n), int(p), float(delta))).items():
            rows.append((n, p, delta, name, value, adjusted))
    table = pd.DataFrame(rows, columns=keys + ["theory", "theory_adjusted"])
    out = replicates.merge(table, how="left", on=keys, validate="many_to_one")
    out.index = replicates.index
    if out["theory"].isna().any():
        unknown = sorted(set(out.loc[out["theory"].isna(), "estimator"]))
        raise ValueError(f"no closed form for the estimators {unknown}")
    return out


def summarise(replicates):
    """Per model, estimator and setting: mean, sd, Monte Carlo SE, theory (raw and adjusted), z and % error.

    ``mc_se = sd / sqrt(reps)`` is the Monte Carlo error of ``mean``; ``z_raw`` and ``z_adjusted`` are
    ``(mean - theory) / mc_se``; ``excess_adjusted_pct = 100 (mean / theory_adjusted - 1)``.
    """
    data = _with_theory(replicates)
    keys = ["model", "estimator", "n", "p", "delta"]
    grouped = data.groupby(keys, sort=False)
    out = grouped.agg(reps=("value", "count"), mean=("value", "mean"), sd=("value", "std"),
                      theory=("theory", "first"), theory_adjusted=("theory_adjusted", "first")).reset_index()
    out["mc_se"] = out["sd"] / np.sqrt(out["reps"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["z_raw"] = (out["mean"] - out["theory"]) / out["mc_se"]
        out["z_adjusted"] = (out["mean"] - out["theory_adjusted"]) / out["mc_se"]
        out["excess_raw_pct"] = 100.0 * (out["mean"] / out["theory"] - 1.0)
        out["excess_adjusted_pct"] = 100.0 * (out["mean"] / out["theory_adjusted"] - 1.0)
    out["approximate"] = [Setting(n, p, d).approximate for n, p, d in zip(out["n"], out["p"], out["delta"])]
    return out


def pooled_errors(replicates):
    """The authors' pooled % error by (n, p): mean and sd over delta and replicates of
    ``100 (value - theory) / theory``, raw and finite-sample adjusted (PaP, LOCO; c excluded: its theory is
    0 at delta = 0)."""
    data = _with_theory(replicates[replicates["estimator"].isin(["pap", "loco", "loco_drop"])])
    data = data.assign(raw=100.0 * (data["value"] - data["theory"]) / data["theory"],
                       adjusted=100.0 * (data["value"] - data["theory_adjusted"]) / data["theory_adjusted"])
    grouped = data.groupby(["model", "estimator", "n", "p"], sort=False)
    return grouped.agg(reps=("raw", "count"), raw_mean=("raw", "mean"), raw_sd=("raw", "std"),
                       adjusted_mean=("adjusted", "mean"), adjusted_sd=("adjusted", "std")).reset_index()


def headline(summary, estimators=HEADLINE, model="ols"):
    """Per estimator: settings, max |z| against the adjusted theory, count within ``Z_LIMIT`` SE (all
    settings and outside the approximate region), and the settings outside."""
    rows, outside = [], []
    for name in estimators:
        part = summary[(summary["model"] == model) & (summary["estimator"] == name)]
        if part.empty:
            continue
        z = part["z_adjusted"].abs()
        clean = part[~part["approximate"]]
        rows.append({"estimator": name, "settings": len(part), "max_abs_z": float(z.max()),
                     "within_3se": int((z <= Z_LIMIT).sum()),
                     "settings_outside_approximate_region": int((~clean["approximate"]).sum()),
                     "within_3se_outside_approximate_region": int((clean["z_adjusted"].abs() <= Z_LIMIT).sum()),
                     "max_abs_z_outside_approximate_region": float(clean["z_adjusted"].abs().max())
                     if len(clean) else np.nan})
        bad = part[z > Z_LIMIT]
        outside.append(bad.assign(estimator=name)[["estimator", "n", "p", "delta", "mean", "theory_adjusted",
                                                   "z_adjusted", "excess_adjusted_pct", "approximate"]])
    return pd.DataFrame(rows), (pd.concat(outside, ignore_index=True) if outside else pd.DataFrame())


def pooled_bias(summary, model="ols"):
    """Per estimator and (n, p), over the deltas: mean excess over the adjusted theory (%) and the pooled z,
    ``sum(z_adjusted) / sqrt(k)`` (k settings with independent replicates: N(0, 1) if the adjusted theory
    is exact), which shows a systematic excess that no single setting's 3 SE reveals."""
    data = summary[(summary["model"] == model) & summary["estimator"].isin(["pap", "loco", "loco_drop", "t"])]
    grouped = data.groupby(["estimator", "n", "p"], sort=False)
    out = grouped.agg(settings=("z_adjusted", "count"), mean_excess_pct=("excess_adjusted_pct", "mean"),
                      min_excess_pct=("excess_adjusted_pct", "min"), max_excess_pct=("excess_adjusted_pct", "max"),
                      z_sum=("z_adjusted", "sum")).reset_index()
    out["pooled_z"] = out.pop("z_sum") / np.sqrt(out["settings"])
    return out


# ------------------------------------------------------------------------------------ the authors' data
def authors_settings():
    """The authors' setting of each column ``V1..V200`` of their stored tables (R scripts/sim_RF.R: n
    outermost, then p, then delta)."""
    return {f"V{k + 1}": setting for k, setting in enumerate(grid())}


def load_authors(folder=AUTHORS_DIR):
    """The authors' stored output (all four tables, every replicate) as a long table (model, estimator, n,
    p, delta, replicate, value), or None when the bundle is absent.

    The files ``bladen2025_authors_{pap,loco,pap_rf,loco_rf}.csv.gz`` hold the authors' tables verbatim
    (100 replicates x 200 settings each, a header of comment lines on their provenance first).
    """
    frames = []
    for (model, estimator), name in AUTHORS_FILES.items():
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            return None
        wide = pd.read_csv(path, comment="#")
        ids = pd.DataFrame({"model": model, "estimator": estimator, "replicate": np.arange(1, len(wide) + 1)})
        frames.append(pd.concat([ids, wide], axis=1))
    wide = pd.concat(frames, ignore_index=True)
    columns = authors_settings()
    long = wide.melt(id_vars=["model", "estimator", "replicate"], value_vars=list(columns), var_name="column",
                     value_name="value").dropna(subset=["value"])
    long["n"] = [columns[c].n for c in long["column"]]
    long["p"] = [columns[c].p for c in long["column"]]
    long["delta"] = [columns[c].delta for c in long["column"]]
    return long[["model", "estimator", "n", "p", "delta", "replicate", "value"]].reset_index(drop=True)


#: Relative tolerance of the forest comparison (issue 14: within 5% of the authors' stored means).
RF_TOLERANCE = 0.05


def compare_authors(summary, authors):
    """Our per-setting mean and sd next to the authors' (all their stored replicates).

    ``ratio`` is our mean over theirs, ``ratio_se`` its delta-method standard error from both Monte Carlo
    errors (each side's own sd over the square root of its replicates), ``z_means`` the difference of the
    means over its standard error. ``within_5pct`` classifies the ratio against :data:`RF_TOLERANCE`:
    ``"yes"`` when ``|ratio - 1| <= 0.05``; ``"undecided"`` when it is farther but within 3 ``ratio_se``
    of the band (the Monte Carlo error does not allow a verdict); ``"no"`` when it is more than 3
    ``ratio_se`` outside the band. ``authors_allow`` says whether the authors' own Monte Carlo error allows
    a verdict at all (issue 14: "where their Monte Carlo error allows"): their relative standard error
    ``authors_mc_se / |authors_mean|`` times :data:`Z_LIMIT` fits inside the band. Where it does not, even
    exact values of ours could not separate a 5% difference from their noise.
    """
    if authors is None:
        return pd.DataFrame()
    keys = ["model", "estimator", "n", "p", "delta"]
    theirs = authors.groupby(keys).agg(authors_reps=("value", "count"), authors_mean=("value", "mean"),
                                       authors_sd=("value", "std")).reset_index()
    merged = summary.merge(theirs, on=keys, how="inner")
    merged["authors_mc_se"] = merged["authors_sd"] / np.sqrt(merged["authors_reps"])
    with np.errstate(divide="ignore", invalid="ignore"):
        merged["ratio"] = merged["mean"] / merged["authors_mean"]
        merged["ratio_se"] = np.abs(merged["ratio"]) * np.sqrt(
            (merged["mc_se"] / merged["mean"]) ** 2 + (merged["authors_mc_se"] / merged["authors_mean"]) ** 2)
        merged["z_means"] = (merged["mean"] - merged["authors_mean"]) / np.sqrt(
            merged["mc_se"] ** 2 + merged["authors_mc_se"] ** 2)
        excess = np.abs(merged["ratio"] - 1.0) - RF_TOLERANCE
        merged["within_5pct"] = np.where(excess <= 0, "yes",
                                         np.where(excess <= Z_LIMIT * merged["ratio_se"], "undecided", "no"))
        merged["authors_allow"] = Z_LIMIT * merged["authors_mc_se"] / merged["authors_mean"].abs() <= RF_TOLERANCE
    merged.loc[~np.isfinite(merged["ratio_se"]), "within_5pct"] = "undecided"
    return merged[keys + ["reps", "mean", "sd", "mc_se", "authors_reps", "authors_mean", "authors_sd",
                          "authors_mc_se", "ratio", "ratio_se", "z_means", "within_5pct", "authors_allow",
                          "theory", "theory_adjusted"]]


def spread_ratio(comparison):
    """Pooled ratio of our replicate sd to the authors', per model and estimator:
    ``sqrt(sum(sd^2 / theory^2) / sum(authors_sd^2 / theory^2))`` (each setting's spread relative to its
    adjusted theory, so that no scale dominates; pooled variances, so that no single setting's sampling
    error of its sd dominates the ratio)."""
    if comparison.empty:
        return pd.DataFrame()
    data = comparison.dropna(subset=["authors_sd"])
    data = data[data["theory_adjusted"] > 0]
    rows = []
    for (model, name), part in data.groupby(["model", "estimator"], sort=False):
        ours = np.sum((part["sd"] / part["theory_adjusted"]) ** 2)
        theirs = np.sum((part["authors_sd"] / part["theory_adjusted"]) ** 2)
        # per setting: log(sd / authors_sd), SE sqrt(1 / (2 (r - 1)) + 1 / (2 (r_a - 1))) for normal
        # replicates (heavier tails widen it: a rough screen, stated as such in the README)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.log(part["sd"] / part["authors_sd"])
            log_se = np.sqrt(1 / (2 * (part["reps"] - 1)) + 1 / (2 * (part["authors_reps"] - 1)))
        rows.append({"model": model, "estimator": name, "settings": len(part),
                     "authors_reps_per_setting": int(part["authors_reps"].min()),
                     "sd_within_3se": int((np.abs(log_ratio / log_se) <= Z_LIMIT).sum()),
                     "sd_ratio_ours_over_authors": float(np.sqrt(ours / theirs)),
                     "means_within_3_combined_se": int((part["z_means"].abs() <= Z_LIMIT).sum())})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- figures
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Fixed subplot margins per figure, the values ``tight_layout`` chose for the full grid (measured once;
#: computing them on every run cost a second or two per figure: every tick label is laid out twice).
_LAYOUT = {
    "panels": {"left": 0.045, "right": 0.988, "bottom": 0.06, "top": 0.936, "wspace": 0.1, "hspace": 0.2},
    "absorption": {"left": 0.062, "right": 0.986, "bottom": 0.06, "top": 0.936, "wspace": 0.1, "hspace": 0.2},
    "forest": {"left": 0.1, "right": 0.988, "bottom": 0.08, "top": 0.86, "wspace": 0.1, "hspace": 0.3},
    "panels_free": {"left": 0.04, "right": 0.99, "bottom": 0.06, "top": 0.936, "wspace": 0.2, "hspace": 0.25},
    "pooled": {"left": 0.083, "right": 0.983, "bottom": 0.072, "top": 0.924, "wspace": 0.203, "hspace": 0.184},
}


def _save(fig, plt, path, layout):
    """Set the fixed margins ``_LAYOUT[layout]``, write the PNG and close the figure."""
    fig.subplots_adjust(**_LAYOUT[layout])
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _panels(summary, plt, sharey="row", sharex=True):
    ps, ns = sorted(summary["p"].unique()), sorted(summary["n"].unique())
    fig, axes = plt.subplots(len(ps), len(ns), figsize=(2.6 * len(ns) + 1, 2.2 * len(ps) + 0.8),
                             sharex=sharex, sharey=sharey, squeeze=False)
    for i, p in enumerate(ps):
        for k, n in enumerate(ns):
            # y=1.0 fixes the title where Matplotlib's automatic placement puts it here (it only moves a title
            # above tick labels on the top side, and there are none), without the automatic placement's
            # second layout of every tick label: the same pixels, a fifth less time per figure
            axes[i, k].set_title(f"p = {p}, n = {n}", fontsize=8, y=1.0)
    return fig, axes, ps, ns


def plot_importance(summary, path, model="ols"):
    """Mean importance +- 2 sd of the replicates vs delta, theory solid (raw) and dashed (adjusted)."""
    plt = _pyplot()
    data = summary[summary["model"] == model]
    fig, axes, ps, ns = _panels(data, plt)
    styles = {"pap": ("tab:blue", "PaP"), "loco": ("black", "LOCO (permute-and-refit)"),
              "loco_drop": ("tab:orange", "LOCO (drop)")}
    for i, p in enumerate(ps):
        for k, n in enumerate(ns):
            ax = axes[i, k]
            for name, (colour, label) in styles.items():
                part = data[(data["estimator"] == name) & (data["p"] == p) & (data["n"] == n)]
                if part.empty:
                    continue
                shift = 0.012 if name == "loco_drop" else 0.0
                ax.errorbar(part["delta"] + shift, part["mean"], yerr=2 * part["sd"], fmt="o", ms=3, lw=0.8,
                            color=colour, label=label)
                if name != "loco_drop":
                    ax.plot(part["delta"], part["theory"], "-", color="red", lw=0.9,
                            label="theory" if name == "pap" else None)
                    ax.plot(part["delta"], part["theory_adjusted"], "--", color="red", lw=0.9,
                            label="theory, finite-sample adjusted" if name == "pap" else None)
    for ax in axes[-1]:
        ax.set_xlabel("Δ")
    for ax in axes[:, 0]:
        ax.set_ylabel("importance (sqrt scale)")
    if axes[0, 0].get_legend_handles_labels()[0]:  # a grid without the first panel's setting has none
        axes[0, 0].legend(fontsize=6, loc="upper left")
    fig.suptitle(f"Bladen et al. (2025): importance of x1 vs Δ ({model.upper()}; mean ± 2 sd)", fontsize=10)
    _save(fig, plt, path, "panels")


def plot_absorption(summary, path):
    """The absorbed coefficient c: mean +- 2 sd vs delta, with the closed form."""
    plt = _pyplot()
    data = summary[(summary["model"] == "ols") & (summary["estimator"] == "c")]
    fig, axes, ps, ns = _panels(data, plt)
    for i, p in enumerate(ps):
        for k, n in enumerate(ns):
            part = data[(data["p"] == p) & (data["n"] == n)]
            axes[i, k].errorbar(part["delta"], part["mean"], yerr=2 * part["sd"], fmt="o", ms=3, lw=0.8,
                                color="black")
            axes[i, k].plot(part["delta"], part["theory"], "-", color="red", lw=0.9)
    for ax in axes[-1]:
        ax.set_xlabel("Δ")
    for ax in axes[:, 0]:
        ax.set_ylabel("c")
    fig.suptitle("Absorbed coefficient c vs Δ (permute-and-refit OLS; mean ± 2 sd; red: closed form)",
                 fontsize=10)
    _save(fig, plt, path, "absorption")


def plot_pooled(pooled, path):
    """Pooled % error (mean +- 2 sd over delta and replicates) vs n, raw and adjusted, by p."""
    plt = _pyplot()
    data = pooled[pooled["model"] == "ols"]
    names = [e for e in ("pap", "loco", "loco_drop") if e in set(data["estimator"])]
    fig, axes = plt.subplots(len(names), 2, figsize=(9, 2.6 * len(names) + 0.6), sharex=True, squeeze=False)
    ps = sorted(data["p"].unique())
    for i, name in enumerate(names):
        for k, kind in enumerate(("raw", "adjusted")):
            ax = axes[i, k]
            ax.axhline(0.0, color="red", lw=0.8)
            for m, p in enumerate(ps):
                part = data[(data["estimator"] == name) & (data["p"] == p)]
                x = part["n"] * (1.0 + 0.06 * (m - (len(ps) - 1) / 2))
                ax.errorbar(x, part[f"{kind}_mean"], yerr=2 * part[f"{kind}_sd"], fmt="o", ms=3, lw=0.8,
                            label=f"p = {p}")
            ax.set_xscale("log")
            ax.set_title(f"{name}: {kind}", fontsize=9, y=1.0)  # fixed: see _panels
            ax.set_ylabel("% error vs theory")
    for ax in axes[-1]:
        ax.set_xlabel("n")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Pooled % error (mean ± 2 sd over Δ and replicates), raw vs finite-sample adjusted theory",
                 fontsize=10)
    _save(fig, plt, path, "pooled")


def plot_loco_vs_t(replicates, path):
    """Per replicate: permute-and-refit LOCO against the t-statistic on the LOCO scale; the line y = x."""
    plt = _pyplot()
    data = replicates[replicates["model"] == "ols"]
    wide = data[data["estimator"].isin(["loco", "t"])].pivot_table(
        index=["n", "p", "delta", "replicate"], columns="estimator", values="value").reset_index()
    fig, axes, ps, ns = _panels(wide, plt, sharey=False, sharex=False)
    for i, p in enumerate(ps):
        for k, n in enumerate(ns):
            part = wide[(wide["p"] == p) & (wide["n"] == n)]
            ax = axes[i, k]
            # one Line2D of markers (the look of scatter(s=3): marker area 3 pt^2, edge in the face colour), far
            # cheaper to draw than a PathCollection
            ax.plot(part["t"], part["loco"], "o", ms=np.sqrt(3.0), alpha=0.3, color="black")
            top = float(np.nanmax(part[["t", "loco"]].to_numpy())) if len(part) else 1.0
            ax.plot([0, top], [0, top], color="red", lw=1.2)
    for ax in axes[-1]:
        ax.set_xlabel("t sd / sqrt(n - 1)")
    for ax in axes[:, 0]:
        ax.set_ylabel("LOCO")
    fig.suptitle("LOCO (permute-and-refit) vs the OLS t-statistic of x1, per replicate", fontsize=10)
    _save(fig, plt, path, "panels_free")


def plot_forest(summary, comparison, path):
    """Forest means +- 2 sd vs delta against the linear theory (and the authors' forest means)."""
    plt = _pyplot()
    data = summary[summary["model"] == "rf"]
    if data.empty:
        return False
    fig, axes, ps, ns = _panels(data, plt)
    for i, p in enumerate(ps):
        for k, n in enumerate(ns):
            ax = axes[i, k]
            for name, colour in (("pap", "tab:blue"), ("loco", "black")):
                part = data[(data["estimator"] == name) & (data["p"] == p) & (data["n"] == n)]
                ax.errorbar(part["delta"], part["mean"], yerr=2 * part["sd"], fmt="o", ms=3, lw=0.8,
                            color=colour, label=f"forest {name} (vimp)")
                ax.plot(part["delta"], part["theory"], "-", color="red", lw=0.9,
                        label="linear theory" if name == "pap" else None)
                if not comparison.empty:
                    theirs = comparison[(comparison["model"] == "rf") & (comparison["estimator"] == name)
                                        & (comparison["p"] == p) & (comparison["n"] == n)]
                    ax.plot(theirs["delta"] + 0.015, theirs["authors_mean"], "x", color=colour, ms=5,
                            label=f"authors' forest {name}")
    for ax in axes[-1]:
        ax.set_xlabel("Δ")
    for ax in axes[:, 0]:
        ax.set_ylabel("importance (sqrt scale)")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle("Random forest vs the linear theory\n(mean ± 2 sd; x: the authors' stored means)",
                 fontsize=9)
    _save(fig, plt, path, "forest")
    return True


def draw_figures(figures, n_jobs=None):
    """Draw ``figures``, a list of ``(plot function, data, path)``, in this process or, with ``n_jobs``
    other than None or 1, over that many worker processes (:func:`_processes`): a figure of
    20 panels takes a second or two, nearly all of it Matplotlib laying out ticks, and the figures are
    independent. The PNGs are the same either way (Agg draws deterministically)."""
    if n_jobs in (None, 1) or len(figures) < 2:
        for plot, data, path in figures:
            plot(data, path)
        return
    from joblib import cpu_count, delayed

    workers = min(cpu_count() if n_jobs < 0 else n_jobs, len(figures))
    _processes(workers)(delayed(plot)(data, path) for plot, data, path in figures)


# ------------------------------------------------------------------------------------------------- CLI
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {value}")
    return value


def _sizes(text):
    """``--ns``: comma-separated sample sizes, each one of the paper's (``NS``)."""
    try:
        values = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 632,2000; got {text!r}") from None
    if not values or any(v not in NS for v in values):
        raise argparse.ArgumentTypeError(f"expected sample sizes from the paper's grid {NS}; got {text!r}")
    return values


def _settings(text):
    """``--settings``: comma-separated ``n:p:delta`` cells of the paper's grid, e.g. ``632:9:0,2000:3:0.66``."""
    out = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        try:
            n, p, delta = part.split(":")
            setting = Setting(int(n), int(p), round(float(delta), 2))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated n:p:delta cells such as 632:9:0.44; "
                                             f"got {part!r}") from None
        if setting.n not in NS or setting.p not in PS or setting.delta not in DELTAS:
            raise argparse.ArgumentTypeError(f"expected a cell of the paper's grid (n in {NS}, p in {PS}, delta in "
                                             f"{DELTAS}); got {part!r}")
        if setting not in out:
            out.append(setting)
    if not out:
        raise argparse.ArgumentTypeError(f"expected at least one n:p:delta cell; got {text!r}")
    return out


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer (-1: all cores); got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("n-jobs must be a positive integer or negative (-1: all cores); got 0")
    return value


def parse_args(argv=None):
    """The command line; bad options end with argparse's usage message (exit status 2)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a small grid (the default; about 10 s here)")
    mode.add_argument("--full", action="store_true", help="the paper's grid: 200 settings x 100 replicates")
    parser.add_argument("--model", choices=("ols", "rf", "both"), default="ols",
                        help="OLS (the full grid: about 15 to 20 s), the random forest (the full grid: "
                             "overnight) or both")
    parser.add_argument("--ns", type=_sizes, default=None,
                        help="only these sample sizes of the grid, comma-separated (e.g. 632,2000: the forest "
                             "settings compared with the authors' means)")
    parser.add_argument("--settings", type=_settings, default=None,
                        help="only these cells of the grid, comma-separated n:p:delta (e.g. 632:9:0,2000:3:0.66); "
                             "with --replicates, to add replicates to a few cells of an earlier run")
    parser.add_argument("--replicates", default=None,
                        help="an earlier run's bladen2025_rf_replicates.csv: the forest replicates of every "
                             "cell not run in this call are read from it (those run now replace theirs), so "
                             "the tables cover both")
    parser.add_argument("--reps", type=_positive_int, default=None, help="replicates per setting")
    parser.add_argument("--trees", type=_positive_int, default=None,
                        help=f"trees per forest (default {RF_TREES}; --quick: {QUICK_RF['trees']})")
    parser.add_argument("--n-jobs", type=_n_jobs, default=None,
                        help="joblib workers: over the settings of the OLS grid, over the replicates of a "
                             "forest setting (-1: all cores)")
    parser.add_argument("--scheduler", default=None, help="a dask scheduler address, e.g. tcp://host:8786")
    parser.add_argument("--store", default=None,
                        help="a folder for one resumable SQLite store per setting and model")
    parser.add_argument("--resume", action="store_true", help="continue the runs in --store")
    parser.add_argument("--out", default=RESULTS, help="folder of the CSV and PNG outputs")
    args = parser.parse_args(argv)
    if args.resume and args.store is None:
        parser.error("--resume needs --store PATH")
    if args.replicates is not None and (args.model == "ols" or not os.path.isfile(args.replicates)):
        parser.error("--replicates needs --model rf or both and an existing CSV file (an earlier run's "
                     f"bladen2025_rf_replicates.csv); got {args.replicates!r} with --model {args.model}")
    if args.store is not None and not os.path.isdir(args.store):
        parser.error(f"--store must be an existing folder (one SQLite file per setting goes there); "
                     f"got {args.store!r}")
    args.quick = not args.full
    return args


def _print_table(frame, title):
    print(f"\n{title}")
    if frame.empty:
        print("  (none)")
        return
    with pd.option_context("display.width", 160, "display.max_columns", 30, "display.max_rows", 400):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _threads_for(model, n_jobs):
    """One BLAS thread for the OLS grid run in this process; the forest (or parallel runs) as configured."""
    import contextlib

    if model != "ols" or (n_jobs not in (None, 1)):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    # threadpool_limits acts on the BLAS libraries loaded when it is entered: load SciPy's (its own
    # OpenBLAS, not NumPy's) first, or the runner's truths and the LAPACK refits run on two threads
    # that spin against each other on 12 x 12 problems
    import scipy.linalg  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    import vimp.simulation  # noqa: F401

    return threadpool_limits(1, user_api="blas")


def main(argv=None):
    args = parse_args(argv)
    suffix = "_quick" if args.quick else ""
    os.makedirs(args.out, exist_ok=True)
    models = ["ols", "rf"] if args.model == "both" else [args.model]
    frames = []
    timings = {}
    for model in models:
        if model == "ols":
            spec = QUICK if args.quick else {"deltas": DELTAS, "ns": NS, "ps": PS, "reps": REPS}
            trees = RF_TREES
        else:
            spec = QUICK_RF if args.quick else {"deltas": DELTAS, "ns": NS, "ps": PS, "reps": REPS,
                                                 "trees": RF_TREES}
            trees = args.trees or spec["trees"]
        ns = spec["ns"] if args.ns is None else args.ns
        settings = grid(spec["deltas"], ns, spec["ps"])
        if args.settings is not None:
            settings = [s for s in settings if s in args.settings]
            if not settings:
                raise SystemExit(f"--settings: none of {[s.label for s in args.settings]} is in this run's grid")
        reps = args.reps or spec["reps"]
        print(f"{model}: {len(settings)} settings x {reps} replicates"
              + (f", {trees} trees" if model == "rf" else ""), flush=True)
        start, cpu = time.perf_counter(), time.process_time()
        # OLS: tiny least-squares problems, single-threaded BLAS throughout (the runner's thread policy
        # does the same inside monte_carlo; here also for the truths and the auxiliary quantities)
        with _threads_for(model, args.n_jobs):
            frames.append(run_grid(settings, model, reps, trees=trees, n_jobs=args.n_jobs,
                                   scheduler=args.scheduler, store=args.store, resume=args.resume,
                                   log=(lambda text: print(text, flush=True)) if model == "rf" else None))
        timings[model] = time.perf_counter() - start
        print(f"{model}: {timings[model]:.1f} s ({time.process_time() - cpu:.1f} s CPU in this process)",
              flush=True)
    replicates = pd.concat(frames, ignore_index=True)
    if args.replicates is not None:
        replicates = merge_replicates(replicates, pd.read_csv(args.replicates))
    summary = summarise(replicates)
    pooled = pooled_errors(replicates)
    authors = load_authors()
    comparison = compare_authors(summary, authors)
    spreads = spread_ratio(comparison)

    out = lambda name: os.path.join(args.out, f"bladen2025_{name}{suffix}")  # noqa: E731
    # a forest-only run writes its tables beside the OLS run's, not over them
    tag = "rf_" if models == ["rf"] else ""
    summary.to_csv(out(tag + "summary") + ".csv", index=False)
    pooled.to_csv(out(tag + "pooled_error") + ".csv", index=False)
    if not comparison.empty:
        comparison.to_csv(out(tag + "authors") + ".csv", index=False)
    written = [out(tag + "summary") + ".csv", out(tag + "pooled_error") + ".csv"]
    if "rf" in models:  # every forest replicate (the runs take hours: keep the values, not only the means)
        forest_runs = replicates[replicates["model"] == "rf"]
        forest_runs.to_csv(out("rf_replicates") + ".csv", index=False, float_format="%.10g")
        written.append(out("rf_replicates") + ".csv")
    if "ols" in models:
        table, outside = headline(summary)
        table.to_csv(out("headline") + ".csv", index=False)
        outside.to_csv(out("outside") + ".csv", index=False)
        draw_figures([(plot_importance, summary, out("importance_vs_delta") + ".png"),
                      (plot_loco_vs_t, replicates, out("loco_vs_t") + ".png"),
                      (plot_absorption, summary, out("c_vs_delta") + ".png"),
                      (plot_pooled, pooled, out("pooled_error") + ".png")], args.n_jobs)
        written += [out(k) + e for k, e in (("headline", ".csv"), ("outside", ".csv"),
                                             ("importance_vs_delta", ".png"), ("c_vs_delta", ".png"),
                                             ("pooled_error", ".png"), ("loco_vs_t", ".png"))]
        _print_table(table, f"OLS against the paper's finite-sample adjusted closed forms (|z| <= {Z_LIMIT:g} "
                            f"Monte Carlo SE; approximate region: n = 20, p >= 9):")
        _print_table(outside, "Settings outside 3 SE (excess: 100 (mean / adjusted theory - 1)):")
        bias = pooled_bias(summary)
        bias.to_csv(out("pooled_bias") + ".csv", index=False)
        written.append(out("pooled_bias") + ".csv")
        _print_table(bias[bias["pooled_z"].abs() > Z_LIMIT],
                     f"Systematic excess over the deltas (|pooled z| > {Z_LIMIT:g}; pooled z = sum(z) / sqrt(k)):")
        c_part = summary[(summary["estimator"] == "c")]
        print(f"\nabsorbed coefficient c: max |z| against the closed form {c_part['z_raw'].abs().max():.3g} "
              f"({int((c_part['z_raw'].abs() <= Z_LIMIT).sum())} of {len(c_part)} settings within 3 SE)")
    if "rf" in models:
        if plot_forest(summary, comparison, out("rf_vs_theory") + ".png"):
            written.append(out("rf_vs_theory") + ".png")
        if not comparison.empty:
            rf = comparison[comparison["model"] == "rf"]
            _print_table(rf[["estimator", "n", "p", "delta", "reps", "mean", "mc_se", "authors_reps",
                             "authors_mean", "authors_mc_se", "ratio", "ratio_se", "z_means", "within_5pct"]],
                         "Forest: vimp against the authors' stored replicates (ratio = ours / theirs):")
            verdicts = rf[rf["n"] >= 632].groupby("estimator")["within_5pct"].value_counts().unstack(fill_value=0)
            _print_table(verdicts.reset_index(), "Forest at n >= 632: within 5% of the authors' means "
                                                 "(undecided: the Monte Carlo error allows no verdict):")
            allowed = rf[rf["n"] >= 632].groupby(["estimator", "authors_allow"])["within_5pct"].value_counts()
            _print_table(allowed.unstack(fill_value=0).reset_index(),
                         f"The same by authors_allow ({Z_LIMIT:g} of the authors' relative Monte Carlo SEs fit "
                         f"inside the {RF_TOLERANCE:.0%} band: their error allows a verdict):")
    _print_table(spreads, "Spread of the replicates against the authors' stored replicates:")
    if not comparison.empty:
        written.append(out(tag + "authors") + ".csv")
    print("\ntimings (s): " + ", ".join(f"{m} {t:.1f}" for m, t in timings.items()))
    print("written:\n  " + "\n  ".join(written))
    return summary


if __name__ == "__main__":
    main()
