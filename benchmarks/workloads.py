"""The workloads W1-W5 of issue 12, each a list of cells (one data set) with the methods timed on it.

Every cell's data are all rows ``(X, y)`` (W4: the number of replicates); methods that fit on a training half
and score on the test half get views of the two halves (:func:`held_out`), so PaP, LOCO and GCM of one cell see
the same rows. The designs:

* W1 - OLS, n = 10,000 (5,000 / 5,000), p = 50 equicorrelated Gaussian features (rho = 0.5), beta_j = 1 for the
  first half: PaP (10 permutations, independent and shared), LOCO, GCM (``cv=5``) against scikit-learn,
  hidimstat, fippy, vimpy, the refit and residual loops and one ``lstsq`` (``benchmarks/linear.py``'s design).
* W2 - a random forest (100 trees), n = 2,000 (1,000 / 1,000), p = 10, the same design: PaP and LOCO.
* W3 - GCM of all 50 features, n = 10,000, p = 50: vimp in-sample (``cv=None``) and cross-fitted (``cv=5``)
  against dowhy's test (in-sample) and the two loops.
* W4 - Monte Carlo, 1,000 replicates of n = 500, p = 10, PaP + LOCO + GCM: ``vimp.simulation.monte_carlo``
  against the hand-written scikit-learn loop and the floor (drawing the random numbers), all three taken from
  ``benchmarks/simulation.py``.
* W5 - scaling of vimp's held-out LOCO and PaP, cross-fitted LOCO and GCM (``cv=5``) on OLS against one
  ``lstsq`` of all rows: in n (p = 20, n to 10**6) and in p (n = 10,000, p to 1,000).

``--quick`` keeps the structure with small sizes (see :func:`sizes`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from benchmarks.peers import Method
from benchmarks.peers import dowhy_, fippy_, hidimstat_, sklearn_, vimp_, vimpy_


# ----------------------------------------------------------------------------- sizes
def sizes(mode: str) -> dict[str, Any]:
    """The sizes of every workload: the issue's for ``"full"``, small ones for ``"quick"``."""
    if mode == "full":
        return {"W1": (10_000, 50), "W2": (2_000, 10, 100), "W3": (10_000, 50), "W4": 1_000,
                "W5_n": (10_000, 100_000, 1_000_000), "W5_n_p": 20,
                "W5_p": (10, 50, 200, 1_000), "W5_p_n": 10_000}
    if mode == "quick":
        return {"W1": (1_000, 10), "W2": (400, 5, 10), "W3": (1_000, 10), "W4": 3,
                "W5_n": (10_000, 100_000), "W5_n_p": 20, "W5_p": (10, 100), "W5_p_n": 10_000}
    raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")


