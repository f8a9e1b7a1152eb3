"""The SQLite store of :func:`vimp.simulation.monte_carlo`: one transaction per finished chunk.

Layout (readable with :func:`pandas.read_sql`): ``vimp_store`` (key, value) holds the format tag, the
configuration as JSON and its SHA-256 hash; ``results`` holds the table's rows; ``finished`` lists the
replicates whose rows are complete; ``warnings`` the warnings the replicates raised. A chunk's rows, its
finished replicates and its warnings are written in one transaction, so a run killed at any moment
leaves a store that holds whole chunks only (SQLite rolls an unfinished transaction back when the file
is next opened).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

import numpy as np
import pandas as pd

FORMAT = "vimp.simulation.monte_carlo store"
FORMAT_VERSION = "1"

#: The table's columns and their dtypes.
COLUMNS = {
    "replicate": "int64",
    "estimator": "object",
    "feature": "object",
    "importance": "float64",
    "std_error": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "pvalue": "float64",
    "truth": "float64",
    "seed": "int64",
}

_SCHEMA = """
CREATE TABLE vimp_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE results (replicate INTEGER NOT NULL, estimator TEXT NOT NULL, feature TEXT NOT NULL,
    importance REAL, std_error REAL, ci_low REAL, ci_high REAL, pvalue REAL, truth REAL,
    seed INTEGER NOT NULL);
CREATE TABLE finished (replicate INTEGER PRIMARY KEY);
CREATE TABLE warnings (replicate INTEGER NOT NULL, category TEXT NOT NULL, message TEXT NOT NULL);
"""


def config_hash(config):
    """SHA-256 of the configuration's canonical JSON."""
    text = json.dumps(config, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _shorten(text, limit=120):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def config_differences(stored, current, path=""):
    """Human-readable differences between two configurations (empty when equal), nested dicts by key."""
    out = []
    for key in sorted(set(stored) | set(current), key=str):
        a, b = stored.get(key, "<absent>"), current.get(key, "<absent>")
        if a == b:
            continue
        name = f"{path}[{key!r}]" if path else str(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, name)
        else:
            out.append(f"{name} is {_shorten(a)} in the store, {_shorten(b)} here")
    return out


class SimulationStore:
    """An open store; see the module notes. Use :meth:`open`."""

    def __init__(self, path, connection, config):
        self.path = path
        self._connection = connection
        self.config = config

    @classmethod
    def open(cls, path, config, resume):
        """Open (or create) the store at ``path`` for ``config``.

        Refuses a file that is not a vimp store, a store of another configuration (naming the
        differences), and an existing store of this configuration unless ``resume`` is True.
        """
        path = os.fspath(path)
        exists = os.path.exists(path) and os.path.getsize(path) > 0
        if os.path.isdir(path):
            raise ValueError(f"store: {path} is a folder; give a file name such as simulation.sqlite")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"store: folder {folder} does not exist")
        if exists:
            with open(path, "rb") as handle:
                header = handle.read(16)
            if header != b"SQLite format 3\x00":
                raise ValueError(f"store: {path} is not a vimp simulation store (not an SQLite file); "
                                 "refusing to touch it")
        connection = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        try:
            if exists:
                cls._check_existing(connection, path, config, resume)
            else:
                connection.execute("BEGIN IMMEDIATE")  # schema and configuration: one transaction
                for statement in _SCHEMA.strip().split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.executemany(
                    "INSERT INTO vimp_store (key, value) VALUES (?, ?)",
                    [("format", FORMAT), ("format_version", FORMAT_VERSION),
                     ("config", json.dumps(config, sort_keys=True)), ("config_hash", config_hash(config))],
                )
                connection.execute("COMMIT")
        except BaseException:
            connection.close()
            raise
        return cls(path, connection, config)

    @staticmethod
    def _check_existing(connection, path, config, resume):
        try:
            meta = dict(connection.execute("SELECT key, value FROM vimp_store").fetchall())
        except sqlite3.DatabaseError:
            raise ValueError(f"store: {path} is not a vimp simulation store (no vimp_store table); "
                             "refusing to touch it") from None
        if meta.get("format") != FORMAT:
            raise ValueError(f"store: {path} is not a vimp simulation store; refusing to touch it")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"store: {path} has format version {meta.get('format_version')}, this vimp "
                             f"writes version {FORMAT_VERSION}; use a new file")
        stored = json.loads(meta["config"])
        if meta.get("config_hash") != config_hash(config):
            differences = config_differences(stored, config) or ["the configuration hash differs"]
            raise ValueError(f"store: {path} holds a simulation of another configuration (refused, not "
                             "overwritten): " + "; ".join(differences))
        if not resume:
            done = connection.execute("SELECT COUNT(*) FROM finished").fetchone()[0]
            raise ValueError(f"store: {path} already holds {done} of {config['reps']} replicates of this "
                             "simulation; pass resume=True to continue it, or give another file")

    def finished(self):
        """The set of replicates whose rows are stored."""
        return {r for (r,) in self._connection.execute("SELECT replicate FROM finished")}

    def write_chunk(self, frame, replicates, warnings):
        """Store one chunk's rows, finished replicates and warnings in one transaction."""
        rows = list(zip(*(frame[c].tolist() for c in COLUMNS)))
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(
                f"INSERT INTO results ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", rows)
            connection.executemany("INSERT INTO finished (replicate) VALUES (?)",
                                   [(int(r),) for r in replicates])
            connection.executemany("INSERT INTO warnings (replicate, category, message) VALUES (?, ?, ?)",
                                   [(int(r), c, m) for r, c, m in warnings])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def read(self):
        """``(frame, warnings)``: every stored row (dtypes of :data:`COLUMNS`) and every stored warning."""
        frame = pd.read_sql_query(f"SELECT {', '.join(COLUMNS)} FROM results", self._connection)
        for column, dtype in COLUMNS.items():
            if dtype == "float64":
                frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
            else:
                frame[column] = frame[column].astype(dtype)
        warnings = self._connection.execute(
            "SELECT replicate, category, message FROM warnings ORDER BY rowid").fetchall()
        return frame, warnings

    def close(self):
        self._connection.close()
