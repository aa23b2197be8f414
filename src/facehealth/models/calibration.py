"""Split-conformal intervals calibrated on the unit a model is used on: one photo, or k of them.

A person's score comes from one photo (``predict``, the person report) or from the mean of k
photos or frames (several photos of a visit, the live engine's window). The error of a k-photo
mean is smaller than a single photo's, so an interval calibrated on subject means (the old
behaviour, k = 4 in the demo) under-covers single photos. Here the calibration set is a share of
the validation subjects that neither early stopping nor the head penalty saw (``calibration``
subjects, recorded in the checkpoint), and the score for unit k is |true - mean of k photos|
over disjoint groups of k photos of each calibration subject. The interval for a k-photo
estimate is ``estimate +- q_k`` with q_k the conformal quantile (Lei et al. 2018; Angelopoulos &
Bates 2021). Markers modelled on the log scale get their interval on that scale.

Probabilities and Cox risks have no per-person truth to cover, so their intervals are
*repeat-photo* intervals instead: with k photos, ``estimate +- r_k``, where r_k is the conformal
quantile of |mean of k photos - mean of k other photos| of the same calibration subject. It covers
the score another set of k photos of the same person would get (90% by default), the way a
test-retest interval does; ``PhotoCalibration.repeat`` holds r_k per output column.

Photos of one subject are not independent, so the finite-sample guarantee of split conformal
(exchangeable scores) holds per subject, not per photo; pooling a subject's photos keeps the
marginal coverage for a new subject's photo, which ``tests/models/test_calibration.py`` checks
by simulation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from facehealth.data.biomarkers import BIOMARKERS, LOG_FLOOR, is_log_scale

__all__ = [
    "MIN_CALIBRATION_SUBJECTS",
    "PhotoCalibration",
    "conformal_quantile",
    "fit_photo_calibration",
    "repeat_scores",
    "unit_scores",
    "value_limits",
]

# Fewer calibration subjects than this give a 90% quantile resting on one or two residuals.
MIN_CALIBRATION_SUBJECTS = 10
_LIMITS = {"age": (0.0, 120.0)}  # quantities outside the biomarker registry


def value_limits(key: str) -> tuple[float, float]:
    """What a value of ``key`` can be: a marker's physiological limits, age 0-120, else unbounded."""
    if key in BIOMARKERS:
        return BIOMARKERS[key].min_possible, BIOMARKERS[key].max_possible
    return _LIMITS.get(key, (-np.inf, np.inf))


def conformal_quantile(scores: ArrayLike, alpha: float) -> float:
    """The ceil((n + 1)(1 - alpha))-th smallest score: split conformal's finite-sample quantile.

    With too few scores (k > n) the exact answer is an unbounded interval; the largest score is
    used instead, and coverage then falls short of 1 - alpha (a coverage check shows it).

    Raises:
        ValueError: no scores.
    """
    s = np.sort(np.asarray(scores, float))
    n = len(s)
    if n == 0:
        raise ValueError("conformal calibration needs at least one calibration score")
    k = int(np.ceil((n + 1) * (1 - alpha)))
    return float(s[min(k, n) - 1])


def _scale(column: str, x: ArrayLike) -> np.ndarray:
    x = np.asarray(x, float)
    return np.log(np.maximum(x, LOG_FLOOR)) if is_log_scale(column) else x


def unit_scores(subject_ids: ArrayLike, y_true: ArrayLike, y_pred: ArrayLike, k: int) -> np.ndarray:
    """|true - mean of k predictions| over disjoint groups of k photos within each subject.

    A subject with n photos gives floor(n / k) scores; NaN rows are left out first.
    """
    frame = pd.DataFrame({"sid": np.asarray(subject_ids), "y": y_true, "p": y_pred}).dropna()
    out = []
    for _, g in frame.groupby("sid", sort=False):
        m = len(g) // k
        if m:
            means = g["p"].to_numpy()[: m * k].reshape(m, k).mean(axis=1)
            out.append(np.abs(g["y"].to_numpy()[: m * k : k] - means))
    return np.concatenate(out) if out else np.zeros(0)


def repeat_scores(subject_ids: ArrayLike, scores: ArrayLike, k: int) -> np.ndarray:
    """|mean of k photos - mean of the next k| within each subject (disjoint groups, in order).

    A subject with n photos gives floor(n / 2k) differences; NaN rows are left out first.
    """
    frame = pd.DataFrame({"sid": np.asarray(subject_ids), "s": scores}).dropna()
    out = []
    for _, g in frame.groupby("sid", sort=False):
        pairs = len(g) // (2 * k)
        if pairs:
            means = g["s"].to_numpy()[: 2 * k * pairs].reshape(pairs, 2, k).mean(axis=2)
            out.append(np.abs(means[:, 0] - means[:, 1]))
    return np.concatenate(out) if out else np.zeros(0)


