"""``vimp simulate``: a Monte Carlo study of a built-in data-generating process from the command line.

Registered by :mod:`vimp.cli` through :func:`add_simulate_parser`; :func:`run_simulate` runs it. Mistakes
in the command line are found before any work and reported as :class:`vimp.cli.UsageError` (one line on
stderr, exit code 2).
"""

from __future__ import annotations

import os

DGPS = ("bladen", "equicorrelated", "additive", "single-index")
METHODS = ("pap", "loco", "gcm")
MODELS = ("ols", "rf")
#: Default noise standard deviation of each process (Bladen et al. use 0.01).
DEFAULT_NOISE = {"bladen": 0.01, "equicorrelated": 1.0, "additive": 1.0, "single-index": 0.5}


def add_simulate_parser(sub):
    """Add the ``simulate`` subcommand to the subparsers ``sub`` of the ``vimp`` command."""
    sim = sub.add_parser(
        "simulate",
        help="a Monte Carlo study: importances over many simulated data sets, beside their population values",
        description=(
            "Draw --reps data sets from a data-generating process, compute PaP, LOCO and/or GCM importances "
            "on each, and print per method and feature the mean importance, its Monte Carlo standard error, "
            "the population value (truth), the spread over replicates and the mean reported standard error. "
            "Processes: bladen (X = ZA, A = delta J + (1 - delta) I, y = X beta + eps; Bladen, Cutler & "
            "Wisler 2025), equicorrelated (unit variances, correlation rho), additive (y = sin x0 + x1 + ... "
            "+ eps, independent features), single-index (y = tanh(0.5 x0 + x1 + ...) + eps)."
        ),
    )
    sim.add_argument("--dgp", choices=DGPS, default="bladen", help="data-generating process (default: bladen)")
    sim.add_argument("--p", type=int, default=6, help="number of features, >= 2 (default: 6)")
    sim.add_argument("--delta", type=float, default=None,
                     help="bladen: mixing parameter in [0, 1) (default: 0.5)")
    sim.add_argument("--rho", type=float, default=None,
                     help="equicorrelated: correlation in (-1/(p-1), 1) (default: 0.5)")
    sim.add_argument("--beta", type=float, default=1.0,
                     help="bladen, equicorrelated: the coefficient of every feature (default: 1)")
    sim.add_argument("--noise-sd", type=float, default=None,
                     help="noise standard deviation, > 0 (default: 0.01 for bladen, 0.5 for single-index, else 1)")
    sim.add_argument("--n", type=int, default=200, help="rows per data set (default: 200)")
    sim.add_argument("--reps", type=int, default=100, help="replicates, >= 1 (default: 100)")
    sim.add_argument("--methods", default="pap,loco", help="comma-separated among pap, loco, gcm (default: pap,loco)")
    sim.add_argument("--model", choices=MODELS, default="ols",
                     help="learner: ordinary least squares or a random forest (default: ols)")
    sim.add_argument("--scale", choices=("difference", "ratio", "sqrt"), default="difference",
                     help="scale of PaP and LOCO (default: difference of mean squared error); GCM: covariance")
    sim.add_argument("--validation", choices=("independent", "holdout", "cv"), default="independent",
                     help="independent evaluation set of n rows (default, Bladen et al.'s design), a holdout "
                          "half, or 5-fold cross-fitting")
    sim.add_argument("--features", default=None,
                     help="comma-separated features to measure, e.g. x0,x2 (default: all)")
    sim.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default: 0)")
    sim.add_argument("--n-jobs", type=int, default=None, metavar="K", help="local worker processes (default: 1)")
    sim.add_argument("--scheduler", metavar="ADDRESS", default=None,
                     help="run on a dask.distributed scheduler, e.g. tcp://host:8786")
    sim.add_argument("--store", metavar="FILE", default=None,
                     help="SQLite file that keeps every finished chunk (resume with --resume)")
    sim.add_argument("--resume", action="store_true", help="continue the simulation in --store")
    sim.add_argument("--chunk-size", type=int, default=None, metavar="R", help="replicates per task")
    sim.add_argument("--plot", metavar="PATH", default=None,
                     help="write a figure of the importances against their truths (.png, .pdf, .svg, ...)")
    sim.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    sim.set_defaults(simulate_parser=sim)
    return sim


def _usage_error(args):
    """The running ``vimp.cli``'s UsageError (under ``python -m vimp.cli`` that module is ``__main__``, so
    it is raised through the subcommand's own parser, never imported)."""
    parser = args.simulate_parser

    def raise_usage(message):
        parser.error(message)  # vimp.cli's parser class raises its UsageError
        raise AssertionError("unreachable")  # pragma: no cover

    return raise_usage


