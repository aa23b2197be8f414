"""Saliency maps for any head of a :class:`~facehealth.models.multitask.MultiTaskModel`.

A *target* is one scalar output: ``outputs[task][:, index]``, i.e. a Cox head's
log relative hazard, one (standardised) column of a regression head, a binary
logit or one class logit of a multiclass head. Maps are (N, H, W) float32 in
[0, 1] at the model's input resolution, one per image, each divided by its own
maximum (an all-zero map stays zero).

Methods:

- ``gradcam`` (Selvaraju et al. 2017): ``relu(sum_c w_c A_c)`` with
  ``w_c = mean_{spatial} dy/dA_c``. The activation ``A`` is the last conv stage
  of a CNN (``layer4``), the NHWC output of Swin's last stage, or, for a ViT,
  the tokens entering the last block (the output of ``blocks[-1].norm1``):
  after the last block the patch tokens no longer reach a class-token head, so
  their gradients would be zero. Prefix tokens (class, registers) are dropped
  and the rest reshaped to the patch grid, then upsampled bilinearly.
- ``rollout`` (Abnar & Zuidema 2020, "Quantifying Attention Flow in
  Transformers"): ``R = prod_l (0.5 A_l + 0.5 I)`` with ``A_l`` the head-mean
  attention of block ``l`` (rows renormalised), read from the class token's row
  (or the mean patch row without a class token). timm's fused attention
  (``scaled_dot_product_attention``) never materialises the weights, so a
  forward hook on each ``attn`` module recomputes them from its input:
  ``softmax(q_norm(q) k_norm(k)^T * scale)`` with ``q, k`` from the module's own
  ``qkv`` projection. Rollout does not depend on the target (task/index).
- ``ig`` (Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks"):
  ``IG_i = (x_i - x'_i) * mean_k dF/dx_i (x' + a_k (x - x'))`` at the midpoints
  ``a_k = (k + 0.5) / steps``; the map is ``sum_channels |IG|``. Completeness
  (``sum IG = F(x) - F(x')``) is checked by :func:`completeness_gap`.

The model is left as found: hooks are removed and its train/eval mode restored
even on error, and gradients are taken with ``torch.autograd.grad`` so no
parameter ``.grad`` is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facehealth.data.datasets import IMAGENET_MEAN, IMAGENET_STD
from facehealth.errors import ConfigError
from facehealth.models.registry import get_spec

__all__ = [
    "Method",
    "Baseline",
    "IGResult",
    "saliency",
    "gradcam",
    "attention_rollout",
    "rollout_matrix",
    "integrated_gradients",
    "completeness_gap",
    "to_model_input",
    "target_names",
    "require_pixel_model",
]

Method = Literal["gradcam", "rollout", "ig"]
Baseline = Literal["black", "blur"]


@dataclass(frozen=True, eq=False)
class IGResult:
    """Integrated gradients for a batch.

    Attributes:
        attributions: (N, 3, H, W) signed attributions in input (normalised) space.
        output: (N,) target value at the images, F(x).
        baseline_output: (N,) target value at the baselines, F(x').
    """

    attributions: torch.Tensor
    output: torch.Tensor
    baseline_output: torch.Tensor

    def saliency(self) -> np.ndarray:
        """(N, H, W) ``sum_c |IG|``, each map scaled to [0, 1]."""
        return _unit(self.attributions.abs().sum(1))


def to_model_input(crops: np.ndarray | list[np.ndarray], size: int) -> torch.Tensor:
    """RGB uint8 crops (N, h, w, 3) -> (N, 3, size, size) ImageNet-normalised, as the datasets feed models."""
    import cv2

    out = []
    for crop in crops:
        if crop.shape[0] != size or crop.shape[1] != size:
            crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
        out.append((crop.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD)
    return torch.from_numpy(np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2)))


def require_pixel_model(model: nn.Module, where: str) -> None:
    """Raise a clear error for a model whose frames carry landmark motion: it has no per-photo pixel saliency.

    Such a model reads a whole clip's motion (and, for ``both``, pixels beside it), so a single
    photo cannot be scored; its explanation is the digital facial map of the cohort's videos.
    """
    frame_input = getattr(model, "frame_input", "pixels")
    if frame_input != "pixels":
        raise ConfigError(
            f"{where}: this video model reads landmark motion (frame_input: {frame_input}), not single photos; "
            "explain it with the digital facial map (gradient x motion per landmark), which `facehealth run` / "
            "`facehealth demo` write to explain/, or from Python with facehealth.explain.facial_map"
        )


def target_names(model: nn.Module) -> list[tuple[str, int, str]]:
    """Every scalar target of a multi-task model as (task, index, label), e.g. ("biomarkers", 0, "haemoglobin")."""
    names = []
    for t in model.tasks:
        labels = t.classes if t.kind == "multiclass" else t.columns if t.kind == "regression" else (t.name,)
        names.extend((t.name, i, lab) for i, lab in enumerate(labels))
    return names


def saliency(
    model: nn.Module,
    images: torch.Tensor,
    task: str,
    index: int = 0,
    method: Method = "gradcam",
    *,
    baseline: Baseline = "black",
    steps: int = 32,
    layer: nn.Module | None = None,
) -> np.ndarray:
    """Saliency of one target for a batch of aligned crops.

    Args:
        model: a ``MultiTaskModel`` (single-image input).
        images: (N, 3, H, W) normalised as the model was trained (see :func:`to_model_input`).
        task: head name; index: output column / class index of that head.
        method: ``gradcam``, ``rollout`` (ViT only; target-independent) or ``ig``.
        baseline, steps: integrated-gradients settings.
        layer: Grad-CAM activation layer override (default chosen by backbone family).

    Returns:
        (N, H, W) float32 in [0, 1].

    Raises:
        ConfigError: unknown task, index out of range, unknown method, rollout on a non-ViT.
    """
    _check_target(model, task, index)
    if method == "gradcam":
        return gradcam(model, images, task, index, layer=layer)
    if method == "rollout":
        return attention_rollout(model, images)
    if method == "ig":
        return integrated_gradients(model, images, task, index, baseline=baseline, steps=steps).saliency()
    raise ConfigError(f"unknown saliency method '{method}'; choose gradcam, rollout or ig")


def gradcam(
    model: nn.Module, images: torch.Tensor, task: str, index: int = 0, layer: nn.Module | None = None
) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) upsampled to the input size; see the module docstring for the layer."""
    _check_target(model, task, index)
    family = _family(model)
    layer = layer or _default_layer(model, family)
    captured: list[torch.Tensor] = []
    with _eval_mode(model), _hook(layer, lambda _m, _i, out: captured.append(out)):
        x = images.detach().clone().requires_grad_(True)  # keeps a graph even for frozen weights
        score = model(x)[task][:, index]
        (grads,) = torch.autograd.grad(score.sum(), captured[-1])
    act = captured[-1].detach()
    act, grads = _to_nchw(model, family, act, layer), _to_nchw(model, family, grads, layer)
    weights = grads.mean(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
    cam = F.relu((weights * act).sum(1, keepdim=True))  # (N, 1, h, w)
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)
    return _unit(cam[:, 0])


def rollout_matrix(model: nn.Module, images: torch.Tensor, head_fusion: str = "mean") -> torch.Tensor:
    """(N, T, T) attention rollout over all blocks of a ViT backbone (rows sum to 1).

    ``A_hat_l = rownorm(0.5 * fuse_heads(A_l) + 0.5 * I)``, ``R = A_hat_L ... A_hat_1``.
    """
    if _family(model) != "vit":
        raise ConfigError(f"attention rollout needs a ViT backbone, not {model.backbone_name}")
    maps: list[torch.Tensor] = []

    def record(module: nn.Module, inputs: tuple, _out: torch.Tensor) -> None:
        maps.append(_attention_weights(module, inputs[0]))

    blocks = list(model.backbone.blocks)
    with _eval_mode(model), torch.no_grad(), _hooks([b.attn for b in blocks], record):
        model.backbone(images)
    rollout = None
    for attn in maps:  # (N, heads, T, T), first block first
        fused = attn.mean(1) if head_fusion == "mean" else attn.max(1).values
        eye = torch.eye(fused.shape[-1], dtype=fused.dtype, device=fused.device)
        a = 0.5 * fused + 0.5 * eye  # the residual path carries half the signal
        a = a / a.sum(-1, keepdim=True)
        rollout = a if rollout is None else a @ rollout
    return rollout


def attention_rollout(model: nn.Module, images: torch.Tensor, head_fusion: str = "mean") -> np.ndarray:
    """Attention rollout map (Abnar & Zuidema 2020) on the patch grid, upsampled to the input size."""
    rollout = rollout_matrix(model, images, head_fusion)
    vit = model.backbone
    prefix = int(getattr(vit, "num_prefix_tokens", 1))
    if getattr(vit, "cls_token", None) is not None:
        row = rollout[:, 0, prefix:]  # how the class token draws on every patch
    else:
        row = rollout[:, prefix:, prefix:].mean(1)  # mean-pooled models: average patch row
    gh, gw = vit.patch_embed.grid_size
    grid = row.reshape(-1, 1, gh, gw)
    return _unit(F.interpolate(grid, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0])


def integrated_gradients(
    model: nn.Module,
    images: torch.Tensor,
    task: str,
    index: int = 0,
    *,
    baseline: Baseline | torch.Tensor = "black",
    steps: int = 32,
    chunk: int = 64,
) -> IGResult:
    """Integrated gradients (Sundararajan et al. 2017) with the midpoint Riemann sum over ``steps``.

    Args:
        baseline: ``black`` (a black photo, i.e. ``-mean/std`` after normalisation),
            ``blur`` (Gaussian blur, sigma = 1/10 of the side: keeps colour, removes detail),
            or an explicit tensor shaped like ``images``.
        chunk: interpolated images per backward pass (memory bound).
    """
    _check_target(model, task, index)
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    x = images.detach()
    x0 = _baseline(x, baseline)
    alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps  # midpoints
    attributions = torch.empty_like(x)
    with _eval_mode(model):
        for i in range(len(x)):
            path = x0[i : i + 1] + alphas.view(-1, 1, 1, 1) * (x[i : i + 1] - x0[i : i + 1])  # (steps, 3, H, W)
            total = torch.zeros_like(x[i])
            for start in range(0, steps, chunk):
                part = path[start : start + chunk].clone().requires_grad_(True)
                score = model(part)[task][:, index]
                (g,) = torch.autograd.grad(score.sum(), part)
                total += g.sum(0)
            attributions[i] = (x[i] - x0[i]) * total / steps
        with torch.no_grad():
            out = model(x)[task][:, index]
            out0 = model(x0)[task][:, index]
    return IGResult(attributions, out.detach(), out0.detach())


def completeness_gap(result: IGResult) -> np.ndarray:
    """(N,) relative completeness error ``|sum IG - (F(x) - F(x'))| / max(|F(x) - F(x')|, 1e-8)``.

    Exact integration gives 0; the midpoint rule's error shrinks as ``1/steps^2``
    for smooth models (ReLU kinks make it slower); Sundararajan et al. suggest
    raising ``steps`` until the gap is within 5%.
    """
    total = result.attributions.flatten(1).sum(1)
    diff = result.output - result.baseline_output
    return ((total - diff).abs() / diff.abs().clamp(min=1e-8)).cpu().numpy()


def _baseline(x: torch.Tensor, baseline: Baseline | torch.Tensor) -> torch.Tensor:
    if isinstance(baseline, torch.Tensor):
        if baseline.shape != x.shape:
            raise ConfigError(f"baseline shape {tuple(baseline.shape)} != images shape {tuple(x.shape)}")
        return baseline.to(x)
    if baseline == "black":
        mean = torch.as_tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.as_tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (-mean / std).expand_as(x).clone()
    if baseline == "blur":
        # Normalisation is per-channel affine, so blurring the normalised image equals
        # normalising the blurred photo.
        sigma = max(x.shape[-1] / 10.0, 1.0)
        radius = int(3 * sigma)
        t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
        y = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), k, groups=3)
        return F.conv2d(F.pad(y, (0, 0, radius, radius), mode="replicate"), k.transpose(-1, -2), groups=3)
    raise ConfigError(f"unknown baseline '{baseline}'; choose black or blur")


