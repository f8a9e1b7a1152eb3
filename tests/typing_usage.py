"""User code as mypy sees it: checked by ``python -m mypy`` (pyproject's ``[tool.mypy] files``), never run.

Each ``assert_type`` fails the type check if a public signature stops returning what it documents; each
``# type: ignore[...]`` marks a call the hints must reject (with ``warn_unused_ignores`` an accepted call
makes the ignore unused, and mypy fails). Not a pytest test: the functions are not called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from typing_extensions import assert_type

    import vimp
    import vimp.linear
    import vimp.simulation
    from vimp import GCM, LOCO, ImportanceResult, PermutationImportance, SklearnFitter, compare

    def estimators(model: object, X: np.ndarray, y: np.ndarray) -> None:
        pap = PermutationImportance(model, n_permutations=5, random_state=0)
        assert_type(pap.fit(X, y), PermutationImportance)
        result = pap.fit(X, y).importance(X, y)
        assert_type(result, ImportanceResult)
        assert_type(result.names, tuple[str, ...])
        assert_type(result.question, str)
        assert_type(LOCO(model, cv=5).fit(X, y).importance(), ImportanceResult)
        assert_type(GCM(model).fit(X, y), GCM)
        assert_type(GCM.from_residuals(X[:, 0], y), ImportanceResult)
        assert_type(SklearnFitter(model).fit(X, y), SklearnFitter)
        frame, results = compare(X, y, model, cv=5, return_results=True)
        assert_type(results, dict[str, ImportanceResult])
        LOCO(model, refit="dorp")  # type: ignore[arg-type]
        PermutationImportance(model, scale="log")  # type: ignore[arg-type]
        PermutationImportance(model, n_permutations="10")  # type: ignore[arg-type]
        vimp.set_config(threads="many")  # type: ignore[arg-type]

    def closed_forms(beta: np.ndarray, cov: np.ndarray) -> None:
        assert_type(vimp.linear.pap(beta, cov, scale="sqrt"), np.ndarray)
        vimp.linear.loco(beta, cov, scale="ratio")  # type: ignore[arg-type]
        table: pd.DataFrame = vimp.linear.theory(beta, cov, noise_sd=1.0)
        del table

    def simulation(rng: np.random.Generator) -> None:
        dgp = vimp.simulation.BladenDesign(p=6, delta=0.5)
        X, y = dgp.sample(100, rng)
        assert_type(X, np.ndarray)
        assert_type(dgp.truth("pap"), np.ndarray)
        result = vimp.simulation.relative_efficiency(dgp, feature=0, reps=10)
        assert_type(result, vimp.simulation.EfficiencyResult)
        assert_type(result.theory, float)
        vimp.simulation.relative_efficiency(dgp, 0, scale="linear")  # type: ignore[arg-type]
