"""A standardized face: the cohort's mean shape in 2D (68 landmarks) and 3D (468-point mesh).

2D: generalized Procrustes analysis (GPA; Gower, Psychometrika 40:33, 1975)
removes position, scale and rotation from every face, the mean shape is
re-estimated and the loop repeats until it stops moving. A Delaunay mesh of the
mean landmarks carries per-landmark scores over the face by barycentric
interpolation, so a significance map reads as a painted face.

3D (:mod:`facehealth.explain.standard_face_3d`): MediaPipe's 468-point face mesh on the
aligned crops, GPA in 3D for the mean mesh; its ``write_standard_faces`` writes both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import Delaunay

from facehealth.errors import InputError

__all__ = [
    "ProcrustesResult",
    "procrustes_mean",
    "mean_shape",
    "delaunay_mesh",
    "interpolate_scores",
    "render_standard_face",
    "mean_face_image",
    "standard_face_of",
]


@dataclass(frozen=True, eq=False)
class ProcrustesResult:
    """GPA outcome. ``mean`` and ``aligned`` are in the cohort's own frame (see :func:`procrustes_mean`)."""

    mean: np.ndarray  # (P, D)
    aligned: np.ndarray  # (N, P, D) every shape superimposed on the mean
    iterations: int
    converged: bool
    change: float  # RMS movement of the normalised mean in the last iteration
    residual: float  # RMS distance of aligned shapes to the mean, in output units


def _rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Best proper rotation R (D x D) with ``source @ R ~ target`` (Kabsch; no reflections)."""
    u, _, vt = np.linalg.svd(source.T @ target)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    flip = np.eye(source.shape[1])
    flip[-1, -1] = d
    return u @ flip @ vt


def _normalise(shape: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    centre = shape.mean(axis=0)
    centred = shape - centre
    size = float(np.sqrt((centred**2).sum()))  # centroid size
    return centred / max(size, 1e-12), centre, size


def procrustes_mean(shapes: np.ndarray, max_iter: int = 50, tol: float = 1e-7) -> ProcrustesResult:
    """Generalized Procrustes mean of N shapes of P points in D = 2 or 3 dimensions.

    Each shape is centred and scaled to unit centroid size, rotated onto the
    current mean (Kabsch), the mean is recomputed and renormalised; stop when it
    moves less than ``tol`` (RMS per point). The result is put back in the
    cohort's frame: scaled to the mean centroid size, rotated onto the plain
    average shape and centred on the average centroid, so crop-space inputs give
    a crop-space mean (upright, same pixel scale).

    Args:
        shapes: (N, P, D) with N >= 1.
    """
    x = np.asarray(shapes, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] not in (2, 3) or len(x) < 1:
        raise InputError(f"shapes must be (N, P, 2|3) with N >= 1, got {x.shape}")
    if not np.isfinite(x).all():
        raise InputError("shapes contain NaN or inf")
    norm = np.stack([_normalise(s)[0] for s in x])
    sizes = np.array([_normalise(s)[2] for s in x])
    mean = norm[0]
    change, converged, it = np.inf, False, 0
    for it in range(1, max_iter + 1):
        aligned = np.stack([s @ _rotation(s, mean) for s in norm])
        new, _, _ = _normalise(aligned.mean(axis=0))
        new = new @ _rotation(new, mean)  # keep the reference orientation fixed between iterations
        change = float(np.sqrt(((new - mean) ** 2).sum(axis=1).mean()))
        mean = new
        if change < tol:
            converged = True
            break
    aligned = np.stack([s @ _rotation(s, mean) for s in norm])
    # Back to the input frame: size, orientation and position of the plain average.
    plain = x.mean(axis=0)
    plain_c = plain - plain.mean(axis=0)
    out_mean = (mean @ _rotation(mean, plain_c)) * sizes.mean() + plain.mean(axis=0)
    rot = _rotation(mean, plain_c)
    out_aligned = aligned @ rot * sizes.mean() + plain.mean(axis=0)
    residual = float(np.sqrt(((out_aligned - out_mean) ** 2).sum(axis=2).mean()))
    return ProcrustesResult(out_mean, out_aligned, it, converged, change, residual)


def mean_shape(landmarks: np.ndarray, max_iter: int = 50) -> np.ndarray:
    """The (68, 2) standardized 2D face of (N, 68, 2) aligned-crop landmarks (GPA mean, crop pixels)."""
    return procrustes_mean(landmarks, max_iter=max_iter).mean


def delaunay_mesh(points: np.ndarray) -> np.ndarray:
    """(T, 3) vertex indices of the Delaunay triangulation of (P, 2) points."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
        raise InputError(f"points must be (P >= 3, 2), got {pts.shape}")
    return Delaunay(pts).simplices.astype(np.int64)


