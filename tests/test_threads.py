"""The thread policy (vimp/_threads.py): limits inside vimp's calls, restored after; numbers unchanged.

No test here times anything: the performance goals live in benchmarks/threads.py.
"""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numba
import numpy as np
import pytest
from joblib import Parallel, delayed, parallel_config
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression
from threadpoolctl import threadpool_info, threadpool_limits

import vimp
from vimp import _threads

ROOT = Path(vimp.__file__).resolve().parents[1]


def pools():
    """Every BLAS/OpenMP pool's thread count, and this thread's Numba count."""
    return sorted((p["filepath"], p["num_threads"]) for p in threadpool_info()), numba.get_num_threads()


def data(n=400, p=6, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=n)
    return X, y


class RecordingRegressor(RegressorMixin, BaseEstimator):
    """Least squares that records the thread pools it runs under (one entry per fit)."""

    seen = []

    def fit(self, X, y):
        RecordingRegressor.seen.append(pools())
        design = np.column_stack([np.ones(len(X)), X])
        self.coef_ = np.linalg.lstsq(design, y, rcond=None)[0]
        return self

    def predict(self, X):
        return self.coef_[0] + np.asarray(X) @ self.coef_[1:]


@pytest.fixture(autouse=True)
def fresh_recorder():
    RecordingRegressor.seen = []
    yield
    vimp.set_config(threads="auto")


def counts(seen):
    """The distinct thread counts seen inside: BLAS/OpenMP pools and Numba."""
    return {c for libs, _ in seen for _, c in libs}, {nb for _, nb in seen}


def most_threads():
    return max([c for _, c in pools()[0]] + [numba.get_num_threads()])


needs_threads = pytest.mark.skipif(
    most_threads() < 2, reason="every pool already has one thread: nothing to limit")


@needs_threads
def test_small_problem_runs_on_one_thread_and_pools_are_restored():
    X, y = data()
    before = pools()
    vimp.LOCO(RecordingRegressor()).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    assert pools() == before
    blas, nb = counts(RecordingRegressor.seen)
    assert blas == {1} and nb == {1}


@needs_threads
def test_every_entry_point_restores_the_pools():
    X, y = data()
    before = pools()
    vimp.PermutationImportance(LinearRegression(), random_state=0).fit(X[:200], y[:200]).importance(
        X[200:], y[200:])
    vimp.GCM(LinearRegression(), cv=3, random_state=0).fit(X, y).importance()
    vimp.compare(X, y, LinearRegression(), methods=("pap", "loco", "gcm"), cv=2, random_state=0)
    assert pools() == before


@needs_threads
def test_pools_are_restored_when_the_call_raises():
    X, y = data()
    model = vimp.LOCO(LinearRegression()).fit(X[:200], y[:200])
    before = pools()
    with pytest.raises(ValueError):
        model.importance(X[200:, :3], y[200:])  # wrong number of columns
    assert pools() == before


@needs_threads
def test_large_problem_leaves_the_pools_alone(monkeypatch):
    monkeypatch.setattr(_threads, "THRESHOLD_CELLS", 100)
    X, y = data()
    before = pools()
    vimp.LOCO(RecordingRegressor()).fit(X[:200], y[:200]).importance(X[200:], y[200:])
    assert RecordingRegressor.seen and all(s == before for s in RecordingRegressor.seen)


@needs_threads
def test_auto_never_raises_a_limit_the_user_set_and_an_int_is_applied_exactly(monkeypatch):
    monkeypatch.setattr(_threads, "THRESHOLD_CELLS", 100)  # large: auto would leave the pools alone
    X, y = data()
    with threadpool_limits(limits=1):
        inside_user_limit = pools()
        vimp.LOCO(RecordingRegressor()).fit(X[:200], y[:200])
        assert RecordingRegressor.seen and all(s == inside_user_limit for s in RecordingRegressor.seen)  # kept
        RecordingRegressor.seen = []
        with vimp.config_context(threads=2):
            vimp.LOCO(RecordingRegressor()).fit(X[:200], y[:200])
        assert counts(RecordingRegressor.seen)[0] == {2}  # an explicit int wins
        assert pools() == inside_user_limit  # and the user's limit is back after the call


