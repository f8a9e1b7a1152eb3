"""The Monte Carlo runner: many draws of a data-generating process, vimp's estimators on each, one table.

Every replicate gets its own seed, spawned from ``random_state`` with :class:`numpy.random.SeedSequence`;
the data of a replicate and each estimator's randomness descend from that seed alone, so a replicate can
be recomputed by itself (:func:`run_replicate`) and the table does not depend on ``n_jobs``, the joblib
backend (threads, processes, dask) or the chunking.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import threading
import warnings
import zlib
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any, Literal

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone

from .. import __version__
from .._gcm import GCM
from .._loco import LOCO
from .._pap import PermutationImportance
from .._split import seed_sequence
from .._threads import thread_policy
from .._typing import Estimator, RandomState
from .._warnings import warn
from ._dgp import check_sample_output, describe
from ._store import COLUMNS, SimulationStore

__all__ = ["monte_carlo", "monte_carlo_summary", "run_replicate"]

VALIDATIONS = ("independent", "holdout", "cv")
#: Folds of ``validation="cv"`` for an estimator whose own ``cv`` is None.
DEFAULT_FOLDS = 5
#: Largest chunk chosen by default (replicates per task and per store transaction).
MAX_DEFAULT_CHUNK = 100
#: Seconds to wait for a dask scheduler given by address.
SCHEDULER_TIMEOUT = 5.0
#: Estimator parameters that do not change a result (left out of a store's configuration).
_IGNORED_PARAMS = ("random_state", "n_jobs", "progress")

_METHOD_OF = ((PermutationImportance, "pap"), (LOCO, "loco"), (GCM, "gcm"))


# ---------------------------------------------------------------------------------------------- checks
def _method(estimator):
    for cls, method in _METHOD_OF:
        if isinstance(estimator, cls):
            return method
    return None


def _check_estimators(estimators):
    if not isinstance(estimators, dict) or not estimators:
        raise TypeError("estimators must be a non-empty dict name -> vimp estimator, e.g. "
                        "{'pap': vimp.PermutationImportance(LinearRegression())}")
    for name, est in estimators.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"estimators: every name must be a non-empty str; got {name!r}")
        if _method(est) is None:
            raise TypeError(
                f"estimators[{name!r}] must be a vimp estimator (PermutationImportance, LOCO or GCM); got "
                f"{type(est).__name__}"
            )
    return dict(estimators)


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def _check_dgp(dgp):
    missing = [a for a in ("sample", "p", "feature_names") if not hasattr(dgp, a)]
    if missing:
        raise TypeError(
            f"dgp must be a data-generating process (e.g. vimp.simulation.BladenDesign(6, 0.5), or "
            f"CustomDGP(sample) around your own sampler); {type(dgp).__name__} has no {', '.join(missing)}"
        )
    return dgp


def _check_features(features, dgp):
    names = list(dgp.feature_names)
    if features is None:
        return None
    if isinstance(features, (str, numbers.Integral)):
        features = [features]
    out = []
    for f in features:
        if isinstance(f, numbers.Integral) and not isinstance(f, bool):
            if not 0 <= f < len(names):
                raise ValueError(f"features: position {f} is outside 0..{len(names) - 1}")
            out.append(names[int(f)])
        elif isinstance(f, str) and f in names:
            out.append(f)
        else:
            raise ValueError(f"features: {f!r} is not a feature of the dgp (features: {names[:10]}...)")
    if not out:
        raise ValueError("features must name at least one feature (or be None for all)")
    if len(set(out)) != len(out):
        raise ValueError(f"features: a feature is named twice in {features!r}")
    return out


def _rows(n, validation, estimator):
    """(training rows of one fit, evaluation rows) of a replicate."""
    if validation == "independent":
        return n, n
    if validation == "holdout":
        return n // 2, n - n // 2
    folds = estimator.cv if isinstance(estimator.cv, numbers.Integral) and not isinstance(estimator.cv, bool) \
        else DEFAULT_FOLDS if estimator.cv is None else None
    if folds is None:
        return None, None
    return n - math.ceil(n / folds), n


def _is_ols(learner):
    from sklearn.linear_model import LinearRegression

    if hasattr(learner, "steps"):
        learner = learner.steps[-1][1]
    inner = getattr(learner, "estimator", None)
    if hasattr(learner, "refit_without") and inner is not None:
        learner = inner
    return isinstance(learner, LinearRegression)


def _check_sizes(n, validation, estimators, p):
    for name, est in estimators.items():
        train, evaluation = _rows(n, validation, est)
        if train is None:
            continue
        if _is_ols(est.estimator) and train < p + 2:
            raise ValueError(
                f"n={n} is too small for OLS in estimators[{name!r}]: validation={validation!r} fits on "
                f"{train} rows, and OLS with an intercept and p={p} features needs at least p + 2 = {p + 2}"
            )
        if train < 2 or evaluation < 2:
            raise ValueError(f"n={n} is too small: validation={validation!r} leaves {train} training and "
                             f"{evaluation} evaluation rows; use n >= 4")


def _root_seed(random_state, store):
    if store is not None and (isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral)):
        raise ValueError(
            "store needs an integer random_state (>= 0), so that a resumed run draws the same data; got "
            f"{random_state!r}"
        )
    return seed_sequence(random_state)


def replicate_seeds(root, replicates):
    """The seed of each replicate: an int in [0, 2**63) from the ``SeedSequence`` child of ``root``."""
    from ._fast import replicate_seeds_compiled

    out = replicate_seeds_compiled(root, replicates)
    if out is not None:
        return out
    out = []
    for r in replicates:
        child = np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (int(r),))
        out.append(int(child.generate_state(1, np.uint64)[0] >> np.uint64(1)))
    return out


# ----------------------------------------------------------------------------------------- one replicate
def _learner_seed_keys(template):
    """Nested ``random_state`` parameters left at None (set per replicate, so that runs repeat)."""
    return [key for key, value in template.get_params(deep=True).items()
            if key.endswith("__random_state") and value is None]


def _prepare(template, seed, name, validation, groups, learner_keys):
    """A fresh clone of ``template`` with its seeds set from the replicate's ``seed``."""
    est = clone(template)
    seq = np.random.SeedSequence(seed, spawn_key=(1, zlib.crc32(name.encode())))
    states = seq.generate_state(8, np.uint32)
    params = {"random_state": int(states[0])}
    if validation == "cv":
        if est.cv is None:
            params["cv"] = DEFAULT_FOLDS
    else:
        params["cv"] = None
    if groups is not None:
        params["groups"] = groups
    # A learner's own random_state left at None would make the table depend on the run: set it too.
    for k, key in enumerate(learner_keys):
        params[key] = int(states[1 + k % (len(states) - 1)])
    est.set_params(**params)
    return est


