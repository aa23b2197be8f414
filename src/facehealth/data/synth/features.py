"""Hand-made facial measurements for checking that planted effects are recoverable.

These are deliberately simple (geometry from landmarks, colour statistics in
landmark-defined regions of the aligned crop): if a planted effect shows up
in them, it is in the pixels; if a negative-control marker does not, the
generator did not leak it. Used by the tests and as a transparent baseline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd

from facehealth.data.synth.render import ellipse_mask, eye_mask, skin_mask

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["FEATURE_NAMES", "face_features", "features_from_manifest"]

FEATURE_NAMES = (
    "width_ratio",
    "jaw_drop",
    "yellow_skin",
    "yellow_eyes",
    "red_skin",
    "under_eye_contrast",
    "inner_lid_yellow",
    "hair_saturation",
    "texture",
)


def face_features(crop: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """Measurements of one aligned RGB crop given its 68 landmarks in crop pixels."""
    img = crop.astype(np.float32)
    shape = img.shape[:2]
    d = float(np.linalg.norm(landmarks[42:48].mean(0) - landmarks[36:42].mean(0)))
    skin = skin_mask(shape, landmarks) > 0.5
    eyes = eye_mask(shape, landmarks) > 0.5
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    bright = img.mean(2) + 1.0
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV).astype(np.float32)
    under, cheek = np.zeros(shape, bool), np.zeros(shape, bool)
    lids = np.zeros(shape, bool)
    for eye, corner, sign in (
        (landmarks[36:42].mean(0), landmarks[39], -1),
        (landmarks[42:48].mean(0), landmarks[42], 1),
    ):
        under |= ellipse_mask(shape, eye + [0, 0.32 * d], (0.25 * d, 0.08 * d), 0, 0) > 0.5
        cheek |= ellipse_mask(shape, eye + [0, 0.75 * d], (0.2 * d, 0.12 * d), 0, 0) > 0.5
        lids |= ellipse_mask(shape, corner + [sign * 0.06 * d, -0.12 * d], (0.12 * d, 0.05 * d), 0, 0) > 0.5
    top = np.zeros(shape, bool)
    top[: max(1, int(landmarks[17:27, 1].min() - 0.6 * d)), int(landmarks[17, 0]) : int(landmarks[26, 0])] = True
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = np.abs(cv2.Laplacian(grey, cv2.CV_32F))

    def mean(values: np.ndarray, mask: np.ndarray) -> float:
        return float(values[mask].mean()) if mask.any() else float("nan")

    return {
        "width_ratio": float(np.linalg.norm(landmarks[3] - landmarks[13]) / d),
        "jaw_drop": float((landmarks[8, 1] - landmarks[27:31, 1].mean()) / d),
        "yellow_skin": mean(((r + g) / 2 - b) / bright, skin),
        "yellow_eyes": mean(((r + g) / 2 - b) / bright, eyes),
        "red_skin": mean(r / (g + b + 1), skin),
        "under_eye_contrast": mean(bright, under) / mean(bright, cheek),
        "inner_lid_yellow": mean(((r + g) / 2 - b) / bright, lids) - mean(((r + g) / 2 - b) / bright, skin),
        "hair_saturation": mean(hsv[..., 1], top),
        "texture": mean(lap, skin) / mean(bright, skin),
    }


def features_from_manifest(prepared_dir: str | Path, manifest: pd.DataFrame) -> pd.DataFrame:
    """Features for every crop of a ``faces prepare`` manifest, averaged per subject."""
    from pathlib import Path

    rows = []
    for row in manifest.itertuples(index=False):
        crop = cv2.cvtColor(cv2.imread(str(Path(prepared_dir) / row.crop_path)), cv2.COLOR_BGR2RGB)
        m = np.asarray(row.matrix, float).reshape(2, 3)
        lm = np.asarray(row.landmarks, float).reshape(68, 2) @ m[:, :2].T + m[:, 2]
        rows.append({"subject_id": row.subject_id, **face_features(crop, lm)})
    return pd.DataFrame(rows).groupby("subject_id", as_index=False).mean()
