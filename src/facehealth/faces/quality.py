"""The quality gate: measurable reasons to distrust a face, checked in one place.

Each check returns a reason from :class:`~facehealth.faces.records.Reason`;
a face passes when it has none. Reasons are listed in a fixed priority order
(the first is the "primary" reason used in summaries).
"""

from __future__ import annotations

import cv2
import numpy as np

from facehealth.faces.config import QualityConfig
from facehealth.faces.landmarks import eye_centres
from facehealth.faces.records import AlignedFace, Detection, QualityReport, Reason

__all__ = ["assess_quality", "head_pose", "sharpness", "brightness"]

# A generic head in millimetres in OpenCV's camera axes (x right, y down, z away
# from the camera, so the nose tip is nearest) at the
# six landmarks that fix pose well: nose tip 30, chin 8, outer eye corners 36/45,
# mouth corners 48/54. Values follow the average-face model widely used with
# cv2.solvePnP (e.g. learnopencv's head-pose tutorial), scaled by 1/10.
_MODEL_POINTS = np.array(
    [
        [0.0, 0.0, 0.0],
        [0.0, 33.0, 6.5],
        [-22.5, -17.0, 13.5],
        [22.5, -17.0, 13.5],
        [-15.0, 15.0, 12.5],
        [15.0, 15.0, 12.5],
    ]
)
_POSE_LANDMARKS = [30, 8, 36, 45, 48, 54]


def head_pose(landmarks: np.ndarray, image_size: tuple[int, int]) -> tuple[float, float, float]:
    """Estimate (yaw, pitch, roll) in degrees from 68 landmarks with a generic 3D head.

    Uses a pinhole camera with focal length equal to the image's long side and
    the principal point at the face. Roll is measured directly from the eye line.
    Accuracy is a few degrees for near-frontal faces: enough to gate extremes.
    """
    w, h = image_size
    # The principal point is put at the face, not the image centre: a face far off
    # the centre of a wide shot (or of a crop or composite) would otherwise read as
    # turned by tens of degrees.
    focal = float(max(w, h))
    cx, cy = landmarks[_POSE_LANDMARKS].mean(axis=0)
    camera = np.array([[focal, 0, cx], [0, focal, cy], [0, 0, 1]])
    points = landmarks[_POSE_LANDMARKS].astype(np.float64)
    ok, rvec, _ = cv2.solvePnP(_MODEL_POINTS, points, camera, None, flags=cv2.SOLVEPNP_ITERATIVE)
    left_eye, right_eye = eye_centres(landmarks)  # image-left, image-right
    roll = float(np.degrees(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0])))
    if not ok:
        return float("nan"), float("nan"), roll
    rotation, _ = cv2.Rodrigues(rvec)
    # Yaw is the rotation about the vertical axis, pitch about the horizontal axis.
    # Signs: yaw > 0 when the nose points to the image's right, pitch > 0 when it points down.
    yaw = float(np.degrees(np.arcsin(np.clip(rotation[2, 0], -1.0, 1.0))))
    pitch = float(np.degrees(np.arctan2(rotation[2, 1], rotation[2, 2])))
    return yaw, pitch, roll


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian (Pech-Pacheco et al., ICPR 2000): low means blurry."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _centre(grey: np.ndarray) -> np.ndarray:
    """The middle of an aligned crop: cheeks, nose and eyes, little hair or background."""
    s = grey.shape[0]
    return grey[int(0.3 * s) : int(0.75 * s), int(0.3 * s) : int(0.7 * s)]


def brightness(grey: np.ndarray) -> float:
    """Mean grey level of the face centre of an aligned crop."""
    return float(_centre(grey).mean())


def assess_quality(
    detection: Detection,
    landmarks: np.ndarray,
    aligned: AlignedFace,
    image_size: tuple[int, int],
    config: QualityConfig | None = None,
) -> QualityReport:
    """Run every check on one face and return the report (reasons in priority order)."""
    config = config or QualityConfig()
    w, h = image_size
    grey = cv2.cvtColor(aligned.image, cv2.COLOR_RGB2GRAY)
    # Blur is measured on the face centre only: black borders of a cut-off face
    # would otherwise add strong edges and hide the blur.
    blur = sharpness(_centre(grey))
    light = brightness(grey)
    yaw, pitch, roll = head_pose(landmarks, image_size)
    outside = detection.box.outside_fraction(w, h)
    face_px = detection.box.width

    reasons: list[str] = []
    if outside > config.max_outside:
        reasons.append(Reason.PARTIAL)
    if face_px < config.min_face_px:
        reasons.append(Reason.TOO_SMALL)
    if not (abs(yaw) <= config.max_yaw and abs(pitch) <= config.max_pitch):
        reasons.append(Reason.EXTREME_POSE)
    if light < config.min_brightness:
        reasons.append(Reason.UNDEREXPOSED)
    elif light > config.max_brightness:
        reasons.append(Reason.OVEREXPOSED)
    if blur < config.min_blur:
        reasons.append(Reason.BLURRY)
    return QualityReport(
        reasons=tuple(reasons),
        face_px=float(face_px),
        blur=blur,
        brightness=light,
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        outside_fraction=float(outside),
    )
