"""
Collinearity: why PaP and LOCO disagree
=======================================

On the diabetes data PaP says that the serum measurements ``s1`` and ``s2`` matter a great deal, and LOCO
says the model does not need them. Both are right: they answer different questions, and collinearity
drives the answers apart. For a linear model the gap is exact: on the difference scale (increase in mean
squared error), at large :math:`n`,

.. math::

   \\mathrm{PaP}_j = 2\\beta_j^2\\,\\mathrm{Var}(x_j), \\qquad
   \\mathrm{LOCO}_j = \\beta_j^2\\,\\mathrm{Var}(x_j \\mid x_{-j}), \\qquad
   \\frac{\\mathrm{PaP}_j}{\\mathrm{LOCO}_j} = 2\\,\\mathrm{VIF}_j,

where :math:`\\mathrm{VIF}_j = \\mathrm{Var}(x_j) / \\mathrm{Var}(x_j \\mid x_{-j})` is the variance
inflation factor :cite:p:`bladen2025`. :mod:`vimp.linear` computes these closed forms; this page puts
them beside vimp's estimates.
"""

# %%
# The estimates, and the closed forms of the fitted linear model
# --------------------------------------------------------------
# We take the OLS coefficients and the covariance of the features as if they were the population's, and
# ask :func:`vimp.linear.theory` for the importances of that linear model. The estimates are cross-fitted
# (``cv=5``) on the same folds.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

import vimp
import vimp.linear as vl

pd.set_option("display.width", 130)
pd.set_option("display.max_columns", 12)

X, y = load_diabetes(return_X_y=True, as_frame=True)
ols = LinearRegression().fit(X, y)
residual_sd = float(np.std(y - ols.predict(X), ddof=X.shape[1] + 1))
truth = vl.theory(ols.coef_, np.cov(X.to_numpy(), rowvar=False), noise_sd=residual_sd,
                  feature_names=list(X.columns))

table = vimp.compare(X, y, LinearRegression(), methods=("pap", "loco"), cv=5, random_state=0)
est = table["importance"].unstack("method")
side = pd.DataFrame({
    "VIF": truth["vif"],
    "PaP closed form": truth["pap"], "PaP estimate": est["pap"],
    "LOCO closed form": truth["loco"], "LOCO estimate": est["loco"],
    "2 VIF": 2 * truth["vif"], "PaP/LOCO closed form": truth["pap"] / truth["loco"],
})
print(side.round(1))

# %%
# Read the ``s1`` row. ``s1`` is total serum cholesterol, ``s2`` LDL and ``s3`` HDL cholesterol, ``s4`` the
# ratio of total to HDL and ``s5`` the log of the triglycerides; total cholesterol is, up to a
# triglyceride term, the sum of LDL and HDL, so ``s1`` is almost a linear function of the others (VIF
# about 60). Its OLS coefficient is therefore large and poorly determined, and permuting ``s1`` alone
# moves predictions far from anything the data contain. PaP reports the damage that does to *this fitted
# model*. LOCO refits without ``s1``; ``s2``, ``s3`` and ``s5`` absorb its role and the loss hardly changes:
# the model does not *need* ``s1`` given the others.
#
# The estimates track the closed forms within a few standard errors (they are cross-fitted, so each fold's coefficients differ a
# little from the full-data ones used here), and the ratio of the closed forms is exactly :math:`2\,\mathrm{VIF}_j`.
print(table.loc["loco", ["importance", "std_error", "pvalue_adjusted"]].round(3))

# %%
# The correlations behind the VIFs:
print(X[["s1", "s2", "s3", "s4", "s5"]].corr().round(2))

# %%
# A figure: PaP against LOCO, feature by feature
# ----------------------------------------------
# On log axes the closed forms lie on the lines :math:`\mathrm{PaP} = 2\,\mathrm{VIF}\cdot\mathrm{LOCO}`;
# a feature with no correlation to the others would sit on the line PaP = 2 LOCO.
fig, ax = plt.subplots(figsize=(6.4, 4.6))
ok = (truth["loco"] > 0) & (est["loco"] > 0) & (est["pap"] > 0)
ax.scatter(truth["loco"][ok], truth["pap"][ok], marker="x", color="k", label="closed form")
ax.scatter(est["loco"][ok], est["pap"][ok], color="C0", alpha=0.8, label="estimate (cv=5)")
for name in X.columns[ok]:
    ax.annotate(f"{name} (VIF {truth.loc[name, 'vif']:.0f})", (truth.loc[name, "loco"], truth.loc[name, "pap"]),
                textcoords="offset points", xytext=(4, 4), fontsize=8)
grid = np.logspace(0, 3.7, 50)
ax.plot(grid, 2 * grid, color="0.6", lw=1, ls="--", label="PaP = 2 LOCO (VIF = 1)")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("LOCO (increase in MSE)")
ax.set_ylabel("PaP (increase in MSE)")
ax.set_title("Diabetes, OLS: PaP / LOCO = 2 VIF")
ax.legend(frameon=False, fontsize=8)
fig.tight_layout()

# %%
# A design where the truth is known
# ---------------------------------
# In the design of :cite:t:`bladen2025`, :math:`X = ZA` with :math:`A = \Delta J + (1 - \Delta) I`, every
# coefficient 1, the closed forms are exact population values. With 5000 training and 5000 evaluation rows
# the estimates should sit within about two standard errors of them.
from vimp import LOCO, PermutationImportance  # noqa: E402
from vimp.simulation import BladenDesign  # noqa: E402

design = BladenDesign(6, 0.5, noise_sd=1.0)
rng = np.random.default_rng(2025)
X_tr, y_tr = design.sample(5000, rng)
X_te, y_te = design.sample(5000, rng)
pap = PermutationImportance(LinearRegression(), random_state=1).fit(X_tr, y_tr).importance(X_te, y_te)
loco = LOCO(LinearRegression(), random_state=1).fit(X_tr, y_tr).importance(X_te, y_te)
print(pd.DataFrame({
    "PaP truth": design.truth("pap"), "PaP": pap.importance, "PaP SE": pap.std_error,
    "LOCO truth": design.truth("loco"), "LOCO": loco.importance, "LOCO SE": loco.std_error,
}, index=design.feature_names).round(3))
