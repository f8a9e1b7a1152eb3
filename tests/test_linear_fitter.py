"""The exact linear fitter: every closed-form answer equals a brute-force scikit-learn refit."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import sqrtm
from sklearn.base import clone
from sklearn.linear_model import Lasso, LinearRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import vimp
from vimp import Fitter, SklearnFitter
from vimp._fitter_choice import make_fitter
from vimp._linear_fitter import LinearFitter, linear_fitter_for
from vimp._losses import LOSSES, Loss
from vimp.linear import bladen_cov

RTOL = 1e-8


def relative_error(actual, expected):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    return np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-300)


def assert_close(actual, expected, rtol=RTOL):
    error = relative_error(actual, expected)
    assert error <= rtol, f"relative error {error:.2e} > {rtol:.0e}"


def assert_close_on_scale(actual, expected, scale, rtol=RTOL):
    """``max |actual - expected| <= rtol * max |scale|``: for quantities that may be zero to rounding."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    error = np.max(np.abs(actual - expected)) / np.max(np.abs(scale))
    assert error <= rtol, f"error {error:.2e} of the scale > {rtol:.0e}"


class OpaqueLinearRegression(LinearRegression):
    """A LinearRegression that make_fitter does not recognise (subclasses may change fit)."""


def random_problem(seed, n=80, p=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3.0, size=p) + rng.normal(scale=5.0, size=p)
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    X_eval = rng.normal(size=(n, p)) * 2.0
    y_eval = X_eval @ rng.normal(size=p) + rng.normal(size=n)
    weights = rng.uniform(0.0, 2.0, size=n)
    weights[:5] = 0.0
    return X, y, X_eval, y_eval, weights


def bladen_problem(seed, n, p, delta=0.99):
    """Training and validation sets of the Bladen et al. design: X = Z A with A = sqrtm(Sigma)."""
    rng = np.random.default_rng(seed)
    A = np.real(sqrtm(bladen_cov(p, delta)))
    X, X_eval = rng.normal(size=(n, p)) @ A, rng.normal(size=(n, p)) @ A
    y = X.sum(axis=1) + rng.normal(scale=0.01, size=n)
    y_eval = X_eval.sum(axis=1) + rng.normal(scale=0.01, size=n)
    return X, y, X_eval, y_eval


ESTIMATORS = [
    LinearRegression(),
    LinearRegression(fit_intercept=False),
    Ridge(alpha=10.0),
    Ridge(alpha=1e-10),
    Ridge(alpha=3.0, fit_intercept=False),
    make_pipeline(StandardScaler(), LinearRegression()),
    make_pipeline(StandardScaler(), LinearRegression(fit_intercept=False)),
    make_pipeline(StandardScaler(), Ridge(alpha=10.0)),
    make_pipeline(StandardScaler(), Ridge(alpha=10.0, fit_intercept=False)),
]
GROUPS = [[0], [3], [1, 4], [0, 2, 5]]


# ----------------------------------------------------------------------------- recognition
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_recognised_estimators_get_a_fresh_linear_fitter(estimator):
    first, second = make_fitter(estimator), make_fitter(estimator)
    assert isinstance(first, LinearFitter)
    assert first is not second
    assert not hasattr(first, "coef_")


@pytest.mark.parametrize(
    "estimator",
    [
        OpaqueLinearRegression(),
        LinearRegression(positive=True),
        Ridge(alpha=1.0, positive=True, solver="lbfgs"),
        Ridge(alpha=np.array([1.0, 2.0])),
        Lasso(),
        make_pipeline(StandardScaler(with_mean=False), Ridge()),
        make_pipeline(MinMaxScaler(), LinearRegression()),
        make_pipeline(StandardScaler(), StandardScaler(), LinearRegression()),
        Pipeline([("model", LinearRegression())]),
    ],
    ids=repr,
)
def test_other_estimators_are_declined(estimator):
    assert linear_fitter_for(estimator) is None
    assert isinstance(make_fitter(estimator), SklearnFitter)


def test_ridge_solver_does_not_matter():
    # Every solver is answered with the exact ridge solution (iterative solvers only approximate it).
    X, y, X_eval, _, _ = random_problem(16)
    exact = SklearnFitter(Ridge(alpha=3.0, solver="svd")).fit(X, y)
    for solver in ("lsqr", "sparse_cg", "sag"):
        fast = linear_fitter_for(Ridge(alpha=3.0, solver=solver)).fit(X, y)
        assert_close(fast.predict(X_eval), exact.predict(X_eval))


def test_predict_proba_is_not_served():
    assert isinstance(make_fitter(LinearRegression(), response_method="predict_proba"), SklearnFitter)


