"""Checks of the Zheng & Raskutti benchmark script's own pieces (benchmarks/zheng_raskutti2025.py)."""

import os
import sys

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import zheng_raskutti2025 as zr  # noqa: E402


def test_dropout_noiseless_linear_known_answer():
    # y = X beta exactly: OLS recovers beta, so setting x_j to the training mean m_j changes the
    # prediction by beta_j (x_ij - m_j) and d_ij = beta_j^2 (x_ij - m_j)^2 (up to rounding).
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3)) + [1.0, -2.0, 0.5]
    beta = np.array([2.0, -0.5, 0.0])
    y = X @ beta + 1.0
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    result = zr.dropout_importance(LinearRegression(), X, y, cv=folds)
    expected = np.empty((200, 3))
    for train, test in folds:
        expected[test] = beta**2 * (X[test] - X[train].mean(axis=0)) ** 2
    np.testing.assert_allclose(result.differences, expected, atol=1e-9)
    np.testing.assert_allclose(result.importance.to_numpy(), expected.mean(axis=0), atol=1e-9)
    assert result.pvalue.iloc[0] < 1e-10


def test_dropout_unused_feature_has_pvalue_one():
    # a model that never reads column 2: d = 0 exactly on every row, and the stated rule gives p = 1
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 3))
    y = X[:, 0] + rng.normal(size=120)
    model = make_pipeline(ColumnTransformer([("keep", "passthrough", [0, 1])]), LinearRegression())
    result = zr.dropout_importance(model, X, y, cv=3, random_state=0)
    assert np.all(result.differences[:, 2] == 0)
    assert result.pvalue.iloc[2] == 1.0 and result.importance.iloc[2] == 0.0
    assert result.pvalue.iloc[0] < 1e-6


def test_dropout_pvalue_is_the_one_sided_paired_z_test():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, 2))
    y = 0.3 * X[:, 0] + rng.normal(size=300)
    result = zr.dropout_importance(LinearRegression(), X, y, cv=3, random_state=5)
    d = result.differences
    z = d.mean(axis=0) / (d.std(axis=0, ddof=1) / np.sqrt(300))
    np.testing.assert_allclose(result.pvalue.to_numpy(), stats.norm.sf(z), rtol=1e-12)
    again = zr.dropout_importance(LinearRegression(), X, y, cv=3, random_state=5)
    np.testing.assert_array_equal(again.differences, d)  # seeded folds: reproducible


@pytest.mark.parametrize("cv", [1, 2.5, True, [(np.arange(5), np.arange(5, 10))]])
def test_dropout_rejects_bad_cv(cv):
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="cv"):
        zr.dropout_importance(LinearRegression(), X, X[:, 0], cv=cv)


def test_single_index_regressor_recovers_direction():
    # Gaussian features: the OLS start is proportional to b (Brillinger, 1983); the estimate's angle
    # error is O(sigma / sqrt(n)) ~ a few degrees at n = 2000, so cos > 0.995 (about 5.7 degrees) holds
    # with a wide margin.
    rng = np.random.default_rng(7)
    X = rng.normal(size=(2000, 4)) * [1.0, 2.0, 0.5, 1.0]
    b = np.array([0.5, 1.0, 1.0, 0.0])
    y = np.tanh(X @ b) + 0.2 * rng.normal(size=2000)
    model = clone(zr.SingleIndexRegressor()).fit(X, y)
    cosine = abs(model.coef_ @ b) / np.linalg.norm(b)
    assert cosine > 0.995
    truth = np.tanh(X @ b)
    assert 1 - np.mean((model.predict(X) - truth) ** 2) / np.var(truth) > 0.97
    with pytest.raises(ValueError, match="n_iter"):
        zr.SingleIndexRegressor(n_iter=-1).fit(X, y)


def test_models_null_features_do_not_enter_y():
    rng = np.random.default_rng(0)
    for name in zr.MODELS:
        dgp = zr.make_model(name)
        X, _ = dgp.sample(50, rng)
        moved = X.copy()
        moved[:, 2:] = rng.normal(size=(50, 2))
        np.testing.assert_array_equal(dgp.regression_function(X), dgp.regression_function(moved))


def test_cli_defaults_and_bad_options():
    args = zr.parse_args([])
    assert args.full is False and args.part == "all" and args.n_jobs == 1
    assert zr.parse_args(["--full", "--part", "efficiency"]).full is True
    assert zr.parse_args(["--reuse-raw", "a.csv", "b.csv"]).reuse_raw == ["a.csv", "b.csv"]
    for bad in (["--part", "power"], ["--quick", "--full"], ["--n-jobs", "0"], ["--datasets", "1"],
                ["--seed", "-3"], ["--bogus"], ["--resume", "--reuse-raw", "a.csv"]):
        with pytest.raises(SystemExit):
            zr.parse_args(bad)


