"""Study arms: the models a study compares, each reduced to one function.

An arm is ``fit_predict(train_ids, work_dir, seed) -> predictions``: it learns from the
training subjects it is given (and nothing else), and returns one row per subject it can
score, with ``subject_id`` and the fine-tune output columns (``pred_<column>``,
``prob_<task>``, ``prob_<class>``, ``risk_<task>``). The study engine decides which
subjects count (the test split, external sites); an arm never sees those labels.

Two kinds ship with facehealth:

- ``finetune``: :func:`facehealth.train.finetune.finetune` with per-arm overrides of the
  base fine-tune config (``init_from`` for the foundation model, ``None`` for a ViT from
  scratch, ``backbone: resnet18`` / ``swin_tiny_patch4_window7`` for the CNN/Swin baselines).
  The training subset is imposed by a private cohort folder whose ``splits.csv`` keeps every
  val/test/external subject and only the chosen training subjects.
- ``descriptor``: the FaceAge-style baseline (Bontempi et al., Lancet Digital Health 2025):
  dlib's frozen 128-d face descriptor averaged per subject, with ridge / logistic / Cox heads
  (:mod:`facehealth.models.linear`).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facehealth.config import load_config, merge_overrides, to_mapping
from facehealth.data.splits import save_splits
from facehealth.errors import ConfigError
from facehealth.models.tasks import TaskSpec
from facehealth.train.config import FinetuneConfig

__all__ = ["Arm", "ARM_KINDS", "arm_keys", "finetune_arm", "descriptor_arm", "merge_overrides"]

ARM_KINDS = ("finetune", "descriptor")
FitPredict = Callable[[list[str], Path, int], pd.DataFrame]


@dataclass(frozen=True)
class Arm:
    """A named model recipe.

    ``fingerprint`` identifies the recipe's settings; the engine reuses an earlier run's
    predictions only when fingerprint, seed and training subjects all match (``None`` = never).
    """

    name: str
    fit_predict: FitPredict
    fingerprint: str | None = None

    def __call__(self, train_ids: Sequence[str], work_dir: Path, seed: int) -> pd.DataFrame:
        return self.fit_predict(list(train_ids), Path(work_dir), seed)


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _link_cohort(source: Path, target: Path) -> None:
    """A cohort folder whose tables and media are links to ``source`` (all but splits.csv)."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name == "splits.csv":
            continue
        link = target / entry.name
        if not link.exists() and not link.is_symlink():
            link.symlink_to(entry.resolve())


def finetune_arm(
    name: str,
    finetune_config: str | Path | None,
    overrides: Mapping[str, Any],
    cohort: str | Path,
    splits: pd.DataFrame,
    keep_checkpoints: bool = False,
) -> Arm:
    """An arm that fine-tunes a :class:`FinetuneConfig` (YAML file + ``overrides``) on each subset.

    ``overrides`` may set any FinetuneConfig key except ``cohort``, ``out_dir`` and ``seed``,
    which the study owns. Raises :class:`ConfigError` for unknown keys or a missing ``init_from``.
    Weights are deleted after predicting unless ``keep_checkpoints`` (a study makes dozens of runs).
    """
    from facehealth.train.finetune import finetune

    owned = {"cohort", "out_dir", "seed"} & set(overrides)
    if owned:
        raise ConfigError(f"arm '{name}': {sorted(owned)} are set by the study, not per arm")
    base = load_config(FinetuneConfig, finetune_config, overrides=dict(overrides))
    if base.init_from is not None and not Path(base.init_from).is_file():
        raise ConfigError(f"arm '{name}': init_from checkpoint not found: {base.init_from}")
    cohort = Path(cohort)
    fingerprint = _digest({"kind": "finetune", **{k: v for k, v in to_mapping(base).items() if k != "out_dir"}})

    def fit_predict(train_ids: list[str], work_dir: Path, seed: int) -> pd.DataFrame:
        study_cohort = work_dir / "cohort"
        _link_cohort(cohort, study_cohort)
        keep = (splits["split"] != "train") | splits["subject_id"].isin(train_ids)
        save_splits(splits[keep], study_cohort)
        mapping = merge_overrides(to_mapping(base), {"cohort": str(study_cohort), "out_dir": str(work_dir)})
        cfg = load_config(FinetuneConfig, None, overrides={**mapping, "seed": seed})
        result = finetune(cfg)
        if not keep_checkpoints:  # tens of MB per run; the .json beside it keeps history and config
            result.checkpoint.unlink(missing_ok=True)
        return pd.read_parquet(result.out_dir / "predictions.parquet")

    return Arm(name, fit_predict, fingerprint)


def _subject_descriptors(prepared: Path, cache: Path) -> pd.DataFrame:
    """Mean dlib descriptor per subject over its photo crops, cached in ``cache`` (parquet)."""
    from facehealth.models.descriptor import descriptors_from_manifest

    manifest = pd.read_parquet(prepared / "manifest.parquet")
    if "kind" in manifest and (manifest["kind"] == "image").any():
        manifest = manifest[manifest["kind"] == "image"]  # video frames would outnumber the photos
    key = _digest({"prepared": str(prepared.resolve()), "crops": sorted(manifest["crop_path"].astype(str))})
    key_file = cache.with_suffix(".key")
    if cache.is_file() and key_file.is_file() and key_file.read_text() == key:
        return pd.read_parquet(cache)
    features = descriptors_from_manifest(prepared, manifest.reset_index(drop=True))
    per_subject = features.drop(columns="crop_path").groupby("subject_id", sort=True).mean().reset_index()
    cache.parent.mkdir(parents=True, exist_ok=True)
    per_subject.to_parquet(cache, index=False)
    cache.with_suffix(".key").write_text(key)
    return per_subject


