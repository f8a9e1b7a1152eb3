"""Numba kernels that turn random words into uniform row permutations and uniform derangements.

The random numbers are drawn by NumPy from the caller's :class:`numpy.random.Generator` (see
:func:`vimp._split.draw_permutations`); this kernel only maps them to permutations, deterministically.
Their plain-Python twins are :func:`vimp._kernels.reference.permutations_from_words` and
:func:`vimp._kernels.reference.derangements_from_stream`.

Why not ``Generator.permutation``: it draws one bounded integer at a time, about 11 ns per element,
which for 500 permutations of 5,000 rows (10 permutations of 50 features) is 27 ms, more than the
permute-and-predict losses of a linear model. Drawing the words in one NumPy call and shuffling in
compiled code costs about a third of that.

Algorithm
---------
Fisher–Yates (Durstenfeld's form; Knuth, TAOCP vol. 2, §3.4.2, Algorithm P) from the identity: for
``i = n-1, ..., 1`` swap positions ``i`` and ``j``, with ``j`` uniform on ``{0, ..., i}``. Each ``j`` comes
from 32-bit words by Lemire's multiply-and-shift with rejection ("Fast random integer generation in an
interval", ACM TOMACS 29(1), 2019): with ``s = i + 1`` and a word ``x``, ``m = x * s`` (64-bit);
``j = m >> 32`` unless the low half ``m mod 2**32`` falls below ``2**32 mod s``, in which case the word
is rejected and the next one is used. Every ``j`` is then exactly uniform, so every permutation is exactly
equally likely (given uniform words). A rejection happens with probability below ``s / 2**32``.

Each uniform permutation reads its own row of words (two per 64-bit value): ``n - 1`` words plus a
reserve for rejections. If a row's reserve runs out (for the default reserve, a Poisson tail far below 1e-20), the kernel flags that
permutation and the caller replaces it, so the output never depends on chance beyond the words.

Derangements
------------
:func:`derangements_from_stream` gives uniform derangements (permutations without a fixed point) by
rejection: it runs the same Fisher–Yates steps and restarts from the identity, with the next words, as
soon as a fixed point appears. Step ``i`` puts the final value at position ``i`` (later steps only touch
positions below ``i``), so a fixed point there is known at once, and position 0 is checked at the end.
Each attempt is an independent uniform permutation, and the first one without a fixed point is
returned, so every derangement is exactly equally likely. The derangements of a call read one stream
of words one after the other (the number of words an attempt needs varies too much for rows of fixed
width: at ``2 (n - 1)`` words a row, a quarter of the rows ran out and were drawn again, round after
round). The number of words an attempt consumes is independent of the derangement it returns (a
Lemire rejection does not depend on the accepted value, a failed attempt's length does not depend on
the next attempt), so neither the next derangement's start in the stream nor the caller's fresh words
for an attempt that ran out bias the result. A full attempt succeeds with probability
``D_n / n! -> 1/e``; stopping at the first fixed point makes the expected cost about ``1.76 (n - 1)``
words instead of ``e (n - 1)`` (measured in ``tests/test_kernels.py``).

Speed: the bounded draw is one inlined loop that picks a word's half by a branch; the first version,
which shifted by ``32 * (k & 1)`` in a separate function, took three times as long (100 derangements of
500 rows: 0.60 against 0.18 ms, the same output).
"""

import numpy as np
from ._config import njit_kernel

__all__ = ["derangements_from_stream", "permutations_from_words"]


@njit_kernel(inline="always")
def _bounded_draw(row, used, n_words, bound):
    """Lemire's exact bounded integer in ``[0, bound)`` from the 32-bit words of ``row`` at ``used``.

    Returns ``(value, used)``, with ``value = -1`` when the row ran out of words. Word ``k`` is the low
    half of ``row[k // 2]`` for even ``k`` and its high half for odd ``k``. Written as one loop with a
    branch on the half (not a shift by ``32 * (k & 1)``) and inlined into its callers: three times faster
    than the first form of this helper, with the same output (tests/test_kernels.py compares the kernels
    with their twins word for word).
    """
    mask = np.uint64(0xFFFFFFFF)
    s = np.uint64(bound)
    while used < n_words:
        word = row[used >> 1]
        x = (word & mask) if (used & 1) == 0 else (word >> np.uint64(32))
        m = x * s
        used += 1
        low = m & mask
        # accept unless the low half falls below 2**32 mod s (only possible when low < s)
        if low >= s or low >= (np.uint64(4294967296) - s) % s:
            return np.int64(m >> np.uint64(32)), used
    return np.int64(-1), used


