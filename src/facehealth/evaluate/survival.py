"""Survival analysis of a risk score (FAHR-FaceSurvival): Kaplan-Meier by quartile, log-rank,
and (multivariable) Cox models, all through lifelines so the numbers are lifelines' own.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "HazardRatio",
    "risk_quartiles",
    "kaplan_meier_by_group",
    "logrank_by_group",
    "cox_hazard_ratio",
    "quartile_hazard_ratio",
]


@dataclass(frozen=True)
class HazardRatio:
    """A Cox hazard ratio with its Wald confidence interval and p-value."""

    term: str
    hr: float
    low: float
    high: float
    p: float
    n: int
    events: int
    adjusted_for: tuple[str, ...]
    concordance: float
    ph_test_min_p: float | None = None  # smallest Schoenfeld-residual p (proportional hazards check)

    def as_dict(self) -> dict:
        return self.__dict__ | {"adjusted_for": list(self.adjusted_for)}


def risk_quartiles(risk: np.ndarray) -> np.ndarray:
    """Quartile (1 = lowest risk .. 4 = highest) of each score; ties are split by order of appearance."""
    ranks = pd.Series(np.asarray(risk, float)).rank(method="first")
    return pd.qcut(ranks, 4, labels=[1, 2, 3, 4]).astype(int).to_numpy()


def kaplan_meier_by_group(time: ArrayLike, event: ArrayLike, group: ArrayLike) -> dict[Hashable, pd.DataFrame]:
    """Survival curves per group: {group: DataFrame(time, survival, low, high)} (lifelines KM, 95% CI).

    Args:
        time: (n,) follow-up times.
        event: (n,) 1 = event observed, 0 = censored.
        group: (n,) group label of each subject; rows with a missing value are dropped.
    """
    from lifelines import KaplanMeierFitter

    frame = pd.DataFrame({"t": time, "e": event, "g": group}).dropna()
    curves = {}
    for g, part in frame.groupby("g"):
        km = KaplanMeierFitter().fit(part["t"], part["e"])
        ci = km.confidence_interval_survival_function_
        curves[g] = pd.DataFrame(
            {
                "time": km.survival_function_.index,
                "survival": km.survival_function_.iloc[:, 0],
                "low": ci.iloc[:, 0].to_numpy(),
                "high": ci.iloc[:, 1].to_numpy(),
            }
        )
    return curves


def logrank_by_group(time: ArrayLike, event: ArrayLike, group: ArrayLike) -> tuple[float, float]:
    """(chi-squared statistic, p-value) of the multi-group log-rank test.

    Args:
        time: (n,) follow-up times.
        event: (n,) 1 = event observed, 0 = censored.
        group: (n,) group label of each subject.
    """
    from lifelines.statistics import multivariate_logrank_test

    result = multivariate_logrank_test(np.asarray(time, float), np.asarray(group), np.asarray(event, float))
    return float(result.test_statistic), float(result.p_value)


def cox_hazard_ratio(
    frame: pd.DataFrame,
    term: str,
    covariates: tuple[str, ...] = (),
    time: str = "time",
    event: str = "event",
    check_ph: bool = True,
) -> HazardRatio:
    """Hazard ratio of ``term`` in a Cox model adjusted for ``covariates`` (lifelines CoxPHFitter).

    Categorical covariates (text) are one-hot encoded with the first level as reference.
    """
    from lifelines import CoxPHFitter

    data = frame[[time, event, term, *covariates]].dropna()
    data = pd.get_dummies(
        data, columns=[c for c in covariates if data[c].dtype == object], drop_first=True, dtype=float
    )
    cph = CoxPHFitter().fit(data, time, event)
    row = cph.summary.loc[term]
    ph_p = None
    if check_ph:
        from lifelines.statistics import proportional_hazard_test

        ph_p = float(proportional_hazard_test(cph, data, time_transform="rank").p_value.min())
    return HazardRatio(
        term,
        float(row["exp(coef)"]),
        float(row["exp(coef) lower 95%"]),
        float(row["exp(coef) upper 95%"]),
        float(row["p"]),
        len(data),
        int(data[event].sum()),
        tuple(covariates),
        float(cph.concordance_index_),
        ph_p,
    )


def quartile_hazard_ratio(
    frame: pd.DataFrame, risk: str, covariates: tuple[str, ...] = (), time: str = "time", event: str = "event"
) -> HazardRatio:
    """FAHR's headline analysis: HR of the top vs the bottom risk quartile, adjusted for covariates."""
    data = frame.copy()
    data["quartile"] = risk_quartiles(data[risk].to_numpy())
    data = data[data["quartile"].isin([1, 4])]
    data["top_vs_bottom_quartile"] = (data["quartile"] == 4).astype(float)
    return cox_hazard_ratio(data, "top_vs_bottom_quartile", covariates, time, event)
