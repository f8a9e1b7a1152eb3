"""Cross-fitting from per-fold moments (LinearFitter.fit_folds) and stacked permute-and-predict calls.

Correctness only: every fast path gives the numbers of the reference path (one fit per fold on a copy of
its training rows; one ``predict`` call per permutation) to rounding. No timings here
(``benchmarks/crossfit.py`` measures them).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold, ShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import vimp
import vimp._fitters as fitters_module
import vimp._linear_fitter as linear_module
from vimp import GCM, LOCO, PermutationImportance, RankDeficiencyWarning
from vimp._linear_fitter import LinearFitter

# Both paths solve the same well-conditioned normal equations (condition number of the Gram matrix
# below 1e6 by the Cholesky check), one from a sum of moment blocks, one from the fold's rows: they differ
# by rounding, a few hundred ulps at most on these designs.
RTOL = 1e-10


def scaled_error(actual, expected):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    return np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-300)


def problem(seed, n=400, p=5, weights=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3.0, size=p) + rng.normal(scale=4.0, size=p)
    beta = np.linspace(1.0, 0.0, p)
    y = X @ beta + 3.0 + rng.normal(size=n)
    w = rng.uniform(0.2, 2.0, size=n) if weights else None
    return X, y, w


def reference(monkeypatch, make, X, y, w):
    """The estimator's result with one fit per fold on its own rows (the path before fit_folds)."""
    with monkeypatch.context() as m:
        m.setattr(linear_module, "CROSSFIT_FROM_MOMENTS", False)
        est = make().fit(X, y, sample_weight=w)
        assert not any("_training_rows" in f.__dict__ for f in est.fitters_)
        return est.importance()


LEARNERS = {
    "ols": lambda: LinearRegression(),
    "ols-no-intercept": lambda: LinearRegression(fit_intercept=False),
    "ridge": lambda: Ridge(alpha=5.0),
    "ridge-no-intercept": lambda: Ridge(alpha=5.0, fit_intercept=False),
    "scaled-ridge": lambda: make_pipeline(StandardScaler(), Ridge(alpha=2.0)),
}
METHODS = {
    "loco": lambda learner: LOCO(learner, cv=5, random_state=3),
    "pap": lambda learner: PermutationImportance(learner, cv=5, n_permutations=3, random_state=3),
    # The nuisance check compares learners with baselines (a no-intercept model on offset data is
    # flagged, rightly); it is not what these tests compare.
    "gcm": lambda learner: GCM(learner, cv=5, random_state=3, nuisance_check=False),
}


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("learner", sorted(LEARNERS))
@pytest.mark.parametrize("method", sorted(METHODS))
def test_estimators_equal_the_per_fold_path(monkeypatch, method, learner, weights):
    X, y, w = problem(11, weights=weights)

    def make():
        return METHODS[method](LEARNERS[learner]())

    expected = reference(monkeypatch, make, X, y, w)
    est = make().fit(X, y, sample_weight=w)
    assert all("_training_rows" in f.__dict__ for f in est.fitters_)  # the moment path served every fold
    result = est.importance()
    for field in ("importance", "std_error", "ci_low", "ci_high"):
        assert scaled_error(getattr(result, field), getattr(expected, field)) <= RTOL, field
    assert np.allclose(result.pvalue, expected.pvalue, rtol=1e-8, atol=1e-14)
    if method != "gcm":
        assert scaled_error(result.per_observation, expected.per_observation) <= RTOL


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("learner", sorted(LEARNERS))
def test_fold_fitters_equal_a_fit_on_the_training_rows(learner, weights):
    X, y, w = problem(5, weights=weights)
    if weights:
        w[::7] = 0.0  # rows without weight: left out of the constant-column scan, as in fit
    template = linear_module.linear_fitter_for(LEARNERS[learner]())
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    fitted = template.fit_folds(X, y, w, folds)
    for fitter, (train, _) in zip(fitted, folds):
        ref = linear_module.linear_fitter_for(LEARNERS[learner]()).fit(
            X[train], y[train], None if w is None else w[train])
        assert fitter.factorisation_ == ref.factorisation_ == "cholesky"
        for name in ("coef_", "beta_", "G_", "center_", "scale_"):
            assert scaled_error(getattr(fitter, name), getattr(ref, name)) <= RTOL, name
        assert abs(fitter.intercept_ - ref.intercept_) <= RTOL * max(1.0, abs(ref.intercept_))
        # No copy of the training rows is kept: they are taken from the full data when asked for.
        assert "_training_rows" in fitter.__dict__ and "_X_train_" not in fitter.__dict__
        np.testing.assert_array_equal(fitter.X_train_, X[train])
        np.testing.assert_array_equal(fitter.y_train_, y[train])
        if w is not None:
            np.testing.assert_array_equal(fitter.sample_weight_, w[train])
        # Every refit still answers as the reference does.
        cols = [1, 3]
        assert scaled_error(fitter.refit_without(cols).coef_, ref.refit_without(cols).coef_) <= RTOL
        perm = np.random.default_rng(1).permutation(len(train))
        assert scaled_error(fitter.refit_permuted(cols, perm).coef_,
                            ref.refit_permuted(cols, perm).coef_) <= RTOL


