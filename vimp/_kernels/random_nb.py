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

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._config import njit_kernel

__all__ = ["derangements_from_pcg64", "derangements_from_stream", "pcg64_raw", "pcg64_states",
           "permutations_from_pcg64", "permutations_from_words"]


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


# ------------------------------------------------------------------------------------------------ PCG64
# NumPy's PCG64 (O'Neill's pcg_setseq_128_xsl_rr_64: a 128-bit LCG, output "xor shift low, random
# rotation"), in 64-bit halves, so that compiled code produces the raw output of
# ``numpy.random.PCG64.random_raw`` from a state without a Generator (tests/test_kernels.py compares them
# word for word). A state is four uint64: state high, state low, increment high, increment low.
_PCG_MULT_HI = 0x2360ED051FC65DA4
_PCG_MULT_LO = 0x4385DF649FCCF645
_PCG_MULT = (_PCG_MULT_HI << 64) | _PCG_MULT_LO
_MASK64 = (1 << 64) - 1
_MASK128 = (1 << 128) - 1


if getattr(numba.config, "DISABLE_JIT", False):  # getattr: numba.config has no type stub
    # Plain Python (NUMBA_DISABLE_JIT=1): the same arithmetic in Python integers (NumPy's fixed-width
    # scalars would warn where the products wrap around).
    def _pcg_step(hi, lo, inc_hi, inc_lo):
        """``state * MULT + inc`` modulo 2**128, in halves."""
        state = ((int(hi) << 64 | int(lo)) * _PCG_MULT + (int(inc_hi) << 64 | int(inc_lo))) & _MASK128
        return np.uint64(state >> 64), np.uint64(state & _MASK64)

    def _add128(hi, lo, add_hi, add_lo):
        """``(hi, lo) + (add_hi, add_lo)`` modulo 2**128."""
        total = ((int(hi) << 64 | int(lo)) + (int(add_hi) << 64 | int(add_lo))) & _MASK128
        return np.uint64(total >> 64), np.uint64(total & _MASK64)

    def _pcg_output(hi, lo):
        """XSL-RR output of a 128-bit state."""
        rot = int(hi) >> 58
        x = int(hi) ^ int(lo)
        return np.uint64(((x >> rot) | (x << ((64 - rot) & 63))) & _MASK64)
