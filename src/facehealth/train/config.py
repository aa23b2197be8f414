"""Training configs (``configs/pretrain.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["OptimConfig", "PretrainConfig"]


@dataclass(frozen=True)
class OptimConfig:
    # MAE's recipe: AdamW, base lr 1.5e-4 per 256 images (scaled linearly with the
    # effective batch), betas (0.9, 0.95), weight decay 0.05, cosine decay after warm-up.
    base_lr: float = 1.5e-4
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_epochs: float = 1.0
    min_lr: float = 1e-6
    clip_grad: float | None = 1.0  # max global grad norm; None = off
    accum_steps: int = 1  # gradient accumulation: effective batch = batch_size * accum_steps * world size


@dataclass(frozen=True)
class PretrainConfig:
    """Self-supervised MAE pretraining on prepared face crops (FaceFound stage 2)."""

    data: tuple[str, ...] = ("runs/demo/cohort_faces",)  # folders written by `faces prepare`
    out_dir: str = "runs/pretrain"
    backbone: str = "vit_small_patch16"
    img_size: int = 224
    mask_ratio: float = 0.75
    decoder_dim: int = 256
    decoder_depth: int = 4
    decoder_heads: int = 8
    norm_pix_loss: bool = True
    epochs: int = 20
    batch_size: int = 64
    optim: OptimConfig = field(default_factory=OptimConfig)
    # Stage chain: start from this checkpoint (a general-image or earlier face stage);
    # None = random init. Encoder weights are taken; the decoder is re-initialised if absent.
    init_from: str | None = None
    augment: bool = True
    seed: int = 0
    num_workers: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True  # bf16 autocast on CUDA; ignored on CPU
    resume: bool = True  # continue from out_dir/trainer_state.pt if present

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError("batch_size and epochs must be >= 1")
