"""Rolling, quality-weighted score estimates with intervals that narrow as good frames accumulate.

Each scored frame contributes its per-column prediction with a quality weight; the estimate is the
weighted mean over the last ``window_s`` seconds. The interval comes from an injectable function
``(column, value, n_frames) -> (low, high) | None``; by default the checkpoint's photo-level
conformal calibration (:class:`facehealth.models.calibration.PhotoCalibration`), whose interval
for a k-frame mean narrows with k and is built on the log scale for right-skewed markers. With fewer than ``min_frames``
good frames the estimate is reported as ``"warming_up"`` ("not enough good frames yet") and has
no value, so a user never reads a number from one blurry frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["IntervalFn", "ScoreEstimate", "RollingScores", "conformal_interval_fn", "quality_weight"]

IntervalFn = Callable[[str, float, int], "tuple[float, float] | None"]


@dataclass(frozen=True)
class ScoreEstimate:
    """One column's rolling estimate. ``status``: ok | uncalibrated (no interval) | warming_up."""

    value: float | None
    interval: tuple[float, float] | None
    n_frames: int
    status: str

    def as_dict(self) -> dict[str, Any]:
        low, high = self.interval if self.interval is not None else (None, None)
        return {"value": self.value, "low": low, "high": high, "n_frames": self.n_frames, "status": self.status}


def conformal_interval_fn(meta: object) -> IntervalFn:
    """The default interval: the checkpoint's ``calibration.interval(column, value, k)``.

    A column it did not calibrate, or a checkpoint without calibration, gets None ("uncalibrated").
    """
    calibration = getattr(meta, "calibration", None)

    def interval(column: str, value: float, n_frames: int) -> tuple[float, float] | None:
        return calibration.interval(column, value, n_frames) if calibration is not None else None

    return interval


def quality_weight(blur: float, yaw: float, pitch: float, min_blur: float = 40.0) -> float:
    """A frame's weight in (0, 1]: sharper and more frontal frames count more.

    Sharpness saturates at 4x the gate's blur threshold (past that the crop is as sharp as the
    64-224 px model input can use); pose falls off as cos of the angle, as foreshortening does.
    """
    sharp = float(np.clip(blur / (4 * min_blur), 0.05, 1.0))
    pose = float(np.cos(np.radians(min(abs(yaw), 80))) * np.cos(np.radians(min(abs(pitch), 80))))
    return max(sharp * pose, 1e-3)


class RollingScores:
    """Per-column rolling weighted means over a time window.

    Args:
        interval_fn: ``(column, value, n_frames) -> (low, high) | None``; None means no interval at all.
        window_s: how far back frames count; 10 s bounds the lag after a change of conditions.
        min_frames: good frames needed before a value is shown.
    """

    def __init__(self, interval_fn: IntervalFn | None = None, window_s: float = 10.0, min_frames: int = 3) -> None:
        self.interval_fn = interval_fn
        self.window_s, self.min_frames = window_s, min_frames
        self._items: deque[tuple[float, float, dict[str, float]]] = deque()

    def add(self, timestamp: float, values: Mapping[str, float], weight: float) -> None:
        self._items.append((float(timestamp), float(weight), {k: float(v) for k, v in values.items()}))
        while self._items and timestamp - self._items[0][0] > self.window_s:
            self._items.popleft()

    def estimates(self) -> dict[str, ScoreEstimate]:
        columns = sorted({c for _, _, v in self._items for c in v})
        out = {}
        for col in columns:
            pairs = [(w, v[col]) for _, w, v in self._items if col in v and np.isfinite(v[col])]
            n = len(pairs)
            if n < self.min_frames:
                out[col] = ScoreEstimate(None, None, n, "warming_up")
                continue
            w, x = np.array(pairs).T
            value = float(np.sum(w * x) / np.sum(w))
            interval = self.interval_fn(col, value, n) if self.interval_fn is not None else None
            out[col] = ScoreEstimate(value, interval, n, "ok" if interval is not None else "uncalibrated")
        return out

    def reset(self) -> None:
        self._items.clear()
