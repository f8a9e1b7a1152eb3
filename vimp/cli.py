"""The ``vimp`` command.

``vimp importance`` computes importances with standard errors, intervals and p-values for every
feature (or group of features) of a data set (by default the diabetes data that scikit-learn ships),
prints them method beside method, and writes a plot. Regression and classification targets are both
handled (see *Task* below).

Exit codes: 0 success; 2 a mistake in the command line or the data (one line on stderr, found before
any model is fitted wherever that is possible); 130 interrupted (Ctrl-C); 141 standard output closed
by the reader (``vimp importance --json | head -1``), as for a process ended by SIGPIPE. Warnings are
printed one line each, ``vimp: warning: <message> (<WarningClass>)``.

Task
----
``--task auto`` (the default) decides from the target column, conservatively:

* text or True/False values: classification;
* numbers with exactly two distinct values, both integers (``0/1``, ``1/2``): classification;
* integers with 3 to ``AMBIGUOUS_MAX_CLASSES`` distinct values (a rating, a count, class codes):
  ambiguous, refused with a message asking for ``--task regression`` or ``--task classification``;
* any other numbers: regression.

A classification target gets classifiers (``--model ols`` or ``linear``: L2-penalised logistic regression
on standardised features; ``rf``: a random forest classifier; ``gbt``: histogram gradient boosting) and
the log-loss by default. Every class needs at least ``--cv`` rows. GCM needs a binary target: with more
classes it is left out of the default methods (a note says so) and refused when named in ``--methods``.

JSON output
-----------
``--json`` prints one object; a run is reproduced by ``vimp`` + its ``argv`` on the same data (the
``data_source`` sha256 identifies the bytes that were read)::

    {
      "vimp_version": "0.1.0",
      "argv": ["importance", "--data", "/abs/data.csv", "--target", "y", ...],  # every option explicit
      "data": "data.csv (n=120, p=3; ...)",            # the description printed in text mode
      "data_source": {"kind": "file" | "stdin" | "dataset", "name": ..., "path": ... or null,
                      "sha256": ... or null, "target": "y", "n_rows": 120, "n_features": 3},
      "task": "regression" | "classification", "classes": [...] or null,
      "model": "ols", "estimator": "LinearRegression()",   # the --model name and the fitted learner
      "methods": ["pap", "loco", "gcm"],
      "cv": 5, "seed": 0, "level": 0.95, "p_adjust": "holm",
      "scale": "difference",             # PaP and LOCO
      "loss": "squared_error" or null,   # PaP and LOCO (null when neither runs)
      "measure": "covariance" or null,   # GCM's scale (null when GCM does not run)
      "test": "--test as given" or null, "n_permutations": 5, "n_jobs": null,
      "groups": {"g": ["a", "b"]} or null,          # --groups as given, by CSV column
      "feature_groups": {"g": ["a", "b"], "c": ["c=x"]},  # the columns each table row stands for
      "estimand": {"pap": "<what the importance estimates, in words>", ...},
      "tests": {"pap": {"test": ..., "question": ..., "target": ..., "rule": ...,
                        "interval": ..., "scale": ..., "loss": ..., "split": "cv=5", "seed": ...}},
      "results": [{"method": ..., "feature": ..., "importance": ..., "std_error": ..., "ci_low": ...,
                   "ci_high": ..., "pvalue": ..., "pvalue_adjusted": ..., ...}, ...]
    }

``data``, ``model``, ``cv``, ``tests`` and ``results`` kept their meaning from earlier versions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings

from . import __version__
from ._base import SCALES
from ._gcm import GCM_SCALES
from ._losses import LOSSES
from ._test_choice import INTERVALS
from ._validation import MAX_DRAW_BYTES

#: ``ols`` and ``linear`` are one learner: least squares for regression, logistic for classification.
MODELS = ("ols", "linear", "rf", "gbt")

#: Built-in data sets (shipped with scikit-learn, so no download): ``diabetes`` (regression, the
#: default) and ``breast-cancer`` (binary classification, 30 strongly correlated features).
DATASETS = ("diabetes", "breast-cancer")

TASKS = ("auto", "regression", "classification")

#: Integer targets with 3 to this many distinct values are ambiguous for ``--task auto``.
AMBIGUOUS_MAX_CLASSES = 10

#: The losses of PaP and LOCO for each task, from the library's own table.
TASK_LOSSES = {task: tuple(name for name, loss in LOSSES.items() if loss.task in (task, "any"))
               for task in ("regression", "classification")}
DEFAULT_LOSS = {"regression": "squared_error", "classification": "log_loss"}

#: Largest permutation array PaP may draw, in bytes: ``n_permutations * rows of a fold`` int64 indices.
#: The library's own bound; the command checks it before it loads or fits anything.
MAX_PERMUTATION_BYTES = MAX_DRAW_BYTES

#: Rows every cross-fitting fold needs at least (``--cv K`` needs ``MIN_ROWS_PER_FOLD * K`` rows).
MIN_ROWS_PER_FOLD = 2

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command ended by Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `cat big | head -1`


class UsageError(Exception):
    """A mistake in the command line or the data: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _parser():
    parser = _Parser(
        prog="vimp",
        description="Variable importance with standard errors, confidence intervals and p-values.",
    )
    parser.add_argument("--version", action="version", version=f"vimp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    imp = sub.add_parser(
        "importance",
        help="importances of every feature of a data set (default: scikit-learn's diabetes data)",
        description=(
            "Fit a model and report permute-and-predict (PaP), leave-one-covariate-out (LOCO) and GCM "
            "importances side by side with standard errors, confidence intervals and p-values, for a "
            "regression or a classification target. Without --data or --dataset it runs on the "
            "diabetes data that scikit-learn ships."
        ),
    )
    imp.add_argument("--data", metavar="CSV",
                     help="a CSV file with a header row, or - for standard input (default: diabetes data)")
    imp.add_argument("--target", metavar="COL", help="the target column of --data (required with --data)")
    imp.add_argument("--dataset", choices=DATASETS, default=None,
                     help="a data set that scikit-learn ships instead of --data: diabetes (regression, "
                          "the default) or breast-cancer (binary classification)")
    imp.add_argument("--task", choices=TASKS, default="auto",
                     help="regression or classification; auto (default): text, True/False or two-valued "
                          "integer targets are classification, other numbers regression, and integers "
                          f"with 3 to {AMBIGUOUS_MAX_CLASSES} values are refused as ambiguous")
    imp.add_argument("--model", choices=MODELS, default="ols",
                     help="learner: linear (ols and linear: least squares, or logistic regression for "
                          "classification), random forest or gradient boosting (default: ols)")
    imp.add_argument("--methods", default=None,
                     help="comma-separated methods among pap, loco, gcm (default: all available)")
    imp.add_argument("--cv", type=int, default=5, metavar="K",
                     help=f"cross-fitting folds (default: 5; at least 2, and at least {MIN_ROWS_PER_FOLD} "
                          "rows per fold)")
    imp.add_argument("--scale", choices=SCALES, default="difference",
                     help="scale of PaP and LOCO (default: difference of mean losses)")
    imp.add_argument("--loss", choices=tuple(LOSSES), default=None,
                     help="loss of PaP and LOCO: " + "; ".join(f"{task}: {', '.join(names)}"
                                                             for task, names in TASK_LOSSES.items())
                          + " (default: squared_error, or log_loss for classification)")
    imp.add_argument("--measure", choices=GCM_SCALES, default=None,
                     help="what GCM reports: covariance (default), correlation, or loco (its estimate "
                          "of LOCO's increase in mean squared error in a linear model)")
    imp.add_argument("--groups", metavar="SPEC", default=None,
                     help="features to assess together, as JSON ('{\"size\": [\"s1\", \"s2\"]}') or "
                          "'size=s1,s2;blood=bp,s4'; the other columns stay one row each")
    imp.add_argument("--n-permutations", type=int, default=5, metavar="R",
                     help="permutations per feature for PaP (default: 5; R times the number of rows "
                          f"at most {MAX_PERMUTATION_BYTES // 8:,})")
    imp.add_argument("--test", metavar="TEST", default=None,
                     help="the test behind the p-values: a name for every method that has it (e.g. "
                          "paired), or METHOD=NAME pairs (e.g. loco=split-per-feature,pap=paired-skew); "
                          "default: auto (LOCO and PaP, chosen by model and design), wald (GCM)")
    imp.add_argument("--level", type=float, default=0.95,
                     help="confidence level, strictly between 0 and 1 (default: 0.95)")
    imp.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default: 0)")
    imp.add_argument("--n-jobs", metavar="K", default=None,
                     help="parallel jobs of each method over features and folds (joblib): a non-zero "
                          "integer, -1 for all cores (default: 1); the results do not depend on it")
    imp.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bars on standard error (default: on when standard error is a terminal)")
    imp.add_argument("--plot", metavar="PATH", default="vimp_importance.png",
                     help="where to write the plot; the extension (.png, .pdf, .svg, ...) sets the format "
                          "(default: ./vimp_importance.png)")
    imp.add_argument("--no-plot", action="store_true", help="do not write a plot")
    imp.add_argument("--json", action="store_true", help="print the table as JSON records instead of text")
    from .simulation._cli import add_simulate_parser
    from .simulation._efficiency_cli import add_efficiency_parser

    add_simulate_parser(sub)
    add_efficiency_parser(sub)
    return parser


