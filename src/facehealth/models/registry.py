"""Backbone registry: ``create_model(name, **kw)`` and ``list_models()`` over timm architectures.

Names spell out the variant. Weights are never downloaded (``pretrained=False``
always): start from random init, from a facehealth checkpoint, or from a file
the user points to (see :mod:`facehealth.models.weights`).

| name | role |
|---|---|
| vit_tiny_patch16 | quick CPU runs (the demo) |
| vit_small_patch16 | foundation model, default for CPU/GPU studies |
| vit_base_patch16 | foundation model at FaceFound/FAHR scale (GPU) |
| resnet18 | CNN baseline FaceFound compares against |
| swin_tiny_patch4_window7, swin_small_patch4_window7 | Swin baselines (FaceFound compares to Swin-L) |
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from facehealth.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["BackboneSpec", "register_model", "create_model", "list_models", "get_spec"]


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    timm_name: str
    family: str  # "vit" | "cnn" | "swin"
    default_img_size: int
    patch_size: int | None = None


_REGISTRY: dict[str, BackboneSpec] = {}


def register_model(spec: BackboneSpec) -> BackboneSpec:
    _REGISTRY[spec.name] = spec
    return spec


for _spec in (
    BackboneSpec("vit_tiny_patch16", "vit_tiny_patch16_224", "vit", 224, 16),
    BackboneSpec("vit_small_patch16", "vit_small_patch16_224", "vit", 224, 16),
    BackboneSpec("vit_base_patch16", "vit_base_patch16_224", "vit", 224, 16),
    BackboneSpec("resnet18", "resnet18", "cnn", 224),
    BackboneSpec("swin_tiny_patch4_window7", "swin_tiny_patch4_window7_224", "swin", 224, 4),
    BackboneSpec("swin_small_patch4_window7", "swin_small_patch4_window7_224", "swin", 224, 4),
):
    register_model(_spec)


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_spec(name: str) -> BackboneSpec:
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown model '{name}'.{hint} Available: {', '.join(list_models())}")
    return _REGISTRY[name]


def create_model(name: str, img_size: int | None = None, num_classes: int = 0, **kwargs: Any) -> nn.Module:
    """Build a registered backbone with random weights.

    Args:
        name: a registry name (``list_models()``).
        img_size: input side in px (ViT/Swin position tables are sized for it).
        num_classes: 0 returns pooled features (``model.num_features`` wide).
        **kwargs: passed to ``timm.create_model`` (e.g. ``drop_path_rate``).

    Raises:
        ConfigError: unknown name (with close matches).
    """
    import timm

    spec = get_spec(name)
    size = img_size or spec.default_img_size
    extra: dict[str, Any] = dict(kwargs)
    if spec.family in ("vit", "swin"):
        extra["img_size"] = size
    if spec.family == "swin" and size % 32:
        raise ConfigError(f"{name}: img_size must be a multiple of 32 for Swin, got {size}")
    return timm.create_model(spec.timm_name, pretrained=False, num_classes=num_classes, **extra)