def _fit_head(  # noqa: PLR0913
    kind: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_all: np.ndarray,
    components: int,
    what: str,
    classes: int = 0,
    val: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Fit one linear head; where a small subset makes the fit impossible, warn and predict a constant.

    The constant is what a model without features would say: the training mean (regression),
    prevalence (binary), class shares (multiclass) or equal risk (Cox).
    """
    from facehealth.models.linear import LinearHead

    y = np.asarray(y_train, float)
    labelled = y[~np.isnan(y).any(axis=1)] if y.ndim == 2 else y[~np.isnan(y)]
    try:
        if kind == "multiclass" and len(np.unique(labelled)) != classes:
            # predict_proba's columns would not line up with the task's classes
            raise ValueError(f"only {len(np.unique(labelled))} of {classes} classes among the training subjects")
        x_val, y_val = val if val is not None else (None, None)
        return LinearHead(kind, cox_components=components).fit(x_train, y, x_val, y_val).predict(x_all)
    except Exception as exc:  # noqa: BLE001 - sklearn/lifelines raise many types on degenerate subsets
        warnings.warn(f"descriptor arm: {what} head could not be fitted ({exc}); using a constant", stacklevel=2)
        if kind == "cox":
            return np.zeros(len(x_all))
        if kind == "multiclass":
            shares = np.bincount(labelled.astype(int), minlength=classes)[:classes] / max(len(labelled), 1)
            return np.tile(shares, (len(x_all), 1))
        return np.full(len(x_all), float(np.mean(labelled)) if len(labelled) else np.nan)


def descriptor_arm(
    name: str,
    prepared: str | Path,
    labels: pd.DataFrame,
    tasks: Sequence[TaskSpec],
    cache: str | Path,
    cox_components: int = 16,
    features: str | Path | None = None,
    val_ids: Sequence[str] = (),
) -> Arm:
    """The FaceAge-style baseline: frozen face features + one linear head per target.

    Features are dlib's descriptors (computed once, cached in ``cache``), or any precomputed
    embedding in ``features``: a parquet with ``subject_id`` and numeric columns (one row per
    subject, or per crop: rows are averaged per subject), e.g. FaceNet embeddings as in FaceAge.
    Each head's penalty is chosen on ``val_ids`` (the study's validation subjects, which the
    fine-tune arms use for their choices too); without them, by cross-validation on the training rows.
    """
    prepared, cache = Path(prepared), Path(cache)
    by_subject = labels.set_index("subject_id")
    fingerprint = _digest(
        {
            "kind": "descriptor",
            "prepared": str(prepared.resolve()),
            "features": str(Path(features).resolve()) if features else None,
            "cox": cox_components,
            "tasks": [t.name for t in tasks],
            "penalty_chosen_on": sorted(map(str, val_ids)) or "cross-validation",
        }
    )
    loaded: dict[str, pd.DataFrame] = {}

    def fit_predict(train_ids: list[str], work_dir: Path, seed: int) -> pd.DataFrame:
        if "x" not in loaded:
            if features is None:
                loaded["x"] = _subject_descriptors(prepared, cache)
            else:
                given = pd.read_parquet(features).drop(columns="crop_path", errors="ignore")
                given["subject_id"] = given["subject_id"].astype(str)
                loaded["x"] = given.groupby("subject_id", sort=True).mean(numeric_only=True).reset_index()
        table = loaded["x"]
        x_all = table.drop(columns="subject_id").to_numpy(float)
        in_train = table["subject_id"].isin(train_ids).to_numpy()
        in_val = table["subject_id"].isin(set(val_ids) - set(train_ids)).to_numpy()
        if not in_train.any():
            raise ConfigError(f"arm '{name}': none of the {len(train_ids)} training subjects has a face crop")
        y_of = by_subject.reindex(table["subject_id"])
        out = pd.DataFrame({"subject_id": table["subject_id"]})

        def head(kind: str, y: np.ndarray, what: str, classes: int = 0) -> np.ndarray:
            val = (x_all[in_val], y[in_val]) if in_val.any() else None
            return _fit_head(kind, x_all[in_train], y[in_train], x_all, cox_components, what, classes, val)

        for t in tasks:
            if t.kind == "regression":
                for c in t.columns:
                    y = y_of[c].to_numpy(float)
                    out[t.output_column(c)] = head("regression", y, c)
            elif t.kind == "binary":
                y = y_of[t.columns[0]].to_numpy(float)
                out[t.output_column()] = head("binary", y, t.name)
            elif t.kind == "multiclass":
                y = y_of[t.columns[0]].to_numpy(float)
                probs = head("multiclass", y, t.name, len(t.classes))
                for k, column in enumerate(t.output_columns()):
                    out[column] = probs[:, k]
            else:
                y = y_of[list(t.columns)].to_numpy(float)
                out[t.output_column()] = head("cox", y, t.name)
        return out

    return Arm(name, fit_predict, fingerprint)


def arm_keys(kind: str) -> set[str]:
    """The keys an arm spec of ``kind`` may have (besides ``kind``)."""
    if kind == "descriptor":
        return {"cox_components", "features"}
    return {f.name for f in fields(FinetuneConfig)} - {"cohort", "out_dir", "seed"}
