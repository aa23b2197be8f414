"""Subject-level predictions of a fine-tuned checkpoint over a whole cohort, bound to its splits.

A model is only evaluated on subjects it has not learned from. The checkpoint records the
subject ids of every split it was trained with (:class:`~facehealth.models.checkpoint.CheckpointMeta`);
:func:`bind_splits` checks the splits an evaluation would use against that record and refuses
to score a training or validation subject as held out, or a held-out site that had training
subjects.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from facehealth.data.cohort import load_cohort
from facehealth.data.datasets import make_dataset
from facehealth.data.labels import subject_labels_with_codes
from facehealth.data.splits import load_splits
from facehealth.errors import SplitMismatchError
from facehealth.models.checkpoint import CheckpointMeta, data_hash
from facehealth.models.multitask import MultiTaskModel, batch_inputs
from facehealth.models.tasks import TaskSpec

__all__ = ["predict_cohort", "predict_subjects", "bind_splits", "cohort_fingerprint", "HELD_OUT", "UNSEEN"]

HELD_OUT = ("test", "external")  # splits an evaluation reports as performance
UNSEEN = "unseen"  # subjects of a cohort the checkpoint never saw a split for


def cohort_fingerprint(subject_ids: pd.Series) -> str:
    """A short hash of a cohort's subject ids (order-independent)."""
    return data_hash(subject_ids.astype(str))


def bind_splits(meta: CheckpointMeta, cohort: str | Path, subjects: pd.DataFrame) -> pd.DataFrame:
    """The splits to evaluate ``cohort`` with, checked against the ones the model was trained with.

    The cohort's own ``splits.csv`` is used when it exists; otherwise the checkpoint's record
    (subjects it has no record of become ``unseen``).

    Raises:
        SplitMismatchError: a subject the model trained or validated on would be scored in a
            held-out split, or a held-out external site had subjects in training.
    """
    path = Path(cohort) / "splits.csv"
    if path.is_file():
        splits = load_splits(Path(cohort))[["subject_id", "split"]]
    else:
        recorded = {sid: split for split, ids in meta.splits.items() for sid in ids}
        ids = subjects["subject_id"].astype(str)
        splits = pd.DataFrame({"subject_id": ids, "split": ids.map(recorded).fillna(UNSEEN)})
    splits = splits.assign(subject_id=splits["subject_id"].astype(str))
    held = splits[splits["split"].isin(HELD_OUT)]
    leaked = sorted(set(held["subject_id"]) & meta.trained_on)
    if leaked:
        raise SplitMismatchError(
            f"{len(leaked)} subject(s) the model was trained or validated on are in a held-out split of "
            f"{path if path.is_file() else cohort} (e.g. {', '.join(leaked[:5])}); the splits changed after "
            "training. Evaluate with the splits the model was trained with, or re-train."
        )
    if "site" in subjects.columns and meta.trained_on:
        site = subjects.assign(subject_id=subjects["subject_id"].astype(str)).set_index("subject_id")["site"]
        external_sites = set(site.reindex(held.loc[held["split"] == "external", "subject_id"]).dropna())
        training_sites = set(site.reindex(sorted(meta.trained_on)).dropna())
        shared = sorted(map(str, external_sites & training_sites))
        if shared:
            raise SplitMismatchError(
                f"external site(s) {', '.join(shared)} had subjects in training: an external "
                "validation must hold out whole sites"
            )
    return splits


@torch.no_grad()
def predict_items(
    model: MultiTaskModel, data: Dataset, batch_size: int = 32, device: str | torch.device = "cpu"
) -> pd.DataFrame:
    """One row per dataset item (a photo, a subject's photo set or a clip): ``subject_id`` + outputs."""
    model.eval()
    rows = []
    for batch in DataLoader(data, batch_size=batch_size):
        preds = model.predict(model(**batch_inputs(batch, device)))
        for j, sid in enumerate(batch["subject_id"]):
            row: dict[str, object] = {"subject_id": sid}
            for t in model.tasks:
                row.update(t.output_row(preds[t.name][j].cpu().numpy()))
            rows.append(row)
    return pd.DataFrame(rows)


def predict_subjects(
    model: MultiTaskModel, datasets: Mapping[str, Dataset], batch_size: int = 32, device: str | torch.device = "cpu"
) -> pd.DataFrame:
    """Per-subject predictions: the mean over a subject's items (DigitalShadow's multi-photo score).

    Returns one row per (subject_id, split) with every task's output columns and ``n_images``.
    """
    parts = [predict_items(model, data, batch_size, device).assign(split=split) for split, data in datasets.items()]
    frame = pd.concat([p for p in parts if not p.empty], ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        return frame
    counts = frame.groupby(["subject_id", "split"]).size().rename("n_images")
    return frame.groupby(["subject_id", "split"]).mean(numeric_only=True).join(counts).reset_index()


def predict_cohort(
    checkpoint: str | Path,
    cohort: str | Path | None = None,
    prepared: str | Path | None = None,
    device: str = "cpu",
    batch_size: int = 32,
) -> tuple[pd.DataFrame, pd.DataFrame, list[TaskSpec]]:
    """Subject-level predictions of a fine-tuned checkpoint for every split of a cohort.

    ``cohort`` and ``prepared`` default to the ones the checkpoint was trained on; the splits
    are bound to the checkpoint's record (:func:`bind_splits`). Returns (predictions, subject
    labels, tasks).
    """
    from facehealth.models.predictor import model_from_checkpoint

    model, meta = model_from_checkpoint(checkpoint)
    cohort = cohort or meta.config["cohort"]
    prepared = prepared or meta.config["prepared"]
    labels = subject_labels_with_codes(load_cohort(cohort, check_files=False))
    splits = bind_splits(meta, cohort, labels)
    columns = [c for t in model.tasks for c in t.columns]
    spec, seed = meta.dataset_spec(), int(meta.config.get("seed", 0))
    datasets = {
        split: make_dataset(spec, prepared, labels, columns, ids.tolist(), seed=seed)
        for split, ids in splits.groupby("split", sort=False)["subject_id"]
    }
    model.to(torch.device(device))
    return predict_subjects(model, datasets, batch_size, torch.device(device)), labels, list(model.tasks)