@needs_threads
def test_off_leaves_the_pools_alone():
    X, y = data()
    before = pools()
    with vimp.config_context(threads="off"):
        vimp.LOCO(RecordingRegressor()).fit(X[:200], y[:200])
    assert RecordingRegressor.seen and all(s == before for s in RecordingRegressor.seen)


def test_config_checks_and_environment_variable():
    assert vimp.get_config() == {"threads": "auto"}
    for bad in (0, -1, 1.5, True, "many"):
        with pytest.raises(ValueError, match="threads must be 'auto', 'off' or a positive int"):
            vimp.set_config(threads=bad)
    assert vimp.get_config() == {"threads": "auto"}
    with vimp.config_context(threads=3):
        assert vimp.get_config() == {"threads": 3}
    assert vimp.get_config() == {"threads": "auto"}
    code = "import vimp; print(vimp.get_config()['threads'])"
    env = dict(os.environ, PYTHONPATH=str(ROOT), VIMP_THREADS="2")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2"
    env["VIMP_THREADS"] = "lots"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "VIMP_THREADS must be 'auto', 'off' or a positive int" in out.stderr


def all_methods(X, y):
    """LOCO, PaP and GCM results (every array that a user sees) on one seeded problem."""
    h = len(y) // 2
    loco = vimp.LOCO(LinearRegression(), random_state=7).fit(X[:h], y[:h]).importance(X[h:], y[h:])
    pap = vimp.PermutationImportance(LinearRegression(), n_permutations=5, random_state=7).fit(
        X[:h], y[:h]).importance(X[h:], y[h:])
    gcm = vimp.GCM(LinearRegression(), cv=5, random_state=7, keep_residuals=True).fit(X, y).importance()
    return [numbers(r) for r in (loco, pap, gcm)] + [
        r.per_observation for r in (loco, pap)] + [gcm.details["x_residuals"], gcm.details["y_residuals"]]


def numbers(result):
    """The numeric columns of a result's table (the text columns name the test)."""
    return result.to_frame().select_dtypes("number").to_numpy()


def test_results_identical_bit_for_bit_with_and_without_the_policy():
    X, y = data(n=3000, p=12, seed=11)
    reference = None
    for setting in ("off", "auto", 1, 2):
        with vimp.config_context(threads=setting):
            out = all_methods(X, y)
        if reference is None:
            reference = out
            continue
        for a, b in zip(out, reference):
            np.testing.assert_array_equal(a, b)  # exact: same seeds, thread counts change no sum


def worker(seed):
    X, y = data(n=3000, p=12, seed=seed)
    return all_methods(X, y)


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_joblib_worker_gives_the_same_numbers(backend):
    expected = [worker(11), worker(12)]
    with parallel_config(backend=backend):
        got = Parallel(n_jobs=2)(delayed(worker)(s) for s in (11, 12))
    for out, ref in zip(got, expected):
        for a, b in zip(out, ref):
            np.testing.assert_array_equal(a, b)


@needs_threads
def test_worker_threads_run_on_one_thread(monkeypatch):
    monkeypatch.setattr(_threads, "THRESHOLD_CELLS", 100)  # large: only the worker rule can limit
    X, y = data()
    before = pools()

    def fit(_):
        vimp.LOCO(RecordingRegressor()).fit(X[:200], y[:200])

    Parallel(n_jobs=2, backend="threading")(delayed(fit)(i) for i in range(4))
    # Numba's and OpenMP's counts are per thread and set by the worker itself. OpenBLAS's is process-wide,
    # and OpenBLAS 0.3.31 ignores a change from a thread other than the main one once the main thread has
    # set it (observed here), so BLAS pools are not asserted in worker threads.
    seen = RecordingRegressor.seen
    assert seen and {nb for _, nb in seen} == {1}
    assert {c for libs, _ in seen for path, c in libs if "gomp" in path or "omp" in path} == {1}
    assert pools() == before


