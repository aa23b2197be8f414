"""The annotated preview video: box, landmarks, scores with intervals, heart rate and warnings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np

from facehealth.errors import OutputError
from facehealth.live.events import LiveEvent

__all__ = ["draw_event", "PreviewWriter"]

_GREEN, _AMBER, _RED, _WHITE = (0, 200, 0), (255, 180, 0), (230, 40, 40), (255, 255, 255)


def _text(img: np.ndarray, text: str, org: tuple[int, int], colour: tuple[int, int, int], scale: float = 0.5) -> None:
    # A dark outline keeps text readable on any background.
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def draw_event(frame: np.ndarray, event: LiveEvent, landmarks: np.ndarray | None = None) -> np.ndarray:
    """A copy of the RGB frame with the event drawn on it."""
    img = frame.copy()
    if event.box is not None:
        colour = _GREEN if event.quality_passed else _AMBER
        x0, y0, x1, y1 = (int(round(v)) for v in event.box)
        cv2.rectangle(img, (x0, y0), (x1, y1), colour, 2)
        _text(
            img, f"track {event.track_id}" + ("" if event.quality_passed else " (low quality)"), (x0, y1 + 16), colour
        )  # below: the text panel is top-left
        if landmarks is not None:
            for x, y in np.round(landmarks).astype(int):
                cv2.circle(img, (int(x), int(y)), 1, colour, -1)
    lines = []
    hr = event.heart_rate
    if hr is not None:
        lines.append((f"HR {hr.bpm:.0f} bpm (SNR {hr.snr_db:.1f} dB)", _GREEN if hr.reliable else _AMBER))
    else:
        lines.append(("HR: collecting signal", _WHITE))
    for name, est in event.scores.items():
        if est.value is None:
            lines.append((f"{name}: not enough good frames yet ({est.n_frames})", _WHITE))
        elif est.interval is None:
            lines.append((f"{name}: {est.value:.2f} (uncalibrated, n={est.n_frames})", _WHITE))
        else:
            lines.append(
                (f"{name}: {est.value:.2f} [{est.interval[0]:.2f}, {est.interval[1]:.2f}] (n={est.n_frames})", _WHITE)
            )
    if event.stimulus:
        lines.append((f"stimulus: {event.stimulus}", _WHITE))
    lines.append((f"frame {event.frame_index}  dropped {event.dropped_frames}", _WHITE))
    for i, (line, colour) in enumerate(lines):
        _text(img, line, (8, 18 + 18 * i), colour)
    wrapped = [line for w in event.warnings for line in textwrap.wrap(w, 75)]
    for i, line in enumerate(reversed(wrapped)):  # at the bottom, last line lowest
        _text(img, line, (8, img.shape[0] - 10 - 16 * i), _RED, 0.42)
    return img


class PreviewWriter:
    """Writes annotated frames to a video file (mp4v for .mp4, MJPG otherwise).

    The video has the first frame's size. A later frame of another size (the source changed
    resolution) is scaled to fit, aspect kept, on black bars: OpenCV's writer has one frame size
    and silently skips every frame of another (measured: 10 of 30 frames written, the rest only
    logged as "Failed to write frame").
    """

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path, self.fps = Path(path), fps
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None  # (width, height) of the video
        self.fitted = 0  # frames scaled to fit because their size differed

    def write(self, frame_rgb: np.ndarray) -> None:
        if self._writer is None:
            h, w = frame_rgb.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() == ".mp4" else "MJPG"))
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise OutputError(f"cannot write preview video '{self.path}'")
            self._size = (w, h)
        assert self._size is not None
        if frame_rgb.shape[1::-1] != self._size:
            frame_rgb = _letterbox(frame_rgb, self._size)
            self.fitted += 1
        self._writer.write(np.ascontiguousarray(frame_rgb[..., ::-1]))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def _letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled to fit a ``size`` (width, height) black canvas, centred, aspect kept."""
    w, h = size
    scale = min(w / image.shape[1], h / image.shape[0])
    fw, fh = max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
    canvas = np.zeros((h, w, 3), np.uint8)
    x, y = (w - fw) // 2, (h - fh) // 2
    canvas[y : y + fh, x : x + fw] = cv2.resize(image, (fw, fh), interpolation=cv2.INTER_AREA)
    return canvas
