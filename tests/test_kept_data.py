"""What a fitted estimator and its result keep (issue 12): a read-only view of the user's X, no second
(n, n_groups) array, and a clear refusal when the kept X was changed in place after fit."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from vimp import GCM, LOCO, PermutationImportance


def data(n=200, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return X, X[:, 0] + 0.5 * X[:, 1] + rng.standard_normal(n)


ESTIMATORS = [
    lambda: LOCO(LinearRegression(), cv=3, random_state=0),
    lambda: PermutationImportance(LinearRegression(), cv=3, random_state=0),
    lambda: GCM(LinearRegression(), cv=3, random_state=0),
    lambda: GCM(LinearRegression(), cv=None, random_state=0),
    lambda: LOCO(DecisionTreeRegressor(max_depth=3, random_state=0), cv=3, random_state=0),
]


@pytest.mark.parametrize("make", ESTIMATORS)
def test_the_kept_design_is_a_read_only_view_of_the_users_array(make):
    X, y = data()
    est = make().fit(X, y)
    assert np.shares_memory(est._X, X)  # no copy of the data
    assert not est._X.flags.writeable
    assert X.flags.writeable  # the user's array is untouched
    est.importance()


@pytest.mark.parametrize("make", ESTIMATORS)
def test_a_design_changed_in_place_after_fit_is_refused(make):
    X, y = data()
    est = make().fit(X, y)
    X[5, 1] += 1.0
    with pytest.raises(ValueError, match="X was changed in place after fit"):
        est.importance()
    X[5, 1] -= 1.0  # restored exactly (the same float): accepted again
    est.importance()


def test_a_dataframe_changed_in_place_after_fit_is_refused():
    X, y = data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = LOCO(LinearRegression(), cv=3, random_state=0).fit(frame, y)
    est.importance()
    frame.iloc[3, 0] = 7.0
    with pytest.raises(ValueError, match="changed in place"):
        est.importance()


def test_gcm_held_out_evaluation_refuses_a_changed_training_design():
    X, y = data()
    est = GCM(LinearRegression(), cv=None, random_state=0).fit(X[:150], y[:150])
    est.importance(X[150:], y[150:])
    X[0, 0] = 3.0  # a training row (X[:150] is a view)
    with pytest.raises(ValueError, match="changed in place"):
        est.importance(X[150:], y[150:])


def test_non_float_input_is_converted_and_kept_as_a_private_copy():
    X, y = data()
    Xi = np.round(X * 10).astype(np.int64)
    est = LOCO(LinearRegression(), cv=3, random_state=0).fit(Xi, y)
    assert not np.shares_memory(est._X, Xi) and est._X.dtype == np.float64


@pytest.mark.parametrize("cls", [LOCO, PermutationImportance])
def test_results_keep_the_differences_and_the_full_loss_only(cls):
    X, y = data()
    est = cls(LinearRegression(), random_state=0).fit(X[:100], y[:100])
    res = est.importance(X[100:], y[100:])
    assert set(res.details) >= {"full_loss"} and "reduced_loss" not in res.details
    full = res.details["full_loss"]
    np.testing.assert_allclose(full, (y[100:] - est.fitters_[0].predict(X[100:])) ** 2, rtol=1e-12)
    if cls is LOCO:  # the reduced losses come back as per_observation + full_loss
        reduced = res.per_observation + full[:, None]
        refit = LinearRegression().fit(X[:100, 1:], y[:100])
        np.testing.assert_allclose(reduced[:, 0], (y[100:] - refit.predict(X[100:, 1:])) ** 2, rtol=1e-9)