#: ``fit`` and ``importance`` of the estimator classes as vimp ships them, taken when this module is
#: imported (with :mod:`vimp.simulation`). The fast path (:mod:`._fast`, imported at the first run) covers
#: only these: one whose methods were replaced by then (an instrumented or patched estimator) takes
#: the generic path. Taken here rather than when ``_fast`` is first imported, which may come after a patch.
SHIPPED_METHODS = {cls: (cls.fit, cls.importance) for cls in (PermutationImportance, LOCO, GCM)}

_record_lock = threading.Lock()
#: ``users``: recorders open in any thread; ``show``: the ``warnings._showwarnmsg`` replaced by the router;
#: ``lists``: the filter lists that hold the recorders' "always" entry (see :func:`_recording_warnings`).
_record_state: dict[str, Any] = {"users": 0, "show": None, "lists": []}
_record_local = threading.local()
#: The recorders' own filter entry ("always" for every warning), removed by identity at the end.
_ALWAYS = ("always", None, Warning, None, 0)


def _route_warning(msg):
    """``warnings._showwarnmsg`` while replicates run: to the calling thread's recorder, if it has one."""
    records = getattr(_record_local, "records", None)
    if records is not None:
        records.append((msg.category, str(msg.message)))
        return
    show = _record_state["show"]
    (show if show is not None else warnings._showwarnmsg_impl)(msg)


