"""Every bad input gives a ValueError or TypeError naming the parameter, before any fitting starts."""

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
