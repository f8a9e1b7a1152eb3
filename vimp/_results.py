"""The one result type of every importance method."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._inference import skew_corrected_limits, wald_interval
from ._test_choice import QUESTIONS
from ._validation import check_level

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.axes import Axes

_TEST_NAMES = {
    "paired": "one-sided paired z test on per-observation differences",
    "paired-skew": ("one-sided paired test with Hall's skewness correction and a t quantile on "
                    "Satterthwaite degrees of freedom (interval likewise)"),
    "split": "one-sided sample-split z test (valid at zero importance)",
    "split-per-feature": ("one-sided sample-split z test, one random split per feature; interval: "
                          "paired Wald (fitted-model difference)"),
    "multisplit-cauchy": ("one-sided sample-split z tests on 25 random splits per feature, combined by "
                          "the Cauchy combination (Liu & Xie 2020); interval: paired Wald"),
    "multisplit-quantile": ("one-sided sample-split z tests on 25 random splits per feature, combined by "
                            "adaptive quantile aggregation (Meinshausen et al. 2009, gamma_min 0.05); "
                            "interval: paired Wald"),
    "split-folds": ("one-sided cross-fitted sample-split z test (folds divided between the full and the "
                    "reduced model, as R vimp); interval: paired Wald"),
    "perturbed": ("one-sided paired z test on differences plus N(0, rho^2) noise, rho = sd(full loss) "
                  "n^(-1/4) (Dai, Shen & Pan 2022); interval: paired Wald, without the noise"),
    "nadeau-bengio": ("one-sided t test on the K folds' estimates with the Nadeau-Bengio corrected "
                      "variance (1/K + n_test/n_train) S^2, K - 1 degrees of freedom (interval likewise)"),
    "wald": "two-sided Wald z test on residual products",
    "max": "max-type test with a Gaussian multiplier bootstrap",
    "chi2": "Wald chi-square test on the group's residual products",
}


@dataclass(frozen=True, eq=False)
class ImportanceResult:
    """Importances with standard errors, intervals and p-values, one row per feature or group.

    Returned by ``importance`` of :class:`~vimp.PermutationImportance`, :class:`~vimp.LOCO` and
    :class:`~vimp.GCM`. Immutable; every array is indexed like :attr:`names`.

    Attributes
    ----------
    method : str
        ``"pap"``, ``"loco"`` or ``"gcm"``.
    names : tuple of str
        Feature or group labels.
    importance, std_error : ndarray
        The estimate on the reported ``scale`` and its standard error (from per-observation terms).
    raw_importance, raw_std_error : ndarray
        The estimate on the natural scale (mean loss difference; mean residual product for GCM) and its
        standard error, unclipped.
    ci_low, ci_high : ndarray
        Confidence limits at :attr:`level`.
    pvalue, pvalue_adjusted : ndarray
        The test's p-value, and after the ``p_adjust`` multiple-testing adjustment.
    level : float
    scale, loss, test, p_adjust : str
    target : str
        The estimand the intervals are for, in words.
    per_observation : ndarray of shape (n, k)
        Per-observation terms on the natural scale (loss differences; residual products for GCM).
    fold_ids : ndarray of shape (n,)
        Cross-fitting fold of each evaluation row (0 everywhere for a held-out set).
    mc_std : ndarray
        Spread (sd) of the importance over permutation repeats: Monte Carlo noise, not sampling
        uncertainty. NaN where there is no such repeat.
    per_repeat : ndarray of shape (k, n_repeats) or None
        The natural-scale importance of each permutation repeat.
    split : str
        ``"holdout"`` or ``"cv=K"``.
    seed : int or None
        Entropy of the call's SeedSequence (reproduces the call's random draws).
    details : dict
        Further method-specific arrays (e.g. nuisance R² for GCM, sample-split halves). PaP and LOCO keep
        ``full_loss``, the full model's per-observation loss; the perturbed (permuted or reduced) models'
        losses are ``per_observation + full_loss[:, None]``.
    skewness, raw_skewness : ndarray or None
        Skewness of the estimate (on the reported and on the natural scale), where the interval and
        test correct for it (PaP: Hall's transform, see ``vimp._inference.skew_corrected_limits``);
        None where they are plain Wald.
    ci_df, raw_ci_df : ndarray or None
        Degrees of freedom of the t quantile of the interval and test (PaP: Satterthwaite's, from the
        row terms of the variance estimate, ``vimp._inference.variance_df``); None for normal quantiles.
    """

    method: str
    names: tuple[str, ...]
    importance: np.ndarray
    std_error: np.ndarray
    raw_importance: np.ndarray
    raw_std_error: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    pvalue: np.ndarray
    pvalue_adjusted: np.ndarray
    level: float
    scale: str
    loss: str
    test: str
    p_adjust: str
    target: str
    per_observation: np.ndarray
    fold_ids: np.ndarray
    mc_std: np.ndarray
    per_repeat: np.ndarray | None = None
    split: str = "holdout"
    seed: int | Sequence[int] | None = None  # a SeedSequence's entropy
    ci_method: str = "wald"
    details: dict[str, Any] = field(default_factory=dict)
    skewness: np.ndarray | None = None
    raw_skewness: np.ndarray | None = None
    ci_df: np.ndarray | None = None
    raw_ci_df: np.ndarray | None = None

    # ------------------------------------------------------------------ tables
    def to_frame(self) -> pd.DataFrame:
        """A DataFrame indexed by feature (or group) name.

        Columns: ``importance, std_error, ci_low, ci_high, pvalue, pvalue_adjusted, raw_importance,
        raw_std_error, mc_std, test, question``: ``test`` names the test behind the p-values and
        ``question`` says what they answer, ``"fitted model"`` (do the fitted models use the feature?) or
        ``"population"`` (does the feature matter?); :attr:`question` has the sentence.
        """
        frame = pd.DataFrame(
            {
                "importance": self.importance,
                "std_error": self.std_error,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "pvalue": self.pvalue,
                "pvalue_adjusted": self.pvalue_adjusted,
                "raw_importance": self.raw_importance,
                "raw_std_error": self.raw_std_error,
                "mc_std": self.mc_std,
                "test": self.test,
                "question": QUESTIONS.get(self.test, (self.test,))[0],
            },
            index=pd.Index(list(self.names), name="feature"),
        )
        return frame

    @property
    def question(self) -> str:
        """What the p-values answer, as a sentence (``"fitted model: ..."`` or ``"population: ..."``)."""
        label, sentence = QUESTIONS.get(self.test, ("", ""))
        return f"{label}: {sentence}" if label else self.test

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Confidence intervals at ``level`` as a DataFrame with columns ``lower`` and ``upper``.

        On the ``"sqrt"`` scale the interval is the square root of the clipped interval of the raw
        difference (the transform is monotone, so coverage carries over).
        """
        level = check_level(level)
        low, high = confidence_limits(self, level)
        return pd.DataFrame(
            {"lower": low, "upper": high}, index=pd.Index(list(self.names), name="feature")
        )

    # ------------------------------------------------------------------ text
    def summary(self) -> Summary:
        """A text table with the estimand, the test and one row per feature; see :class:`Summary`."""
        return Summary(self)

    def __repr__(self) -> str:
        return (
            f"ImportanceResult(method={self.method!r}, n_features={len(self.names)}, "
            f"scale={self.scale!r}, loss={self.loss!r}, split={self.split!r})"
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    # ------------------------------------------------------------------ plot
    def plot(self, ax: Axes | None = None, sort: bool = True, color: Any = "C0") -> Axes:
        """Horizontal bars of the importances with their confidence intervals.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure if None.
        sort : bool, default=True
            Largest importance at the top.
        color : matplotlib colour

        Returns
        -------
        ax : matplotlib Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.0, 0.35 * len(self.names) + 1.5))
        order = np.argsort(self.importance) if sort else np.arange(len(self.names))[::-1]
        pos = np.arange(len(order))
        est = self.importance[order]
        low = np.where(np.isnan(self.ci_low[order]), est, self.ci_low[order])
        high = np.where(np.isnan(self.ci_high[order]), est, self.ci_high[order])
        ax.barh(pos, est, color=color, alpha=0.75)
        ax.errorbar(est, pos, xerr=[est - low, high - est], fmt="none", ecolor="black", capsize=3)
        ax.set_yticks(pos)
        ax.set_yticklabels([self.names[i] for i in order])
        ax.axvline(0.0, color="grey", linewidth=0.8)
        scale = self.scale if self.loss in (None, "none") else f"{self.scale}; {self.loss}"
        ax.set_xlabel(f"{self.method.upper()} importance ({scale})")
        ax.set_title(f"{self.method.upper()} with {self.level:.0%} confidence intervals")
        return ax


def confidence_limits(result, level):
    """Confidence limits of ``result`` at ``level`` (shared by the constructor and ``conf_int``)."""
    if result.ci_method == "sqrt":
        if result.raw_skewness is not None:
            low, high = skew_corrected_limits(result.raw_importance, result.raw_std_error,
                                              result.raw_skewness, level, result.raw_ci_df)
        else:
            low, high = wald_interval(result.raw_importance, result.raw_std_error, level)
        return np.sqrt(np.maximum(low, 0.0)), np.sqrt(np.maximum(high, 0.0))
    if result.skewness is not None:
        return skew_corrected_limits(result.importance, result.std_error, result.skewness, level,
                                     result.ci_df)
    return wald_interval(result.importance, result.std_error, level)


class Summary:
    """The text summary of an :class:`ImportanceResult`: ``str()``, :meth:`as_text` or HTML in notebooks."""

    def __init__(self, result: ImportanceResult) -> None:
        self.result = result

    def _header(self):
        r = self.result
        n = r.per_observation.shape[0]
        return [
            f"Method:   {r.method.upper()}    loss: {r.loss}    scale: {r.scale}    split: {r.split}",
            f"Target:   {r.target}",
            f"Test:     {_TEST_NAMES.get(r.test, r.test)}; p-values adjusted by {r.p_adjust}",
            f"Question: {r.question}",
            f"Rows:     {n} evaluation observations    intervals: {r.level:.0%}",
        ] + ([f"Chosen:   {r.details['test_rule']}"] if "test_rule" in r.details else [])

    def _table(self):
        frame = self.result.to_frame()
        return frame[["importance", "std_error", "ci_low", "ci_high", "pvalue", "pvalue_adjusted"]]

    def as_text(self) -> str:
        """The summary as plain text."""
        table = self._table().to_string(float_format=lambda v: f"{v:.4g}")
        return "\n".join(self._header() + ["", table])

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        head = "<br>".join(self._header())
        return f"<p>{head}</p>" + self._table().to_html(float_format=lambda v: f"{v:.4g}")