def _ensure_always():
    """Put the recorders' "always" entry first in the current filter list (under the lock)."""
    filters = warnings.filters
    if not (filters and filters[0] is _ALWAYS):
        filters.insert(0, _ALWAYS)
        if not any(held is filters for held in _record_state["lists"]):
            _record_state["lists"].append(filters)
        warnings._filters_mutated()


@contextlib.contextmanager
def _recording_warnings():
    """Record the warnings raised in this thread, as ``(category, message)`` pairs.

    ``warnings.catch_warnings`` is not thread-safe: each use saves the process-wide filter list and
    ``warnings.showwarning`` on entry and puts them back on exit, so a use in another thread (scikit-learn's
    ``check_array`` enters one on every call) that overlaps a recorder can undo it, or put it back after
    it ended. So the recorders route through ``warnings._showwarnmsg``, the hook that ``warnings.warn``
    calls and ``catch_warnings`` leaves alone: the first recorder replaces it with a router that sends
    each thread's warnings to that thread's list and every other thread's to the hook it replaced (so
    another thread's ``catch_warnings(record=True)`` or ``showwarning`` still gets them), and the last
    restores it. Each recorder (re)inserts one "always" filter entry of its own at the front of the
    current filter list, where another thread's ``catch_warnings`` may have swapped the list, and the
    last removes that entry, by identity, from every list it was put in: a list that a ``catch_warnings``
    still open elsewhere will put back then holds no trace of it, and the user's own filters are never
    touched. What no recorder can prevent (the filters are process-wide): where a
    ``catch_warnings`` entered in another thread before the first recorder started ends while one
    records, it puts back a list without the entry, and until the next recorder starts that thread's
    warnings follow the process's filters (by default, a warning is then recorded once per place).
    """
    records = []
    with _record_lock:
        if _record_state["users"] == 0:
            _record_state["show"] = warnings._showwarnmsg
            warnings._showwarnmsg = _route_warning
        _record_state["users"] += 1
        _ensure_always()
    previous = getattr(_record_local, "records", None)
    _record_local.records = records
    try:
        yield records
    finally:
        _record_local.records = previous
        with _record_lock:
            _record_state["users"] -= 1
            if _record_state["users"] == 0:
                for filters in _record_state["lists"] + [warnings.filters]:
                    for k in range(len(filters) - 1, -1, -1):
                        if filters[k] is _ALWAYS:
                            del filters[k]
                _record_state["lists"] = []
                warnings._filters_mutated()
                warnings._showwarnmsg = _record_state["show"]
                _record_state["show"] = None


def _draw(dgp, n, rng):
    return check_sample_output(dgp.sample(n, rng), n, dgp.p, f"{type(dgp).__name__}.sample")


def _one_replicate(spec, replicate, seed):
    """Rows (dict of lists) and warnings of one replicate (the fast path where it applies)."""
    if spec.get("fast") is not None:
        from ._fast import run_chunk

        rows, caught = run_chunk(spec, spec["fast"], [replicate], [seed], _generic_replicate)
        return {c: np.asarray(values).tolist() for c, values in rows.items()}, caught
    return _generic_replicate(spec, replicate, seed)


