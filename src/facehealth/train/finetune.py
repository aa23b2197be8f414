"""Clinical fine-tuning (FaceFound stage 3, FAHR-FaceAge/-Survival, DigitalShadow, Emoface heads).

Starts from a pretrained checkpoint (MAE ``encoder.*`` weights or an earlier
fine-tune's ``backbone.*``), trains the multi-task model on the training
subjects with AdamW, layer-wise learning-rate decay and a cosine schedule,
stops early on the validation loss, and writes subject-level predictions for
every split (images of a subject are averaged: DigitalShadow's several photos
per person). FAHR-FaceAge's two-stage recipe is ``age_balanced_epochs``:
the first epochs draw images with weights inversely proportional to their
age bin's size, the rest use all data as is.

The config is :class:`~facehealth.train.config.FinetuneConfig`; tasks come from
:mod:`facehealth.models.tasks`; cohort prediction lives in
:mod:`facehealth.models.cohort_predictor` and metrics in :mod:`facehealth.evaluate`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml
from torch.utils.data import DataLoader, Dataset, RandomSampler, WeightedRandomSampler

from facehealth.config import save_resolved, to_mapping
from facehealth.data.cohort import load_cohort
from facehealth.data.datasets import item_subjects, make_dataset
from facehealth.data.labels import is_synthetic_cohort, model_scale, subject_labels_with_codes
from facehealth.data.splits import load_splits, make_splits
from facehealth.errors import ConfigError
from facehealth.models.checkpoint import CheckpointMeta, save_checkpoint
from facehealth.models.cohort_predictor import cohort_fingerprint, predict_subjects
from facehealth.models.multitask import MultiTaskModel, batch_inputs
from facehealth.models.predictor import model_from_meta
from facehealth.models.tasks import TaskSpec, build_tasks
from facehealth.train.calibration import calibrate, split_calibration
from facehealth.train.config import FinetuneConfig
from facehealth.train.engine import TrainingError, cosine_lr, resolve_device
from facehealth.train.resume import COMMIT_RECORD, commit_state, read_state, recover

__all__ = ["FinetuneConfig", "FinetuneResult", "TargetStats", "finetune", "labels_and_splits"]

STATE_FILE = "finetune_state.pt"  # resume state of an unfinished run; deleted when it finishes


@dataclass(frozen=True)
class FinetuneResult:
    out_dir: Path
    checkpoint: Path
    history: list[dict[str, float]]
    best_epoch: int
    predictions: pd.DataFrame  # subject-level, every split (predictions.parquet)
    labels: pd.DataFrame  # one row per subject, with class codes
    tasks: list[TaskSpec]


@dataclass(frozen=True)
class TargetStats:
    """Per-task statistics of the training labels that the model stores as buffers."""

    mean: dict[str, list[float]]  # regression targets on the model's scale, for standardising
    std: dict[str, list[float]]
    pos_weight: dict[str, float]  # binary: negatives / positives, clipped to [0.2, 5]
    class_weights: dict[str, list[float]]  # multiclass: inverse class frequency

    @classmethod
    def of(cls, tasks: list[TaskSpec], train_labels: pd.DataFrame) -> TargetStats:
        scaled = {c: model_scale(train_labels[c], c) for t in tasks if t.kind == "regression" for c in t.columns}
        regression = [t for t in tasks if t.kind == "regression"]
        mean = {t.name: [float(np.nanmean(scaled[c])) for c in t.columns] for t in regression}
        std = {t.name: [float(np.nanstd(scaled[c]) or 1.0) for c in t.columns] for t in regression}
        pos_weight = {}
        for t in tasks:
            if t.kind == "binary":
                rate = train_labels[t.columns[0]].mean()
                pos_weight[t.name] = float(np.clip((1 - rate) / max(rate, 1e-3), 0.2, 5))
        class_weights = {}
        for t in tasks:
            if t.kind == "multiclass":
                counts = train_labels[t.columns[0]].value_counts().reindex(range(len(t.classes)), fill_value=0)
                n = counts.to_numpy()
                class_weights[t.name] = (n.sum() / np.maximum(n, 1) / len(t.classes)).tolist()
        return cls(mean, std, pos_weight, class_weights)


def labels_and_splits(cfg: FinetuneConfig, out: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Subject labels (with class codes) and the splits to train with.

    The cohort's ``splits.csv`` when it has one (a broken one raises); otherwise default
    subject-level splits are made with ``cfg.seed``, a warning says so, and they are written to
    ``out/splits.csv`` (the checkpoint records them too, so evaluation uses the same ones).
    """
    labels = subject_labels_with_codes(load_cohort(cfg.cohort, check_files=False))
    if (Path(cfg.cohort) / "splits.csv").is_file():
        return labels, load_splits(Path(cfg.cohort))
    warnings.warn(
        f"{cfg.cohort} has no splits.csv: made subject-level splits with seed {cfg.seed}"
        + (f" (saved to {out / 'splits.csv'})" if out else "")
        + "; run `facehealth cohort split` to choose them",
        stacklevel=2,
    )
    splits = make_splits(labels, cfg.seed)
    if out is not None:
        splits.to_csv(out / "splits.csv", index=False)
    return labels, splits