def interpolate_scores(points: np.ndarray, scores: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per-pixel barycentric interpolation of vertex scores over the Delaunay mesh of ``points``.

    For a pixel in triangle (a, b, c) with barycentric weights (l_a, l_b, l_c),
    ``value = l_a s_a + l_b s_b + l_c s_c``; pixels outside the mesh's convex hull are NaN.

    Returns:
        (H, W) float64 image.
    """
    pts = np.asarray(points, dtype=np.float64)
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    if s.shape != (len(pts),):
        raise InputError(f"scores must be ({len(pts)},), got {s.shape}")
    tri = Delaunay(pts)
    h, w = int(shape[0]), int(shape[1])
    values = np.full((h, w), np.nan)
    # Rasterise triangle by triangle over its bounding box (a point-location query per
    # pixel, Delaunay.find_simplex, is ~100x slower for a 224-px image).
    for simplex, trans in zip(tri.simplices, tri.transform):
        corners = pts[simplex]
        x0, y0 = np.maximum(np.floor(corners.min(axis=0) - 0.5).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(corners.max(axis=0) - 0.5).astype(int), [w - 1, h - 1])
        if x1 < x0 or y1 < y0:
            continue
        yy, xx = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
        grid = np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], axis=1)  # pixel centres
        # scipy stores T^-1 and the last vertex r: (l0, l1) = T^-1 (x - r), l2 = 1 - l0 - l1.
        lam = (grid - trans[2]) @ trans[:2].T
        bary = np.column_stack([lam, 1.0 - lam.sum(axis=1)])
        inside = (bary >= -1e-9).all(axis=1)
        values[yy.ravel()[inside], xx.ravel()[inside]] = bary[inside] @ s[simplex]
    return values


def render_standard_face(
    mean_landmarks: np.ndarray,
    scores: np.ndarray | None,
    out_png: str | Path,
    size: int = 224,
    title: str = "",
) -> Path:
    """Draw the 2D standardized face: the mesh, with ``scores`` (68,) painted by barycentric interpolation.

    Args:
        mean_landmarks: (68, 2) crop-pixel mean shape (:func:`mean_shape`).
        scores: per-landmark values in [0, 1] (e.g. significance ``score``); None = plain mesh.
        out_png: output path; ``size``: the crop side the landmarks refer to.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = np.asarray(mean_landmarks, dtype=np.float64)
    tris = delaunay_mesh(pts)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 5.4))
    if scores is not None:
        painted = interpolate_scores(pts, scores, (size, size))
        im = ax.imshow(np.ma.masked_invalid(painted), cmap="YlOrRd", vmin=0, vmax=1, extent=(0, size, size, 0))
        fig.colorbar(im, ax=ax, fraction=0.04, label="score")
    ax.triplot(pts[:, 0], pts[:, 1], tris, color="0.35", lw=0.5)
    ax.scatter(pts[:, 0], pts[:, 1], s=6, c="k")
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title or "standardized face (cohort mean, 68 landmarks)", fontsize=9)
    fig.savefig(out_png, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return out_png


def mean_face_image(prepared_dir: str | Path, crop_paths: list[str] | tuple[str, ...]) -> np.ndarray:
    """The pixel-wise mean of aligned crops (paths relative to ``prepared_dir``): a soft "average face".

    Every crop shares the alignment template, so the mean lies in the same crop frame as the
    crops' landmarks. With few subjects it can resemble one of them (it is patient data).
    """
    from facehealth.data.datasets import load_crop

    root = Path(prepared_dir)
    stack = np.stack([load_crop(root / p).astype(np.float32) for p in crop_paths])
    return stack.mean(axis=0).round().astype(np.uint8)


def standard_face_of(prepared_dir: str | Path, max_faces: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The standardized face of a ``faces prepare`` folder: (68, 2) GPA mean landmarks and the mean crop.

    Uses up to ``max_faces`` crops drawn at random (``seed``), as the facial map does.

    Raises:
        InputError: not a prepared folder (no ``manifest.parquet``) or no face in it.
    """
    import pandas as pd

    from facehealth.explain.landmark_map import crop_landmarks

    manifest_path = Path(prepared_dir) / "manifest.parquet"
    if not manifest_path.is_file():
        raise InputError(f"{prepared_dir}: not a `faces prepare` folder (no manifest.parquet)")
    manifest = pd.read_parquet(manifest_path)
    if manifest.empty:
        raise InputError(f"{manifest_path} has no faces")
    rows = manifest.sample(min(max_faces, len(manifest)), random_state=seed)
    return mean_shape(crop_landmarks(rows)), mean_face_image(prepared_dir, list(rows["crop_path"]))
