"""The one place where vimp decides how many threads its calls use (the thread policy).

Beside the kernel flag policy (:mod:`vimp._kernels._config`), this module decides how many threads the
BLAS and OpenMP pools (through threadpoolctl) and Numba's parallel kernels may use inside a vimp call.
It is applied at the public entry points only (``fit``/``importance`` of the estimators and
:func:`vimp.compare`) by the decorator :func:`limits_threads` and the context manager
:func:`thread_policy`; no kernel call inside a loop pays for it.

Why
---
On the 2-core machines this package is developed on, multi-threaded BLAS and Numba make every vimp call
slower, never faster, for some method at every size measured (n = 250 to 1,000,000 rows, p = 10 to 100,
OLS through the exact linear fitter; ``benchmarks/threads.py``, ``benchmarks/results/threads*.csv``; at the
largest sizes idle held-out LOCO gains from threads, but not with another busy process): the threads of one
pool wait for each other and for the other pools (a pip-installed environment has two OpenBLAS pools,
numpy's and scipy's, and two OpenMP pools beside Numba's), and with any other busy process on the machine
the slowdown reaches an order of magnitude. Small calls are hit worst, because a vimp call is many short
BLAS and kernel calls, each of which wakes a pool.

Policy (``threads="auto"``, the default)
----------------------------------------
* A call whose data has fewer than :data:`THRESHOLD_CELLS` cells (rows × columns; on machines of at most
  2 CPUs every call) runs with one thread: every BLAS and OpenMP pool is limited to one thread and Numba
  runs its parallel kernels on one thread.
* A call from a joblib or dask worker thread (not the main thread, inside joblib's nesting or while
  another vimp call is running) runs its OpenMP and Numba pools on one thread: the workers are the
  parallelism, and joblib's threading backend sets no inner limit (its loky and multiprocessing
  backends do, through ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``NUMBA_NUM_THREADS`` and the
  like at ``cpu_count() // n_jobs``; vimp leaves a loky worker's pools as joblib set them, apart from
  the size rule above, which only lowers). BLAS counts are changed from the main thread only (see
  *Mechanism*).
* A larger call with vimp's own ``n_jobs`` above one limits the pools to ``cpu_count() // n_jobs`` (the
  rule joblib applies to its process workers), so that a threading backend does not nest pools either.
* Otherwise the pools are left as they are.
* One exception to the first rule, for coarse-grained loops only (:func:`run_coarse`; today PaP's loop
  over feature groups for the exact linear fitter, each group's permutations and losses one task of a
  ``nogil`` kernel that calls no BLAS): in the main thread, a loop of at least :data:`COARSE_WORK` inner
  steps shares its tasks over the Numba thread count the call started with, on vimp's own small thread
  pool with dynamic scheduling, while BLAS and OpenMP stay on one thread. Tasks of a millisecond or
  more pay for a thread; a call's many short BLAS and kernel calls do not.

"auto" only ever *lowers* a pool's thread count: a limit the user set (``threadpool_limits(1)``,
``numba.set_num_threads(1)``, ``OPENBLAS_NUM_THREADS=1``) is never raised. An integer ``threads=k``
(:func:`set_config`, :func:`config_context` or ``VIMP_THREADS=k``) sets every pool to exactly ``k``
threads inside vimp's calls, whatever the surrounding limits; ``threads="off"`` leaves every pool alone.
In every mode the pools are restored, after the call, to what they were before it.

Mechanism and cost
------------------
``threadpoolctl.threadpool_limits`` inspects every loaded shared library on each call, which costs about
3 ms here, ten times a small LOCO call. This module keeps one ``ThreadpoolController``, created at the
first vimp call and created again only when ``sys.modules`` has grown (a new extension module may have
loaded a new BLAS or OpenMP library), and sets the libraries' thread counts directly: about 10 µs for
the four pools, plus about 4 µs for Numba's ``set_num_threads`` and restoring it. OpenMP's and Numba's
counts are per thread, so each calling thread sets and restores its own. BLAS counts are process-wide,
and OpenBLAS 0.3.31 (numpy's and scipy's wheels here) was seen to ignore a change of its count from a
thread other than the main one once the main thread had changed it (a restore from a worker thread
would then be lost), so only the main thread changes BLAS counts, and it restores them itself: in
joblib's or dask's worker threads only the OpenMP and Numba limits apply, and vimp's own ``n_jobs``
loop sets the BLAS limit from the calling thread before its workers start. Numba's parallel kernels at one
thread cost no more than serial twins compiled alongside (both measured; the parallel kernel with
``set_num_threads(1)`` starts no thread), so no serial twins are compiled.

The number of threads never changes a result: every kernel sums in a fixed order whatever its thread
count (:mod:`vimp._kernels._config`), and the BLAS calls on vimp's paths are the same calls.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar, cast

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "COARSE_WORK",
    "THRESHOLD_CELLS",
    "coarse_workers",
    "config_context",
    "get_config",
    "limits_threads",
    "limits_threads_of_call",
    "run_coarse",
    "set_config",
    "thread_policy",
]


def _cores() -> int:
    """CPUs this process may use: joblib's count, which follows the CPU affinity and a cgroup quota."""
    from joblib import cpu_count

    return max(1, int(cpu_count()))


