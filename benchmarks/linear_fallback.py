"""Max |vimp(LinearRegression()) - vimp(SklearnFitter(LinearRegression()))| on rank-deficient designs.

The exact linear fitter falls back to minimum-norm least squares where it cannot factorise (p > n,
exactly collinear columns); this prints how far its numbers are from honest scikit-learn refits.
Usage: ``python benchmarks/linear_fallback.py`` (a few seconds).
"""
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LinearRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vimp
import vimp  # noqa: E402

warnings.simplefilter("ignore", vimp.VimpWarning)
rng = np.random.default_rng(2024)

def design(kind):
    if kind == "p>n (n=30, p=40)":
        n, p = 30, 40
        X, Xe = rng.normal(size=(n, p)), rng.normal(size=(200, p))
    else:
        n, p = 100, 6
        X, Xe = rng.normal(size=(n, p)), rng.normal(size=(200, p))
        for A in (X, Xe):
            A[:, 3] = A[:, 0] - 2.0 * A[:, 1]   # exact linear combination
            A[:, 5] = A[:, 2]                   # duplicated column
    beta = rng.normal(size=p)
    return X, X @ beta + rng.normal(size=n), Xe, Xe @ beta + rng.normal(size=len(Xe))

methods = {
    "LOCO": (lambda e: vimp.LOCO(e, random_state=0), True),
    "PaP": (lambda e: vimp.PermutationImportance(e, n_permutations=5, random_state=0), True),
    "GCM": (lambda e: vimp.GCM(e, cv=5, random_state=0), False),
}
print("| design | method | max abs diff importance | std_error | p-value | per-observation terms | max abs importance |")
print("|---|---|---|---|---|---|---|")
for kind in ("p>n (n=30, p=40)", "collinear (n=100, p=6: x3 = x0 - 2 x1, x5 = x2)"):
    X, y, Xe, ye = design(kind)
    for name, (make, held_out) in methods.items():
        fast = make(LinearRegression()).fit(X, y)
        slow = make(vimp.SklearnFitter(LinearRegression())).fit(X, y)
        assert fast.fitters_[0].factorisation_ == "lstsq"
        a = fast.importance(Xe, ye) if held_out else fast.importance()
        b = slow.importance(Xe, ye) if held_out else slow.importance()
        d = lambda u, v: np.nanmax(np.abs(np.asarray(u, float) - np.asarray(v, float)))
        print(f"| {kind} | {name} | {d(a.importance, b.importance):.1e} | {d(a.std_error, b.std_error):.1e} | "
              f"{d(a.pvalue, b.pvalue):.1e} | {d(a.per_observation, b.per_observation):.1e} | "
              f"{np.max(np.abs(b.importance)):.3g} |")