# ----------------------------------------------------------------------------- data and models
def equicorrelated(n, p, rho=0.5, seed=0):
    """All rows of ``benchmarks/linear.py``'s design: rho-equicorrelated N(0, 1) features, beta_j = 1 for
    j < p / 2, N(0, 1) noise (the same draws as ``linear.make_data``, stacked: train half first)."""
    rng = np.random.default_rng(seed)
    X = np.sqrt(1.0 - rho) * rng.normal(size=(n, p)) + np.sqrt(rho) * rng.normal(size=(n, 1))
    beta = (np.arange(p) < p // 2).astype(float)
    return X, X @ beta + rng.normal(size=n)


def ols():
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def forest(trees):
    from sklearn.ensemble import RandomForestRegressor

    return functools.partial(RandomForestRegressor, n_estimators=trees, random_state=0)


def held_out(function):
    """``function(X_train, y_train, X_test, y_test)`` called with views of the two halves of ``(X, y)``."""
    @functools.wraps(function)
    def call(X, y):
        h = len(y) // 2
        return function(X[:h], y[:h], X[h:], y[h:])
    return call


def _p(function, **kwargs):
    return functools.partial(function, **kwargs)


# ----------------------------------------------------------------------------- structure
@dataclass(frozen=True)
class Ratio:
    """A target read from the table: ``numerator / denominator`` compared with ``threshold`` by ``op``.

    ``measure`` is ``"time"`` (medians of the same thread setting), ``"peak"`` or ``"kept"`` (memory figures;
    a denominator of ``"data"`` means the cell's data size) or ``"threads"`` (the numerator's paired
    default / one-thread ratio; no denominator).
    """

    name: str
    numerator: str
    denominator: str
    op: str
    threshold: float
    measure: str = "time"


@dataclass(frozen=True)
class Cell:
    name: str
    make_data: Callable[[], tuple]
    methods: list[Method]
    ratios: list[Ratio] = field(default_factory=list)
    warmup: Callable[[tuple], tuple] | None = None

    def warmup_args(self, data):
        """Small arguments of the same kind for a warm-up call (imports, Numba's kernels, first allocations)."""
        if self.warmup is not None:
            return self.warmup(data)
        X, y = data
        rows = min(len(y), max(256, 4 * X.shape[1]))
        return X[:rows], y[:rows]


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    cells: list[Cell]


# labels used by the ratios
V_PAP, V_PAP_SHARED, V_LOCO = "vimp PaP (10 perms)", "vimp PaP (10 perms, shared)", "vimp LOCO"
V_LOCO_CV, V_GCM, V_GCM_IN = "vimp LOCO (cv=5)", "vimp GCM (cv=5)", "vimp GCM (in-sample)"
SK_PI, REFIT, HD_PFI, HD_LOCO = ("sklearn permutation_importance (10 repeats)", "refit loop LOCO",
                                 "hidimstat PFI (10 perms)", "hidimstat LOCO")
FP_PFI, FP_LOCO, VIMPY = "fippy PFI (10 repeats)", "fippy LOCO", "vimpy vim (R^2, per feature)"
LOOP_CV, LOOP_IN, DOWHY = "GCM loop (cv=5)", "GCM loop (in-sample)", "dowhy GCM test (in-sample)"
LSTSQ_TRAIN, LSTSQ_ALL = "numpy lstsq (training half)", "numpy lstsq (all rows)"
MC_VIMP, MC_LOOP, MC_FLOOR = "vimp monte_carlo", "sklearn loop", "floor (random numbers only)"


def _w1(n, p):
    data = functools.partial(equicorrelated, n, p)
    methods = [
        Method(V_PAP, "vimp", held_out(_p(vimp_.pap, model=ols))),
        Method(V_PAP_SHARED, "vimp", held_out(_p(vimp_.pap, model=ols, shared=True))),
        Method(SK_PI, "scikit-learn", held_out(_p(sklearn_.permutation_importance, model=ols))),
        Method(HD_PFI, "hidimstat", held_out(_p(hidimstat_.pfi, model=ols)), requires="hidimstat"),
        Method(FP_PFI, "fippy", held_out(_p(fippy_.pfi, model=ols)), requires="fippy"),
        Method(V_LOCO, "vimp", held_out(_p(vimp_.loco, model=ols))),
        Method(REFIT, "loop", held_out(_p(sklearn_.refit_loop_loco, model=ols))),
        Method(HD_LOCO, "hidimstat", held_out(_p(hidimstat_.loco, model=ols)), requires="hidimstat"),
        Method(FP_LOCO, "fippy", held_out(_p(fippy_.loco, model=ols)), requires="fippy"),
        Method(VIMPY, "vimpy", held_out(_p(vimpy_.loco, model=ols)), requires="vimpy"),
        Method(V_GCM, "vimp", _p(vimp_.gcm, model=ols, cv=5)),
        Method(LOOP_CV, "loop", _p(sklearn_.gcm_loop_crossfit, model=ols)),
        Method(LSTSQ_TRAIN, "numpy", held_out(sklearn_.lstsq_train)),
        Method(LSTSQ_ALL, "numpy", sklearn_.lstsq_all),
    ]
    ratios = [
        Ratio("LOCO: refit loop / vimp", REFIT, V_LOCO, ">=", 50),
        Ratio("LOCO: hidimstat / vimp", HD_LOCO, V_LOCO, ">=", 50),
        Ratio("LOCO: vimp / lstsq (training half)", V_LOCO, LSTSQ_TRAIN, "<=", 1.5),
        Ratio("PaP: sklearn / vimp (independent permutations)", SK_PI, V_PAP, ">=", 10),
        Ratio("PaP: sklearn / vimp (shared permutations)", SK_PI, V_PAP_SHARED, ">=", 20),
        Ratio("GCM: loop (cv=5) / vimp (cv=5)", LOOP_CV, V_GCM, ">=", 100),
    ]
    return Workload("W1", f"OLS, n = {n:,} ({n // 2:,} / {n - n // 2:,}), p = {p}: PaP, LOCO, GCM",
                    [Cell(f"n={n} p={p}", data, methods, ratios)])


def _w2(n, p, trees):
    data = functools.partial(equicorrelated, n, p)
    rf = forest(trees)
    methods = [
        Method(V_PAP, "vimp", held_out(_p(vimp_.pap, model=rf))),
        Method(SK_PI, "scikit-learn", held_out(_p(sklearn_.permutation_importance, model=rf))),
        Method(HD_PFI, "hidimstat", held_out(_p(hidimstat_.pfi, model=rf)), requires="hidimstat"),
        Method(FP_PFI, "fippy", held_out(_p(fippy_.pfi, model=rf)), requires="fippy"),
        Method(V_LOCO, "vimp", held_out(_p(vimp_.loco, model=rf))),
        Method(REFIT, "loop", held_out(_p(sklearn_.refit_loop_loco, model=rf))),
        Method(HD_LOCO, "hidimstat", held_out(_p(hidimstat_.loco, model=rf)), requires="hidimstat"),
        Method(FP_LOCO, "fippy", held_out(_p(fippy_.loco, model=rf)), requires="fippy"),
    ]
    ratios = [
        Ratio("PaP: vimp / hidimstat PFI (time)", V_PAP, HD_PFI, "<=", 1.1),
        Ratio("PaP: vimp / hidimstat PFI (peak memory)", V_PAP, HD_PFI, "<=", 1.0, "peak"),
        Ratio("LOCO: vimp / refit loop", V_LOCO, REFIT, "<=", 1.05),
    ]
    return Workload("W2", f"random forest ({trees} trees), n = {n:,} ({n // 2:,} / {n - n // 2:,}), p = {p}: "
                          "PaP, LOCO", [Cell(f"n={n} p={p} trees={trees}", data, methods, ratios)])


def _w3(n, p):
    data = functools.partial(equicorrelated, n, p)
    methods = [
        Method(V_GCM_IN, "vimp", _p(vimp_.gcm, model=ols, cv=None)),
        Method(V_GCM, "vimp", _p(vimp_.gcm, model=ols, cv=5)),
        Method(DOWHY, "dowhy", dowhy_.gcm, requires="dowhy"),
        Method(LOOP_IN, "loop", _p(sklearn_.gcm_loop_insample, model=ols)),
        Method(LOOP_CV, "loop", _p(sklearn_.gcm_loop_crossfit, model=ols)),
        Method(LSTSQ_ALL, "numpy", sklearn_.lstsq_all),
    ]
    ratios = [
        Ratio("GCM in-sample: loop / vimp", LOOP_IN, V_GCM_IN, ">=", 100),
        Ratio("GCM in-sample: dowhy / vimp", DOWHY, V_GCM_IN, ">=", 100),
        Ratio("GCM cv=5: loop / vimp", LOOP_CV, V_GCM, ">=", 100),
    ]
    return Workload("W3", f"GCM of all {p} features, OLS, n = {n:,}: vimp against dowhy and the loops",
                    [Cell(f"n={n} p={p}", data, methods, ratios)])


def _w4(reps):
    methods = [
        Method(MC_VIMP, "vimp", vimp_.monte_carlo),
        Method(MC_LOOP, "loop", sklearn_.monte_carlo_loop),
        Method(MC_FLOOR, "numpy", sklearn_.monte_carlo_floor),
    ]
    ratios = [Ratio("Monte Carlo: sklearn loop / vimp (issue 13: >= 50)", MC_LOOP, MC_VIMP, ">=", 50),
              Ratio("Monte Carlo: vimp / floor (issue 13: <= 1.5)", MC_VIMP, MC_FLOOR, "<=", 1.5)]
    return Workload("W4", f"Monte Carlo, {reps:,} replicates of n = 500, p = 10, PaP + LOCO + GCM (OLS)",
                    [Cell(f"reps={reps}", lambda: (reps,), methods, ratios, warmup=lambda data: (2,))])


def _w5_cell(n, p, targets):
    data = functools.partial(equicorrelated, n, p)
    methods = [
        Method(V_LOCO, "vimp", held_out(_p(vimp_.loco, model=ols))),
        Method(V_PAP, "vimp", held_out(_p(vimp_.pap, model=ols))),
        Method(V_LOCO_CV, "vimp", _p(vimp_.loco_cv, model=ols)),
        Method(V_GCM, "vimp", _p(vimp_.gcm, model=ols, cv=5)),
        Method(LSTSQ_ALL, "numpy", sklearn_.lstsq_all),
    ]
    ratios = [Ratio("held-out LOCO / lstsq (all rows)", V_LOCO, LSTSQ_ALL, "<=", 1.5)]
    if targets:  # the targets at n = 10**6, p = 20
        ratios += [Ratio("LOCO cv=5 / lstsq (all rows)", V_LOCO_CV, LSTSQ_ALL, "<=", 2),
                   Ratio("GCM cv=5 / lstsq (all rows)", V_GCM, LSTSQ_ALL, "<=", 2),
                   Ratio("LOCO cv=5: peak memory / data", V_LOCO_CV, "data", "<=", 3, "peak"),
                   Ratio("GCM cv=5: peak memory / data", V_GCM, "data", "<=", 3, "peak"),
                   Ratio("LOCO cv=5: kept memory / data", V_LOCO_CV, "data", "<=", 1.5, "kept"),
                   Ratio("GCM cv=5: kept memory / data", V_GCM, "data", "<=", 1.5, "kept")]
        ratios += [Ratio(f"{label}: default / one thread (at least as fast)", label, "", "<=", 1.0, "threads")
                   for label in (V_LOCO, V_PAP, V_LOCO_CV, V_GCM)]
    return Cell(f"n={n} p={p}", data, methods, ratios)


def _w5(n_grid, p_fixed, p_grid, n_fixed):
    cells = [_w5_cell(n, p_fixed, n == max(n_grid)) for n in n_grid]  # the targets at the largest n
    cells += [_w5_cell(n_fixed, p, False) for p in p_grid if (n_fixed, p) not in {(n, p_fixed) for n in n_grid}]
    return Workload("W5", f"scaling of vimp on OLS against one lstsq: n to {max(n_grid):,} at p = {p_fixed}, "
                          f"p to {max(p_grid):,} at n = {n_fixed:,}", cells)


def workloads(mode: str) -> list[Workload]:
    """W1-W5 at the sizes of ``mode`` (``"quick"`` or ``"full"``)."""
    s = sizes(mode)
    return [_w1(*s["W1"]), _w2(*s["W2"]), _w3(*s["W3"]), _w4(s["W4"]),
            _w5(s["W5_n"], s["W5_n_p"], s["W5_p"], s["W5_p_n"])]