def _quantiles(score: Callable[[int], np.ndarray], alpha: float, max_photos: int) -> tuple[float, ...]:
    """Conformal quantiles for k = 1, 2, ... while a unit has MIN_CALIBRATION_SUBJECTS scores."""
    qs = []
    for k in range(1, max_photos + 1):
        scores = score(k)
        if len(scores) < MIN_CALIBRATION_SUBJECTS:
            break
        qs.append(conformal_quantile(scores, alpha))
    return tuple(qs)


@dataclass(frozen=True)
class PhotoCalibration:
    """Interval half-widths per regression column for estimates from k = 1..K photos."""

    alpha: float
    subjects: tuple[str, ...]  # the calibration subjects (held out of model selection)
    quantiles: dict[str, tuple[float, ...]] = field(default_factory=dict)  # column -> (q_1, ..., q_K)
    repeat: dict[str, tuple[float, ...]] = field(default_factory=dict)  # output column -> (r_1, ..., r_K)

    def repeat_interval(self, column: str, value: float, n_photos: int = 1) -> tuple[float, float] | None:
        """(low, high) repeat-photo interval of a probability (``prob_<task>``, kept in [0, 1]) or a
        Cox risk (``risk_<task>``, log relative hazard) from ``n_photos``; None when not calibrated."""
        r = self.repeat.get(column)
        if not r or not np.isfinite(value) or n_photos < 1:
            return None
        half = r[min(n_photos, len(r)) - 1]
        low, high = value - half, value + half
        if column.startswith("prob_"):
            low, high = max(low, 0.0), min(high, 1.0)
        return float(low), float(high)

    def interval(self, column: str, value: float, n_photos: int = 1) -> tuple[float, float] | None:
        """(low, high) for an estimate averaged over ``n_photos``; None when not calibrated.

        Beyond the largest calibrated k the q_K interval is used (conservative: errors shrink with k).
        """
        q = self.quantiles.get(column)
        if not q or not np.isfinite(value) or n_photos < 1:
            return None
        half = q[min(n_photos, len(q)) - 1]
        centre = float(_scale(column, [value])[0])
        low, high = centre - half, centre + half
        if is_log_scale(column):
            low, high = float(np.exp(low)), float(np.exp(high))
        floor, ceiling = value_limits(column)
        return float(np.clip(low, floor, ceiling)), float(np.clip(high, floor, ceiling))

    def to_json(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "subjects": list(self.subjects),
            "quantiles": {k: list(v) for k, v in self.quantiles.items()},
            "repeat": {k: list(v) for k, v in self.repeat.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PhotoCalibration:
        return cls(
            float(data["alpha"]),
            tuple(map(str, data.get("subjects", ()))),
            {k: tuple(map(float, v)) for k, v in (data.get("quantiles") or {}).items()},
            {k: tuple(map(float, v)) for k, v in (data.get("repeat") or {}).items()},  # absent before 2026-12
        )


def fit_photo_calibration(
    items: pd.DataFrame,
    truth: pd.DataFrame,
    columns: Sequence[str],
    alpha: float = 0.1,
    max_photos: int = 8,
    repeat_columns: Sequence[str] = (),
) -> PhotoCalibration | None:
    """Calibrate per-photo predictions of the calibration subjects.

    Args:
        items: one row per photo: ``subject_id`` and the predicted value per column (named as the
            column itself).
        truth: one row per subject: ``subject_id`` and the true value per column.
        columns: the regression columns to calibrate.
        alpha: miscoverage (0.1: 90% intervals).
        max_photos: the largest k calibrated (a unit with fewer than MIN_CALIBRATION_SUBJECTS
            scores is not calibrated).
        repeat_columns: output columns of ``items`` (``prob_<task>``, ``risk_<task>``) that get
            repeat-photo intervals (:func:`repeat_scores`); no truth is needed for them.

    Returns:
        None when there are fewer than MIN_CALIBRATION_SUBJECTS calibration subjects.
    """
    subjects = tuple(dict.fromkeys(items["subject_id"].astype(str)))
    if len(subjects) < MIN_CALIBRATION_SUBJECTS:
        return None
    joined = items.assign(subject_id=items["subject_id"].astype(str)).merge(
        truth.assign(subject_id=truth["subject_id"].astype(str))[["subject_id", *columns]],
        on="subject_id",
        suffixes=("_pred", ""),
        how="left",
    )
    ids = joined["subject_id"]
    quantiles = {}
    for c in columns:
        truth_c, pred_c = _scale(c, joined[c]), _scale(c, joined[f"{c}_pred"])
        qs = _quantiles(lambda k: unit_scores(ids, truth_c, pred_c, k), alpha, max_photos)  # noqa: B023
        if qs:
            quantiles[c] = qs
    repeat = {}
    for c in repeat_columns:
        rs = _quantiles(lambda k: repeat_scores(ids, joined[c], k), alpha, max_photos)  # noqa: B023
        if rs:
            repeat[c] = rs
    return PhotoCalibration(alpha, subjects, quantiles, repeat)
