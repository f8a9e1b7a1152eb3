"""The fast path of ``monte_carlo`` (``vimp.simulation._fast``): the generic path's table, faster.

Every test compares the table of the fast path with the generic path's for the same seeds, on every
column: the labels and seeds exactly, the numbers to 1e-10 relative (measured: at most about 1e-11;
the two paths solve the same least-squares problems in a different order of operations), NaN where
and only where the other has NaN.
"""

import itertools

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


@pytest.mark.parametrize("p, delta", [(2, 0.0), (6, 0.5), (10, 0.9), (10, 0.99), (9, 0.98), (12, 0.96)])
def test_factor_is_the_fitters_cholesky_factor_bit_for_bit(p, delta):
    # (9, 0.98) and (12, 0.96): the Frobenius bound is above the Cholesky limit (about 1.5e3 and 1.2e3) and
    # the spectral estimate below it (about 790 and 660), so _factor decides for Cholesky from its compiled
    # estimate without the fitter's steps; the factor must still be the fitter's, bit for bit.
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


def test_factor_decides_from_its_compiled_estimate_away_from_the_limit(monkeypatch):
    # Where the compiled spectral estimate is clearly below the Cholesky limit, _factor returns its own factor
    # without calling the fitter's _cholesky_factor (whose Python estimate costs about 0.7 ms); within the
    # rounding margin of the limit it calls it.
    from vimp._linear_fitter import _CHOLESKY_MAX_CONDITION

    X, _ = BladenDesign(9, 0.98).sample(27, np.random.default_rng(9))
    A = X - X.mean(axis=0)
    gram = A.T @ A
    norms = np.sqrt(np.diag(gram))
    scaled, atb = gram / np.outer(norms, norms), A[:, 0] @ A / norms
    calls = []
    real = fast._cholesky_factor
    monkeypatch.setattr(fast, "_cholesky_factor", lambda *args: calls.append(1) or real(*args))
    R, R_inv, _ = fast._factor(scaled, atb)
    assert np.linalg.norm(R) * np.linalg.norm(R_inv) > _CHOLESKY_MAX_CONDITION  # the spectral branch
    assert calls == []
    monkeypatch.setattr(fast, "spectral_condition", lambda *args: _CHOLESKY_MAX_CONDITION * (1.0 + 1e-12))
    assert fast._factor(scaled, atb) is not None  # the fitter's estimate (about 790) decides: Cholesky
    assert calls == [1]


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


# ------------------------------------------------------------------------------------ PCG64 in compiled code
def _states(count, seed=0):
    from vimp._kernels.random_nb import pcg64_states

    words = np.random.default_rng(seed).integers(0, 2**32, size=(count, 8), dtype=np.uint64)
    return pcg64_states(words)


