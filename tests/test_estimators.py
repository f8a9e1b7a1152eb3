"""PaP and LOCO as a user meets them: the API contract, invariances and the result type."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor
from statsmodels.stats.multitest import multipletests

import vimp
from vimp import LOCO, ImportanceResult, PermutationImportance, SklearnFitter
from _designs import equicorrelated_cov, linear_gaussian

METHODS = [PermutationImportance, LOCO]


def make_data(seed=0, n=300, p=4):
    rng = np.random.default_rng(seed)
    beta = np.array([1.5, 0.5, 0.0, -1.0])[:p]
    return linear_gaussian(rng, n, beta, equicorrelated_cov(p, 0.3))


def frame_of(X):
    return pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])


# --------------------------------------------------------------------------- contract
@pytest.mark.parametrize("cls", METHODS)
def test_init_only_stores_and_fit_returns_self(cls):
    X, y = make_data()
    est = cls(LinearRegression(), random_state=0)
    assert not any(name.endswith("_") for name in vars(est))
    assert est.fit(X[:200], y[:200]) is est
    assert isinstance(est.importance(X[200:], y[200:]), ImportanceResult)


@pytest.mark.parametrize("cls", METHODS)
def test_importance_before_fit_raises(cls):
    X, y = make_data()
    with pytest.raises(NotFittedError):
        cls(LinearRegression()).importance(X, y)


@pytest.mark.parametrize("cls", METHODS)
def test_users_estimator_is_not_changed(cls):
    X, y = make_data()
    model = RandomForestRegressor(n_estimators=5, random_state=0)
    before = model.get_params()
    cls(model, random_state=0).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    assert model.get_params() == before
    with pytest.raises(NotFittedError):
        model.predict(X)


@pytest.mark.parametrize("cls", METHODS)
def test_get_params_roundtrip_and_clone(cls):
    est = cls(LinearRegression(), random_state=3, n_jobs=2)
    clone(est)
    assert est.get_params()["random_state"] == 3


@pytest.mark.parametrize("cls", METHODS)
def test_n_jobs_gives_identical_numbers(cls):
    X, y = make_data()
    model = DecisionTreeRegressor(max_depth=3, random_state=0)
    results = [
        cls(model, random_state=5, n_jobs=n_jobs).fit(X[:200], y[:200]).importance(X[200:], y[200:])
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(results[0].importance, results[1].importance)
    np.testing.assert_array_equal(results[0].pvalue, results[1].pvalue)
    np.testing.assert_array_equal(results[0].per_observation, results[1].per_observation)


@pytest.mark.parametrize("cls", METHODS)
def test_ndarray_and_dataframe_give_identical_numbers(cls):
    X, y = make_data()
    a = cls(LinearRegression(), random_state=5, cv=3).fit(X, y).importance()
    b = cls(LinearRegression(), random_state=5, cv=3).fit(frame_of(X), pd.Series(y)).importance()
    # The same rows, folds and permutations; the learner sees a C- or F-ordered copy of the same numbers,
    # so BLAS may round differently in the last bits (1e-14 relative seen with LinearRegression).
    np.testing.assert_array_equal(a.fold_ids, b.fold_ids)
    np.testing.assert_allclose(a.importance, b.importance, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a.std_error, b.std_error, rtol=1e-12, atol=1e-15)
    assert a.names == ("x0", "x1", "x2", "x3") and b.names == ("f0", "f1", "f2", "f3")


@pytest.mark.parametrize("cls", METHODS)
def test_same_seed_same_numbers_other_seed_other_split(cls):
    X, y = make_data()
    a = cls(LinearRegression(), cv=3, random_state=1).fit(X, y).importance()
    b = cls(LinearRegression(), cv=3, random_state=1).fit(X, y).importance()
    c = cls(LinearRegression(), cv=3, random_state=2).fit(X, y).importance()
    np.testing.assert_array_equal(a.importance, b.importance)
    assert not np.array_equal(a.fold_ids, c.fold_ids)


def test_random_state_generator_is_accepted_and_not_global():
    X, y = make_data()
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    PermutationImportance(LinearRegression(), random_state=np.random.default_rng(1)).fit(
        X[:200], y[:200]).importance(X[200:], y[200:])
    np.testing.assert_array_equal(np.random.get_state()[1], state)


# --------------------------------------------------------------------------- cross-fitting
@pytest.mark.parametrize("cls", METHODS)
def test_cross_fitting_uses_each_row_once(cls):
    X, y = make_data(n=301)
    est = cls(LinearRegression(), cv=KFold(4, shuffle=True, random_state=0)).fit(X, y)
    result = est.importance()
    assert result.per_observation.shape == (301, 4)
    assert sorted(np.unique(result.fold_ids)) == [0, 1, 2, 3]
    for f, (train, test) in enumerate(est.folds_):
        assert np.all(result.fold_ids[test] == f)
        assert np.intersect1d(train, test).size == 0
    assert result.split == "cv=4"


@pytest.mark.parametrize("cls", METHODS)
def test_cv_importance_takes_no_data_and_holdout_needs_data(cls):
    X, y = make_data()
    with pytest.raises(ValueError, match="cv=K"):
        cls(LinearRegression(), cv=3).fit(X, y).importance(X, y)
    with pytest.raises(ValueError, match="held-out data"):
        cls(LinearRegression()).fit(X, y).importance()


def test_importance_is_the_paired_mean_and_se_from_per_observation_terms():
    X, y = make_data()
    result = LOCO(LinearRegression(), cv=3, random_state=0).fit(X, y).importance()
    d = result.per_observation
    np.testing.assert_allclose(result.importance, d.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(result.std_error, d.std(axis=0) / np.sqrt(len(d)), rtol=1e-12)


# --------------------------------------------------------------------------- PaP specifics
def test_prefit_model_needs_no_refit():
    X, y = make_data()
    model = LinearRegression().fit(X[:200], y[:200])
    coef = model.coef_.copy()
    prefit = PermutationImportance(model, prefit=True, random_state=4).importance(X[200:], y[200:])
    refit = PermutationImportance(LinearRegression(), random_state=4).fit(X[:200], y[:200]).importance(
        X[200:], y[200:])
    np.testing.assert_allclose(prefit.importance, refit.importance, rtol=1e-10)
    np.testing.assert_array_equal(model.coef_, coef)
    with pytest.raises(NotFittedError):
        PermutationImportance(LinearRegression(), prefit=True).importance(X, y)


def test_permutation_repeats_average_per_observation_and_report_mc_noise():
    X, y = make_data()
    result = PermutationImportance(LinearRegression(), n_permutations=7, random_state=0).fit(
        X[:200], y[:200]).importance(X[200:], y[200:])
    assert result.per_repeat.shape == (4, 7)
    # The importance is the mean over repeats of each repeat's importance (equal-size repeats).
    np.testing.assert_allclose(result.importance, result.per_repeat.mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(result.mc_std, result.per_repeat.std(axis=1, ddof=1), rtol=1e-12)
    # The standard error is not the spread over repeats.
    assert not np.allclose(result.std_error, result.mc_std)


def test_more_permutations_reduce_monte_carlo_noise_not_the_target():
    X, y = make_data(n=2000)
    one = PermutationImportance(LinearRegression(), n_permutations=1, random_state=0).fit(
        X[:1000], y[:1000]).importance(X[1000:], y[1000:])
    many = PermutationImportance(LinearRegression(), n_permutations=20, random_state=0).fit(
        X[:1000], y[:1000]).importance(X[1000:], y[1000:])
    assert np.all(np.abs(one.importance - many.importance) <= 4 * np.sqrt(one.std_error**2 + 1e-12))


# --------------------------------------------------------------------------- groups, constants
@pytest.mark.parametrize("cls", METHODS)
def test_groups_by_name_and_index(cls):
    X, y = make_data()
    Xf = frame_of(X)
    groups = {"first": ["f0", "f1"], "rest": [2, 3]}
    result = cls(LinearRegression(), groups=groups, random_state=0).fit(Xf[:200], y[:200]).importance(
        Xf[200:], y[200:])
    assert result.names == ("first", "rest")
    assert list(result.to_frame().index) == ["first", "rest"]


def test_group_of_one_column_equals_the_feature():
    X, y = make_data()
    a = LOCO(LinearRegression(), random_state=0).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    b = LOCO(LinearRegression(), groups={"g": [1]}, random_state=0).fit(X[:200], y[:200]).importance(
        X[200:], y[200:])
    np.testing.assert_allclose(b.importance[0], a.importance[1], rtol=1e-10)


@pytest.mark.parametrize("cls", METHODS)
def test_constant_feature_has_importance_exactly_zero(cls):
    X, y = make_data()
    X = np.column_stack([X, np.full(len(X), 3.0)])
    result = cls(LinearRegression(), random_state=0).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    assert result.importance[-1] == 0.0 and result.std_error[-1] == 0.0
    assert result.pvalue[-1] == 1.0
    assert np.all(np.isfinite(result.importance))


# --------------------------------------------------------------------------- scales, losses, weights
def test_scales_relate_to_each_other():
    X, y = make_data(n=1000)
    kw = dict(random_state=0)
    diff = LOCO(LinearRegression(), **kw).fit(X[:500], y[:500]).importance(X[500:], y[500:])
    sqrt = LOCO(LinearRegression(), scale="sqrt", **kw).fit(X[:500], y[:500]).importance(X[500:], y[500:])
    ratio = LOCO(LinearRegression(), scale="ratio", **kw).fit(X[:500], y[:500]).importance(X[500:], y[500:])
    np.testing.assert_allclose(sqrt.importance, np.sqrt(np.maximum(diff.importance, 0)), rtol=1e-12)
    full = diff.details["full_loss"].mean()
    np.testing.assert_allclose(ratio.importance, 1 + diff.importance / full, rtol=1e-10)
    np.testing.assert_array_equal(sqrt.raw_importance, diff.raw_importance)


def test_absolute_error_and_callable_loss():
    X, y = make_data()
    a = LOCO(LinearRegression(), loss="absolute_error", random_state=0).fit(X[:200], y[:200]).importance(
        X[200:], y[200:])
    b = LOCO(LinearRegression(), loss=lambda t, p: np.abs(t - p), random_state=0).fit(
        X[:200], y[:200]).importance(X[200:], y[200:])
    np.testing.assert_allclose(a.importance, b.importance, rtol=1e-12)


@pytest.mark.parametrize("loss", ["log_loss", "zero_one"])
@pytest.mark.parametrize("cls", METHODS)
def test_classification_losses(cls, loss):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=600) > 0).astype(int)
    result = cls(LogisticRegression(), loss=loss, random_state=0).fit(X[:300], y[:300]).importance(
        X[300:], y[300:])
    assert result.importance[0] > 4 * result.std_error[0]
    assert result.loss == loss


def test_sample_weights_enter_the_loss_average():
    X, y = make_data()
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=100)
    result = LOCO(LinearRegression(), random_state=0).fit(X[:200], y[:200]).importance(
        X[200:], y[200:], sample_weight=w)
    np.testing.assert_allclose(result.importance, np.average(result.per_observation, axis=0, weights=w),
                               rtol=1e-12)
    # Integer weights act like repeated rows.
    counts = np.random.default_rng(2).integers(1, 4, size=200)
    weighted = LOCO(LinearRegression(), random_state=0).fit(X[:200], y[:200], sample_weight=counts)
    repeated = LOCO(LinearRegression(), random_state=0).fit(np.repeat(X[:200], counts, axis=0),
                                                           np.repeat(y[:200], counts))
    np.testing.assert_allclose(weighted.importance(X[200:], y[200:]).importance,
                               repeated.importance(X[200:], y[200:]).importance, rtol=1e-8)


def test_pipelines_are_accepted():
    X, y = make_data()
    model = make_pipeline(StandardScaler(), LinearRegression())
    a = LOCO(model, random_state=0).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    b = LOCO(LinearRegression(), random_state=0).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    np.testing.assert_allclose(a.importance, b.importance, rtol=1e-8)


# --------------------------------------------------------------------------- inference pieces
@pytest.mark.parametrize("method", ["holm", "bonferroni", "fdr_bh", "fdr_by", "sidak", "holm-sidak"])
def test_p_adjust_matches_statsmodels(method):
    from vimp._inference import adjust_pvalues

    rng = np.random.default_rng(7)
    for _ in range(20):
        p = rng.uniform(size=rng.integers(1, 15)) ** 3
        np.testing.assert_allclose(adjust_pvalues(p, method), multipletests(p, method=method)[1],
                                   rtol=1e-12, atol=1e-15)


def test_result_pvalue_adjusted_is_holm_of_pvalue():
    X, y = make_data()
    result = LOCO(LinearRegression(), random_state=0).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    np.testing.assert_allclose(result.pvalue_adjusted, multipletests(result.pvalue, method="holm")[1])


def test_split_test_is_reproducible_and_stored():
    X, y = make_data()
    result = LOCO(LinearRegression(), test="split", random_state=0).fit(X[:200], y[:200]).importance(
        X[200:], y[200:])
    a, b = result.details["split_halves"]
    assert np.intersect1d(a, b).size == 0 and len(a) + len(b) == 100
    paired = LOCO(LinearRegression(), test="paired", random_state=0).fit(X[:200], y[:200]).importance(
        X[200:], y[200:])
    np.testing.assert_array_equal(paired.importance, result.importance)
    assert paired.test == "paired" and result.test == "split"


# --------------------------------------------------------------------------- the result
def test_result_table_intervals_summary_and_plot():
    X, y = make_data()
    result = PermutationImportance(LinearRegression(), random_state=0).fit(
        frame_of(X[:200]), y[:200]).importance(frame_of(X[200:]), y[200:])
    frame = result.to_frame()
    for column in ("importance", "std_error", "ci_low", "ci_high", "pvalue", "pvalue_adjusted"):
        assert column in frame.columns
    assert list(frame.index) == ["f0", "f1", "f2", "f3"]
    ci90 = result.conf_int(level=0.9)
    assert np.all(ci90["lower"] >= frame["ci_low"]) and np.all(ci90["upper"] <= frame["ci_high"])
    text = result.summary().as_text()
    assert "fitted model" in text and "f0" in text
    assert "<table" in result._repr_html_()
    ax = result.plot()
    assert len(ax.patches) == 4
    with pytest.raises(Exception):
        result.importance = None  # frozen


# --------------------------------------------------------------------------- compare
def test_compare_shares_split_and_full_model():
    X, y = make_data()
    table, results = vimp.compare(X, y, LinearRegression(), methods=("pap", "loco"), cv=3,
                                  random_state=0, return_results=True)
    assert set(table.index.get_level_values("method")) == {"pap", "loco"}
    np.testing.assert_array_equal(results["pap"].fold_ids, results["loco"].fold_ids)
    np.testing.assert_array_equal(results["pap"].details["full_loss"], results["loco"].details["full_loss"])
    alone = LOCO(LinearRegression(), cv=3, random_state=0).fit(X, y).importance()
    np.testing.assert_allclose(results["loco"].importance, alone.importance, rtol=1e-12)


def test_compare_holdout_and_errors():
    X, y = make_data()
    table = vimp.compare(X[:200], y[:200], LinearRegression(), X_test=X[200:], y_test=y[200:],
                         random_state=0)
    assert len(table) == 8
    with pytest.raises(ValueError, match="X_test"):
        vimp.compare(X, y, LinearRegression())
    with pytest.raises(ValueError, match="methods"):
        vimp.compare(X, y, LinearRegression(), methods=("shap",), cv=3)


# --------------------------------------------------------------------------- properties
@settings(max_examples=15, deadline=None)
@given(order=st.permutations(range(4)), seed=st.integers(0, 2**16))
def test_permuting_columns_permutes_loco_importances(order, seed):
    X, y = make_data(seed=seed, n=120)
    order = np.array(order)
    a = LOCO(LinearRegression(), random_state=0).fit(X[:60], y[:60]).importance(X[60:], y[60:])
    b = LOCO(LinearRegression(), random_state=0).fit(X[:60, order], y[:60]).importance(X[60:, order], y[60:])
    np.testing.assert_allclose(b.importance, a.importance[order], rtol=1e-8, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(c=st.floats(0.01, 100), seed=st.integers(0, 2**16))
def test_scaling_y_scales_squared_error_importance_by_c_squared(c, seed):
    X, y = make_data(seed=seed, n=120)
    a = PermutationImportance(LinearRegression(), random_state=0).fit(X[:60], y[:60]).importance(
        X[60:], y[60:])
    b = PermutationImportance(LinearRegression(), random_state=0).fit(X[:60], c * y[:60]).importance(
        X[60:], c * y[60:])
    np.testing.assert_allclose(b.importance, c**2 * a.importance, rtol=1e-7, atol=1e-9 * c**2)


def test_a_fitter_instance_plugs_in():
    X, y = make_data()
    a = LOCO(SklearnFitter(LinearRegression()), random_state=0).fit(X[:200], y[:200]).importance(
        X[200:], y[200:])
    b = LOCO(LinearRegression(), random_state=0).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    np.testing.assert_allclose(a.importance, b.importance, rtol=1e-8)


# --------------------------------------------------------------------------- scikit-learn's checks
# The estimators are not predictors (they have fit and importance, no predict/score), so the full
# check_estimator suite does not apply; these are the checks of the estimator contract that do.
SKLEARN_CHECKS = [
    "check_no_attributes_set_in_init", "check_get_params_invariance", "check_set_params",
    "check_dont_overwrite_parameters", "check_fit_check_is_fitted", "check_n_features_in",
    "check_estimators_overwrite_params", "check_fit2d_1sample", "check_fit2d_1feature",
    "check_estimators_nan_inf", "check_fit1d", "check_estimators_dtypes",
    "check_dataframe_column_names_consistency", "check_n_features_in_after_fitting",
    "check_estimator_repr", "check_estimator_cloneable", "check_mixin_order", "check_fit_score_takes_y",
    "check_estimators_unfitted", "check_requires_y_none", "check_complex_data", "check_estimators_pickle",
    "check_parameters_default_constructible",
]


@pytest.mark.parametrize("check", SKLEARN_CHECKS)
@pytest.mark.parametrize("cls", METHODS)
def test_sklearn_estimator_checks(cls, check):
    import warnings

    from sklearn.utils import estimator_checks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # sklearn's checks warn about themselves
        getattr(estimator_checks, check)(cls.__name__, cls(LinearRegression()))


def test_a_fitter_instance_is_copied_per_fold():
    X, y = make_data()
    loco = LOCO(SklearnFitter(LinearRegression()), cv=3, random_state=0).fit(X, y)
    assert len({id(f) for f in loco.fitters_}) == 3
    coefs = [f.estimator_.coef_ for f in loco.fitters_]
    assert not np.allclose(coefs[0], coefs[1])
    b = LOCO(LinearRegression(), cv=3, random_state=0).fit(X, y).importance()
    np.testing.assert_allclose(loco.importance().importance, b.importance, rtol=1e-8)


def test_loco_batch_path_for_linear_models_equals_refits_and_keeps_reduced_models():
    X, y = make_data()
    fast = LOCO(LinearRegression(), cv=3, random_state=0).fit(X, y)
    slow = LOCO(SklearnFitter(LinearRegression()), cv=3, random_state=0).fit(X, y)
    np.testing.assert_allclose(fast.importance().per_observation, slow.importance().per_observation,
                               rtol=1e-9, atol=1e-12)
    # reduced models are built on first use, and predict like sklearn refits without the column
    reduced = fast.reduced_fitters_[1][2]
    np.testing.assert_allclose(reduced.predict(X), slow.reduced_fitters_[1][2].predict(X), rtol=1e-9)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scale", ["difference", "ratio"])
def test_pap_batch_path_for_linear_models_equals_the_per_group_path(scale, weighted, shared):
    # LinearFitter answers all groups from one prediction (and, unweighted, through the compiled
    # kernel); SklearnFitter goes group by group with full predictions. Same permutations, same numbers.
    X, y = make_data()
    X = np.column_stack([X, np.full(len(y), 2.0)])  # a constant column: its group is skipped
    groups = {"k": [X.shape[1] - 1], "a": [0], "bc": [1, 2], "c": [3]}  # the constant group first
    w = np.random.default_rng(3).uniform(0.5, 2.0, size=len(y)) if weighted else None
    kwargs = dict(n_permutations=4, groups=groups, scale=scale, cv=3, random_state=2,
                  shared_permutations=shared)
    fast = PermutationImportance(LinearRegression(), **kwargs).fit(X, y, sample_weight=w).importance()
    slow = PermutationImportance(SklearnFitter(LinearRegression()), **kwargs).fit(
        X, y, sample_weight=w).importance()
    for field in ("importance", "std_error", "raw_importance", "raw_std_error", "mc_std", "pvalue"):
        np.testing.assert_allclose(getattr(fast, field), getattr(slow, field), rtol=1e-9, atol=1e-12,
                                   err_msg=field)
    np.testing.assert_allclose(fast.per_repeat, slow.per_repeat, rtol=1e-9, atol=1e-12)
    assert fast.importance[0] == (0.0 if scale == "difference" else 1.0)
    assert np.isfinite(fast.mc_std[1:]).all()  # the other groups' repeats are kept


@pytest.mark.parametrize("permutation", ["derangement", "uniform"])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("scale", ["difference", "ratio"])
def test_pap_held_out_all_groups_path_equals_the_per_group_path(scale, shared, permutation):
    # Held out (one evaluation set in order): the exact linear fitter draws every group's permutations in
    # one kernel call and computes every standard error in another; SklearnFitter goes group by group.
    X, y = make_data()
    X = np.column_stack([X, np.full(len(y), 2.0)])  # a constant column: its group is skipped
    h = len(y) // 2
    kwargs = dict(n_permutations=5, scale=scale, random_state=9, shared_permutations=shared,
                  permutation=permutation)
    fast = PermutationImportance(LinearRegression(), **kwargs).fit(X[:h], y[:h]).importance(X[h:], y[h:])
    slow = PermutationImportance(SklearnFitter(LinearRegression()), **kwargs).fit(X[:h], y[:h]).importance(
        X[h:], y[h:])
    for field in ("importance", "std_error", "raw_importance", "raw_std_error", "mc_std", "pvalue",
                  "per_repeat", "per_observation"):
        np.testing.assert_allclose(getattr(fast, field), getattr(slow, field), rtol=1e-9, atol=1e-12,
                                   err_msg=field)


class _RecordingFitter(SklearnFitter):
    """Records the permutations each group is given (a class-level list survives the per-fold copies)."""

    seen = []

    def permutation_terms(self, X, y, columns, perms, loss, sample_weight=None, full=None):
        type(self).seen.append((tuple(columns), len(y), np.array(perms)))
        return super().permutation_terms(X, y, columns, perms, loss, sample_weight, full)


@pytest.mark.parametrize("shared", [False, True])
def test_shared_permutations_are_the_same_for_every_group_and_fold_specific(shared):
    X, y = make_data(n=301)  # folds of 151 and 150 rows: the fold is told by its size
    _RecordingFitter.seen = []
    PermutationImportance(_RecordingFitter(LinearRegression()), n_permutations=3, cv=2, random_state=4,
                          shared_permutations=shared, n_jobs=1).fit(X, y).importance()
    seen = _RecordingFitter.seen
    assert len(seen) == 2 * X.shape[1]
    by_fold = {}
    for columns, n_rows, perms in seen:
        assert perms.shape == (3, n_rows)
        assert (np.sort(perms, axis=1) == np.arange(n_rows)).all()
        by_fold.setdefault(n_rows, []).append(perms)
    assert sorted(by_fold) == [150, 151] and all(len(v) == X.shape[1] for v in by_fold.values())
    for fold_perms in by_fold.values():
        same = [np.array_equal(fold_perms[0], other) for other in fold_perms[1:]]
        assert all(same) if shared else not any(same)
    # independent permutations are those of the default
    if not shared:
        _RecordingFitter.seen = []
        PermutationImportance(_RecordingFitter(LinearRegression()), n_permutations=3, cv=2,
                              random_state=4).fit(X, y).importance()
        for (_, _, a), (_, _, b) in zip(seen, _RecordingFitter.seen):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("weighted", [False, True])
def test_pap_standard_error_is_the_corrected_hajek_projection_by_brute_force(weighted):
    # The SE from the estimator (kernel sums) against its definition, computed here from the whole
    # (R, n) loss matrix with explicit loops: the influence of row k is its own centred term plus the
    # centred terms it donated to, minus the noise those averages carry, times the small-sample factor
    # of centring at the estimated mean (vimp._inference.permutation_mean_se).
    X, y = make_data(n=160)
    X_tr, y_tr, X_ev, y_ev = X[:80], y[:80], X[80:], y[80:]
    w = np.random.default_rng(5).uniform(0.5, 2.0, size=80) if weighted else None
    _RecordingFitter.seen = []
    R = 3
    result = PermutationImportance(_RecordingFitter(LinearRegression()), n_permutations=R,
                                   random_state=6).fit(X_tr, y_tr).importance(X_ev, y_ev, sample_weight=w)
    model = LinearRegression().fit(X_tr, y_tr)
    full = (y_ev - model.predict(X_ev)) ** 2
    weight = np.ones(80) if w is None else w
    for j, (columns, _, perms) in enumerate(_RecordingFitter.seen):
        assert columns == (j,)
        losses = np.empty((R, 80))
        for r in range(R):
            Xp = X_ev.copy()
            Xp[:, j] = X_ev[perms[r], j]
            losses[r] = (y_ev - model.predict(Xp)) ** 2
        offset = np.average(losses.mean(axis=0) - full, weights=w)  # the importance (difference scale)
        centred = losses - full - offset                              # (R, n) per-permutation terms
        influence = weight * centred.mean(axis=0)
        for r in range(R):
            for i in range(80):
                influence[perms[r, i]] += weight[i] * centred[r, i] / R   # row perms[r, i] donated to i
        noise = np.sum(weight**2 * (centred**2).mean(axis=0) / R)
        variance = np.sum(influence**2) - noise
        assert variance > 0
        size = weight.sum() ** 2 / np.sum(weight**2)    # the small-sample factor n / (n - 4 + 1/R)
        variance *= size / (size - 4.0 + 1.0 / R)
        se = np.sqrt(variance) / weight.sum()
        assert result.raw_importance[j] == pytest.approx(offset, rel=1e-10)
        assert result.raw_std_error[j] == pytest.approx(se, rel=1e-10)


@pytest.mark.parametrize("cls", METHODS)
def test_same_numbers_under_the_threading_backend(cls):
    from joblib import parallel_backend

    X, y = make_data()
    model = DecisionTreeRegressor(max_depth=3, random_state=0)
    a = cls(model, random_state=5, n_jobs=1).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    with parallel_backend("threading", n_jobs=2):
        b = cls(model, random_state=5, n_jobs=2).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    np.testing.assert_array_equal(a.importance, b.importance)
    np.testing.assert_array_equal(a.std_error, b.std_error)


def test_progress_bar_is_shown_only_when_asked(capsys):
    X, y = make_data()
    LOCO(DecisionTreeRegressor(max_depth=2, random_state=0), random_state=0).fit(
        X[:200], y[:200]).importance(X[200:], y[200:])
    assert capsys.readouterr().err == ""
    LOCO(DecisionTreeRegressor(max_depth=2, random_state=0), progress=True, random_state=0).fit(
        X[:200], y[:200]).importance(X[200:], y[200:])
    assert "loco" in capsys.readouterr().err
