"""Digital facial mapping (Emoface): which of the 68 landmarks carry a signal.

Two kinds of per-landmark values feed the map:

- :func:`landmark_gradients`: how strongly a model output reacts to the image
  around each landmark (gradient saliency pooled at the landmark);
- :func:`landmark_motion`: how much each landmark moves over a video (the
  expression dynamics Emoface reads).

:func:`landmark_significance` then compares two groups (e.g. BPD vs MDD)
landmark by landmark with a two-sided test, Benjamini-Hochberg FDR, an effect
size and a 0..1 ranking; :func:`digital_facial_map` draws and saves the result.

Reference: Emoface's "digital facial mapping" ranks landmarks by the group
difference they show; the tests here are standard (Mann-Whitney U; Welch's t)
with BH step-up q-values (Benjamini & Hochberg, JRSS-B 57:289, 1995).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from scipy import stats

from facehealth.errors import InputError
from facehealth.faces.landmarks import REGIONS, inter_ocular_distance
from facehealth.faces.motion import aligned_landmarks

__all__ = [
    "LANDMARK_REGION",
    "landmark_gradients",
    "crop_landmark_gradients",
    "landmark_motion",
    "crop_landmarks",
    "video_landmark_motion",
    "benjamini_hochberg",
    "landmark_significance",
    "digital_facial_map",
]

# Region name of each of the 68 iBUG landmarks, in index order.
LANDMARK_REGION: tuple[str, ...] = tuple(next(name for name, idx in REGIONS.items() if i in idx) for i in range(68))
# Window width in inter-ocular distances: ~6 px at a 64-px crop (IOD 16 px), ~ the
# spacing of neighbouring mouth landmarks, so a window covers one landmark's patch.
_DEFAULT_SIGMA_IOD = 0.1


def _gaussian_pool(values: torch.Tensor, points: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian-weighted mean of ``values`` (N, H, W) around ``points`` (N, P, 2) -> (N, P).

    The 2-D window exp(-r^2 / 2 sigma^2) is separable, so it is the product of an x
    and a y profile; pooling is then two small matrix products instead of P full maps.
    """
    n, h, w = values.shape
    xs = torch.arange(w, dtype=values.dtype) + 0.5  # pixel centres
    ys = torch.arange(h, dtype=values.dtype) + 0.5
    s = sigma.view(n, 1, 1)
    wx = torch.exp(-((xs.view(1, 1, w) - points[..., 0:1]) ** 2) / (2 * s**2))  # (N, P, W)
    wy = torch.exp(-((ys.view(1, 1, h) - points[..., 1:2]) ** 2) / (2 * s**2))  # (N, P, H)
    pooled = torch.einsum("nph,nhw,npw->np", wy, values, wx)
    norm = wy.sum(-1) * wx.sum(-1)
    return pooled / norm.clamp(min=1e-12)