def test_pcg64_states_are_numpys_seeding_and_raw_output_its_random_raw():
    from vimp._kernels import reference
    from vimp._kernels.random_nb import pcg64_raw, pcg64_states

    for entropy, key in [(0, ()), (12345, (2, 3, 0)), (2**63 - 1, (1, 2**32 - 1)), (7, (0,))]:
        seq = np.random.SeedSequence(entropy, spawn_key=key)
        state = pcg64_states(seq.generate_state(8, np.uint32).astype(np.uint64)[None])[0]
        want = np.random.PCG64(seq)
        assert (int(state[0]) << 64 | int(state[1])) == want.state["state"]["state"]
        assert (int(state[2]) << 64 | int(state[3])) == want.state["state"]["inc"]
        raw, after = pcg64_raw(state, 1000)
        np.testing.assert_array_equal(raw, want.random_raw(1000))
        assert (int(after[0]) << 64 | int(after[1])) == want.state["state"]["state"]
    words = np.random.default_rng(3).integers(0, 2**32, size=(40, 8), dtype=np.uint64)
    np.testing.assert_array_equal(pcg64_states(words), reference.pcg64_states(words))
    for state in pcg64_states(words)[:3]:
        for a, b in zip(pcg64_raw(state, 50), reference.pcg64_raw(state, 50)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n, R", [(2, 1), (2, 6), (3, 4), (9, 10), (40, 3), (500, 10)])
def test_derangements_and_permutations_from_pcg64_are_draw_permutations_of_the_generators(n, R):
    # The compiled draws equal vimp._split's from NumPy Generators on the same states (derangements: the
    # Generator's blocks of words, including the fresh block where one runs out, frequent at small n),
    # and their twins'.
    from vimp._kernels import reference
    from vimp._kernels.random_nb import derangements_from_pcg64, permutations_from_pcg64
    from vimp._split import _permutation_reserve, draw_permutations

    states = _states(30, n + R)
    table = fast._block_table(n, R)
    width = (n - 1 + _permutation_reserve(n) + 1) // 2
    out, twin = np.empty((30, R, n), dtype=np.int64), np.empty((30, R, n), dtype=np.int64)
    derangements_from_pcg64(states, n, R, table, out)
    reference.derangements_from_pcg64(states, n, R, table, twin)
    np.testing.assert_array_equal(out, twin)
    for s in range(30):
        np.testing.assert_array_equal(out[s], draw_permutations(reference._generator(states[s]), n, R, "derangement"))
    assert permutations_from_pcg64(states, n, R, width, out)
    assert reference.permutations_from_pcg64(states, n, R, width, twin)
    np.testing.assert_array_equal(out, twin)
    for s in range(30):
        np.testing.assert_array_equal(out[s], draw_permutations(reference._generator(states[s]), n, R, "uniform"))


def test_a_uniform_permutation_that_runs_out_of_words_is_reported():
    from vimp._kernels import reference
    from vimp._kernels.random_nb import permutations_from_pcg64

    states = _states(2)
    out = np.empty((2, 1, 50), dtype=np.int64)
    # a row of 10 values (20 words) cannot shuffle 50 rows (49 words)
    assert not permutations_from_pcg64(states, 50, 1, 10, out)
    assert not reference.permutations_from_pcg64(states, 50, 1, 10, out)


@pytest.mark.parametrize("n", [1, 2, 3, 20, 63, 2000])
def test_generator_permutation_is_numpys(n):
    from vimp._kernels import reference
    from vimp._kernels.simulation_nb import generator_permutation

    out = np.empty(n, dtype=np.int64)
    for state in _states(10, n):
        np.testing.assert_array_equal(generator_permutation(state, n, out), reference._generator(state).permutation(n))


def test_pcg64_kernels_run_as_plain_python():
    # NUMBA_DISABLE_JIT=1 replaces the 128-bit intrinsic by Python integers: the same numbers.
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from vimp._kernels.random_nb import pcg64_states, pcg64_raw, derangements_from_pcg64\n"
        "from vimp._kernels.simulation_nb import generator_permutation\n"
        "from vimp.simulation._fast import _block_table\n"
        "seq = np.random.SeedSequence(5, spawn_key=(2, 1))\n"
        "state = pcg64_states(seq.generate_state(8, np.uint32).astype(np.uint64)[None])\n"
        "assert (pcg64_raw(state[0], 20)[0] == np.random.PCG64(seq).random_raw(20)).all()\n"
        "from vimp._split import draw_permutations\n"
        "out = np.empty((1, 3, 7), dtype=np.int64)\n"
        "derangements_from_pcg64(state, 7, 3, _block_table(7, 3), out)\n"
        "assert (out[0] == draw_permutations(np.random.default_rng(seq), 7, 3, 'derangement')).all()\n"
        "perm = generator_permutation(state[0], 9, np.empty(9, dtype=np.int64))\n"
        "assert (perm == np.random.default_rng(seq).permutation(9)).all()\n"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONWARNINGS="error::RuntimeWarning")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert run.returncode == 0, run.stderr[-3000:]


def test_child_states_and_estimator_seeds_are_numpys():
    seeds = [0, 5, 2**40 + 3, 2**63 - 1]
    for keys in ([(2, 0), (0, 7)], [(2, 1, 0), (3, 4, 9)], [(0,)]):  # keys of one length per call
        states = fast._child_states(seeds, keys)
        for (i, seed), (j, key) in itertools.product(enumerate(seeds), enumerate(keys)):
            want = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)).state["state"]
            hi, lo, inc_hi, inc_lo = (int(v) for v in states[i, j])
            assert (hi << 64 | lo, inc_hi << 64 | inc_lo) == (want["state"], want["inc"])
    np.testing.assert_array_equal(fast._estimator_seeds(seeds, ["pap", "loco"]),
                                  [[fast._seed_of(s, name) for name in ("pap", "loco")] for s in seeds])


@pytest.mark.parametrize("root", [np.random.SeedSequence(0), np.random.SeedSequence(2**100 + 5, spawn_key=(3, 7)),
                                  np.random.SeedSequence(11).spawn(3)[2]])