def _fake_dataset(model_name, index, settings, entropy):
    """Rows of one task as one_dataset returns them (numbers from the task's seed), without fitting."""
    rng = np.random.default_rng([entropy, zr.MODELS.index(model_name), index])
    return [dict(model=model_name, dataset=index, learner=lr, method=m, feature=f, importance=rng.normal(),
                 pvalue=rng.uniform(), test="fake", seconds=0.0, warnings="")
            for lr in zr.LEARNERS for m in zr.METHODS for f in zr.FEATURES]


def test_resume_runs_only_the_missing_tasks_and_gives_the_one_go_result(tmp_path, monkeypatch):
    monkeypatch.setattr(zr, "one_dataset", _fake_dataset)
    settings = zr.replace(zr.QUICK, datasets=3)
    whole = zr.run_pvalues(settings, 5, 1)
    partial = str(tmp_path / "raw.partial.csv")
    zr.run_pvalues(zr.replace(settings, datasets=2), 5, 1, partial=partial)  # an interrupted study
    # a task cut off halfway: its rows are dropped on resume and it runs again
    import pandas as pd

    rows = pd.read_csv(partial)
    cut = rows[(rows["model"] == zr.MODELS[1]) & (rows["dataset"] == 1)].iloc[:7]
    rows = pd.concat([rows[~((rows["model"] == zr.MODELS[1]) & (rows["dataset"] == 1))], cut])
    rows.to_csv(partial, index=False)
    ran = []

    def counting(model_name, index, settings, entropy):
        ran.append((model_name, index))
        return _fake_dataset(model_name, index, settings, entropy)

    monkeypatch.setattr(zr, "one_dataset", counting)
    resumed = zr.run_pvalues(settings, 5, 1, partial=partial, resume=True)
    assert sorted(ran) == sorted([(zr.MODELS[1], 1)] + [(m, 2) for m in zr.MODELS])
    key = ["model", "dataset", "learner", "method", "feature"]
    a = whole.sort_values(key).reset_index(drop=True)
    b = resumed.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns="vimp_source"), b.drop(columns="vimp_source"),
                                  check_dtype=False)
    # the partial file now holds the whole study; read_raw merges files, each task once
    merged, note = zr.read_raw([partial, partial])
    assert len(merged) == len(whole) and note.startswith(f"{3 * len(zr.MODELS)} complete")
    assert (merged["vimp_source"] == zr.vimp_source_hash()).all()


def test_within_5pct_classes():
    # yes: within 5% of the theory; no: the 95% interval wholly outside the 5% band; else undecided
    assert zr.within_5pct(1.0, 0.9, 1.2, 1.04) == "yes"
    assert zr.within_5pct(1.0, 1.06, 1.2, 1.1) == "no"
    assert zr.within_5pct(1.0, 0.5, 0.94, 0.8) == "no"
    assert zr.within_5pct(1.0, 1.03, 1.2, 1.1) == "undecided"
    assert zr.within_5pct(-2.0, -2.3, -2.05, -2.2) == "undecided"  # the band is 5% of |theory|
    assert zr.within_5pct(np.nan, 0.0, 1.0, 0.5) == "undecided"
    assert zr.within_5pct(1.0, np.nan, np.nan, 1.2) == "undecided"


def test_efficiency_design_gives_weak_signals_rows_and_noisy_points_replicates():
    # quick: the settings as they are. full: n s >= MIN_SIGNAL_ROWS (s = beta_1^2 0.6) and the replicates
    # that bring each squared mean to MEAN_ERROR, (2 CV / MEAN_ERROR)^2, where CV is one replicate's in theory
    assert zr.efficiency_design(zr.QUICK, "testing", beta_1=0.1) == (zr.QUICK.n, zr.QUICK.efficiency_reps)
    n, reps = zr.efficiency_design(zr.FULL, "native", beta_1=1.0)
    assert (n, reps) == (zr.FULL.n, zr.FULL.efficiency_reps)
    n, reps = zr.efficiency_design(zr.FULL, "matched", beta_1=0.25)
    assert n == int(np.ceil(100 / (0.0625 * 0.6)))  # 2667
    n, reps = zr.efficiency_design(zr.FULL, "testing", beta_1=0.25)
    # LOCO's split test at n = 2667: mean 0.0375, n Var = 2 (2 + Var((delta + eps)^2)) with
    # Var((delta + eps)^2) = E delta^4 + 6 E delta^2 + 3 - (E delta^2 + 1)^2, delta ~ N(0, 0.0375)
    m2 = 0.0375
    n_var = 2 * (2 + 3 * m2**2 + 6 * m2 + 3 - (m2 + 1) ** 2)
    cv = np.sqrt(n_var / n) / m2
    assert reps == int(np.ceil((2 * cv / zr.MEAN_ERROR) ** 2))
    assert zr.efficiency_design(zr.FULL, "testing", beta_1=0.01)[1] == zr.MAX_REPS
