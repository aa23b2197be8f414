"""Face regions from the 68 iBUG 300-W landmarks: soft masks and a landmark-driven thin-plate warp.

These helpers serve the landmark-based perturbations (pose, occlusion, makeup, cosmetic change)
in :mod:`facehealth.robustness.perturb`. Landmark indices follow the 300-W
convention (the groups are :data:`facehealth.faces.landmarks.GROUPS`); "left"/"right"
below mean the image's left/right.
"""

from __future__ import annotations

import cv2
import numpy as np

from facehealth.faces.landmarks import GROUPS, inter_ocular_distance, region_points

__all__ = [
    "JAW",
    "NOSE",
    "OUTER_LIPS",
    "INNER_LIPS",
    "face_box",
    "polygon_mask",
    "soft_mask",
    "skin_mask",
    "thin_plate_warp",
]

# Index arrays (for fancy indexing of (68, 2) landmarks) of the groups the perturbations mask.
JAW = np.array(GROUPS["jaw"])
NOSE = np.array(GROUPS["nose"])
OUTER_LIPS = np.array(GROUPS["outer_lips"])
INNER_LIPS = np.array(GROUPS["inner_lips"])


def face_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(cx, cy, half_width, half_height) of the landmark cloud."""
    pts = np.asarray(landmarks, np.float64).reshape(68, 2)
    lo, hi = pts.min(0), pts.max(0)
    (cx, cy), (hw, hh) = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1.0)
    return float(cx), float(cy), float(hw), float(hh)


def polygon_mask(shape: tuple[int, int], *polygons: np.ndarray) -> np.ndarray:
    """(H, W) float32 mask, 1 inside any polygon (each an (N, 2) array of x, y)."""
    mask = np.zeros(shape, np.uint8)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(np.asarray(poly)).astype(np.int32).reshape(-1, 1, 2)], 1)
    return mask.astype(np.float32)


def soft_mask(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Feather a binary mask with a Gaussian so recolouring has no hard edge (as real makeup)."""
    if sigma <= 0.3:
        return mask.astype(np.float32)
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigmaX=sigma, sigmaY=sigma)


def skin_mask(shape: tuple[int, int], landmarks: np.ndarray, feather: float) -> np.ndarray:
    """(H, W) float32 mask of the facial skin: the landmarks' convex hull minus eyes, brows and mouth.

    The features are cut out with a margin (lashes, brow hair and the lip line lie a little
    outside their landmark polygons) and the edges are feathered with a Gaussian of sigma
    ``feather`` px, but only inwards: the hull is shrunk by 2 sigma before feathering and the
    result is cut at the hull, so every pixel outside the hull has exactly 0.
    """
    pts = np.asarray(landmarks, np.float64).reshape(68, 2)
    hull = polygon_mask(shape, cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2))
    iod = inter_ocular_distance(pts)
    # Each brow as a band from a little above its points (on the brow's upper edge) to well below them.
    brows = [
        np.vstack([b - [0.0, 0.06 * iod], b[::-1] + [0.0, 0.16 * iod]])
        for b in (region_points(pts, "right_brow"), region_points(pts, "left_brow"))
    ]
    features = polygon_mask(
        shape, region_points(pts, "right_eye"), region_points(pts, "left_eye"), pts[OUTER_LIPS], *brows
    )
    grow = 2 * round(0.08 * iod) + 1  # ~8% of the inter-ocular distance around eyes and lips
    features = cv2.dilate(features, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    shrink = 2 * round(2 * feather) + 1
    inner = cv2.erode(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (shrink, shrink)))
    return soft_mask(np.clip(inner - features, 0, 1), feather) * hull


def thin_plate_warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray, step: int = 4) -> np.ndarray:
    """Warp ``image`` so that the points ``src`` move to ``dst`` (thin-plate spline, Bookstein 1989).

    The spline is fitted on the inverse map (dst -> src displacement) so every
    output pixel samples the input directly; it is evaluated on a grid every
    ``step`` pixels inside the bounding box of the points and resized up, which
    keeps a 1000-px photo well under a second. Pixels outside that box are
    unchanged, so callers should include fixed anchor points around the face.
    """
    from scipy.interpolate import RBFInterpolator

    h, w = image.shape[:2]
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    x0, y0 = np.floor(np.clip(dst.min(0), 0, [w - 1, h - 1])).astype(int)
    x1, y1 = np.ceil(np.clip(dst.max(0), 0, [w - 1, h - 1])).astype(int) + 1
    if x1 - x0 < 2 or y1 - y0 < 2:
        return image.copy()
    spline = RBFInterpolator(dst, src - dst, kernel="thin_plate_spline", smoothing=0.0)
    gx = np.arange(x0, x1 + step, step, dtype=np.float64)
    gy = np.arange(y0, y1 + step, step, dtype=np.float64)
    grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    shift = spline(grid).reshape(len(gy), len(gx), 2).astype(np.float32)
    # Resize the coarse displacement to the pixel grid of the box (bilinear).
    full = cv2.resize(shift, ((len(gx) - 1) * step + 1, (len(gy) - 1) * step + 1), interpolation=cv2.INTER_LINEAR)
    full = full[: y1 - y0, : x1 - x0]
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    patch = cv2.remap(
        image, xs + full[..., 0], ys + full[..., 1], interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    out = image.copy()
    out[y0:y1, x0:x1] = patch
    return out