def _generic_replicate(spec, replicate, seed):
    """Rows (dict of lists) and warnings of one replicate, by vimp's estimators."""
    dgp, n, validation = spec["dgp"], spec["n"], spec["validation"]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    X, y = _draw(dgp, n, rng)
    if validation == "independent":
        X_eval, y_eval = _draw(dgp, n, rng)
        X_train, y_train = X, y
    elif validation == "holdout":
        half = n // 2
        X_train, y_train, X_eval, y_eval = X[:half], y[:half], X[half:], y[half:]
    rows = {c: [] for c in COLUMNS}
    caught_all = []
    for name, template in spec["estimators"].items():
        est = _prepare(template, seed, name, validation, spec["groups"], spec["learner_keys"][name])
        with _recording_warnings() as caught:
            if validation == "cv":
                result = est.fit(X, y).importance()
            else:
                result = est.fit(X_train, y_train).importance(X_eval, y_eval)
        caught_all.extend((replicate, f"{category.__module__}:{category.__qualname__}", f"{name}: {message}")
                          for category, message in caught)
        truth = spec["truths"][name]
        k = len(result.names)
        rows["replicate"] += [replicate] * k
        rows["estimator"] += [name] * k
        rows["feature"] += list(result.names)
        for column in ("importance", "std_error", "ci_low", "ci_high", "pvalue"):
            rows[column] += np.asarray(getattr(result, column), dtype=float).tolist()
        rows["truth"] += [truth.get(f, np.nan) for f in result.names]
        rows["seed"] += [seed] * k
    return rows, caught_all


_dispatching_one_replicate = _one_replicate


def _run_chunk(spec, replicates, seeds):
    """One task: the replicates of a chunk, under vimp's thread policy."""
    cells = spec["n"] * spec["dgp"].p
    with thread_policy(cells, 1):
        # OLS on a built-in linear dgp: the fast path (the generic path's numbers, vimp.simulation._fast)
        # on the whole chunk at once; replicate by replicate where _one_replicate was replaced
        # (instrumented). Its rows do not depend on the chunking.
        if spec.get("fast") is not None and _one_replicate is _dispatching_one_replicate:
            from ._fast import frame, run_chunk

            rows, caught = run_chunk(spec, spec["fast"], replicates, seeds, _generic_replicate)
            return replicates, frame(rows), caught
        rows = {c: [] for c in COLUMNS}
        caught = []
        for r, seed in zip(replicates, seeds):
            part, w = _one_replicate(spec, r, seed)
            for c in COLUMNS:
                rows[c] += part[c]
            caught += w
    return replicates, _frame(rows), caught


def _frame(rows):
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype(COLUMNS)


# --------------------------------------------------------------------------------------------- spec
def _truths(dgp, estimators, groups, features):
    """name -> {feature: population value} on each estimator's scale (NaN where unknown)."""
    out = {}
    names = list(dgp.feature_names)
    known = {}  # (method, scale) -> values: estimators of one method and scale share their truth
    for name, est in estimators.items():
        method = _method(est)
        values = {}
        squared = getattr(est, "loss", None) in (None, "squared_error") or method == "gcm"
        if squared and hasattr(dgp, "truth"):
            key = (method, est.scale) if isinstance(est.scale, str) else (method, id(est))
            if key not in known:
                try:
                    known[key] = dict(zip(names, np.asarray(dgp.truth(method, scale=est.scale), dtype=float)))
                except (NotImplementedError, ValueError):
                    known[key] = {}
            values = known[key]
        if groups is None and est.groups is not None:
            values = {}  # the estimator's own groups: no per-feature truth applies
        out[name] = {f: float(v) for f, v in values.items() if features is None or f in features}
    return out


def _configuration(dgp, estimators, n, reps, validation, features, random_state):
    def estimator_description(est):
        params = est.get_params(deep=False)
        out = {"class": f"{type(est).__module__}.{type(est).__qualname__}"}
        out.update({k: describe(params[k]) for k in sorted(params) if k not in _IGNORED_PARAMS})
        return out

    return {
        "dgp": repr(dgp),
        "estimators": {name: estimator_description(est) for name, est in estimators.items()},
        "estimator_order": list(estimators),
        "n": n,
        "reps": reps,
        "validation": validation,
        "features": features,
        "random_state": None if random_state is None else int(random_state),
        "vimp_version": __version__,
    }