def _threshold_for(cores: int) -> float:
    """:data:`THRESHOLD_CELLS` on a machine with ``cores`` usable CPUs."""
    return math.inf if cores <= 2 else 50_000_000


#: Data size (rows × columns) from which ``threads="auto"`` leaves the thread pools as they are; below it a
#: call runs on one thread. On 2 cores (the only machines measured) threads paid for themselves at no size
#: for every method, so there the threshold is infinite: one thread at every size. The measurements:
#: the grid of ``benchmarks/threads.py`` up to 100,000 × 50 = 5,000,000 cells
#: (``benchmarks/results/threads.csv``: default threads 1.3× to 23× slower than one thread); the peer
#: benchmark at 1,000,000 × 20 (``benchmarks/results/peers_w5.md``: LOCO ``cv=5`` 2.94 s at default
#: threads against 2.37 s at one); and ``benchmarks/threads.py --sizes`` at 1,000,000 × 20, × 50 and × 100
#: (``benchmarks/results/threads_1e6.csv`` and ``threads_1e6_p100.csv``, medians of the paired ratios
#: default / one thread over 5 and 3 rounds). At 50,000,000 cells, the earlier threshold, GCM ``cv=5``
#: took 1.05 times its one-thread time idle and 2.25 times with one other busy process, LOCO 0.99 and
#: 1.47. At 100,000,000 cells GCM ``cv=5`` took 1.15 idle and 2.04 busy, LOCO 0.71 idle but 1.17 busy.
#: A thread pool that splits a call's work evenly waits for its slowest thread, which shares a core with
#: the busy process. PaP's coarse loop (:data:`COARSE_WORK`) is the exception that pays at every size:
#: 0.58-0.62 idle and 0.90-0.95 busy there, under either setting. On more than 2 cores, which nobody has
#: measured, the earlier threshold stays: above it the pools are left alone.
THRESHOLD_CELLS: float = _threshold_for(_cores())

#: Inner steps (rows × permutations × groups) from which a coarse-grained task loop runs on the threads
#: the size rule took away (:func:`run_coarse`). Read off ``python benchmarks/coarse_threads.py``
#: (``benchmarks/results/coarse_threads.csv``, PaP held out, 7 rounds, paired ratios two threads / one):
#: at 2,500,000 steps (5,000 rows, 10 permutations, 50 features) 0.68 and 0.77 idle (independent and
#: shared permutations), 0.95 and 1.00 with one other busy process; at 500,000 steps 0.90–1.06 idle and
#: 1.02–1.11 busy; below, up to 1.28 slower. So threads start between the two measured sizes.
COARSE_WORK = 2_000_000

