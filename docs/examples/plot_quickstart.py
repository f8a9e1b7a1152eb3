"""
Quickstart: three importances of the diabetes data
===================================================

The diabetes data that scikit-learn ships: 442 patients, ten standardised baseline measurements (age,
sex, body mass index ``bmi``, mean blood pressure ``bp`` and six blood serum measurements ``s1`` to
``s6``) and a measure of disease progression one year later. We fit a linear model on half of the rows,
ask vimp how much each feature matters on the other half, and read the answer: an estimate, a
standard error, an interval, a p-value adjusted for testing ten features, and the question that p-value
answers.
"""

# %%
# Data and a held-out half
# ------------------------
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

import vimp
from vimp import GCM, LOCO, PermutationImportance

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)

X, y = load_diabetes(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
print(X.shape, X_train.shape, X_test.shape, "vimp", vimp.__version__)

# %%
# LOCO: does the model need the feature?
# --------------------------------------
# :class:`~vimp.LOCO` refits the learner without each feature and compares held-out squared errors.
# ``fit`` takes the training rows, ``importance`` the held-out rows, and the result prints as a table
# with the estimand and the test in words.
loco = LOCO(LinearRegression(), random_state=0).fit(X_train, y_train)
result = loco.importance(X_test, y_test)
print(result.summary())

# %%
# Importances are increases in mean squared error (the outcome's variance is about 5900). ``result.test``
# names the test the default chose (the perturbed paired test, for a linear model) and
# ``result.question`` what its p-values answer:
print(result.test, "--", result.question)
names = pd.Index(result.names)
print("unadjusted p < 0.05:", list(names[result.pvalue < 0.05]))
print("Holm-adjusted p < 0.05:", list(names[result.pvalue_adjusted < 0.05]))

# %%
# With 221 held-out rows and ten features tested together, the evidence is thin: ``bmi`` has by far the
# largest estimate, yet its interval is wide and after Holm's correction for ten tests it is not
# significant. This is not a failure of the method; half of 442 rows is little data. The user guide's
# *When nothing is significant* lists what helps; two of its remedies follow: evaluate every row by
# cross-fitting, and use GCM, whose test is more efficient for a linear effect.
#
# The same table as a DataFrame, for your own code:
cols = ["importance", "std_error", "ci_low", "ci_high", "pvalue", "pvalue_adjusted"]
print(result.to_frame()[cols].round(3))

# %%
# PaP and GCM on the same folds
# -----------------------------
# :func:`vimp.compare` runs several measures with 5-fold cross-fitting (every row is evaluated once, by a
# model that did not see it) on the same folds and full models. PaP is on the loss scale like LOCO; GCM is
# a covariance, on the scale of :math:`x_j \times y`, so compare its p-values, not its size.
table = vimp.compare(X, y, LinearRegression(), methods=("pap", "loco", "gcm"), cv=5, random_state=0)
print(table["importance"].unstack("method")[["pap", "loco", "gcm"]].round(1))
print(table["pvalue_adjusted"].unstack("method")[["pap", "loco", "gcm"]].round(4))

# %%
# PaP is large for ``s1`` and ``s2`` although LOCO says the model does not need them: permuting one of two
# strongly correlated columns asks the model to predict at combinations that never occur, and the
# fitted model's large, opposite coefficients make that expensive. The
# :ref:`collinearity example <sphx_glr_auto_examples_plot_collinearity.py>` works this out exactly.
#
# A figure
# --------
# ``result.plot()`` draws the estimates with their confidence intervals.
pap = PermutationImportance(LinearRegression(), n_permutations=20, random_state=0).fit(X_train, y_train)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
pap.importance(X_test, y_test).plot(ax=axes[0], color="C0")
result.plot(ax=axes[1], color="C1")
axes[0].set_title("PaP (this fitted model)")
axes[1].set_title("LOCO (refit without the feature)")
fig.tight_layout()

# %%
# GCM by itself
# -------------
# :class:`~vimp.GCM` tests conditional independence of each feature and the outcome given the others,
# from cross-fitted residuals of two regressions. Its nuisance check compares every regression with a
# mean and an OLS baseline; with OLS as the learner it has nothing to say.
gcm = GCM(LinearRegression(), cv=5, random_state=0).fit(X, y)
print(gcm.importance().to_frame()[["importance", "std_error", "pvalue_adjusted"]].round(4))
