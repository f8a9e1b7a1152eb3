"""The fast path of :func:`vimp.simulation.monte_carlo`: OLS on the built-in linear processes.

When every estimator of a run is PaP, LOCO or GCM around a plain ``LinearRegression`` (with the options
listed in :func:`plan`), the dgp is one of :class:`LinearGaussian`, :class:`EquicorrelatedLinear` or
:class:`BladenDesign` and validation is ``"independent"``, ``"holdout"`` or ``"cv"`` (an integer ``cv``, or
the runner's default of 5 folds), the runner computes the replicates of a chunk here instead of cloning,
validating and fitting each estimator per replicate.

The numbers are those of the generic path (a test compares every column to 1e-10), because

* the random numbers are drawn exactly as there: the data from the child ``(0,)`` of the replicate's
  seed, through the dgp's own draw; each estimator's seed from the child ``(1, crc32(name))``; the
  folds with :func:`vimp._split.make_folds` from the estimator's split child; PaP's
  permutations as :func:`vimp._split.draw_permutations` draws them from the same child Generators as
  :meth:`PermutationImportance._draw`; LOCO's permuted training rows and its perturbation draws from the
  same children as :class:`vimp.LOCO`;
* the per-observation terms are those of :class:`vimp._linear_fitter.LinearFitter` (one factorisation of
  the training design: the drop-one refits, the GCM residuals ``Z G / diag(G)`` and the rank-one permuted
  predictions), with PaP's terms from the same formulas as :func:`vimp._kernels.pap_linear_terms`;
* the inference is the estimators' own formulas, and the last step (quantiles, tail probabilities,
  Hall's transform, intervals) calls vimp's own functions of :mod:`vimp._inference`, once per chunk on
  arrays of shape (replicates, features) instead of once per replicate.

With a held-out evaluation set (``"independent"``, ``"holdout"``), a chunk runs in a few compiled calls
(:mod:`vimp._kernels.simulation_nb`, each with its NumPy twin): the hash of every child ``SeedSequence``
of the chunk and its PCG64 state; the OLS fits of all replicates (:func:`ols_chunk`); the drop-one LOCO and
GCM statistics (:func:`drop_chunk`); PaP, with its permutations produced from the PCG64 states in compiled
code, bit for bit NumPy's ``random_raw`` (:func:`pap_chunk`); LOCO's permute-and-refit, with NumPy's
``Generator.permutation`` (:func:`loco_permute_chunk`). What stays in Python per replicate is the data
(the dgp's own NumPy draw, on a Generator put on the child's state) and LOCO's three perturbation draws
per feature. The compiled fit covers well-conditioned designs (:data:`_COMPILED_MAX_CONDITION`); the other
replicates are refitted with the fitter's own LAPACK calls (:func:`_fit`, bit for bit the fitter's),
and the compiled statistics take them from there. Cross-fitting (``"cv"``) goes replicate by replicate
(:func:`_cv_part`).

A replicate where anything unusual happens (an ill-conditioned training design the fitter would solve
otherwise, a constant column, a zero or non-finite standard error, differences at rounding level, a
collinear GCM residual, a GCM nuisance regression close to being flagged, a permutation whose words ran
out) is recomputed by the generic path, so that its numbers and warnings are exactly the generic path's.
"""

from __future__ import annotations

import functools
import math
import numbers
import zlib

import numpy as np
from scipy import stats
from scipy.linalg.lapack import dpotrf as _potrf
from scipy.linalg.lapack import dtrtrs as _trtrs

from .._base import _SEED_EVAL, _SEED_FIT, _SEED_SPLIT, _SEED_TEST, ROUNDING_TOLERANCE
from .._gcm import COLLINEAR_TOLERANCE, GCM, NUISANCE_ALPHA, _linear_price
from .._inference import (
    draw_perturbation,
    perturbed_statistic,
    perturbed_test_from_draws,
    pvalue_greater,
    pvalue_two_sided,
    skew_corrected_limits,
    skew_corrected_pvalue_greater,
    wald_interval,
)
from .._kernels import LOSS_SQUARED, pap_linear_terms, permutations_from_words
from .._kernels.random_nb import pcg64_states
from .._kernels.simulation_nb import (
    drop_chunk,
    loco_permute_chunk,
    ols_chunk,
    pap_chunk,
    seed_sequence_words,
    spectral_condition,
)
from .._linear_fitter import (
    _CHOLESKY_MAX_CONDITION,
    _EPS,
    _NORM_RANGE,
    _cholesky_factor,
    _linear_spec,
    _lstsq_cutoff,
    _qr_factor,
)
from .._loco import _KEY_PERTURB, LOCO, perturbation_scale
from .._pap import PermutationImportance
from .._split import (
    PERMUTATION_KINDS,
    _draw_derangements,
    _draw_words,
    derangement_block_words,
    permutation_width,
    seed_entropy_rows,
)
from .._test_choice import resolve_test
from .._validation import MIN_EVALUATION_ROWS
from ._dgp import BladenDesign, EquicorrelatedLinear, LinearGaussian
from ._runner import SHIPPED_METHODS

__all__ = ["frame", "plan", "run_chunk"]

_DGPS = (LinearGaussian, EquicorrelatedLinear, BladenDesign)
#: The methods of the estimator classes as vimp ships them (taken when :mod:`vimp.simulation` is
#: imported, not when this module first is): a class whose methods were replaced (an instrumented or
#: patched estimator) takes the generic path, which runs whatever is there.
_ORIGINAL = SHIPPED_METHODS
#: GCM replicates whose nuisance check comes within this factor of ``NUISANCE_ALPHA`` go to the generic
#: path (which then warns, or not, as it does).
_NUISANCE_MARGIN = 2.0


class _Fallback(Exception):
    """This replicate is recomputed by the generic path."""


# ------------------------------------------------------------------------------------------------ plan
def _seed_of(seed, name, streams=None):
    """The estimator's ``random_state`` in a replicate, as :func:`vimp.simulation._runner._prepare` sets it."""
    key = (1, zlib.crc32(name.encode()))
    if streams is not None:
        return int(streams.words(seed, key, 8)[0])
    seq = np.random.SeedSequence(seed, spawn_key=key)
    return int(seq.generate_state(8, np.uint32)[0])


