"""Split plans and seeds.

All randomness of one call descends from one :class:`numpy.random.SeedSequence`, spawned per fold,
feature and replicate, so that results do not depend on ``n_jobs`` or on the joblib backend.
"""

from __future__ import annotations

import itertools
import math
import numbers
import threading

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, check_cv


def seed_sequence(random_state):
    """A SeedSequence from ``random_state`` (None, an int >= 0, a SeedSequence or a Generator).

    A Generator is advanced by one draw (its entropy seeds the sequence), so that passing the same
    Generator twice gives different, reproducible streams, as NumPy users expect.
    """
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(0, 2**63 - 1)))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be None, an int >= 0 or a Generator; got {random_state}")
        return np.random.SeedSequence(int(random_state))
    raise TypeError(
        "random_state must be None, an int >= 0, a numpy.random.Generator or a SeedSequence; "
        f"got {type(random_state).__name__}"
    )


def generators(seq, count):
    """``count`` independent Generators spawned from ``seq``."""
    return [np.random.default_rng(s) for s in seq.spawn(count)]


def check_cv_param(cv):
    """``cv`` must be None, an int >= 2, a scikit-learn splitter or an iterable of (train, test) pairs.

    Returns the value to plan folds from: an iterable of pairs comes back as a list (a generator can be
    read once only), everything else as it is.
    """
    if cv is None:
        return None
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(
                f"cv must be None, an integer >= 2, a scikit-learn splitter or a list of (train, test) "
                f"index pairs; got {cv}"
            )
        return int(cv)
    if hasattr(cv, "split") and hasattr(cv, "get_n_splits"):
        return cv
    if isinstance(cv, (str, bytes, dict, bool, float)) or not hasattr(cv, "__iter__"):
        raise TypeError(
            "cv must be None, an integer >= 2, a scikit-learn splitter or a list of (train, test) index "
            f"pairs; got {cv!r}"
        )
    pairs = list(cv)
    for k, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise TypeError(f"cv: entry {k} must be a (train, test) pair of index arrays; got {pair!r}")
    if not pairs:
        raise ValueError("cv: the list of (train, test) pairs is empty")
    return pairs


def _index_array(values, n, what):
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"cv: {what} must be a 1-D array of integer row positions; got dtype {arr.dtype}, "
                        f"shape {arr.shape}")
    arr = arr.astype(np.intp, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"cv: {what} has row positions outside 0..{n - 1}")
    return arr


class Folds(list):
    """The checked ``(train, test)`` pairs of :func:`check_folds`, a list, with ``owner``: each row's fold
    (an ``int8``/``int16``/``int32`` array of length n) when every training part is the complement of its
    test part (K-fold cross-fitting), else None. Consumers that need the partition
    (:meth:`vimp._linear_fitter.LinearFitter.fit_folds`, :func:`sorted_test_rows`) read it instead of
    checking the folds again."""

    owner: np.ndarray | None = None


def check_folds(folds, n):
    """Checked ``(train, test)`` index pairs: disjoint, non-empty, test parts partitioning ``range(n)``.

    Counting passes (``bincount``), not sorts, so the check costs a few passes over the indices. Returns a
    :class:`Folds` list, whose ``owner`` records the partition when the folds are K-fold complements.
    """
    folds = list(folds)
    checked = []
    counts = np.zeros(n, dtype=np.intp)
    in_test = np.zeros(n, dtype=bool)
    owner = np.empty(n, dtype=np.min_scalar_type(-max(len(folds), 1)))
    complements = True
    for f, (train, test) in enumerate(folds):
        train = _index_array(train, n, f"the training part of fold {f}")
        test = _index_array(test, n, f"the test part of fold {f}")
        if train.size == 0:
            raise ValueError(f"cv: the training part of fold {f} is empty; every fold needs training rows")
        if test.size == 0:
            raise ValueError(f"cv: the test part of fold {f} is empty")
        for part, name in ((train, "training"), (test, "test")):
            if np.bincount(part, minlength=n).max() > 1:
                raise ValueError(f"cv: the {name} part of fold {f} repeats a row")
        in_test[:] = False
        in_test[test] = True
        overlap = int(np.count_nonzero(in_test[train]))
        if overlap:
            row = int(train[np.flatnonzero(in_test[train])[0]])
            raise ValueError(
                f"cv: fold {f} trains on {overlap} of its own test rows (e.g. row {row}); "
                "cross-fitting needs test rows that the fold's model never saw"
            )
        counts[test] += 1
        owner[test] = f
        # no repeats and no overlap (checked above): the training part is the complement iff it has
        # every other row
        complements = complements and train.size == n - test.size
        checked.append((train, test))
    if n < 2**31:  # 32-bit positions: the folds an estimator keeps take half the memory
        checked = [(train.astype(np.int32), test.astype(np.int32)) for train, test in checked]
    if not np.all(counts == 1):
        raise ValueError(
            "cv must produce test folds that cover every row exactly once (a partition, as KFold does); "
            f"{int(np.sum(counts == 0))} rows are never tested and {int(np.sum(counts > 1))} more than "
            "once; use cv=None with held-out data for other schemes"
        )
    out = Folds(checked)
    if complements:  # every row tested exactly once (just checked), so owner is set everywhere
        out.owner = owner
    return out