def _order(frame, estimators, features, dgp):
    """Rows sorted by replicate, estimator (dict order) and feature (the dgp's order), index 0..N-1."""
    est_rank = pd.Index(list(estimators)).get_indexer(frame["estimator"])
    feat_rank = pd.Index(list(dgp.feature_names)).get_indexer(frame["feature"])
    feat_rank = np.where(feat_rank < 0, len(dgp.feature_names), feat_rank)
    order = np.lexsort((np.arange(len(frame)), feat_rank, est_rank, frame["replicate"].to_numpy()))
    if np.array_equal(order, np.arange(len(frame))):  # already in order (one chunk of the fast path)
        out = frame.reset_index(drop=True)
    else:
        out = frame.iloc[order].reset_index(drop=True)
    out = out[list(COLUMNS)]
    if all(out[c].dtype == dtype for c, dtype in COLUMNS.items()):
        return out
    return out.astype(COLUMNS)


def _chunks(todo, chunk_size, workers):
    if chunk_size is None:
        # several chunks per worker balance the load; one worker has nothing to balance, and each chunk
        # costs a frame and the fast path's per-chunk inference
        per_worker = 1 if workers <= 1 else 4
        chunk_size = max(1, min(MAX_DEFAULT_CHUNK, math.ceil(len(todo) / (per_worker * max(workers, 1)))))
    return [todo[i:i + chunk_size] for i in range(0, len(todo), chunk_size)]


