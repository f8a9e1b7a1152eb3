"""Every bad input gives a ValueError or TypeError naming the parameter, before any fitting starts."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression

from vimp import LOCO, PermutationImportance

METHODS = [PermutationImportance, LOCO]


class ExplodingRegressor(RegressorMixin, BaseEstimator):
    """Fails the test if anything is fitted: validation must come first."""

    def fit(self, X, y):  # pragma: no cover - must not be reached
        raise AssertionError("fit was called before the input was validated")

    def predict(self, X):  # pragma: no cover
        raise AssertionError("predict was called")


def data(n=40, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    return X, X[:, 0] + rng.normal(size=n)


@pytest.mark.parametrize("cls", METHODS)
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 4, np.nan, X), y), ValueError, "X"),
        (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 4, np.inf, X), y), ValueError, "X"),
        (lambda X, y: (X, np.where(np.arange(len(y)) == 3, np.nan, y)), ValueError, "y"),
        (lambda X, y: (X, np.where(np.arange(len(y)) == 3, np.inf, y)), ValueError, "y"),
        (lambda X, y: (X, y[:-1]), ValueError, "y"),
        (lambda X, y: (X[:, 0], y), ValueError, "X"),
        (lambda X, y: (X[:0], y[:0]), ValueError, "X"),
        (lambda X, y: (np.empty((40, 0)), y), ValueError, "X"),
        (lambda X, y: (X, np.column_stack([y, y])), ValueError, "y"),
        (lambda X, y: ("not an array", y), TypeError, "X"),
    ],
)
def test_bad_data(cls, make, error, match):
    X, y = make(*data())
    with pytest.raises(error, match=match):
        cls(ExplodingRegressor()).fit(X, y)


@pytest.mark.parametrize("cls", METHODS)
def test_non_numeric_columns_the_estimator_cannot_take(cls):
    X, y = data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(colour=["red", "blue"] * 20)
    with pytest.raises(TypeError, match="non-numeric"):
        cls(ExplodingRegressor()).fit(frame, y)


@pytest.mark.parametrize("cls", METHODS)
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"groups": {"g": ["nope"]}}, ValueError, "groups"),
        ({"groups": {"g": [7]}}, ValueError, "groups"),
        ({"groups": {"g": [0, 1], "h": [1, 2]}}, ValueError, "groups"),
        ({"groups": {"g": []}}, ValueError, "groups"),
        ({"groups": ["a", "b"]}, TypeError, "groups"),
        ({"level": 1.0}, ValueError, "level"),
        ({"level": 0.0}, ValueError, "level"),
        ({"level": -0.5}, ValueError, "level"),
        ({"loss": "hinge"}, ValueError, "loss"),
        ({"loss": "log_loss"}, ValueError, "loss"),
        ({"loss": "zero_one"}, ValueError, "loss"),
        ({"scale": "log"}, ValueError, "scale"),
        ({"p_adjust": "magic"}, ValueError, "p_adjust"),
        ({"cv": 1}, ValueError, "cv"),
        ({"cv": "five"}, TypeError, "cv"),
        ({"random_state": "seed"}, TypeError, "random_state"),
    ],
)
def test_bad_parameters(cls, kwargs, error, match):
    X, y = data()
    with pytest.raises(error, match=match):
        cls(ExplodingRegressor(), **kwargs).fit(X, y)


@pytest.mark.parametrize("n_permutations, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_bad_n_permutations(n_permutations, error):
    X, y = data()
    with pytest.raises(error, match="n_permutations"):
        PermutationImportance(ExplodingRegressor(), n_permutations=n_permutations).fit(X, y)


@pytest.mark.parametrize("kwargs, match", [({"refit": "shuffle"}, "refit"), ({"test": "t"}, "test")])
def test_bad_loco_parameters(kwargs, match):
    X, y = data()
    with pytest.raises(ValueError, match=match):
        LOCO(ExplodingRegressor(), **kwargs).fit(X, y)


@pytest.mark.parametrize("cls", METHODS)
def test_validation_data_with_other_columns(cls):
    X, y = data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = cls(LinearRegression()).fit(frame, y)
    with pytest.raises(ValueError, match="X"):
        est.importance(frame[["a", "c", "b"]], y)
    with pytest.raises(ValueError, match="X"):
        est.importance(frame.rename(columns={"c": "d"}), y)
    est = cls(LinearRegression()).fit(X, y)
    with pytest.raises(ValueError, match="X"):
        est.importance(X[:, :2], y)
    with pytest.raises(ValueError, match="y"):
        est.importance(X, y[:-2])


@pytest.mark.parametrize("cls", METHODS)
def test_bad_sample_weight(cls):
    X, y = data()
    for weights, match in ((np.ones(5), "sample_weight"), (-np.ones(40), "sample_weight"),
                           (np.zeros(40), "sample_weight")):
        with pytest.raises(ValueError, match=match):
            cls(ExplodingRegressor()).fit(X, y, sample_weight=weights)


def test_prefit_with_cv_is_refused():
    X, y = data()
    with pytest.raises(ValueError, match="prefit"):
        PermutationImportance(LinearRegression().fit(X, y), prefit=True, cv=3).fit(X, y)


@pytest.mark.parametrize("value", [1, "yes", None])
def test_shared_permutations_must_be_a_bool(value):
    X, y = data()
    with pytest.raises(TypeError, match="shared_permutations"):
        PermutationImportance(ExplodingRegressor(), shared_permutations=value).fit(X, y)


def test_pipeline_selecting_columns_by_name_gets_a_clear_message():
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=100), "c": rng.choice(["x", "y"], 100)})
    y = X["a"] + rng.normal(size=100)
    model = make_pipeline(ColumnTransformer([("onehot", OneHotEncoder(), ["c"])], remainder="passthrough"),
                          LinearRegression())
    with pytest.raises(ValueError, match="make_column_selector"):
        LOCO(model).fit(X, y)


# ------------------------------------------------------------------------------------------------------
# The trust layer (issue 10): one table of unusual inputs across every public entry point. Each entry
# says which entry point is called with what, and the exception type and a word its message must contain
# (the parameter it names). Everything is refused before any fitting (ExplodingRegressor) where the input
# alone shows the problem.
# ------------------------------------------------------------------------------------------------------
from sklearn.base import ClassifierMixin  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GroupKFold, KFold  # noqa: E402
from sklearn.neighbors import KNeighborsRegressor  # noqa: E402

import vimp  # noqa: E402
from vimp import GCM, DegenerateInferenceWarning, compare  # noqa: E402

ALL = [PermutationImportance, LOCO, GCM]


class LeakySplitter:
    """A splitter whose training sets contain their own test rows (an in-sample 'cross-fit')."""

    def split(self, X, y=None, groups=None):
        rows = np.arange(len(X))
        for k in range(2):
            yield rows, rows[k::2]

    def get_n_splits(self, X=None, y=None, groups=None):
        return 2


class NoFitWeights(RegressorMixin, BaseEstimator):
    """A learner whose fit takes no sample_weight."""

    def fit(self, X, y):  # pragma: no cover - must not be reached
        raise AssertionError("fit was called")

    def predict(self, X):  # pragma: no cover
        raise AssertionError("predict was called")


class ExplodingWeighted(ExplodingRegressor):
    """As ExplodingRegressor, with a fit that takes sample_weight."""

    def fit(self, X, y, sample_weight=None):  # pragma: no cover - must not be reached
        raise AssertionError("fit was called before the input was validated")


class Transformer(BaseEstimator):
    """Has fit but no predict."""

    def fit(self, X, y=None):  # pragma: no cover
        return self


class ColumnPredictor(RegressorMixin, BaseEstimator):
    """Predicts with a chosen shape or with NaN (to check prediction problems are named)."""

    def __init__(self, shape="flat", value=0.0):
        self.shape = shape
        self.value = value

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        n = len(X)
        if self.shape == "nan":
            return np.full(n, np.nan)
        if self.shape == "wide":
            return np.full((n, 2), self.mean_)
        if self.shape == "short":
            return np.full(n - 1, self.mean_)
        return np.full(n, self.mean_)


def classes(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] + rng.normal(size=n) > 0).astype(int)


# (entry point, X/y maker, constructor kwargs, fit kwargs, error, word in the message)
FIT_CASES = [
    # evaluation sizes (rows, effective rows with weights, folds)
    ("cv=n leaves one row per fold", dict(cv=40), {}, ValueError, "fold", [PermutationImportance]),
    ("nine rows cross-fitted", dict(cv=3), {"rows": 9}, ValueError, "rows", ALL),
    ("one effective weighted row", dict(cv=2, estimator=ExplodingWeighted()), {"weights": "one"},
     ValueError, "effective", ALL),
    # splitters
    ("a splitter that trains on its test rows", dict(cv=LeakySplitter()), {}, ValueError, "cv", ALL),
    ("an empty training part", dict(cv=[(np.array([], dtype=int), np.arange(40))]), {}, ValueError, "cv",
     ALL),
    ("test parts that do not partition", dict(cv=[(np.arange(20, 40), np.arange(20))]), {}, ValueError,
     "cv", ALL),
    ("folds with row positions out of range", dict(cv=[(np.arange(20, 41), np.arange(20)),
                                                       (np.arange(20), np.arange(20, 40))]), {},
     ValueError, "cv", ALL),
    ("a fold of floats", dict(cv=[(np.arange(20, 40) * 1.0, np.arange(20)),
                                  (np.arange(20), np.arange(20, 40))]), {}, TypeError, "cv", ALL),
    ("cv entries that are not pairs", dict(cv=[np.arange(20)]), {}, TypeError, "cv", ALL),
    ("cv_groups with an integer cv", dict(cv=2), {"cv_groups": np.repeat(np.arange(8), 5)}, ValueError,
     "cv_groups", ALL),
    ("cv_groups of the wrong length", dict(cv=GroupKFold(2)), {"cv_groups": np.arange(5)}, ValueError,
     "cv_groups", ALL),
    ("cv_groups without cv", dict(cv=None), {"cv_groups": np.arange(40)}, ValueError, "cv_groups",
     [PermutationImportance, LOCO, GCM]),
    ("more folds than rows", dict(cv=41), {}, ValueError, "cv", [LOCO, GCM]),
    # labels and groups
    ("groups entry None", dict(groups={"g": None}), {}, TypeError, "groups", ALL),
    ("groups entry a float", dict(groups={"g": [1.0]}), {}, TypeError, "groups", ALL),
    ("groups entry a bool", dict(groups={"g": [True]}), {}, TypeError, "groups", ALL),
    ("group names equal as text", dict(groups={1: [0], "1": [1]}), {}, ValueError, "groups", ALL),
    # sizes
    ("n_permutations beyond memory", dict(cv=2, n_permutations=10**12), {}, ValueError, "n_permutations",
     [PermutationImportance]),
    ("n_bootstrap beyond reason", dict(n_bootstrap=10**9, test="max"), {}, ValueError, "n_bootstrap",
     [GCM]),
    # estimators
    ("an estimator class, not an instance", dict(estimator=LinearRegression), {}, TypeError, "estimator",
     ALL),
    ("an estimator without predict", dict(estimator=Transformer()), {}, TypeError, "estimator",
     [PermutationImportance, LOCO]),
    ("weights for a learner that takes none", dict(estimator=NoFitWeights()), {"weights": "ones"},
     TypeError, "sample_weight", ALL),
    ("weights for a k-nearest-neighbours model", dict(estimator=KNeighborsRegressor()),
     {"weights": "ones"}, TypeError, "sample_weight", ALL),
    ("n_jobs=0", dict(n_jobs=0), {}, ValueError, "n_jobs", ALL),
    ("weights that sum to inf", dict(estimator=ExplodingWeighted()), {"weights": "huge"}, ValueError,
     "sample_weight", ALL),
    ("n_jobs a float", dict(n_jobs=2.0), {}, TypeError, "n_jobs", ALL),
    ("progress not a bool", dict(progress="yes"), {}, TypeError, "progress", ALL),
    ("cv a float", dict(cv=5.0), {}, TypeError, "cv", ALL),
    ("cv True", dict(cv=True), {}, TypeError, "cv", ALL),
    ("cv a string", dict(cv="5"), {}, TypeError, "cv", ALL),
]


def _fit_case(cls, kwargs, fit_kwargs):
    kwargs = dict(kwargs)
    estimator = kwargs.pop("estimator", ExplodingRegressor())
    if cls is not PermutationImportance:
        kwargs.pop("n_permutations", None)
    if cls is not GCM:
        kwargs.pop("n_bootstrap", None)
        if kwargs.get("test") == "max":
            kwargs.pop("test")
    X, y = data(n=fit_kwargs.get("rows", 40))
    extra = {}
    if fit_kwargs.get("weights") == "one":
        extra["sample_weight"] = np.r_[1.0, np.full(len(y) - 1, 1e-9)]
    elif fit_kwargs.get("weights") == "ones":
        extra["sample_weight"] = np.ones(len(y))
    elif fit_kwargs.get("weights") == "huge":
        extra["sample_weight"] = np.full(len(y), 1e307)
    if "cv_groups" in fit_kwargs:
        extra["cv_groups"] = fit_kwargs["cv_groups"]
    if "cv" not in kwargs and cls is GCM:
        kwargs["cv"] = 2
    return cls(estimator, **kwargs), X, y, extra


@pytest.mark.parametrize("label, kwargs, fit_kwargs, error, word, classes_",
                         FIT_CASES, ids=[c[0] for c in FIT_CASES])
@pytest.mark.parametrize("cls", ALL)
def test_every_entry_point_refuses_before_fitting(cls, label, kwargs, fit_kwargs, error, word, classes_):
    if cls not in classes_:
        pytest.skip("not an input of this entry point")
    est, X, y, extra = _fit_case(cls, kwargs, fit_kwargs)
    with pytest.raises(error, match=word):
        est.fit(X, y, **extra)


@pytest.mark.parametrize("cls", ALL)
def test_integer_column_labels_are_labels_not_positions(cls):
    X, y = data(n=60)
    frame = pd.DataFrame(X, columns=[2, 0, 1])
    kwargs = {"cv": 3} if cls is GCM else {}
    warnings.simplefilter("ignore", vimp.NuisanceQualityWarning)  # not the point here
    by_label = cls(LinearRegression(), groups={"g": [2]}, random_state=0, **kwargs).fit(frame, y)
    single = cls(LinearRegression(), random_state=0, **kwargs).fit(frame, y)
    a = by_label.importance() if cls is GCM else by_label.importance(frame, y)
    b = single.importance() if cls is GCM else single.importance(frame, y)
    # the column labelled 2 is the first one (position 0), which carries the signal
    np.testing.assert_allclose(a.importance[0], b.importance[0], rtol=1e-10)
    with pytest.raises(ValueError, match="groups"):  # 3 is neither a label nor allowed as a position
        cls(LinearRegression(), groups={"g": [3]}, **kwargs).fit(frame, y)


@pytest.mark.parametrize("cls", ALL)
def test_labels_equal_as_text_are_refused(cls):
    X, y = data()
    frame = pd.DataFrame(X, columns=[1, "1", "b"])
    with pytest.raises(ValueError, match="X"):
        cls(ExplodingRegressor()).fit(frame, y)


@pytest.mark.parametrize("cls", ALL)
def test_sparse_input_is_refused_with_the_way_out(cls):
    from scipy import sparse

    X, y = data()
    with pytest.raises(TypeError, match="toarray"):
        cls(ExplodingRegressor()).fit(sparse.csr_matrix(X), y)


@pytest.mark.parametrize("cls", [PermutationImportance, LOCO])
def test_log_loss_without_predict_proba_is_refused(cls):
    from sklearn.svm import SVC

    X, y = classes()
    with pytest.raises(TypeError, match="predict_proba"):
        cls(SVC()).fit(X, y)
    cls(SVC(), loss="zero_one").fit(X, y)  # labels are enough for the zero-one loss


@pytest.mark.parametrize("cls", [PermutationImportance, LOCO])
def test_a_continuous_target_for_a_classifier_is_refused(cls):
    X, y = data()
    with pytest.raises(ValueError, match="y"):
        cls(LogisticRegression()).fit(X, y)


@pytest.mark.parametrize("cls", ALL)
def test_a_target_whose_squares_underflow_is_refused(cls):
    X, y = data()
    with pytest.raises(ValueError, match="rescale y"):
        cls(ExplodingRegressor()).fit(X, y * 1e-300)


# ---------------------------------------------------------------------------- held-out evaluation sets
@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("rows, weights", [(1, None), (2, None), (9, None), (40, "one")])
def test_held_out_sets_too_small_for_a_standard_error(cls, rows, weights):
    X, y = data(n=80)
    est = cls(LinearRegression(), random_state=0, **({"cv": 2} if cls is GCM else {})).fit(X[:40], y[:40])
    w = None if weights is None else np.r_[1.0, np.zeros(rows - 1)]
    with pytest.raises(ValueError, match="rows"):
        est.importance(X[40:40 + rows], y[40:40 + rows], sample_weight=w)


def test_loco_split_halves_need_their_own_rows():
    X, y = data(n=80)
    est = LOCO(LinearRegression(), random_state=0).fit(X[:40], y[:40])
    # ten rows with weight on two of them: each half of the sample split has at most 2 effective rows
    w = np.r_[np.ones(2), np.full(8, 1e-6)]
    with pytest.raises(ValueError, match="effective"):
        est.importance(X[40:50], y[40:50], sample_weight=w)
    # the paired test has no halves
    LOCO(LinearRegression(), test="paired").fit(X[:40], y[:40])


@pytest.mark.parametrize("cls", [PermutationImportance, LOCO])
def test_held_out_n_permutations_bound(cls):
    X, y = data(n=80)
    if cls is LOCO:
        pytest.skip("no permutations")
    est = PermutationImportance(LinearRegression(), n_permutations=10**10).fit(X[:40], y[:40])
    with pytest.raises(ValueError, match="n_permutations"):
        est.importance(X[40:], y[40:])


# ---------------------------------------------------------------------------- classification labels
@pytest.mark.parametrize("cls", [PermutationImportance, LOCO])
@pytest.mark.parametrize("label", [-1, 2])  # below and above the known classes
def test_a_label_the_model_never_saw_is_refused(cls, label):
    X, y = classes()
    est = cls(LogisticRegression(), random_state=0).fit(X[:40], y[:40])
    y_test = y[40:].copy()
    y_test[0] = label
    with pytest.raises(ValueError, match="never saw"):
        est.importance(X[40:], y_test)


def test_gcm_refuses_unseen_labels_and_multiclass():
    X, y = classes()
    est = GCM(LogisticRegression(), cv=2, random_state=0).fit(X, y)
    y_test = y.copy()
    y_test[0] = 7
    with pytest.raises(ValueError, match="y"):
        est.importance(X, y_test)
    with pytest.raises(ValueError, match="two classes"):
        GCM(LogisticRegression()).fit(X, np.arange(len(y)) % 3)


@pytest.mark.parametrize("cls", [PermutationImportance, LOCO])
def test_a_fold_whose_training_part_lacks_a_class_is_refused(cls):
    X, y = classes()
    y = y.copy()
    y[5] = 2  # a class with one row: the fold that tests it cannot train on it
    with pytest.raises(ValueError, match="fold"):
        cls(LogisticRegression(), cv=[(np.arange(30, 60), np.arange(30)), (np.arange(30), np.arange(30, 60))]
            ).fit(X, y)


def test_gcm_fold_without_the_positive_class_is_refused():
    X, y = classes()
    y = np.zeros(60, dtype=int)
    y[:5] = 1  # every positive row in the first fold's test part
    folds = [(np.arange(30, 60), np.arange(30)), (np.arange(30), np.arange(30, 60))]
    with pytest.raises(ValueError, match="fold 0"):
        GCM(LogisticRegression(), cv=folds).fit(X, y)


# ---------------------------------------------------------------------------- predictions and losses
@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("shape, word", [("nan", "NaN"), ("wide", "shape"), ("short", "shape")])
def test_bad_predictions_are_named(cls, shape, word):
    X, y = data(n=60)
    model = ColumnPredictor(shape=shape)
    est = cls(model, **({"cv": 2} if cls is GCM else {}))
    with pytest.raises(ValueError, match=word) as info:
        est.fit(X[:30], y[:30])
        if cls is not GCM:
            est.importance(X[30:], y[30:])
    assert "ColumnPredictor" in str(info.value)


@pytest.mark.parametrize("cls", [PermutationImportance, LOCO])
def test_a_single_column_prediction_is_accepted(cls):
    class OneColumn(ColumnPredictor):
        def predict(self, X):
            return np.full((len(X), 1), self.mean_)

    X, y = data(n=60)
    result = cls(OneColumn()).fit(X[:30], y[:30]).importance(X[30:], y[30:])
    np.testing.assert_array_equal(result.importance, 0.0)  # a constant model: nothing matters
    np.testing.assert_array_equal(result.pvalue, 1.0)


@pytest.mark.parametrize("cls", [PermutationImportance, LOCO])
def test_a_loss_that_returns_nan_is_named(cls):
    def broken(y_true, y_pred):
        out = (y_true - y_pred) ** 2
        out[0] = np.nan
        return out

    X, y = data(n=60)
    with pytest.raises(ValueError, match="broken"):
        cls(LinearRegression(), loss=broken).fit(X[:30], y[:30]).importance(X[30:], y[30:])


# ---------------------------------------------------------------------------- compare
@pytest.mark.parametrize(
    "kwargs, error, word",
    [
        ({"cv": 2, "X_test": "X", "y_test": "y"}, ValueError, "X_test"),
        ({"cv": 2, "sample_weight_test": "w"}, ValueError, "sample_weight_test"),
        ({"cv": None, "X_test": "X", "y_test": "y", "cv_groups": "g"}, ValueError, "cv_groups"),
        ({"cv": None}, ValueError, "X_test"),
        ({"cv": 2, "methods": ("pap", "pap")}, ValueError, "methods"),
        ({"cv": 2, "methods": ()}, ValueError, "methods"),
        ({"cv": 2, "methods": ("lasso",)}, ValueError, "methods"),
        ({"cv": LeakySplitter()}, ValueError, "cv"),
        ({"cv": 2, "sample_weight": "w", "estimator": KNeighborsRegressor()}, TypeError, "sample_weight"),
    ],
)
def test_compare_refuses(kwargs, error, word):
    X, y = data()
    kwargs = dict(kwargs)
    values = {"X": X, "y": y, "w": np.ones(40), "g": np.arange(40)}
    for key in ("X_test", "y_test", "sample_weight_test", "sample_weight", "cv_groups"):
        if key in kwargs:
            kwargs[key] = values[kwargs[key]]
    estimator = kwargs.pop("estimator", LinearRegression())
    with pytest.raises(error, match=word):
        compare(X, y, estimator, methods=kwargs.pop("methods", ("pap", "loco", "gcm")), **kwargs)


def test_compare_accepts_a_generator_of_folds_and_group_splitters():
    X, y = data(n=60)
    folds = ((train, test) for train, test in KFold(3, shuffle=True, random_state=0).split(X))
    table = compare(X, y, LinearRegression(), methods=("pap", "loco", "gcm"), cv=folds, random_state=0)
    assert set(table.index.get_level_values("method")) == {"pap", "loco", "gcm"}
    groups = np.repeat(np.arange(6), 10)
    table = compare(X, y, LinearRegression(), cv=GroupKFold(3), cv_groups=groups, random_state=0)
    assert np.isfinite(table["importance"]).all()


# ---------------------------------------------------------------------------- from_residuals
@pytest.mark.parametrize(
    "x, y, kwargs, error, word",
    [
        (np.ones(1), np.ones(1), {}, ValueError, "rows"),
        (np.ones(9), np.ones(9), {}, ValueError, "rows"),
        (np.ones(20), np.ones(20), {"sample_weight": np.r_[1.0, np.zeros(19)]}, ValueError, "effective"),
        (np.full(20, 1e200), np.ones(20), {}, ValueError, "x_residuals"),
        (np.ones(20), np.ones(20), {"n_bootstrap": 10**9, "test": "max"}, ValueError, "n_bootstrap"),
        (np.ones(20), np.ones(20), {"groups": {"g": None}}, TypeError, "groups"),
        (np.ones(20), np.ones(20), {"names": "a"}, ValueError, "names"),
    ],
)
def test_from_residuals_refuses(x, y, kwargs, error, word):
    with pytest.raises(error, match=word):
        GCM.from_residuals(x, y, **kwargs)


# ---------------------------------------------------------------------------- degenerate inference
def test_zero_standard_error_gives_nan_inference_and_a_warning_not_p_zero():
    # every product equal and positive: a mean with no spread says nothing about a population
    with pytest.warns(DegenerateInferenceWarning, match="x0"):
        result = GCM.from_residuals(np.ones(20), np.ones(20))
    assert np.isnan(result.pvalue[0]) and np.isnan(result.pvalue_adjusted[0])
    assert np.isnan(result.ci_low[0]) and np.isnan(result.ci_high[0]) and np.isnan(result.std_error[0])
    assert result.importance[0] == 1.0  # the estimate itself is kept
    assert np.isnan(result.conf_int(0.5).to_numpy()).all()


@pytest.mark.parametrize("cls", [LOCO])
def test_equal_loss_differences_give_nan_inference(cls):
    # A callable loss that is 1 for every row whatever the prediction, except that it rises by exactly 1
    # on every row when feature 0 is disturbed: the differences are all 1, the standard error is 0.
    class Flag(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            self.n_features_ = X.shape[1]
            return self

        def predict(self, X):
            X = np.asarray(X)
            return np.zeros(len(X)) if self.n_features_ != X.shape[1] else X[:, 0].copy()

    def loss(y_true, y_pred):
        return np.where(y_pred == y_true, 1.0, 2.0)

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    y = X[:, 0].copy()
    est = cls(Flag(), loss=loss, random_state=0).fit(X[:20], y[:20])
    with pytest.warns(DegenerateInferenceWarning, match="x0"):
        result = est.importance(X[20:], y[20:])
    assert np.isnan(result.pvalue[0]) and np.isnan(result.ci_low[0])
    assert result.pvalue[1] == 1.0  # feature 1 changes nothing: an exact zero, not a degenerate one


@pytest.mark.parametrize("cls", [PermutationImportance, LOCO])
def test_a_feature_the_model_ignores_is_an_exact_zero_without_warning(cls):
    from sklearn.tree import DecisionTreeRegressor

    X, y = data(n=200)
    X = np.column_stack([X, np.random.default_rng(1).normal(size=200)])
    model = DecisionTreeRegressor(max_depth=1, random_state=0)  # one split: on the strong feature 0
    result = cls(model, random_state=0).fit(X[:100], y[:100]).importance(X[100:], y[100:])
    zero = result.importance == 0
    # features 1-3 are never split on: their refits (LOCO) differ from the full tree by rounding only
    assert zero.sum() == 3
    np.testing.assert_array_equal(result.pvalue[zero], 1.0)
    np.testing.assert_array_equal(result.ci_low[zero], 0.0)
    np.testing.assert_array_equal(result.ci_high[zero], 0.0)


def test_pvalue_functions_never_turn_a_zero_se_into_certainty():
    from vimp._inference import pvalue_greater, pvalue_two_sided

    est = np.array([1.0, -1.0, 0.0, np.nan, 1.0])
    se = np.array([0.0, 0.0, 0.0, 1.0, np.nan])
    np.testing.assert_array_equal(np.isnan(pvalue_greater(est, se)), [True, True, False, True, True])
    np.testing.assert_array_equal(np.isnan(pvalue_two_sided(est, se)), [True, True, False, True, True])
    assert pvalue_greater(0.0, 0.0) == 1.0 and pvalue_two_sided(0.0, 0.0) == 1.0


# ---------------------------------------------------------------------------- the intercept rule
def test_a_constant_column_matters_without_an_intercept():
    # y = 5 + x0 + noise; the constant column is the model's only intercept when fit_intercept=False.
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=(200, 2)), np.ones(200)])
    y = 5.0 + X[:, 0] + rng.normal(size=200)
    Xtr, ytr, Xte, yte = X[:100], y[:100], X[100:], y[100:]
    for estimator in (LinearRegression(fit_intercept=False), vimp.SklearnFitter(LinearRegression(fit_intercept=False))):
        result = LOCO(estimator, random_state=0).fit(Xtr, ytr).importance(Xte, yte)
        brute = LinearRegression(fit_intercept=False).fit(Xtr[:, :2], ytr)
        full = LinearRegression(fit_intercept=False).fit(Xtr, ytr)
        expected = np.mean((yte - brute.predict(Xte[:, :2])) ** 2) - np.mean((yte - full.predict(Xte)) ** 2)
        np.testing.assert_allclose(result.importance[2], expected, rtol=1e-8)
        assert result.importance[2] > 20  # about 5^2: dropping the intercept costs its square
    # with an intercept the constant column adds nothing, exactly
    result = LOCO(LinearRegression(), random_state=0).fit(Xtr, ytr).importance(Xte, yte)
    assert result.importance[2] == 0.0 and result.pvalue[2] == 1.0