# ----------------------------------------------------------------------------------------------------
# Checks that need no data: run before anything is loaded or fitted.


def _available_methods():
    from ._compare import _method_classes

    return [m for m in ("pap", "loco", "gcm") if m in _method_classes()]


def _methods(args):
    available = _available_methods()
    if args.methods is None:
        return available
    methods = [m.strip().lower() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in available]
    if not methods or unknown:
        raise UsageError(f"--methods: expected a comma-separated list among {available}; got {args.methods!r}")
    if len(set(methods)) != len(methods):
        raise UsageError(f"--methods: a method is named twice in {args.methods!r}")
    return methods


def _check_permutation_size(n_permutations, n_rows, rows_known):
    """``--n-permutations`` times ``n_rows`` int64 indices must fit in ``MAX_PERMUTATION_BYTES``."""
    needed = n_permutations * n_rows * 8
    if needed <= MAX_PERMUTATION_BYTES:
        return
    largest = MAX_PERMUTATION_BYTES // (8 * n_rows)
    rows = f"{n_rows} rows" if rows_known else f"the smallest data it could run on ({n_rows} rows)"
    raise UsageError(
        f"--n-permutations {n_permutations} is too large: its permutation arrays would need "
        f"{needed / 2**30:.3g} GiB for {rows}, more than the limit of "
        f"{MAX_PERMUTATION_BYTES / 2**30:g} GiB; with {n_rows} rows use at most {largest}"
    )