def landmark_gradients(
    model: torch.nn.Module,
    images: torch.Tensor,
    landmarks_crop: np.ndarray | torch.Tensor,
    task: str,
    index: int = 0,
    sigma_px: float | None = None,
    mask: torch.Tensor | None = None,
    times: torch.Tensor | None = None,
) -> np.ndarray:
    """Gradient saliency of one model output, pooled at each of the 68 landmarks.

    The target is ``model(images)[task][:, index]`` (a logit, log hazard or
    standardised value). Its gradient w.r.t. the input pixels is reduced to a
    magnitude per pixel (L2 over the colour channels) and averaged under a
    Gaussian window centred on each landmark. Pooling is needed because a
    landmark is a location while the gradient lives on pixels: the value at a
    single pixel is noisy (ViT patch edges, JPEG blocks) and depends on sub-pixel
    landmark error, whereas a window of ~0.1 inter-ocular distance summarises
    the patch of skin the landmark sits on.

    Items in a batch are independent (the model has no batch-coupled layers in
    eval mode), so one backward pass of the summed target gives every item's own
    gradient.

    Args:
        model: a :class:`~facehealth.models.multitask.MultiTaskModel` or any module
            returning ``{task: (B, outputs)}``; put in eval mode here.
        images: (N, 3, H, W) normalised crops, or (N, K, 3, H, W) photos/frames of
            one subject or video (the model's sequence input, with ``mask``/``times``).
        landmarks_crop: (N, 68, 2) or (N, K, 68, 2) landmarks in the pixels of
            ``images`` (scale crop-space landmarks when the crop was resized).
        task: head name.
        index: output column of that head (a class for multiclass heads).
        sigma_px: window sd in pixels; default 0.1 x each face's inter-ocular distance.
        mask, times: passed to the model for sequence inputs.

    Returns:
        (N, 68) or, for sequences, (N, K, 68) non-negative float64 values
        (padded frames of a sequence get zeros where their gradient is zero).
    """
    if images.ndim not in (4, 5):
        raise InputError(f"images must be (N,3,H,W) or (N,K,3,H,W), got shape {tuple(images.shape)}")
    points = torch.as_tensor(np.asarray(landmarks_crop, dtype=np.float32))
    if points.shape != (*images.shape[:-3], 68, 2):
        raise InputError(f"landmarks_crop must be {(*images.shape[:-3], 68, 2)}, got {tuple(points.shape)}")
    model.eval()
    x = images.detach().clone().float().requires_grad_(True)
    outputs = model(x) if images.ndim == 4 else model(x, mask, times)
    if task not in outputs:
        raise InputError(f"unknown task '{task}'; the model has {sorted(outputs)}")
    out = outputs[task]
    if not 0 <= index < out.shape[-1]:
        raise InputError(f"index {index} out of range for task '{task}' with {out.shape[-1]} outputs")
    (grad,) = torch.autograd.grad(out[:, index].sum(), x)
    magnitude = grad.detach().norm(dim=-3)  # (..., H, W)
    flat_mag = magnitude.reshape(-1, *magnitude.shape[-2:])
    flat_pts = points.reshape(-1, 68, 2)
    if sigma_px is None:
        iod = torch.tensor([max(inter_ocular_distance(p.numpy()), 1.0) for p in flat_pts])
        sigma = _DEFAULT_SIGMA_IOD * iod
    else:
        sigma = torch.full((flat_pts.shape[0],), float(sigma_px))
    pooled = _gaussian_pool(flat_mag, flat_pts, sigma)
    return pooled.reshape(*images.shape[:-3], 68).double().numpy()


def crop_landmark_gradients(
    model: torch.nn.Module,
    prepared_dir: str | Path,
    rows: pd.DataFrame,
    task: str,
    index: int = 0,
    img_size: int = 224,
    batch_size: int = 16,
) -> np.ndarray:
    """:func:`landmark_gradients` for prepared crops, one image at a time through the backbone.

    Crops are loaded, resized to ``img_size`` and normalised as in training
    (ImageNet mean/sd); their crop-space landmarks are scaled to match. A video
    model then scores each frame on its own (no temporal pooling); pass a
    (N, K, 3, H, W) clip to :func:`landmark_gradients` for the sequence view.

    Args:
        rows: manifest rows (``crop_path``, ``landmarks``, ``matrix``).

    Returns:
        (len(rows), 68) values in ``rows`` order.
    """
    import cv2

    from facehealth.data.datasets import IMAGENET_MEAN, IMAGENET_STD, load_crop

    root = Path(prepared_dir)
    points = crop_landmarks(rows)
    out = []
    for start in range(0, len(rows), batch_size):
        batch = rows.iloc[start : start + batch_size]
        images, scales = [], []
        for rel in batch["crop_path"]:
            crop = load_crop(root / rel)
            scales.append(img_size / crop.shape[0])
            crop = cv2.resize(crop, (img_size, img_size), interpolation=cv2.INTER_AREA)  # as load_crop(size=)
            images.append((crop.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD)
        x = torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy())
        pts = points[start : start + len(batch)] * np.asarray(scales)[:, None, None]
        out.append(landmark_gradients(model, x, pts, task, index))
    return np.concatenate(out) if out else np.zeros((0, 68))


