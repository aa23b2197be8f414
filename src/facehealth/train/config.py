"""Training configs: MAE pretraining (``configs/pretrain.yaml``) and fine-tuning (``configs/finetune.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["OptimConfig", "PretrainConfig", "FinetuneConfig"]


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
    # Evaluation integrity: with a split table, only the crops of subjects in `use_splits` are used
    # from `data`, so no held-out (test, external) face reaches the encoder. None = every crop
    # (a transductive run: a report must say so).
    splits_file: str | None = None
    use_splits: tuple[str, ...] = ("train",)
    # Folders of unlabeled face crops used whole (no split filter), e.g. a public-face stage.
    extra_data: tuple[str, ...] = ()
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


@dataclass(frozen=True)
class FinetuneConfig:
    """Clinical fine-tuning of the multi-task model on a cohort's prepared crops (FaceFound stage 3)."""

    cohort: str = "runs/demo/cohort"
    prepared: str = "runs/demo/cohort_faces"  # `faces prepare` output of the cohort
    out_dir: str = "runs/finetune"
    tasks: tuple[str, ...] = ("biomarkers", "age", "survival", "cad")
    biomarkers: tuple[str, ...] = ()  # empty = every registered marker in the labels table
    backbone: str = "vit_small_patch16"
    img_size: int = 224
    init_from: str | None = None
    mode: Literal["full", "linear_probe"] = "full"
    # "fit": heads start at their penalised optimum on frozen features (LP-FT, train/heads.py);
    # "random": PyTorch's default init. Fitting matters most from a pretrained encoder.
    head_init: Literal["fit", "random"] = "fit"
    # Layer-wise decay (BEiT/MAE fine-tuning): block i of L gets lr * decay^(L + 1 - i), so
    # early, general layers move less than late ones. 1.0 = off.
    layer_decay: float = 0.75
    epochs: int = 20
    batch_size: int = 32
    optim: OptimConfig = OptimConfig(base_lr=1e-3, weight_decay=0.05, betas=(0.9, 0.999), warmup_epochs=1.0)
    # What one training item is: one crop; all photos of a subject (pooled, DigitalShadow); or the
    # frames of one video in time order (Emoface's expression dynamics; pooling: temporal or stats).
    input: Literal["image", "subject", "video"] = "image"
    pooling: Literal["mean", "attention", "temporal", "stats", "timebins"] = "mean"
    images_per_subject: int = 4  # input: subject
    frames: int = 32  # input: video; longer clips are sampled evenly, shorter ones padded
    # input: video: what a frame gives the model: its crop's pixels, its landmark motion (faces/motion.py,
    # measured on the full-resolution frame: Emoface's expression dynamics), or both.
    frame_input: Literal["pixels", "landmarks", "both"] = "pixels"
    # pooling: timebins: one slice per stimulus (starting at the onsets of each video's stimulus
    # sidecar; equal slices without one); 4 = the synthetic cohort's and configs/stimuli's sequence.
    time_bins: int = 4
    # Heads also read the mean colour of each cell of a grid x grid layout over the aligned face
    # (models/colour.py): pallor, jaundice, greying and dark circles are regional colour, which a
    # small encoder trained on a CPU-sized cohort learns slowly. 8: 8 px cells at 64 px; in a ridge on
    # a 400-subject demo cohort, 8 beat 4 and 16 for age. 0 = encoder features only.
    colour_grid: int = 8
    age_balanced_epochs: int = 0
    age_bins: int = 8
    patience: int = 5  # epochs without a better validation loss before stopping
    # Share of the validation subjects kept out of early stopping and head fitting to calibrate the
    # photo-level intervals (models/calibration.py); used only when that leaves >= 10 on each side.
    calibration_share: float = 0.5
    augment: bool = True
    seed: int = 0
    # Commit the whole training state after every epoch (train/resume.py) so a killed run resumes
    # where it stopped; costs one write of ~4x the model's size per epoch.
    resume: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