# ----------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_closed_forms_equal_brute_force_refits(estimator, weighted):
    X, y, X_eval, y_eval, w = random_problem(0)
    w = w if weighted else None
    fast = linear_fitter_for(estimator).fit(X, y, w)
    slow = SklearnFitter(estimator).fit(X, y, w)
    assert_close(fast.predict(X_eval), slow.predict(X_eval))
    for columns in GROUPS:
        reduced = slow.refit_without(columns)
        assert_close(fast.refit_without(columns).predict(X_eval), reduced.predict(X_eval))
        regression = slow.regress_columns(columns).predict(X_eval)
        assert_close(fast.regress_columns(columns).predict(X_eval), regression)
        x_resid, y_resid = fast.residuals_without(X_eval, y_eval, columns)
        assert x_resid.shape == (len(y_eval), len(columns)) and y_resid.shape == (len(y_eval),)
        assert_close(x_resid, X_eval[:, columns] - regression)
        assert_close(y_resid, y_eval - reduced.predict(X_eval))


@pytest.mark.parametrize("estimator", [LinearRegression(), Ridge(alpha=2.0)], ids=repr)
def test_coefficients_match_sklearn_and_dropped_columns_are_zero(estimator):
    X, y, _, _, w = random_problem(1)
    fast = linear_fitter_for(estimator).fit(X, y, w)
    ref = Ridge(alpha=getattr(estimator, "alpha", 0.0)) if isinstance(estimator, Ridge) else LinearRegression()
    ref.fit(X, y, sample_weight=w)
    assert_close(fast.coef_, ref.coef_)
    assert_close(fast.intercept_, ref.intercept_)
    reduced = fast.refit_without([1, 4])
    assert np.all(reduced.coef_[[1, 4]] == 0.0)
    keep = [0, 2, 3, 5]
    ref_reduced = type(ref)(**ref.get_params()).fit(X[:, keep], y, sample_weight=w)
    assert_close(reduced.coef_[keep], ref_reduced.coef_)
    assert_close(reduced.intercept_, ref_reduced.intercept_)


@pytest.mark.parametrize("n, p", [(20, 12), (30, 28), (200, 12)])
def test_bladen_design_near_collinear_ols_is_exact(n, p):
    X, y, X_eval, y_eval = bladen_problem(2, n, p)
    fast = linear_fitter_for(LinearRegression()).fit(X, y)
    assert fast.factorisation_ == "qr"  # condition number of the design above 1e3
    slow = SklearnFitter(LinearRegression()).fit(X, y)
    assert_close(fast.predict(X_eval), slow.predict(X_eval))
    for columns in ([0], [1, 3], list(range(2, p))):
        reduced = slow.refit_without(columns)
        assert_close(fast.refit_without(columns).predict(X_eval), reduced.predict(X_eval))
        regression = slow.regress_columns(columns).predict(X_eval)
        x_resid, y_resid = fast.residuals_without(X_eval, y_eval, columns)
        assert_close(x_resid, X_eval[:, columns] - regression)
        assert_close(y_resid, y_eval - reduced.predict(X_eval))


@pytest.mark.parametrize("estimator", [LinearRegression(), Ridge(alpha=2.0)], ids=repr)
def test_cholesky_and_qr_factorisations_agree(estimator, monkeypatch):
    X, y, X_eval, y_eval, w = random_problem(17)
    cholesky = linear_fitter_for(estimator).fit(X, y, w)
    assert cholesky.factorisation_ == "cholesky"
    monkeypatch.setattr("vimp._linear_fitter._CHOLESKY_MAX_CONDITION", 0.0)
    qr = linear_fitter_for(estimator).fit(X, y, w)
    assert qr.factorisation_ == "qr"
    assert_close(qr.G_, cholesky.G_, 1e-10)
    assert_close(qr.predict(X_eval), cholesky.predict(X_eval), 1e-12)
    assert_close(qr.residuals_without(X_eval, y_eval, [1, 2])[1],
                 cholesky.residuals_without(X_eval, y_eval, [1, 2])[1], 1e-10)


def _ridge_reference(X, y, alpha, keep, X_eval):
    """Ridge with intercept as least squares on the augmented, centred design (SVD solver)."""
    Xk = X[:, keep]
    mean = Xk.mean(axis=0)
    design = np.vstack([Xk - mean, np.sqrt(alpha) * np.eye(len(keep))])
    target = np.concatenate([y - y.mean(), np.zeros(len(keep))])
    beta = np.linalg.lstsq(design, target, rcond=None)[0]
    return (X_eval[:, keep] - mean) @ beta + y.mean()


