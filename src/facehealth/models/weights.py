"""Loading backbone weights from a file the user points to (nothing is ever downloaded).

Accepted: timm ``.pth``/``.bin``/``.safetensors`` state dicts; MAE / DeiT style
checkpoints that wrap the state dict in a ``model`` (or ``state_dict``) key;
facehealth checkpoints (``encoder.*`` from MAE pretraining, ``backbone.*`` from
fine-tuning); DDP's ``module.`` prefix. Position embeddings are resampled when
the checkpoint was trained at another input size (e.g. a 224-px ViT used at
112 px). Everything that does not fit is reported, never dropped silently.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from facehealth.errors import ConfigError, ModelNotFoundError

__all__ = ["LoadReport", "read_state_dict", "load_backbone_weights"]

_PREFIXES = ("module.", "encoder.", "backbone.", "model.")
_WRAPPERS = ("model", "state_dict", "model_state", "module")


@dataclass(frozen=True)
class LoadReport:
    loaded: int
    missing: tuple[str, ...]  # in the model, not (usably) in the file: keep their initialisation
    unexpected: tuple[str, ...]  # in the file, not in the model (e.g. an MAE decoder, another head)
    resized: tuple[str, ...]  # position embeddings resampled to the model's grid

    def summary(self) -> str:
        def short(keys: tuple[str, ...]) -> str:
            return ", ".join(keys[:6]) + (f" ... (+{len(keys) - 6})" if len(keys) > 6 else "") if keys else "none"

        return (
            f"loaded {self.loaded} tensors; resized: {short(self.resized)}; missing: {short(self.missing)}; "
            f"unexpected: {short(self.unexpected)}"
        )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read tensors from a .safetensors or a pickled torch file (loaded with ``weights_only``)."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        from facehealth.models.checkpoint import verify_weights

        verify_weights(path)
        return load_file(str(path))
    # MAE checkpoints pickle their argparse Namespace next to the weights; allow exactly that type.
    with torch.serialization.safe_globals([argparse.Namespace]):
        obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in _WRAPPERS:
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConfigError(f"{path}: no state dict found (expected tensors, or a dict with a 'model' key)")
    return obj


def load_backbone_weights(model: torch.nn.Module, path: str | Path) -> LoadReport:
    """Load ``path`` into a timm backbone; returns what was loaded, resized, missing and unexpected."""
    source = read_state_dict(path)
    own = model.state_dict()
    usable: dict[str, torch.Tensor] = {}
    unexpected, resized = [], []
    for key, value in source.items():
        name = key
        for prefix in _PREFIXES:
            if name.startswith(prefix) and name[len(prefix) :] in own:
                name = name[len(prefix) :]
                break
        if name not in own:
            unexpected.append(key)
            continue
        if name == "pos_embed" and value.shape != own[name].shape:
            value = _resample_pos_embed(value, model)
            resized.append(name)
        if value.shape != own[name].shape:
            unexpected.append(f"{key} (shape {tuple(value.shape)} vs {tuple(own[name].shape)})")
            continue
        usable[name] = value
    if not usable:
        raise ConfigError(f"{path}: no tensor fits this {model.__class__.__name__}; is it the same architecture?")
    model.load_state_dict(usable, strict=False)
    missing = tuple(k for k in own if k not in usable)
    return LoadReport(len(usable), missing, tuple(unexpected), tuple(resized))


def _resample_pos_embed(posemb: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    from timm.layers import resample_abs_pos_embed

    prefix = getattr(model, "num_prefix_tokens", 1)
    grid = model.patch_embed.grid_size
    old = int(math.sqrt(posemb.shape[1] - prefix))
    return resample_abs_pos_embed(posemb, new_size=list(grid), old_size=[old, old], num_prefix_tokens=prefix)