def test_replicate_seeds_compiled_are_the_runners(root):
    replicates = list(range(40)) + [2**31 + 3]
    want = [int(np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (r,)).generate_state(
        1, np.uint64)[0] >> np.uint64(1)) for r in replicates]
    assert fast.replicate_seeds_compiled(root, replicates) == want
    assert runner.replicate_seeds(root, replicates) == want


# ------------------------------------------------------------------------------------------ chunk kernels
def _chunk_data(m=6, n=30, p=4, seed=0):
    dgp = EquicorrelatedLinear(p, 0.5, np.linspace(0.0, 1.0, p))
    rng = np.random.default_rng(seed)
    draws = [dgp.sample(n, rng) for _ in range(2 * m)]
    Xt = np.stack([draws[2 * i][0] for i in range(m)])
    yt = np.stack([draws[2 * i][1] for i in range(m)])
    Xe = np.stack([draws[2 * i + 1][0] for i in range(m)])
    ye = np.stack([draws[2 * i + 1][1] for i in range(m)])
    return Xt, yt, Xe, ye


@pytest.mark.parametrize("intercept", [True, False])
def test_chunk_kernels_equal_their_twins_and_the_per_replicate_path(intercept):
    from vimp._kernels.simulation_nb import (
        drop_chunk,
        drop_chunk_reference,
        loco_permute_chunk,
        loco_permute_chunk_reference,
        ols_chunk,
        ols_chunk_reference,
        pap_chunk,
        pap_chunk_reference,
    )

    Xt, yt, Xe, ye = _chunk_data()
    m, n, p = Xt.shape
    Xt[2, :, 1] = Xt[2, :, 0]  # a singular design: flagged
    limits = fast._fit_limits(n, p, 1e-12)
    Xt[4, :, 3] = 1.5  # a constant column: reported
    fit = ols_chunk(Xt, yt, Xe, ye, intercept, *limits)
    twin = ols_chunk_reference(Xt, yt, Xe, ye, intercept, *limits)
    np.testing.assert_array_equal(fit[8], twin[8])
    assert fit[8].tolist() == [False, False, False, False, True, False]
    Xt[4, :, 3] = _chunk_data()[0][4, :, 3]
    fit = ols_chunk(Xt, yt, Xe, ye, intercept, *limits)
    twin = ols_chunk_reference(Xt, yt, Xe, ye, intercept, *limits)
    np.testing.assert_array_equal(fit[0], twin[0])
    assert not fit[0][2] and fit[0].sum() == m - 1
    for a, b in zip(fit[1:], twin[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    ok = fit[0]
    for i in np.flatnonzero(ok):  # the per-replicate path (the fitter's LAPACK calls)
        rep = fast._Replicate(Xt[i], yt[i], Xe[i], ye[i], intercept, 1e-12)
        np.testing.assert_allclose(fit[1][i], rep.beta, rtol=1e-12)
        np.testing.assert_allclose(fit[3][i], rep.pred, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(fit[5][i], rep.V, rtol=1e-11, atol=1e-14)
    _, beta, G, pred, full, V, x_mean, y_base, constant = fit
    assert not constant.any()
    cols = np.array([0, 2, 3], dtype=np.int64)
    for price in (np.inf, 0.05):
        a = drop_chunk(ye, pred, full, V, cols, beta, G, Xe, x_mean, y_base, price, ok)
        b = drop_chunk_reference(ye, pred, full, V, cols, beta, G, Xe, x_mean, y_base, price, ok)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-11, atol=1e-300)
    states = _states(m * 3).reshape(m, 3, 4)
    for derangement, shared in ((True, False), (False, False), (True, True)):
        st = states[:, :1] if shared else states
        a = pap_chunk(ye, pred, full, Xe, beta, cols, st, 4, derangement, shared, 20, fast._block_table(n, 4), ok)
        b = pap_chunk_reference(ye, pred, full, Xe, beta, cols, st, 4, derangement, shared, 20,
                                fast._block_table(n, 4), ok)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-11, atol=1e-300)
    a = loco_permute_chunk(Xt, yt, Xe, ye, full, cols, states, intercept, *limits, ok)
    b = loco_permute_chunk_reference(Xt, yt, Xe, ye, full, cols, states, intercept, *limits, ok)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-300)
    assert a[2].all()