@pytest.mark.parametrize("alpha", [1e-10, 10.0])
def test_bladen_design_ridge_is_exact(alpha):
    # p = n - 2 at delta = 0.99: scikit-learn's Ridge solves the normal equations (error ~ cond^2 eps), so
    # the reference here is least squares on the augmented design; Ridge itself is checked where it is
    # accurate (alpha = 10).
    n, p = 40, 38
    X, y, X_eval, _ = bladen_problem(3, n, p)
    fast = linear_fitter_for(Ridge(alpha=alpha)).fit(X, y)
    for columns in ([], [0], [1, 3]):
        keep = np.setdiff1d(np.arange(p), columns)
        got = fast.refit_without(columns).predict(X_eval) if columns else fast.predict(X_eval)
        assert_close(got, _ridge_reference(X, y, alpha, keep, X_eval))
        if alpha >= 1.0:
            sklearn_pred = Ridge(alpha=alpha).fit(X[:, keep], y).predict(X_eval[:, keep])
            assert_close(got, sklearn_pred)


def test_dataframe_input_and_column_names():
    X, y, X_eval, _, _ = random_problem(4)
    names = [f"f{j}" for j in range(X.shape[1])]
    frame, frame_eval = pd.DataFrame(X, columns=names), pd.DataFrame(X_eval, columns=names)
    fast = linear_fitter_for(LinearRegression()).fit(frame, y)
    slow = SklearnFitter(LinearRegression()).fit(frame, y)
    assert_close(fast.predict(frame_eval), slow.predict(frame_eval))
    assert_close(fast.refit_without([2]).predict(frame_eval), slow.refit_without([2]).predict(frame_eval))
    assert_close(fast.regress_columns([1, 2]).predict(frame_eval),
                 slow.regress_columns([1, 2]).predict(frame_eval))


def test_refit_permuted_equals_brute_force():
    X, y, X_eval, _, w = random_problem(5)
    perm = np.random.default_rng(5).permutation(len(y))
    for estimator in (LinearRegression(), make_pipeline(StandardScaler(), Ridge(alpha=5.0))):
        fast = linear_fitter_for(estimator).fit(X, y, w).refit_permuted([1, 2], perm)
        slow = SklearnFitter(estimator).fit(X, y, w).refit_permuted([1, 2], perm)
        assert isinstance(fast, LinearFitter)
        assert_close(fast.predict(X_eval), slow.predict(X_eval))


def test_regress_columns_with_another_estimator_falls_back_to_sklearn():
    X, y, X_eval, _, w = random_problem(6)
    fast = linear_fitter_for(LinearRegression()).fit(X, y, w)
    slow = SklearnFitter(LinearRegression()).fit(X, y, w)
    for other in (Ridge(alpha=5.0), Lasso(alpha=0.1)):
        expected = slow.regress_columns([0, 3], other).predict(X_eval)
        assert_close(fast.regress_columns([0, 3], other).predict(X_eval), expected)
    # An equivalent estimator is answered in closed form.
    same = fast.regress_columns([0, 3], make_pipeline(StandardScaler(), LinearRegression()))
    assert not isinstance(same, type(slow.regress_columns([0, 3])))
    assert_close(same.predict(X_eval), slow.regress_columns([0, 3]).predict(X_eval))


# ----------------------------------------------------------------------------- permutation and kernels
@pytest.mark.parametrize("estimator", [LinearRegression(), make_pipeline(StandardScaler(), Ridge(alpha=3.0))],
                         ids=repr)
def test_predict_permuted_is_the_generic_answer(estimator):
    X, y, X_eval, _, _ = random_problem(7)
    fast = linear_fitter_for(estimator).fit(X, y)
    perm = np.random.default_rng(7).permutation(len(X_eval))
    for columns in GROUPS:
        assert_close(fast.predict_permuted(X_eval, columns, perm),
                     Fitter.predict_permuted(fast, X_eval, columns, perm), 1e-12)


@pytest.mark.parametrize("loss_name", ["squared_error", "absolute_error"])
def test_permutation_losses_kernel_equals_generic_path(loss_name):
    X, y, X_eval, y_eval, w = random_problem(8, n=300)
    loss = LOSSES[loss_name]
    fast = linear_fitter_for(Ridge(alpha=1.0)).fit(X, y)
    slow = SklearnFitter(Ridge(alpha=1.0)).fit(X, y)
    rng = np.random.default_rng(8)
    perms = np.vstack([rng.permutation(len(y_eval)) for _ in range(4)])
    for columns in GROUPS:
        obs, rep = fast.permutation_losses(X_eval, y_eval, columns, perms, loss)
        obs_generic, rep_generic = Fitter.permutation_losses(slow, X_eval, y_eval, columns, perms, loss)
        assert_close(obs, obs_generic, 1e-10)
        assert_close(rep, rep_generic, 1e-10)
        # weights and custom losses take the generic path
        obs_w, rep_w = fast.permutation_losses(X_eval, y_eval, columns, perms, loss, sample_weight=w)
        obs_w_generic, rep_w_generic = Fitter.permutation_losses(slow, X_eval, y_eval, columns, perms, loss,
                                                                 sample_weight=w)
        assert_close(obs_w, obs_w_generic, 1e-10)
        assert_close(rep_w, rep_w_generic, 1e-10)


