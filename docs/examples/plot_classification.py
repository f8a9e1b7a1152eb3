"""
Classification: log-loss, accuracy, AUC and groups (breast cancer)
==================================================================

The breast cancer data of scikit-learn: 569 tumours, 30 features, a benign/malignant label. The 30
features are ten measurements of the cell nuclei (radius, texture, perimeter, area, ...), each given
three times: its mean, its standard error and its worst value. Many are near copies of each other
(radius, perimeter and area above all), which makes this the standard example of a data set where
single-feature LOCO and GCM find almost nothing, and the fix is to ask about *groups*.
"""

# %%
# A classifier, scored by log-loss
# --------------------------------
# For a classifier vimp's default loss is the log-loss (it needs ``predict_proba``); ``loss="zero_one"``
# scores hard predictions (one minus accuracy). Everything else is as for regression.
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vimp import LOCO, PermutationImportance

pd.set_option("display.width", 120)

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
print(X.shape, "malignant share:", round(float(1 - y.mean()), 3))

loco = LOCO(model, cv=5, random_state=0).fit(X, y)
single = loco.importance()
print(single.test, "--", single.question)
print(single.to_frame()[["importance", "std_error", "pvalue_adjusted"]].sort_values("importance").tail(8)
      .round(4))
print("features significant after Holm:", int((single.pvalue_adjusted < 0.05).sum()), "of", X.shape[1])

# %%
# Refitting without any single feature barely changes the log-loss: whatever one column says, another
# says too. This is a true answer to the question LOCO asks ("is this feature needed *given all the
# others*?"), not evidence that the tumour's size does not matter.
#
# Groups: one question per measurement family
# -------------------------------------------
# ``groups`` maps a name to the columns that are removed (or permuted) together. Here: the nine size
# columns, the nine shape columns, and one group per remaining measurement.
families = {
    "size": ["radius", "perimeter", "area"],
    "shape": ["compactness", "concavity", "concave points"],
    "texture": ["texture"],
    "smoothness": ["smoothness"],
    "symmetry": ["symmetry"],
    "fractal dimension": ["fractal dimension"],
}


def measurement(column):
    """'mean radius', 'radius error', 'worst radius' -> 'radius'."""
    return column.removeprefix("mean ").removeprefix("worst ").removesuffix(" error")


groups = {name: [c for c in X.columns if measurement(c) in members] for name, members in families.items()}
assert sorted(sum(groups.values(), [])) == sorted(X.columns)  # every column in exactly one group
print({name: len(cols) for name, cols in groups.items()})

by_group = LOCO(model, cv=5, groups=groups, random_state=0).fit(X, y).importance()
print(by_group.to_frame()[["importance", "std_error", "ci_low", "ci_high", "pvalue_adjusted"]].round(4))

# %%
# Asked about groups, LOCO finds what single features hid: without the size family the refitted model's
# log-loss rises clearly (an interval well away from zero), and texture, which no other family duplicates,
# matters too. Groups trade resolution for power: the answer is "the size measurements matter", not which
# of them.
#
# Accuracy instead of log-loss
# ----------------------------
# ``loss="zero_one"`` asks how many more tumours are misclassified. It is coarser (a row's loss is 0 or
# 1), so its tests have less power than the log-loss's.
zero_one = LOCO(model, cv=5, groups=groups, loss="zero_one", random_state=0).fit(X, y).importance()
print(zero_one.to_frame()[["importance", "std_error", "pvalue_adjusted"]].round(4))

# %%
# Sample weights
# --------------
# ``fit(X, y, sample_weight=w)`` passes the weights to the learner's ``fit`` (a pipeline: its last step)
# and uses them in every loss average and standard error. Here "balanced" weights give the two classes
# equal total weight, so the importances are about a population with as many malignant as benign tumours.
from sklearn.utils.class_weight import compute_sample_weight  # noqa: E402

weights = compute_sample_weight("balanced", y)
weighted = LOCO(model, cv=5, groups=groups, random_state=0).fit(X, y, sample_weight=weights).importance()
print(weighted.to_frame()[["importance", "std_error", "pvalue_adjusted"]].round(4))

# %%
# And the AUC?
# ------------
# vimp's importances are means of per-row losses, which is what their standard errors are built from.
# The AUC is not a mean over rows (it compares pairs of rows), so vimp has no ``loss="auc"``. The AUC of
# the cross-fitted model is still a useful description of how good the model is; scikit-learn computes it:
proba = cross_val_predict(model, X, y, cv=5, method="predict_proba")[:, 1]
print("cross-fitted AUC, all features:", round(roc_auc_score(y, proba), 4))
for name in ("size", "shape"):
    rest = X.drop(columns=groups[name])
    p = cross_val_predict(model, rest, y, cv=5, method="predict_proba")[:, 1]
    print(f"cross-fitted AUC without {name}:", round(roc_auc_score(y, p), 4))

# %%
# These AUCs come without standard errors or tests; for inference use the log-loss or the zero-one loss
# above.
#
# A model that is already fitted: ``prefit=True``
# -----------------------------------------------
# To explain a model you did not fit yourself, pass it with ``prefit=True`` and a held-out set. PaP needs
# no refits, so it works with any fitted model. Its p-values answer the fitted-model question (does *this
# model* rely on the feature?).
rng = np.random.default_rng(0)
test_rows = rng.permutation(len(X))[:200]
train = np.setdiff1d(np.arange(len(X)), test_rows)
fitted = model.fit(X.iloc[train], y.iloc[train])
pap = PermutationImportance(fitted, prefit=True, groups=groups, n_permutations=10, random_state=0)
res = pap.importance(X.iloc[test_rows], y.iloc[test_rows])
print(res.test, "--", res.question)
print(res.to_frame()[["importance", "std_error", "pvalue_adjusted"]].round(4))

# %%
# The fitted-model test can reject for a family that the population tests above did not find: this model
# uses those columns, which is a statement about the model. Whether the family is *needed* is LOCO's
# question (see *Can I trust this p-value?* in the user guide).
