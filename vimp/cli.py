"""The ``vimp`` command.

``vimp importance`` computes importances with standard errors, intervals and p-values for every
feature of a data set (by default the diabetes data that scikit-learn ships), prints them method beside
method, and writes a plot. User mistakes end with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__

MODELS = ("ols", "rf", "gbt")


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
    imp.add_argument("--data", metavar="CSV", help="a CSV file with a header row (default: diabetes data)")
    imp.add_argument("--target", metavar="COL", help="the target column of --data (required with --data)")
    imp.add_argument("--model", choices=MODELS, default="ols",
                     help="learner: ordinary least squares, random forest or gradient boosting (default: ols)")
    imp.add_argument("--methods", default=None,
                     help="comma-separated methods among pap, loco, gcm (default: all available)")
    imp.add_argument("--cv", type=int, default=5, metavar="K",
                     help="cross-fitting folds (default: 5; at least 2)")
    imp.add_argument("--scale", choices=("difference", "ratio", "sqrt"), default="difference",
                     help="scale of PaP and LOCO (default: difference of mean squared error)")
    imp.add_argument("--n-permutations", type=int, default=5, metavar="R",
                     help="permutations per feature for PaP (default: 5)")
    imp.add_argument("--level", type=float, default=0.95, help="confidence level (default: 0.95)")
    imp.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    imp.add_argument("--plot", metavar="PATH", default="vimp_importance.png",
                     help="where to write the PNG plot (default: ./vimp_importance.png)")
    imp.add_argument("--no-plot", action="store_true", help="do not write a plot")
    imp.add_argument("--json", action="store_true", help="print the table as JSON records instead of text")
    return parser


def _available_methods():
    from ._compare import _method_classes

    return [m for m in ("pap", "loco", "gcm") if m in _method_classes()]


def _load(args):
    import pandas as pd

    if args.data is None:
        if args.target is not None:
            raise UsageError("--target goes with --data; the default diabetes data has target 'progression'")
        from sklearn.datasets import load_diabetes

        data = load_diabetes(as_frame=True)
        return data.data, data.target.rename("progression"), "scikit-learn diabetes data (n=442, p=10)"
    if args.target is None:
        raise UsageError("--data needs --target COL naming the target column")
    if not os.path.isfile(args.data):
        raise UsageError(f"--data: no such file: {args.data}")
    try:
        frame = pd.read_csv(args.data)
    except Exception as exc:  # pandas raises many kinds of parse errors
        raise UsageError(f"--data: could not read {args.data} as CSV ({exc.__class__.__name__}: {exc})") from None
    if args.target not in frame.columns:
        raise UsageError(f"--target: no column {args.target!r} in {args.data}; columns: {list(frame.columns)[:20]}")
    X = frame.drop(columns=[args.target])
    if X.shape[1] == 0:
        raise UsageError(f"--data: {args.data} has no feature columns besides the target")
    return X, frame[args.target], f"{args.data} (n={len(frame)}, p={X.shape[1]})"


def _model(name, X, seed):
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    model = {
        "ols": LinearRegression(),
        "rf": RandomForestRegressor(n_estimators=200, min_samples_leaf=5, random_state=seed),
        "gbt": HistGradientBoostingRegressor(random_state=seed),
    }[name]
    categorical = [c for c in X.columns if not _is_numeric(X[c])]
    if not categorical:
        return model
    # Select the columns to encode by dtype, not by name, so that LOCO's and GCM's refits without a
    # categorical column still find the columns they need.
    selector = make_column_selector(dtype_exclude=["number", "bool"])
    encode = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore"), selector)], remainder="passthrough"
    )
    return make_pipeline(encode, model)


def _is_numeric(column):
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _methods(args):
    available = _available_methods()
    if args.methods is None:
        return available
    methods = [m.strip().lower() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in available]
    if not methods or unknown:
        raise UsageError(f"--methods: expected a comma-separated list among {available}; got {args.methods!r}")
    return methods


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(results)
    names = next(iter(results.values())).names
    fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 0.35 * len(names) + 1.8), sharey=False)
    axes = [axes] if k == 1 else list(axes)
    for ax, (method, result), color in zip(axes, results.items(), ("C0", "C1", "C2")):
        result.plot(ax=ax, color=color)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _run_importance(args):
    from ._compare import compare

    if args.cv < 2:
        raise UsageError(f"--cv must be an integer >= 2; got {args.cv}")
    if args.n_permutations < 1:
        raise UsageError(f"--n-permutations must be >= 1; got {args.n_permutations}")
    if not 0 < args.level < 1:
        raise UsageError(f"--level must be strictly between 0 and 1; got {args.level}")
    methods = _methods(args)
    X, y, description = _load(args)
    model = _model(args.model, X, args.seed)
    try:
        frame, results = compare(
            X, y, model, methods=methods, cv=args.cv, scale=args.scale, level=args.level,
            n_permutations=args.n_permutations, random_state=args.seed, return_results=True,
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        records = frame.reset_index().to_dict(orient="records")
        print(json.dumps({"data": description, "model": args.model, "cv": args.cv, "results": records},
                         indent=2, default=float))
    else:
        print(f"vimp {__version__}: {description}; model {args.model}; {args.cv}-fold cross-fitting; "
              f"seed {args.seed}")
        print(_format_table(frame, args.level))
        print()
        for method, result in results.items():
            print(f"{method.upper()}: {result.target}; test: {result.test}")
        if "loco" in results and results["loco"].test == "split":
            print("note: LOCO's p-values come from a sample-split test, which stays valid at zero importance "
                  "but has little power with a few hundred rows; its intervals are paired, so an interval "
                  "can exclude 0 while the p-value is large.")
    if not args.no_plot:
        try:
            _plot(results, args.plot)
        except OSError as exc:
            raise UsageError(f"--plot: could not write {args.plot} ({exc.strerror or exc})") from None
        print(f"plot written to {os.path.abspath(args.plot)}", file=sys.stderr if args.json else sys.stdout)
    return 0


def main(argv=None):
    """Entry point of the ``vimp`` console script; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return _run_importance(args)
    except UsageError as exc:
        print(f"vimp: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
