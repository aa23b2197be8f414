"""Records that the face pipeline passes between its steps (frozen dataclasses).

Coordinates are pixels of the *original* image, x to the right and y down,
unless a field says otherwise. Arrays are NumPy; records never hold torch
tensors so that ``facehealth.faces`` stays importable without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "BoundingBox",
    "Detection",
    "QualityReport",
    "AlignedFace",
    "Face",
    "FrameResult",
    "Reason",
    "ResolutionChange",
    "resolution_warning",
]


class Reason:
    """Why a frame or a face was rejected. Plain strings so they serialise as-is."""

    UNREADABLE = "unreadable"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    TOO_SMALL = "too_small"
    PARTIAL = "partial_face"
    BLURRY = "blurry"
    EXTREME_POSE = "extreme_pose"
    UNDEREXPOSED = "underexposed"
    OVEREXPOSED = "overexposed"
    NOT_SELECTED = "not_selected"  # a valid face dropped by the multi-face policy "largest"

    ALL = (
        UNREADABLE,
        NO_FACE,
        MULTIPLE_FACES,
        TOO_SMALL,
        PARTIAL,
        BLURRY,
        EXTREME_POSE,
        UNDEREXPOSED,
        OVEREXPOSED,
        NOT_SELECTED,
    )


@dataclass(frozen=True)
class BoundingBox:
    """Axis-aligned box ``[x0, x1) x [y0, y1)`` in pixels."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)

    def iou(self, other: BoundingBox) -> float:
        """Intersection over union; 0 for disjoint boxes."""
        ix = max(0.0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0.0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def outside_fraction(self, width: int, height: int) -> float:
        """Fraction of the box area that lies outside a ``width x height`` image."""
        if self.area <= 0:
            return 1.0
        ix = max(0.0, min(self.x1, width) - max(self.x0, 0.0))
        iy = max(0.0, min(self.y1, height) - max(self.y0, 0.0))
        return 1.0 - (ix * iy) / self.area

    def as_list(self) -> list[float]:
        return [float(self.x0), float(self.y0), float(self.x1), float(self.y1)]


@dataclass(frozen=True, eq=False)
class Detection:
    """One face found by a detector.

    Attributes:
        box: face box in image pixels.
        score: detector confidence in [0, 1] (detectors without a score report 1).
        keypoints: optional (K, 2) coarse keypoints; BlazeFace gives 6 (eyes,
            nose tip, mouth, tragions), from the subject's right to left eye.
        detector: name of the detector that produced it.
    """

    box: BoundingBox
    score: float
    keypoints: np.ndarray | None = None
    detector: str = ""


@dataclass(frozen=True)
class QualityReport:
    """Outcome of the quality gate for one face; ``reasons`` is empty when it passed."""

    reasons: tuple[str, ...]
    face_px: float  # box width in pixels of the original image
    blur: float  # variance of the Laplacian of the aligned grey crop; low = blurry
    brightness: float  # mean grey level of the aligned crop's centre, 0-255
    yaw: float  # degrees, + = nose pointing to the image's right
    pitch: float  # degrees, + = nose pointing down
    roll: float  # degrees, in-plane rotation of the eye line
    outside_fraction: float  # share of the face box outside the image

    @property
    def passed(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "face_px": round(self.face_px, 2),
            "blur": round(self.blur, 2),
            "brightness": round(self.brightness, 2),
            "yaw": round(self.yaw, 2),
            "pitch": round(self.pitch, 2),
            "roll": round(self.roll, 2),
            "outside_fraction": round(self.outside_fraction, 4),
        }


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """A face warped to the canonical template.

    Attributes:
        image: (size, size, 3) uint8 RGB crop.
        matrix: (2, 3) similarity transform mapping original-image pixels to crop
            pixels; :meth:`to_original` maps crop points (e.g. a saliency peak) back.
    """

    image: np.ndarray
    matrix: np.ndarray

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) crop coordinates back to original-image coordinates."""
        inverse = _invert_affine(self.matrix)
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return pts @ inverse[:, :2].T + inverse[:, 2]

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) original-image coordinates into the crop."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return pts @ self.matrix[:, :2].T + self.matrix[:, 2]


@dataclass(frozen=True, eq=False)
class Face:
    """Everything the pipeline knows about one face in one image or frame."""

    detection: Detection
    landmarks: np.ndarray  # (68, 2) iBUG 300-W order, original-image pixels
    quality: QualityReport
    aligned: AlignedFace | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "box": [round(v, 2) for v in self.detection.box.as_list()],
            "score": round(float(self.detection.score), 4),
            "detector": self.detection.detector,
            "landmarks": np.round(self.landmarks, 2).tolist(),
            "quality": self.quality.as_dict(),
        }


@dataclass(frozen=True, eq=False)
class FrameResult:
    """Result of the pipeline on one image or video frame.

    ``faces`` holds the faces the multi-face policy kept (each with its own
    quality report); ``rejected`` counts every face or frame that was not kept,
    by reason, so that nothing disappears silently.
    """

    source: str
    frame_index: int | None
    timestamp: float | None
    image_size: tuple[int, int]  # (width, height)
    faces: tuple[Face, ...]
    detected: int  # number of faces the detector found before any policy
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def accepted(self) -> tuple[Face, ...]:
        """Faces that passed the quality gate."""
        return tuple(f for f in self.faces if f.quality.passed)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; ``source`` and ``quality`` (one report per kept face) as in ``Prediction.as_dict``."""
        width, height = self.image_size
        return {
            "source": self.source,
            "frame_index": self.frame_index,
            "timestamp": self.timestamp,
            "width": width,
            "height": height,
            "detected": self.detected,
            "rejected": dict(self.rejected),
            "quality": [f.quality.as_dict() for f in self.faces],
            "faces": [f.as_dict() for f in self.faces],
        }


@dataclass(frozen=True)
class ResolutionChange:
    """A video's frame size changed mid-stream (a broadcast or adaptive stream, a rotated phone).

    ``frame_index`` is the first frame seen at the new size; when a reader samples frames, the
    change may lie up to one sampling step earlier.
    """

    frame_index: int
    before: tuple[int, int]  # (width, height)
    after: tuple[int, int]

    def __str__(self) -> str:
        return f"resolution changed at frame {self.frame_index}: {_wxh(self.before)} -> {_wxh(self.after)}"


def resolution_warning(changes: Sequence[ResolutionChange], shown: int = 3) -> str | None:
    """One line naming every change (the first ``shown``, then how many more); None when there is none.

    Bounded, so a stream that switches resolution every few seconds for hours still gives one
    readable warning instead of thousands.
    """
    if not changes:
        return None
    parts = [str(changes[0])] + [
        f"at frame {c.frame_index}: {_wxh(c.before)} -> {_wxh(c.after)}" for c in changes[1:shown]
    ]
    more = f" and {len(changes) - shown} more" if len(changes) > shown else ""
    count = f" ({len(changes)} changes)" if len(changes) > 1 else ""
    return "; ".join(parts) + more + count


def _wxh(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _invert_affine(matrix: np.ndarray) -> np.ndarray:
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]