@pytest.mark.parametrize("loss", [LOSSES["squared_error"], LOSSES["absolute_error"],
                                  Loss("quartic", lambda y, pred: (y - pred) ** 4)], ids=lambda l: l.name)
def test_permutation_terms_equal_generic_path(loss):
    X, y, X_eval, y_eval, w = random_problem(18, n=200)
    fast = linear_fitter_for(LinearRegression()).fit(X, y)
    slow = SklearnFitter(LinearRegression()).fit(X, y)
    rng = np.random.default_rng(18)
    perms = np.vstack([rng.permutation(len(y_eval)) for _ in range(3)])
    for weights in (None, w):
        for columns in GROUPS:
            got = fast.permutation_terms(X_eval, y_eval, columns, perms, loss, sample_weight=weights)
            expected = Fitter.permutation_terms(slow, X_eval, y_eval, columns, perms, loss, sample_weight=weights)
            assert len(got) == len(expected)
            for a, b in zip(got, expected):
                assert_close(a, b, 1e-10)


@pytest.mark.parametrize("loss", [LOSSES["squared_error"], LOSSES["absolute_error"],
                                  Loss("quartic", lambda y, pred: (y - pred) ** 4)], ids=lambda l: l.name)
def test_drop_losses_equal_brute_force(loss):
    X, y, X_eval, y_eval, w = random_problem(9)
    fast = linear_fitter_for(LinearRegression()).fit(X, y, w)
    slow = SklearnFitter(LinearRegression()).fit(X, y, w)
    for columns in GROUPS:
        assert_close(fast.drop_losses(X_eval, y_eval, columns, loss),
                     slow.refit_without(columns).losses(X_eval, y_eval, loss), 1e-10)
    every = fast.drop_one_losses(X_eval, y_eval, loss)
    for j in range(X.shape[1]):
        assert_close(every[:, j], slow.refit_without([j]).losses(X_eval, y_eval, loss), 1e-10)


# ----------------------------------------------------------------------------- degenerate designs
def rank_deficient_problem(kind, seed=10):
    """Designs that scikit-learn's LinearRegression fits by truncated (minimum-norm) least squares."""
    rng = np.random.default_rng(seed)
    n, p = (12, 16) if kind == "p>n" else (60, 5)
    X, X_eval = rng.normal(size=(n, p)), rng.normal(size=(40, p))
    if kind == "collinear":  # an exact linear combination of two other columns
        X[:, 3], X_eval[:, 3] = X[:, 0] - 2.0 * X[:, 1], X_eval[:, 0] - 2.0 * X_eval[:, 1]
    elif kind == "duplicate":
        X[:, 4], X_eval[:, 4] = X[:, 2], X_eval[:, 2]
    elif kind == "scales":  # singular values 1e-8 apart: below LinearRegression's tol=1e-6
        X[:, 0] *= 1e-4
        X[:, 1] *= 1e4
        X_eval[:, 0] *= 1e-4
        X_eval[:, 1] *= 1e4
    y = X[:, 2] - X[:, 3] + 1e3 * X[:, 0] + rng.normal(size=n)
    y_eval = X_eval[:, 2] - X_eval[:, 3] + 1e3 * X_eval[:, 0] + rng.normal(size=40)
    weights = rng.uniform(0.2, 2.0, size=n)
    return X, y, X_eval, y_eval, weights


RANK_DEFICIENT = ["p>n", "collinear", "duplicate", "scales"]
LEAST_SQUARES = [LinearRegression(), LinearRegression(fit_intercept=False),
                 make_pipeline(StandardScaler(), LinearRegression()),
                 make_pipeline(StandardScaler(), LinearRegression(fit_intercept=False))]


def fit_warning_free_or_not(estimator, kind, X, y, w):
    """Fit through make_fitter; a standardised design on different column scales is not deficient."""
    fitter = make_fitter(estimator)
    if kind == "scales" and isinstance(estimator, Pipeline):
        return fitter.fit(X, y, w)  # warning-free (the test config turns VimpWarnings into errors)
    with pytest.warns(vimp.RankDeficiencyWarning, match="minimum-norm least-squares"):
        return fitter.fit(X, y, w)


