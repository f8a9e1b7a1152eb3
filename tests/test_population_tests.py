"""The corrected cross-fitted t test (``test="nadeau-bengio"``), the ``test="auto"`` rule, and the labels
that say which question each p-value answers."""

import numpy as np
import pytest
from scipy import stats
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge, SGDRegressor
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.kernel_approximation import RBFSampler

from vimp import LOCO, GCM, PermutationImportance
from vimp._inference import crossfit_t, fold_means
from vimp._test_choice import QUESTIONS, resolve_test, smooth_deterministic


def data(seed, n=300, p=4, rho=0.0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, p))
    if rho:
        z = np.sqrt(rho) * rng.standard_normal((n, 1)) + np.sqrt(1 - rho) * z
    y = z[:, 0] + 0.5 * z[:, 1] + rng.standard_normal(n)
    return z, y


# ------------------------------------------------------------------------- the statistic by hand
def test_fold_means_and_crossfit_t_by_hand():
    values = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 8.0], [7.0, 0.0]])
    folds = np.array([0, 0, 1, 1])
    np.testing.assert_allclose(fold_means(values, folds, 2), [[2.0, 2.0], [6.0, 4.0]])
    w = np.array([1.0, 3.0, 1.0, 1.0])
    np.testing.assert_allclose(fold_means(values, folds, 2, w), [[2.5, 2.0], [6.0, 4.0]])
    est = np.array([[1.0], [2.0], [4.0]])
    se, df = crossfit_t(est, 0.5)
    assert df == 2.0
    assert se[0] == pytest.approx(np.sqrt((1 / 3 + 0.5) * np.var([1.0, 2.0, 4.0], ddof=1)))
    with pytest.raises(ValueError, match="at least 2 folds"):
        crossfit_t(est[:1], 0.5)


@pytest.mark.parametrize("method", [LOCO, PermutationImportance])
def test_nadeau_bengio_through_the_estimators_matches_the_formula(method):
    X, y = data(1)
    result = method(LinearRegression(), cv=5, test="nadeau-bengio", random_state=3).fit(X, y).importance()
    k = 5
    est = fold_means(result.per_observation, result.fold_ids, k)
    model = method(LinearRegression(), cv=5, test="nadeau-bengio", random_state=3).fit(X, y)
    ratio = np.mean([len(te) / len(tr) for tr, te in model.folds_])
    se, df = crossfit_t(est, ratio)
    np.testing.assert_allclose(result.std_error, se, rtol=1e-12)
    np.testing.assert_allclose(result.pvalue, stats.t.sf(result.importance / se, df), rtol=1e-10)
    q = stats.t.ppf(0.975, df)
    np.testing.assert_allclose(result.ci_low, result.importance - q * se, rtol=1e-10)
    np.testing.assert_allclose(result.ci_high, result.importance + q * se, rtol=1e-10)
    assert result.test == "nadeau-bengio" and "training variability included" in result.target
    assert result.to_frame()["question"].eq("population").all()


def test_nadeau_bengio_needs_cross_fitting():
    X, y = data(2)
    for method in (LOCO, PermutationImportance):
        with pytest.raises(ValueError, match="nadeau-bengio.*cv=K"):
            method(LinearRegression(), test="nadeau-bengio").fit(X, y)
    loco = LOCO(LinearRegression()).fit(X[:150], y[:150])
    loco.set_params(test="nadeau-bengio")
    with pytest.raises(ValueError, match="fitted with cv=None"):
        loco.importance(X[150:], y[150:])


# ------------------------------------------------------------------------- the auto rule
def test_smooth_deterministic_rule():
    assert smooth_deterministic(LinearRegression())
    assert smooth_deterministic(make_pipeline(StandardScaler(), Ridge()))
    assert not smooth_deterministic(SGDRegressor())
    assert not smooth_deterministic(RandomForestRegressor())
    assert not smooth_deterministic(KNeighborsRegressor())
    assert not smooth_deterministic(make_pipeline(RBFSampler(), Ridge()))  # random features, seed None
    assert smooth_deterministic(make_pipeline(RBFSampler(random_state=0), Ridge()))


@pytest.mark.parametrize("method, estimator, cv, expected", [
    ("loco", LinearRegression(), None, "perturbed"),
    ("loco", LinearRegression(), 5, "perturbed"),
    ("loco", RandomForestRegressor(), 5, "nadeau-bengio"),
    ("loco", RandomForestRegressor(), None, "split-per-feature"),
    ("pap", LinearRegression(), 5, "nadeau-bengio"),
    ("pap", RandomForestRegressor(), None, "paired-skew"),
])
def test_auto_resolves_by_learner_and_design(method, estimator, cv, expected):
    test, reason = resolve_test(method, "auto", estimator, cv)
    assert test == expected and reason.startswith("test='auto'")
    assert resolve_test(method, "paired-skew" if method == "pap" else "paired", estimator, cv)[1] is None