def _child(entropy, *keys):
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=keys))


_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_MASK128 = (1 << 128) - 1


def _pcg64_state(words):
    """``PCG64(seed_sequence).state`` from the sequence's first 8 32-bit words (``generate_state(4,
    uint64)``): seed and increment as NumPy's ``pcg64_set_seed`` takes them, then ``pcg64_srandom``."""
    v = [words[2 * i] | (words[2 * i + 1] << 32) for i in range(4)]
    seed = (v[0] << 64) | v[1]
    inc = (((v[2] << 64) | v[3]) << 1 | 1) & _MASK128
    state = ((inc + seed) * _PCG_MULT + inc) & _MASK128  # from state 0: step, add the seed, step
    return {"bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0, "uinteger": 0}


#: Assembled entropy rows of child seed sequences (shared with the estimators' compiled draws).
_entropy_rows = seed_entropy_rows


class _Streams:
    """Generators on the ``SeedSequence`` children the estimators use, seeded fast.

    :meth:`children` gives the Generators ``default_rng(SeedSequence(run, spawn_key=key))`` for a list of
    keys, in the same state (the hash of NumPy's ``SeedSequence`` in one compiled call for all keys, the
    PCG64 seeding in Python integers; the tests compare the states with NumPy's). The Generator objects
    are reused from call to call: a caller uses them before its next call.
    """

    def __init__(self):
        self._pool = []

    def children(self, run, keys):
        rows = _entropy_rows(run, keys) if keys else None
        if rows is None:
            return [_child(run, *key) for key in keys]
        states = seed_sequence_words(rows, 8).tolist()
        while len(self._pool) < len(keys):
            self._pool.append(np.random.Generator(np.random.PCG64()))
        out = self._pool[:len(keys)]
        for gen, words in zip(out, states):
            gen.bit_generator.state = _pcg64_state(words)
        return out

    def words(self, run, key, n_words):
        """``SeedSequence(run, spawn_key=key).generate_state(n_words, uint32)`` as ints."""
        rows = _entropy_rows(run, [key])
        if rows is None:
            return np.random.SeedSequence(run, spawn_key=key).generate_state(n_words, np.uint32).tolist()
        return seed_sequence_words(rows, n_words)[0].tolist()


def _seed_rows(runs, keys):
    """Assembled entropy of ``SeedSequence(run, spawn_key=key)`` for every run and key (run-major), as
    :func:`vimp._kernels.simulation_nb.seed_sequence_words` takes it: the run's two 32-bit words padded
    to the pool size of 4, then the key's words. Every run is below 2**64 (the runner's seeds are below
    2**63, the estimators' ``random_state`` below 2**32), every key word below 2**32."""
    runs = np.asarray(runs, dtype=np.uint64)
    keys = np.asarray(keys, dtype=np.uint64).reshape(len(keys), -1)
    rows = np.zeros((len(runs), len(keys), 4 + keys.shape[1]), dtype=np.uint64)
    rows[:, :, 0] = (runs & np.uint64(0xFFFFFFFF))[:, None]
    rows[:, :, 1] = (runs >> np.uint64(32))[:, None]
    rows[:, :, 4:] = keys[None]
    return rows.reshape(len(runs) * len(keys), -1)


def _child_states(runs, keys):
    """PCG64 states (state high, low, increment high, low) of ``default_rng(SeedSequence(run,
    spawn_key=key))`` for every run and key (keys of one length), shape (len(runs), len(keys), 4), in two
    compiled calls."""
    words = seed_sequence_words(_seed_rows(runs, keys), 8)
    return pcg64_states(words).reshape(len(runs), len(keys), 4)


def _estimator_seeds(seeds, names):
    """Each estimator's ``random_state`` in each replicate (:func:`_seed_of`), shape (len(seeds), len(names))."""
    keys = [(1, zlib.crc32(name.encode())) for name in names]
    words = seed_sequence_words(_seed_rows(seeds, keys), 1)
    return words.reshape(len(seeds), len(names))


class _Pool:
    """A NumPy Generator put on given PCG64 states (reused: a caller uses it before it asks again).

    A state is written straight into the bit generator's memory (four 64-bit words and the buffered-half
    flag, about 1 us) where the layout is NumPy's ``pcg64_state`` with a native 128-bit state, low word
    first, as checked on construction (:func:`_raw_state`); otherwise through the ``state`` setter (4 us).
    """

    def __init__(self):
        self._gen = np.random.Generator(np.random.PCG64())
        self._raw = _raw_state(self._gen.bit_generator)

    def on(self, state):
        hi, lo, inc_hi, inc_lo = state
        gen = self._gen
        if self._raw is not None:
            words, flag = self._raw
            words[:] = (lo, hi, inc_lo, inc_hi)
            flag[0] = 0
            return gen
        gen.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": (hi << 64) | lo,
                                                                       "inc": (inc_hi << 64) | inc_lo},
                                   "has_uint32": 0, "uinteger": 0}
        return gen


def _raw_state(bit_generator):
    """Views ``(words, flag)`` of a PCG64's state in memory (its ``pcg64_state``: a pointer to the 128-bit
    state and increment, then the ``has_uint32`` flag), or None where writing them does not give the states
    that the ``state`` setter gives (checked here on two states, one with a buffered half)."""
    import ctypes

    try:
        address = bit_generator.ctypes.state_address
        pointer = ctypes.cast(address, ctypes.POINTER(ctypes.c_void_p))[0]
        words = np.ctypeslib.as_array((ctypes.c_uint64 * 4).from_address(pointer))
        flag = np.ctypeslib.as_array((ctypes.c_int * 1).from_address(address + ctypes.sizeof(ctypes.c_void_p)))
        for hi, lo, inc_hi, inc_lo in ((0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x13579BDF2468ACE0, 0x1F),
                                       (7, 2**64 - 1, 2**63, 3)):
            bit_generator.state = {"bit_generator": "PCG64", "state": {"state": 5, "inc": 9}, "has_uint32": 1,
                                   "uinteger": 77}
            words[:] = (lo, hi, inc_lo, inc_hi)
            flag[0] = 0
            want = {"state": (hi << 64) | lo, "inc": (inc_hi << 64) | inc_lo}
            got = bit_generator.state
            if got["state"] != want or got["has_uint32"] != 0:
                return None
            check = np.random.PCG64()
            check.state = {"bit_generator": "PCG64", "state": want, "has_uint32": 0, "uinteger": 0}
            if not np.array_equal(bit_generator.random_raw(3), check.random_raw(3)):
                return None
    except Exception:  # noqa: BLE001 - any other layout or interface: the state setter
        return None
    return words, flag


