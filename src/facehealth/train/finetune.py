"""Clinical fine-tuning (FaceFound stage 3, FAHR-FaceAge/-Survival, DigitalShadow, Emoface heads).

Starts from a pretrained checkpoint (MAE ``encoder.*`` weights or an earlier
fine-tune's ``backbone.*``), trains the multi-task model on the training
subjects with AdamW, layer-wise learning-rate decay and a cosine schedule,
stops early on the validation loss, and writes subject-level predictions for
every split (images of a subject are averaged: DigitalShadow's several photos
per person). FAHR-FaceAge's two-stage recipe is ``age_balanced_epochs``:
the first epochs draw images with weights inversely proportional to their
age bin's size, the rest use all data as is.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
import yaml
from torch.utils.data import DataLoader, RandomSampler, WeightedRandomSampler

from facehealth.config import save_resolved, to_mapping
from facehealth.data.biomarkers import BIOMARKERS, LOG_FLOOR, is_log_scale
from facehealth.data.cohort import Cohort
from facehealth.data.schema import AFFECTIVE_CLASSES
from facehealth.errors import ConfigError
from facehealth.models.checkpoint import save_checkpoint
from facehealth.models.multitask import MultiTaskModel, TaskSpec, batch_inputs
from facehealth.train.config import OptimConfig
from facehealth.train.engine import TrainingError, cosine_lr, resolve_device

__all__ = [
    "FinetuneConfig",
    "FinetuneResult",
    "build_tasks",
    "finetune",
    "predict_cohort",
    "subject_labels_with_codes",
    "TASK_NAMES",
]

TASK_NAMES = ("biomarkers", "age", "survival", "cad", "affective")


@dataclass(frozen=True)
class FinetuneConfig:
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
    time_bins: int = 5  # pooling: timebins (the clip's duration in this many equal slices)
    age_balanced_epochs: int = 0
    age_bins: int = 8
    patience: int = 5  # epochs without a better validation loss before stopping
    augment: bool = True
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"


@dataclass(frozen=True)
class FinetuneResult:
    out_dir: Path
    checkpoint: Path
    history: list[dict]
    best_epoch: int
    metrics: dict


def build_tasks(names: tuple[str, ...], labels: pd.DataFrame, biomarkers: tuple[str, ...] = ()) -> list[TaskSpec]:
    """Task heads for ``names`` given the columns the label table has."""
    tasks = []
    for name in names:
        if name == "biomarkers":
            cols = tuple(biomarkers) or tuple(c for c in BIOMARKERS if c in labels.columns)
            missing = [c for c in cols if c not in labels.columns]
            if not cols or missing:
                raise ConfigError(f"biomarker task: columns missing from labels: {missing or 'all'}")
            tasks.append(TaskSpec("biomarkers", "regression", cols))
        elif name == "age":
            tasks.append(TaskSpec("age", "regression", ("age",)))
        elif name == "survival":
            tasks.append(TaskSpec("survival", "cox", ("survival_time", "survival_event")))
        elif name == "cad":
            tasks.append(TaskSpec("cad", "binary", ("cad",)))
        elif name == "affective":
            tasks.append(TaskSpec("affective", "multiclass", ("affective_code",), AFFECTIVE_CLASSES))
        else:
            raise ConfigError(f"unknown task '{name}'; choose from {', '.join(TASK_NAMES)}")
        needed = [c for c in tasks[-1].columns if c not in labels.columns]
        if needed:
            raise ConfigError(f"task '{name}' needs label column(s) {needed}, which the cohort lacks")
    return tasks


def subject_labels_with_codes(cohort: Cohort) -> pd.DataFrame:
    """One row of labels per subject, with the affective class as its head's integer code."""
    labels = cohort.subject_labels()
    if "affective" in labels.columns:
        labels["affective_code"] = labels["affective"].map({c: i for i, c in enumerate(AFFECTIVE_CLASSES)})
    return labels