def _check(args):
    """Every check that needs no simulation; returns (dgp, estimators, features)."""
    fail = _usage_error(args)
    if args.p < 2:
        fail(f"--p must be an integer >= 2; got {args.p}")
    if args.reps < 1:
        fail(f"--reps must be an integer >= 1; got {args.reps}")
    if args.n < 1:
        fail(f"--n must be an integer >= 1; got {args.n}")
    if args.seed < 0:
        fail(f"--seed must be an integer >= 0; got {args.seed}")
    if args.n_jobs is not None and args.n_jobs == 0:
        fail("--n-jobs must be a positive integer (or -1: all cores); got 0")
    if args.chunk_size is not None and args.chunk_size < 1:
        fail(f"--chunk-size must be an integer >= 1; got {args.chunk_size}")
    if args.resume and args.store is None:
        fail("--resume needs --store FILE (the store to resume)")
    if args.n_jobs not in (None, 1) and args.scheduler is not None:
        fail("--n-jobs and --scheduler exclude each other: the scheduler's workers are the jobs")
    if args.delta is not None and args.dgp != "bladen":
        fail(f"--delta applies to --dgp bladen, not {args.dgp}")
    if args.rho is not None and args.dgp != "equicorrelated":
        fail(f"--rho applies to --dgp equicorrelated, not {args.dgp}")
    methods = [m.strip().lower() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if not methods or unknown:
        fail(f"--methods: expected a comma-separated list among {list(METHODS)}; got {args.methods!r}")
    if len(set(methods)) != len(methods):
        fail(f"--methods: a method is named twice in {args.methods!r}")
    if args.plot is not None:
        from .. import cli

        try:
            cli._check_plot_path(args.plot)
        except cli.UsageError as exc:  # the imported module's class: passed on as the running one's
            fail(str(exc))
    dgp = _dgp(args)
    features = None
    if args.features is not None:
        features = [f.strip() for f in args.features.split(",") if f.strip()]
        bad = [f for f in features if f not in dgp.feature_names]
        if not features or bad:
            fail(f"--features: expected names among x0..x{dgp.p - 1}; got {args.features!r}")
    return dgp, _estimators(args, methods), features


def _dgp(args):
    import numpy as np

    from . import Additive, BladenDesign, EquicorrelatedLinear, SingleIndex

    fail = _usage_error(args)
    noise = DEFAULT_NOISE[args.dgp] if args.noise_sd is None else args.noise_sd
    try:
        if args.dgp == "bladen":
            return BladenDesign(args.p, 0.5 if args.delta is None else args.delta, beta=args.beta, noise_sd=noise)
        if args.dgp == "equicorrelated":
            return EquicorrelatedLinear(args.p, 0.5 if args.rho is None else args.rho, args.beta, noise_sd=noise)
        if args.dgp == "additive":
            return Additive([np.sin] + [_identity] * (args.p - 1), noise_sd=noise)
        return SingleIndex(np.tanh, [0.5] + [1.0] * (args.p - 1), noise_sd=noise)
    except (ValueError, TypeError) as exc:
        option = {"delta": "--delta", "rho": "--rho", "noise_sd": "--noise-sd", "beta": "--beta"}
        name = next((v for k, v in option.items() if str(exc).startswith(k)), f"--dgp {args.dgp}")
        fail(f"{name}: {exc}")


def _identity(x):
    return x


def _estimators(args, methods):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    from .. import GCM, LOCO, PermutationImportance

    if args.model == "ols":
        learner = LinearRegression()
    else:
        learner = RandomForestRegressor(n_estimators=100, min_samples_leaf=5)
    make = {"pap": lambda: PermutationImportance(learner, scale=args.scale),
            "loco": lambda: LOCO(learner, scale=args.scale),
            "gcm": lambda: GCM(learner)}
    return {m: make[m]() for m in methods}


def _plot(table, dgp, path):
    """One panel per estimator: box plots of the importances per feature, the population value as a cross."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(table["estimator"]))
    n_features = table["feature"].nunique()
    fig, axes = plt.subplots(1, len(names), figsize=(len(names) * max(3.0, 0.5 * n_features + 1.5), 3.8),
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        groups = list(table[table["estimator"] == name].groupby("feature", sort=False))
        positions = list(range(1, len(groups) + 1))
        ax.boxplot([g["importance"].to_numpy() for _, g in groups], showfliers=False)
        ax.scatter(positions, [g["truth"].iloc[0] for _, g in groups], marker="x", color="C3", zorder=3,
                   label="population value")
        ax.set_xticks(positions)
        ax.set_xticklabels([f for f, _ in groups], fontsize=8)
        ax.set_title(name.upper(), fontsize=9)
    axes[0][0].set_ylabel("importance")
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(f"{dgp!r}"[:100], fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_simulate(args):
    """Run ``vimp simulate``; returns the exit code (0)."""
    from .. import __version__
    from . import monte_carlo, monte_carlo_summary

    fail = _usage_error(args)
    dgp, estimators, features = _check(args)
    try:
        table = monte_carlo(dgp, estimators, n=args.n, reps=args.reps, validation=args.validation,
                            features=features, random_state=args.seed, n_jobs=args.n_jobs, store=args.store,
                            resume=args.resume, progress=args.progress, chunk_size=args.chunk_size,
                            scheduler=args.scheduler)
    except (ValueError, TypeError, ConnectionError, ImportError) as exc:
        fail(str(exc))
    summary = monte_carlo_summary(table)
    print(f"vimp {__version__}: {dgp!r}; n={args.n}, {args.reps} replicates, model {args.model}, "
          f"validation {args.validation}, seed {args.seed}")
    print(summary.to_string(float_format=lambda v: f"{v:.4g}"))
    print("mean: mean importance over replicates; mc_se: its Monte Carlo standard error; truth: population "
          "value; bias_z: (mean - truth) / mc_se; sd: spread over replicates; mean_se: mean reported "
          "standard error")
    if args.plot is not None:
        try:
            _plot(table, dgp, args.plot)
        except (OSError, ValueError, RuntimeError) as exc:
            fail(f"--plot: could not write {args.plot} ({exc})")
        print(f"plot written to {os.path.abspath(args.plot)}")
    return 0
