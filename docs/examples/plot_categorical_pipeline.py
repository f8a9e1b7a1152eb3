"""
Categorical data in a pipeline: one row per original column
===========================================================

Real tables have text columns. Give vimp the DataFrame and a scikit-learn ``Pipeline`` that encodes it:
vimp permutes or drops the *original* columns, the pipeline one-hot encodes whatever it receives, and
the result has one row per original column, not one per dummy. This page shows what works today and
what vimp refuses, with the message it gives.
"""

# %%
# A table with text columns
# -------------------------
# House prices (simulated, so that we know the truth): the neighbourhood (five levels) and the area
# matter, the heating type matters a little, the colour of the front door does not.
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from vimp import GCM, LOCO, PermutationImportance

pd.set_option("display.width", 120)
rng = np.random.default_rng(42)
n = 800
hoods = np.array(["centre", "harbour", "hills", "old town", "suburb"])
X = pd.DataFrame({
    "neighbourhood": rng.choice(hoods, n),
    "heating": rng.choice(["gas", "heat pump", "oil"], n),
    "door colour": rng.choice(["red", "green", "blue", "white"], n),
    "area": rng.gamma(9.0, 12.0, n),  # square metres
    "age": rng.uniform(0, 80, n),      # years
})
hood_effect = dict(zip(hoods, [60.0, 45.0, 20.0, 35.0, 0.0]))
price = (X["neighbourhood"].map(hood_effect) + 1.5 * X["area"] - 0.2 * X["age"]
         + np.where(X["heating"] == "heat pump", 8.0, 0.0) + rng.normal(0, 20, n))
print(X.head())
print(X.dtypes)

# %%
# The pipeline
# ------------
# Select the columns to encode **by dtype** (:func:`~sklearn.compose.make_column_selector`), not by name:
# LOCO refits the pipeline on the table without a column, and a selector that names the missing column
# would fail.
encode = ColumnTransformer([
    ("text", OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude=np.number)),
    ("numbers", StandardScaler(), make_column_selector(dtype_include=np.number)),
])
model = make_pipeline(encode, Ridge(alpha=1.0))

loco = LOCO(model, cv=5, random_state=0).fit(X, price)
loco_result = loco.importance()
print(loco_result.test, "--", loco_result.question)
print(loco_result.to_frame()[["importance", "std_error", "ci_low", "ci_high", "pvalue_adjusted"]].round(3))

# %%
# Five rows, one per column of the table: the neighbourhood's importance is that of its five dummies
# together. PaP works the same way (it permutes the text column, so every row gets another row's
# neighbourhood, and the pipeline encodes the permuted table):
pap = PermutationImportance(model, cv=5, n_permutations=5, random_state=0).fit(X, price)
pap_result = pap.importance()
print(pap_result.to_frame()[["importance", "std_error", "pvalue_adjusted"]].round(3))

# %%
# Groups of original columns work too, e.g. "location" for the neighbourhood with the age of the house:
grouped = LOCO(model, cv=5, groups={"location": ["neighbourhood", "age"], "size": ["area"],
                                    "fittings": ["heating", "door colour"]}, random_state=0)
print(grouped.fit(X, price).importance().to_frame()[["importance", "std_error", "pvalue_adjusted"]].round(3))

# %%
# What vimp refuses, and why
# --------------------------
# A pipeline that selects columns by name cannot be refitted without them. vimp says so before any
# number is reported, and names the fix:
by_name = make_pipeline(
    ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), ["neighbourhood", "heating", "door colour"])],
                      remainder="passthrough"),
    Ridge(alpha=1.0),
)
try:
    LOCO(by_name, cv=5, random_state=0).fit(X, price).importance()
except ValueError as error:
    print("ValueError:", error)

# %%
# (PaP with the same pipeline works: it never removes a column.) A learner that cannot take text is
# refused at ``fit``, with the columns named:
try:
    LOCO(Ridge(), cv=5).fit(X, price)
except TypeError as error:
    print("TypeError:", error)

# %%
# GCM regresses every feature *on the others*, which needs numeric features; on a table with text columns
# it refuses. Encode first and use groups of dummies to ask GCM about a categorical feature, or use LOCO,
# which is defined for any column the pipeline can take.
try:
    GCM(Ridge(), cv=5).fit(X, price)
except TypeError as error:
    print("TypeError:", error)