@contextlib.contextmanager
def _scheduler_backend(scheduler):
    """``joblib.parallel_backend("dask")`` on the scheduler at an address (or a Client), or nothing."""
    if scheduler is None:
        yield
        return
    try:
        import distributed
    except ImportError:
        raise ImportError("scheduler= needs dask.distributed: pip install 'dask[distributed]'") from None
    from joblib import parallel_backend

    if isinstance(scheduler, distributed.Client):
        client, own = scheduler, False
    elif isinstance(scheduler, str):
        try:
            client = distributed.Client(scheduler, timeout=SCHEDULER_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConnectionError(
                f"scheduler: cannot reach a dask scheduler at {scheduler!r} within {SCHEDULER_TIMEOUT:g} s "
                f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
            ) from None
        own = True
    else:
        raise TypeError(f"scheduler must be None, an address such as 'tcp://host:8786' or a "
                        f"distributed.Client; got {type(scheduler).__name__}")
    try:
        with parallel_backend("dask", client=client):
            yield
    finally:
        if own:
            client.close()


def _workers(n_jobs):
    from joblib import effective_n_jobs

    try:
        return effective_n_jobs(n_jobs)
    except Exception:  # noqa: BLE001 - a backend that cannot say
        return 1


def _rewarn(caught, reps):
    """One warning per category: how many replicates raised it, and the first message."""
    import importlib

    by_category = {}
    for replicate, category, message in caught:
        entry = by_category.setdefault(category, [set(), message])
        entry[0].add(replicate)
    for category, (replicates, message) in by_category.items():
        module, _, qualname = category.partition(":")
        try:
            cls = importlib.import_module(module)
            for part in qualname.split("."):
                cls = getattr(cls, part)
            if not (isinstance(cls, type) and issubclass(cls, Warning)):
                raise TypeError
        except Exception:  # noqa: BLE001 - an unknown category: report it as a UserWarning
            cls = UserWarning
        warn(f"{len(replicates)} of {reps} replicates raised {qualname}; the first: {message}", cls)


# ---------------------------------------------------------------------------------------- public API
def run_replicate(dgp: Any, estimators: Mapping[str, Estimator], n: int, seed: int, *,
                  validation: Literal["independent", "holdout", "cv"] = "independent",
                  features: Sequence[str | int] | None = None, replicate: int = 0) -> pd.DataFrame:
    """Recompute one replicate of :func:`monte_carlo` from its ``seed`` (the table's ``seed`` column).

    Parameters
    ----------
    dgp, estimators, n, validation, features
        As in :func:`monte_carlo`.
    seed : int
        The replicate's seed.
    replicate : int, default 0
        Written in the ``replicate`` column.

    Returns
    -------
    pandas.DataFrame
        The replicate's rows, equal to those of the :func:`monte_carlo` table.
    """
    with thread_policy(0, 1):  # as in monte_carlo: the truths on one thread
        spec = _spec(dgp, estimators, n, 1, validation, features)
    _, frame, caught = _run_chunk(spec, [replicate], [int(seed)])
    _rewarn(caught, 1)
    return _order(frame, spec["estimators"], spec["features"], spec["dgp"])


def _spec(dgp, estimators, n, reps, validation, features):
    dgp = _check_dgp(dgp)
    estimators = _check_estimators(estimators)
    n = _check_int(n, "n", 1)
    reps = _check_int(reps, "reps", 1)
    if not isinstance(validation, str) or validation not in VALIDATIONS:
        raise ValueError(f"validation must be one of {VALIDATIONS}; got {validation!r}")
    features = _check_features(features, dgp)
    if features is not None:
        own = [name for name, est in estimators.items() if est.groups is not None]
        if own:
            raise ValueError(f"features= and the estimators' own groups cannot be combined "
                             f"(estimators {own} have groups); give one or the other")
    groups = None if features is None else {f: [list(dgp.feature_names).index(f)] for f in features}
    _check_sizes(n, validation, estimators, dgp.p)
    spec = {"dgp": dgp, "estimators": estimators, "n": n, "reps": reps, "validation": validation,
            "features": features, "groups": groups,
            "learner_keys": {name: _learner_seed_keys(est) for name, est in estimators.items()},
            "truths": _truths(dgp, estimators, groups, features)}
    from ._fast import plan

    spec["fast"] = plan(spec)
    return spec


def monte_carlo(dgp: Any, estimators: Mapping[str, Estimator], n: int, reps: int, *,
                validation: Literal["independent", "holdout", "cv"] = "independent",
                features: Sequence[str | int] | None = None, random_state: RandomState = None,
                n_jobs: int | None = None, store: str | PathLike[str] | None = None, resume: bool = False,
                progress: bool = False, chunk_size: int | None = None, scheduler: Any = None) -> pd.DataFrame:
    """Run vimp's estimators on ``reps`` draws of a data-generating process; one tidy table.

    Parameters
    ----------
    dgp : data-generating process
        Any of :mod:`vimp.simulation`'s processes (or an object with ``p``, ``feature_names`` and
        ``sample(n, rng)``; ``truth(method, scale)`` where known).
    estimators : dict
        Name -> vimp estimator (:class:`~vimp.PermutationImportance`, :class:`~vimp.LOCO`,
        :class:`~vimp.GCM`, any learner). Each is cloned for every replicate, its ``random_state`` (and
        a learner's ``random_state`` left at None) set from the replicate's seed. Every estimator of a
        replicate sees the same data.
    n : int
        Rows per data set.
    reps : int
        Replicates, at least 1.
    validation : {"independent", "holdout", "cv"}, default "independent"
        ``"independent"``: fit on ``n`` rows, evaluate on a fresh draw of ``n`` rows (Bladen et al.'s
        design); ``"holdout"``: fit on the first ``n // 2`` rows, evaluate on the rest; ``"cv"``: cross-fit
        on the ``n`` rows (the estimator's own ``cv``, or 5 folds where it is None). With
        ``"independent"`` and ``"holdout"`` each estimator's ``cv`` is set to None.
    features : list of str or int, optional
        Features to measure (names of ``dgp.feature_names`` or positions); default all.
    random_state : None, int, Generator or SeedSequence
        Root of every replicate's seed. A store needs an int.
    n_jobs : int, optional
        joblib workers over chunks of replicates. None: one, or whatever an active
        ``joblib.parallel_backend`` (e.g. ``"dask"``) provides. The table does not depend on it.
    store : path, optional
        SQLite file that receives each finished chunk in one transaction, keyed by a hash of the
        configuration (the dgp with its parameters, the estimators with theirs, ``n``, ``reps``,
        ``validation``, ``features``, ``random_state`` and the vimp version). An existing store is used
        only with ``resume=True`` and only for the same configuration; a store of another configuration
        is refused with the differences named, and never overwritten.
    resume : bool, default False
        Continue the simulation in ``store``: its finished replicates are read, the rest computed.
    progress : bool, default False
        A progress bar (tqdm) over replicates.
    chunk_size : int, optional
        Replicates per task (and per store transaction). Default: about four chunks per worker, at most
        100 replicates (one worker: chunks of 100).
    scheduler : str or distributed.Client, optional
        Run on a dask.distributed cluster: an address such as ``"tcp://host:8786"`` (refused within
        ``SCHEDULER_TIMEOUT`` seconds when it cannot be reached) or a client.

    Returns
    -------
    pandas.DataFrame
        One row per replicate x estimator x feature, sorted so, with columns ``replicate``, ``estimator``,
        ``feature``, ``importance``, ``std_error``, ``ci_low``, ``ci_high``, ``pvalue`` (unadjusted),
        ``truth`` (the dgp's population value on the estimator's scale; NaN where unknown) and ``seed``
        (recompute the replicate with :func:`run_replicate`).

    Warns
    -----
    The warnings of the estimators (e.g. :class:`~vimp.DegenerateInferenceWarning`) are collected per
    replicate, whatever the backend, and re-emitted once per category with the number of replicates.

    Notes
    -----
    The seed of replicate ``r`` comes from the ``SeedSequence`` child ``(r,)`` of ``random_state``'s
    sequence; its data from the child ``(0,)`` of that seed and each estimator's seeds from a child keyed
    by the estimator's name, so adding an estimator does not change the others' numbers. Work goes to
    joblib in chunks (a cluster gets a few large tasks, not thousands of tiny ones) under vimp's thread
    policy (one BLAS/OpenMP thread per worker for small problems, :mod:`vimp._threads`).

    For ``LinearRegression`` on the linear DGPs (:class:`LinearGaussian`, :class:`EquicorrelatedLinear`,
    :class:`BladenDesign`) with the options it covers, the runner takes a fast path by itself
    (``vimp.simulation._fast``): the same random draws and the estimators' own inference functions,
    batched over the replicates of a chunk, so the table is the generic path's (tested to 1e-10 on every
    column); a replicate where anything unusual happens (an ill-conditioned fit, a degenerate standard
    error) is recomputed on the generic path. ``benchmarks/simulation.py`` times both.

    ``truth`` is a population value (true regression function, squared-error loss, large n); the
    estimators' own targets are conditional on the fitted models (see their Notes), so their means
    differ from it at small n (Bladen et al.'s finite-sample factors, :mod:`vimp.linear`).

    References
    ----------
    Bladen, K., Cutler, D. R. & Wisler, A. (2025). Mathematical theory of collinearity effects on machine
    learning variable importance measures. arXiv:2510.00557.
    Zheng, C. & Raskutti, G. (2025). Comparing model-agnostic feature selection methods through relative
    efficiency. arXiv:2508.14268.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from vimp import LOCO, PermutationImportance
    >>> from vimp.simulation import BladenDesign, monte_carlo, monte_carlo_summary
    >>> table = monte_carlo(BladenDesign(3, 0.5), {"pap": PermutationImportance(LinearRegression()),
    ...                     "loco": LOCO(LinearRegression())}, n=200, reps=20, features=["x0"], random_state=0)
    >>> list(table.columns)
    ['replicate', 'estimator', 'feature', 'importance', 'std_error', 'ci_low', 'ci_high', 'pvalue', 'truth', 'seed']
    >>> monte_carlo_summary(table)[["mean", "mc_se", "truth"]].round(2)  # doctest: +NORMALIZE_WHITESPACE
                       mean  mc_se  truth
    estimator feature
    pap       x0       3.04   0.09   3.00
    loco      x0       0.37   0.01   0.36
    """
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be True or False; got {resume!r}")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False; got {progress!r}")
    if resume and store is None:
        raise ValueError("resume=True needs store=PATH (the store to resume)")
    if chunk_size is not None:
        chunk_size = _check_int(chunk_size, "chunk_size", 1)
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0):
        raise ValueError(f"n_jobs must be None, a positive int or negative (-1: all cores); got {n_jobs!r}")
    with thread_policy(0, 1):  # the truths are closed forms of p x p matrices: small, one thread
        spec = _spec(dgp, estimators, n, reps, validation, features)
    root = _root_seed(random_state, store)
    with _scheduler_backend(scheduler):
        db = None
        if store is not None:
            config = _configuration(spec["dgp"], spec["estimators"], spec["n"], spec["reps"], validation,
                                    spec["features"], random_state)
            db = SimulationStore.open(store, config, resume)
        try:
            return _run(spec, root, n_jobs, db, progress, chunk_size)
        finally:
            if db is not None:
                db.close()