def _supported_plot_formats():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return FigureCanvasAgg.get_supported_filetypes()


def _check_plot_path(path):
    """The plot's format is known from its extension and its file can be written: checked up front."""
    formats = _supported_plot_formats()
    listed = ", ".join(f".{ext}" for ext in sorted(formats))
    if path == "" or path.endswith(("/", os.sep)):
        raise UsageError(f"--plot: {path!r} names no file; give a file name such as importance.png")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"--plot: {path} is a folder; give a file name such as "
                         f"{os.path.join(path, 'importance.png')}")
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if not extension:
        raise UsageError(f"--plot: {path} has no extension, which sets the format; use one of {listed}")
    if extension not in formats:
        raise UsageError(f"--plot: cannot write .{extension} files; use one of {listed}")
    if not os.path.isdir(folder):
        raise UsageError(f"--plot: folder {folder} does not exist")
    # Ask the operating system rather than os.access, which answers "yes" to root on read-only mounts.
    existed = os.path.exists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise UsageError(f"--plot: cannot write {path} ({exc.strerror or exc})") from None
    if not existed:
        with contextlib.suppress(OSError):
            os.remove(path)


def _n_jobs(text):
    """``--n-jobs`` as joblib takes it: a non-zero int, negative counting back from all cores."""
    expected = ("--n-jobs: expected a non-zero integer (1: one job, K > 1: K jobs, -1: all cores, "
                "-2: all but one, ...)")
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{expected}; got {text!r}") from None
    if value == 0:
        raise UsageError(f"{expected}; got 0")
    cores = os.cpu_count() or 1
    if value < -cores:
        raise UsageError(f"--n-jobs {value} asks for {cores + 1 + value} jobs on {cores} cores; use -1 to "
                         f"-{cores}, or a positive number")
    return value


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise UsageError(f"--groups: group {twice[0]!r} is given twice")
    return dict(pairs)


def _parse_groups(spec):
    """``--groups`` as ``{name: [column, ...]}``: JSON, or ``name=col1,col2;name2=col3``.

    Empty groups, a column named twice and a column in two groups are refused here; whether the columns
    exist is checked once the data are loaded (:func:`_resolve_groups`).
    """
    if spec is None:
        return None
    text = spec.strip()
    example = "e.g. '{\"size\": [\"s1\", \"s2\"]}' or 'size=s1,s2;blood=bp,s4'"
    if not text:
        raise UsageError(f"--groups: empty; {example}")
    if text.startswith("{"):
        try:
            raw = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--groups: not valid JSON ({exc.msg} at character {exc.pos}); {example}") from None
        groups = {}
        for name, cols in raw.items():
            if isinstance(cols, str):
                cols = [cols]
            if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
                raise UsageError(f"--groups: group {name!r} must be a list of column names; got "
                                 f"{json.dumps(cols)}")
            groups[name] = [c.strip() for c in cols]
    else:
        groups = {}
        for part in text.split(";"):
            if not part.strip():
                continue
            name, sep, cols = part.partition("=")
            name = name.strip()
            if not sep or not name:
                raise UsageError(f"--groups: {part.strip()!r} is not NAME=COL1,COL2; {example}")
            if name in groups:
                raise UsageError(f"--groups: group {name!r} is given twice")
            groups[name] = [c.strip() for c in cols.split(",") if c.strip()]
    if not groups:
        raise UsageError(f"--groups: no group in {spec!r}; {example}")
    owner = {}
    for name, cols in groups.items():
        if not name.strip():
            raise UsageError("--groups: a group has an empty name")
        if not cols or any(c == "" for c in cols):
            raise UsageError(f"--groups: group {name!r} is empty" if not cols
                             else f"--groups: group {name!r} has an empty column name")
        for c in cols:
            if c in owner:
                where = (f"twice in group {name!r}" if owner[c] == name
                         else f"in groups {owner[c]!r} and {name!r}")
                raise UsageError(f"--groups: column {c!r} is {where}; groups must not overlap")
            owner[c] = name
    return groups