def sorted_test_rows(folds, n):
    """Each fold's test positions in increasing order (the same rows; gathering rows in order is faster).

    Test parts that partition ``range(n)`` (as :func:`check_folds` requires) are sorted by one counting
    pass (each row's fold, then the rows of each fold); other parts by ``np.sort``.
    """
    tests = [np.asarray(test) for _, test in folds]
    owner = getattr(folds, "owner", None)
    if owner is not None and len(owner) == n:  # checked partition (check_folds)
        return [np.flatnonzero(owner == f) for f in range(len(tests))]
    if sum(t.size for t in tests) != n:
        return [np.sort(t) for t in tests]
    owner = np.full(n, -1, dtype=np.intp)
    for f, test in enumerate(tests):
        owner[test] = f
    rows = [np.flatnonzero(owner == f) for f in range(len(tests))]
    if any(r.size != t.size for r, t in zip(rows, tests)):  # a repeated row: not a partition
        return [np.sort(t) for t in tests]
    return rows


def make_folds(cv, X, y, classifier, rng, groups=None):
    """Train/test index pairs whose test parts cover every row exactly once.

    An integer ``cv`` gives shuffled (stratified for classifiers) K folds seeded from ``rng``; a splitter
    is asked for its splits (with ``groups`` passed to ``split``, as scikit-learn's ``cross_validate``
    does); a list of pairs is used as given. Every plan is checked by :func:`check_folds`.
    """
    n = len(y)
    if groups is not None:
        groups = np.asarray(groups)
        if groups.ndim != 1 or groups.shape[0] != n:
            raise ValueError(f"cv_groups must be 1-D with one group label per row ({n}); got shape "
                             f"{groups.shape}")
    if isinstance(cv, numbers.Integral):
        if groups is not None:
            raise ValueError(
                "cv_groups needs a splitter that uses groups, e.g. cv=sklearn.model_selection.GroupKFold(5); "
                "an integer cv splits rows without regard to groups"
            )
        if cv > n:
            raise ValueError(f"cv={cv} folds need at least {cv} rows; got {n}")
        seed = int(rng.integers(0, 2**31 - 1))
        splitter = (StratifiedKFold if classifier else KFold)(n_splits=cv, shuffle=True, random_state=seed)
        pairs = splitter.split(X, y)
    elif isinstance(cv, list):
        pairs = cv
    else:
        splitter = check_cv(cv, y, classifier=classifier)
        pairs = splitter.split(X, y, groups)
    return check_folds(list(pairs), n)


def sample_split(n, rng):
    """A random split of ``range(n)`` into two halves (sizes differ by at most one)."""
    order = rng.permutation(n)
    half = n // 2
    return np.sort(order[:half]), np.sort(order[half:])


#: Words per permutation kept in reserve beyond ``n - 1`` for rejections (see :func:`draw_permutations`).
PERMUTATION_RESERVE = 16


