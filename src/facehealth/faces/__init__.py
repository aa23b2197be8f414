"""Face pipeline: read images and videos, detect faces, 68 landmarks, align, quality-gate.

Importing this package is cheap: models load when a pipeline or detector is created.

Example:
    >>> from facehealth.faces import FacePipeline
    >>> result = FacePipeline().process_file("photo.jpg")  # doctest: +SKIP
    >>> [f.quality.passed for f in result.faces]  # doctest: +SKIP
"""

from typing import Any

from facehealth.faces.config import AlignConfig, DetectorConfig, FacesConfig, QualityConfig, VideoConfig
from facehealth.faces.records import AlignedFace, BoundingBox, Detection, Face, FrameResult, QualityReport, Reason

__all__ = [
    "AlignConfig",
    "DetectorConfig",
    "FacesConfig",
    "QualityConfig",
    "VideoConfig",
    "AlignedFace",
    "BoundingBox",
    "Detection",
    "Face",
    "FrameResult",
    "QualityReport",
    "Reason",
    "FacePipeline",
    "prepare_faces",
    "read_image",
    "iter_video_frames",
    "create_detector",
    "list_detectors",
]


def __getattr__(name: str) -> Any:  # lazy attributes keep `import facehealth.faces` light
    if name == "FacePipeline":
        from facehealth.faces.pipeline import FacePipeline

        return FacePipeline
    if name == "prepare_faces":
        from facehealth.faces.prepare import prepare_faces

        return prepare_faces
    if name in ("read_image", "iter_video_frames"):
        from facehealth.faces import io

        return getattr(io, name)
    if name in ("create_detector", "list_detectors"):
        from facehealth.faces import detect

        return getattr(detect, name)
    raise AttributeError(f"module 'facehealth.faces' has no attribute '{name}'")
