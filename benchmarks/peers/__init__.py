"""One adapter module per peer; each exposes plain functions of a workload's data.

Every adapter function takes the arrays of one workload cell (``(X_train, y_train, X_test, y_test)`` for the
held-out workloads, ``(X, y)`` for GCM, ``(reps,)`` for the Monte Carlo one), fits whatever it needs (the model
fit is part of every timed call) and returns the importances (or statistics) it computed, so that a run can be
checked for sanity. Adapters import their peer lazily: a peer that is missing, fails to import or fails to run
becomes a row of the table that says so (:func:`peer_status`, :class:`Method`), never a crash.

Peers are optional and never dependencies of vimp; ``benchmarks/README.md`` ("One benchmark command") gives
the one command that installs them into the benchmark's own environment.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

#: import name -> the name the tables use
PEERS = {
    "vimp": "vimp",
    "sklearn": "scikit-learn",
    "hidimstat": "hidimstat",
    "fippy": "fippy",
    "vimpy": "vimpy",
    "dowhy": "dowhy",
}


def first_line(exc: BaseException) -> str:
    """``Type: message`` of an exception, cut at the message's first line (the table's cell)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip().rstrip(":")[:200]


def peer_status(module: str | None) -> tuple[bool, str, Any]:
    """Whether ``module`` imports: ``(ok, "version x" or "not installed: <exception's first line>", module)``."""
    if module is None:
        return True, "", None
    try:
        imported = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any failure to import is reported, never raised
        return False, f"not installed: {first_line(exc)}", None
    return True, str(getattr(imported, "__version__", "installed")), imported


@dataclass(frozen=True)
class Method:
    """One row of a workload cell: a label, the peer it belongs to and the function that is timed.

    ``requires`` is the import name the function needs (None: only what vimp itself needs); ``role`` tags
    the rows that the target ratios refer to (e.g. ``"refit_loop"``).
    """

    label: str
    peer: str
    function: Callable[..., Any]
    requires: str | None = None
    role: str = ""
    note: str = ""
    options: dict = field(default_factory=dict)