def _check_arguments(args):
    """Every check that needs no data. Returns the list of methods."""
    if args.cv < 2:
        raise UsageError(f"--cv must be an integer >= 2; got {args.cv}")
    if args.n_permutations < 1:
        raise UsageError(f"--n-permutations must be >= 1; got {args.n_permutations}")
    # Before loading, the rows are not known: refuse what no data set could take (every data set that
    # passes the --cv check has at least 2 folds of MIN_ROWS_PER_FOLD rows); the exact check follows
    # the loading, still before any fitting.
    _check_permutation_size(args.n_permutations, 2 * MIN_ROWS_PER_FOLD, rows_known=False)
    if not 0 < args.level < 1:
        raise UsageError(f"--level must be strictly between 0 and 1; got {args.level}")
    if args.seed < 0:
        raise UsageError(f"--seed must be an integer >= 0; got {args.seed}")
    args.n_jobs = _n_jobs(args.n_jobs)
    args.groups = _parse_groups(args.groups)
    if args.data is not None and args.dataset is not None:
        raise UsageError("--data and --dataset both name the data; give one of them")
    if args.data is None and args.target is not None:
        raise UsageError("--target goes with --data; the built-in data sets have their own targets "
                         "(diabetes: 'progression', breast-cancer: 'diagnosis')")
    if args.data is not None and args.target is None:
        raise UsageError("--data needs --target COL naming the target column")
    if args.data not in (None, "-"):
        if not os.path.exists(args.data):
            raise UsageError(f"--data: no such file: {args.data}")
        if os.path.isdir(args.data):
            raise UsageError(f"--data: {args.data} is a folder, not a CSV file")
    methods = _methods(args)
    if args.loss is not None and not {"pap", "loco"} & set(methods):
        raise UsageError("--loss applies to PaP and LOCO, which are not among the methods run; GCM's "
                         "choice is --measure")
    if args.measure is not None and "gcm" not in methods:
        raise UsageError("--measure applies to GCM, which is not among the methods run; PaP and LOCO "
                         "take --loss and --scale")
    if args.task == "regression" and args.dataset == "breast-cancer":
        raise UsageError("--task regression: the breast-cancer data have a class target (diagnosis)")
    if args.task == "classification" and args.data is None and args.dataset in (None, "diabetes"):
        raise UsageError("--task classification: the diabetes data have a numeric target (progression); "
                         "use --dataset breast-cancer or --data")
    if args.loss is not None and args.task != "auto":
        _check_loss(args.loss, args.task)
    if not args.no_plot:
        _check_plot_path(args.plot)
    return methods


def _check_loss(loss, task):
    if loss not in TASK_LOSSES[task]:
        raise UsageError(f"--loss {loss} is not a {task} loss; with a {task} target use one of "
                         f"{', '.join(TASK_LOSSES[task])}")


# ----------------------------------------------------------------------------------------------------
# Loading, checks that need the data, and the encoding of text and True/False columns.


def _read_csv(path):
    """``(frame, source, sha256)``: the CSV as a DataFrame, its name, and the SHA-256 of its bytes."""
    import hashlib
    import io

    import pandas as pd

    source = "standard input" if path == "-" else path
    try:
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)
            content = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
        else:
            with open(path, "rb") as handle:
                content = handle.read()
    except OSError as exc:
        raise UsageError(f"--data: cannot read {source} ({exc.strerror or exc})") from None
    try:
        frame = pd.read_csv(io.BytesIO(content))
    except pd.errors.EmptyDataError:
        raise UsageError(f"--data: {source} is empty (a CSV file with a header row is expected)") from None
    except Exception as exc:  # pandas raises many kinds of parse errors
        message = " ".join(str(exc).split())
        raise UsageError(f"--data: could not read {source} as CSV ({exc.__class__.__name__}: {message})") from None
    return frame, source, hashlib.sha256(content).hexdigest()


def _builtin(name):
    """``(X, y, description)`` of a built-in data set; breast cancer's target is the diagnosis as text."""
    if name == "breast-cancer":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer(as_frame=True)
        labels = data.target.map(dict(enumerate(data.target_names)))  # 0 malignant, 1 benign
        return data.data, labels.rename("diagnosis"), "scikit-learn breast cancer data"
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    return data.data, data.target.rename("progression"), "scikit-learn diabetes data"


