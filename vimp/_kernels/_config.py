"""The one place where vimp's Numba compilation flags are decided.

Every compiled function in :mod:`vimp._kernels` is decorated with one of the two
decorators below, never with a bare ``numba.njit(...)``, so that the flag policy
can be read, reviewed and changed here alone.

Policy
------
``cache=True``
    Compiled machine code is cached on disk next to the source, so a new Python
    process does not pay the compilation time again.
``nogil=True``
    Kernels release the GIL, so callers may run them from a thread pool (for
    example joblib's threading backend) and get real concurrency.
``error_model="numpy"``
    Floating-point division by zero gives ``inf``/``nan`` as in NumPy instead of
    raising ``ZeroDivisionError``: compiled code never raises. Kernels still guard
    empty inputs explicitly so that the result does not depend on this flag (and
    is the same with ``NUMBA_DISABLE_JIT=1``).
``parallel=True``
    Only on :func:`njit_parallel`, used only by kernels whose outer loop is a
    ``numba.prange``. Every parallel kernel is written so that its result does not
    depend on the number of threads: each ``prange`` iteration writes to its own
    output slots, and every floating-point sum is accumulated in a fixed order.
``fastmath``
    Never. Reassociating sums changes results from run to run and from machine
    to machine, and these kernels feed variances and p-values.

Notes
-----
Setting the environment variable ``NUMBA_DISABLE_JIT=1`` turns both decorators
into the identity, so the kernels run as plain Python (useful for debugging and
for measuring test coverage of kernel code).
"""

import functools

import numba

__all__ = ["KERNEL_FLAGS", "PARALLEL_KERNEL_FLAGS", "njit_kernel", "njit_parallel"]

#: Flags for every compiled function in :mod:`vimp._kernels`.
KERNEL_FLAGS = {"cache": True, "nogil": True, "error_model": "numpy"}

#: Flags for kernels whose outer loop is a ``numba.prange``.
PARALLEL_KERNEL_FLAGS = {**KERNEL_FLAGS, "parallel": True}

#: Decorator for serial kernels and helpers.
njit_kernel = functools.partial(numba.njit, **KERNEL_FLAGS)

#: Decorator for kernels with an outer ``numba.prange`` loop.
njit_parallel = functools.partial(numba.njit, **PARALLEL_KERNEL_FLAGS)
