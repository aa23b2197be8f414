"""Training loops. ``pretrain_mae`` is MAE's engine: read it top to bottom in one sitting.

Per iteration: learning rate from a cosine schedule with linear warm-up (a pure
function of the fractional epoch, so resume needs no scheduler state), forward
under autocast on CUDA, loss / accum_steps, backward, and every accum_steps
iterations: clip, step, zero. A non-finite loss stops the run with an error
(MAE does the same) rather than silently training on garbage. After each epoch,
weights (safetensors + JSON), ``trainer_state.pt`` (optimizer, epoch, loss
history, RNG) and ``metrics.jsonl`` are committed as one crash-safe group
(``train/resume.py``), so a run killed at any moment resumes and reproduces the
same loss curve on CPU.

Data parallel: the same function runs under ``torchrun --nproc_per_node=K``
(gloo on CPU, nccl on GPU). Every rank draws the same global batch order and
masking noise and takes its 1/K share of each global batch, so K processes
reproduce a one-process run with the same global batch (up to float
reduction order). Only rank 0 writes files.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
from torch.utils.data import BatchSampler, ConcatDataset, DataLoader, RandomSampler

from facehealth.atomic import staged
from facehealth.config import save_resolved, to_mapping
from facehealth.errors import FaceHealthError
from facehealth.models.checkpoint import PretrainMeta, data_hash, load_checkpoint, stage_checkpoint
from facehealth.train.config import OptimConfig, PretrainConfig
from facehealth.train.resume import commit_state, read_state, recover

if TYPE_CHECKING:
    from facehealth.data.datasets import CropDataset

__all__ = ["TrainingError", "PretrainResult", "cosine_lr", "pretrain_mae", "resolve_device"]


STATE_FILE = "trainer_state.pt"


class TrainingError(FaceHealthError):
    """Training cannot go on (non-finite loss, no data)."""


@dataclass(frozen=True)
class PretrainResult:
    out_dir: Path
    checkpoint: Path
    epoch_losses: list[float]
    images_per_second: float


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and dist.is_available() and dist.is_initialized():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


def _init_distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend)
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def cosine_lr(epoch: float, epochs: int, peak: float, optim: OptimConfig) -> float:
    """Linear warm-up to ``peak`` over ``warmup_epochs``, then half-cosine down to ``min_lr``."""
    if epoch < optim.warmup_epochs:
        return peak * epoch / optim.warmup_epochs
    span = max(epochs - optim.warmup_epochs, 1e-8)
    progress = min(1.0, (epoch - optim.warmup_epochs) / span)
    return optim.min_lr + (peak - optim.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _dataset(cfg: PretrainConfig) -> tuple[list[CropDataset], ConcatDataset]:
    from facehealth.data.augment import Augment
    from facehealth.data.datasets import CropDataset

    subjects = _allowed_subjects(cfg)
    aug = Augment() if cfg.augment else None
    parts = [CropDataset(d, subjects=subjects, size=cfg.img_size, augment=aug, seed=cfg.seed) for d in cfg.data]
    parts += [CropDataset(d, size=cfg.img_size, augment=aug, seed=cfg.seed) for d in cfg.extra_data]
    if not parts or sum(len(p) for p in parts) == 0:
        where = list(cfg.data) + list(cfg.extra_data)
        held = f" of subjects in splits {list(cfg.use_splits)} of {cfg.splits_file}" if subjects is not None else ""
        raise TrainingError(f"no face crops{held} found in {where}; run `facehealth faces prepare` first")
    return parts, ConcatDataset(parts)


def pretrain_mae(
    cfg: PretrainConfig,
    on_progress: Callable[[int, int, float], None] | None = None,
    stop_after_epochs: int | None = None,
) -> PretrainResult:
    """Run (or resume) MAE pretraining; ``on_progress(done, total, loss)`` per iteration.

    ``stop_after_epochs`` ends the run early as an interruption would (used by tests).
    """
    from facehealth.models.mae import MaskedAutoencoder

    out = Path(cfg.out_dir)
    rank, world = _init_distributed()
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        save_resolved(cfg, out)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = MaskedAutoencoder(
        cfg.backbone,
        cfg.img_size,
        cfg.mask_ratio,
        cfg.decoder_dim,
        cfg.decoder_depth,
        cfg.decoder_heads,
        cfg.norm_pix_loss,
    )
    if cfg.init_from:
        _init_from(model, cfg.init_from)
    model.to(device)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    parts, dataset = _dataset(cfg)
    effective_batch = cfg.batch_size * cfg.optim.accum_steps
    peak_lr = cfg.optim.base_lr * effective_batch / 256
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (
            no_decay if p.ndim <= 1 or name.endswith(("pos_embed", "cls_token", "mask_token", "decoder_pos")) else decay
        ).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=peak_lr,
        betas=cfg.optim.betas,
    )
    history: list[float] = []
    start_epoch = 0
    state = None
    if cfg.resume:
        if rank == 0:
            recover(out)  # finish a save a crash interrupted; verify every file by its hash
        if world > 1:
            dist.barrier()
        state = read_state(out, STATE_FILE, to_mapping(cfg), device)
    if state is not None:
        weights, _ = load_checkpoint(out / "checkpoint-last.safetensors", PretrainMeta)
        model.load_state_dict(weights)
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start_epoch, history = state["epoch"], list(state["history"])

    per_epoch = math.ceil(len(dataset) / cfg.batch_size)
    if world > 1 and len(dataset) % cfg.batch_size and len(dataset) % cfg.batch_size < world:
        per_epoch -= 1
    total = per_epoch * cfg.epochs
    autocast = device.type == "cuda" and cfg.amp
    images, seconds = 0, 0.0
    for epoch in range(start_epoch, cfg.epochs):
        if stop_after_epochs is not None and epoch >= stop_after_epochs:
            break
        for part in parts:
            part.epoch = epoch  # augmentation draws differ per epoch, reproducibly
        # Shuffling and masking are seeded by (seed, epoch): a resumed epoch replays exactly.
        order = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        masking = torch.Generator().manual_seed(cfg.seed * 100_019 + epoch)
        global_batches = list(BatchSampler(RandomSampler(dataset, generator=order), cfg.batch_size, drop_last=False))
        if len(global_batches[-1]) < world:  # too small to give every rank an image
            global_batches.pop()
        loader = DataLoader(
            dataset, batch_sampler=[b[rank::world] for b in global_batches], num_workers=cfg.num_workers
        )
        num_patches = model.encoder.patch_embed.num_patches
        model.train()
        running, count = 0.0, 0
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(loader):
            # One learning rate per optimizer step: every micro-batch of an accumulation group gets
            # the rate of its first, so accum_steps x batch_size matches one batch of that size.
            step_start = i - i % cfg.optim.accum_steps
            lr = cosine_lr(epoch + step_start / per_epoch, cfg.epochs, peak_lr, cfg.optim)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = batch["image"].to(device, non_blocking=True)  # (B / world, 3, H, W)
            noise = torch.rand(len(global_batches[i]), num_patches, generator=masking)[rank::world].to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss, _, _ = net(x, noise=noise)
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"non-finite loss {loss.item()} at epoch {epoch}, iteration {i}; "
                    f"lower optim.base_lr or check the data"
                )
            # DDP averages gradients over ranks; weighting each rank's mean loss by its share of
            # the global batch makes that average the gradient of the global-batch mean loss.
            share = len(x) * world / len(global_batches[i])
            # Accumulation: each micro-batch counts by its images within its group (the last group
            # of an epoch may be shorter), so the summed gradient is that of the group's mean loss.
            group = global_batches[step_start : step_start + cfg.optim.accum_steps]
            (loss * share * len(global_batches[i]) / sum(len(b) for b in group)).backward()
            if (i + 1) % cfg.optim.accum_steps == 0 or i + 1 == per_epoch:
                if cfg.optim.clip_grad:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip_grad)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            running += loss.item() * len(x)
            count += len(x)
            if on_progress:
                on_progress(epoch * per_epoch + i + 1, total, loss.item())
        seconds += time.perf_counter() - started
        if world > 1:  # the epoch loss over the global batch, as one process would report it
            totals = torch.tensor([running, float(count)], dtype=torch.float64)
            dist.all_reduce(totals)
            running, count = float(totals[0]), int(totals[1])
        images += count
        history.append(running / count)
        if rank != 0:
            continue
        meta = PretrainMeta(
            backbone=cfg.backbone,
            img_size=cfg.img_size,
            epoch=epoch + 1,
            loss=history[-1],
            history=tuple(history),
            n_images=len(dataset),
            data_hash=data_hash(p for part in parts for p in part.manifest["crop_path"]),
            subjects=_subjects_seen(parts),
            init_from=cfg.init_from,
            config=to_mapping(cfg),
        )
        # One commit per epoch: the weights, their metadata, the optimizer state and the loss log
        # are replaced together or not at all, so a kill -9 while saving cannot mix two epochs.
        pair = stage_checkpoint(out / "checkpoint-last", model.state_dict(), meta)
        log = out / "metrics.jsonl"
        line = json.dumps({"epoch": epoch + 1, "loss": history[-1], "lr": lr}) + "\n"
        staged(log).write_text((log.read_text() if start_epoch or epoch else "") + line)
        state = {"epoch": epoch + 1, "optimizer": optimizer.state_dict(), "history": history}
        commit_state(
            out, STATE_FILE, state | {"rng": torch.get_rng_state()}, to_mapping(cfg), [*pair, log], {"epoch": epoch + 1}
        )
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    checkpoint = out / "checkpoint-last.safetensors"
    return PretrainResult(out, checkpoint, history, images / seconds if seconds else 0.0)


def _allowed_subjects(cfg: PretrainConfig) -> list[str] | None:
    """Subjects of ``cfg.use_splits`` in ``cfg.splits_file``; None when no split table is given."""
    if cfg.splits_file is None:
        return None
    import pandas as pd

    path = Path(cfg.splits_file)
    if not path.is_file():
        raise TrainingError(f"splits_file {path} not found; run `facehealth cohort split` or set splits_file: null")
    splits = pd.read_csv(path, dtype={"subject_id": str})
    if not {"subject_id", "split"} <= set(splits.columns):
        raise TrainingError(f"{path}: a split table needs columns subject_id and split")
    return splits.loc[splits["split"].isin(cfg.use_splits), "subject_id"].tolist()


def _subjects_seen(parts: list[CropDataset]) -> tuple[str, ...]:
    """Subjects whose crops a pretraining run saw (crop folders without subject ids add none)."""
    seen: set[str] = set()
    for part in parts:
        if "subject_id" in part.manifest.columns:
            seen.update(part.manifest["subject_id"].astype(str))
    return tuple(sorted(seen))


def _init_from(model: torch.nn.Module, path: str) -> None:
    """Start from an earlier stage: take every tensor whose name and shape match; report the rest."""
    from facehealth.models.weights import read_state_dict

    weights = read_state_dict(path)
    own = model.state_dict()
    usable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not any(k.startswith("encoder.") for k in usable):
        raise TrainingError(f"{path}: no encoder weights match {model.__class__.__name__}")
    model.load_state_dict(usable, strict=False)
