"""The live engine: frames in, one :class:`~facehealth.live.events.LiveEvent` per processed frame out.

Per frame: track the face (:class:`~facehealth.live.tracker.FaceTracker`: detection every N
frames, optical flow between), gate its quality, feed its skin colour to rPPG, measure its
expression motion, and, at ``score_every_s``, run the user's model on the best-quality frame
seen since the last scoring, added to quality-weighted rolling scores. A new track id resets
every per-person state (rPPG window, motion history, scores), so two people are never mixed.
A frame whose size differs from the previous one (a stream switching resolution, a phone turned
on its side) ends the track the same way, and says so: the event's ``resolution_change``, a
warning naming every change, and ``resolution_changes`` on the engine.

Example::

    engine = LiveEngine(LiveConfig(detect_every=10), model=facehealth.load("ckpt.pt"))
    for event in engine.run(open_source("clip.mp4")):
        print(event.to_json())
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from facehealth.data.stimuli import StimulusMarker
from facehealth.errors import FaceHealthError
from facehealth.faces.motion import expression_motion
from facehealth.faces.pipeline import FacePipeline
from facehealth.faces.records import ResolutionChange, resolution_warning
from facehealth.live.events import LiveEvent
from facehealth.live.rolling import IntervalFn, RollingScores, conformal_interval_fn, quality_weight
from facehealth.live.rppg import RppgEstimator, skin_mean_rgb
from facehealth.live.sources import Frame
from facehealth.live.tracker import FaceTracker, TrackedFace
from facehealth.models.predictor import SYNTHETIC_WARNING

__all__ = ["LiveConfig", "LiveEngine", "StimulusMarker", "frame_scores"]


@dataclass(frozen=True)
class LiveConfig:
    """Engine settings; each default says why it has that value."""

    detect_every: int = 10  # 3 re-detections a second at 30 fps: catches a new person within 0.33 s
    rppg_method: str = "pos"  # POS was the more robust of the two to motion in Wang et al. 2017
    rppg_window_s: float = 10.0  # 0.1 Hz spectral resolution; longer lags a changing heart rate
    hr_every_s: float = 1.0  # the FFT of a 10 s window changes little faster than this
    # 5 Hz: a ViT-Ti/16 at 64 px scores a crop in ~12 ms on 2 cores, so the loop stays far above
    # 30 fps (benchmarks/live.py); a model slow enough to fall behind drops frames, never queues.
    score_every_s: float = 0.2
    score_window_s: float = 10.0
    min_score_frames: int = 3  # below this the estimate is "not enough good frames yet"
    motion_window: int = 60  # frames of landmark history for the expression-motion baseline (2 s)
    max_seconds: float | None = None  # stop after this much source time
    check_identity: bool = True  # dlib descriptor on each detection (~30 ms): catches a swap in place


class ScoringModel(Protocol):
    """What the engine needs of a model: :class:`~facehealth.models.predictor.FaceHealthModel` fits."""

    meta: Any

    def predict(self, source: np.ndarray) -> Any: ...


def frame_scores(prediction: Any) -> dict[str, float]:
    """Flatten a Prediction's regression values, binary probabilities and risks into columns."""
    out = {k: float(v) for k, v in prediction.values.items()}
    for name, p in prediction.probabilities.items():
        if isinstance(p, dict):
            out.update({f"{name}:{c}": float(v) for c, v in p.items()})
        else:
            out[name] = float(p)
    out.update({f"{k}_risk": float(v) for k, v in prediction.risks.items()})
    return out


