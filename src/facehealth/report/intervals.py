"""Likely ranges for a person's regression estimates: split-conformal intervals calibrated on a run.

The validation split of a run's ``evaluate/predictions.parquet`` (joined with the cohort labels)
is the calibration set: for each regression column, ``value +- q`` where q is the conformal
quantile of |true - predicted| (:class:`facehealth.evaluate.conformal.ConformalRegressor`;
Angelopoulos & Bates 2021). For exchangeable new people the interval covers the true value with
probability >= 1 - alpha. Probabilities get no interval here: the person report says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from facehealth.evaluate.conformal import ConformalRegressor
from facehealth.models.tasks import pred_column
from facehealth.report.run_folder import RunFolder

__all__ = ["conformal_intervals"]

_MIN_CALIBRATION = 10  # fewer subjects than this give a quantile too unstable to show


def conformal_intervals(
    run_dir: str | Path, values: Mapping[str, float], alpha: float = 0.1, split: str = "val"
) -> dict[str, tuple[float, float]]:
    """(low, high) per value key that has enough calibration subjects in ``split`` of the run.

    Args:
        run_dir: a run folder with evaluate/predictions.parquet and cohort/ tables.
        values: the person's regression outputs (``Prediction.values``).
        alpha: miscoverage; 0.1 gives 90% intervals.
        split: the calibration split (never the test split, which reports performance).
    """
    scored = RunFolder(run_dir).scored
    if scored is None or "split" not in scored.columns:
        return {}
    part = scored[scored["split"] == split]
    out = {}
    for key, value in values.items():
        column = pred_column(key)
        if key not in part.columns or column not in part.columns or not math.isfinite(value):
            continue
        ok = part[[key, column]].dropna()
        if len(ok) < _MIN_CALIBRATION:
            continue
        low, high = ConformalRegressor.fit(ok[key], ok[column], alpha).interval(value)
        out[key] = (float(low), float(high))
    return out