def test_own_n_jobs_with_threading_backend_gives_the_same_numbers():
    X, y = data(n=2000, p=8, seed=5)
    def run(n_jobs):
        model = vimp.LOCO(LinearRegression(), refit="permute", random_state=4, n_jobs=n_jobs)
        return model.fit(X[:1000], y[:1000]).importance(X[1000:], y[1000:])

    reference = run(None)
    with parallel_config(backend="threading"):
        got = run(2)
    np.testing.assert_array_equal(numbers(got), numbers(reference))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc/self/task")
def test_no_thread_pool_is_started_for_a_small_problem():
    """In a fresh process: a small LOCO call (a parallel Numba kernel inside) starts no thread; the same
    kernel at default threads does (the control, so that the test can fail)."""
    code = textwrap.dedent("""
        import os, numpy as np, numba, vimp
        from sklearn.linear_model import LinearRegression
        from vimp._kernels import loco_linear_losses
        threads = lambda: len(os.listdir("/proc/self/task"))
        rng = np.random.default_rng(0)
        X = rng.normal(size=(200, 5)); y = X[:, 0] + rng.normal(size=200)
        start = threads()
        vimp.LOCO(LinearRegression()).fit(X[:100], y[:100]).importance(X[100:], y[100:])
        after_small = threads()
        loco_linear_losses(y, y, X, np.ones(5), 0)  # default threads: the pool starts
        print(numba.threading_layer(), numba.get_num_threads(), start, after_small, threads())
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    layer, numba_threads, start, after_small, after_default = out.stdout.split()
    if layer != "omp" or int(numba_threads) < 2:
        pytest.skip(f"Numba threading layer {layer} with {numba_threads} threads: the pool starts at launch")
    assert int(after_small) == int(start)
    assert int(after_default) > int(after_small)


@needs_threads
def test_concurrent_calls_restore_each_threads_own_pools():
    """The main thread and a worker thread in vimp at once: each gets its own OpenMP/Numba counts back."""
    import threading

    X, y = data()
    before = pools()
    inside = threading.Event()
    release = threading.Event()

    class Waiting(RecordingRegressor):
        def fit(self, X, y):
            inside.set()
            release.wait(30)
            return super().fit(X, y)

    worker_thread = threading.Thread(target=lambda: vimp.LOCO(Waiting()).fit(X[:200], y[:200]))
    worker_thread.start()
    inside.wait(30)
    vimp.LOCO(RecordingRegressor()).fit(X[:200], y[:200])  # main thread, while the worker is in vimp
    release.set()
    worker_thread.join(30)
    assert pools() == before


@needs_threads
def test_coarse_loops_take_back_only_the_numba_threads_the_size_rule_took():
    import threading

    outside = numba.get_num_threads()
    big = _threads.COARSE_WORK

    def inside(work, cells=100):
        with _threads.thread_policy(cells=cells):
            assert numba.get_num_threads() == 1
            return _threads.coarse_workers(work)

    assert inside(big) == outside  # small data, a large loop: the threads the call started with
    assert inside(big - 1) == 1  # a loop too small to pay for threads
    assert _threads.coarse_workers(big) == 1  # outside any vimp call
    with vimp.config_context(threads=1):
        assert inside(big) == 1  # an explicit count is exact
    numba.set_num_threads(1)
    try:
        assert inside(big) == 1  # the user's limit is never raised
    finally:
        numba.set_num_threads(outside)
    seen = []
    worker = threading.Thread(target=lambda: seen.append(inside(big)))
    worker.start()
    worker.join()
    assert seen == [1]  # a thread other than the main one stays on one thread
    assert numba.get_num_threads() == outside


@needs_threads
def test_run_coarse_covers_every_item_once_on_several_threads():
    import threading

    done, names = [], set()
    lock = threading.Lock()

    def work(a, b):
        with lock:
            done.extend(range(a, b))
            names.add(threading.current_thread().name)
            # pool threads run Numba's parallel kernels on one thread (no nested pools)
            assert threading.current_thread() is threading.main_thread() or numba.get_num_threads() == 1
        time.sleep(0.002)  # long enough for the pool's thread to take ranges too

    with _threads.thread_policy(cells=100):
        _threads.run_coarse(work, 37, _threads.COARSE_WORK)
    assert sorted(done) == list(range(37))
    assert len(names) == min(numba.get_num_threads(), 37)
    done.clear()
    names.clear()
    _threads.run_coarse(work, 5, _threads.COARSE_WORK)  # outside a vimp call: one call in this thread
    assert done == list(range(5)) and names == {threading.current_thread().name}


def test_pap_of_all_groups_gives_the_same_numbers_on_one_thread_and_on_the_coarse_threads(monkeypatch):
    X, y = data(n=4000, p=10, seed=8)  # 2,000 rows x 10 permutations x 10 groups
    # the threaded loop at this size, for shared permutations too (their steps count SHARED_STEP_COST each)
    monkeypatch.setattr(_threads, "COARSE_WORK", 2000 * 10 * 10 * _threads.SHARED_STEP_COST)

    def run():
        for shared in (False, True):
            model = vimp.PermutationImportance(LinearRegression(), n_permutations=10, random_state=3,
                                               shared_permutations=shared)
            yield model.fit(X[:2000], y[:2000]).importance(X[2000:], y[2000:])

    reference = [numbers(r) for r in run()]
    with vimp.config_context(threads=1):
        one = [numbers(r) for r in run()]
    for a, b in zip(reference, one):
        np.testing.assert_array_equal(a, b)


def test_shared_permutation_steps_weigh_less_in_the_coarse_work(monkeypatch):
    import vimp._linear_fitter as linear_fitter

    seen = []
    original = linear_fitter.run_coarse
    monkeypatch.setattr(linear_fitter, "run_coarse", lambda f, n, work: (seen.append(work), original(f, n, work)))
    X, y = data(n=400, p=5, seed=2)
    for shared in (False, True):
        model = vimp.PermutationImportance(LinearRegression(), n_permutations=4, random_state=0,
                                           shared_permutations=shared)
        model.fit(X[:200], y[:200]).importance(X[200:], y[200:])
    assert seen == [200 * 4 * 5, 200 * 4 * 5 * _threads.SHARED_STEP_COST]
    # W1's shared PaP (5,000 rows, 10 permutations, 50 features) stays on one thread, its independent PaP not
    assert 5000 * 10 * 50 * _threads.SHARED_STEP_COST < _threads.COARSE_WORK <= 5000 * 10 * 50


@needs_threads
@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_makes_its_own_coarse_pool():
    # The parent's pool threads do not exist after fork: a child that used the parent's pool would wait
    # forever. Run a coarse loop in the parent, then in a forked child (with a timeout on the child).
    import multiprocessing

    def loop():
        done = []
        with _threads.thread_policy(cells=100):
            _threads.run_coarse(lambda a, b: done.extend(range(a, b)), 9, _threads.COARSE_WORK)
        return sorted(done)

    assert loop() == list(range(9))  # the parent's pool exists now
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        result = pool.apply_async(_coarse_loop_in_child)
        assert result.get(timeout=60) == list(range(9))


def _coarse_loop_in_child():
    done = []
    with _threads.thread_policy(cells=100):
        _threads.run_coarse(lambda a, b: done.extend(range(a, b)), 9, _threads.COARSE_WORK)
    return sorted(done)


def test_the_size_threshold_is_infinite_on_two_cores():
    # Measured on 2 cores up to 100,000,000 cells (benchmarks/results/threads_1e6*.csv): default threads lost
    # for some method at every size, so there every call runs on one thread; more cores keep the earlier,
    # unmeasured threshold.
    import math

    assert _threads._threshold_for(1) == math.inf and _threads._threshold_for(2) == math.inf
    assert _threads._threshold_for(3) == _threads._threshold_for(64) == 50_000_000
    assert _threads.THRESHOLD_CELLS == _threads._threshold_for(_threads._cores())