else:
    @intrinsic
    def _mul_hi64(typingctx, a, b):
        """High 64 bits of the 128-bit product of two uint64 (one machine multiply)."""
        signature = types.uint64(types.uint64, types.uint64)

        def codegen(context, builder, sig, args):
            wide = ir.IntType(128)
            product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
            return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

        return signature, codegen

    @njit_kernel(inline="always")
    def _add128(hi, lo, add_hi, add_lo):
        """``(hi, lo) + (add_hi, add_lo)`` modulo 2**128."""
        new_lo = lo + add_lo
        carry = np.uint64(1) if new_lo < lo else np.uint64(0)
        return hi + add_hi + carry, new_lo

    @njit_kernel(inline="always")
    def _pcg_step(hi, lo, inc_hi, inc_lo):
        """``state * MULT + inc`` modulo 2**128, in halves."""
        m_hi = np.uint64(_PCG_MULT_HI)
        m_lo = np.uint64(_PCG_MULT_LO)
        high = hi * m_lo + lo * m_hi + _mul_hi64(lo, m_lo)
        return _add128(high, lo * m_lo, inc_hi, inc_lo)

    @njit_kernel(inline="always")
    def _pcg_output(hi, lo):
        """XSL-RR output of a 128-bit state."""
        rot = hi >> np.uint64(58)
        x = hi ^ lo
        return (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@njit_kernel
def pcg64_states(words):
    """PCG64 states seeded from ``SeedSequence`` words, as ``PCG64(seed_sequence)`` seeds itself.

    Parameters
    ----------
    words : uint64 ndarray of shape (m, 8)
        Each row ``seed_sequence.generate_state(8, np.uint32)`` (values below 2**32).

    Returns
    -------
    uint64 ndarray of shape (m, 4)
        State high, state low, increment high, increment low: seed and increment as NumPy's
        ``pcg64_set_seed`` takes them (``generate_state(4, uint64)``), then ``pcg64_srandom``'s two steps.
    """
    m = words.shape[0]
    out = np.empty((m, 4), dtype=np.uint64)
    s32 = np.uint64(32)
    for r in range(m):
        v0 = words[r, 0] | (words[r, 1] << s32)
        v1 = words[r, 2] | (words[r, 3] << s32)
        v2 = words[r, 4] | (words[r, 5] << s32)
        v3 = words[r, 6] | (words[r, 7] << s32)
        inc_hi = (v2 << np.uint64(1)) | (v3 >> np.uint64(63))
        inc_lo = (v3 << np.uint64(1)) | np.uint64(1)
        hi, lo = _pcg_step(np.uint64(0), np.uint64(0), inc_hi, inc_lo)
        hi, lo = _add128(hi, lo, v0, v1)
        hi, lo = _pcg_step(hi, lo, inc_hi, inc_lo)
        out[r, 0] = hi
        out[r, 1] = lo
        out[r, 2] = inc_hi
        out[r, 3] = inc_lo
    return out


@njit_kernel
def pcg64_raw(state, count):
    """The next ``count`` raw outputs of a PCG64 state (``random_raw(count)``) and the state after them."""
    hi, lo, inc_hi, inc_lo = state[0], state[1], state[2], state[3]
    out = np.empty(count, dtype=np.uint64)
    for i in range(count):
        hi, lo = _pcg_step(hi, lo, inc_hi, inc_lo)
        out[i] = _pcg_output(hi, lo)
    after = np.empty(4, dtype=np.uint64)
    after[0] = hi
    after[1] = lo
    after[2] = inc_hi
    after[3] = inc_lo
    return out, after


@njit_kernel
def permutations_from_pcg64(states, n, count, width, out):
    """:func:`vimp._split.draw_permutations` (``kind="uniform"``) of ``count`` rows from each PCG64 state.

    Row ``r`` of state ``s`` is :func:`permutations_from_words` of the raw outputs ``[r width, (r + 1)
    width)`` of the state, as ``random_raw((count, width))`` gives them, with the words produced as they
    are read (the unread ones of a row skipped by stepping). ``out`` has shape (m, count, n). Returns
    False where a row ran out of words (the caller then draws that replicate another way).
    """
    mask = np.uint64(0xFFFFFFFF)
    n_words = 2 * width
    for s in range(states.shape[0]):
        hi, lo, inc_hi, inc_lo = states[s, 0], states[s, 1], states[s, 2], states[s, 3]
        for r in range(count):
            perm = out[s, r]
            for i in range(n):
                perm[i] = i
            used = 0
            value = np.uint64(0)
            for i in range(n - 1, 0, -1):
                bound = np.uint64(i + 1)
                while True:
                    if used >= n_words:
                        return False
                    if (used & 1) == 0:
                        hi, lo = _pcg_step(hi, lo, inc_hi, inc_lo)
                        value = _pcg_output(hi, lo)
                        x = value & mask
                    else:
                        x = value >> np.uint64(32)
                    used += 1
                    m = x * bound
                    low = m & mask
                    if low >= bound or low >= (np.uint64(4294967296) - bound) % bound:
                        break
                j = np.int64(m >> np.uint64(32))
                tmp = perm[i]
                perm[i] = perm[j]
                perm[j] = tmp
            for _ in range((used + 1) // 2, width):  # the row's unread values
                hi, lo = _pcg_step(hi, lo, inc_hi, inc_lo)
    return True


@njit_kernel
def derangements_from_pcg64(states, n, count, block_words, out):
    """:func:`vimp._split._draw_derangements` of ``count`` rows from each PCG64 state, without a Generator.

    The Generator draws ``block_words[count - done]`` raw outputs (``_derangement_words(n, count -
    done)``) and runs :func:`derangements_from_stream` on them, again with a fresh block for the rows
    left when a block runs out; here the same outputs are produced as they are read, so the derangements
    are the same. ``out`` has shape (m, count, n); ``n >= 2``.
    """
    mask = np.uint64(0xFFFFFFFF)
    for s in range(states.shape[0]):
        hi, lo, inc_hi, inc_lo = states[s, 0], states[s, 1], states[s, 2], states[s, 3]
        done = 0
        n_words = 2 * block_words[count]
        used = 0  # 32-bit words read from the current block
        value = np.uint64(0)
        while done < count:
            perm = out[s, done]
            for i in range(n):
                perm[i] = i
            failed = False
            ran_out = False
            for i in range(n - 1, 0, -1):
                bound = np.uint64(i + 1)
                while True:
                    if used >= n_words:
                        ran_out = True
                        break
                    if (used & 1) == 0:
                        hi, lo = _pcg_step(hi, lo, inc_hi, inc_lo)
                        value = _pcg_output(hi, lo)
                        x = value & mask
                    else:
                        x = value >> np.uint64(32)
                    used += 1
                    m = x * bound
                    low = m & mask
                    if low >= bound or low >= (np.uint64(4294967296) - bound) % bound:
                        break
                if ran_out:
                    break
                j = np.int64(m >> np.uint64(32))
                tmp = perm[i]
                perm[i] = perm[j]
                perm[j] = tmp
                if perm[i] == i:
                    failed = True
                    break
            if ran_out:
                # the block is used up (every value of it was stepped through): a fresh block
                n_words = 2 * block_words[count - done]
                used = 0
                continue
            if not failed and perm[0] != 0:
                done += 1
    return out
