"""Checkpoints: weights as safetensors plus a JSON file of metadata (config, data hash, metrics).

``name.safetensors`` holds only tensors (safe to load: no pickled code);
``name.json`` says what produced them. Optimizer and RNG state for exact resume
live separately in ``trainer_state.pt`` (see ``facehealth.train.engine``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from facehealth.errors import ModelNotFoundError

__all__ = ["save_checkpoint", "load_checkpoint", "data_hash"]


def save_checkpoint(stem: str | Path, state_dict: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    """Write ``stem.safetensors`` and ``stem.json`` atomically; returns the .safetensors path."""
    from safetensors.torch import save_file

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    tmp = stem.with_suffix(".safetensors.tmp")
    save_file(tensors, str(tmp), metadata={"format": "pt", "producer": "facehealth"})
    tmp.replace(stem.with_suffix(".safetensors"))
    meta_tmp = stem.with_suffix(".json.tmp")
    meta_tmp.write_text(json.dumps(metadata, indent=2, default=str))
    meta_tmp.replace(stem.with_suffix(".json"))
    return stem.with_suffix(".safetensors")


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load weights (and the metadata JSON beside them, if present) from a ``.safetensors`` file."""
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise ModelNotFoundError(f"checkpoint not found: {path}")
    meta_path = path.with_suffix(".json")
    metadata = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return load_file(str(path)), metadata


def data_hash(items: Iterable[str]) -> str:
    """Order-independent fingerprint of a dataset's item list (e.g. crop paths)."""
    h = hashlib.sha256()
    for item in sorted(items):
        h.update(item.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]