# The fallback solves the same least-squares problems as scikit-learn with the same LAPACK routine
# (gelsd, same cutoff): agreement to rounding, well inside RTOL = 1e-8 of the largest expected value.
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("estimator", LEAST_SQUARES, ids=repr)
@pytest.mark.parametrize("kind", RANK_DEFICIENT)
def test_rank_deficient_least_squares_equals_sklearn_everywhere(kind, estimator, weighted):
    X, y, X_eval, y_eval, w = rank_deficient_problem(kind)
    w = w if weighted else None
    fast = fit_warning_free_or_not(estimator, kind, X, y, w)
    slow = SklearnFitter(estimator).fit(X, y, w)
    p = X.shape[1]
    groups = [[0], [3], [1, 4], [2, 4], list(range(1, p))]
    loss = LOSSES["squared_error"]
    rng = np.random.default_rng(3)
    perms = np.vstack([rng.permutation(len(y_eval)) for _ in range(3)])
    eval_weights = rng.uniform(0.5, 1.5, size=len(y_eval))
    assert_close(fast.predict(X_eval), slow.predict(X_eval))
    for columns in groups:
        reduced = slow.refit_without(columns)
        regression = slow.regress_columns(columns).predict(X_eval)
        assert_close(fast.refit_without(columns).predict(X_eval), reduced.predict(X_eval))
        assert_close(fast.regress_columns(columns).predict(X_eval), regression)
        x_resid, y_resid = fast.residuals_without(X_eval, y_eval, columns)
        # an exactly collinear column's residual is zero up to rounding: compare on the column's scale
        assert_close_on_scale(x_resid, X_eval[:, columns] - regression, X_eval[:, columns])
        assert_close(y_resid, y_eval - reduced.predict(X_eval))
        assert_close(fast.drop_losses(X_eval, y_eval, columns, loss), reduced.losses(X_eval, y_eval, loss))
        assert_close(fast.predict_permuted(X_eval, columns, perms[0]),
                     slow.predict_permuted(X_eval, columns, perms[0]))
        for weights in (None, eval_weights):
            for a, b in zip(fast.permutation_terms(X_eval, y_eval, columns, perms, loss, sample_weight=weights),
                            Fitter.permutation_terms(slow, X_eval, y_eval, columns, perms, loss,
                                                     sample_weight=weights)):
                assert_close(a, b)
    perm = np.random.default_rng(4).permutation(len(y))
    assert_close(fast.refit_permuted([1, 2], perm).predict(X_eval),
                 slow.refit_permuted([1, 2], perm).predict(X_eval))
    grouped = fast.permutation_terms_groups(X_eval, y_eval, groups[:2], [perms, perms], loss)
    for got, columns in zip(grouped, groups[:2]):
        for a, b in zip(got, Fitter.permutation_terms(slow, X_eval, y_eval, columns, perms, loss)):
            assert_close(a, b)
    every = fast.drop_one_losses(X_eval, y_eval, loss)
    both = fast.residuals_each(X_eval, y_eval)
    assert both is not None or fast.factorisation_ != "lstsq"  # None: scaler without intercept, fast path
    for j in range(p):
        reduced = slow.refit_without([j])
        assert_close(every[:, j], reduced.losses(X_eval, y_eval, loss))
        if both is not None:
            assert_close(both[1][:, j], y_eval - reduced.predict(X_eval))
            assert_close_on_scale(both[0][:, j], X_eval[:, j] - slow.regress_columns([j]).predict(X_eval)[:, 0],
                                  X_eval[:, j])


@pytest.mark.parametrize("kind", RANK_DEFICIENT)
def test_coefficients_are_sklearns_minimum_norm_solution(kind):
    X, y, _, _, w = rank_deficient_problem(kind)
    for weights in (None, w):
        with pytest.warns(vimp.RankDeficiencyWarning):
            fast = make_fitter(LinearRegression()).fit(X, y, weights)
        assert fast.factorisation_ == "lstsq"
        ref = LinearRegression().fit(X, y, sample_weight=weights)
        assert_close(fast.coef_, ref.coef_)
        assert_close(fast.intercept_, ref.intercept_, 1e-8 * max(1.0, np.abs(ref.coef_).max()))


def test_rank_deficiency_warning_names_the_columns_once_per_fit_at_the_callers_line():
    X, y, X_eval, y_eval, _ = rank_deficient_problem("collinear")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "e"])
    with pytest.warns(vimp.RankDeficiencyWarning) as record:
        fitter = make_fitter(LinearRegression()).fit(frame, y)
        fitter.refit_without([0])
        fitter.regress_columns([1, 2])
        fitter.residuals_each(X_eval, y_eval)
        fitter.drop_one_losses(X_eval, y_eval, LOSSES["squared_error"])
        fitter.refit_permuted([0], np.arange(len(y))[::-1])
    assert len(record) == 1  # the fit warns; its refits do not
    message = str(record[0].message)
    assert "columns ['a', 'b', 'd'] (positions [0, 1, 3]) are collinear" in message
    assert "numerical rank 4 < 5" in message
    assert record[0].filename == __file__
    with pytest.warns(vimp.RankDeficiencyWarning, match=r"more non-constant columns \(16\) than rows with "
                      r"positive weight \(12\)"):
        make_fitter(LinearRegression()).fit(*rank_deficient_problem("p>n")[:2])
    with pytest.warns(vimp.RankDeficiencyWarning, match=r"columns \['x0'\] \(positions \[0\]\)"):
        make_fitter(LinearRegression()).fit(*rank_deficient_problem("scales")[:2])