def test_dataframe_input_keeps_frame_training_rows(monkeypatch):
    X, y, _ = problem(2)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    expected = reference(monkeypatch, lambda: LOCO(LinearRegression(), cv=5, random_state=0), frame, y, None)
    est = LOCO(LinearRegression(), cv=5, random_state=0).fit(frame, y)
    assert all("_training_rows" in f.__dict__ for f in est.fitters_)
    assert isinstance(est.fitters_[0].X_train_, pd.DataFrame)
    assert est.fitters_[0].feature_names_ == list(frame.columns)
    assert scaled_error(est.importance().importance, expected.importance) <= RTOL


def test_near_collinear_folds_fall_back_to_the_per_fold_path(monkeypatch):
    # x2 = x0 + x1 + 1e-5 noise: the Gram matrix's condition number (about 1e11) is beyond the Cholesky
    # check (1e6), so each fold is fitted on its own rows (pivoted QR), exactly as before.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    X[:, 2] = X[:, 0] + X[:, 1] + 1e-5 * rng.normal(size=300)
    y = X[:, 0] + rng.normal(size=300)
    expected = reference(monkeypatch, lambda: LOCO(LinearRegression(), cv=5, random_state=0), X, y, None)
    est = LOCO(LinearRegression(), cv=5, random_state=0).fit(X, y)
    assert [f.factorisation_ for f in est.fitters_] == ["qr"] * 5
    assert not any("_training_rows" in f.__dict__ for f in est.fitters_)
    result = est.importance()
    np.testing.assert_array_equal(result.importance, expected.importance)  # the same code path


def test_collinear_folds_still_warn_and_use_minimum_norm():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    X = np.column_stack([X, X[:, 0] - X[:, 1]])  # exactly collinear
    y = X[:, 0] + rng.normal(size=200)
    with pytest.warns(RankDeficiencyWarning):
        est = LOCO(LinearRegression(), cv=5, random_state=0).fit(X, y)
    assert [f.factorisation_ for f in est.fitters_] == ["lstsq"] * 5


def test_constant_column_in_a_fold_falls_back():
    X, y, _ = problem(4, n=200)
    X[:, 1] = 2.0
    X[:40, 1] = 3.0  # constant on the training rows of the fold that holds out rows 0..39
    folds = list(KFold(5).split(X))
    fitted = LinearFitter().fit_folds(X, y, None, folds)
    assert "_training_rows" not in fitted[0].__dict__  # fitted on its rows: the column is left out
    assert not fitted[0].active_[1]
    assert all("_training_rows" in f.__dict__ for f in fitted[1:])
    for fitter, (train, _) in zip(fitted, folds):
        ref = LinearFitter().fit(X[train], y[train])
        assert scaled_error(fitter.coef_, ref.coef_) <= RTOL


def test_folds_that_do_not_partition_the_rows_use_the_per_fold_path():
    X, y, _ = problem(6, n=100)
    folds = list(ShuffleSplit(3, test_size=0.2, random_state=0).split(X))
    fitted = LinearFitter().fit_folds(X, y, None, folds)
    assert not any("_training_rows" in f.__dict__ for f in fitted)
    overlapping = [(np.arange(0, 80), np.arange(60, 100)), (np.arange(20, 100), np.arange(0, 20))]
    assert linear_module._partition_owner(overlapping, 100) is None
    assert linear_module._partition_owner(list(KFold(4).split(X)), 100) is not None


def test_large_offset_is_handled_by_the_common_shift():
    # Columns centred at 1e6 with unit spread: moments about zero would lose 12 digits to cancellation;
    # about the common shift they lose none.
    X, y, _ = problem(7, n=500)
    X = X + 1e6
    folds = list(KFold(5, shuffle=True, random_state=1).split(X))
    for fitter, (train, _) in zip(LinearFitter().fit_folds(X, y, None, folds), folds):
        ref = LinearFitter().fit(X[train], y[train])
        assert fitter.factorisation_ == ref.factorisation_
        assert scaled_error(fitter.coef_, ref.coef_) <= RTOL


