"""Gaussian attention heatmaps: landmark significance spread over the face.

``H(x) = sum_i w_i exp(-||x - p_i||^2 / (2 sigma^2))``, ``sigma = s x IOD``,
then divided by its maximum so the map lies in [0, 1]. A landmark is a point,
but the tissue it marks is a patch about a tenth to a fifth of the inter-ocular
distance (IOD) wide; tying sigma to the IOD makes the map the same on a 64-px
crop and a full-resolution photo.

Overlay: ``out = (1 - a) img + a colour(H)`` with a per-pixel ``a = alpha x H``,
so regions without weight keep the photo untouched (unlike a uniform blend,
which tints the whole face).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facehealth.errors import InputError, NoFaceError
from facehealth.faces.landmarks import inter_ocular_distance

__all__ = ["gaussian_heatmap", "overlay_heatmap", "heatmap_on_photo", "heatmap_on_standard_face"]

# Weights are raised to this power before the Gaussians are summed: with 68 close points a linear
# 0..1 score paints the whole face; ^4 (as the facial map's attention heatmap) lets the top stand out.
DEFAULT_POWER = 4.0


def gaussian_heatmap(
    landmarks: np.ndarray,
    weights: np.ndarray,
    shape: tuple[int, int],
    sigma_iod: float = 0.15,
    normalise: bool = True,
) -> np.ndarray:
    """Sum of isotropic Gaussians at the landmarks, weighted, normalised to [0, 1].

    Args:
        landmarks: (P, 2) points in pixels of the target image; with P = 68 the
            IOD comes from the eyes (iBUG order), otherwise from the points' spread.
        weights: (P,) non-negative weights (e.g. the ``score`` column of
            :func:`~facehealth.explain.landmark_stats.landmark_significance`); NaN = 0.
        shape: (height, width) of the output.
        sigma_iod: Gaussian sd in inter-ocular distances (0.15 ~ a mouth corner's patch).
        normalise: divide by the maximum (an all-zero map stays zero).

    Returns:
        (H, W) float64 map.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0)
    if pts.ndim != 2 or pts.shape[1] != 2 or w.shape != (len(pts),):
        raise InputError(f"landmarks must be (P, 2) and weights (P,), got {pts.shape} and {w.shape}")
    if (w < 0).any():
        raise InputError("heatmap weights must be >= 0 (use |effect| or a 0..1 score)")
    h, wd = int(shape[0]), int(shape[1])
    if h < 1 or wd < 1:
        raise InputError(f"shape must be positive, got {shape}")
    # 0.5 x the point cloud's width approximates the IOD for non-68 point sets.
    iod = inter_ocular_distance(pts) if len(pts) == 68 else 0.5 * float(np.ptp(pts[:, 0]))
    sigma = max(sigma_iod * iod, 1e-3)
    keep = w > 0
    if not keep.any():
        return np.zeros((h, wd))
    xs = np.arange(wd) + 0.5
    ys = np.arange(h) + 0.5
    # Separable Gaussians: (P, H) and (P, W) profiles, combined with one product.
    gy = np.exp(-((ys[None, :] - pts[keep, 1:2]) ** 2) / (2 * sigma**2))
    gx = np.exp(-((xs[None, :] - pts[keep, 0:1]) ** 2) / (2 * sigma**2))
    heat = np.einsum("p,ph,pw->hw", w[keep], gy, gx)
    if normalise:
        peak = heat.max()
        heat = heat / peak if peak > 0 else heat
    return heat


def overlay_heatmap(
    image: np.ndarray,
    heat: np.ndarray,
    alpha: float = 0.6,
    colormap: int = cv2.COLORMAP_JET,
) -> np.ndarray:
    """Blend a [0, 1] heatmap over an (H, W, 3) uint8 RGB image with a cv2 colormap.

    Returns an (H, W, 3) uint8 RGB image; pixels where ``heat`` is 0 are unchanged.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise InputError(f"image must be (H, W, 3) uint8 RGB, got {img.shape} {img.dtype}")
    hm = np.asarray(heat, dtype=np.float64)
    if hm.shape != img.shape[:2]:
        hm = cv2.resize(hm, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    hm = np.clip(np.nan_to_num(hm), 0.0, 1.0)
    colour = cv2.cvtColor(cv2.applyColorMap((hm * 255).astype(np.uint8), colormap), cv2.COLOR_BGR2RGB)
    a = (float(np.clip(alpha, 0.0, 1.0)) * hm)[..., None]
    out = (1.0 - a) * img.astype(np.float64) + a * colour.astype(np.float64)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def heatmap_on_photo(
    photo: str | Path,
    scores: np.ndarray,
    out_png: str | Path,
    power: float = DEFAULT_POWER,
    sigma_iod: float = 0.15,
    alpha: float = 0.6,
) -> Path:
    """Gaussian heatmap of 68 landmark ``scores`` over a photo, at the landmarks the face pipeline finds.

    The largest face that passes the quality gate is used; the PNG has the photo's size.

    Raises:
        NoFaceError: no face passed the quality gate.
    """
    from facehealth.faces.io import read_image, write_image
    from facehealth.faces.pipeline import FacePipeline

    image = read_image(photo)
    faces = [f for f in FacePipeline().process(image).faces if f.quality.passed]
    if not faces:
        raise NoFaceError(f"{photo}: no face passed the quality gate; nothing to draw on")
    face = max(faces, key=lambda f: f.detection.box.area)
    heat = gaussian_heatmap(face.landmarks, _weights(scores, power), image.shape[:2], sigma_iod)
    return write_image(out_png, overlay_heatmap(image, heat, alpha))


def heatmap_on_standard_face(
    prepared_dir: str | Path,
    scores: np.ndarray,
    out_png: str | Path,
    power: float = DEFAULT_POWER,
    sigma_iod: float = 0.15,
    alpha: float = 0.6,
    max_faces: int = 200,
    seed: int = 0,
) -> Path:
    """The same over a prepared cohort's standardized face (GPA mean landmarks on the mean crop).

    The PNG has the crop's size (the mean of the cohort's faces: patient data with few subjects).
    """
    from facehealth.explain.standard_face import standard_face_of
    from facehealth.faces.io import write_image

    landmarks, image = standard_face_of(prepared_dir, max_faces, seed)
    heat = gaussian_heatmap(landmarks, _weights(scores, power), image.shape[:2], sigma_iod)
    return write_image(out_png, overlay_heatmap(image, heat, alpha))


def _weights(scores: np.ndarray, power: float) -> np.ndarray:
    if not power > 0:
        raise InputError(f"power must be > 0, got {power}")
    return np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0) ** power
