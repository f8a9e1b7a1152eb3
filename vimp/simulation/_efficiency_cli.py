"""``vimp efficiency``: the relative efficiency of GCM and LOCO for a built-in DGP, on the command line.

``add_efficiency_parser(subparsers)`` adds the sub-command to ``vimp``'s parser and
``run_efficiency(args)`` runs it: it prints the setting, the theory and the Monte Carlo relative
efficiency with its bootstrap interval, and each method's mean, variance and CV², and writes a plot with
``--plot``. Bad input: one line on stderr (``vimp: error: ...``), exit code 2.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from ._efficiency import LOCO_TESTS, SCALES, relative_efficiency

DGPS = ("linear", "additive", "single-index")

EXIT_OK = 0
EXIT_USAGE = 2


def _linear(x):
    return np.asarray(x, dtype=float)


def _square(x):
    return np.asarray(x, dtype=float) ** 2


def _cube(x):
    return np.asarray(x, dtype=float) ** 3


def _relu(x):
    return np.maximum(np.asarray(x, dtype=float), 0.0)


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


#: The functions ``--functions`` (additive components) and ``--link`` (single-index) may name.
FUNCTIONS = {"sin": np.sin, "cos": np.cos, "tanh": np.tanh, "linear": _linear, "square": _square,
             "cube": _cube, "abs": np.abs, "relu": _relu, "logistic": _logistic}

#: Defaults per DGP: the settings of the targets of issue 13.
_DEFAULTS = {
    "linear": {"beta": "0.5,1,1,1,1", "rho": 0.5, "noise_sd": 1.0},
    "additive": {"beta": "1", "rho": 0.0, "noise_sd": 1.0, "functions": "sin,linear"},
    "single-index": {"beta": "0.5,1,1", "noise_sd": 0.5, "link": "tanh"},
}


# ------------------------------------------------------------------------------- the DGP classes
class _StandInDGP:
    """Gaussian features of mean zero with covariance ``cov``, ``y = regression_function(X) + noise``.

    A minimal stand-in for the classes of :mod:`vimp.simulation._dgp` (same constructor signatures and
    attributes) used while that module is not on this branch; :func:`dgp_classes` prefers the real ones.
    """

    def __init__(self, cov, noise_sd):
        self.cov = np.asarray(cov, dtype=float)
        self.p = self.cov.shape[0]
        self.noise_sd = float(noise_sd)
        self.feature_names = [f"x{k}" for k in range(self.p)]
        self._root = np.linalg.cholesky(self.cov)

    def sample(self, n, rng):
        X = rng.standard_normal((n, self.p)) @ self._root.T
        return X, self.regression_function(X) + self.noise_sd * rng.standard_normal(n)


class _StandInEquicorrelatedLinear(_StandInDGP):
    def __init__(self, p, rho, beta, noise_sd=1.0):
        super().__init__((1 - rho) * np.eye(p) + rho * np.ones((p, p)), noise_sd)
        self.beta = np.broadcast_to(np.asarray(beta, dtype=float), (p,)).copy()

    def regression_function(self, X):
        return X @ self.beta


class _StandInAdditive(_StandInDGP):
    def __init__(self, functions, noise_sd=1.0, cov=None):
        self.functions = list(functions)
        super().__init__(np.eye(len(self.functions)) if cov is None else cov, noise_sd)

    def regression_function(self, X):
        return sum(np.asarray(f(X[:, k]), dtype=float) for k, f in enumerate(self.functions))


class _StandInSingleIndex(_StandInDGP):
    def __init__(self, link, b, noise_sd=1.0):
        self.link = link
        self.b = np.asarray(b, dtype=float)
        super().__init__(np.eye(self.b.size), noise_sd)

    def regression_function(self, X):
        return self.link(X @ self.b)


def dgp_classes():
    """``(EquicorrelatedLinear, Additive, SingleIndex)`` of :mod:`vimp.simulation`, or stand-ins with the
    same signatures while that module is not available."""
    try:
        from ._dgp import Additive, EquicorrelatedLinear, SingleIndex
    except ImportError:
        return _StandInEquicorrelatedLinear, _StandInAdditive, _StandInSingleIndex
    return EquicorrelatedLinear, Additive, SingleIndex


# ------------------------------------------------------------------------------------------ parser
def add_efficiency_parser(subparsers):
    """Add ``vimp efficiency`` to ``subparsers`` (from ``ArgumentParser.add_subparsers``); returns it."""
    parser = subparsers.add_parser(
        "efficiency",
        help="relative efficiency of GCM and LOCO for a built-in model, in theory and by Monte Carlo",
        description=(
            "The relative efficiency of GCM against LOCO (CV^2 of LOCO over CV^2 of GCM) for one feature of "
            "a linear, additive or single-index model with Gaussian features, in theory (closed form or "
            "quadrature) and by a Monte Carlo with the true regression functions, with a 95%% bootstrap "
            "interval (Zheng & Raskutti, 2025). Defaults reproduce the settings of the documented targets: "
            "linear p = 5, rho = 0.5, beta = (0.5, 1, 1, 1, 1); additive y = sin x0 + x1 + eps; "
            "single-index y = tanh(0.5 x0 + x1 + x2) + eps with noise sd 0.5."
        ),
    )
    parser.add_argument("--dgp", choices=DGPS, required=True, help="the model")
    parser.add_argument("--p", type=int, default=None,
                        help="number of features (default: the length of --beta or --functions)")
    parser.add_argument("--rho", type=float, default=None,
                        help="equicorrelation of the features, linear and additive (default: 0.5 linear, "
                             "0 additive)")
    parser.add_argument("--beta", default=None, metavar="B1,B2,...",
                        help="comma-separated coefficients (one value is repeated --p times): linear beta, "
                             "additive multipliers of the functions, single-index index b")
    parser.add_argument("--functions", default=None, metavar="F1,F2,...",
                        help=f"additive components among {', '.join(FUNCTIONS)} (default: sin, then linear)")
    parser.add_argument("--link", default=None, choices=tuple(FUNCTIONS),
                        help="single-index link (default: tanh)")
    parser.add_argument("--noise-sd", type=float, default=None,
                        help="noise standard deviation (default: 1; 0.5 for single-index)")
    parser.add_argument("--feature", type=int, default=0, help="position of the feature, from 0 (default: 0)")
    parser.add_argument("--n", type=int, default=1000, help="rows per replicate (default: 1000)")
    parser.add_argument("--reps", type=int, default=1000, help="Monte Carlo replicates (default: 1000)")
    parser.add_argument("--scale", choices=SCALES, default="native",
                        help="native (the paper's), matched (GCM on LOCO's scale) or testing "
                             "(squared noncentralities of the tests) (default: native)")
    parser.add_argument("--loco-test", choices=LOCO_TESTS, default="split",
                        help="LOCO's test with --scale testing (default: split, vimp's default)")
    parser.add_argument("--plot", metavar="PATH", default=None, help="write a plot to PATH (.png, .pdf, ...)")
    parser.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default: 0)")
    return parser


class _BadInput(Exception):
    pass


def _numbers(text, name):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise _BadInput(f"--{name}: expected comma-separated numbers; got {text!r}") from None
    if not values or not np.all(np.isfinite(values)):
        raise _BadInput(f"--{name}: expected comma-separated finite numbers; got {text!r}")
    return values


def _sized(values, p, name):
    if p is None:
        return values
    if len(values) == 1:
        return values * p
    if len(values) != p:
        raise _BadInput(f"--{name} has {len(values)} values but --p is {p}")
    return values


def _scaled(f, c):
    if c == 1.0:
        return f

    def scaled(x):
        return c * f(x)
    return scaled


def build_dgp(args):
    """The DGP that the arguments describe (raises ``_BadInput`` with a one-line message)."""
    EquicorrelatedLinear, Additive, SingleIndex = dgp_classes()
    defaults = _DEFAULTS[args.dgp]
    if args.p is not None and args.p < 1:
        raise _BadInput(f"--p must be an integer >= 1; got {args.p}")
    noise_sd = defaults["noise_sd"] if args.noise_sd is None else args.noise_sd
    if not (np.isfinite(noise_sd) and noise_sd > 0):
        raise _BadInput(f"--noise-sd must be a positive number; got {noise_sd}")
    if args.dgp != "additive" and args.functions is not None:
        raise _BadInput("--functions goes with --dgp additive")
    if args.dgp != "single-index" and args.link is not None:
        raise _BadInput("--link goes with --dgp single-index")
    if args.dgp == "single-index" and args.rho is not None:
        raise _BadInput("--rho does not apply to --dgp single-index (its features are independent)")
    if args.dgp == "additive":
        names = (defaults["functions"] if args.functions is None else args.functions).split(",")
        names = [s.strip().lower() for s in names if s.strip()]
        unknown = [s for s in names if s not in FUNCTIONS]
        if not names or unknown:
            raise _BadInput(f"--functions: expected names among {list(FUNCTIONS)}; got {args.functions!r}")
        if args.functions is None and args.p is not None:
            names = ["sin"] + ["linear"] * (args.p - 1)
        names = _sized(names, args.p, "functions")
        p = len(names)
        beta = _sized(_numbers(defaults["beta"] if args.beta is None else args.beta, "beta"), p, "beta")
    else:
        beta = _numbers(defaults["beta"] if args.beta is None else args.beta, "beta")
        beta = _sized(beta, args.p, "beta")
        p = len(beta)
    if not 0 <= args.feature < p:
        raise _BadInput(f"--feature must be a position in 0..{p - 1}; got {args.feature}")
    if args.dgp == "single-index":
        return SingleIndex(link=FUNCTIONS[args.link or defaults["link"]], b=np.array(beta), noise_sd=noise_sd)
    rho = defaults["rho"] if args.rho is None else args.rho
    if p > 1 and not -1.0 / (p - 1) < rho < 1:
        raise _BadInput(f"--rho must lie strictly between -1/(p - 1) = {-1 / (p - 1):.4g} and 1 for a "
                        f"positive definite equicorrelation; got {rho}")
    if args.dgp == "linear":
        return EquicorrelatedLinear(p=p, rho=rho, beta=np.array(beta), noise_sd=noise_sd)
    cov = None if rho == 0 else (1 - rho) * np.eye(p) + rho * np.ones((p, p))
    functions = [_scaled(FUNCTIONS[name], c) for name, c in zip(names, beta)]
    return Additive(functions=functions, noise_sd=noise_sd, cov=cov)


def _describe(args, dgp):
    if args.dgp == "linear":
        return (f"linear, p = {len(dgp.beta)}, rho = {args.rho if args.rho is not None else 0.5}, "
                f"beta = ({', '.join(f'{b:g}' for b in dgp.beta)}), noise sd {dgp.noise_sd:g}")
    if args.dgp == "additive":
        return f"additive, p = {len(dgp.functions)}, noise sd {dgp.noise_sd:g}"
    return (f"single-index, link {args.link or 'tanh'}, b = ({', '.join(f'{b:g}' for b in dgp.b)}), "
            f"noise sd {dgp.noise_sd:g}")


def _error(message):
    with contextlib.suppress(OSError, ValueError):
        print("vimp: error: " + " ".join(str(message).split()), file=sys.stderr)
    return EXIT_USAGE


def run_efficiency(args):
    """Run ``vimp efficiency`` with parsed ``args``; returns the exit code (2 for bad input)."""
    from ..cli import UsageError, _check_plot_path

    try:
        if args.n < 4:
            raise _BadInput(f"--n must be an integer >= 4; got {args.n}")
        if args.reps < 10:
            raise _BadInput(f"--reps must be an integer >= 10; got {args.reps}")
        if args.seed < 0:
            raise _BadInput(f"--seed must be an integer >= 0; got {args.seed}")
        if args.plot is not None:
            _check_plot_path(args.plot)
        dgp = build_dgp(args)
        result = relative_efficiency(dgp, args.feature, n=args.n, reps=args.reps, scale=args.scale,
                                     random_state=args.seed, loco_test=args.loco_test)
    except (_BadInput, UsageError, ValueError, TypeError) as exc:
        return _error(exc)
    print(result.summary().replace(result.dgp, _describe(args, dgp), 1))
    print()
    frame = result.to_frame()
    print(frame.drop(columns="estimand").to_string(float_format=lambda v: f"{v:.5g}"))
    print()
    for method, text in frame["estimand"].items():
        print(f"{method}: {text}")
    if args.plot is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 4))
        FigureCanvasAgg(fig)
        result.plot(ax=fig.subplots())
        fig.tight_layout()
        try:
            fig.savefig(args.plot, dpi=120)
        except (OSError, ValueError, RuntimeError) as exc:
            return _error(f"--plot: could not write {args.plot} ({exc})")
        print(f"plot written to {os.path.abspath(args.plot)}")
    return EXIT_OK
