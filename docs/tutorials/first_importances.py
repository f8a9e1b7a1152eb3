"""Tutorial "First importances": PaP, LOCO and GCM on the diabetes data (runs in well under a minute).

Run from anywhere: ``python docs/tutorials/first_importances.py``. The tutorial page shows the code between
the ``# [name]`` / ``# [/name]`` markers and the output that this script printed.
"""

# [setup]
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

from vimp import LOCO, PermutationImportance

pd.set_option("display.width", 110)
pd.set_option("display.max_columns", 12)

X, y = load_diabetes(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
print(X.shape, X_train.shape, X_test.shape)
# [/setup]

print("=== pap_ols")
# [pap_ols]
pap = PermutationImportance(LinearRegression(), n_permutations=20, random_state=0)
pap.fit(X_train, y_train)
pap_ols = pap.importance(X_test, y_test)
cols = ["importance", "std_error", "ci_low", "ci_high", "pvalue_adjusted", "mc_std"]
print(pap_ols.to_frame()[cols].round(3))
# [/pap_ols]

print("=== loco_ols")
# [loco_ols]
loco = LOCO(LinearRegression(), random_state=0).fit(X_train, y_train)
loco_ols = loco.importance(X_test, y_test)
print(loco_ols.summary())
# [/loco_ols]

print("=== loco_tests")
# [loco_tests]
paired = LOCO(LinearRegression(), test="paired", random_state=0).fit(X_train, y_train)
loco_paired = paired.importance(X_test, y_test)
crossfit = LOCO(LinearRegression(), cv=5, random_state=0).fit(X, y)
loco_cv = crossfit.importance()
print(pd.DataFrame({
    "split test p": loco_ols.pvalue,
    "paired test p": loco_paired.pvalue,
    "cv=5 importance": loco_cv.importance,
    "cv=5 split test p": loco_cv.pvalue,
}, index=X.columns).round(4))
# [/loco_tests]

print("=== gcm")
# [gcm]
from vimp import compare

table = compare(X, y, LinearRegression(), methods=("pap", "loco", "gcm"), cv=5, random_state=0)
wide = table["importance"].unstack("method")[["pap", "loco", "gcm"]]
print(wide.round({"pap": 1, "loco": 1, "gcm": 3}))
print(table.loc["gcm", ["importance", "std_error", "ci_low", "ci_high", "pvalue_adjusted"]].round(4))
# [/gcm]

print("=== forest")
# [forest]
forest = RandomForestRegressor(n_estimators=200, min_samples_leaf=5, random_state=0)
pap_rf = PermutationImportance(forest, n_permutations=20, random_state=0)
pap_rf = pap_rf.fit(X_train, y_train).importance(X_test, y_test)
loco_rf = LOCO(forest, random_state=0).fit(X_train, y_train).importance(X_test, y_test)
print(pd.DataFrame({
    "PaP, OLS": pap_ols.importance,
    "LOCO, OLS": loco_ols.importance,
    "PaP, forest": pap_rf.importance,
    "PaP forest SE": pap_rf.std_error,
    "LOCO, forest": loco_rf.importance,
    "LOCO forest SE": loco_rf.std_error,
}, index=X.columns).round(1))
# [/forest]

print("=== collinearity")
# [collinearity]
print(X[["s1", "s2", "s3", "s4", "s5"]].corr().round(2))
print(pd.Series(LinearRegression().fit(X_train, y_train).coef_, index=X.columns).round(1))
# [/collinearity]