def _param_groups(model: MultiTaskModel, lr: float, cfg: FinetuneConfig) -> list[dict]:
    blocks = getattr(model.backbone, "blocks", None)
    depth = len(blocks) if blocks is not None else 0
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("backbone.") and depth:
            parts = name.split(".")
            layer = (
                int(parts[2]) + 1
                if parts[1] == "blocks"
                else (0 if parts[1] in ("patch_embed", "cls_token", "pos_embed") else depth + 1)
            )
        else:
            layer = depth + 1
        no_decay = p.ndim <= 1 or name.endswith(("pos_embed", "cls_token"))
        key = (layer, no_decay)
        scale = cfg.layer_decay ** (depth + 1 - layer) if depth else 1.0
        groups.setdefault(
            key, {"params": [], "weight_decay": 0.0 if no_decay else cfg.optim.weight_decay, "lr_scale": scale}
        )["params"].append(p)
    return list(groups.values())


def _load_backbone(model: MultiTaskModel, path: str) -> dict:
    """Any supported weights file (facehealth, MAE, timm); see :mod:`facehealth.models.weights`."""
    from facehealth.models.weights import load_backbone_weights

    try:
        report = load_backbone_weights(model.backbone, path)
    except ConfigError as exc:
        raise TrainingError(str(exc)) from exc
    return {
        "loaded": report.loaded,
        "missing": list(report.missing),
        "unexpected": list(report.unexpected),
        "resized": list(report.resized),
    }


def _targets(batch_target: torch.Tensor, tasks: list[TaskSpec]) -> dict[str, torch.Tensor]:
    out, start = {}, 0
    for t in tasks:
        out[t.name] = batch_target[:, start : start + len(t.columns)]
        start += len(t.columns)
    return out


def _build_model(
    cfg: FinetuneConfig, tasks: list[TaskSpec], stats: TargetStats
) -> tuple[MultiTaskModel, CheckpointMeta]:
    """The model for ``cfg``, its backbone initialised as configured.

    Returns (model, its architecture as checkpoint metadata with the init report); the rest of
    the metadata (splits, history ...) is added when the checkpoint is written.
    """
    if cfg.frame_input != "pixels" and cfg.input != "video":
        raise TrainingError(
            f"frame_input: {cfg.frame_input} needs input: video (landmark motion is a property of a clip)"
        )
    arch = CheckpointMeta(
        backbone=cfg.backbone,
        img_size=cfg.img_size,
        tasks=tuple(tasks),
        input=cfg.input,
        pooling=cfg.pooling,
        frames=cfg.frames,
        frame_input=cfg.frame_input,
        time_bins=cfg.time_bins,
        colour_grid=cfg.colour_grid,
        images_per_subject=cfg.images_per_subject,
        target_mean=stats.mean,
        target_std=stats.std,
        pos_weight=stats.pos_weight,
        class_weights=stats.class_weights,
    )
    model = model_from_meta(arch)
    if model.backbone is None:
        init_report: dict[str, Any] = {"loaded": 0, "missing": "landmarks-only model: no image backbone to initialise"}
    elif cfg.init_from:
        init_report = _load_backbone(model, cfg.init_from)
    else:
        init_report = {"loaded": 0, "missing": "random init"}
    if cfg.mode == "linear_probe" and model.backbone is not None:
        for p in model.backbone.parameters():
            p.requires_grad = False
    return model, dataclasses.replace(arch, init=init_report)


