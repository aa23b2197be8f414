"""Face detectors behind one interface, and a registry to create them by name.

A detector is any object with a ``name`` and ``detect(image) -> list[Detection]``
taking an (H, W, 3) uint8 RGB array. Three ship with facehealth:

- ``blazeface`` (default): MediaPipe's full-range BlazeFace, ~5-15 ms a photo,
  finds small faces (see :mod:`facehealth.faces.blazeface`).
- ``dlib_hog``: dlib's HOG + linear SVM; slower, misses faces under ~80 px at
  ``upsample=0``; a fallback with no LiteRT dependency.
- ``haar``: OpenCV's Haar cascade (opencv < 5 ships the XML); more false positives.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from facehealth.errors import ConfigError, ModelNotFoundError
from facehealth.faces.records import BoundingBox, Detection

__all__ = ["FaceDetector", "create_detector", "list_detectors", "register_detector", "DlibHogDetector", "HaarDetector"]


@runtime_checkable
class FaceDetector(Protocol):
    """What the pipeline needs from a detector."""

    name: str

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Return the faces in an (H, W, 3) uint8 RGB image, best first."""
        ...


_REGISTRY: dict[str, Callable[..., FaceDetector]] = {}


def register_detector(name: str) -> Callable[[Callable[..., FaceDetector]], Callable[..., FaceDetector]]:
    """Decorator that makes a detector factory available to :func:`create_detector`."""

    def wrap(factory: Callable[..., FaceDetector]) -> Callable[..., FaceDetector]:
        _REGISTRY[name] = factory
        return factory

    return wrap


def list_detectors() -> list[str]:
    return sorted(_REGISTRY)


def create_detector(name: str, **kwargs: Any) -> FaceDetector:
    """Create a registered detector.

    Raises:
        ConfigError: ``name`` is not registered; the message lists close matches.
    """
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown detector '{name}'.{hint} Available: {', '.join(list_detectors())}")
    return _REGISTRY[name](**kwargs)


@register_detector("blazeface")
def _blazeface(**kwargs: Any) -> FaceDetector:
    from facehealth.faces.blazeface import BlazeFaceDetector

    return BlazeFaceDetector(**kwargs)


@register_detector("dlib_hog")
class DlibHogDetector:
    """dlib's frontal HOG detector. ``upsample`` doubles the image that many times (finds smaller faces)."""

    name = "dlib_hog"

    def __init__(self, upsample: int = 1, min_score: float = 0.0) -> None:
        import dlib

        self.upsample = upsample
        self.min_score = min_score
        self._detector = dlib.get_frontal_face_detector()

    def detect(self, image: np.ndarray) -> list[Detection]:
        rects, scores, _ = self._detector.run(image, self.upsample, self.min_score)
        found = [
            Detection(BoundingBox(r.left(), r.top(), r.right() + 1, r.bottom() + 1), _squash(s), None, self.name)
            for r, s in zip(rects, scores)
        ]
        return sorted(found, key=lambda d: -d.score)


@register_detector("haar")
class HaarDetector:
    """OpenCV's frontal-face Haar cascade (needs opencv-python < 5, which ships the XML)."""

    name = "haar"

    def __init__(self, cascade_path: str | Path | None = None, min_size: int = 30) -> None:
        import cv2

        if cascade_path is None:
            root = getattr(getattr(cv2, "data", None), "haarcascades", "")
            cascade_path = Path(root) / "haarcascade_frontalface_default.xml"
        if not Path(cascade_path).is_file():
            raise ModelNotFoundError(f"Haar cascade not found at {cascade_path} (opencv 5 ships none; use opencv < 5)")
        self._cascade = cv2.CascadeClassifier(str(cascade_path))
        self.min_size = min_size

    def detect(self, image: np.ndarray) -> list[Detection]:
        import cv2

        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        boxes, _, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size, self.min_size), outputRejectLevels=True
        )
        found = [
            Detection(BoundingBox(x, y, x + w, y + h), _squash(float(s)), None, self.name)
            for (x, y, w, h), s in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).ravel())
        ]
        return sorted(found, key=lambda d: -d.score)


def _squash(margin: float) -> float:
    """Map an SVM/cascade margin onto (0, 1) so scores read like probabilities."""
    return float(1.0 / (1.0 + np.exp(-margin)))