#: Weight of one inner step with shared permutations in the work that :data:`COARSE_WORK` is compared
#: with: the permutations are drawn once for all groups instead of once per group, so a step costs about
#: half of an independent one (``benchmarks/results/coarse_threads.csv``, serial times of the whole call,
#: model fit included, shared / independent: 0.56 idle and 0.48 busy at 2,500,000 steps, 0.65-0.71 at
#: 500,000). Counted as whole steps, W1's shared PaP (5,000 rows, 10 permutations, 50 features) ran on two
#: threads and was 1.09 times its one-thread time with one other busy process in three runs of the peer
#: benchmark (25, 40 and 120 rounds: medians 1.091, 1.062, 1.092; ``benchmarks/README.md``, stop 28), and
#: 1.04 idle; weighted, it stays on one thread.
SHARED_STEP_COST = 0.5

_ENV_VARIABLE = "VIMP_THREADS"


def _check_threads(value, source):
    """``"auto"``, ``"off"`` or a positive int, from :func:`set_config` or the environment."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("auto", "off"):
            return text
        if text.isdigit() and int(text) > 0:
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError(f"{source} must be 'auto', 'off' or a positive int; got {value!r}")


def _from_environment():
    value = os.environ.get(_ENV_VARIABLE)
    if value is None or not value.strip():
        return "auto"
    return _check_threads(value, f"the environment variable {_ENV_VARIABLE}")


_config = {"threads": _from_environment()}


def get_config() -> dict[str, Any]:
    """vimp's current configuration.

    Returns
    -------
    dict
        ``{"threads": value}``, see :func:`set_config`.
    """
    return dict(_config)


def set_config(threads: Literal["auto", "off"] | int | None = None) -> None:
    """Set vimp's configuration (process-wide), as :func:`sklearn.set_config` does for scikit-learn.

    Parameters
    ----------
    threads : {"auto", "off"} or int, optional
        How many threads vimp's calls may use in the BLAS and OpenMP pools and in Numba's kernels.
        ``"auto"`` (the default; also ``VIMP_THREADS`` in the environment when vimp is imported): one
        thread for problems below :data:`vimp._threads.THRESHOLD_CELLS` cells and in worker threads, the
        pools as they are otherwise; it only ever lowers a limit you set yourself. An int ``k``: exactly
        ``k`` threads in every pool inside each vimp call. ``"off"``: vimp leaves the pools alone.
        None leaves the setting unchanged. The pools are restored after each call in every mode.

    Examples
    --------
    >>> import vimp
    >>> vimp.set_config(threads=1)
    >>> vimp.get_config()["threads"]
    1
    >>> vimp.set_config(threads="auto")
    """
    if threads is not None:
        _config["threads"] = _check_threads(threads, "threads")


@contextlib.contextmanager
def config_context(*, threads: Literal["auto", "off"] | int | None = None) -> Iterator[None]:
    """Temporarily change vimp's configuration (see :func:`set_config`); restored on exit.

    Examples
    --------
    >>> import vimp
    >>> with vimp.config_context(threads="off"):
    ...     vimp.get_config()["threads"]
    'off'
    """
    previous = get_config()
    set_config(threads=threads)
    try:
        yield
    finally:
        _config.update(previous)


# ------------------------------------------------------------------------------------------ mechanism
class _Pools:
    """The BLAS and OpenMP libraries loaded in the process, from one cached ThreadpoolController."""

    def __init__(self):
        self._libraries = None
        self._n_modules = -1

    def libraries(self):
        if self._libraries is None or len(sys.modules) != self._n_modules:
            from threadpoolctl import ThreadpoolController

            self._n_modules = len(sys.modules)
            self._libraries = [lib for lib in ThreadpoolController().lib_controllers
                               if lib.user_api in ("blas", "openmp")]
        return self._libraries


_pools = _Pools()
_lock = threading.Lock()
_state = {"active": 0}  # outermost vimp calls running, in all threads
_local = threading.local()  # .depth: nesting of vimp calls in this thread


def _effective_n_jobs(n_jobs):
    if n_jobs is None or n_jobs == 1:
        return 1
    from joblib import effective_n_jobs

    return effective_n_jobs(n_jobs)


def _in_worker_thread():
    """A call from a joblib/dask worker thread, or concurrent with another vimp call."""
    if threading.current_thread() is threading.main_thread():
        return False
    if _state["active"] > 0:
        return True
    from joblib.parallel import get_active_backend

    return getattr(get_active_backend()[0], "nesting_level", 0) > 0


def _target(cells, n_jobs):
    """``(threads, exact)`` for a call of ``cells`` data cells, or None to leave the pools alone."""
    setting = _config["threads"]
    if setting == "off":
        return None
    if setting != "auto":
        return setting, True
    if _in_worker_thread():
        return 1, False
    if cells is not None and cells < THRESHOLD_CELLS:
        return 1, False, "size"
    jobs = _effective_n_jobs(n_jobs)
    if jobs > 1:
        return max(1, (os.cpu_count() or 1) // jobs), False
    return None


def _limit(libraries, threads, exact):
    """Set the libraries' thread counts (only lower them unless ``exact``); returns what was changed."""
    changed = []
    for lib in libraries:
        current = lib.num_threads
        new = threads if exact else min(current, threads)
        if new != current:
            lib.set_num_threads(new)
            changed.append((lib, current))
    return changed


