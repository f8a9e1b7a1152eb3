"""Tutorial "Linear theory vs estimates" (runs in well under a minute).

Run from anywhere: ``python docs/tutorials/linear_theory.py``. The tutorial page shows the code between the
``# [name]`` / ``# [/name]`` markers and the output that this script printed.
"""

# [theory]
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

import vimp.linear as vl
from vimp import LOCO, PermutationImportance

pd.set_option("display.width", 110)
pd.set_option("display.max_columns", 12)

p, delta, sigma = 6, 0.5, 1.0
beta = np.ones(p)
cov = vl.bladen_cov(p, delta)  # Sigma = A^2 with A = delta*J + (1 - delta)*I
truth = vl.theory(beta, cov, noise_sd=sigma)
print(truth.loc["x0"].round(6))
print("c =", vl.absorption(p, delta), "=", 8 / 41)
# [/theory]

print("=== estimate")
# [estimate]
A = delta * np.ones((p, p)) + (1 - delta) * np.eye(p)


def draw(n, rng, A=A):
    """n rows of the Bladen design: X = Z A, y = X beta + noise."""
    X = rng.standard_normal((n, p)) @ A
    return X, X @ beta + sigma * rng.standard_normal(n)


rng = np.random.default_rng(2025)
X_train, y_train = draw(5000, rng)
X_test, y_test = draw(5000, rng)

pap = PermutationImportance(LinearRegression(), random_state=1).fit(X_train, y_train)
loco = LOCO(LinearRegression(), random_state=1).fit(X_train, y_train)
pap_d = pap.importance(X_test, y_test)
loco_d = loco.importance(X_test, y_test)
print(pd.DataFrame({
    "PaP theory": truth["pap"], "PaP": pap_d.importance, "PaP SE": pap_d.std_error,
    "LOCO theory": truth["loco"], "LOCO": loco_d.importance, "LOCO SE": loco_d.std_error,
}).round(3))
# [/estimate]

print("=== sqrt")
# [sqrt]
pap_s = PermutationImportance(LinearRegression(), scale="sqrt", random_state=1)
pap_s = pap_s.fit(X_train, y_train).importance(X_test, y_test)
loco_s = LOCO(LinearRegression(), scale="sqrt", random_state=1)
loco_s = loco_s.fit(X_train, y_train).importance(X_test, y_test)
print(pd.DataFrame({
    "PaP theory": truth["pap_sqrt"], "PaP": pap_s.importance,
    "LOCO theory": truth["loco_sqrt"], "LOCO": loco_s.importance,
    "(PaP/LOCO)^2": (pap_s.importance / loco_s.importance) ** 2, "2 VIF": 2 * truth["vif"],
}).round(3))
# [/sqrt]

print("=== sweep")
# [sweep]
rows = []
for k, d in enumerate([0.0, 0.25, 0.5, 0.75, 0.9]):
    A_d = d * np.ones((p, p)) + (1 - d) * np.eye(p)
    rng = np.random.default_rng([7, k])
    X_tr, y_tr = draw(2000, rng, A_d)
    X_te, y_te = draw(2000, rng, A_d)
    pap_d = PermutationImportance(LinearRegression(), scale="sqrt", random_state=k).fit(X_tr, y_tr)
    pa = pap_d.importance(X_te, y_te)
    b0 = LinearRegression().fit(X_tr, y_tr).coef_[0]  # the fitted model's coefficient of x0 (OLS is deterministic)
    lo = LOCO(LinearRegression(), scale="sqrt", random_state=k).fit(X_tr, y_tr).importance(X_te, y_te)
    rows.append({"delta": d, "beta_hat_0": b0,
                 "PaP theory": vl.bladen_pap(p, d), "PaP": pa.importance[0],
                 "PaP 95% CI": f"[{pa.ci_low[0]:.3f}, {pa.ci_high[0]:.3f}]",
                 "LOCO theory": vl.bladen_loco(p, d), "LOCO": lo.importance[0],
                 "LOCO 95% CI": f"[{lo.ci_low[0]:.3f}, {lo.ci_high[0]:.3f}]"})
print(pd.DataFrame(rows).round(3).to_string(index=False))
# [/sweep]

print("=== coverage")
# [coverage]
population = vl.pap(beta, cov)[0]  # 2 beta_0^2 Var(x_0) = 4.5
n, reps = 200, 400
hits = {"fitted-model target": 0, "population value": 0}
for r in range(reps):
    rng = np.random.default_rng([11, r])
    X_tr, y_tr = draw(n, rng)
    X_te, y_te = draw(n, rng)
    model = LinearRegression().fit(X_tr, y_tr)
    res = PermutationImportance(model, prefit=True, random_state=r).importance(X_te, y_te)
    b = model.coef_
    # E over new data of the loss increase for this fitted model (squared error, Gaussian x)
    fitted = 2 * b[0] ** 2 * cov[0, 0] + 2 * b[0] * ((beta - b) @ cov[:, 0])
    hits["fitted-model target"] += res.ci_low[0] <= fitted <= res.ci_high[0]
    hits["population value"] += res.ci_low[0] <= population <= res.ci_high[0]
print({k: round(float(v) / reps, 3) for k, v in hits.items()})
# [/coverage]