def _run(spec, root, n_jobs, db, progress, chunk_size):
    reps = spec["reps"]
    done = db.finished() if db is not None else set()
    todo = [r for r in range(reps) if r not in done]
    seeds = dict(zip(todo, replicate_seeds(root, todo)))
    chunks = _chunks(todo, chunk_size, _workers(n_jobs))
    frames, caught = [], []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=reps, initial=len(done), desc="monte carlo", unit="rep")
    cells = spec["n"] * spec["dgp"].p
    try:
        with thread_policy(cells, n_jobs):
            if chunks:
                parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
                for replicates, frame, chunk_warnings in parallel(
                        delayed(_run_chunk)(spec, c, [seeds[r] for r in c]) for c in chunks):
                    if db is not None:
                        db.write_chunk(frame, replicates, chunk_warnings)
                    frames.append(frame)
                    caught += chunk_warnings
                    if bar is not None:
                        bar.update(len(replicates))
    finally:
        if bar is not None:
            bar.close()
    if db is not None:
        table, caught = db.read()  # stored and new rows alike, through the same path
    else:
        table = pd.concat(frames, ignore_index=True) if frames else _frame({c: [] for c in COLUMNS})
    _rewarn(caught, reps)
    return _order(table, spec["estimators"], spec["features"], spec["dgp"])


