"""Make the figures of the tutorials into docs/_static/ (about 20 seconds).

Run from anywhere: ``python docs/tutorials/make_figures.py``. Writes

* ``docs/_static/first_importances.png``: PaP and LOCO of a random forest on the diabetes data, with 95%
  confidence intervals (tutorial "First importances");
* ``docs/_static/linear_theory.png``: sqrt-scale PaP and LOCO of feature x0 against the Bladen et al.
  closed forms over the collinearity parameter delta (tutorial "Linear theory vs estimates").
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.ensemble import RandomForestRegressor  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import vimp.linear as vl  # noqa: E402
from vimp import LOCO, PermutationImportance  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "_static"


def first_importances():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
    forest = RandomForestRegressor(n_estimators=200, min_samples_leaf=5, random_state=0)
    pap = PermutationImportance(forest, n_permutations=20, random_state=0).fit(X_train, y_train)
    loco = LOCO(forest, random_state=0).fit(X_train, y_train)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    pap.importance(X_test, y_test).plot(ax=axes[0], color="C0")
    loco.importance(X_test, y_test).plot(ax=axes[1], color="C1")
    fig.suptitle("Random forest on the diabetes data (221 training, 221 held-out rows)")
    fig.tight_layout()
    path = STATIC / "first_importances.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def linear_theory():
    p, sigma, n = 6, 1.0, 2000
    beta = np.ones(p)
    grid = np.linspace(0.0, 0.95, 200)
    deltas = np.round(np.arange(0.0, 0.96, 0.05), 2)
    est = {"pap": [], "loco": []}
    low = {"pap": [], "loco": []}
    high = {"pap": [], "loco": []}
    for k, d in enumerate(deltas):
        A = d * np.ones((p, p)) + (1 - d) * np.eye(p)
        rng = np.random.default_rng([7, k])
        X_tr = rng.standard_normal((n, p)) @ A
        y_tr = X_tr @ beta + sigma * rng.standard_normal(n)
        X_te = rng.standard_normal((n, p)) @ A
        y_te = X_te @ beta + sigma * rng.standard_normal(n)
        for name, cls in (("pap", PermutationImportance), ("loco", LOCO)):
            res = cls(LinearRegression(), scale="sqrt", random_state=k).fit(X_tr, y_tr).importance(X_te, y_te)
            est[name].append(res.importance[0])
            low[name].append(res.ci_low[0])
            high[name].append(res.ci_high[0])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(grid, vl.bladen_pap(p, grid), color="C0", label="PaP, closed form")
    ax.plot(grid, vl.bladen_loco(p, grid), color="C1", label="LOCO, closed form")
    for name, color in (("pap", "C0"), ("loco", "C1")):
        e = np.asarray(est[name])
        ax.errorbar(deltas, e, yerr=[e - np.asarray(low[name]), np.asarray(high[name]) - e], fmt="o",
                    color=color, markersize=3.5, capsize=2, label=f"{name.upper()}, estimate with 95% CI")
    ax.set_xlabel(r"collinearity parameter $\Delta$")
    ax.set_ylabel("importance of x0 (sqrt scale)")
    ax.set_title(f"OLS, Bladen design, p = {p}, n = {n} + {n}, sigma = {sigma:g}")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    path = STATIC / "linear_theory.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    STATIC.mkdir(exist_ok=True)
    for make in (first_importances, linear_theory):
        print("wrote", make())