def _permutation_reserve(n):
    # A rejection at step s has probability below s / 2**32, so a permutation of n rows expects fewer
    # than lam = n**2 / 2**33 of them (0.003 at n = 5,000). The reserve is 16 + 2 lam + 8 sqrt(lam) words;
    # running out is a Poisson tail below 1e-20 at every n (and then handled, not wrong).
    lam = n * n / 2.0**33
    return PERMUTATION_RESERVE + math.ceil(2.0 * lam + 8.0 * math.sqrt(lam))


#: Bit generators whose raw output is a uniform 64-bit integer (MT19937's is 32-bit).
_FULL_64_BIT = (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64)


def _draw_words(rng, n_rows, width):
    """``(n_rows, width)`` uniform 64-bit words from ``rng`` in one call (raw output where it is 64-bit)."""
    if isinstance(rng.bit_generator, _FULL_64_BIT):  # their raw outputs are uniform 64-bit integers
        return rng.bit_generator.random_raw((n_rows, width))
    return rng.integers(0, 2**64, size=(n_rows, width), dtype=np.uint64)


#: 32-bit words drawn per derangement of ``n`` rows, as a multiple of ``n - 1``: the mean (about 1.76 at
#: ``n >= 10``, 2.5 at ``n = 3``; measured in ``tests/test_kernels.py``) rounded up ...
DERANGEMENT_WORDS_MEAN = 1.8
#: ... and the margin for ``m`` derangements, ``DERANGEMENT_WORDS_MARGIN * sqrt(m)`` (the standard deviation
#: per derangement is about ``n - 1`` at ``n >= 10``): the words of one call run out with probability
#: about 1e-4 at ``n >= 10`` (z > 3.5 for every ``m``) and a call needs a second draw only then.
DERANGEMENT_WORDS_MARGIN = 3.0


def _derangement_words(n, m):
    """64-bit values to draw for ``m`` derangements of ``n`` rows (two 32-bit words each)."""
    words = (DERANGEMENT_WORDS_MEAN * m + DERANGEMENT_WORDS_MARGIN * math.sqrt(m) + 1.0) * max(n - 1, 0)
    return (math.ceil(words) + _permutation_reserve(n) + 1) // 2

#: Choices of ``kind`` in :func:`draw_permutations`.
PERMUTATION_KINDS = ("derangement", "uniform")


def _draw_derangements(rng, n, count, out=None):
    """``count`` uniform derangements of ``range(n)`` (``n >= 2``, or ``n = 0``) from ``rng``, written into
    ``out`` (shape (count, n), int64) where given; see :func:`draw_permutations`."""
    from ._kernels import derangements_from_stream

    perms = np.empty((count, n), dtype=np.int64) if out is None else out
    done = 0
    while done < count:
        words = _draw_words(rng, 1, _derangement_words(n, count - done))[0]
        drawn, got, _ = derangements_from_stream(words, n, count - done)
        perms[done:done + got] = drawn[:got]
        done += got
    return perms


