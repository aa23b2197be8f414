"""The live engine's output records: one :class:`LiveEvent` per processed frame, as a JSON line."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from facehealth.errors import OutputError
from facehealth.live.rolling import ScoreEstimate
from facehealth.live.rppg import HeartRate

__all__ = ["LiveEvent", "EventWriter"]


@dataclass(frozen=True)
class LiveEvent:
    """What the engine knows after one frame.

    ``track_id`` is None when no face is in view; ``scores`` and ``heart_rate`` belong to that
    track only (a new person starts empty).
    """

    frame_index: int
    timestamp: float
    track_id: int | None
    box: tuple[float, float, float, float] | None
    detected: bool  # the detector ran and found the face this frame (else: optical flow)
    quality_passed: bool
    quality_reasons: tuple[str, ...]
    scores: dict[str, ScoreEstimate] = field(default_factory=dict)
    heart_rate: HeartRate | None = None
    expression_motion: float | None = None  # mean landmark displacement from the recent median shape, IODs
    dropped_frames: int = 0  # frames dropped by the source so far
    latency_ms: float = 0.0  # frame arrival -> event, processing only
    stimulus: str | None = None  # label of the stimulus on screen, when a protocol gives one
    warnings: tuple[str, ...] = ()
    # Set on the frame whose size differs from the previous one ("resolution changed at frame 25:
    # 640x480 -> 320x240"): the track, heart-rate window and motion history restarted there.
    resolution_change: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame_index,
            "t": round(self.timestamp, 4),
            "track_id": self.track_id,
            "box": [round(v, 1) for v in self.box] if self.box else None,
            "detected": self.detected,
            "quality": {"passed": self.quality_passed, "reasons": list(self.quality_reasons)},
            "scores": {k: v.as_dict() for k, v in self.scores.items()},
            "heart_rate": self.heart_rate.as_dict() if self.heart_rate else None,
            "expression_motion": None if self.expression_motion is None else round(self.expression_motion, 4),
            "dropped_frames": self.dropped_frames,
            "latency_ms": round(self.latency_ms, 2),
            "stimulus": self.stimulus,
            "warnings": list(self.warnings),
            "resolution_change": self.resolution_change,
        }

    def to_json(self) -> str:
        return json.dumps(_finite(self.as_dict()), allow_nan=False)


def _finite(value: Any) -> Any:
    """NaN and infinities become null: strict JSON has no NaN, and consumers choke on it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class EventWriter:
    """Writes events as JSON lines to a file (flushed per line, so a consumer can tail it)."""

    def __init__(self, path: str | Path) -> None:
        try:
            self._fh: IO[str] = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise OutputError(f"cannot write events to '{path}': {exc}") from exc

    def write(self, event: LiveEvent) -> None:
        self._fh.write(event.to_json() + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
