"""Survival calibration: predicted vs Kaplan-Meier survival at a horizon, by risk group, with a slope.

Part of the survival metrics (:mod:`facehealth.evaluate.survival_metrics`); pure functions,
degenerate input warns with :class:`~facehealth.evaluate.metrics.DegenerateMetricWarning`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from facehealth.evaluate.survival_metrics import float_arrays, warn_degenerate

__all__ = ["SurvivalCalibration", "survival_calibration"]


@dataclass(frozen=True)
class SurvivalCalibration:
    """Observed vs predicted event probability by the horizon, by risk group, plus summary slopes."""

    horizon: float
    table: pd.DataFrame  # bin, n, events, mean_predicted, observed, observed_low, observed_high
    slope: float  # Cox coefficient of log(-log S_pred(h)); 1 = perfect spread
    slope_low: float
    slope_high: float
    observed: float  # 1 - Kaplan-Meier(h), whole sample
    expected: float  # mean predicted event probability
    oe_ratio: float  # observed / expected ("calibration in the large"; 1 = perfect)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "table"} | {"table": self.table.to_dict("records")}


_Z95 = 1.959963984540054  # standard normal 97.5% quantile (lifelines' alpha=0.05 interval)


def _km_with_ci(t: np.ndarray, e: np.ndarray, h: float) -> tuple[float, float, float]:
    """Event probability 1 - S(h) with a 95% CI (Greenwood variance on the log(-log S) scale)."""
    uniq, inverse = np.unique(t, return_inverse=True)
    d = np.bincount(inverse, weights=e.astype(float))
    n = np.bincount(inverse).astype(float)[::-1].cumsum()[::-1]
    upto = uniq <= h
    s = float(np.prod(1.0 - d[upto] / n[upto]))
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = float(np.sum(d[upto] / (n[upto] * (n[upto] - d[upto]))))
        if not 0 < s < 1 or not np.isfinite(greenwood):
            return 1.0 - s, np.nan, np.nan
        half = _Z95 * np.sqrt(greenwood) / abs(np.log(s))
    lo, hi = s ** np.exp(half), s ** np.exp(-half)  # survival bounds
    return 1.0 - s, 1.0 - hi, 1.0 - lo


def survival_calibration(
    time: ArrayLike, event: ArrayLike, surv_prob_at_h: ArrayLike, horizon: float, bins: int = 10
) -> SurvivalCalibration:
    """Calibration of predicted survival at a horizon h (e.g. 5 years).

    Table: subjects are split into ``bins`` equal groups by predicted event probability
    p = 1 - S_pred(h); in each, the observed probability is 1 - Kaplan-Meier(h) with a
    Greenwood log(-log) 95% CI, next to the mean p. Summary: the calibration slope is the Cox
    coefficient of log(-log S_pred(h)) (the linear predictor up to a constant) with follow-up
    truncated at h (van Houwelingen, Stat Med 2000;19:3401); 1 means the predicted spread of risk
    is right, < 1 too extreme. Calibration in the large is observed / expected = (1 - KM(h)) /
    mean(p) (Crowson et al., Stat Methods Med Res 2016;25:1692). Observed values carry the
    Kaplan-Meier value forward when a group's follow-up ends before h.

    Args:
        time: (n,) follow-up times.
        event: (n,) 1 = event observed, 0 = censored.
        surv_prob_at_h: (n,) predicted survival probabilities S_pred(h).
        horizon: the horizon h, in the units of ``time``.
        bins: number of equal-size risk groups in the table.
    """
    t, e, s = float_arrays(time, event, surv_prob_at_h)
    e = e.astype(bool)
    p = 1.0 - s
    rows = []
    if t.size >= bins:
        group = pd.qcut(pd.Series(p).rank(method="first"), bins, labels=False).to_numpy()
        for b in range(bins):
            m = group == b
            obs, lo, hi = _km_with_ci(t[m], e[m], horizon)
            rows.append(
                dict(bin=b + 1, n=int(m.sum()), events=int((e[m] & (t[m] <= horizon)).sum()),
                     mean_predicted=float(p[m].mean()), observed=obs, observed_low=lo, observed_high=hi)
            )  # fmt: skip
    table = pd.DataFrame(
        rows, columns=["bin", "n", "events", "mean_predicted", "observed", "observed_low", "observed_high"]
    )
    observed = _km_with_ci(t, e, horizon)[0] if t.size else float("nan")
    expected = float(p.mean()) if t.size else float("nan")
    slope = low = high = float("nan")
    events = e & (t <= horizon)
    if events.sum() < 2 or np.ptp(s) == 0:
        warn_degenerate("survival_calibration: fewer than 2 events before the horizon or constant predictions")
    else:
        from lifelines import CoxPHFitter

        x = np.log(-np.log(np.clip(s, 1e-12, 1 - 1e-12)))
        frame = pd.DataFrame({"t": np.minimum(t, horizon), "e": events.astype(float), "x": x})
        row = CoxPHFitter().fit(frame, "t", "e").summary.loc["x"]
        slope, low, high = float(row["coef"]), float(row["coef lower 95%"]), float(row["coef upper 95%"])
    oe = observed / expected if expected > 0 else float("nan")
    return SurvivalCalibration(float(horizon), table, slope, low, high, float(observed), expected, float(oe))
