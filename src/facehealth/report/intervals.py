"""Likely ranges for a person's regression estimates: split-conformal intervals calibrated on a run.

The validation split of a run's ``evaluate/predictions.parquet`` (joined with the cohort labels)
is the calibration set: for each regression column, ``value +- q`` where q is the conformal
quantile of |true - predicted| (:class:`facehealth.evaluate.conformal.ConformalRegressor`;
Angelopoulos & Bates 2021). For exchangeable new people the interval covers the true value with
probability >= 1 - alpha. Probabilities get no interval here: the person report says so.

Intervals respect the quantity: markers the model learns on the log scale (right-skewed ones such
as bilirubin) are calibrated and built on that scale (``exp(log value +- q)``, a ratio interval
that cannot go negative), and every interval is clipped to what the quantity allows (a marker's
physiological limits from the registry; 0 to 120 years for age).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from facehealth.data.biomarkers import BIOMARKERS, LOG_FLOOR, is_log_scale
from facehealth.evaluate.conformal import ConformalRegressor
from facehealth.models.tasks import pred_column
from facehealth.report.run_folder import RunFolder

__all__ = ["conformal_intervals", "limits"]

_MIN_CALIBRATION = 10  # fewer subjects than this give a quantile too unstable to show
_LIMITS = {"age": (0.0, 120.0)}  # quantities outside the biomarker registry


def _log(x: ArrayLike) -> np.ndarray:
    return np.log(np.maximum(np.asarray(x, float), LOG_FLOOR))


def limits(key: str) -> tuple[float, float]:
    """What a value of ``key`` can be: a marker's physiological limits, age 0-120, else unbounded."""
    if key in BIOMARKERS:
        return BIOMARKERS[key].min_possible, BIOMARKERS[key].max_possible
    return _LIMITS.get(key, (-np.inf, np.inf))


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
        if is_log_scale(key):
            fit = ConformalRegressor.fit(_log(ok[key]), _log(ok[column]), alpha)
            low, high = np.exp(fit.interval(_log(value)))
        else:
            low, high = ConformalRegressor.fit(ok[key], ok[column], alpha).interval(value)
        floor, ceiling = limits(key)
        out[key] = (float(np.clip(low, floor, ceiling)), float(np.clip(high, floor, ceiling)))
    return out
