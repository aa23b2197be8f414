"""Alignment: a similarity transform that puts the eye centres on a fixed template.

A similarity (rotation, uniform scale, translation) keeps the face's shape, so
widths and proportions (BMI-related fullness, for example) stay comparable
across photos. Two points fix a similarity exactly, so the eye centres land on
the template to sub-pixel accuracy; the 2x3 matrix is kept so any crop-space
result (a saliency map) can be mapped back onto the original photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from facehealth.faces.config import AlignConfig
from facehealth.faces.landmarks import eye_centres
from facehealth.faces.records import AlignedFace

__all__ = ["template_eyes", "similarity_from_eyes", "align_face"]


def template_eyes(config: AlignConfig) -> np.ndarray:
    """(2, 2) target eye centres in crop pixels: image-left eye first."""
    s = config.size
    half = config.eye_distance / 2.0
    return np.array([[(0.5 - half) * s, config.eye_y * s], [(0.5 + half) * s, config.eye_y * s]])


def similarity_from_eyes(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity mapping the two ``src`` points exactly onto the two ``dst`` points.

    With points as complex numbers, ``z' = a z + b`` where ``a = (d2 - d1) / (s2 - s1)``
    (rotation and scale) and ``b = d1 - a s1``.
    """
    s1, s2 = complex(*src[0]), complex(*src[1])
    d1, d2 = complex(*dst[0]), complex(*dst[1])
    if abs(s2 - s1) < 1e-9:
        raise ValueError("the two source points coincide; no similarity is defined")
    a = (d2 - d1) / (s2 - s1)
    b = d1 - a * s1
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def align_face(image: np.ndarray, landmarks: np.ndarray, config: AlignConfig | None = None) -> AlignedFace:
    """Warp the face with these 68 landmarks onto the template; returns the crop and its matrix.

    Large downscales first shrink only the region the crop covers with area
    averaging (no aliasing of skin texture), then warp with bilinear sampling.
    Pixels outside the photo are black, so a cut-off face stays visibly cut off.
    """
    config = config or AlignConfig()
    left, right = eye_centres(landmarks)
    matrix = similarity_from_eyes(np.stack([left, right]), template_eyes(config))
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    warp = matrix
    source = image
    if scale < 0.5:
        # Region of the original that the crop covers, clipped to the image.
        size = config.size
        inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
        corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], float) @ inverse[:, :2].T + inverse[:, 2]
        h, w = image.shape[:2]
        x0, y0 = (int(np.clip(np.floor(corners[:, i].min()), 0, lim)) for i, lim in ((0, w - 1), (1, h - 1)))
        x1, y1 = (int(np.clip(np.ceil(corners[:, i].max()), 1, lim)) for i, lim in ((0, w), (1, h)))
        if x1 > x0 + 1 and y1 > y0 + 1:
            f = 2.0 * scale  # leaves a 2x bilinear step after area averaging
            roi = image[y0:y1, x0:x1]
            rw, rh = max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f))
            source = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
            fx, fy = rw / (x1 - x0), rh / (y1 - y0)
            a = matrix[:, :2]
            warp = np.hstack([a / np.array([fx, fy]), (a @ np.array([x0, y0]) + matrix[:, 2])[:, None]])
    crop = cv2.warpAffine(
        source,
        warp,
        (config.size, config.size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return AlignedFace(image=crop, matrix=matrix)
