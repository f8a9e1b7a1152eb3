"""Helpers shared by the benchmark scripts: timing, machine description, thread limits, differences."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time

import numpy as np
import scipy
import sklearn

import vimp


def best_time(function, data, repeats):
    """Best wall time of ``function(*data)`` over ``repeats`` runs, every run's time, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*data)
        times.append(time.perf_counter() - start)
    return min(times), times, result


#: Seconds of pause before each timed call of :func:`time_in_rounds` (``pause=True``). OpenBLAS's worker
#: threads spin for a while after their last task; a call started right after a multi-threaded one shares
#: the cores with them. Measured here (2 cores): ``GCM(LinearRegression(), cv=None)`` on n = 10,000,
#: p = 50 took 64 and 74 ms (medians of 7) right after five multi-threaded ``lstsq`` calls, 40 and 39 ms
#: after a pause of 0.3 s. Without the pause, a method would be charged for the threads of the one before.
SPIN_PAUSE = 0.3


def time_in_rounds(methods, data, repeats, pause=False):
    """Time ``methods`` (name -> function) in ``repeats`` rounds, each running every method once, in turn.

    A slow spell of the machine then hits all methods alike. Returns each method's run times and last
    result, and a note for each method whose call raised (that method is then left out of later rounds;
    an optional peer's API may differ, so it is reported rather than stopping the benchmark). With
    ``pause``, each call waits :data:`SPIN_PAUSE` seconds first (untimed).
    """
    runs, results, notes = {}, {}, {}
    for _ in range(repeats):
        for name, function in methods.items():
            if name in notes:
                continue
            if pause:
                time.sleep(SPIN_PAUSE)
            try:
                _, times, results[name] = best_time(function, data, 1)
            except Exception as exc:  # noqa: BLE001
                notes[name] = f"failed: {type(exc).__name__}: {exc}"[:200]
                runs.pop(name, None)
                results.pop(name, None)
                continue
            runs.setdefault(name, []).extend(times)
    return runs, results, notes


def machine_info(peers):
    """Platform, library versions, thread pools and load average; ``peers`` maps a name to a module or None."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "vimp": vimp.__version__,
    }
    for name, module in peers.items():
        info[name] = getattr(module, "__version__", "installed") if module else "not installed"
    try:
        import numba

        info["numba"] = numba.__version__
        info["numba_threads"] = numba.get_num_threads()
    except ImportError:  # pragma: no cover
        info["numba"] = "not installed"
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: pool.get(k) for k in ("internal_api", "num_threads", "version")} for pool in threadpool_info()
        ]
    except ImportError:  # pragma: no cover
        pass
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = list(os.getloadavg())
    return info


@contextlib.contextmanager
def thread_limit(threads):
    """Limit BLAS/OpenMP pools and Numba's threads to ``threads`` (no limit for None)."""
    if threads is None:
        yield
        return
    import numba
    from threadpoolctl import threadpool_limits

    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        numba.set_num_threads(previous)


def relative_difference(a, b):
    """``max |a - b| / max |b|``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
