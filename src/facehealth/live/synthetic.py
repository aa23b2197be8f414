"""Generated face videos with a planted pulse, for tests and benchmarks of the live engine.

A still face photo is placed on a 640x480 canvas; every frame the skin (face hull and forehead,
minus eyes and mouth) is brightened by a pulsatile wave at a known BPM with the relative channel
amplitudes of real PPG (green strongest: R:G:B = 0.33:0.77:0.53, Wang et al. 2017 fig. 2). Then
come lighting drift, small head shifts, sensor noise and JPEG compression, each switchable, so a
test can plant exactly the difficulty it means to measure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facehealth.errors import OutputError
from facehealth.live.rppg import skin_polygons

__all__ = [
    "PulseVideoSpec",
    "SyntheticFrame",
    "place_face",
    "skin_mask",
    "pulse_frames",
    "write_video",
    "write_y4m",
]

_PPG_SIGNATURE = np.array([0.33, 0.77, 0.53]) / 0.77  # relative to green


@dataclass(frozen=True)
class PulseVideoSpec:
    """What to plant. ``amplitude`` is the green channel's relative change (real PPG: ~0.1-1%)."""

    bpm: float | None = 72.0  # None: no pulse at all
    seconds: float = 12.0
    fps: float = 30.0
    amplitude: float = 0.004
    motion_px: float = 2.0  # peak head shift in pixels (slow sinusoids)
    drift: float = 0.05  # relative lighting change over the clip, plus a 0.1 Hz flicker of drift/4
    noise: float = 1.5  # Gaussian sensor noise (8-bit levels)
    jpeg_quality: int | None = 85  # None: no compression
    seed: int = 0


@dataclass(frozen=True)
class SyntheticFrame:
    """One generated RGB frame with the ground truth a test checks against."""

    index: int
    timestamp: float
    image: np.ndarray  # (H, W, 3) uint8 RGB
    shift: tuple[float, float]  # (dx, dy) applied to the face this frame
    pulse: float  # planted pulse value in [-1, 1]


def place_face(image: np.ndarray, size: tuple[int, int] = (640, 480)) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Fit an RGB photo into a ``size`` canvas (scaled to the canvas height, centred), grey padded.

    Returns the canvas, the scale and the (x, y) offset, so landmarks can be mapped onto it.
    """
    w, h = size
    scale = min(h / image.shape[0], w / image.shape[1])
    resized = cv2.resize(
        image, (int(image.shape[1] * scale), int(image.shape[0] * scale)), interpolation=cv2.INTER_AREA
    )
    canvas = np.full((h, w, 3), 110, np.uint8)
    ox, oy = (w - resized.shape[1]) // 2, (h - resized.shape[0]) // 2
    canvas[oy : oy + resized.shape[0], ox : ox + resized.shape[1]] = resized
    return canvas, scale, (ox, oy)


def skin_mask(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """(H, W) float mask in [0, 1] of the skin that pulses: face hull + forehead, minus eyes and mouth."""
    mask = np.zeros(shape, np.uint8)
    forehead = skin_polygons(landmarks)[0]
    hull = cv2.convexHull(np.vstack([landmarks[:17], forehead]).astype(np.float32)).astype(np.int32)
    cv2.fillPoly(mask, [hull], 255)
    for idx in (range(36, 42), range(42, 48), range(48, 60)):
        cv2.fillPoly(mask, [np.round(landmarks[list(idx)]).astype(np.int32)], 0)
    return cv2.GaussianBlur(mask, (0, 0), 3).astype(np.float32) / 255.0


def pulse_frames(base: np.ndarray, mask: np.ndarray, spec: PulseVideoSpec) -> Iterator[SyntheticFrame]:
    """Yield ``spec.seconds * spec.fps`` frames of ``base`` with the planted pulse and nuisances."""
    rng = np.random.default_rng(spec.seed)
    h, w = base.shape[:2]
    base_f = base.astype(np.float32)
    # The pulse is applied on the mask's bounding box only (the rest of the frame has gain 1).
    ys, xs = np.nonzero(mask > 0)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop_mask = mask[y0:y1, x0:x1, None]
    n = int(round(spec.seconds * spec.fps))
    phase = rng.uniform(0, 2 * np.pi)
    for i in range(n):
        t = i / spec.fps
        if spec.bpm is None:
            p = 0.0
        else:
            # Systolic peak plus a dicrotic harmonic: a PPG wave is not a pure sine.
            f = spec.bpm / 60.0
            p = (np.sin(2 * np.pi * f * t + phase) + 0.3 * np.sin(4 * np.pi * f * t + 2 * phase)) / 1.3
        light = 1.0 + spec.drift * (t / max(spec.seconds, 1e-6)) + 0.25 * spec.drift * np.sin(2 * np.pi * 0.1 * t)
        frame = base_f * np.float32(light)
        gain = 1.0 + crop_mask * (spec.amplitude * p * _PPG_SIGNATURE).astype(np.float32)
        frame[y0:y1, x0:x1] *= gain
        dx = spec.motion_px * np.sin(2 * np.pi * 0.23 * t)
        dy = spec.motion_px * 0.7 * np.sin(2 * np.pi * 0.17 * t + 1.0)
        if spec.motion_px:
            m = np.float32([[1, 0, dx], [0, 1, dy]])
            frame = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if spec.noise:
            frame = frame + np.float32(spec.noise) * rng.standard_normal(frame.shape, dtype=np.float32)
        out = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        if spec.jpeg_quality is not None:
            ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
        yield SyntheticFrame(i, t, out, (float(dx), float(dy)), float(p))


def write_video(path: str | Path, frames: Iterator[SyntheticFrame], fps: float) -> int:
    """Write frames to an .avi (MJPG: near-lossless, so the planted pulse survives); returns the count."""
    writer = None
    count = 0
    try:
        for fr in frames:
            if writer is None:
                h, w = fr.image.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
                if not writer.isOpened():
                    raise OutputError(f"cannot write video '{path}'")
            writer.write(fr.image[..., ::-1])
            count += 1
    finally:
        if writer is not None:
            writer.release()
    return count


def write_y4m(path: str | Path, frames: Iterator[SyntheticFrame], fps: int) -> int:
    """Write frames as uncompressed YUV4MPEG2 (4:2:0); returns the count.

    This is the format Chromium plays as a fake camera
    (``--use-file-for-fake-video-capture=clip.y4m``), so the live web page can be tried and tested
    without a camera. Width and height must be even (4:2:0 halves both for the chroma planes).
    """
    count = 0
    try:
        with open(path, "wb") as fh:
            for fr in frames:
                h, w = fr.image.shape[:2]
                if count == 0:
                    if h % 2 or w % 2:
                        raise OutputError(f"a Y4M video needs an even width and height, not {w}x{h}")
                    fh.write(f"YUV4MPEG2 W{w} H{h} F{int(fps)}:1 Ip A1:1 C420jpeg\n".encode())
                fh.write(b"FRAME\n" + cv2.cvtColor(fr.image, cv2.COLOR_RGB2YUV_I420).tobytes())
                count += 1
    except OSError as exc:
        raise OutputError(f"cannot write video '{path}': {exc}") from exc
    return count
