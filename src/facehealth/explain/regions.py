"""Facial regions from the 68 iBUG/dlib landmarks, and how much saliency each region holds.

Landmark groups are :data:`facehealth.faces.landmarks.GROUPS` (iBUG 300-W order).
"left"/"right" here are the *image* sides of the aligned crop (image-left = the
subject's right), as the iBUG order numbers points from the image's left.

Regions are polygons rasterised at crop size and made disjoint by painting in a
fixed priority (later wins): ears, chin_jaw, cheeks, forehead, perioral, nose,
brows, periorbital. Pixels in no region are ``other`` (hair, neck, background).

Two numbers per region (:func:`region_attribution`):

- ``share`` = sum of saliency in the region / total saliency (sums to 1 with ``other``);
- ``density`` = mean saliency in the region / mean saliency over the crop
  (1 = as much as an average pixel; NaN for a region with no visible pixel).

Rankings use ``density``: share grows with a region's area, so the large
cheeks and forehead would top every ranking for a uniform map, whereas density
answers "which skin is looked at more than its size explains". Shares are what
the cohort tables report as "where the evidence sits".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from facehealth.errors import InputError
from facehealth.faces.landmarks import region_points

__all__ = [
    "REGIONS",
    "RegionAttribution",
    "RegionSummary",
    "TaskComparison",
    "landmarks_to_crop",
    "region_polygons",
    "region_masks",
    "region_attribution",
    "aggregate_regions",
    "compare_tasks",
]

# Painting order: later regions overwrite earlier ones where polygons meet.
REGIONS: tuple[str, ...] = (
    "ear_left",
    "ear_right",
    "chin_jaw",
    "cheek_left",
    "cheek_right",
    "forehead",
    "perioral",
    "nose",
    "brows",
    "periorbital_left",
    "periorbital_right",
)
FOREHEAD_FRACTION = 0.45  # forehead height / (chin - brow line); hairline sits ~1/3 of the full face up
EAR_WIDTH = 0.2  # ear width / face width (L16 - L0); adult ear ~3 cm vs ~14 cm bizygomatic


@dataclass(frozen=True)
class RegionAttribution:
    """Saliency per region for one map. ``share`` includes ``other``; ``area`` is in pixels."""

    share: dict[str, float]
    density: dict[str, float]
    area: dict[str, int]

    def ranking(self) -> list[str]:
        """Landmark regions by decreasing density (empty regions last)."""
        return sorted(REGIONS, key=lambda r: -np.nan_to_num(self.density[r], nan=-np.inf))


@dataclass(frozen=True)
class RegionSummary:
    """Cohort mean of one region's share or density with a subject-bootstrap percentile CI."""

    region: str
    measure: str  # "share" | "density"
    mean: float
    low: float
    high: float
    n_subjects: int


@dataclass(frozen=True)
class TaskComparison:
    """Paired permutation test of whether two tasks put their saliency on different regions."""

    statistic: float  # L1 distance between the mean region-share vectors (0..2)
    p_value: float
    n_subjects: int
    n_permutations: int
    difference: dict[str, float]  # mean share of a minus mean share of b, per region