def monte_carlo_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per estimator and feature: mean importance, its Monte Carlo standard error, truth, spread, mean SE.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`monte_carlo` table.

    Returns
    -------
    pandas.DataFrame
        Indexed by (estimator, feature) in the table's order, with columns ``reps``, ``mean``, ``mc_se``
        (``sd / sqrt(reps)``: the Monte Carlo error of ``mean``), ``truth``, ``bias_z`` (``(mean - truth) /
        mc_se``), ``sd`` (spread of the estimates over replicates) and ``mean_se`` (mean reported standard
        error; compare with ``sd``).
    """
    missing = [c for c in ("estimator", "feature", "importance", "std_error", "truth") if c not in table]
    if missing:
        raise ValueError(f"table must be a monte_carlo table; it has no column {missing}")
    grouped = table.groupby(["estimator", "feature"], sort=False)
    out = pd.DataFrame({
        "reps": grouped["importance"].count(),
        "mean": grouped["importance"].mean(),
        "mc_se": grouped["importance"].std(ddof=1) / np.sqrt(grouped["importance"].count()),
        "truth": grouped["truth"].first(),
        "sd": grouped["importance"].std(ddof=1),
        "mean_se": grouped["std_error"].mean(),
    })
    with np.errstate(divide="ignore", invalid="ignore"):
        out.insert(4, "bias_z", (out["mean"] - out["truth"]) / out["mc_se"])
    return out