def test_full_rank_designs_keep_the_one_factorisation_path():
    # The fast path is kept (and nothing warns) wherever scikit-learn does not truncate: a scaler in front
    # evens out the column scales, and ridge is always identified, p > n included.
    X, y, X_eval, _, _ = rank_deficient_problem("scales")
    fast = make_fitter(make_pipeline(StandardScaler(), LinearRegression())).fit(X, y)
    assert fast.factorisation_ in ("cholesky", "qr")
    X, y, X_eval, y_eval, w = rank_deficient_problem("p>n")
    for estimator in (Ridge(alpha=1.0), make_pipeline(StandardScaler(), Ridge(alpha=1.0))):
        for weights in (None, w):
            fast = make_fitter(estimator).fit(X, y, weights)
            slow = SklearnFitter(estimator).fit(X, y, weights)
            assert fast.factorisation_ in ("cholesky", "qr")
            for columns in ([0], [3, 4]):
                assert_close(fast.refit_without(columns).predict(X_eval),
                             slow.refit_without(columns).predict(X_eval))
                assert_close(fast.residuals_without(X_eval, y_eval, columns)[0],
                             X_eval[:, columns] - slow.regress_columns(columns).predict(X_eval))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # scikit-learn's, at 1e300
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("factor", [1e300, 1e-200])
def test_extreme_scales_fit_as_sklearn_or_raise_naming_X(factor):
    X, y, X_eval, y_eval, w = random_problem(19)
    X, X_eval = X * factor, X_eval * factor
    for weights in (None, w):
        fast = make_fitter(LinearRegression()).fit(X, y, weights)  # full rank: no warning
        slow = SklearnFitter(LinearRegression()).fit(X, y, weights)
        assert fast.factorisation_ == "lstsq"
        assert_close(fast.predict(X_eval), slow.predict(X_eval))
        assert_close(fast.refit_without([1]).predict(X_eval), slow.refit_without([1]).predict(X_eval))
        assert_close(fast.residuals_without(X_eval, y_eval, [2])[0],
                     X_eval[:, [2]] - slow.regress_columns([2]).predict(X_eval))
    if factor > 1:
        # scikit-learn's StandardScaler overflows here (and its pipeline then refuses NaN): a clear error
        with pytest.raises(ValueError, match="^X: the StandardScaler"):
            make_fitter(make_pipeline(StandardScaler(), LinearRegression())).fit(X, y)
        with pytest.raises(ValueError, match="^X: .*rescale X"):
            make_fitter(Ridge(alpha=1.0)).fit(X, y)
        with pytest.raises(ValueError, match="^X: .*overflows"):
            make_fitter(LinearRegression()).fit(np.vstack([X, X * 1e8]), np.concatenate([y, y]))


@pytest.mark.parametrize("kind", ["p>n", "collinear"])
def test_estimators_on_rank_deficient_designs_equal_sklearn_fitter(kind):
    X, y, X_eval, y_eval, _ = rank_deficient_problem(kind)
    slow_estimator = SklearnFitter(LinearRegression())
    cases = [
        (lambda e: vimp.LOCO(e, random_state=0), True),
        (lambda e: vimp.PermutationImportance(e, n_permutations=3, random_state=0), True),
        (lambda e: vimp.GCM(e, cv=3, random_state=0), False),
    ]
    for make, held_out in cases:
        with warnings.catch_warnings():
            # GCM's x-regressions of independent columns on many others can have R^2 < -0.05 at n = 60:
            # not what this test is about (and the same for both fitters)
            warnings.simplefilter("ignore", vimp.NuisanceQualityWarning)
            with pytest.warns(vimp.RankDeficiencyWarning) as record:
                fast = make(LinearRegression()).fit(X, y)
            slow = make(slow_estimator).fit(X, y)
            a = fast.importance(X_eval, y_eval) if held_out else fast.importance()
            b = slow.importance(X_eval, y_eval) if held_out else slow.importance()
        # through the estimators too, the warning points at the line that called fit
        assert {r.filename for r in record if r.category is vimp.RankDeficiencyWarning} == {__file__}
        scale = np.max(np.abs(b.per_observation))
        np.testing.assert_allclose(a.per_observation, b.per_observation, rtol=0, atol=1e-8 * scale)
        np.testing.assert_allclose(a.importance, b.importance, rtol=0, atol=1e-8 * scale)
        np.testing.assert_allclose(a.std_error, b.std_error, rtol=0, atol=1e-8 * scale)