def landmarks_to_crop(landmarks: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(68, 2) original-image landmarks -> crop coordinates: ``matrix @ [x, y, 1]``."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    return pts @ m[:, :2].T + m[:, 2]


def region_polygons(landmarks_crop: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Polygons (float (K, 2) arrays, crop pixels) of each region; a region may have several parts."""
    p = np.asarray(landmarks_crop, dtype=np.float64).reshape(68, 2)
    if not np.isfinite(p).all():
        raise InputError("landmarks contain NaN/inf")
    up = np.array([0.0, -1.0])
    brow_y = region_points(p, "brows")[:, 1].mean()
    face_h = max(p[8, 1] - brow_y, 1.0)  # brow line to chin
    face_w = max(p[16, 0] - p[0, 0], 1.0)
    brow_t = 0.05 * face_h  # half-thickness of a brow band

    def scaled(points: np.ndarray, sx: float, sy: float, dy: float = 0.0) -> np.ndarray:
        c = points.mean(0)
        return (points - c) * [sx, sy] + c + [0.0, dy]

    def ear(side: int) -> np.ndarray:
        jaw = p[[0, 1, 2, 3]] if side < 0 else p[[16, 15, 14, 13]]
        top = jaw[0, 1] - 0.15 * face_h  # ears reach about brow level
        outer = jaw[:, 0].min() - EAR_WIDTH * face_w if side < 0 else jaw[:, 0].max() + EAR_WIDTH * face_w
        return np.vstack([[outer, top], [jaw[0, 0], top], jaw, [outer, jaw[-1, 1]]])

    brows = [
        np.vstack([b + up * brow_t, b[::-1] - up * brow_t])
        for b in (region_points(p, "right_brow"), region_points(p, "left_brow"))
    ]
    brow_line = region_points(p, "brows") + up * brow_t
    forehead = np.vstack([brow_line, brow_line[::-1] + up * FOREHEAD_FRACTION * face_h])
    nose_half = 0.35 * (p[35, 0] - p[31, 0])
    nose = np.vstack(
        [
            p[27] - [nose_half, 0],
            p[27] + [nose_half, 0],
            p[35] + [0.1 * nose_half, 0],
            p[33],
            p[31] - [0.1 * nose_half, 0],
        ]
    )

    def periorbital(eye: np.ndarray) -> np.ndarray:
        width = np.ptp(eye[:, 0])
        # Widened and pulled down: lids plus the under-eye skin (dark circles, puffiness, xanthelasma).
        return cv2.convexHull(np.vstack([scaled(eye, 1.6, 2.6), eye + [0.0, 0.5 * width]]).astype(np.float32))[:, 0]

    return {
        "ear_left": [ear(-1)],
        "ear_right": [ear(+1)],
        "chin_jaw": [np.vstack([p[4:13], p[54:60], p[48]])],
        "cheek_left": [np.vstack([p[1:6], p[48], p[31], p[39], p[40], p[41], p[36]])],
        "cheek_right": [np.vstack([p[15:10:-1], p[54], p[35], p[42], p[47], p[46], p[45]])],
        "forehead": [forehead],
        "perioral": [scaled(region_points(p, "outer_lips"), 1.25, 1.45)],
        "nose": [nose],
        "brows": brows,
        "periorbital_left": [periorbital(region_points(p, "right_eye"))],  # the subject's right eye, image-left
        "periorbital_right": [periorbital(region_points(p, "left_eye"))],
    }


def region_masks(landmarks_crop: np.ndarray, size: int | tuple[int, int]) -> dict[str, np.ndarray]:
    """Disjoint boolean masks (H, W) per region, plus ``other``; pixels outside the crop are simply not there."""
    h, w = (size, size) if isinstance(size, int) else size
    labels = np.zeros((h, w), np.int32)  # 0 = other
    shift = 4  # sub-pixel polygon vertices (cv2 fixed point)
    for k, name in enumerate(REGIONS, start=1):
        for poly in region_polygons(landmarks_crop)[name]:
            pts = np.round(np.asarray(poly) * (1 << shift)).astype(np.int32)
            cv2.fillPoly(labels, [pts], k, lineType=cv2.LINE_8, shift=shift)
    masks = {name: labels == k for k, name in enumerate(REGIONS, start=1)}
    masks["other"] = labels == 0
    return masks


def region_attribution(
    saliency: np.ndarray, landmarks_crop: np.ndarray, crop_size: int | None = None
) -> RegionAttribution:
    """Share and density of a saliency map in each landmark region.

    Args:
        saliency: (h, w) non-negative map over the crop.
        landmarks_crop: (68, 2) landmarks in crop pixels (:func:`landmarks_to_crop`).
        crop_size: side of the crop the landmarks refer to; the map is resized to it
            when its own side differs (e.g. a 64-px model input on a 224-px crop).
    """
    sal = np.clip(np.nan_to_num(np.asarray(saliency, dtype=np.float64)), 0.0, None)
    if sal.ndim != 2:
        raise InputError(f"saliency map must be 2-D, got shape {sal.shape}")
    if crop_size is not None and sal.shape != (crop_size, crop_size):
        sal = cv2.resize(sal, (crop_size, crop_size), interpolation=cv2.INTER_LINEAR)
    masks = region_masks(landmarks_crop, sal.shape)
    total, mean_all = sal.sum(), sal.mean()
    share, density, area = {}, {}, {}
    for name, mask in masks.items():
        area[name] = int(mask.sum())
        share[name] = float(sal[mask].sum() / total) if total > 0 else float("nan")
        density[name] = float(sal[mask].mean() / mean_all) if area[name] and mean_all > 0 else float("nan")
    return RegionAttribution(share, density, area)


def aggregate_regions(
    attributions: list[RegionAttribution],
    subject_ids: list[str] | np.ndarray,
    rng: np.random.Generator,
    measure: str = "share",
    n_boot: int = 1000,
    level: float = 0.95,
) -> list[RegionSummary]:
    """Cohort mean per region (maps of one subject are averaged first) with a percentile CI over subjects."""
    if measure not in ("share", "density"):
        raise InputError(f"measure must be share or density, got '{measure}'")
    values, subjects = _per_subject(attributions, subject_ids, measure)
    n = len(subjects)
    alpha = (1.0 - level) / 2.0
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: region never visible, or empty maps
        boot = np.array([np.nanmean(values[rng.integers(0, n, n)], axis=0) for _ in range(n_boot)]) if n else None
    for j, region in enumerate((*REGIONS, "other")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = float(np.nanmean(values[:, j])) if n else float("nan")
            low, high = np.nanquantile(boot[:, j], [alpha, 1 - alpha]) if n else (np.nan, np.nan)
        out.append(RegionSummary(region, measure, mean, float(low), float(high), n))
    return out


def compare_tasks(
    attrib_a: list[RegionAttribution],
    attrib_b: list[RegionAttribution],
    subject_ids: list[str] | np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    n_permutations: int = 2000,
) -> TaskComparison:
    """Do two tasks rely on different regions? Paired sign-flip permutation test on region shares.

    For subject ``i`` let ``d_i = s_a,i - s_b,i`` (region-share vectors, ``other`` included).
    The statistic is ``T = || mean_i d_i ||_1`` (twice the total-variation distance between
    the tasks' mean region profiles). Under H0 (the task label is exchangeable within a
    subject) each ``d_i`` is as likely as ``-d_i``, so T is recomputed with random signs;
    ``p = (1 + #{T_perm >= T}) / (1 + n_permutations)`` (Phipson & Smyth 2010).
    Identical maps give T = 0 and p = 1.

    Args:
        attrib_a, attrib_b: one attribution per image, the same images in the same order.
        subject_ids: subject of each image (images of a subject are averaged); default one per image.
    """
    if len(attrib_a) != len(attrib_b):
        raise InputError(f"paired test needs the same images: {len(attrib_a)} vs {len(attrib_b)} maps")
    ids = np.arange(len(attrib_a)).astype(str) if subject_ids is None else np.asarray(subject_ids)
    a, _ = _per_subject(attrib_a, ids, "share")
    b, _ = _per_subject(attrib_b, ids, "share")
    d = np.nan_to_num(a - b)  # (S, R)
    names = (*REGIONS, "other")
    if len(d) < 2:
        warnings.warn("compare_tasks needs at least 2 subjects; returning NaN", RuntimeWarning, stacklevel=2)
        return TaskComparison(float("nan"), float("nan"), len(d), 0, dict.fromkeys(names, float("nan")))
    rng = rng or np.random.default_rng(0)
    observed = float(np.abs(d.mean(0)).sum())
    signs = rng.choice([-1.0, 1.0], size=(n_permutations, len(d)))
    null = np.abs(signs @ d / len(d)).sum(1)
    p = (1.0 + np.sum(null >= observed - 1e-12)) / (1.0 + n_permutations)
    return TaskComparison(observed, float(p), len(d), n_permutations, dict(zip(names, d.mean(0).tolist())))


def _per_subject(
    attributions: list[RegionAttribution], subject_ids: list[str] | np.ndarray, measure: str
) -> tuple[np.ndarray, np.ndarray]:
    """(S, R+1) per-subject mean of ``measure`` over that subject's maps, and the subject ids."""
    ids = np.asarray(subject_ids)
    if len(ids) != len(attributions):
        raise InputError(f"{len(attributions)} attributions but {len(ids)} subject ids")
    names = (*REGIONS, "other")
    rows = np.array([[getattr(a, measure)[r] for r in names] for a in attributions], dtype=np.float64)
    subjects = np.unique(ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        values = np.array([np.nanmean(rows[ids == s], axis=0) for s in subjects]).reshape(len(subjects), len(names))
    return values, subjects