def _model_scale(values: pd.Series, column: str) -> np.ndarray:
    """A label column on the scale the model learns it (log for right-skewed markers)."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(float)
    return np.log(np.maximum(x, LOG_FLOOR)) if is_log_scale(column) else x


def _labels_and_splits(cfg: FinetuneConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import load_splits, make_splits

    labels = subject_labels_with_codes(load_cohort(cfg.cohort, check_files=False))
    try:
        splits = load_splits(Path(cfg.cohort))
    except Exception:  # noqa: BLE001 - no saved splits: make the default ones, by subject
        splits = make_splits(labels, cfg.seed)
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


def _forward(model: MultiTaskModel, batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    return model(**batch_inputs(batch, device))


def _item_subjects(data) -> list[str]:  # noqa: ANN001 - any of the three datasets
    """The subject of each item, in item order."""
    if hasattr(data, "groups"):
        return [sid for sid, _ in data.groups]
    if hasattr(data, "videos"):
        return [frames["subject_id"].iloc[0] for _, frames in data.videos]
    return data.manifest["subject_id"].tolist()


def _targets(batch_target: torch.Tensor, tasks: list[TaskSpec]) -> dict[str, torch.Tensor]:
    out, start = {}, 0
    for t in tasks:
        out[t.name] = batch_target[:, start : start + len(t.columns)]
        start += len(t.columns)
    return out


def _make_dataset(cfg: FinetuneConfig, labels: pd.DataFrame, columns: list[str], ids: list[str], augment: bool):  # noqa: ANN202
    """The dataset for ``cfg.input`` over the crops of subjects ``ids``."""
    from facehealth.data.augment import Augment
    from facehealth.data.datasets import CropDataset, FrameSequenceDataset, SubjectDataset

    common = dict(
        subjects=ids, size=cfg.img_size, augment=Augment() if augment and cfg.augment else None, seed=cfg.seed
    )
    if cfg.input == "subject":
        return SubjectDataset(cfg.prepared, labels, columns, k=cfg.images_per_subject, **common)
    if cfg.input == "video":
        return FrameSequenceDataset(
            cfg.prepared,
            labels,
            columns,
            length=cfg.frames,
            landmarks=cfg.frame_input != "pixels",
            images=cfg.frame_input != "landmarks",
            **common,
        )
    return CropDataset(cfg.prepared, labels, columns, **common)


def predict_cohort(
    checkpoint: str | Path, cohort: str | Path | None = None, prepared: str | Path | None = None, device: str = "cpu"
) -> tuple[pd.DataFrame, pd.DataFrame, list[TaskSpec]]:
    """Subject-level predictions of a fine-tuned checkpoint for every split of a cohort.

    ``cohort`` and ``prepared`` default to the ones the checkpoint was trained on.
    Returns (predictions, subject labels, tasks).
    """
    from facehealth.config import from_mapping
    from facehealth.models.predictor import model_from_checkpoint

    model, meta = model_from_checkpoint(checkpoint)
    cfg = from_mapping(FinetuneConfig, meta["config"], "checkpoint config")
    overrides = {k: str(v) for k, v in {"cohort": cohort, "prepared": prepared}.items() if v is not None}
    cfg = from_mapping(FinetuneConfig, {**to_mapping(cfg), **overrides}, "evaluation config")
    labels, splits = _labels_and_splits(cfg)
    columns = [c for t in model.tasks for c in t.columns]
    by_split = {s: splits.loc[splits["split"] == s, "subject_id"].tolist() for s in splits["split"].unique()}
    datasets = {s: _make_dataset(cfg, labels, columns, ids, False) for s, ids in by_split.items()}
    model.to(torch.device(device))
    return _predict_subjects(model, datasets, model.tasks, cfg, torch.device(device)), labels, model.tasks


def finetune(cfg: FinetuneConfig, on_progress: Callable[[int, int, float], None] | None = None) -> FinetuneResult:
    """Fine-tune, early-stop on validation, and write predictions and simple metrics for every split."""
    from facehealth.data.datasets import CropDataset, FrameSequenceDataset, SubjectDataset

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_resolved(cfg, out)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    labels, splits = _labels_and_splits(cfg)
    tasks = build_tasks(cfg.tasks, labels, cfg.biomarkers)
    columns = [c for t in tasks for c in t.columns]
    by_split = {s: splits.loc[splits["split"] == s, "subject_id"].tolist() for s in splits["split"].unique()}
    train_ids = by_split.get("train", [])
    if not train_ids:
        raise TrainingError("the split table has no training subjects")
    train_labels = labels[labels["subject_id"].isin(train_ids)]
    scaled = {c: _model_scale(train_labels[c], c) for t in tasks if t.kind == "regression" for c in t.columns}
    mean = {t.name: [float(np.nanmean(scaled[c])) for c in t.columns] for t in tasks if t.kind == "regression"}
    std = {t.name: [float(np.nanstd(scaled[c]) or 1.0) for c in t.columns] for t in tasks if t.kind == "regression"}
    pos_weight = {
        t.name: float(
            np.clip((1 - train_labels[t.columns[0]].mean()) / max(train_labels[t.columns[0]].mean(), 1e-3), 0.2, 5)
        )
        for t in tasks
        if t.kind == "binary"
    }
    class_weights = {}
    for t in tasks:
        if t.kind == "multiclass":
            counts = train_labels[t.columns[0]].value_counts().reindex(range(len(t.classes)), fill_value=0).to_numpy()
            class_weights[t.name] = (counts.sum() / np.maximum(counts, 1) / len(t.classes)).tolist()
    if cfg.frame_input != "pixels" and cfg.input != "video":
        raise TrainingError(
            f"frame_input: {cfg.frame_input} needs input: video (landmark motion is a property of a clip)"
        )
    model = MultiTaskModel(
        cfg.backbone,
        tasks,
        cfg.img_size,
        cfg.pooling,
        mean,
        std,
        pos_weight,
        class_weights,
        frame_input=cfg.frame_input,
        bins=cfg.time_bins,
    )
    if model.backbone is None:
        init_report = {"loaded": 0, "missing": "landmarks-only model: no image backbone to initialise"}
    elif cfg.init_from:
        init_report = _load_backbone(model, cfg.init_from)
    else:
        init_report = {"loaded": 0, "missing": "random init"}
    if cfg.mode == "linear_probe" and model.backbone is not None:
        for p in model.backbone.parameters():
            p.requires_grad = False
    model.to(device)

    def dataset(ids: list[str], augment: bool) -> CropDataset | SubjectDataset | FrameSequenceDataset:
        return _make_dataset(cfg, labels, columns, ids, augment)

    train = dataset(train_ids, True)
    val = dataset(by_split.get("val", []), False)
    if len(train) == 0:
        raise TrainingError(f"no crops of training subjects in {cfg.prepared}")
    head_report = None
    if cfg.head_init == "fit":
        from facehealth.train.heads import fit_heads

        head_report = fit_heads(
            model, dataset(train_ids, False), val, tasks, lambda y: _targets(y, tasks), device, cfg.batch_size
        )
    peak = cfg.optim.base_lr * cfg.batch_size / 256
    groups = _param_groups(model, peak, cfg)
    optimizer = torch.optim.AdamW(groups, lr=peak, betas=cfg.optim.betas)
    ages = pd.Series(_item_subjects(train)).map(labels.set_index("subject_id")["age"]).to_numpy(float)
    bins = np.digitize(ages, np.quantile(ages, np.linspace(0, 1, cfg.age_bins + 1)[1:-1]))
    balanced = torch.tensor(1.0 / np.bincount(bins)[bins], dtype=torch.double)
    per_epoch = math.ceil(len(train) / cfg.batch_size)
    history: list[dict] = []
    best, best_epoch, best_state, waited = float("inf"), 0, None, 0
    for epoch in range(cfg.epochs):
        train.epoch = epoch
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + epoch)
        sampler = (
            WeightedRandomSampler(balanced, len(train), generator=gen)
            if epoch < cfg.age_balanced_epochs
            else RandomSampler(train, generator=gen)
        )
        model.train()
        running = 0.0
        for i, batch in enumerate(DataLoader(train, batch_size=cfg.batch_size, sampler=sampler)):
            lr = cosine_lr(epoch + i / per_epoch, cfg.epochs, peak, cfg.optim)
            for g in optimizer.param_groups:
                g["lr"] = lr * g["lr_scale"]
            outputs = _forward(model, batch, device)
            loss, _ = model.loss(outputs, {k: v.to(device) for k, v in _targets(batch["target"], tasks).items()})
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
        val_loss = _evaluate_loss(model, val, tasks, cfg, device) if len(val) else running / per_epoch
        history.append({"epoch": epoch + 1, "train_loss": running / per_epoch, "val_loss": val_loss})
        if val_loss < best - 1e-6:
            best, best_epoch, best_state, waited = val_loss, epoch + 1, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    faces_cfg = Path(cfg.prepared) / "config.resolved.yaml"
    faces = yaml.safe_load(faces_cfg.read_text()) if faces_cfg.is_file() else {}
    faces.pop("kind", None)
    meta = {
        "stage": "finetune",
        "backbone": cfg.backbone,
        "img_size": cfg.img_size,
        "input": cfg.input,
        "pooling": cfg.pooling,
        "frames": cfg.frames,
        "frame_input": cfg.frame_input,
        "time_bins": cfg.time_bins,
        "images_per_subject": cfg.images_per_subject,
        "best_epoch": best_epoch,
        "faces_config": faces,
        "tasks": [t.__dict__ for t in tasks],
        "target_mean": mean,
        "target_std": std,
        "pos_weight": pos_weight,
        "class_weights": class_weights,
        "history": history,
        "init": init_report,
        "head_init": head_report,
        "config": to_mapping(cfg),
    }
    checkpoint = save_checkpoint(out / "checkpoint-best", model.state_dict(), meta)
    predictions = _predict_subjects(model, {s: dataset(ids, False) for s, ids in by_split.items()}, tasks, cfg, device)
    predictions.to_parquet(out / "predictions.parquet", index=False)
    metrics = _simple_metrics(predictions, labels, tasks)
    (out / "metrics.json").write_text(
        json.dumps({"best_epoch": best_epoch, "history": history, "metrics": metrics}, indent=2)
    )
    return FinetuneResult(out, checkpoint, history, best_epoch, metrics)


@torch.no_grad()
def _evaluate_loss(model: MultiTaskModel, data, tasks, cfg, device) -> float:  # noqa: ANN001
    model.eval()
    total, n = 0.0, 0
    for batch in DataLoader(data, batch_size=cfg.batch_size):
        loss, _ = model.loss(
            _forward(model, batch, device), {k: v.to(device) for k, v in _targets(batch["target"], tasks).items()}
        )
        total += loss.item() * len(batch["target"])
        n += len(batch["target"])
    return total / max(n, 1)


@torch.no_grad()
def _predict_subjects(model: MultiTaskModel, datasets: dict, tasks, cfg, device) -> pd.DataFrame:  # noqa: ANN001
    """Per-subject predictions: the mean over a subject's crops (DigitalShadow's multi-photo score)."""
    model.eval()
    rows = []
    for split, data in datasets.items():
        for batch in DataLoader(data, batch_size=cfg.batch_size):
            preds = model.predict(_forward(model, batch, device))
            for j, sid in enumerate(batch["subject_id"]):
                row = {"subject_id": sid, "split": split}
                for t in tasks:
                    values = preds[t.name][j].cpu().numpy()
                    if t.kind == "regression":
                        row.update({f"pred_{c}": float(v) for c, v in zip(t.columns, values)})
                    elif t.kind == "multiclass":
                        row.update({f"prob_{c}": float(v) for c, v in zip(t.classes, values)})
                    elif t.kind == "binary":
                        row[f"prob_{t.name}"] = float(values[0])
                    else:
                        row[f"risk_{t.name}"] = float(values[0])
                rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    counts = frame.groupby(["subject_id", "split"]).size().rename("n_images")
    return frame.groupby(["subject_id", "split"]).mean(numeric_only=True).join(counts).reset_index()


def _simple_metrics(pred: pd.DataFrame, labels: pd.DataFrame, tasks: list[TaskSpec]) -> dict:
    """Point estimates per split (MAE, Pearson r, AUROC, accuracy, C-index); CIs come from facehealth.evaluate."""
    from lifelines.utils import concordance_index
    from sklearn.metrics import roc_auc_score

    merged = pred.merge(labels, on="subject_id", how="left")
    result: dict = {}
    for split, part in merged.groupby("split"):
        m: dict = {"n_subjects": int(len(part))}
        for t in tasks:
            if t.kind == "regression":
                for c in t.columns:
                    ok = part[c].notna()
                    if ok.sum() >= 3:
                        y, p = part.loc[ok, c].to_numpy(float), part.loc[ok, f"pred_{c}"].to_numpy(float)
                        m[f"{c}_mae"] = float(np.mean(np.abs(y - p)))
                        m[f"{c}_r"] = float(np.corrcoef(y, p)[0, 1]) if np.std(p) > 0 else float("nan")
            elif t.kind == "binary":
                y = part[t.columns[0]]
                ok = y.notna()
                if y[ok].nunique() == 2:
                    m[f"{t.name}_auroc"] = float(roc_auc_score(y[ok], part.loc[ok, f"prob_{t.name}"]))
            elif t.kind == "multiclass":
                ok = part[t.columns[0]].notna()
                if ok.any():
                    probs = part.loc[ok, [f"prob_{c}" for c in t.classes]].to_numpy()
                    m[f"{t.name}_accuracy"] = float((probs.argmax(1) == part.loc[ok, t.columns[0]].to_numpy()).mean())
            else:
                ok = part[list(t.columns)].notna().all(axis=1)
                if part.loc[ok, t.columns[1]].sum() > 0:
                    m[f"{t.name}_c_index"] = float(
                        concordance_index(
                            part.loc[ok, t.columns[0]], -part.loc[ok, f"risk_{t.name}"], part.loc[ok, t.columns[1]]
                        )
                    )
        result[str(split)] = m
    return result