def draw_permutations(rng, n, n_permutations, kind="uniform"):
    """``n_permutations`` independent random permutations of ``range(n)``, shape (R, n).

    ``kind="uniform"``: uniformly random permutations. The randomness is one NumPy call on ``rng``:
    ``R x (n - 1 + reserve) / 2`` uniform 64-bit integers, each split into two 32-bit words. They are the
    raw output of ``rng``'s bit generator when it produces 64 bits per draw (PCG64, the default, and
    PCG64DXSM, Philox, SFC64: half the cost of :meth:`numpy.random.Generator.integers`), else
    ``rng.integers(0, 2**64, dtype=uint64)``. The compiled kernel
    :func:`vimp._kernels.random_nb.permutations_from_words` maps each row of words to a permutation by
    Fisher–Yates with Lemire's exact bounded integers, so every permutation is exactly equally likely.
    This is about three times faster than ``R`` calls of ``rng.permutation`` (which draws one bounded
    integer at a time) and gives the same numbers with or without the JIT. The rare row that runs out of
    words is redrawn with ``rng.permutation``, after the words, so the result is still a function of the
    Generator's state alone.

    ``kind="derangement"``: uniformly random derangements (no ``perm[i] == i``), by rejection in the
    compiled kernel :func:`vimp._kernels.random_nb.derangements_from_stream` (Fisher–Yates restarted at
    the first fixed point; exactly uniform), all from one draw of about
    ``(1.8 R + 3 sqrt(R) + 1) (n - 1)`` words (:func:`_derangement_words`). Where they run out (rarely;
    often at ``n < 10``), the remaining rows are drawn from fresh words of ``rng``, so the result is again
    a function of the Generator's state alone. Cost: about 1.5 times that of uniform permutations, the
    ratio of the words they read (100 derangements of 500 rows 0.18 ms in the kernel against 0.13 ms).
    ``n = 1`` has no derangement and is refused.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Rows to permute.
    n_permutations : int
    kind : {"uniform", "derangement"}, default="uniform"

    Returns
    -------
    perms : ndarray of shape (n_permutations, n), int64
    """
    from ._kernels import permutations_from_words

    n = int(n)
    n_permutations = int(n_permutations)
    if n < 0 or n_permutations < 0:
        raise ValueError(f"n and n_permutations must be >= 0; got {n} and {n_permutations}")
    if kind not in PERMUTATION_KINDS:
        raise ValueError(f"kind must be one of {list(PERMUTATION_KINDS)}; got {kind!r}")
    if kind == "derangement":
        if n == 1 and n_permutations > 0:
            raise ValueError("a derangement needs at least 2 rows (a single row cannot move); got n = 1")
        return _draw_derangements(rng, n, n_permutations)
    if n >= 2**31:  # pragma: no cover - far beyond memory for an (R, n) index array
        return np.vstack([rng.permutation(n) for _ in range(n_permutations)]).astype(np.int64)
    width = permutation_width(n)
    words = _draw_words(rng, n_permutations, width)
    perms, exhausted = permutations_from_words(words, n)
    for r in np.flatnonzero(exhausted):
        perms[r] = rng.permutation(n)
    return perms


def child_seed(seq, *keys):
    """The deterministic child of ``seq`` at ``keys`` (unlike ``spawn``, it has no hidden counter)."""
    return np.random.SeedSequence(seq.entropy, spawn_key=tuple(seq.spawn_key) + tuple(keys))


def permutation_width(n):
    """64-bit values per uniform permutation of ``n`` rows in :func:`draw_permutations` (two 32-bit words
    each: ``n - 1`` words and the reserve)."""
    return (max(n - 1, 0) + _permutation_reserve(n) + 1) // 2


def derangement_block_words(n, R):
    """``_derangement_words(n, m)`` for ``m = 0, ..., R``: the block sizes :func:`_draw_derangements`
    draws, as the compiled draws take them."""
    return np.array([0] + [_derangement_words(n, m) for m in range(1, R + 1)], dtype=np.int64)


def seed_entropy_rows(run, keys):
    """Assembled entropy of ``SeedSequence(run, spawn_key=key)`` for each key (all of one length), as
    :func:`vimp._kernels.simulation_nb.seed_sequence_words` takes it: the run's 32-bit words padded to
    the pool size of 4, then the key's words. None where a row does not fit that layout (a run entropy
    above 128 bits or negative, a key word outside ``[0, 2**32)``, keys of different lengths, no key)."""
    if not keys or not isinstance(run, numbers.Integral) or run < 0:
        return None
    run = int(run)
    words = []
    while True:
        words.append(run & 0xFFFFFFFF)
        run >>= 32
        if not run:
            break
    if (len(words) > 4 or len({len(key) for key in keys}) != 1 or not len(keys[0])
            or any(not 0 <= int(k) < 2**32 for key in keys for k in key)):
        return None
    words += [0] * (4 - len(words))
    return np.array([words + [int(k) for k in key] for key in keys], dtype=np.uint64)


