"""Configuration of the face pipeline (``configs/faces.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["DetectorConfig", "AlignConfig", "QualityConfig", "VideoConfig", "FacesConfig"]


@dataclass(frozen=True)
class DetectorConfig:
    name: str = "blazeface"  # blazeface | dlib_hog | haar
    # MediaPipe's full-range graph keeps detections >= 0.6; at 0.5 a folded-arms
    # region in biden.jpg passes as a face.
    min_score: float = 0.6
    model_path: str | None = None  # .tflite / cascade; None = the packaged copy
    tile: bool = True  # BlazeFace: also scan square tiles of wide/tall images
    upsample: int = 1  # dlib_hog only: finds faces under ~80 px at the cost of ~4x time


@dataclass(frozen=True)
class AlignConfig:
    size: int = 224  # crop side in pixels; ViT/ResNet inputs
    # Eye centres sit at (0.5 -/+ eye_distance/2, eye_y) of the crop. 0.25 leaves
    # room for forehead, both ears (earlobe crease) and the chin at frontal pose.
    eye_distance: float = 0.25
    eye_y: float = 0.38

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ValueError(f"align.size must be >= 16, got {self.size}")
        if not 0.05 <= self.eye_distance <= 0.9:
            raise ValueError(f"align.eye_distance must be in [0.05, 0.9], got {self.eye_distance}")
        if not 0.1 <= self.eye_y <= 0.9:
            raise ValueError(f"align.eye_y must be in [0.1, 0.9], got {self.eye_y}")


@dataclass(frozen=True)
class QualityConfig:
    min_face_px: float = 40.0  # box width; below this the 68 landmarks get unreliable
    # Variance of the Laplacian of the centre of the aligned 224-px grey crop.
    # Sharp fixture faces score 60-2000; a Gaussian blur of the photo with sigma
    # 2 / 3 / 5 px brings obama.jpg to 68 / 33 / 14, so 25 rejects sigma >= ~4.
    min_blur: float = 25.0
    # Degrees, from a generic 3D head fitted to 6 landmarks. Frontal fixture photos
    # read within 5 deg; obama2.jpg (turned) 34; skimage's near-profile camera() 45.
    max_yaw: float = 40.0
    max_pitch: float = 35.0
    min_brightness: float = 40.0  # mean grey level of the face centre, 0-255
    max_brightness: float = 225.0
    max_outside: float = 0.05  # share of the face box allowed outside the image


@dataclass(frozen=True)
class VideoConfig:
    fps: float | None = 5.0  # frames kept per second of video; None = use every_n
    every_n: int = 1
    max_frames: int | None = None


@dataclass(frozen=True)
class FacesConfig:
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    landmarks_model: str | None = None  # dlib 68-point .dat; None = packaged copy
    align: AlignConfig = field(default_factory=AlignConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    # Several faces in one image: keep the largest (others counted as not_selected),
    # keep all, or reject the whole frame (counted as multiple_faces).
    multi_face: Literal["largest", "all", "reject"] = "largest"
    crop_format: Literal["jpg", "png"] = "jpg"
    jpeg_quality: int = 95
    shard_size: int = 1000  # crops per shard folder; keeps directories listable