def _age_balanced_weights(train: Dataset, labels: pd.DataFrame, bins: int) -> torch.Tensor:
    """Per-item sampling weights inversely proportional to the item's age-bin size (FAHR-FaceAge)."""
    ages = pd.Series(item_subjects(train)).map(labels.set_index("subject_id")["age"]).to_numpy(float)
    index = np.digitize(ages, np.quantile(ages, np.linspace(0, 1, bins + 1)[1:-1]))
    return torch.tensor(1.0 / np.bincount(index)[index], dtype=torch.double)


def _train(
    model: MultiTaskModel,
    train: Dataset,
    val: Dataset,
    labels: pd.DataFrame,
    cfg: FinetuneConfig,
    device: torch.device,
    on_progress: Callable[[int, int, float], None] | None,
    out: Path,
    state: dict[str, Any] | None,
    head_report: dict[str, dict] | None,
) -> tuple[list[dict[str, float]], int]:
    """AdamW with layer decay and a cosine schedule; keeps the weights of the best validation epoch.

    Every epoch ends with a crash-safe commit of everything needed to continue (``state`` is the
    last one, when resuming). Returns (history, best epoch); ``model`` ends with the best epoch's weights.
    """
    tasks = model.tasks
    peak = cfg.optim.base_lr * cfg.batch_size / 256
    optimizer = torch.optim.AdamW(_param_groups(model, peak, cfg), lr=peak, betas=cfg.optim.betas)
    balanced = _age_balanced_weights(train, labels, cfg.age_bins) if cfg.age_balanced_epochs else None
    per_epoch = math.ceil(len(train) / cfg.batch_size)
    history: list[dict[str, float]] = []
    best, best_epoch, best_state, waited, start, stopped = float("inf"), 0, None, 0, 0, False
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        history, best, best_epoch, best_state = (
            list(state["history"]),
            state["best"],
            state["best_epoch"],
            state["best_state"],
        )
        waited, start, stopped = state["waited"], state["epoch"], state["stopped"]
    for epoch in range(start, 0 if stopped else cfg.epochs):
        train.epoch = epoch
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + epoch)
        sampler = (
            WeightedRandomSampler(balanced, len(train), generator=gen)
            if balanced is not None and epoch < cfg.age_balanced_epochs
            else RandomSampler(train, generator=gen)
        )
        model.train()
        running = 0.0
        for i, batch in enumerate(DataLoader(train, batch_size=cfg.batch_size, sampler=sampler)):
            lr = cosine_lr(epoch + i / per_epoch, cfg.epochs, peak, cfg.optim)
            for g in optimizer.param_groups:
                g["lr"] = lr * g["lr_scale"]
            loss = _batch_loss(model, batch, tasks, device)
            if not torch.isfinite(loss):
                raise TrainingError(f"non-finite loss at epoch {epoch}, iteration {i}; lower optim.base_lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.clip_grad:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip_grad)
            optimizer.step()
            running += loss.item()
            if on_progress:
                on_progress(epoch * per_epoch + i + 1, cfg.epochs * per_epoch, loss.item())
        val_loss = _evaluate_loss(model, val, cfg.batch_size, device) if len(val) else running / per_epoch
        history.append({"epoch": epoch + 1, "train_loss": running / per_epoch, "val_loss": val_loss})
        if val_loss < best - 1e-6:
            best, best_epoch, best_state, waited = val_loss, epoch + 1, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            stopped = waited >= cfg.patience
        if cfg.resume:
            snapshot = {
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "rng": torch.get_rng_state(),
                "history": history,
                "best": best,
                "best_epoch": best_epoch,
                "best_state": best_state,
                "waited": waited,
                "stopped": stopped,
                "head_report": head_report,
            }
            commit_state(out, STATE_FILE, snapshot, to_mapping(cfg), info={"epoch": epoch + 1})
        if stopped:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history, best_epoch


def finetune(cfg: FinetuneConfig, on_progress: Callable[[int, int, float], None] | None = None) -> FinetuneResult:
    """Fine-tune, early-stop on validation, and write the checkpoint and subject predictions for every split.

    Writes ``checkpoint-best.safetensors`` (+ its :class:`CheckpointMeta`), ``predictions.parquet``
    and ``metrics.json`` (the loss history); metrics with CIs come from ``facehealth evaluate``.
    """
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_resolved(cfg, out)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    labels, splits = labels_and_splits(cfg, out)
    tasks = build_tasks(cfg.tasks, labels, cfg.biomarkers)
    columns = [c for t in tasks for c in t.columns]
    by_split = {
        s: splits.loc[splits["split"] == s, "subject_id"].astype(str).tolist() for s in splits["split"].unique()
    }
    train_ids = by_split.get("train", [])
    if not train_ids:
        raise TrainingError("the split table has no training subjects")
    stats = TargetStats.of(tasks, labels[labels["subject_id"].isin(train_ids)])
    model, arch = _build_model(cfg, tasks, stats)
    model.to(device)

    def dataset(ids: list[str], augment: bool) -> Dataset:
        from facehealth.data.augment import Augment

        aug = Augment() if augment and cfg.augment else None
        return make_dataset(arch.dataset_spec(), cfg.prepared, labels, columns, ids, augment=aug, seed=cfg.seed)

    selection_ids, calibration_ids = split_calibration(by_split.get("val", []), cfg.calibration_share, cfg.seed)
    train = dataset(train_ids, True)
    val = dataset(selection_ids, False)  # early stopping and head penalties see only these
    if len(train) == 0:
        raise TrainingError(f"no crops of training subjects in {cfg.prepared}")
    state = None
    if cfg.resume:
        recover(out)  # finish a save a crash interrupted; verify the state by its hash
        state = read_state(out, STATE_FILE, to_mapping(cfg), device)
    head_report = state["head_report"] if state is not None else None
    if state is None and cfg.head_init == "fit":
        from facehealth.train.heads import fit_heads

        head_report = fit_heads(
            model, dataset(train_ids, False), val, tasks, lambda y: _targets(y, tasks), device, cfg.batch_size
        )
    history, best_epoch = _train(model, train, val, labels, cfg, device, on_progress, out, state, head_report)
    faces_cfg = Path(cfg.prepared) / "config.resolved.yaml"
    faces = yaml.safe_load(faces_cfg.read_text()) if faces_cfg.is_file() else {}
    faces.pop("kind", None)
    meta = dataclasses.replace(
        arch,
        faces_config=faces,
        splits={s: tuple(ids) for s, ids in by_split.items()},
        cohort_fingerprint=cohort_fingerprint(labels["subject_id"]),
        synthetic=is_synthetic_cohort(cfg.cohort),
        stimulus_aligned=getattr(train, "aligned", 0) > 0,
        calibration=calibrate(model, dataset(calibration_ids, False), labels, tasks, cfg.batch_size, device),
        best_epoch=best_epoch,
        history=tuple(history),
        head_init=head_report,
        config=to_mapping(cfg),
    )
    checkpoint = save_checkpoint(out / "checkpoint-best", model.state_dict(), meta)
    datasets = {s: dataset(ids, False) for s, ids in by_split.items()}
    predictions = predict_subjects(model, datasets, cfg.batch_size, device)
    predictions.to_parquet(out / "predictions.parquet", index=False)
    (out / "metrics.json").write_text(json.dumps({"best_epoch": best_epoch, "history": history}, indent=2))
    # Finished: the resume state (several copies of the weights) has no further use, and a re-run
    # should train afresh. The record goes first so a crash here never leaves a record without its file.
    (out / COMMIT_RECORD).unlink(missing_ok=True)
    (out / STATE_FILE).unlink(missing_ok=True)
    return FinetuneResult(out, checkpoint, history, best_epoch, predictions, labels, tasks)


def _batch_loss(model: MultiTaskModel, batch: dict, tasks: list[TaskSpec], device: torch.device) -> torch.Tensor:
    outputs = model(**batch_inputs(batch, device))
    loss, _ = model.loss(outputs, {k: v.to(device) for k, v in _targets(batch["target"], tasks).items()})
    return loss


@torch.no_grad()
def _evaluate_loss(model: MultiTaskModel, data: Dataset, batch_size: int, device: torch.device) -> float:
    model.eval()
    total, n = 0.0, 0
    for batch in DataLoader(data, batch_size=batch_size):
        total += _batch_loss(model, batch, model.tasks, device).item() * len(batch["target"])
        n += len(batch["target"])
    return total / max(n, 1)