def _load(args):
    """``(X, y, source)``: the raw feature columns, the target and where they came from.

    Sets ``args.task`` to the task decided from the target, ``args.classes`` (None for regression) and
    ``args.data_source`` (what the JSON output records).
    """
    import numpy as np

    if args.data is None:
        name = args.dataset or "diabetes"
        X, y, source = _builtin(name)
        args.data_source = {"kind": "dataset", "name": name, "path": None, "sha256": None,
                            "target": y.name, "n_rows": len(X), "n_features": X.shape[1]}
        return X, y, source
    frame, source, digest = _read_csv(args.data)
    if len(frame) == 0:
        raise UsageError(f"--data: {source} has a header row but no data rows")
    if len(frame) == 1:
        raise UsageError(f"--data: {source} has one data row; importances need at least "
                         f"{MIN_ROWS_PER_FOLD * args.cv} rows with --cv {args.cv}")
    if args.target not in frame.columns:
        raise UsageError(f"--target: no column {args.target!r} in {source}; columns: {list(frame.columns)[:20]}")
    X = frame.drop(columns=[args.target])
    if X.shape[1] == 0:
        raise UsageError(f"--data: {source} has no feature columns besides the target")
    args.data_source = {"kind": "stdin" if args.data == "-" else "file", "name": source,
                        "path": None if args.data == "-" else os.path.abspath(args.data), "sha256": digest,
                        "target": args.target, "n_rows": len(frame), "n_features": X.shape[1]}
    target = frame[args.target]
    if target.isna().any():
        raise UsageError(f"--target: column {args.target!r} has {int(target.isna().sum())} missing values")
    missing = [str(c) for c in X.columns if X[c].isna().any()]
    if missing:
        raise UsageError(f"--data: missing values in columns {missing[:10]}; vimp does not impute: drop or "
                         "fill them first")
    infinite = [str(c) for c in X.columns if _is_numeric(X[c]) and np.isinf(X[c].to_numpy(dtype=float)).any()]
    if infinite:
        raise UsageError(f"--data: infinite values in columns {infinite[:10]}")
    return X, target, source


def _check_target(y, name, args):
    """The target for the task: a numeric, finite, non-constant target (True/False as 0/1) for
    regression, the labels as they are for classification. Decides ``args.task`` under ``auto`` by
    the rule of the module docstring, and checks that ``--loss`` fits the task."""
    import numpy as np
    import pandas as pd

    if y.isna().any():
        raise UsageError(f"--target: column {name!r} has {int(y.isna().sum())} missing values")
    boolean = pd.api.types.is_bool_dtype(y)
    numeric = pd.api.types.is_numeric_dtype(y) and not boolean
    if numeric:
        values = y.to_numpy(dtype=float)
        if not np.all(np.isfinite(values)):
            raise UsageError(f"--target: column {name!r} has infinite values")
        integer = bool(np.all(values == np.round(values)))
    n_values = y.nunique()
    if n_values < 2:
        raise UsageError(f"--target: column {name!r} is constant ({y.iloc[0]!r}); there is nothing to explain")
    task = args.task
    if task == "auto":
        if not numeric or (integer and n_values == 2):
            task = "classification"
        elif integer and n_values <= AMBIGUOUS_MAX_CLASSES:
            raise UsageError(f"--target: column {name!r} has {n_values} distinct integer values, which may "
                             "be classes or numbers; say which with --task classification or --task regression")
        else:
            task = "regression"
    elif task == "regression" and not numeric and not boolean:
        example = next((v for v in y if not _looks_numeric(v)), y.iloc[0])
        raise UsageError(f"--task regression: column {name!r} is not numeric (for example {example!r})")
    elif task == "classification" and numeric and not integer:
        example = next(v for v in values if v != np.round(v))
        raise UsageError(f"--task classification: column {name!r} has non-integer values (for example "
                         f"{example:g}), which cannot be class labels")
    args.task = task
    args.classes = None
    if args.loss is not None:
        _check_loss(args.loss, task)
    if task == "regression":
        return y.astype(float)
    if numeric:
        y = y.astype(np.int64)
    counts = y.value_counts()
    args.classes = sorted(counts.index.tolist(), key=lambda v: (str(type(v)), v))
    rare = counts[counts < args.cv]
    if len(rare):
        raise UsageError(f"--target: class {rare.index[0]!r} of column {name!r} has {int(rare.iloc[0])} "
                         f"row{'s' if rare.iloc[0] != 1 else ''}; with --cv {args.cv} every class needs at "
                         f"least {args.cv} (one per fold)")
    return y