def test_constant_column_gets_coefficient_zero():
    X, y, X_eval, y_eval, _ = random_problem(12)
    X[:, 2] = 3.0
    fast = linear_fitter_for(LinearRegression()).fit(X, y)
    slow = SklearnFitter(LinearRegression()).fit(X, y)
    assert fast.coef_[2] == 0.0
    assert_close(fast.predict(X_eval), slow.predict(X_eval))
    for columns in ([2], [1, 2], [0]):
        assert_close(fast.refit_without(columns).predict(X_eval), slow.refit_without(columns).predict(X_eval))
        assert_close(fast.regress_columns(columns).predict(X_eval),
                     slow.regress_columns(columns).predict(X_eval))
        x_resid, y_resid = fast.residuals_without(X_eval, y_eval, columns)
        assert_close(y_resid, y_eval - slow.refit_without(columns).predict(X_eval))


@pytest.mark.parametrize("estimator", [LinearRegression(fit_intercept=False), Ridge(alpha=2.0, fit_intercept=False)],
                         ids=repr)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_constant_column_without_intercept_is_the_intercept(estimator, weighted):
    # Without an intercept a constant column carries the intercept: dropping it is a real refit (here the
    # response has mean 5, so the loss rises by about 25), computed as a brute-force refit does.
    rng = np.random.default_rng(20)
    X, X_eval = rng.normal(size=(100, 4)), rng.normal(size=(60, 4))
    X[:, 2] = X_eval[:, 2] = 1.0
    y = X[:, 0] + 5.0 + rng.normal(size=100)
    y_eval = X_eval[:, 0] + 5.0 + rng.normal(size=60)
    w = rng.uniform(0.2, 2.0, size=100) if weighted else None
    loss = LOSSES["squared_error"]
    fast = make_fitter(estimator).fit(X, y, w)
    assert fast.active_[2] and fast.coef_[2] != 0.0
    keep = [0, 1, 3]
    brute = clone(estimator).fit(X[:, keep], y, sample_weight=w)
    brute_losses = (y_eval - brute.predict(X_eval[:, keep])) ** 2
    assert_close(fast.refit_without([2]).predict(X_eval), brute.predict(X_eval[:, keep]))
    assert_close(fast.drop_losses(X_eval, y_eval, [2], loss), brute_losses)
    assert_close(fast.drop_one_losses(X_eval, y_eval, loss)[:, 2], brute_losses)
    increase = brute_losses.mean() - fast.losses(X_eval, y_eval, loss).mean()
    assert increase > 15.0  # about 5^2 = 25 (noise variance 1: far from 0)
    x_brute = X_eval[:, 2] - clone(estimator).fit(X[:, keep], X[:, 2], sample_weight=w).predict(X_eval[:, keep])
    x_resid, y_resid = fast.residuals_without(X_eval, y_eval, [2])
    assert_close(x_resid[:, 0], x_brute)
    assert_close(y_resid, y_eval - brute.predict(X_eval[:, keep]))
    x_all, y_all = fast.residuals_each(X_eval, y_eval)
    assert_close(x_all[:, 2], x_brute)
    assert_close(y_all[:, 2], y_resid)


def test_constant_column_after_a_scaler_without_intercept_is_uninformative():
    # A StandardScaler centres a constant column to zero: then it carries nothing, intercept or not.
    rng = np.random.default_rng(21)
    X = rng.normal(size=(80, 3))
    X[:, 1] = 4.0
    y = X[:, 0] + 3.0 + rng.normal(size=80)
    estimator = make_pipeline(StandardScaler(), LinearRegression(fit_intercept=False))
    fast = make_fitter(estimator).fit(X, y)
    assert not fast.active_[1] and fast.coef_[1] == 0.0
    assert_close(fast.refit_without([1]).predict(X), SklearnFitter(estimator).fit(X, y).refit_without([1]).predict(X))


def test_invalid_parameters_name_themselves():
    X, y, _, _, _ = random_problem(13)
    with pytest.raises(ValueError, match="alpha"):
        LinearFitter(alpha=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="sample_weight"):
        LinearFitter().fit(X, y, -np.ones(len(y)))
    fitter = LinearFitter().fit(X, y)
    with pytest.raises(ValueError, match="columns"):
        fitter.refit_without([X.shape[1]])
    with pytest.raises(ValueError, match="X has 2 columns"):
        fitter.predict(X[:, :2])