def landmark_motion(
    landmarks: np.ndarray, kind: Literal["position", "velocity"] = "position", normalise: bool = True
) -> np.ndarray:
    """How much each landmark moves over one video.

    - ``"position"``: RMS distance of the landmark from its own mean position over the
      video, ``sqrt(mean_t ||p_i(t) - mean_t p_i||^2)`` -- the range of expression it shows;
    - ``"velocity"``: sd over frames of the step length ``||p_i(t+1) - p_i(t)||``
      (dominated by detector jitter at 5 fps, so it reads noise more than expression).

    Values are divided by the median inter-ocular distance when ``normalise``
    (scale-free). Landmarks that an expression moves (mouth corners, inner brows)
    vary; rigid ones (nose bridge) only jitter with detector noise.

    Args:
        landmarks: (T, 68, 2) landmarks of one video in time order, in a frame where
            head motion is removed (aligned crop coordinates).

    Returns:
        (68,) values; NaN with a warning for fewer than 3 frames.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[1:] != (68, 2):
        raise InputError(f"landmarks must be (T, 68, 2), got {pts.shape}")
    if kind not in ("position", "velocity"):
        raise InputError(f"kind must be 'position' or 'velocity', got {kind!r}")
    if len(pts) < 3:
        warnings.warn("landmark_motion needs >= 3 frames; returning NaN", RuntimeWarning, stacklevel=2)
        return np.full(68, np.nan)
    if kind == "position":
        values = np.sqrt(((pts - pts.mean(axis=0)) ** 2).sum(-1).mean(axis=0))
    else:
        values = np.linalg.norm(np.diff(pts, axis=0), axis=-1).std(axis=0, ddof=1)  # (T-1, 68) -> (68,)
    scale = float(np.median([inter_ocular_distance(p) for p in pts])) if normalise else 1.0
    return values / max(scale, 1e-9)


def crop_landmarks(manifest: pd.DataFrame) -> np.ndarray:
    """(N, 68, 2) crop-pixel landmarks of manifest rows (``landmarks`` in the photo, ``matrix`` photo -> crop)."""
    return aligned_landmarks(np.stack(manifest["landmarks"].to_numpy()), np.stack(manifest["matrix"].to_numpy()))


def video_landmark_motion(
    manifest: pd.DataFrame, kind: Literal["position", "velocity"] = "position", min_frames: int = 3
) -> pd.DataFrame:
    """Per-video :func:`landmark_motion` from a ``faces prepare`` manifest.

    Returns:
        One row per video (index ``media_id``) with ``subject_id`` and columns 0..67;
        videos with fewer than ``min_frames`` accepted frames are left out.
    """
    frames = manifest[manifest["frame_index"].notna()]
    rows, subjects = {}, {}
    for media_id, g in frames.groupby("media_id", sort=True):
        if len(g) < max(min_frames, 3):
            continue
        g = g.sort_values("frame_index")
        rows[media_id] = landmark_motion(crop_landmarks(g), kind=kind)
        subjects[media_id] = g["subject_id"].iloc[0]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(range(68)))
    table.insert(0, "subject_id", pd.Series(subjects))
    table.index.name = "media_id"
    return table


def benjamini_hochberg(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN p-values stay NaN and are not counted.

    ``q_(i) = min_{j >= i} min(1, m p_(j) / j)`` for sorted p-values p_(1) <= ... <= p_(m)
    (Benjamini & Hochberg 1995; same as R's ``p.adjust(method="BH")``).
    """
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return q
    order = np.argsort(p[ok], kind="mergesort")
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adjusted
    q[ok] = out
    return q


