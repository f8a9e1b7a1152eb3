"""The fast path of ``monte_carlo`` (``vimp.simulation._fast``): the generic path's table, faster.

Every test compares the table of the fast path with the generic path's for the same seeds, on every
column: the labels and seeds exactly, the numbers to 1e-10 relative (measured: at most about 1e-11;
the two paths solve the same least-squares problems in a different order of operations), NaN where
and only where the other has NaN.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold

import vimp.simulation._fast as fast
import vimp.simulation._runner as runner
from vimp import GCM, LOCO, PermutationImportance
from vimp.simulation import (
    Additive,
    BladenDesign,
    EquicorrelatedLinear,
    LinearGaussian,
    monte_carlo,
    run_replicate,
)

NUMBERS = ["importance", "std_error", "ci_low", "ci_high", "pvalue", "truth"]
LABELS = ["replicate", "estimator", "feature", "seed"]


def _generic(monkeypatch, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(fast, "plan", lambda spec: None)
        return monte_carlo(**kwargs)


def _assert_same(fast_table, generic_table):
    assert list(fast_table.columns) == list(generic_table.columns)
    assert len(fast_table) == len(generic_table)
    pd.testing.assert_frame_equal(fast_table[LABELS], generic_table[LABELS], check_exact=True)
    for column in NUMBERS:
        a, b = fast_table[column].to_numpy(), generic_table[column].to_numpy()
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=column)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-300, err_msg=column)
    assert fast_table.dtypes.equals(generic_table.dtypes)


def _all_estimators(intercept=True):
    ols = LinearRegression(fit_intercept=intercept)
    return {
        "pap": PermutationImportance(ols, n_permutations=3),
        "pap_uniform_sqrt": PermutationImportance(ols, permutation="uniform", scale="sqrt",
                                                  shared_permutations=True),
        "loco": LOCO(ols),
        "loco_permute": LOCO(ols, refit="permute", scale="sqrt", level=0.9),
        "loco_paired": LOCO(ols, test="paired"),
        "gcm": GCM(ols, nuisance_check=intercept),
    }


def _uses_fast(dgp, estimators, n, validation="independent"):
    return runner._spec(dgp, estimators, n, 1, validation, None)["fast"] is not None


DGPS = [
    EquicorrelatedLinear(4, 0.5, [1.0, 0.5, 0.0, 1.0]),
    BladenDesign(3, 0.5),
    LinearGaussian([[1.0, 0.3], [0.3, 2.0]], [0.0, 1.0], noise_sd=0.5),
]


@pytest.mark.parametrize("validation", ["independent", "holdout", "cv"])
@pytest.mark.parametrize("dgp", DGPS, ids=lambda d: type(d).__name__)
@pytest.mark.parametrize("intercept", [True, False])
def test_fast_table_equals_generic_table(monkeypatch, dgp, validation, intercept):
    kwargs = dict(dgp=dgp, estimators=_all_estimators(intercept), n=40, reps=5, random_state=11,
                  validation=validation)
    assert _uses_fast(dgp, kwargs["estimators"], 40, validation)
    _assert_same(monte_carlo(**kwargs), _generic(monkeypatch, **kwargs))


def test_fast_table_equals_generic_table_for_a_subset_of_features(monkeypatch):
    kwargs = dict(dgp=EquicorrelatedLinear(5, 0.3, [1.0, 0.0, 2.0, 0.5, 1.0]), estimators=_all_estimators(),
                  n=50, reps=4, random_state=2, features=["x3", "x0"])
    _assert_same(monte_carlo(**kwargs), _generic(monkeypatch, **kwargs))


def test_fast_table_equals_generic_table_at_bladen_size(monkeypatch):
    # Bladen et al.'s smallest setting: n = 20, p = 6, noise 0.01, one feature; and at delta = 0.9 the
    # collinear designs, some of which go to the generic path by the conditioning rule.
    estimators = {"pap": PermutationImportance(LinearRegression(), permutation="uniform", scale="sqrt"),
                  "loco": LOCO(LinearRegression(), scale="sqrt")}
    for delta in (0.1, 0.9):
        kwargs = dict(dgp=BladenDesign(6, delta), estimators=estimators, n=20, reps=10, random_state=5,
                      features=["x0"])
        _assert_same(monte_carlo(**kwargs), _generic(monkeypatch, **kwargs))


def test_run_replicate_and_chunking_give_the_same_rows():
    kwargs = dict(dgp=BladenDesign(3, 0.5), estimators=_all_estimators(), n=30, reps=6, random_state=4)
    table = monte_carlo(**kwargs)
    pd.testing.assert_frame_equal(monte_carlo(chunk_size=1, **kwargs), table, check_exact=True)
    row = table[table["replicate"] == 3]
    again = run_replicate(kwargs["dgp"], kwargs["estimators"], 30, int(row["seed"].iloc[0]), replicate=3)
    pd.testing.assert_frame_equal(again, row.reset_index(drop=True), check_exact=True)


def test_a_replicate_the_fast_path_refuses_is_computed_by_the_generic_path(monkeypatch):
    # The compiled fit of the chunk hands every replicate to the fitter's own LAPACK path (as it does
    # where the design is not well conditioned), which refuses every other one: the table must still be
    # the generic one.
    original = fast._fit
    real_fit_chunk = fast._fit_chunk
    calls = {"n": 0}

    def sometimes_refuse(*args):
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            raise fast._Fallback
        return original(*args)

    def nothing_compiled(*args):
        out = real_fit_chunk(*args)
        out[0][:] = False
        return out

    kwargs = dict(dgp=BladenDesign(3, 0.5), estimators=_all_estimators(), n=30, reps=6, random_state=8)
    generic = _generic(monkeypatch, **kwargs)
    monkeypatch.setattr(fast, "_fit", sometimes_refuse)
    monkeypatch.setattr(fast, "_fit_chunk", nothing_compiled)
    _assert_same(monte_carlo(**kwargs), generic)
    assert calls["n"] >= 6


@pytest.mark.parametrize("check", ["_zero_at_rounding", "_nuisance_limit"])
def test_a_replicate_the_compiled_checks_refuse_is_computed_by_the_generic_path(monkeypatch, check):
    # Every other replicate of the compiled chunk flagged (differences at rounding level; a nuisance
    # check close to flagging): those replicates come from the generic path, the others do not.
    estimators = _all_estimators()
    kwargs = dict(dgp=EquicorrelatedLinear(3, 0.5, 1.0), estimators=estimators, n=40, reps=6, random_state=2)
    generic = _generic(monkeypatch, **kwargs)
    handed_over = []
    real_generic = runner._generic_replicate

    def counting_generic(spec, replicate, seed):
        handed_over.append(replicate)
        return real_generic(spec, replicate, seed)

    if check == "_zero_at_rounding":
        def flag(low, high, full, other_max):
            return np.arange(len(low)) % 2 == 1
    else:
        def flag(tests):
            return -np.inf
    monkeypatch.setattr(fast, check, flag)
    monkeypatch.setattr(runner, "_generic_replicate", counting_generic)
    _assert_same(monte_carlo(**kwargs), generic)
    assert sorted(handed_over) == ([1, 3, 5] if check == "_zero_at_rounding" else list(range(6)))


def test_a_nuisance_check_near_its_level_hands_the_replicate_to_the_generic_path(monkeypatch):
    # OLS passes the check against the mean baseline in these designs (no warning either way); force
    # "close to flagging" on every replicate and count the replicates the generic path computes.
    kwargs = dict(dgp=EquicorrelatedLinear(3, 0.5, 1.0), estimators={"gcm": GCM(LinearRegression())}, n=40,
                  reps=4, random_state=0)
    generic = _generic(monkeypatch, **kwargs)
    calls = []
    original = runner._generic_replicate

    def counted(spec, replicate, seed):
        calls.append(replicate)
        return original(spec, replicate, seed)

    monkeypatch.setattr(runner, "_generic_replicate", counted)
    _assert_same(monte_carlo(**kwargs), generic)
    assert calls == []  # not close: all fast
    monkeypatch.setattr(fast, "_nuisance_limit", lambda tests: -np.inf)
    _assert_same(monte_carlo(**kwargs), generic)
    assert sorted(calls) == [0, 1, 2, 3]


@pytest.mark.parametrize("estimators, validation", [
    ({"pap": PermutationImportance(LinearRegression(), loss="absolute_error")}, "independent"),
    ({"loco": LOCO(LinearRegression(), groups={"a": [0, 1]})}, "independent"),
    ({"loco": LOCO(LinearRegression(), test="split")}, "independent"),
    ({"loco": LOCO(LinearRegression(), scale="ratio")}, "independent"),
    ({"gcm": GCM(LinearRegression(fit_intercept=False))}, "independent"),  # nuisance check, no intercept
    ({"gcm": GCM(LinearRegression(), scale="loco")}, "independent"),
    ({"gcm": GCM(LinearRegression(), test="max")}, "independent"),
    ({"ridge": LOCO(Ridge(1.0))}, "independent"),
    ({"loco": LOCO(LinearRegression(), cv=KFold(3))}, "cv"),
    ({"pap": PermutationImportance(LinearRegression(), cv=3, test="paired-skew")}, "cv"),
])
def test_options_not_covered_take_the_generic_path(estimators, validation):
    assert runner._spec(BladenDesign(3, 0.5), estimators, 40, 1, validation, None)["fast"] is None


def test_other_dgps_take_the_generic_path():
    dgp = Additive([np.sin, None, lambda x: x])
    assert runner._spec(dgp, {"loco": LOCO(LinearRegression())}, 40, 1, "independent", None)["fast"] is None


def test_patched_estimators_take_the_generic_path(monkeypatch):
    assert _uses_fast(BladenDesign(3, 0.5), {"pap": PermutationImportance(LinearRegression())}, 40)
    monkeypatch.setattr(PermutationImportance, "importance", lambda self, *a, **k: None)
    assert not _uses_fast(BladenDesign(3, 0.5), {"pap": PermutationImportance(LinearRegression())}, 40)


# ------------------------------------------------------------------------------------------------ kernel
def _kernel_inputs(n, k, R, seed, kind="derangement"):
    from vimp._split import draw_permutations

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, k))
    coef = rng.standard_normal(k)
    y = X @ coef + rng.standard_normal(n)
    pred = X @ (coef + 0.1 * rng.standard_normal(k)) + 0.05
    full = (y - pred) ** 2
    perms = np.stack([draw_permutations(rng, n, R, kind=kind) for _ in range(k)])
    return y, pred, full, np.ascontiguousarray(X), coef, perms


@pytest.mark.parametrize("n, k, R, kind", [(30, 3, 1, "uniform"), (12, 1, 7, "derangement"),
                                            (200, 4, 10, "derangement"), (10, 2, 3, "derangement")])
def test_pap_kernel_equals_its_twin_and_its_python_function(n, k, R, kind):
    from vimp._kernels.simulation_nb import pap_replicate_stats, pap_replicate_stats_reference

    args = _kernel_inputs(n, k, R, n + k + R, kind)
    compiled = pap_replicate_stats(*args)
    python = getattr(pap_replicate_stats, "py_func", pap_replicate_stats)  # NUMBA_DISABLE_JIT=1: no py_func
    for other in (pap_replicate_stats_reference(*args), python(*args)):
        for a, b in zip(compiled, other):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)
    again = pap_replicate_stats(*args)  # deterministic: bit for bit
    for a, b in zip(compiled, again):
        np.testing.assert_array_equal(a, b)


def test_pap_kernel_equals_the_estimators_functions():
    # The fitter's kernel (pap_linear_terms) and vimp._inference.permutation_mean_se, feature by feature.
    from vimp._inference import mean_and_se, permutation_mean_se
    from vimp._kernels import LOSS_SQUARED, pap_linear_terms
    from vimp._kernels.simulation_nb import pap_replicate_stats

    y, pred, full, X, coef, perms = _kernel_inputs(150, 3, 5, 0)
    raw, raw_se, se, skew, dof, low, high, other_max = pap_replicate_stats(y, pred, full, X, coef, perms)
    for g in range(3):
        other, _, donor, square, donor_full, donor_weight = pap_linear_terms(
            y, pred, np.ascontiguousarray(X[:, g:g + 1]), coef[g:g + 1].copy(), perms[g], np.ones(150), full,
            LOSS_SQUARED)
        mean, plain = mean_and_se(other - full)
        want = permutation_mean_se(full, other, donor, square, donor_full, donor_weight, None, 5.0, 1.0, mean,
                                   return_skewness=True)
        np.testing.assert_allclose([raw[g], raw_se[g], se[g], skew[g], dof[g]], [mean, plain, *want],
                                   rtol=1e-12)
        np.testing.assert_allclose([low[g], high[g]], [np.min(other - full), np.max(other - full)], rtol=1e-12)


@pytest.mark.parametrize("kind", ["derangement", "uniform"])
@pytest.mark.parametrize("n, R", [(2, 5), (7, 3), (500, 10)])
def test_batched_permutations_are_draw_permutations_of_each_generator(kind, n, R):
    from vimp._split import draw_permutations

    rngs = [np.random.default_rng(s) for s in range(6)]
    batched = fast._permutations(rngs, n, R, kind)
    for s in range(6):
        np.testing.assert_array_equal(batched[s], draw_permutations(np.random.default_rng(s), n, R, kind=kind))
    # and the Generators are left where draw_permutations leaves them
    again = [np.random.default_rng(s) for s in range(6)]
    for rng in again:
        draw_permutations(rng, n, R, kind=kind)
    assert [r.bit_generator.state for r in rngs] == [r.bit_generator.state for r in again]


# ------------------------------------------------------------------------------------------------ seeding
@pytest.mark.parametrize("run, keys", [
    (0, [(0,)]), (12345, [(2, g, 0) for g in range(5)]), (2**32 + 9, [(1, 2**32 - 1)]),
    (2**63 - 1, [(3, 4, 0), (3, 4, 7)]), (987654321, [(0,)]),
])
def test_streams_are_numpys_seed_sequence_children(run, keys):
    streams = fast._Streams()
    gens = streams.children(run, keys)
    for gen, key in zip(gens, keys):
        want = np.random.default_rng(np.random.SeedSequence(run, spawn_key=key))
        assert gen.bit_generator.state == want.bit_generator.state
        np.testing.assert_array_equal(gen.standard_normal(5), want.standard_normal(5))
    for key in keys:
        assert streams.words(run, key, 8) == np.random.SeedSequence(run, spawn_key=key).generate_state(
            8, np.uint32).tolist()


def test_seed_kernel_equals_its_twin_and_numpy():
    from vimp._kernels.simulation_nb import seed_sequence_words, seed_sequence_words_reference

    rng = np.random.default_rng(0)
    rows = np.zeros((50, 7), dtype=np.uint64)
    rows[:, 0] = rng.integers(0, 2**32, 50, dtype=np.uint64)
    rows[:25, 1] = rng.integers(0, 2**32, 25, dtype=np.uint64)  # run entropy of two words
    rows[:, 4:] = rng.integers(0, 2**32, (50, 3), dtype=np.uint64)
    compiled = seed_sequence_words(rows, 8)
    np.testing.assert_array_equal(compiled, seed_sequence_words_reference(rows, 8))
    python = getattr(seed_sequence_words, "py_func", seed_sequence_words)
    np.testing.assert_array_equal(python(rows, 8), compiled)


@pytest.mark.parametrize("p, delta", [(2, 0.0), (6, 0.5), (10, 0.9), (10, 0.99)])
def test_factor_is_the_fitters_cholesky_factor_bit_for_bit(p, delta):
    from vimp._linear_fitter import _cholesky_factor

    X, _ = BladenDesign(p, delta).sample(3 * p, np.random.default_rng(p))
    A = X - X.mean(axis=0)
    gram = A.T @ A
    norms = np.sqrt(np.diag(gram))
    scaled, atb = gram / np.outer(norms, norms), A[:, 0] @ A / norms
    want = _cholesky_factor(scaled, atb, np.zeros(p))
    if want is None:  # the fitter's QR path: so is the fast path's (see the next test)
        assert fast._factor(scaled, atb) is None
        return
    for a, b in zip(fast._factor(scaled, atb), want[:3]):
        np.testing.assert_array_equal(a, b)


def test_ill_conditioned_designs_take_the_fitters_qr_path_on_the_fast_path(monkeypatch):
    # At delta = 0.99 and p = 12 the equilibrated Gram matrix has condition about 1.4e6, above the
    # Cholesky limit (1e3 for R): LinearFitter solves by pivoted QR, and so does the fast path, with no
    # replicate handed to the generic path; the table is still the generic one.
    estimators = {"pap": PermutationImportance(LinearRegression(), permutation="uniform", scale="sqrt"),
                  "loco": LOCO(LinearRegression(), refit="permute", scale="sqrt"),
                  "loco_drop": LOCO(LinearRegression(), scale="sqrt"),
                  "gcm": GCM(LinearRegression())}
    kwargs = dict(dgp=BladenDesign(12, 0.99), estimators=estimators, n=60, reps=6, random_state=3)
    qr_calls, handed_over = [], []
    real_qr, real_generic = fast._qr_factor, runner._generic_replicate

    def counting_qr(*args):
        qr_calls.append(1)
        return real_qr(*args)

    def counting_generic(*args):
        handed_over.append(1)
        return real_generic(*args)

    with monkeypatch.context() as m:
        m.setattr(fast, "_qr_factor", counting_qr)
        m.setattr(runner, "_generic_replicate", counting_generic)
        table = monte_carlo(**kwargs)
    assert len(qr_calls) >= 6 and not handed_over
    _assert_same(table, _generic(monkeypatch, **kwargs))


def test_chunk_frame_is_the_runners():
    rows, _ = fast.run_chunk(runner._spec(BladenDesign(3, 0.5), _all_estimators(), 30, 3, "independent", None),
                             fast.plan(runner._spec(BladenDesign(3, 0.5), _all_estimators(), 30, 3,
                                                    "independent", None)), [0, 1, 2], [11, 12, 2**62 + 5],
                             runner._generic_replicate)
    pd.testing.assert_frame_equal(fast.frame(rows), runner._frame({c: list(v) for c, v in rows.items()}),
                                  check_exact=True)


@pytest.mark.parametrize("price", [np.inf, 0.3])
def test_drop_kernel_equals_its_twin_and_its_python_function(price):
    from vimp._kernels.simulation_nb import drop_replicate_stats, drop_replicate_stats_reference

    rng = np.random.default_rng(3)
    n, p = 80, 5
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    pred = X @ rng.standard_normal(p)
    G = np.linalg.inv(X.T @ X / n + np.eye(p))
    args = (y, pred, (y - pred) ** 2, np.ascontiguousarray((X - 0.1) @ G), np.array([4, 0, 2], dtype=np.int64),
            rng.standard_normal(p), 1.0 / np.diag(G), X, np.full(p, 0.1), y - 0.2, price)
    compiled = drop_replicate_stats(*args)
    python = getattr(drop_replicate_stats, "py_func", drop_replicate_stats)
    for other in (drop_replicate_stats_reference(*args), python(*args)):
        np.testing.assert_allclose(compiled[0], other[0], rtol=1e-12)
        np.testing.assert_allclose(compiled[1:], other[1:], rtol=1e-12)


@pytest.mark.parametrize("estimator", [PermutationImportance(LinearRegression(), p_adjust="nonsense"),
                                       LOCO(LinearRegression(), level=1.5),
                                       GCM(LinearRegression(), n_bootstrap=0)])
def test_invalid_parameters_raise_the_estimators_error(estimator):
    assert runner._spec(BladenDesign(3, 0.5), {"e": estimator}, 40, 1, "independent", None)["fast"] is None
    with pytest.raises(ValueError):
        monte_carlo(BladenDesign(3, 0.5), {"e": estimator}, n=40, reps=1, random_state=0)


def test_cross_fitted_tables_equal_generic_ones_for_other_fold_counts(monkeypatch):
    ols = LinearRegression()
    estimators = {"pap": PermutationImportance(ols, cv=4, n_permutations=2, shared_permutations=True),
                  "pap_sqrt": PermutationImportance(ols, cv=3, permutation="uniform", scale="sqrt"),
                  "loco": LOCO(ols, cv=3, refit="permute"), "gcm": GCM(ols, cv=2)}
    kwargs = dict(dgp=EquicorrelatedLinear(4, 0.4, [1.0, 0.0, 0.5, 2.0]), estimators=estimators, n=45, reps=4,
                  random_state=9, validation="cv", features=["x1", "x3"])
    assert runner._spec(kwargs["dgp"], estimators, 45, 4, "cv", ["x1", "x3"])["fast"] is not None
    _assert_same(monte_carlo(**kwargs), _generic(monkeypatch, **kwargs))
