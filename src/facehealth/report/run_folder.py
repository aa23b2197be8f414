"""Tolerant reading of a run folder (layout: RUN/run.json, cohort/, cohort_faces/, pretrain/, ...).

Every reader returns ``None`` (or an empty value) when its file is missing or unreadable, so a
report can say "not run" for a skipped or failed stage instead of failing as a whole.
"""

from __future__ import annotations

import json
import math
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from facehealth.data.schema import AFFECTIVE_CLASSES
from facehealth.errors import FaceHealthError
from facehealth.models.checkpoint import CheckpointMeta, PretrainMeta, read_meta

__all__ = ["RunFolder", "metric_at", "finite"]


def metric_at(metrics: dict | None, path: str) -> Any:
    """The entry of ``metrics`` at a dotted path (``splits.test.cad.auroc``), or None."""
    node: Any = metrics
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


class RunFolder:
    """Read-only, cached access to the files of one run folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def json(self, rel: str) -> Any:
        path = self.root / rel
        if not path.is_file():
            return None
        try:
            # NaN/Infinity are legal in the JSON that json.dumps writes for undefined metrics.
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            warnings.warn(f"{path}: unreadable JSON ({exc}); the report treats it as missing", stacklevel=2)
            return None

    def jsonl(self, rel: str) -> list[dict]:
        path = self.root / rel
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a half-written last line of an interrupted run
        return rows

    def table(self, rel: str) -> pd.DataFrame | None:
        path = self.root / rel
        if not path.is_file():
            return None
        try:
            if path.suffix == ".parquet":
                return pd.read_parquet(path)
            return pd.read_csv(path, dtype={"subject_id": str})
        except Exception as exc:  # noqa: BLE001 - any unreadable table is reported as missing
            warnings.warn(f"{path}: unreadable table ({exc}); the report treats it as missing", stacklevel=2)
            return None

    def pngs(self, rel_dir: str) -> list[Path]:
        folder = self.root / rel_dir
        return sorted(folder.glob("*.png")) if folder.is_dir() else []

    @cached_property
    def run(self) -> dict:
        return self.json("run.json") or {}

    @property
    def synthetic(self) -> bool:
        return bool(self.run.get("synthetic"))

    @cached_property
    def metrics(self) -> dict | None:
        return self.json("evaluate/metrics.json")

    @cached_property
    def predictions(self) -> pd.DataFrame | None:
        return self.table("evaluate/predictions.parquet")

    def checkpoint_meta(self, stage: str = "finetune") -> CheckpointMeta | None:
        """The fine-tuned checkpoint metadata of ``stage`` (finetune, finetune_affective), if readable."""
        return self._meta(f"{stage}/checkpoint-best.json", CheckpointMeta)

    @cached_property
    def pretrain_meta(self) -> PretrainMeta | None:
        """The MAE encoder's checkpoint metadata, if the run pretrained."""
        return self._meta("pretrain/checkpoint-last.json", PretrainMeta)

    def _meta(self, rel: str, kind: type[CheckpointMeta] | type[PretrainMeta]) -> Any:
        if not (self.root / rel).is_file():
            return None
        try:
            return read_meta(self.root / rel, kind)
        except FaceHealthError as exc:
            warnings.warn(f"{self.root / rel}: {exc}; the report treats it as missing", stacklevel=2)
            return None

    @cached_property
    def held_out_in_pretraining(self) -> int:
        """Test and external subjects whose faces the MAE encoder saw (0 unless the run was transductive)."""
        meta, subjects = self.pretrain_meta, self.subjects
        if meta is None or subjects is None or "split" not in subjects.columns:
            return 0
        held = subjects.loc[subjects["split"].isin(("test", "external")), "subject_id"].astype(str)
        return len(set(held) & set(meta.subjects))

    def history(self, stage: str = "finetune") -> list[dict]:
        """Per-epoch losses of a fine-tuning stage (from its checkpoint, else its metrics.json)."""
        meta = self.checkpoint_meta(stage)
        if meta is not None:
            return list(meta.history)
        ft = self.json(f"{stage}/metrics.json")
        return list(ft.get("history", [])) if isinstance(ft, dict) else []

    @cached_property
    def finetune_meta(self) -> CheckpointMeta | None:
        """The image model's checkpoint metadata."""
        return self.checkpoint_meta("finetune")

    def task_names(self) -> list[str]:
        """Tasks of every fine-tuned model of the run (image and affective video models)."""
        names: list[str] = []
        for stage in ("finetune", "finetune_affective"):
            meta = self.checkpoint_meta(stage)
            for t in meta.tasks if meta else ():
                if t.name not in names:
                    names.append(t.name)
        return names

    @cached_property
    def subjects(self) -> pd.DataFrame | None:
        """One row per subject: subjects joined with first-visit labels and the split (NaN where none)."""
        subjects = self.table("cohort/subjects.csv")
        if subjects is None:
            return None
        labels = self.table("cohort/labels.csv")
        if labels is not None:
            if "visit" in labels.columns:
                labels = labels.sort_values("visit").drop_duplicates("subject_id").drop(columns="visit")
            labels = labels.drop(columns=[c for c in labels.columns if c in subjects.columns and c != "subject_id"])
            subjects = subjects.merge(labels, on="subject_id", how="left")
        splits = self.table("cohort/splits.csv")
        if splits is not None and "split" in splits.columns and "split" not in subjects.columns:
            subjects = subjects.merge(splits[["subject_id", "split"]], on="subject_id", how="left")
        if "affective" in subjects.columns:
            # The multiclass head is trained on the class index (train.finetune does the same mapping).
            subjects["affective_code"] = subjects["affective"].map({c: i for i, c in enumerate(AFFECTIVE_CLASSES)})
        return subjects

    @cached_property
    def scored(self) -> pd.DataFrame | None:
        """Evaluation predictions joined with the labels (prediction columns keep their prefixes)."""
        if self.predictions is None:
            return None
        if self.subjects is None:
            return self.predictions
        labels = self.subjects.drop(columns=["split"], errors="ignore")
        return self.predictions.merge(labels, on="subject_id", how="left", suffixes=("", "_label"))

    def splits(self) -> list[str]:
        """Splits in metrics.json in reading order: train, val, test, external, then any others."""
        names = list((self.metrics or {}).get("splits") or {})
        order = {"train": 0, "val": 1, "test": 2, "external": 3}
        return sorted(names, key=lambda s: (order.get(s, 4), s))

    def primary_split(self) -> str | None:
        """The split the headline numbers come from: test, else external, else val, else any."""
        splits = (self.metrics or {}).get("splits") or {}
        for name in ("test", "external", "val"):
            if name in splits:
                return name
        return next(iter(splits), None)

    def stage_status(self, stage: str) -> str | None:
        entry = (self.run.get("stages") or {}).get(stage)
        return entry.get("status") if isinstance(entry, dict) else None


def finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