# ----------------------------------------------------------------------------- stacked predictions
def forest_problem(seed, n=300, p=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X[:, 0] + X[:, 1] ** 2 + rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("budget", [64 * 2**20, 2 * 150 * 4 * 8])  # all copies at once; chunks of 2
@pytest.mark.parametrize("frame", [False, True])
def test_stacked_permuted_predictions_equal_one_call_per_permutation(monkeypatch, budget, frame):
    X, y = forest_problem(0)
    if frame:
        X = pd.DataFrame(X, columns=list("abcd"))
    Xtr, ytr, Xte, yte = X[:150], y[:150], X[150:], y[150:]
    pap = PermutationImportance(RandomForestRegressor(n_estimators=10, random_state=0), n_permutations=5,
                                random_state=0).fit(Xtr, ytr)
    calls = []
    original = fitters_module.SklearnFitter.predict

    def counting(self, data):
        calls.append(len(data))
        return original(self, data)

    monkeypatch.setattr(fitters_module.SklearnFitter, "predict", counting)
    monkeypatch.setattr(fitters_module, "PREDICT_BATCH_BYTES", 0)
    expected = pap.importance(Xte, yte)
    assert max(calls) == 150  # one permuted copy per call
    calls.clear()
    monkeypatch.setattr(fitters_module, "PREDICT_BATCH_BYTES", budget)
    result = pap.importance(Xte, yte)
    assert max(calls) == (750 if budget > 10**6 else 300)  # 5 copies at once, or chunks of 2
    for field in ("importance", "std_error", "pvalue", "mc_std"):
        np.testing.assert_allclose(getattr(result, field), getattr(expected, field), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.per_observation, expected.per_observation, rtol=1e-12, atol=1e-14)


def test_stacked_predictions_for_a_classifier(monkeypatch):
    X, y = forest_problem(1)
    labels = (y > np.median(y)).astype(int)
    pap = PermutationImportance(RandomForestClassifier(n_estimators=10, random_state=0), cv=3,
                                n_permutations=4, random_state=0).fit(X, labels)
    monkeypatch.setattr(fitters_module, "PREDICT_BATCH_BYTES", 0)
    expected = pap.importance()
    monkeypatch.setattr(fitters_module, "PREDICT_BATCH_BYTES", 64 * 2**20)
    result = pap.importance()
    np.testing.assert_allclose(result.importance, expected.importance, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.std_error, expected.std_error, rtol=1e-12, atol=1e-14)


def test_a_subclass_of_the_linear_fitter_is_fitted_fold_by_fold():
    class CountingFitter(LinearFitter):
        fits = 0

        def fit(self, X, y, sample_weight=None):
            CountingFitter.fits += 1
            return super().fit(X, y, sample_weight)

    X, y, _ = problem(8, n=100)
    est = LOCO(CountingFitter(), cv=5, random_state=0).fit(X, y)
    assert CountingFitter.fits == 5 and all(type(f) is CountingFitter for f in est.fitters_)


def test_sorted_test_rows_sorts_each_fold_and_keeps_its_rows():
    from vimp._split import sorted_test_rows

    rng = np.random.default_rng(48)
    folds = list(KFold(4, shuffle=True, random_state=1).split(np.zeros((103, 1))))
    got = sorted_test_rows(folds, 103)
    for rows, (_, test) in zip(got, folds):
        np.testing.assert_array_equal(rows, np.sort(test))
    # parts that do not partition the rows (one row twice, one never) are sorted one by one
    odd = [(np.arange(5, 10), np.array([4, 0, 2])), (np.arange(5), np.array([2, 9, 7]))]
    got = sorted_test_rows(odd, 10)
    assert [r.tolist() for r in got] == [[0, 2, 4], [2, 7, 9]]
    repeat = [(np.arange(3, 6), np.array([1, 0, 1])), (np.arange(3), np.array([5, 3, 4]))]  # 6 rows, not all
    assert [r.tolist() for r in sorted_test_rows(repeat, 6)] == [[0, 1, 1], [3, 4, 5]]
    short = [(np.arange(3, 6), rng.permutation(3))]
    assert sorted_test_rows(short, 6)[0].tolist() == [0, 1, 2]


def test_checked_folds_carry_the_partition_that_fit_folds_would_compute():
    # check_folds records each row's fold for K-fold complements; fit_folds and sorted_test_rows read it
    # instead of checking the folds again, so it must equal what _partition_owner computes from scratch.
    from sklearn.model_selection import KFold, ShuffleSplit

    from vimp._split import check_folds, sorted_test_rows

    X = np.zeros((103, 2))
    raw = list(KFold(5, shuffle=True, random_state=3).split(X))
    checked = check_folds(raw, 103)
    assert checked.owner is not None and checked.owner.dtype == np.int8
    np.testing.assert_array_equal(checked.owner, linear_module._partition_owner(raw, 103))
    assert linear_module._partition_owner(checked, 103) is checked.owner
    for rows, (_, test) in zip(sorted_test_rows(checked, 103), raw):
        np.testing.assert_array_equal(rows, np.sort(test))
    # a partition of the test rows whose training parts are not complements: no owner
    shorter = [(train[1:], test) for train, test in raw]
    assert check_folds(shorter, 103).owner is None
    assert linear_module._partition_owner(check_folds(shorter, 103), 103) is None
    # not a partition at all: refused, as before
    with pytest.raises(ValueError, match="partition"):
        check_folds(list(ShuffleSplit(3, test_size=0.2, random_state=0).split(X)), 103)