def replicate_seeds_compiled(root, replicates):
    """:func:`vimp.simulation._runner.replicate_seeds` in one compiled call (the hash of each child
    ``SeedSequence(root.entropy, spawn_key=root.spawn_key + (r,))``); None where the root does not fit the
    layout of :func:`_entropy_rows` (the caller then spawns them one by one)."""
    entropy = root.entropy
    if not isinstance(entropy, numbers.Integral) or root.pool_size != 4 or len(replicates) == 0:
        return None
    base = tuple(int(k) for k in root.spawn_key)
    rows = _entropy_rows(int(entropy), [base + (int(r),) for r in replicates])
    if rows is None:
        return None
    words = seed_sequence_words(rows, 2)
    return ((words[:, 0] | (words[:, 1] << np.uint64(32))) >> np.uint64(1)).astype(np.int64).tolist()


def _ols_spec(learner):
    spec = _linear_spec(learner)
    if spec is None or spec["alpha"] != 0.0 or spec["standardize"]:
        return None
    return spec


def _level(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if 0.0 < value < 1.0 else None


def _common_ok(est):
    return (type(est) in _ORIGINAL and (type(est).fit, type(est).importance) == _ORIGINAL[type(est)]
            and est.groups is None and not est.progress and _level(est.level) is not None)


def _valid(est):
    """Whether the estimator's own parameter checks pass (on a clone: they record state). Where they do
    not, the generic path runs and raises the estimator's error."""
    from sklearn.base import clone

    probe = clone(est)
    try:
        if type(est) is GCM:
            probe._check_params()
        else:
            probe._validate()
    except (TypeError, ValueError):
        return False
    return True


def _folds_of(est, validation):
    """Cross-fitting folds of the estimator under ``validation`` (None: held-out; 0: not covered)."""
    if validation != "cv":
        return None
    from ._runner import DEFAULT_FOLDS

    if est.cv is None:
        return DEFAULT_FOLDS
    if isinstance(est.cv, numbers.Integral) and not isinstance(est.cv, bool) and est.cv >= 2:
        return int(est.cv)
    return 0  # a splitter or a list of folds: the generic path


def _estimator_plan(name, est, validation="independent"):
    """What the fast path needs of one estimator, or None where it does not cover the options."""
    if not (_common_ok(est) and _valid(est)):
        return None
    spec = _ols_spec(est.estimator)
    if spec is None:
        return None
    folds = _folds_of(est, validation)
    if folds == 0:
        return None
    out = {"name": name, "level": _level(est.level), "intercept": spec["fit_intercept"],
           "rank_tol": spec["rank_tol"], "folds": folds}
    if type(est) is GCM:
        if est.test != "wald" or est.scale != "covariance" or est.x_estimator is not None:
            return None
        if not isinstance(est.nuisance_check, (bool, np.bool_)):
            return None
        if est.nuisance_check and not spec["fit_intercept"]:
            return None  # the check's OLS baseline differs from the learner: not covered here
        out.update(method="gcm", nuisance_check=bool(est.nuisance_check))
        return out
    if est.loss not in (None, "squared_error") or est.scale not in ("difference", "sqrt"):
        return None
    if type(est) is PermutationImportance:
        tests = ("auto", "paired-skew") if folds is None else ("auto", "nadeau-bengio")
        if est.prefit or est.test not in tests or est.permutation not in PERMUTATION_KINDS:
            return None
        if not isinstance(est.shared_permutations, bool):
            return None
        r = est.n_permutations
        if isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 1 or r > 10_000:
            return None
        out.update(method="pap", permutations=int(r), kind=est.permutation, shared=est.shared_permutations,
                   scale=est.scale)
        return out
    if est.refit not in ("drop", "permute"):
        return None
    test = resolve_test("loco", est.test, est.estimator, folds)[0] if est.test in ("auto", "paired",
                                                                                     "perturbed") else None
    if test not in ("paired", "perturbed"):
        return None
    out.update(method="loco", refit=est.refit, test=test, scale=est.scale)
    return out


def plan(spec):
    """The fast path's plan of a run (a list of per-estimator dicts), or None where it does not apply."""
    dgp = spec["dgp"]
    validation = spec["validation"]
    if type(dgp) not in _DGPS:
        return None
    n = spec["n"]
    n_eval = n if validation in ("independent", "cv") else n - n // 2
    n_train = n if validation == "independent" else n // 2
    if n_eval < MIN_EVALUATION_ROWS or (validation != "cv" and n_train < dgp.p + 2):
        return None
    out = []
    for name, est in spec["estimators"].items():
        part = _estimator_plan(name, est, validation)
        if part is None:
            return None
        if part["folds"] is not None:
            k = part["folds"]
            if k > n or n // k < 2 or n - math.ceil(n / k) < dgp.p + 2:
                return None  # the generic path refuses, or PaP cannot permute a fold
        out.append(part)
    return out


# ------------------------------------------------------------------------------------------ one replicate
def _fit(Xt, yt, intercept, rank_tol):
    """OLS on the training rows as :class:`LinearFitter` fits it: ``(center, y_center, beta, G)``."""
    n, p = Xt.shape
    if intercept:
        center = Xt.mean(axis=0)
        y_center = float(yt.mean())
    else:
        center = np.zeros(p)
        y_center = 0.0
    A = Xt - center
    b = yt - y_center
    # The operations of LinearFitter.fit, in its order (equilibrated Cholesky, or the pivoted QR of the
    # equilibrated rows where the Gram matrix is not well conditioned), so that the fits agree to the
    # last bits where the design is ill-conditioned.
    gram = A.T @ A
    norms = np.sqrt(np.diag(gram))
    if not (np.all(np.isfinite(gram)) and norms.min() > _NORM_RANGE[0] and norms.max() < _NORM_RANGE[1]):
        raise _Fallback
    factor = _factor(gram / np.outer(norms, norms), (A.T @ b) / norms)
    if factor is None:
        R, R_inv, beta_scaled, piv = _qr_factor(A / norms, b, p)
    else:
        (R, R_inv, beta_scaled), piv = factor, None
    scale_piv = norms if piv is None else norms[piv]
    R_inv = R_inv / scale_piv[:, None]
    # The fitter's rank check (full rank, or minimum-norm least squares), with room to spare.
    threshold = max(float(rank_tol), _lstsq_cutoff(float(rank_tol), (n, p)), max(n, p) * _EPS)
    bound = np.linalg.norm(R * scale_piv[None, :]) * np.linalg.norm(R_inv)
    if not (np.isfinite(bound) and bound * threshold < 0.5):
        raise _Fallback
    beta_piv = beta_scaled / scale_piv
    G_piv = R_inv @ R_inv.T
    if piv is None or np.array_equal(piv, np.arange(p)):
        return center, y_center, beta_piv, G_piv
    beta = np.zeros(p)
    G = np.zeros((p, p))
    beta[piv] = beta_piv
    G[np.ix_(piv, piv)] = G_piv
    return center, y_center, beta, G


#: ``_spectral_condition``'s default number of power iterations, and the relative margin by which the
#: compiled estimate must lie above or below the fitter's Cholesky limit to decide for it (the two
#: estimates differ by rounding, about 1e-14 relative; tests/test_simulation_fast.py checks 1e-12).
_SPECTRAL_ITERATIONS = 30
_SPECTRAL_MARGIN = 1e-8


def _factor(scaled, atb):
    """``_cholesky_factor(scaled, atb, 0)`` of the fitter (the same LAPACK calls, without the wrappers):
    ``(R, R^-1, solution)``, or None where the fitter takes its QR path."""
    k = scaled.shape[0]
    R, info = _potrf(scaled, lower=0, clean=1)
    if info != 0:
        return None  # not positive definite: the fitter's Cholesky fails too
    R_inv, info = _trtrs(R, np.eye(k), lower=0)
    if info != 0:
        return None
    condition = np.linalg.norm(R) * np.linalg.norm(R_inv)
    if not (np.isfinite(condition) and condition <= _CHOLESKY_MAX_CONDITION):
        # the fitter's own decision (its spectral estimate against the limit), taken from the compiled
        # estimate where that is clearly above the limit (the fitter's QR path) or clearly below it (the
        # factor above is the fitter's: the same LAPACK calls), beyond any rounding difference of the two
        # estimates; only in between are the fitter's own steps (its estimate in Python, 0.7 ms) run
        if np.isfinite(condition):
            estimate = spectral_condition(R, R_inv, _SPECTRAL_ITERATIONS)
            if estimate > _CHOLESKY_MAX_CONDITION * (1.0 + _SPECTRAL_MARGIN):
                return None
            if estimate < _CHOLESKY_MAX_CONDITION * (1.0 - _SPECTRAL_MARGIN):
                return R, R_inv, R_inv @ (R_inv.T @ atb)
        factor = _cholesky_factor(scaled, atb, np.zeros(k))
        return None if factor is None else factor[:3]
    return R, R_inv, R_inv @ (R_inv.T @ atb)


def _constant(X):
    return bool(np.any(np.max(X, axis=0) == np.min(X, axis=0)))


def _numerically_zero(diff, full, other):
    bound = ROUNDING_TOLERANCE * (2.0 * np.max(np.abs(full)) + np.max(np.abs(other)) + 1e-300)
    return bool(np.any((np.max(diff, axis=0) <= bound) & (np.min(diff, axis=0) >= -bound)))


class _Replicate:
    """The fitted full model of one replicate and the quantities every estimator shares."""

    def __init__(self, Xt, yt, Xe, ye, intercept, rank_tol):
        self.Xt, self.yt, self.Xe, self.ye = Xt, yt, Xe, ye
        center, y_center, beta, G = _fit(Xt, yt, intercept, rank_tol)
        self.center, self.y_center, self.beta, self.G = center, y_center, beta, G
        self.coef = beta
        self.intercept = float(y_center - center @ beta)
        self.pred = np.ascontiguousarray(Xe @ beta + self.intercept)
        self.res = ye - self.pred
        self.full = np.ascontiguousarray(self.res * self.res)
        self._V = None

    @property
    def V(self):
        if self._V is None:
            self._V = (self.Xe - self.center) @ self.G
        return self._V

    def drop_losses(self, cols):
        """Squared errors of the drop-one refits (as ``loco_linear_losses`` computes them)."""
        shift = self.beta[cols] / np.diag(self.G)[cols]
        error = self.ye[:, None] - (self.pred[:, None] - self.V[:, cols] * shift)
        return error * error


def _mean_se(terms):
    n = terms.shape[0]
    return terms.mean(axis=0), terms.std(axis=0) / math.sqrt(n)


def _permutations(rngs, n, R, kind):
    """:func:`vimp._split.draw_permutations` of ``R`` rows from each Generator of ``rngs``, shape
    (len(rngs), R, n): the same draws from each Generator, in the same order (uniform permutations with
    one kernel call for all Generators instead of one per Generator)."""
    k = len(rngs)
    out = np.empty((k, R, n), dtype=np.int64)
    if kind == "derangement":
        if n < 2:
            raise _Fallback
        for g, rng in enumerate(rngs):
            _draw_derangements(rng, n, R, out[g])
        return out
    width = permutation_width(n)
    words = np.concatenate([_draw_words(rng, R, width) for rng in rngs])
    drawn, exhausted = permutations_from_words(words, n)
    out[:] = drawn.reshape(k, R, n)
    for index in np.flatnonzero(exhausted):  # in each Generator's order, after its words
        g, r = divmod(int(index), R)
        out[g, r] = rngs[g].permutation(n)
    return out


def _perturbed(raw, raw_se, full, part, entropy, k, streams):
    """LOCO's perturbed test from its three draws per group (:func:`perturbed_test_from_draws`), from the
    same child Generators as :class:`vimp.LOCO`; the paired test's ``(raw, raw_se)`` as they are."""
    if part["test"] == "paired":
        return raw, raw_se
    n = len(full)
    rngs = streams.children(entropy, [(_SEED_TEST, _KEY_PERTURB, g) for g in range(k)])
    draws = np.array([draw_perturbation(rng, n) for rng in rngs])
    est, se, _ = perturbed_test_from_draws(raw, raw_se, full, perturbation_scale(n), draws)
    return est, se


@functools.lru_cache(maxsize=64)
def _nuisance_limit(tests):
    """The z above which Holm over ``tests`` one-sided tests could flag (with the margin)."""
    return float(stats.norm.isf(min(1.0, _NUISANCE_MARGIN * NUISANCE_ALPHA / tests)))


# ------------------------------------------------------------------------------------------ cross-fitting
def _cv_part(part, X, y, entropy, cols, streams):
    """One estimator with ``cv=K`` on one replicate's ``n`` rows: ``(raw, se, a, b)`` as :func:`run_chunk`
    stores them (PaP: the corrected cross-fitted t test's zero skewness and K - 1 degrees of freedom)."""
    from .._base import child_rng
    from .._inference import crossfit_t, fold_means
    from .._split import make_folds

    n = len(y)
    k = len(cols)
    seq = np.random.SeedSequence(entropy)
    folds = make_folds(part["folds"], X, y, False, child_rng(seq, _SEED_SPLIT))
    fold_ids = np.empty(n, dtype=np.intp)
    full = np.empty(n)
    other = np.empty((n, k))
    x_res = np.empty((n, k)) if part["method"] == "gcm" else None
    prices = np.empty(n)
    base_x = np.empty((n, k))
    base_y = np.empty(n)
    for f, (train, test) in enumerate(folds):
        fold_ids[test] = f
        rep = _Replicate(X[train], y[train], X[test], y[test], part["intercept"], part["rank_tol"])
        full[test] = rep.full
        m = len(test)
        if part["method"] == "pap":
            keys = [(_SEED_EVAL, f)] if part["shared"] else [(_SEED_EVAL, g, f) for g in range(k)]
            perms = _permutations(streams.children(entropy, keys), m, part["permutations"], part["kind"])
            for g, c in enumerate(cols):
                terms = pap_linear_terms(rep.ye, rep.pred, np.ascontiguousarray(rep.Xe[:, c:c + 1]),
                                         np.ascontiguousarray(rep.coef[c:c + 1]), perms[0 if part["shared"] else g],
                                         np.ones(m), rep.full, LOSS_SQUARED)
                other[test, g] = terms[0]
        elif part["method"] == "loco" and part["refit"] == "drop":
            other[test] = rep.drop_losses(cols)
        elif part["method"] == "loco":
            rngs = streams.children(entropy, [(_SEED_FIT, g, f) for g in range(k)])
            for g, c in enumerate(cols):
                perm = rngs[g].permutation(len(train))
                Xp = rep.Xt.copy()
                Xp[:, c] = rep.Xt[perm, c]
                center, y_center, beta, _ = _fit(Xp, rep.yt, part["intercept"], part["rank_tol"])
                r = rep.ye - (rep.Xe @ beta + float(y_center - center @ beta))
                other[test, g] = r * r
        else:
            diag = np.diag(rep.G)[cols]
            Vc = rep.V[:, cols]
            x_res[test] = Vc * (1.0 / diag)
            y_part = Vc * (rep.beta[cols] / diag)
            y_part += rep.res[:, None]
            other[test] = y_part
            prices[test] = float(_linear_price(X.shape[1] - 1, len(train)))
            base_x[test] = rep.Xe[:, cols] - rep.Xt[:, cols].mean(axis=0)
            base_y[test] = rep.ye - rep.yt.mean()
    if part["method"] == "gcm":
        spread = np.max(X[:, cols], axis=0) - np.min(X[:, cols], axis=0)
        if np.any(np.max(np.abs(x_res), axis=0) <= COLLINEAR_TOLERANCE * spread):
            raise _Fallback
        a, se = _mean_se(x_res * other)
        if not np.all(np.isfinite(se) & (se > 0)):
            raise _Fallback
        if part["nuisance_check"] and np.all(np.isfinite(prices)):
            z = -np.inf
            for learner, base in ((x_res, base_x), (other, np.repeat(base_y[:, None], k, axis=1))):
                l2, b2 = learner * learner, base * base
                mean, dse = _mean_se(l2 - (1.0 + prices[:, None]) * b2)
                scale = l2.mean(axis=0) + b2.mean(axis=0)
                live = dse > 1e-12 * np.where(scale > 0, scale, 1.0)
                z = max(z, float(np.max(np.where(live, mean / np.where(dse > 0, dse, 1.0), 0.0))))
            if z >= _nuisance_limit(2 * k):
                raise _Fallback
        return a, se, None, None
    diff = other - full[:, None]
    raw, raw_se = _mean_se(diff)
    if _numerically_zero(diff, full, other) or not np.all(np.isfinite(raw_se) & (raw_se > 0)):
        raise _Fallback
    if part["method"] == "pap":
        ratio = float(np.mean([len(test) / len(train) for train, test in folds]))
        se, dof = crossfit_t(fold_means(diff, fold_ids, len(folds)), ratio)
        if not np.all(np.isfinite(se) & (se > 0)):
            raise _Fallback
        return raw, se, np.zeros(k), np.full(k, dof)
    return (raw, raw_se) + _perturbed(raw, raw_se, full, part, entropy, k, streams)


# ----------------------------------------------------------------------------------------------- chunk
@functools.lru_cache(maxsize=256)
def _block_table(n, R):
    """``_derangement_words(n, m)`` for ``m = 0, ..., R`` (the Generator's block sizes), cached."""
    return derangement_block_words(n, R)


def _perturbed_chunk(raw, raw_se, sd_full, n, scale, draws):
    """:func:`vimp._inference.perturbed_test_from_draws` of every replicate of a chunk at once (its estimate
    and standard error, :func:`vimp._inference.perturbed_statistic` on arrays of shape (replicates, groups)
    with ``rho`` per replicate; a test compares them with the function, replicate by replicate, bit for
    bit). ``sd_full`` holds ``full_loss.std()`` of each replicate, ``draws`` (replicates, groups, 3).
    """
    return perturbed_statistic(raw, raw_se, (float(scale) * sd_full)[:, None], n, draws)


_NO_TABLE = np.zeros(1, dtype=np.int64)
#: Rows x features of the replicates stacked in one block of a chunk (each stacked array of the block
#: holds at most this many values: 32 MB of float64).
_BLOCK_CELLS = 4_000_000
#: Largest ``||R||_F ||R^-1||_F`` of the equilibrated Cholesky factor for which the compiled fit of a
#: chunk (:func:`vimp._kernels.simulation_nb.ols_chunk`) is used; above it (and up to the fitter's own
#: Cholesky limit, beyond which the fitter takes its QR path) the replicate is fitted with the fitter's
#: LAPACK calls (:func:`_fit`). The two Cholesky factorisations differ at rounding level, amplified by
#: the condition. Measured against the generic path on Bladen designs of 100 replicates (p = 3 to 12,
#: delta = 0.77 to 0.99, n = 20 to 2,000; every table column, relative): at most 2.4e-12 with this
#: limit, 1.2e-11 at 100, 4.8e-9 at 300 (tests/test_simulation_fast.py checks such designs).
_COMPILED_MAX_CONDITION = 50.0


class _Arrays:
    """One replicate's arrays, as :func:`_loco_permute_refit` reads them from a :class:`_Replicate`."""

    def __init__(self, Xt, yt, Xe, ye, full):
        self.Xt, self.yt, self.Xe, self.ye, self.full = Xt, yt, Xe, ye, full


def _fit_limits(n, p, rank_tol):
    """The compiled fit's ``(threshold, max_condition, norm_low, norm_high)`` (the fitter's rank threshold)."""
    threshold = max(float(rank_tol), _lstsq_cutoff(float(rank_tol), (n, p)), max(n, p) * _EPS)
    return threshold, min(_COMPILED_MAX_CONDITION, _CHOLESKY_MAX_CONDITION), _NORM_RANGE[0], _NORM_RANGE[1]


def _fit_chunk(Xt, yt, Xe, ye, intercept, rank_tol):
    """:func:`vimp._kernels.simulation_nb.ols_chunk` of a chunk with the fitter's rank threshold."""
    n, p = Xt.shape[1:]
    return ols_chunk(Xt, yt, Xe, ye, bool(intercept), *_fit_limits(n, p, rank_tol))


def _fitter_fit(fit, i, Xt, yt, Xe, ye, intercept, rank_tol):
    """Replicate ``i`` of a chunk's :func:`_fit_chunk` outputs ``fit``, refitted with the fitter's own
    LAPACK calls (:func:`_fit`: where the compiled fit flagged it); raises :class:`_Fallback` where the
    fitter's path is not covered."""
    center, y_center, beta, G = _fit(Xt, yt, intercept, rank_tol)
    ok, beta_out, G_out, pred_out, full_out, V_out = fit[:6]
    pred = Xe @ beta + float(y_center - center @ beta)
    res = ye - pred
    beta_out[i], G_out[i], pred_out[i], full_out[i] = beta, G, pred, res * res
    V_out[i] = (Xe - center) @ G
    ok[i] = True


def _zero_at_rounding(low, high, full, other_max):
    """Replicates (rows) where some feature's differences all lie at rounding level (the estimators'
    exact zero), from the extremes ``low``, ``high`` (m, k) of the differences."""
    bound = ROUNDING_TOLERANCE * (2.0 * np.max(np.abs(full), axis=1) + other_max + 1e-300)
    return np.any((high <= bound[:, None]) & (low >= -bound[:, None]), axis=1)


def _held_out(spec, parts, seeds, cols, store, fast):
    """The replicates of a chunk with a held-out evaluation set (``"independent"``, ``"holdout"``): fills
    ``store`` (raw, se and the test's inputs per estimator) and marks in ``fast`` the replicates left to
    the generic path.

    The random streams are those of the generic path: the Generator states of every child seed of the
    chunk in a few compiled calls (:func:`_child_states`); PaP's permutations straight from the PCG64
    states in compiled code (:func:`vimp._kernels.random_nb.derangements_from_pcg64`, the same draws as
    :func:`vimp._split.draw_permutations` on those Generators); LOCO's perturbation draws and permuted
    training rows from NumPy Generators put on the states.
    """
    dgp, n = spec["dgp"], spec["n"]
    independent = spec["validation"] == "independent"
    n_train = n if independent else n // 2
    n_eval = n if independent else n - n // 2
    count, k = len(seeds), len(cols)
    cols64 = np.asarray(cols, dtype=np.int64)
    entropy = _estimator_seeds(seeds, [part["name"] for part in parts])
    pool = _Pool()
    gcm_price = float(_linear_price(dgp.p - 1, n_train))
    shared_price = np.inf
    if any(part["method"] == "gcm" and part["nuisance_check"] for part in parts):
        shared_price = gcm_price  # LOCO's drop statistics do not depend on the price: one kernel call
    extras = []
    for j, part in enumerate(parts):
        run = entropy[:, j]
        extra = {}
        if part["method"] == "pap":
            R = part["permutations"]
            keys = [(_SEED_EVAL, 0)] if part["shared"] else [(_SEED_EVAL, g, 0) for g in range(k)]
            extra["states"] = _child_states(run, keys)
            if part["kind"] == "derangement":
                extra["table"] = _block_table(n_eval, R)
            else:
                extra["width"] = permutation_width(n_eval)
        elif part["method"] == "loco":
            if part["refit"] == "permute":
                extra["fit_array"] = _child_states(run, [(_SEED_FIT, g, 0) for g in range(k)])
                extra["fit_states"] = extra["fit_array"].tolist()
            if part["test"] == "perturbed":
                states = _child_states(run, [(_SEED_TEST, _KEY_PERTURB, g) for g in range(k)]).tolist()
                draws = np.empty((count, k, 3))
                for i in range(count):
                    for g in range(k):
                        draws[i, g] = draw_perturbation(pool.on(states[i][g]), n_eval)
                extra["draws"] = draws
                extra["sd_full"] = np.full(count, np.nan)
        extras.append(extra)
    data_states = _child_states(seeds, [(0,)])[:, 0].tolist()
    p = dgp.p
    Xt_all, yt_all = np.empty((count, n_train, p)), np.empty((count, n_train))
    Xe_all, ye_all = np.empty((count, n_eval, p)), np.empty((count, n_eval))
    for i in range(count):
        rng = pool.on(data_states[i])
        X, y = dgp._draw(n, rng)  # a built-in dgp: finite floats of the right shapes, as sample checks
        if independent:
            Xt_all[i], yt_all[i] = X, y
            Xe_all[i], ye_all[i] = dgp._draw(n, rng)
        else:
            half = n // 2
            Xt_all[i], yt_all[i], Xe_all[i], ye_all[i] = X[:half], y[:half], X[half:], y[half:]
    # the replicates' fits in one compiled call per model; where it flags one, the fitter's own path
    fits = {}
    for part in parts:
        key = (part["intercept"], part["rank_tol"])
        if key not in fits:
            fits[key] = fit = _fit_chunk(Xt_all, yt_all, Xe_all, ye_all, *key)
            fast &= ~fit[8]  # a constant training column: the generic path
            for i in np.flatnonzero(fast & ~fit[0]):
                try:
                    _fitter_fit(fit, i, Xt_all[i], yt_all[i], Xe_all[i], ye_all[i], *key)
                except _Fallback:
                    fast[i] = False
    compiled = fast.copy()
    drops = {}
    for part, out, extra in zip(parts, store, extras):
        key = (part["intercept"], part["rank_tol"])
        ok, beta, G, pred, full, V, x_mean, y_base, _ = fits[key]
        if part["method"] == "pap":
            stats_, other_max, drawn = pap_chunk(ye_all, pred, full, Xe_all, beta, cols64,
                                                 extra["states"], part["permutations"],
                                                 part["kind"] == "derangement", part["shared"],
                                                 extra.get("width", 0), extra.get("table", _NO_TABLE), compiled)
            raw, raw_se, se, skew, dof, low, high = (stats_[:, j] for j in range(7))
            bad = _zero_at_rounding(low, high, full, other_max) | ~drawn
            bad |= ~(np.all(raw_se > 0, axis=1) & np.all(np.isfinite(se) & (se > 0), axis=1))
            out["raw"][compiled], out["se"][compiled] = raw[compiled], se[compiled]
            out["a"][compiled], out["b"][compiled] = skew[compiled], dof[compiled]
        elif part["method"] == "gcm" or part["refit"] == "drop":
            if key not in drops:
                drops[key] = drop_chunk(ye_all, pred, full, V, cols64, beta, G, Xe_all, x_mean, y_base,
                                        shared_price, compiled)
            stats_, other_max, z = drops[key]
            if part["method"] == "loco":
                raw, raw_se, low, high = (stats_[:, j] for j in range(4))
                bad = _zero_at_rounding(low, high, full, other_max)
                bad |= ~np.all(np.isfinite(raw_se) & (raw_se > 0), axis=1)
                out["raw"][compiled], out["se"][compiled] = raw[compiled], raw_se[compiled]
            else:
                a, se, x_abs, spread = (stats_[:, j] for j in range(4, 8))
                bad = np.any(x_abs <= COLLINEAR_TOLERANCE * spread, axis=1)  # the generic path zeroes these
                bad |= ~np.all(np.isfinite(se) & (se > 0), axis=1)
                if part["nuisance_check"] and np.isfinite(gcm_price):
                    bad |= z >= _nuisance_limit(2 * k)
                out["raw"][compiled], out["se"][compiled] = a[compiled], se[compiled]
        else:  # LOCO with permute-and-refit: the refits compiled; a flagged refit as the fitter does it
            stats_, other_max, refit = loco_permute_chunk(Xt_all, yt_all, Xe_all, ye_all, full, cols64,
                                                          extra["fit_array"], bool(part["intercept"]),
                                                          *_fit_limits(n_train, p, part["rank_tol"]), compiled)
            raw, raw_se, low, high = (stats_[:, j] for j in range(4))
            bad = _zero_at_rounding(low, high, full, other_max)
            bad |= ~np.all(np.isfinite(raw_se) & (raw_se > 0), axis=1)
            bad &= refit
            out["raw"][compiled], out["se"][compiled] = raw[compiled], raw_se[compiled]
            for i in np.flatnonzero(compiled & ~refit):
                rep = _Arrays(Xt_all[i], yt_all[i], Xe_all[i], ye_all[i], full[i])
                try:
                    out["raw"][i], out["se"][i] = _loco_permute_refit(rep, part, extra, i, cols, pool)
                except _Fallback:
                    bad[i] = True
        if "sd_full" in extra:
            extra["sd_full"][compiled] = full[compiled].std(axis=1)
        fast &= ~(compiled & bad)
    for part, out, extra in zip(parts, store, extras):
        if part["method"] != "loco":
            continue
        if part["test"] == "paired":
            out["a"][:], out["b"][:] = out["raw"], out["se"]
        else:
            out["a"][:], out["b"][:] = _perturbed_chunk(out["raw"], out["se"], extra["sd_full"], n_eval,
                                                        perturbation_scale(n_eval), extra["draws"])


def _loco_permute_refit(rep, part, extra, i, cols, pool):
    """LOCO with permute-and-refit of replicate ``i`` of a chunk, refitted with the fitter's LAPACK calls
    (where the compiled refit flagged it): ``(raw, raw_se)`` per group."""
    full = rep.full
    n = len(rep.ye)
    other = np.empty((n, len(cols)))
    Xt = rep.Xt
    n_train = Xt.shape[0]
    states = extra["fit_states"][i]
    for g, c in enumerate(cols):
        perm = pool.on(states[g]).permutation(n_train)
        Xp = Xt.copy()
        Xp[:, c] = Xt[perm, c]
        center, y_center, beta, _ = _fit(Xp, rep.yt, part["intercept"], part["rank_tol"])
        pred = rep.Xe @ beta + float(y_center - center @ beta)
        r = rep.ye - pred
        other[:, g] = r * r
    diff = other - full[:, None]
    raw, raw_se = _mean_se(diff)
    if _numerically_zero(diff, full, other) or not np.all(np.isfinite(raw_se) & (raw_se > 0)):
        raise _Fallback
    return raw, raw_se


def run_chunk(spec, parts, replicates, seeds, generic):
    """Rows (dict of lists, the runner's columns) and warnings of a chunk of replicates.

    ``generic(spec, replicate, seed)`` computes one replicate by the generic path (rows, warnings).
    """
    dgp = spec["dgp"]
    names = list(dgp.feature_names)
    features = spec["features"]
    cols = (np.arange(dgp.p) if features is None else np.array([names.index(f) for f in features], dtype=np.intp))
    labels = [names[c] for c in cols]
    k = len(cols)
    count = len(replicates)
    # per estimator: raw estimate, its se, and the test's inputs, (count, k) each
    store = [{key: np.full((count, k), np.nan) for key in ("raw", "se", "a", "b")} for _ in parts]
    fast = np.ones(count, dtype=bool)
    streams = _Streams()
    if spec["validation"] != "cv":
        # blocks of replicates whose stacked arrays stay small (the numbers do not depend on the blocks)
        block = max(1, _BLOCK_CELLS // (spec["n"] * spec["dgp"].p))
        for start in range(0, count, block):
            part_store = [{key: value[start:start + block] for key, value in out.items()} for out in store]
            _held_out(spec, parts, seeds[start:start + block], cols, part_store, fast[start:start + block])
    for i, seed in enumerate(seeds):
        if spec["validation"] == "cv":
            rng = streams.children(seed, [(0,)])[0]
            X, y = spec["dgp"].sample(spec["n"], rng)
            try:
                if _constant(X):
                    raise _Fallback
                for part, out in zip(parts, store):
                    values = _cv_part(part, X, y, _seed_of(seed, part["name"], streams), cols, streams)
                    for key, value in zip(("raw", "se", "a", "b"), values):
                        if value is not None:
                            out[key][i] = value
            except _Fallback:
                fast[i] = False
            continue
    # inference for the whole chunk at once, through vimp's own functions
    columns = {}
    for part, out in zip(parts, store):
        raw, se, level = out["raw"], out["se"], part["level"]
        if part["method"] == "gcm":
            importance, std_error = raw, se
            low, high = wald_interval(raw, se, level)
            pvalue = pvalue_two_sided(raw, se)
        elif part["method"] == "pap":
            skew, dof = out["a"], out["b"]
            pvalue = skew_corrected_pvalue_greater(raw, se, skew, dof)
            low, high = skew_corrected_limits(raw, se, skew, level, dof)
            importance, std_error = _on_scale(part["scale"], raw, se)
            if part["scale"] == "sqrt":
                low, high = np.sqrt(np.maximum(low, 0.0)), np.sqrt(np.maximum(high, 0.0))
        else:
            pvalue = pvalue_greater(out["a"], out["b"])
            low, high = wald_interval(raw, se, level)
            importance, std_error = _on_scale(part["scale"], raw, se)
            if part["scale"] == "sqrt":
                low, high = np.sqrt(np.maximum(low, 0.0)), np.sqrt(np.maximum(high, 0.0))
        columns[part["name"]] = (importance, std_error, low, high, pvalue)
    return _rows(spec, parts, columns, labels, replicates, seeds, fast, generic)


def _rows(spec, parts, columns, labels, replicates, seeds, fast, generic):
    """The chunk's rows as arrays: the fast replicates' in bulk, then the generic path's."""
    from ._store import COLUMNS

    k = len(labels)
    n_est = len(parts)
    chosen = np.flatnonzero(fast)
    m = chosen.size
    names = [part["name"] for part in parts]
    out = {
        "replicate": np.repeat(np.asarray(replicates, dtype=np.int64)[chosen], n_est * k),
        "estimator": np.tile(np.repeat(np.array(names, dtype=object), k), m),
        "feature": np.tile(np.array(labels, dtype=object), m * n_est),
    }
    for j, column in enumerate(("importance", "std_error", "ci_low", "ci_high", "pvalue")):
        out[column] = np.stack([columns[name][j][chosen] for name in names], axis=1).reshape(-1)
    truth = np.array([[spec["truths"][name].get(f, np.nan) for f in labels] for name in names], dtype=float)
    out["truth"] = np.tile(truth.reshape(-1), m)
    out["seed"] = np.repeat(np.asarray(seeds, dtype=np.int64)[chosen], n_est * k)
    caught = []
    if m < len(replicates):
        extra = {c: [] for c in COLUMNS}
        for i in np.flatnonzero(~fast):
            part_rows, w = generic(spec, replicates[i], seeds[i])
            for c in COLUMNS:
                extra[c] += part_rows[c]
            caught += w
        for c in COLUMNS:
            out[c] = np.concatenate([out[c], np.asarray(extra[c], dtype=out[c].dtype)])
    return {c: out[c] for c in COLUMNS}, caught


def frame(rows):
    """The runner's chunk frame (``_runner._frame``) of typed row arrays, without its ``astype`` pass."""
    import pandas as pd

    from ._store import COLUMNS

    columns = {}
    for c, dtype in COLUMNS.items():
        values = np.asarray(rows[c])
        if dtype == "object":
            columns[c] = pd.Series(values, dtype=object, copy=False)  # labels stay objects, not strings
        else:
            columns[c] = values if values.dtype == np.dtype(dtype) else values.astype(dtype)
    return pd.DataFrame(columns, copy=False)


def _on_scale(scale, raw, se):
    if scale == "difference":
        return raw, se
    est = np.sqrt(np.maximum(raw, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        out_se = np.where(raw > 0, se / (2.0 * est), np.where(se == 0, 0.0, np.nan))
    return est, out_se
