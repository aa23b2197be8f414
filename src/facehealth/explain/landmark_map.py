"""Digital facial mapping (Emoface): which of the 68 landmarks carry a signal.

Two kinds of per-landmark values feed the map:

- :func:`landmark_gradients`: how strongly a model output reacts to the image
  around each landmark (gradient saliency pooled at the landmark);
- :func:`landmark_motion`: how much each landmark moves over a video (the
  expression dynamics Emoface reads).

:mod:`facehealth.explain.landmark_stats` compares two groups landmark by landmark
and draws the map.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch

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