# ----------------------------------------------------------------------------- end to end
def test_loco_with_linear_fitter_equals_generic_refits():
    X, y, X_eval, y_eval, _ = random_problem(14, n=200)
    groups = {"a": [0], "bc": [1, 2], "d": [3], "ef": [4, 5]}
    for kwargs in ({}, {"groups": groups}, {"loss": "absolute_error"}):
        fast = vimp.LOCO(LinearRegression(), random_state=0, **kwargs).fit(X, y)
        slow = vimp.LOCO(OpaqueLinearRegression(), random_state=0, **kwargs).fit(X, y)
        assert isinstance(fast.fitters_[0], LinearFitter)
        assert isinstance(slow.fitters_[0], SklearnFitter)
        a, b = fast.importance(X_eval, y_eval), slow.importance(X_eval, y_eval)
        assert_close(a.importance, b.importance)
        assert_close(a.std_error, b.std_error)
    fast = vimp.LOCO(LinearRegression(), cv=2, refit="permute", random_state=0).fit(X, y)
    slow = vimp.LOCO(OpaqueLinearRegression(), cv=2, refit="permute", random_state=0).fit(X, y)
    assert_close(fast.importance().importance, slow.importance().importance)


def test_permutation_importance_with_linear_fitter_equals_generic_path():
    X, y, X_eval, y_eval, w = random_problem(15, n=200)
    for kwargs in ({}, {"groups": {"ab": [0, 1], "c": [2]}}):
        fast = vimp.PermutationImportance(LinearRegression(), n_permutations=3, random_state=0, **kwargs)
        slow = vimp.PermutationImportance(OpaqueLinearRegression(), n_permutations=3, random_state=0, **kwargs)
        fast.fit(X, y)
        slow.fit(X, y)
        for weights in (None, w):
            a = fast.importance(X_eval, y_eval, sample_weight=weights)
            b = slow.importance(X_eval, y_eval, sample_weight=weights)
            assert_close(a.importance, b.importance)
            assert_close(a.per_repeat, b.per_repeat)


@pytest.mark.parametrize("make", [
    lambda: LinearRegression(), lambda: LinearRegression(fit_intercept=False), lambda: Ridge(alpha=3.0),
    lambda: make_pipeline(StandardScaler(), Ridge(alpha=2.0)),
])
def test_residuals_each_equals_residuals_without_column_by_column(make):
    rng = np.random.default_rng(44)
    X = rng.normal(size=(200, 6))
    X[:, 3] = 2.0  # a constant column
    y = X[:, 0] - X[:, 2] + rng.normal(size=200)
    fitter = make_fitter(make()).fit(X[:150], y[:150])
    x_all, y_all = fitter.residuals_each(X[150:], y[150:])
    for j in range(6):
        x_one, y_one = fitter.residuals_without(X[150:], y[150:], [j])
        np.testing.assert_allclose(x_all[:, j], x_one[:, 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(y_all[:, j], y_one, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [
    lambda: LinearRegression(), lambda: Ridge(alpha=3.0), lambda: make_pipeline(StandardScaler(), Ridge(alpha=2.0)),
    lambda: LinearRegression(fit_intercept=False),
])
@pytest.mark.parametrize("chunk", [7, 1024])
def test_residuals_fold_into_equals_residuals_each_of_the_fold(make, chunk, monkeypatch):
    # The fold's rows gathered chunk by chunk from the full data (chunk 7: several chunks and a short
    # last one) give the residuals of residuals_each on a copy of the fold, in the same rows.
    import vimp._linear_fitter as lf

    monkeypatch.setattr(lf, "RESIDUAL_CHUNK", chunk)
    rng = np.random.default_rng(45)
    X = rng.normal(size=(120, 5))
    y = X[:, 0] - 2.0 * X[:, 4] + rng.normal(size=120)
    fitter = make_fitter(make()).fit(X[:70], y[:70])
    rows = np.sort(rng.permutation(120)[:50])
    want = fitter.residuals_each(X[rows], y[rows])
    out = (np.full((120, 5), -1.0), np.full((120, 5), -1.0))
    for source in (X, pd.DataFrame(X)):  # a DataFrame goes through residuals_each on its rows
        got = fitter.residuals_fold_into(source, y, rows, out)
        assert got is out
        for a, b in zip(got, want):
            np.testing.assert_allclose(a[rows], b, rtol=1e-12, atol=1e-14)
        untouched = np.setdiff1d(np.arange(120), rows)
        assert np.all(out[0][untouched] == -1.0) and np.all(out[1][untouched] == -1.0)


def test_fit_folds_first_fold_shift_is_numpys_mean():
    # fit_folds takes the common shift from the compiled gather (zero shift): its column sums divided by
    # the row count must be NumPy's mean of the fold's rows bit for bit (NumPy sums axis 0 of a C array
    # row after row), so the moment path's numbers did not move when the copy was dropped.
    from vimp._kernels import gather_shifted_rows

    rng = np.random.default_rng(46)
    X = rng.normal(size=(1000, 7)) * rng.uniform(0.1, 100.0, size=7) + 3.0
    rows = rng.permutation(1000)[:317].astype(np.intp)
    p = X.shape[1]
    total = np.empty(p)
    gather_shifted_rows(X, rows, np.zeros(p), np.empty((317, p)), np.empty(p), np.empty(p), total)
    np.testing.assert_array_equal(total / 317, X[rows].mean(axis=0))
