"""Landmark-driven rendering of synthetic faces: shape warps and photometric signs.

Everything works on an aligned canvas (a real face photo warped so its eyes
sit on a fixed template) together with its 68 landmarks. Shape changes move
landmarks and warp the image with a smooth, exactly-interpolating Gaussian RBF
displacement field; visible signs are painted through soft masks built from
the landmarks. Sizes are expressed in units of the inter-ocular distance (IOD)
so they scale with the face.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "warp_to_landmarks",
    "skin_mask",
    "eye_mask",
    "hair_mask",
    "ellipse_mask",
    "blend",
    "iod",
    "Regions",
]


def iod(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))


def warp_to_landmarks(
    image: np.ndarray, src: np.ndarray, dst: np.ndarray, sigma: float, anchored: bool = True
) -> np.ndarray:
    """Warp ``image`` so that points ``src`` move (approximately) to ``dst``; far regions stay put.

    The backward displacement at pixel x is a Gaussian-weighted average of the
    control points' displacements, ``sum_k g_k(x) (src_k - dst_k) / (sum_k g_k(x) + c)``
    with ``g_k(x) = exp(-|x - dst_k|^2 / 2 sigma^2)``. The constant ``c`` pulls the
    field to zero away from the face, so it is smooth, never overshoots the largest
    control displacement (no folds or swirls, unlike exact RBF interpolation) and
    leaves the background alone. Near a landmark the displacement is close to its own when its
    neighbours move alike; a lone moving point among still ones (a mouth corner in a smile) gets
    only a fraction of it (a quarter, measured), because the still neighbours pin the field.

    ``anchored=False`` is for local motions such as expressions: the field interpolates the
    moving points exactly (see :func:`displacement_field`) and still points do not pin it.
    """
    h, w = image.shape[:2]
    if not (np.abs(src - dst) > 1e-3).any():
        return image.copy()
    fx, fy = displacement_field((h, w), src, dst, sigma, anchored)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + fx, ys + fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def displacement_field(
    shape: tuple[int, int], src: np.ndarray, dst: np.ndarray, sigma: float, anchored: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The backward displacement (fx, fy), each (H, W) float32, of :func:`warp_to_landmarks`.

    ``anchored=False``: Gaussian RBF interpolation of the moving points alone. Weights ``W``
    solve ``G W = delta`` with ``G_jk = g_k(dst_j)`` (plus a tiny ridge: points that move
    together, like the inner and outer mouth corner, make ``G`` nearly singular), so each
    moving point gets exactly its displacement and the field decays to zero a few ``sigma``
    away.
    """
    h, w = shape
    delta = src - dst
    step = 4
    gy, gx = np.mgrid[0:h:step, 0:w:step].astype(np.float64)
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    if not anchored:
        moving = np.linalg.norm(delta, axis=1) > 1e-3
        points, values = dst[moving], delta[moving]
        gram = np.exp(-((points[:, None] - points[None]) ** 2).sum(-1) / (2.0 * sigma**2))
        weights = np.linalg.solve(gram + 1e-6 * np.eye(len(points)), values)
        sq = ((grid[:, None] - points[None]) ** 2).sum(-1)
        field = np.exp(-sq / (2.0 * sigma**2)) @ weights
        return _upsample(field, gx.shape, (h, w))
    # Only control points near a moving one matter; the others have zero displacement
    # and would merely add weight where nothing moves anyway.
    moving = np.linalg.norm(delta, axis=1) > 1e-3
    near = np.linalg.norm(dst[:, None] - dst[moving][None], axis=2).min(1) < 4 * sigma
    dst, delta = dst[near], delta[near]
    sq = (grid**2).sum(1)[:, None] + (dst**2).sum(1)[None, :] - 2.0 * grid @ dst.T  # (P, K) squared distances
    g = np.exp(-np.maximum(sq, 0.0) / (2.0 * sigma**2))
    field = (g @ delta) / (g.sum(1, keepdims=True) + 0.3)
    return _upsample(field, gx.shape, (h, w))