def _test_one(a: np.ndarray, b: np.ndarray, test: str) -> tuple[float, float, float]:
    """(statistic, p, effect) for one landmark; NaNs when a group is too small or values are constant."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2 or np.ptp(np.concatenate([a, b])) == 0:
        return np.nan, np.nan, np.nan
    if test == "mannwhitney":
        u, p = stats.mannwhitneyu(a, b, alternative="two-sided")
        # Rank-biserial correlation r = 2U/(n_a n_b) - 1 in [-1, 1]; > 0: group a larger.
        return float(u), float(p), float(2 * u / (len(a) * len(b)) - 1)
    t, p = stats.ttest_ind(a, b, equal_var=False)
    # Hedges' g: Cohen's d on the pooled sd with the small-sample correction 1 - 3/(4(n-2)-1).
    na, nb = len(a), len(b)
    pooled = np.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    d = (a.mean() - b.mean()) / pooled if pooled > 0 else np.nan
    return float(t), float(p), float(d * (1 - 3 / (4 * (na + nb - 2) - 1)))


def landmark_significance(
    values_group_a: np.ndarray,
    values_group_b: np.ndarray,
    names: Sequence[str] | None = None,
    test: Literal["mannwhitney", "welch"] = "mannwhitney",
) -> pd.DataFrame:
    """Per-landmark two-group test with BH FDR, effect size and a 0..1 ranking.

    Args:
        values_group_a, values_group_b: (n_a, L) and (n_b, L) per-subject values
            (L = 68 landmarks usually; NaN = missing).
        names: L landmark labels; default ``"<region>_<index>"``.
        test: two-sided Mann-Whitney U (effect = rank-biserial r) or Welch's t
            (effect = Hedges' g); both > 0 when group a is larger.

    Returns:
        One row per landmark with columns ``landmark, name, region, statistic, p,
        q, effect, mean_a, mean_b, rank, score``. ``rank`` 1 = most significant
        (smallest p; ties broken by larger |effect|); ``score`` = 1 - (rank-1)/(L-1),
        so 1 = most significant, 0 = least; untestable landmarks rank last with score 0.
    """
    a = np.asarray(values_group_a, dtype=np.float64)
    b = np.asarray(values_group_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InputError(f"groups must be (n_a, L) and (n_b, L) with the same L, got {a.shape} and {b.shape}")
    if test not in ("mannwhitney", "welch"):
        raise InputError(f"test must be 'mannwhitney' or 'welch', got {test!r}")
    n_lm = a.shape[1]
    if names is not None and len(names) != n_lm:
        raise InputError(f"names has {len(names)} entries for {n_lm} landmarks")
    regions = [LANDMARK_REGION[i] if n_lm == 68 else "" for i in range(n_lm)]
    labels = list(names) if names is not None else [f"{r}_{i}" if r else str(i) for i, r in enumerate(regions)]
    results = np.array([_test_one(a[:, i], b[:, i], test) for i in range(n_lm)]).reshape(n_lm, 3)
    if np.isnan(results[:, 1]).any():
        warnings.warn(
            f"{int(np.isnan(results[:, 1]).sum())} landmark(s) untestable (constant or < 2 values a group): p = NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    p = results[:, 1]
    q = benjamini_hochberg(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN means on purpose
        mean_a, mean_b = np.nanmean(a, axis=0), np.nanmean(b, axis=0)
    abs_effect = np.nan_to_num(np.abs(results[:, 2]), nan=0.0)
    order = np.lexsort((-abs_effect, np.where(np.isfinite(p), p, np.inf)))
    rank = np.empty(n_lm, dtype=np.int64)
    rank[order] = np.arange(1, n_lm + 1)
    score = 1.0 - (rank - 1) / max(n_lm - 1, 1)
    score[~np.isfinite(p)] = 0.0
    return pd.DataFrame(
        {
            "landmark": np.arange(n_lm),
            "name": labels,
            "region": regions,
            "statistic": results[:, 0],
            "p": p,
            "q": q,
            "effect": results[:, 2],
            "mean_a": mean_a,
            "mean_b": mean_b,
            "rank": rank,
            "score": score,
        }
    )


def digital_facial_map(
    table: pd.DataFrame,
    mean_landmarks: np.ndarray,
    out_png: str | Path,
    out_csv: str | Path | None = None,
    top: int = 10,
    title: str = "",
    image: np.ndarray | None = None,
) -> Path:
    """Draw the 68 points of a mean face coloured and sized by ``table["score"]``; label the top ``top``.

    Args:
        table: output of :func:`landmark_significance` (one row per landmark).
        mean_landmarks: (68, 2) mean face in crop pixels (e.g. from
            :func:`facehealth.explain.standard_face.mean_shape`).
        out_png: figure path; ``out_csv``: where to also write ``table`` (optional).
        image: optional background (a mean or example crop in the same pixel frame).

    Returns:
        The PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = np.asarray(mean_landmarks, dtype=np.float64)
    if pts.shape != (len(table), 2):
        raise InputError(f"mean_landmarks must be ({len(table)}, 2), got {pts.shape}")
    score = table["score"].to_numpy(np.float64)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    if out_csv is not None:
        Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out_csv, index=False)
    fig, ax = plt.subplots(figsize=(5.5, 6))
    if image is not None:
        ax.imshow(image, alpha=0.55)
    for idx in REGIONS.values():  # outline of each region for orientation
        ax.plot(pts[list(idx), 0], pts[list(idx), 1], color="0.7", lw=0.8, zorder=1)
    sc = ax.scatter(pts[:, 0], pts[:, 1], c=score, s=15 + 160 * score, cmap="inferno_r", vmin=0, vmax=1, zorder=2)
    best = table.sort_values("rank").head(top)
    for _, row in best.iterrows():
        x, y = pts[int(row["landmark"])]
        ax.annotate(
            str(int(row["landmark"])),  # q-values are in the CSV: labels stay short in the crowded mouth
            (x, y),
            xytext=(5, 5),
            textcoords="offset points",
            fontsize=7,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.8, "lw": 0},
            zorder=3,
        )
    ax.set_aspect("equal")
    if image is None:
        ax.invert_yaxis()  # image convention: y down
    ax.set_axis_off()
    ax.set_title(title or f"landmark significance (score 1 = most significant; top {top} numbered)", fontsize=9)
    fig.colorbar(sc, ax=ax, fraction=0.04, label="score")
    fig.savefig(out_png, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return out_png