def test_compiled_spectral_condition_is_the_fitters_estimate():
    from vimp._kernels.simulation_nb import spectral_condition
    from vimp._linear_fitter import _spectral_condition

    for p, delta in ((1, 0.0), (2, 0.5), (3, 0.99), (12, 0.0), (12, 0.99)):
        A = BladenDesign(max(p, 2), delta).A[:p, :p]
        X = np.random.default_rng(p).standard_normal((60, p)) @ A
        X -= X.mean(axis=0)
        gram = X.T @ X
        norms = np.sqrt(np.diag(gram))
        R = np.linalg.cholesky(gram / np.outer(norms, norms)).T
        R_inv = np.linalg.inv(R)
        assert spectral_condition(R, R_inv, 30) == pytest.approx(_spectral_condition(R, R_inv), rel=1e-12)


def test_perturbed_chunk_is_perturbed_test_from_draws_bit_for_bit():
    from vimp._inference import perturbed_test_from_draws
    from vimp._loco import perturbation_scale

    rng = np.random.default_rng(4)
    n, m, k = 50, 5, 3
    full = rng.exponential(size=(m, n))
    raw, raw_se = rng.standard_normal((m, k)), rng.exponential(size=(m, k))
    draws = np.stack([[(*rng.standard_normal(2), rng.chisquare(n - 2)) for _ in range(k)] for _ in range(m)])
    est, se = fast._perturbed_chunk(raw, raw_se, full.std(axis=1), n, perturbation_scale(n), draws)
    for i in range(m):
        want = perturbed_test_from_draws(raw[i], raw_se[i], full[i], perturbation_scale(n), draws[i])
        np.testing.assert_array_equal(est[i], want[0])
        np.testing.assert_array_equal(se[i], want[1])


@pytest.mark.parametrize("p, delta, n", [(12, 0.88, 20), (6, 0.88, 20), (12, 0.77, 20), (3, 0.99, 20),
                                         (9, 0.66, 63)])
def test_fast_table_equals_generic_table_near_the_compiled_fits_limit(monkeypatch, p, delta, n):
    # Collinear Bladen designs, where the compiled fit of the chunk hands some replicates to the fitter's
    # LAPACK path and fits the others itself (the two Cholesky factorisations differ at rounding level,
    # amplified by the condition: measured at most 2.4e-12 relative on 100 replicates of such designs).
    estimators = {"pap": PermutationImportance(LinearRegression(), permutation="uniform", scale="sqrt"),
                  "loco": LOCO(LinearRegression(), refit="permute", scale="sqrt"),
                  "loco_drop": LOCO(LinearRegression(), scale="sqrt"),
                  "gcm": GCM(LinearRegression())}
    kwargs = dict(dgp=BladenDesign(p, delta), estimators=estimators, n=n, reps=30, random_state=5)
    _assert_same(monte_carlo(**kwargs), _generic(monkeypatch, **kwargs))


@pytest.mark.parametrize("raw", [True, False])
def test_pool_puts_its_generator_on_the_childrens_states(monkeypatch, raw):
    # Written into memory (where the layout check passes, as on this machine) or through the state
    # setter: the Generator then draws what a fresh default_rng of the child draws, also after a draw
    # that left half of a 64-bit word buffered (32-bit integers).
    if not raw:
        monkeypatch.setattr(fast, "_raw_state", lambda bit_generator: None)
    pool = fast._Pool()
    assert (pool._raw is not None) == raw
    seeds, keys = [5, 2**62 + 1], [(0,), (3,)]
    states = fast._child_states(seeds, keys)
    for (i, seed), (j, key) in itertools.product(enumerate(seeds), enumerate(keys)):
        gen = pool.on(states[i, j].tolist())
        want = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
        np.testing.assert_array_equal(gen.integers(0, 1000, size=3, dtype=np.uint32),
                                      want.integers(0, 1000, size=3, dtype=np.uint32))
        np.testing.assert_array_equal(gen.standard_normal(4), want.standard_normal(4))
        assert gen.bit_generator.state == want.bit_generator.state


def test_blocks_of_a_chunk_give_the_same_table(monkeypatch):
    # A chunk is computed in blocks of replicates that bound the stacked arrays; the rows do not depend on them.
    kwargs = dict(dgp=EquicorrelatedLinear(4, 0.5, [1.0, 0.5, 0.0, 1.0]), estimators=_all_estimators(), n=40,
                  reps=7, random_state=21)
    table = monte_carlo(**kwargs)
    monkeypatch.setattr(fast, "_BLOCK_CELLS", 3 * 40 * 4)  # blocks of 3 replicates
    pd.testing.assert_frame_equal(monte_carlo(**kwargs), table, check_exact=True)
    monkeypatch.setattr(fast, "_BLOCK_CELLS", 1)  # one replicate at a time
    pd.testing.assert_frame_equal(monte_carlo(**kwargs), table, check_exact=True)