@njit_kernel
def permutations_from_words(words, n):
    """Uniform permutations of ``range(n)``, one per row of ``words``, by Fisher–Yates.

    Parameters
    ----------
    words : ndarray of shape (R, w), uint64
        Uniform 64-bit values, one row per permutation. Each supplies two 32-bit words, its low half
        first, then its high half (arithmetic, so the same on every byte order). A row must supply at
        least ``n - 1`` words (``2 w >= n - 1``); the extra words are the reserve for rejections.
    n : int
        Length of each permutation.

    Returns
    -------
    perms : ndarray of shape (R, n), int64
        ``perms[r]`` is a permutation of ``range(n)``.
    exhausted : ndarray of shape (R,), bool
        True where row ``r`` ran out of words; ``perms[r]`` is then not a valid draw and must be
        replaced by the caller.

    Notes
    -----
    Serial: the caller draws the permutations of one feature group at a time and parallelises over
    groups.
    """
    n_perms = words.shape[0]
    n_words = 2 * words.shape[1]
    perms = np.empty((n_perms, n), dtype=np.int64)
    exhausted = np.zeros(n_perms, dtype=np.bool_)
    for r in range(n_perms):
        perm = perms[r]
        row = words[r]
        for i in range(n):
            perm[i] = i
        used = 0
        for i in range(n - 1, 0, -1):
            j, used = _bounded_draw(row, used, n_words, i + 1)
            if j < 0:
                exhausted[r] = True
                break
            tmp = perm[i]
            perm[i] = perm[j]
            perm[j] = tmp
    return perms, exhausted


@njit_kernel
def derangements_from_stream(words, n, count):
    """Up to ``count`` uniform derangements of ``range(n)`` (no ``perm[i] == i``) from one stream of words.

    Fisher–Yates as in :func:`permutations_from_words`, restarted from the identity with the stream's
    next words whenever a fixed point appears (see the module notes); the derangements are drawn one
    after the other from the same stream, so no row needs a reserve of its own.

    Parameters
    ----------
    words : ndarray of shape (w,), uint64
        Uniform 64-bit values, two 32-bit words each (low half first). About ``1.76 (n - 1)`` words are
        used per derangement on average (standard deviation about ``n - 1``; more at ``n < 10``).
    n : int
        Length of each derangement; ``n = 1`` has none (``done = 0``), ``n = 0`` gives empty ones.
    count : int
        Derangements wanted.

    Returns
    -------
    perms : ndarray of shape (count, n), int64
        Rows ``[0, done)`` are derangements; the others are the identity.
    done : int
        How many derangements the words gave. The attempt that ran out of words is dropped (the caller
        draws fresh words for the remaining rows), which does not bias the result: an attempt's number
        of words does not depend on the derangement it returns.
    used : int
        32-bit words read, including those of the dropped attempt.
    """
    n_words = 2 * words.shape[0]
    perms = np.empty((count, n), dtype=np.int64)
    for r in range(count):
        for i in range(n):
            perms[r, i] = i
    if n == 0:
        return perms, count, 0
    if n == 1:
        return perms, 0, 0
    used = 0
    for r in range(count):
        perm = perms[r]
        while True:
            for i in range(n):
                perm[i] = i
            failed = False  # a fixed point: restart
            for i in range(n - 1, 0, -1):
                j, used = _bounded_draw(words, used, n_words, i + 1)
                if j < 0:
                    for k in range(n):
                        perm[k] = k  # the identity for the rows not drawn
                    return perms, r, used
                tmp = perm[i]
                perm[i] = perm[j]
                perm[j] = tmp
                if perm[i] == i:
                    failed = True
                    break
            if not failed and perm[0] != 0:
                break
    return perms, count, used