def test_auto_is_the_default_and_is_reported():
    X, y = data(3)
    loco = LOCO(LinearRegression(), random_state=0).fit(X[:150], y[:150]).importance(X[150:], y[150:])
    assert loco.test == "perturbed" and "linear model" in loco.details["test_rule"]
    text = loco.summary().as_text()
    assert "Question: population" in text and "Chosen:   test='auto'" in text
    tree = KNeighborsRegressor()
    knn = LOCO(tree, cv=5, random_state=0).fit(X, y).importance()
    assert knn.test == "nadeau-bengio"
    pap = PermutationImportance(LinearRegression(), random_state=0).fit(X[:150], y[:150])
    held = pap.importance(X[150:], y[150:])
    assert held.test == "paired-skew" and held.to_frame()["question"].eq("fitted model").all()
    assert "Question: fitted model" in held.summary().as_text()
    cross = PermutationImportance(LinearRegression(), cv=5, random_state=0).fit(X, y).importance()
    assert cross.test == "nadeau-bengio"
    # an explicit choice is kept and no rule is reported
    paired = LOCO(LinearRegression(), test="paired", random_state=0).fit(X[:150], y[:150]).importance(
        X[150:], y[150:])
    assert paired.test == "paired" and "test_rule" not in paired.details
    assert "Chosen" not in paired.summary().as_text()


def test_every_test_has_a_question():
    from vimp._loco import LOCO_TESTS
    from vimp._pap import PAP_TESTS
    from vimp._results import _TEST_NAMES

    for test in set(LOCO_TESTS) | set(PAP_TESTS) | {"wald", "max", "chi2"}:
        assert test in QUESTIONS and test in _TEST_NAMES, test
        assert QUESTIONS[test][0] in ("fitted model", "population")
    X, y = data(4)
    gcm = GCM(LinearRegression(), cv=5, random_state=0).fit(X, y).importance()
    assert gcm.to_frame()["question"].eq("population").all()


# ------------------------------------------------------------------------- calibration
# Size tolerance: R independent data sets give Binomial(R, 0.05) rejections at an exact level-0.05 test
# (fewer at a conservative one); counts above the one-sided 99.9% quantile fail.
def _max_rejections(reps):
    return int(stats.binom.ppf(0.999, reps, 0.05))


def test_pap_population_test_holds_its_level_at_a_correlated_null():
    # x2, x3 are null given x0, x1 but correlated with them (rho = 0.5): the fitted OLS model uses them
    # a little, so the fitted-model test rejects too often (9% at n = 1000 in benchmarks/inference.py);
    # the cross-fitted test must stay at its level. 120 data sets, 2 null features each.
    reps, rejections, fitted = 120, 0, 0
    for r in range(reps):
        X, y = data(9000 + r, n=400, rho=0.5)
        model = PermutationImportance(LinearRegression(), cv=5, groups={"x2": [2], "x3": [3]},
                                      random_state=r).fit(X, y)
        rejections += int(np.sum(model.importance().pvalue <= 0.05))
        model.set_params(test="paired-skew")
        fitted += int(np.sum(model.importance().pvalue <= 0.05))
    # pooled over 2 correlated features: the count's variance is at most that of 2 x Binomial(R, .05)
    assert rejections <= 2 * _max_rejections(reps), rejections
    assert fitted > rejections  # the fitted-model test answers another question: it rejects more


def test_compare_passes_tests_by_name_or_per_method():
    from vimp import compare

    X, y = data(5)
    _, results = compare(X, y, LinearRegression(), methods=["pap", "loco"], cv=5, random_state=0,
                         test={"loco": "paired"}, return_results=True)
    assert results["loco"].test == "paired" and results["pap"].test == "nadeau-bengio"
    _, results = compare(X, y, LinearRegression(), methods=["pap", "loco"], cv=5, random_state=0,
                         test="nadeau-bengio", return_results=True)
    assert {r.test for r in results.values()} == {"nadeau-bengio"}
    with pytest.raises(ValueError, match="not a test of any"):
        compare(X, y, LinearRegression(), cv=5, test="bogus")
    with pytest.raises(ValueError, match="test for 'loco' must be one of"):
        compare(X, y, LinearRegression(), cv=5, test={"loco": "wald"})
    with pytest.raises(ValueError, match="not among methods"):
        compare(X, y, LinearRegression(), methods=["loco"], cv=5, test={"pap": "paired-skew"})
    with pytest.raises(TypeError, match="test must be"):
        compare(X, y, LinearRegression(), cv=5, test=3)


def test_loco_auto_for_a_tree_holds_its_level_at_a_null_feature():
    # A depth-4 regression tree is not smooth in the data: dropping a null column changes its splits, so
    # the fitted models differ at the null by more than sampling noise. test="auto" resolves to the
    # cross-fitted t test with cv=5; over R = 150 data sets (one null feature each) its rejections at
    # 0.05 must stay below the one-sided 99.9% binomial quantile of an exact test.
    from sklearn.tree import DecisionTreeRegressor

    reps, rejections = 150, 0
    for r in range(reps):
        X, y = data(12000 + r, n=300)
        model = LOCO(DecisionTreeRegressor(max_depth=4, random_state=0), cv=5, groups={"x3": [3]},
                     random_state=r).fit(X, y)
        result = model.importance()
        assert result.test == "nadeau-bengio"
        rejections += int(result.pvalue[0] <= 0.05)
    assert rejections <= _max_rejections(reps), rejections