class LiveEngine:
    """Runs the live loop over a frame source (see the module docstring).

    Args:
        config: engine settings.
        pipeline: the face pipeline (default: the project's BlazeFace + dlib pipeline).
        model: optional scoring model (``facehealth.load(ckpt)``); without one the engine reports
            heart rate and expression motion only.
        interval_fn: ``(column, value, n_frames) -> (low, high) | None``; default uses the checkpoint's
            photo-level calibration (:func:`~facehealth.live.rolling.conformal_interval_fn`).
        extra_scorers: optional hooks ``crop -> {column: value}`` (e.g. an apparent-age net),
            run on the same frames as the model.
        markers: stimulus onsets to copy into events.
    """

    def __init__(
        self,
        config: LiveConfig | None = None,
        pipeline: FacePipeline | None = None,
        model: ScoringModel | None = None,
        interval_fn: IntervalFn | None = None,
        extra_scorers: Sequence[Callable[[np.ndarray], dict[str, float]]] = (),
        markers: Sequence[StimulusMarker] = (),
    ) -> None:
        self.config = config or LiveConfig()
        self.pipeline = pipeline or FacePipeline()
        self.model = model
        if interval_fn is None and model is not None:
            interval_fn = conformal_interval_fn(model.meta)
        self.interval_fn = interval_fn
        self.extra_scorers = tuple(extra_scorers)
        self.markers = tuple(sorted(markers, key=lambda m: m.onset))
        synthetic = bool(model is not None and getattr(model.meta, "synthetic", False))
        self._base_warnings: tuple[str, ...] = (SYNTHETIC_WARNING,) if synthetic else ()
        self.warnings = self._base_warnings
        self.resolution_changes: list[ResolutionChange] = []
        self._frame_size: tuple[int, int] | None = None  # (width, height) of the previous frame
        embed = None
        if self.config.check_identity:
            from facehealth.models.descriptor import DlibFaceDescriptor

            embed = DlibFaceDescriptor().embed
        self.tracker = FaceTracker(self.pipeline, detect_every=self.config.detect_every, embed=embed)
        self.scored_frames = 0  # model calls made (for the score refresh rate)
        self.model_failures = 0
        self._new_track_state()
        self._track_id: int | None = None
        self.last_face: TrackedFace | None = None

    def _new_track_state(self) -> None:
        c = self.config
        self.rppg = RppgEstimator(c.rppg_method, window_s=c.rppg_window_s)
        self.scores = RollingScores(self.interval_fn, window_s=c.score_window_s, min_frames=c.min_score_frames)
        self._shapes: deque[np.ndarray] = deque(maxlen=c.motion_window)
        self._hr = None
        self._hr_at = -np.inf
        self._scored_at = -np.inf
        self._best: tuple[float, np.ndarray, float] | None = None  # (weight, crop, timestamp)

    def run(self, frames: Iterable[Frame]) -> Iterator[LiveEvent]:
        """Process frames until the source ends (or ``max_seconds``); yields one event per frame."""
        for _, event in self.run_with_frames(frames):
            yield event

    def run_with_frames(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, LiveEvent]]:
        """As :meth:`run`, with each frame next to its event (for drawing a preview)."""
        for frame in frames:
            if self.config.max_seconds is not None and frame.timestamp > self.config.max_seconds:
                break
            yield frame, self.step(frame, dropped=int(getattr(frames, "dropped", 0)))

    def step(self, frame: Frame, dropped: int = 0) -> LiveEvent:
        """Process one frame (the API a service pushing frames calls directly)."""
        started = time.perf_counter()
        change = self._check_size(frame)
        face = self.tracker.update(frame.image)
        self.last_face = face  # for the preview overlay (landmarks are not in the event)
        if face is not None and face.track_id != self._track_id:
            self._track_id = face.track_id
            self._new_track_state()  # a different person: nothing carries over
        stimulus = self._stimulus_at(frame.timestamp)
        if face is None:
            return LiveEvent(
                frame.index, frame.timestamp, None, None, False, False, ("no_face",), dropped_frames=dropped,
                latency_ms=1e3 * (time.perf_counter() - started), stimulus=stimulus, warnings=self.warnings,
                resolution_change=None if change is None else str(change),
            )  # fmt: skip
        self.rppg.push(frame.timestamp, skin_mean_rgb(frame.image, face.landmarks))
        if _due(frame.timestamp, self._hr_at, self.config.hr_every_s):
            self._hr, self._hr_at = self.rppg.estimate(), frame.timestamp
        motion = self._motion(face)
        if face.quality.passed:
            self._offer_for_scoring(frame, face)
        if _due(frame.timestamp, self._scored_at, self.config.score_every_s) and self._best is not None:
            self._score()
            self._scored_at = frame.timestamp
        return LiveEvent(
            frame.index,
            frame.timestamp,
            face.track_id,
            tuple(face.box.as_list()),  # type: ignore[arg-type]
            face.detected,
            face.quality.passed,
            tuple(face.quality.reasons),
            scores=self.scores.estimates(),
            heart_rate=self._hr,
            expression_motion=motion,
            dropped_frames=dropped,
            latency_ms=1e3 * (time.perf_counter() - started),
            stimulus=stimulus,
            warnings=self.warnings,
            resolution_change=None if change is None else str(change),
        )

    def _check_size(self, frame: Frame) -> ResolutionChange | None:
        """End the track when the frame size changes; returns the change, None when the size is the same.

        Positions cannot carry over: the new frame may be the old picture scaled, cropped or
        letterboxed (and optical flow between two sizes is an OpenCV assertion error). So the
        tracker re-detects, which starts a new track id, and every per-track state restarts with
        it. The rPPG window restarts rather than being normalised: mean skin RGB is a per-pixel
        average, but a new resolution is a new encode (scaler, chroma subsampling, bitrate), and on
        the corpus video it steps by 0.3-1.7% per channel at each change, as large as the 0.1-1%
        pulse; a step inside the window is broadband power, i.e. a false spectral peak. The motion
        history is already scale-free (aligned-crop coordinates) and simply restarts with its track.
        """
        size = (int(frame.image.shape[1]), int(frame.image.shape[0]))
        before, self._frame_size = self._frame_size, size
        if before is None or before == size:
            return None
        change = ResolutionChange(frame.index, before, size)
        self.resolution_changes.append(change)
        self.tracker.reset()
        self._track_id = None
        self._new_track_state()
        restarted = "the face track, heart-rate window and motion history restarted at each change"
        self.warnings = (*self._base_warnings, f"{resolution_warning(self.resolution_changes)}; {restarted}")
        return change

    def _motion(self, face: TrackedFace) -> float | None:
        """Mean landmark displacement (IODs) of this frame from the track's recent median shape."""
        self._shapes.append(face.aligned_landmarks)
        if len(self._shapes) < 5:
            return None
        return float(np.linalg.norm(expression_motion(np.stack(self._shapes))[-1], axis=1).mean())

    def _offer_for_scoring(self, frame: Frame, face: TrackedFace) -> None:
        if self.model is None and not self.extra_scorers:
            return
        q = face.quality
        weight = quality_weight(q.blur, q.yaw, q.pitch, self.pipeline.config.quality.min_blur)
        if self._best is None or weight > self._best[0]:
            self._best = (weight, _face_crop(frame.image, face), frame.timestamp)

    def _score(self) -> None:
        """Run the model on the best frame since the last scoring; a frame it rejects is skipped."""
        assert self._best is not None
        weight, crop, timestamp = self._best
        self._best = None
        values: dict[str, float] = {}
        if self.model is not None:
            try:
                values.update(frame_scores(self.model.predict(crop)))
                self.scored_frames += 1
            except FaceHealthError:  # the model's own gate may still reject a crop
                self.model_failures += 1
        for scorer in self.extra_scorers:
            values.update(scorer(crop))
        if values:
            self.scores.add(timestamp, values, weight)

    def _stimulus_at(self, t: float) -> str | None:
        for m in self.markers:
            if m.onset <= t < m.onset + m.duration:
                return m.label
        return None


def _due(now: float, last: float, every: float) -> bool:
    """Whether ``every`` seconds have passed since ``last``, to within 1 ms.

    Frame times are multiples of 1/fps in floating point: 6 frames at 30 fps sum to 0.19999... s,
    and a strict ``>= 0.2`` would wait for a 7th frame, refreshing at 4.3 Hz instead of 5.
    """
    return now - last >= every - 1e-3


def _face_crop(image: np.ndarray, face: TrackedFace, margin: float = 0.6) -> np.ndarray:
    """The tracked face with ``margin`` box widths around it: the model sees this person only."""
    h, w = image.shape[:2]
    b = face.box
    mx, my = margin * b.width, margin * b.height
    x0, y0 = max(int(b.x0 - mx), 0), max(int(b.y0 - my), 0)
    x1, y1 = min(int(b.x1 + mx), w), min(int(b.y1 + my), h)
    return np.ascontiguousarray(image[y0:y1, x0:x1])
