"""
Reproducing Bladen et al.'s collinearity figure (quick grid)
============================================================

:cite:t:`bladen2025` show how collinearity pulls permute-and-predict and LOCO apart: as the features
become more correlated, PaP of a feature *grows* and LOCO *shrinks*, and for OLS both follow closed
forms. Their design: :math:`Z` an :math:`n \\times p` standard normal matrix,
:math:`X = ZA` with :math:`A = \\Delta J + (1 - \\Delta) I`, :math:`y = X\\mathbf{1} + \\varepsilon` with
:math:`\\varepsilon \\sim N(0, 0.01^2)`, an independent validation set of the same size, one permutation,
importances on the square-root scale :math:`\\sqrt{\\max(\\text{loss increase}, 0)}`, and their LOCO
variant that refits with the *training* column permuted. :class:`vimp.simulation.BladenDesign` and
:func:`vimp.simulation.monte_carlo` run exactly that; this page runs a quick grid (the paper uses
:math:`\\Delta \\in \\{0, 0.11, \\dots, 0.99\\}`, :math:`n` from 20 to 2000, :math:`p \\in \\{3, 6, 9, 12\\}`
and 100 replicates).
"""

# %%
# The estimators as in the paper
# ------------------------------
# ``permutation="uniform"`` (the paper permutes with R's ``sample()``, which may leave a row in place;
# vimp's default is a derangement), ``scale="sqrt"``, and for LOCO ``refit="permute"``.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

import vimp.linear as vl
from vimp import LOCO, PermutationImportance
from vimp.simulation import BladenDesign, monte_carlo

estimators = {
    "PaP": PermutationImportance(LinearRegression(), scale="sqrt", permutation="uniform"),
    "LOCO": LOCO(LinearRegression(), refit="permute", scale="sqrt"),
}
deltas = [0.0, 0.22, 0.44, 0.66, 0.88, 0.99]
sizes = [63, 632]
ps = [3, 6]
reps = 50

rows = []
for p in ps:
    for n in sizes:
        for k, delta in enumerate(deltas):
            table = monte_carlo(BladenDesign(p, delta), estimators, n=n, reps=reps, features=["x0"],
                                validation="independent", random_state=1000 * p + 10 * n + k)
            summary = table.groupby("estimator")["importance"].agg(["mean", "std"])
            for name in estimators:
                rows.append({"p": p, "n": n, "delta": delta, "estimator": name,
                             "mean": summary.loc[name, "mean"],
                             "mc_se": summary.loc[name, "std"] / np.sqrt(reps)})
results = pd.DataFrame(rows)
print(results.pivot_table(index=["p", "n", "delta"], columns="estimator", values="mean").round(3))

# %%
# The figure
# ----------
# Lines: the closed forms (solid) and the authors' finite-sample adjustments at each :math:`n` (dashed,
# :func:`vimp.linear.adjust_pap`, :func:`vimp.linear.adjust_loco`); points: the Monte Carlo means with two
# Monte Carlo standard errors.
grid = np.linspace(0, 0.99, 200)
fig, axes = plt.subplots(1, len(ps), figsize=(10, 4.2), sharey=True)
for ax, p in zip(axes, ps):
    ax.plot(grid, vl.bladen_pap(p, grid), color="C0", label="PaP, closed form")
    ax.plot(grid, vl.bladen_loco(p, grid), color="C1", label="LOCO, closed form")
    for n, marker in zip(sizes, ("o", "s")):
        ax.plot(grid, vl.adjust_pap(vl.bladen_pap(p, grid), n), color="C0", ls="--", lw=0.8)
        ax.plot(grid, vl.adjust_loco(vl.bladen_loco(p, grid), n, p), color="C1", ls="--", lw=0.8)
        for name, color in (("PaP", "C0"), ("LOCO", "C1")):
            part = results[(results.p == p) & (results.n == n) & (results.estimator == name)]
            ax.errorbar(part["delta"], part["mean"], yerr=2 * part["mc_se"], fmt=marker, color=color,
                        markersize=4, capsize=2, mfc="white" if n == sizes[0] else color,
                        label=f"{name}, n = {n}")
    ax.set_title(f"OLS, p = {p}, {reps} replicates a point")
    ax.set_xlabel(r"collinearity $\Delta$")
axes[0].set_ylabel("importance of x0 (sqrt scale)")
axes[-1].legend(frameon=False, fontsize=7, loc="upper left")
fig.tight_layout()

# %%
# PaP rises with :math:`\Delta` as :math:`\sqrt{2(1 + (p - 1)\Delta^2)}` and LOCO falls to zero; at
# :math:`n = 63` the small-sample factors show (LOCO above its closed form, by about
# :math:`\sqrt{n/(n - p)}`). These OLS runs take vimp's fast path for linear designs (the same numbers as
# the estimators, batched over replicates), so the whole grid takes seconds. For the paper's random forest
# panels, pass ``RandomForestRegressor(n_estimators=500, min_samples_leaf=5, max_features=...)`` in the
# two estimators: the same call, hours instead of seconds, best run on a cluster with ``scheduler=``
# and ``store=`` (the :ref:`dask example <sphx_glr_auto_examples_plot_dask_resume.py>`).