def _numba_limit(threads, exact):
    """Set this thread's Numba thread count; returns the previous one (None: unchanged)."""
    import numba

    previous = numba.get_num_threads()
    new = min(threads if exact else min(previous, threads), numba.config.NUMBA_NUM_THREADS)
    if new == previous:
        return None
    numba.set_num_threads(new)
    return previous


@contextlib.contextmanager
def thread_policy(cells=None, n_jobs=None):
    """Run the body under vimp's thread policy, for data of ``cells`` cells and vimp's ``n_jobs``.

    Nested uses in one thread (``compare`` calling ``fit``) leave the outermost one in charge. The
    pools are restored on exit, also when the body raises.

    Parameters
    ----------
    cells : int, optional
        Rows × columns of the call's data (None: unknown, treated as large).
    n_jobs : int, optional
        The estimator's ``n_jobs``.
    """
    depth = getattr(_local, "depth", 0)
    if depth:  # nested in this thread: the outermost call decides
        _local.depth = depth + 1
        try:
            yield
        finally:
            _local.depth = depth
        return
    target = _target(cells, n_jobs)
    _local.depth = 1
    with _lock:
        _state["active"] += 1
    changed, previous_numba = [], None
    try:
        if target is not None:
            threads, exact = target[:2]
            libraries = _pools.libraries()
            if threading.current_thread() is not threading.main_thread():
                # BLAS counts are process-wide and OpenBLAS may ignore a change from another thread
                # (see the module notes): only the main thread changes them, and restores them itself.
                libraries = [lib for lib in libraries if lib.user_api != "blas"]
            changed = _limit(libraries, threads, exact)
            previous_numba = _numba_limit(threads, exact)
            if target[2:] == ("size",) and threading.current_thread() is threading.main_thread():
                # lowered for the size alone, in the main thread: coarse kernels may take it back
                _local.size_lowered_numba = previous_numba
        yield
    finally:
        _local.size_lowered_numba = None
        if previous_numba is not None:
            import numba

            numba.set_num_threads(previous_numba)
        for lib, count in reversed(changed):
            lib.set_num_threads(count)
        with _lock:
            _state["active"] -= 1
        _local.depth = 0


def coarse_workers(work):
    """Threads for one coarse-grained task loop of ``work`` inner steps (see :func:`run_coarse`): the
    Numba thread count the size rule took from this call, where it took one and ``work`` is at least
    :data:`COARSE_WORK`; else 1."""
    previous = getattr(_local, "size_lowered_numba", None)
    if previous is None or work < COARSE_WORK:
        return 1
    return int(previous)


_executor: dict[str, Any] = {"pool": None, "workers": 0}
_executor_lock = threading.Lock()