def _attention_weights(attn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Recompute timm ``Attention`` weights (N, heads, T, T) from the module's input tokens."""
    b, n, _ = x.shape
    qkv = attn.qkv(x).reshape(b, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k, _v = qkv.unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


def _family(model: nn.Module) -> str:
    return get_spec(model.backbone_name).family


def _default_layer(model: nn.Module, family: str) -> nn.Module:
    backbone = model.backbone
    if family == "vit":
        return backbone.blocks[-1].norm1
    if family == "swin":
        return backbone.layers[-1]
    return backbone.layer4


def _to_nchw(model: nn.Module, family: str, t: torch.Tensor, layer: nn.Module) -> torch.Tensor:
    """Bring an activation (or its gradient) to (N, C, h, w)."""
    if t.ndim == 3:  # ViT tokens (N, T, C): drop class/register tokens, fold the patch grid
        vit = model.backbone
        prefix = int(getattr(vit, "num_prefix_tokens", 1))
        gh, gw = vit.patch_embed.grid_size
        return t[:, prefix:].transpose(1, 2).reshape(t.shape[0], -1, gh, gw)
    if family == "swin" and t.ndim == 4 and layer is _default_layer(model, family):
        return t.permute(0, 3, 1, 2)  # timm Swin stages are NHWC
    return t


def _check_target(model: nn.Module, task: str, index: int) -> None:
    spec = {t.name: t for t in model.tasks}
    if task not in spec:
        raise ConfigError(f"unknown task '{task}'; this model has {', '.join(spec)}")
    if not 0 <= index < spec[task].outputs:
        raise ConfigError(f"task '{task}' has {spec[task].outputs} output(s); index {index} is out of range")


def _unit(maps: torch.Tensor) -> np.ndarray:
    """Per-map scaling to [0, 1] by the maximum (maps are non-negative)."""
    m = maps.detach().float().clamp(min=0)
    peak = m.flatten(1).max(1).values.clamp(min=1e-12).view(-1, 1, 1)
    return (m / peak).cpu().numpy().astype(np.float32)


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@contextmanager
def _hook(module: nn.Module, fn: Callable[[nn.Module, tuple[Any, ...], Any], None]) -> Iterator[None]:
    with _hooks([module], fn):
        yield


@contextmanager
def _hooks(modules: list[nn.Module], fn: Callable[[nn.Module, tuple[Any, ...], Any], None]) -> Iterator[None]:
    handles = [m.register_forward_hook(fn) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()