def _looks_numeric(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_numeric(column):
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _encode(X):
    """One-hot encode the text and True/False columns of ``X``.

    Returns ``(encoded, groups, n_encoded)``: a float DataFrame, the ``groups`` dict that maps every
    original column to the names of its encoded columns (a numeric column to itself), and how many
    columns were encoded. A text column with levels ``a < b < c`` (sorted as strings) becomes the 0/1
    columns ``name=b`` and ``name=c``: the first level is dropped, so the indicators are not collinear
    with the intercept. A True/False column becomes one 0/1 column under its own name. A text column
    with one level becomes one constant column (uninformative, like a constant numeric column).
    """
    import pandas as pd

    taken = {str(c) for c in X.columns}
    columns, groups, n_encoded = {}, {}, 0
    for name in X.columns:
        column = X[name]
        label = str(name)
        if _is_numeric(column):
            columns[label] = column.astype(float)
            groups[label] = [label]
            continue
        n_encoded += 1
        if pd.api.types.is_bool_dtype(column):
            columns[label] = column.astype(float)
            groups[label] = [label]
            continue
        text = column.astype(str)
        levels = sorted(text.unique())
        members = []
        for level in levels[1:] if len(levels) > 1 else levels:
            encoded = f"{label}={level}"
            while encoded in taken:  # never clash with a column the user named so
                encoded += "'"
            taken.add(encoded)
            columns[encoded] = (text == level).astype(float)
            members.append(encoded)
        groups[label] = members
    return pd.DataFrame(columns, index=X.index), groups, n_encoded


def _check_rows(args, n_rows, source):
    """Checks that need the number of rows (still before any fitting)."""
    if n_rows < MIN_ROWS_PER_FOLD * args.cv:
        raise UsageError(f"--cv {args.cv} needs at least {MIN_ROWS_PER_FOLD * args.cv} rows "
                         f"({MIN_ROWS_PER_FOLD} per fold); {source} has {n_rows}")
    # PaP draws each fold's permutations separately: the largest fold has ceil(n / K) rows.
    _check_permutation_size(args.n_permutations, -(-n_rows // args.cv), rows_known=True)


def _tests(args, methods):
    """``--test`` as ``compare``'s ``test``: one name, or METHOD=NAME pairs."""
    from ._compare import method_tests

    spec = args.test
    if spec is None:
        return None
    offered = method_tests()
    if "=" not in spec:
        if not any(spec in offered[m] for m in methods):
            raise UsageError(f"--test: {spec!r} is not a test of {', '.join(methods)}; the tests are "
                             + "; ".join(f"{m}: {', '.join(offered[m])}" for m in methods))
        return spec
    chosen = {}
    for part in spec.split(","):
        method, _, name = part.partition("=")
        method, name = method.strip().lower(), name.strip()
        if method not in methods:
            raise UsageError(f"--test: {method!r} is not among the methods run ({', '.join(methods)})")
        if name not in offered[method]:
            raise UsageError(f"--test: {method} has no test {name!r}; it has {', '.join(offered[method])}")
        if method in chosen:
            raise UsageError(f"--test: {method} is given twice in {spec!r}")
        chosen[method] = name
    return chosen


def _resolve_groups(user_groups, columns, target, encoded):
    """The ``groups`` dict for :func:`vimp.compare`, one entry per row of the table.

    ``user_groups`` names CSV columns (None: every column on its own); ``encoded`` maps each CSV column
    to its encoded columns (:func:`_encode`). A group takes the place of its first column; the columns in
    no group stay one row each, under their own names.
    """
    if user_groups is None:
        return encoded
    known = set(columns)
    for name, cols in user_groups.items():
        unknown = [c for c in cols if c not in known]
        if unknown:
            what = ("is the target, not a feature" if unknown[0] == target
                    else f"is not a column of the data; columns: {list(columns)[:20]}")
            raise UsageError(f"--groups: group {name!r}: {unknown[0]!r} {what}")
    owner = {c: name for name, cols in user_groups.items() for c in cols}
    for name in user_groups:
        if name in known and owner.get(name) is None:
            raise UsageError(f"--groups: group name {name!r} is also a column outside the groups; rename "
                             "the group")
    resolved = {}
    for column in columns:
        name = owner.get(column)
        if name is None:
            resolved[column] = encoded[column]
        elif name not in resolved:
            resolved[name] = [e for c in user_groups[name] for e in encoded[c]]
    return resolved


def _model(name, seed, task="regression"):
    """The learner: ``ols``/``linear`` least squares or logistic regression, a forest, or boosting."""
    if task == "classification":
        from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if name in ("ols", "linear"):
            # Standardised features: the L2 penalty then treats the features alike, and lbfgs converges.
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        if name == "rf":
            return RandomForestClassifier(n_estimators=200, min_samples_leaf=5, random_state=seed)
        return HistGradientBoostingClassifier(random_state=seed)
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    if name in ("ols", "linear"):
        return LinearRegression()
    if name == "rf":
        return RandomForestRegressor(n_estimators=200, min_samples_leaf=5, random_state=seed)
    return HistGradientBoostingRegressor(random_state=seed)


_LEARNERS = {
    "regression": {"ols": "least squares", "linear": "least squares", "rf": "random forest",
                   "gbt": "gradient boosting"},
    "classification": {"ols": "logistic regression", "linear": "logistic regression",
                       "rf": "random forest", "gbt": "gradient boosting"},
}


def _gcm_fits_task(args, methods):
    """GCM needs a binary target: left out of the default methods, refused when named, otherwise."""
    if "gcm" not in methods or args.classes is None or len(args.classes) == 2:
        return methods
    reason = (f"GCM needs a binary target (its y-residual is y - P(y = 1 | other features)); "
              f"{args.data_source['target']!r} has {len(args.classes)} classes")
    if args.methods is not None:
        others = [m for m in methods if m != "gcm"] or ["pap", "loco"]
        raise UsageError(f"--methods: {reason}; use --methods {','.join(others)}")
    with contextlib.suppress(OSError, ValueError):
        print(f"vimp: note: GCM left out: {reason}", file=sys.stderr)
    return [m for m in methods if m != "gcm"]


def _stderr_is_terminal():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


# ----------------------------------------------------------------------------------------------------
# Output.


def _format_table(frame, level):
    import numpy as np

    lines = []
    features = list(dict.fromkeys(frame.index.get_level_values("feature")))
    width = max(14, max(len(str(f)) for f in features) + 2)
    header = (f"{'feature':<{width}}{'method':<7}{'importance':>12}{'std_error':>11}"
              f"{f'{level:.0%} CI':>24}{'p-value':>11}{'p (adj.)':>11}")
    lines.append(header)
    lines.append("-" * len(header))
    methods = list(dict.fromkeys(frame.index.get_level_values("method")))
    for feature in features:
        for k, method in enumerate(methods):
            row = frame.loc[(method, feature)]
            ci = f"[{row.ci_low:.4g}, {row.ci_high:.4g}]" if np.isfinite(row.ci_low) else "—"
            lines.append(
                f"{(feature if k == 0 else ''):<{width}}{method.upper():<7}{row.importance:>12.4g}"
                f"{row.std_error:>11.3g}{ci:>24}{row.pvalue:>11.3g}{row.pvalue_adjusted:>11.3g}"
            )
    return "\n".join(lines)


def _plot(results, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = len(results)
    names = next(iter(results.values())).names
    fig = Figure(figsize=(4.2 * k, 0.35 * len(names) + 1.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, result, color in zip(axes, results.values(), ("C0", "C1", "C2")):
        result.plot(ax=ax, color=color)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _reproducing_argv(args, methods):
    """The ``vimp`` arguments that rerun this analysis, every choice explicit."""
    argv = ["importance"]
    if args.data is None:
        argv += ["--dataset", args.data_source["name"]]
    else:
        argv += ["--data", args.data if args.data == "-" else os.path.abspath(args.data),
                 "--target", args.target]
    argv += ["--task", args.task, "--model", args.model, "--methods", ",".join(methods),
             "--cv", str(args.cv), "--seed", str(args.seed), "--level", repr(args.level)]
    if {"pap", "loco"} & set(methods):
        argv += ["--scale", args.scale, "--loss", args.loss]
    if "pap" in methods:
        argv += ["--n-permutations", str(args.n_permutations)]
    if "gcm" in methods:
        argv += ["--measure", args.measure]
    if args.test is not None:
        argv += ["--test", args.test]
    if args.groups is not None:
        argv += ["--groups", json.dumps(args.groups)]
    if args.n_jobs is not None:
        argv += ["--n-jobs", str(args.n_jobs)]
    return argv + ["--json", "--no-plot"]


def _json_report(args, methods, description, model, frame, results, groups):
    records = frame.reset_index().to_dict(orient="records")
    tests = {m: {"test": r.test, "question": r.question, "target": r.target,
                 "rule": r.details.get("test_rule"), "interval": INTERVALS.get(r.test, r.test),
                 "scale": r.scale, "loss": r.loss, "split": r.split, "seed": r.seed}
             for m, r in results.items()}
    loss_methods = {"pap", "loco"} & set(methods)
    return {
        "vimp_version": __version__,
        "argv": _reproducing_argv(args, methods),
        "data": description,
        "data_source": args.data_source,
        "task": args.task,
        "classes": args.classes,
        "model": args.model,
        "estimator": repr(model),
        "methods": methods,
        "cv": args.cv,
        "seed": args.seed,
        "level": args.level,
        "p_adjust": next(iter(results.values())).p_adjust,
        "scale": args.scale,
        "loss": args.loss if loss_methods else None,
        "measure": args.measure if "gcm" in methods else None,
        "test": args.test,
        "n_permutations": args.n_permutations,
        "n_jobs": args.n_jobs,
        "groups": args.groups,
        "feature_groups": groups,
        "estimand": {m: r.target for m, r in results.items()},
        "tests": tests,
        "results": records,
    }


def _run_importance(args):
    from ._compare import compare

    methods = _check_arguments(args)
    raw, y, source = _load(args)
    _check_rows(args, len(raw), source)
    y = _check_target(y, args.data_source["target"], args)
    methods = _gcm_fits_task(args, methods)
    if args.loss is None:
        args.loss = DEFAULT_LOSS[args.task]
    if args.measure is None:
        args.measure = "covariance"
    X, encoded, n_encoded = _encode(raw)
    groups = _resolve_groups(args.groups, [str(c) for c in raw.columns], args.data_source["target"], encoded)
    progress = _stderr_is_terminal() if args.progress is None else args.progress
    encoded_text = (f"; {n_encoded} text or True/False column{'s' if n_encoded > 1 else ''} one-hot encoded"
                    if n_encoded else "")
    description = f"{source} (n={len(raw)}, p={raw.shape[1]}{encoded_text})"
    model = _model(args.model, args.seed, args.task)
    try:
        frame, results = compare(
            X, y, model, methods=methods, cv=args.cv, scale=args.scale, level=args.level, groups=groups,
            loss=args.loss, gcm_scale=args.measure, n_permutations=args.n_permutations,
            test=_tests(args, methods), random_state=args.seed, n_jobs=args.n_jobs, progress=progress,
            return_results=True,
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        report = _json_report(args, methods, description, model, frame, results, groups)
        print(json.dumps(report, indent=2, default=float))
    else:
        losses = f"; loss {args.loss}" if {"pap", "loco"} & set(methods) else ""
        print(f"vimp {__version__}: {description}; {args.task}; model {args.model} "
              f"({_LEARNERS[args.task][args.model]}){losses}; "
              f"{args.cv}-fold cross-fitting; seed {args.seed}")
        print(_format_table(frame, args.level))
        print()
        for name, cols in (args.groups or {}).items():
            print(f"group {name}: {', '.join(cols)}")
        for method, result in results.items():
            print(f"{method.upper()}: {result.target}; test: {result.test}")
            print(f"  p-values: {result.question}")
            print(f"  interval: {INTERVALS.get(result.test, result.test)}")
    if not args.no_plot:
        try:
            _plot(results, args.plot)
        except (OSError, ValueError, RuntimeError) as exc:  # e.g. the disk filled up, or .pgf without LaTeX
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise UsageError(f"--plot: could not write {args.plot} ({reason})") from None
        print(f"plot written to {os.path.abspath(args.plot)}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK


# ----------------------------------------------------------------------------------------------------
# The entry point: one-line errors and warnings, quiet closed pipes, Ctrl-C.


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` for the command: one line, no source line."""
    text = " ".join(str(message).split())
    stream = sys.stderr if file is None else file
    with contextlib.suppress(OSError, ValueError):
        print(f"vimp: warning: {text} ({category.__name__})", file=stream)


def _stdout_to_devnull():
    """Point the file descriptor under ``sys.stdout`` at /dev/null, so that Python's final flush of the
    unwritten buffer neither fails nor prints "Exception ignored" (the recipe of the Python docs, "Note
    on SIGPIPE")."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # e.g. stdout captured by a test harness
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _error(message):
    with contextlib.suppress(OSError, ValueError):
        print(f"vimp: {message}", file=sys.stderr)


def main(argv=None):
    """Entry point of the ``vimp`` console script; returns the exit code.

    0 on success, 2 for a mistake in the command line or the data, 130 when interrupted (Ctrl-C) and
    141 when standard output was closed by the reader. Warnings are printed one line each while the
    command runs; ``warnings.showwarning`` is restored on return.
    """
    saved_showwarning = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        parser = _parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version print, then exit
            sys.stdout.flush()
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        if args.command is None:
            parser.print_help()
            code = EXIT_OK
        elif args.command == "simulate":
            from .simulation._cli import run_simulate

            code = run_simulate(args)
        elif args.command == "efficiency":
            from .simulation._efficiency_cli import run_efficiency

            code = run_efficiency(args)
        else:
            code = _run_importance(args)
        sys.stdout.flush()  # a closed pipe shows up here at the latest, not at interpreter exit
        return code
    except UsageError as exc:
        _error("error: " + " ".join(str(exc).split()))
        return EXIT_USAGE
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    finally:
        warnings.showwarning = saved_showwarning


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