def _forget_pool_in_child():
    """After ``fork``: the pool's threads do not exist in the child (its queue would never be served), so
    the child makes its own pool when it needs one."""
    global _executor_lock
    _executor["pool"], _executor["workers"] = None, 0
    _executor_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def _pool(workers):
    """vimp's own pool of ``workers - 1`` threads (made once, grown when asked for more), each of which runs
    Numba's parallel kernels on one thread."""
    with _executor_lock:
        if _executor["pool"] is None or _executor["workers"] < workers:
            from concurrent.futures import ThreadPoolExecutor

            import numba

            if _executor["pool"] is not None:
                _executor["pool"].shutdown(wait=True)
            _executor["pool"] = ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="vimp-coarse",
                                                   initializer=numba.set_num_threads, initargs=(1,))
            _executor["workers"] = workers
        return _executor["pool"]


def run_coarse(function, n_items, work, chunks_per_worker=16):
    """``function(start, stop)`` over consecutive ranges covering ``range(n_items)``, on the threads
    :func:`coarse_workers` allows for ``work`` inner steps.

    For a coarse-grained loop of independent tasks (one feature group's permutations and losses in
    :func:`vimp._kernels.linear_nb.pap_linear_groups`) whose ``function`` releases the GIL (a ``nogil``
    kernel) and calls no BLAS. Inside a call that vimp's policy runs on one thread only because its data
    are small (``threads="auto"``, fewer than :data:`THRESHOLD_CELLS` cells, the main thread, no joblib
    or dask worker, no ``n_jobs`` of its own), and for ``work`` of at least :data:`COARSE_WORK`, the
    ranges are shared by the calling thread and ``k - 1`` threads of vimp's own pool, ``k`` the Numba
    thread count the call started with; otherwise ``function(0, n_items)`` runs in the calling thread.
    A limit the user set (``numba.set_num_threads(1)``, ``NUMBA_NUM_THREADS=1``, ``threads=1``) is
    never raised.

    Why threads of its own and not Numba's: Numba's OpenMP layer splits a ``prange`` into one static
    share per thread and its threads spin while they wait, so one thread descheduled by another busy
    process holds up the whole loop (measured: 1.3 to 8.6 times slower than one thread with one other
    busy process; ``benchmarks/coarse_threads.py``). Here every thread takes the next range when it is
    done (about ``chunks_per_worker`` ranges per thread) and waits without spinning, so a thread that
    gets less of the machine does fewer ranges. Each range writes only its own outputs, so the result
    does not depend on the number of threads.
    """
    workers = min(coarse_workers(work), n_items)
    if workers <= 1:
        function(0, n_items)
        return
    size = max(1, -(-n_items // (chunks_per_worker * workers)))
    ranges = iter([(a, min(a + size, n_items)) for a in range(0, n_items, size)])
    lock = threading.Lock()

    def drain():
        while True:
            with lock:
                bounds = next(ranges, None)
            if bounds is None:
                return
            function(*bounds)

    futures = [_pool(workers).submit(drain) for _ in range(workers - 1)]
    try:
        drain()
    finally:
        for future in futures:
            future.result()


def _cells(X):
    """Rows × columns of ``X`` without converting it (None if unknown)."""
    shape = getattr(X, "shape", None)
    if shape is None:
        if X is None:
            return None
        try:
            shape = (len(X), len(X[0]))
        except (TypeError, IndexError, KeyError):
            return None
    if len(shape) == 1:
        return int(shape[0])
    if len(shape) != 2:
        return None
    return int(shape[0]) * int(shape[1])


def limits_threads(method: _F) -> _F:
    """Decorator of an estimator's ``fit``/``importance``: run it under :func:`thread_policy`.

    The size is that of the ``X`` argument, or of the data kept from ``fit`` when ``X`` is not given;
    ``n_jobs`` is the estimator's.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        X = args[0] if args else kwargs.get("X")
        if X is None:
            X = getattr(self, "_X", None)
        with thread_policy(_cells(X), getattr(self, "n_jobs", None)):
            return method(self, *args, **kwargs)

    return cast(_F, wrapper)


def limits_threads_of_call(function: _F) -> _F:
    """Decorator of a function taking ``X`` first and ``n_jobs`` by keyword (:func:`vimp.compare`)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        X = args[0] if args else kwargs.get("X")
        with thread_policy(_cells(X), kwargs.get("n_jobs")):
            return function(*args, **kwargs)

    return cast(_F, wrapper)
