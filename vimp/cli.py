"""The ``vimp`` command.

``vimp importance`` computes importances with standard errors, intervals and p-values for every
feature of a data set (by default the diabetes data that scikit-learn ships), prints them method beside
method, and writes a plot.

Exit codes: 0 success; 2 a mistake in the command line or the data (one line on stderr, found before
any model is fitted wherever that is possible); 130 interrupted (Ctrl-C); 141 standard output closed
by the reader (``vimp importance --json | head -1``), as for a process ended by SIGPIPE. Warnings are
printed one line each, ``vimp: warning: <message> (<WarningClass>)``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings

from . import __version__
from ._test_choice import INTERVALS
from ._validation import MAX_DRAW_BYTES

MODELS = ("ols", "rf", "gbt")

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
            "importances side by side with standard errors, confidence intervals and p-values. Without "
            "--data it runs on the diabetes data that scikit-learn ships."
        ),
    )
    imp.add_argument("--data", metavar="CSV",
                     help="a CSV file with a header row, or - for standard input (default: diabetes data)")
    imp.add_argument("--target", metavar="COL", help="the target column of --data (required with --data)")
    imp.add_argument("--model", choices=MODELS, default="ols",
                     help="learner: ordinary least squares, random forest or gradient boosting (default: ols)")
    imp.add_argument("--methods", default=None,
                     help="comma-separated methods among pap, loco, gcm (default: all available)")
    imp.add_argument("--cv", type=int, default=5, metavar="K",
                     help=f"cross-fitting folds (default: 5; at least 2, and at least {MIN_ROWS_PER_FOLD} "
                          "rows per fold)")
    imp.add_argument("--scale", choices=("difference", "ratio", "sqrt"), default="difference",
                     help="scale of PaP and LOCO (default: difference of mean squared error)")
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
    if args.data is None and args.target is not None:
        raise UsageError("--target goes with --data; the default diabetes data has target 'progression'")
    if args.data is not None and args.target is None:
        raise UsageError("--data needs --target COL naming the target column")
    if args.data not in (None, "-"):
        if not os.path.exists(args.data):
            raise UsageError(f"--data: no such file: {args.data}")
        if os.path.isdir(args.data):
            raise UsageError(f"--data: {args.data} is a folder, not a CSV file")
    methods = _methods(args)
    if not args.no_plot:
        _check_plot_path(args.plot)
    return methods


# ----------------------------------------------------------------------------------------------------
# Loading, checks that need the data, and the encoding of text and True/False columns.


def _read_csv(path):
    import pandas as pd

    source = "standard input" if path == "-" else path
    try:
        frame = pd.read_csv(sys.stdin if path == "-" else path)
    except pd.errors.EmptyDataError:
        raise UsageError(f"--data: {source} is empty (a CSV file with a header row is expected)") from None
    except OSError as exc:
        raise UsageError(f"--data: cannot read {source} ({exc.strerror or exc})") from None
    except Exception as exc:  # pandas raises many kinds of parse errors
        message = " ".join(str(exc).split())
        raise UsageError(f"--data: could not read {source} as CSV ({exc.__class__.__name__}: {message})") from None
    return frame, source


def _load(args):
    """``(X, y, source)``: the raw feature columns, the numeric target and where they came from."""
    import numpy as np

    if args.data is None:
        from sklearn.datasets import load_diabetes

        data = load_diabetes(as_frame=True)
        return data.data, data.target.rename("progression"), "scikit-learn diabetes data"
    frame, source = _read_csv(args.data)
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
    y = _check_target(frame[args.target], args.target)
    missing = [str(c) for c in X.columns if X[c].isna().any()]
    if missing:
        raise UsageError(f"--data: missing values in columns {missing[:10]}; vimp does not impute: drop or "
                         "fill them first")
    infinite = [str(c) for c in X.columns if _is_numeric(X[c]) and np.isinf(X[c].to_numpy(dtype=float)).any()]
    if infinite:
        raise UsageError(f"--data: infinite values in columns {infinite[:10]}")
    return X, y, source


def _check_target(y, name):
    """A numeric, finite, non-constant target (the models are regressors); True/False counts as 0/1."""
    import numpy as np
    import pandas as pd

    if y.isna().any():
        raise UsageError(f"--target: column {name!r} has {int(y.isna().sum())} missing values")
    if pd.api.types.is_bool_dtype(y):
        y = y.astype(float)
    if not pd.api.types.is_numeric_dtype(y):
        example = next((v for v in y if not _looks_numeric(v)), y.iloc[0])
        raise UsageError(f"--target: column {name!r} is not numeric (for example {example!r}); the models "
                         f"({', '.join(MODELS)}) are regressors")
    values = y.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise UsageError(f"--target: column {name!r} has infinite values")
    if np.ptp(values) == 0:
        raise UsageError(f"--target: column {name!r} is constant ({values[0]:g}); there is nothing to explain")
    return y.astype(float)


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


def _model(name, seed):
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    if name == "ols":
        return LinearRegression()
    if name == "rf":
        return RandomForestRegressor(n_estimators=200, min_samples_leaf=5, random_state=seed)
    return HistGradientBoostingRegressor(random_state=seed)


# ----------------------------------------------------------------------------------------------------
# Output.


def _format_table(frame, level):
    import numpy as np

    lines = []
    header = (f"{'feature':<14}{'method':<7}{'importance':>12}{'std_error':>11}"
              f"{f'{level:.0%} CI':>24}{'p-value':>11}{'p (adj.)':>11}")
    lines.append(header)
    lines.append("-" * len(header))
    features = list(dict.fromkeys(frame.index.get_level_values("feature")))
    methods = list(dict.fromkeys(frame.index.get_level_values("method")))
    for feature in features:
        for k, method in enumerate(methods):
            row = frame.loc[(method, feature)]
            ci = f"[{row.ci_low:.4g}, {row.ci_high:.4g}]" if np.isfinite(row.ci_low) else "—"
            lines.append(
                f"{(feature if k == 0 else ''):<14}{method.upper():<7}{row.importance:>12.4g}"
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


def _run_importance(args):
    from ._compare import compare

    methods = _check_arguments(args)
    raw, y, source = _load(args)
    _check_rows(args, len(raw), source)
    X, groups, n_encoded = _encode(raw)
    encoded = (f"; {n_encoded} text or True/False column{'s' if n_encoded > 1 else ''} one-hot encoded"
               if n_encoded else "")
    description = f"{source} (n={len(raw)}, p={raw.shape[1]}{encoded})"
    model = _model(args.model, args.seed)
    try:
        frame, results = compare(
            X, y, model, methods=methods, cv=args.cv, scale=args.scale, level=args.level, groups=groups,
            n_permutations=args.n_permutations, test=_tests(args, methods), random_state=args.seed,
            return_results=True,
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        records = frame.reset_index().to_dict(orient="records")
        tests = {m: {"test": r.test, "question": r.question, "target": r.target,
                     "rule": r.details.get("test_rule")} for m, r in results.items()}
        print(json.dumps({"data": description, "model": args.model, "cv": args.cv, "tests": tests,
                          "results": records}, indent=2, default=float))
    else:
        print(f"vimp {__version__}: {description}; model {args.model}; {args.cv}-fold cross-fitting; "
              f"seed {args.seed}")
        print(_format_table(frame, args.level))
        print()
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