def child_pcg64_states(seq, keys):
    """The PCG64 states of ``default_rng(SeedSequence(seq.entropy, spawn_key=seq.spawn_key + key))`` for
    each key, shape (len(keys), 4) uint64 (state high, low, increment high, low), in two compiled calls
    (NumPy's ``SeedSequence`` hash, then ``PCG64``'s seeding; both compared with NumPy's word for word in
    ``tests/test_kernels.py``; the children have NumPy's default pool size of 4 whatever ``seq``'s, as
    :func:`child_seed` makes them). None where the layout does not fit (see
    :func:`seed_entropy_rows`): the caller then uses Generators."""
    if not isinstance(seq, np.random.SeedSequence):
        return None
    rows = seed_entropy_rows(seq.entropy, [tuple(seq.spawn_key) + tuple(key) for key in keys])
    if rows is None:
        return None
    from ._kernels.random_nb import pcg64_states
    from ._kernels.simulation_nb import seed_sequence_words

    return pcg64_states(seed_sequence_words(rows, 8))


class GroupPermutations:
    """The row permutations of several feature groups, each from its own child seed.

    Group ``g``'s permutations are ``draw_permutations(default_rng(SeedSequence(seq.entropy,
    spawn_key=seq.spawn_key + keys[g])), n, n_permutations, kind)``. Iterating draws them group by group,
    as they are used; :meth:`compiled` gives what compiled code needs to draw exactly the same
    permutations itself (the groups' PCG64 states), so that no Generator is made and no permutation is
    stored for all groups at once.
    """

    def __init__(self, seq, keys, n, n_permutations, kind):
        self.seq = seq
        self.keys = [tuple(key) for key in keys]
        self.n = int(n)
        self.n_permutations = int(n_permutations)
        self.kind = kind

    def __len__(self):
        return len(self.keys)

    def draw(self, g):
        """Group ``g``'s permutations, shape (n_permutations, n), from its Generator."""
        rng = np.random.default_rng(child_seed(self.seq, *self.keys[g]))
        return draw_permutations(rng, self.n, self.n_permutations, kind=self.kind)

    def __iter__(self):
        return (self.draw(g) for g in range(len(self.keys)))

    def compiled(self):
        """``(states, derangements, block_words, width)`` for
        :func:`vimp._kernels.linear_nb.pap_linear_groups`, or None where compiled drawing does not apply
        (fewer than two rows, a seed layout it does not cover, more than 2**31 rows)."""
        n, R = self.n, self.n_permutations
        if n < 2 or n >= 2**31 or R < 1:
            return None
        states = child_pcg64_states(self.seq, self.keys)
        if states is None:
            return None
        return states, self.kind == "derangement", derangement_block_words(n, R), permutation_width(n)


class SamePermutations:
    """One array of row permutations used by ``count`` feature groups (shared permutations).

    Iterating yields ``perms`` ``count`` times; compiled code reads :attr:`perms` once for all groups.
    """

    def __init__(self, perms, count):
        self.perms = perms
        self.count = int(count)

    def __len__(self):
        return self.count

    def __iter__(self):
        return itertools.repeat(self.perms, self.count)


_pools = threading.local()  # .generators: this thread's reusable Generators for child_generators


def child_generators(seq, keys):
    """Generators in the states of ``default_rng(SeedSequence(seq.entropy, spawn_key=seq.spawn_key + key))``
    for each key (:func:`vimp._base.child_rng`), made fast.

    The states come from :func:`child_pcg64_states` (two compiled calls for all keys) and are set on
    Generators that this thread reuses from call to call (setting a state costs about 1.4 µs, making a
    seeded Generator about 17 µs): **the Generators are valid until this thread's next call**, so a
    caller draws from them at once. Where the seed layout is not covered, fresh Generators.
    """
    states = child_pcg64_states(seq, keys) if keys else None
    if states is None:
        return [np.random.default_rng(child_seed(seq, *key)) for key in keys]
    pool = getattr(_pools, "generators", None)
    if pool is None:
        pool = _pools.generators = []
    while len(pool) < len(keys):
        pool.append(np.random.Generator(np.random.PCG64()))
    out = pool[:len(keys)]
    for gen, (hi, lo, inc_hi, inc_lo) in zip(out, states.tolist()):
        gen.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": hi << 64 | lo,
                                                                        "inc": inc_hi << 64 | inc_lo},
                                   "has_uint32": 0, "uinteger": 0}
    return out
