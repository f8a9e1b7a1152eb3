"""Numba kernels that turn random words into uniform row permutations and uniform derangements.

The random numbers are drawn by NumPy from the caller's :class:`numpy.random.Generator` (see
:func:`vimp._split.draw_permutations`); this kernel only maps them to permutations, deterministically.
Their plain-Python twins are :func:`vimp._kernels.reference.permutations_from_words` and
:func:`vimp._kernels.reference.derangements_from_words`.

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

Each permutation reads its own row of words (two per 64-bit value): ``n - 1`` words plus a reserve for rejections. If a row's
reserve runs out (for the default reserve, a Poisson tail far below 1e-20), the kernel flags that
permutation and the caller replaces it, so the output never depends on chance beyond the words.

Derangements
------------
:func:`derangements_from_words` gives uniform derangements (permutations without a fixed point) by
rejection: it runs the same Fisher–Yates steps and restarts from the identity, with the row's next
words, as soon as a fixed point appears. Step ``i`` puts the final value at position ``i`` (later steps
only touch positions below ``i``), so a fixed point there is known at once, and position 0 is checked
at the end. Each attempt is an independent uniform permutation, and the first one without a fixed
point is returned, so every derangement is exactly equally likely; the number of words consumed is
independent of the derangement returned (a Lemire rejection does not depend on the accepted value, a
failed attempt's length does not depend on the next attempt), so the caller's redraw of a row that ran
out of words does not bias the result either. A full attempt succeeds with probability
``D_n / n! -> 1/e``; stopping at the first fixed point makes the expected cost about ``1.7 (n - 1)``
words instead of ``e (n - 1)`` (measured in ``tests/test_kernels.py``).
"""

import numpy as np
from ._config import njit_kernel

__all__ = ["derangements_from_words", "permutations_from_words"]


@njit_kernel
def _bounded_draw(row, used, n_words, bound):
    """Lemire's exact bounded integer in ``[0, bound)`` from the 32-bit words of ``row`` at ``used``.

    Returns ``(value, used)``, with ``value = -1`` when the row ran out of words.
    """
    mask = np.uint64(0xFFFFFFFF)
    shift = np.uint64(32)
    s = np.uint64(bound)
    if used >= n_words:
        return np.int64(-1), used
    m = ((row[used >> 1] >> (shift * np.uint64(used & 1))) & mask) * s
    used += 1
    low = m & mask
    if low < s:
        threshold = ((np.uint64(1) << shift) - s) % s  # = 2**32 mod s
        while low < threshold and used < n_words:
            m = ((row[used >> 1] >> (shift * np.uint64(used & 1))) & mask) * s
            used += 1
            low = m & mask
        if low < threshold:
            return np.int64(-1), used
    return np.int64(m >> shift), used


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
def derangements_from_words(words, n):
    """Uniform derangements of ``range(n)`` (no ``perm[i] == i``), one per row of ``words``.

    Fisher–Yates as in :func:`permutations_from_words`, restarted from the identity with the row's next
    words whenever a fixed point appears (see the module notes).

    Parameters
    ----------
    words : ndarray of shape (R, w), uint64
        Uniform 64-bit values, two 32-bit words each (low half first). About ``1.7 (n - 1)`` words are
        used per derangement on average; a row that runs out is flagged.
    n : int
        Length of each derangement; ``n = 1`` has none (every row is flagged), ``n = 0`` gives the
        empty one.

    Returns
    -------
    perms : ndarray of shape (R, n), int64
        ``perms[r]`` is a derangement of ``range(n)``, or the identity where ``exhausted[r]``.
    exhausted : ndarray of shape (R,), bool
        True where row ``r`` ran out of words; ``perms[r]`` must then be replaced by the caller.
    """
    n_perms = words.shape[0]
    n_words = 2 * words.shape[1]
    perms = np.empty((n_perms, n), dtype=np.int64)
    exhausted = np.zeros(n_perms, dtype=np.bool_)
    for r in range(n_perms):
        perm = perms[r]
        row = words[r]
        if n <= 1:  # n = 0: the empty derangement; n = 1: none exists
            if n == 1:
                exhausted[r] = True
                perm[0] = 0
            continue
        used = 0
        done = False
        while not done:
            for i in range(n):
                perm[i] = i
            failed = False  # a fixed point: restart
            for i in range(n - 1, 0, -1):
                j, used = _bounded_draw(row, used, n_words, i + 1)
                if j < 0:
                    exhausted[r] = True
                    break
                tmp = perm[i]
                perm[i] = perm[j]
                perm[j] = tmp
                if perm[i] == i:
                    failed = True
                    break
            if exhausted[r]:
                for i in range(n):
                    perm[i] = i  # a defined value (the identity) for the caller to replace
                break
            if not failed and perm[0] != 0:
                done = True
    return perms, exhausted
