"""Saliency overlays a person can look at: on the aligned crop, or mapped back onto the original photo.

The face pipeline's 2x3 ``matrix`` (prepare manifest column ``matrix``, or
``AlignedFace.matrix``) maps original-photo pixels to crop pixels, so a
crop-space map is brought back with the inverse similarity.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facehealth.errors import InputError
from facehealth.faces.io import write_image

__all__ = ["overlay", "to_original", "invert_affine", "save_png", "grid"]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine map (as a 2x3 matrix)."""
    m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    return np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]


def to_original(
    saliency_on_crop: np.ndarray,
    matrix_2x3: np.ndarray,
    original_shape: tuple[int, ...],
    crop_size: int | None = None,
) -> np.ndarray:
    """Map a crop-space saliency map onto the original photo.

    Args:
        saliency_on_crop: (h, w) map over the aligned crop (any resolution).
        matrix_2x3: original -> crop affine (flattened or 2x3), as stored by ``faces prepare``.
        original_shape: (H, W[, C]) of the photo.
        crop_size: side of the crop the matrix was made for (``AlignConfig.size``); the
            map is resized to it first when its own side differs (e.g. a 64-px model input).

    Returns:
        (H, W) float32 map; 0 outside the crop's footprint.
    """
    sal = np.asarray(saliency_on_crop, dtype=np.float32)
    if sal.ndim != 2:
        raise InputError(f"saliency map must be 2-D, got shape {sal.shape}")
    if crop_size is not None and sal.shape != (crop_size, crop_size):
        sal = cv2.resize(sal, (crop_size, crop_size), interpolation=cv2.INTER_LINEAR)
    h, w = int(original_shape[0]), int(original_shape[1])
    return cv2.warpAffine(
        sal,
        invert_affine(matrix_2x3),  # crop -> original
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )


def overlay(
    image_rgb: np.ndarray, saliency: np.ndarray, alpha: float = 0.5, colormap: int = cv2.COLORMAP_JET
) -> np.ndarray:
    """Blend a colour-mapped saliency map onto an RGB uint8 image.

    The colour weight at each pixel is ``alpha * s`` (s in [0, 1]), so low-saliency
    skin shows the photo unchanged and only the salient areas are tinted.
    """
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise InputError(f"image must be (H, W, 3) RGB, got shape {image_rgb.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    h, w = image_rgb.shape[:2]
    sal = np.asarray(saliency, dtype=np.float32)
    if sal.shape != (h, w):
        sal = cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR)
    sal = np.clip(np.nan_to_num(sal), 0.0, 1.0)
    heat = cv2.cvtColor(cv2.applyColorMap((sal * 255).astype(np.uint8), colormap), cv2.COLOR_BGR2RGB)
    weight = (alpha * sal)[..., None]
    out = (1.0 - weight) * image_rgb.astype(np.float32) + weight * heat.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def grid(images: list[np.ndarray], columns: int, labels: list[str] | None = None, pad: int = 4) -> np.ndarray:
    """Tile equal-size RGB images into one sheet (white padding), optional caption per tile."""
    if not images:
        raise InputError("no images to tile")
    h, w = images[0].shape[:2]
    caption = 14 if labels else 0
    rows = -(-len(images) // columns)
    sheet = np.full((rows * (h + pad + caption) + pad, columns * (w + pad) + pad, 3), 255, np.uint8)
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        y, x = pad + r * (h + pad + caption), pad + c * (w + pad)
        sheet[y + caption : y + caption + h, x : x + w] = cv2.resize(image, (w, h))
        if labels:
            cv2.putText(sheet, labels[k][:40], (x, y + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet


def save_png(path: str | Path, image_rgb: np.ndarray) -> Path:
    """Write an RGB uint8 image as PNG (creating the folder)."""
    return write_image(path, image_rgb)