def _upsample(field: np.ndarray, grid_shape: tuple[int, int], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(P, 2) field on the coarse grid -> (fx, fy) at every pixel (bilinear)."""
    h, w = shape
    fx = cv2.resize(field[:, 0].reshape(grid_shape).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    fy = cv2.resize(field[:, 1].reshape(grid_shape).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return fx, fy


def _poly_mask(shape: tuple[int, int], polygons: list[np.ndarray], blur: float) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    if blur > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), blur)
    return mask


def skin_mask(shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    """Face skin (jaw contour up to a forehead line above the brows) minus eyes, brows and mouth."""
    d = iod(lm)
    brows = lm[17:27][::-1].copy()
    brows[:, 1] -= 0.45 * d  # forehead
    outline = np.vstack([lm[0:17], brows])
    mask = _poly_mask(shape, [outline], 0)
    holes = _poly_mask(shape, [lm[36:42], lm[42:48], lm[48:60]], 0)
    holes = cv2.dilate(holes, np.ones((3, 3), np.uint8), iterations=max(1, round(d / 30)))
    return cv2.GaussianBlur(np.clip(mask - holes, 0, 1), (0, 0), max(1.0, d / 20))


def eye_mask(shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    return _poly_mask(shape, [lm[36:42], lm[42:48]], max(0.6, iod(lm) / 60))


def hair_mask(shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    """A head-shaped region above and beside the face, minus the face itself (hair, roughly)."""
    d = iod(lm)
    centre = lm[17:27].mean(0) + [0, -0.2 * d]
    head = np.zeros(shape, np.float32)
    cv2.ellipse(head, (round(centre[0]), round(centre[1])), (round(1.45 * d), round(1.35 * d)), 0, 180, 360, 1.0, -1)
    face = skin_mask(shape, lm)
    face = cv2.dilate(face, np.ones((3, 3), np.uint8), iterations=max(1, round(d / 15)))
    return cv2.GaussianBlur(np.clip(head - face, 0, 1), (0, 0), max(1.0, d / 12))


def ellipse_mask(
    shape: tuple[int, int], centre: np.ndarray, axes: tuple[float, float], angle: float = 0.0, blur: float = 1.0
) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    cv2.ellipse(
        mask,
        (round(centre[0]), round(centre[1])),
        (max(1, round(axes[0])), max(1, round(axes[1]))),
        angle,
        0,
        360,
        1.0,
        -1,
        lineType=cv2.LINE_AA,
    )
    return cv2.GaussianBlur(mask, (0, 0), blur) if blur > 0 else mask


def blend(
    image: np.ndarray, target: np.ndarray | tuple[float, float, float], mask: np.ndarray, strength: float
) -> np.ndarray:
    """Move ``image`` towards ``target`` (an image or a colour) by ``strength * mask`` per pixel (float32 in/out)."""
    alpha = np.clip(mask * strength, 0.0, 1.0)[..., None]
    target = np.asarray(target, np.float32)
    return image * (1.0 - alpha) + target * alpha


class Regions:
    """Named anatomical anchor points (canvas pixels) derived from 68 landmarks."""

    def __init__(self, lm: np.ndarray) -> None:
        self.lm = lm
        self.iod = iod(lm)
        self.eye_l = lm[36:42].mean(0)  # image-left eye
        self.eye_r = lm[42:48].mean(0)
        d = self.iod
        # Earlobes sit lateral to jaw points 2 / 14, slightly below the ear canal.
        self.earlobe_l = lm[2] + [-0.16 * d, 0.02 * d]
        self.earlobe_r = lm[14] + [0.16 * d, 0.02 * d]
        self.under_eye_l = self.eye_l + [0.0, 0.32 * d]
        self.under_eye_r = self.eye_r + [0.0, 0.32 * d]
        # Xanthelasma: upper lid near the inner corners (39 image-left eye, 42 image-right eye).
        self.inner_lid_l = lm[39] + [-0.06 * d, -0.12 * d]
        self.inner_lid_r = lm[42] + [0.06 * d, -0.12 * d]
