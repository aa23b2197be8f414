"""Loading a validated cohort folder into typed tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from facehealth.data.biomarkers import BIOMARKERS
from facehealth.data.schema import TABLES
from facehealth.data.validate import ValidationReport, find_table, read_table, validate_cohort
from facehealth.errors import SchemaError

__all__ = ["Cohort", "load_cohort", "write_table"]


@dataclass(frozen=True, eq=False)
class Cohort:
    """A cohort's tables with proper dtypes; ``labels`` may be empty.

    ``media["abs_path"]`` holds absolute file paths.
    """

    root: Path
    subjects: pd.DataFrame
    media: pd.DataFrame
    labels: pd.DataFrame
    report: ValidationReport

    @property
    def biomarker_columns(self) -> list[str]:
        return [c for c in self.labels.columns if c in BIOMARKERS]

    @property
    def sites(self) -> list[str]:
        return sorted(self.subjects["site"].unique())

    def subject_labels(self) -> pd.DataFrame:
        """One row per subject: subjects joined with their first-visit labels (NaN where none)."""
        labels = self.labels
        if "visit" in labels.columns:
            labels = labels.sort_values("visit").drop_duplicates("subject_id")
        return self.subjects.merge(labels.drop(columns=["visit"], errors="ignore"), on="subject_id", how="left")


def load_cohort(root: str | Path, check_files: bool = True) -> Cohort:
    """Validate and load the cohort at ``root``.

    Raises:
        SchemaError: the cohort has validation errors; the message lists the first ten
            (run ``facehealth cohort validate`` for all of them).
    """
    root = Path(root)
    report = validate_cohort(root, check_files=check_files)
    if not report.ok:
        shown = "\n  ".join(str(i) for i in report.errors[:10])
        more = f"\n  ... {len(report.errors) - 10} more" if len(report.errors) > 10 else ""
        raise SchemaError(f"{root}: the cohort has {len(report.errors)} error(s):\n  {shown}{more}")
    subjects = _typed(read_table(find_table(root, "subjects")), "subjects")
    media = _typed(read_table(find_table(root, "media")), "media")
    media["abs_path"] = [str(p if Path(p).is_absolute() else (root / p).resolve()) for p in media["path"]]
    labels_path = find_table(root, "labels")
    labels = _typed(read_table(labels_path), "labels") if labels_path else pd.DataFrame({"subject_id": []})
    return Cohort(root, subjects, media, labels, report)


def write_table(frame: pd.DataFrame, root: Path, name: str, fmt: str = "csv") -> Path:
    """Write a cohort table as CSV (default, human-readable) or Parquet."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _typed(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    frame = frame.copy()
    specs = {c.name: c for c in TABLES[table]}
    for name in frame.columns:
        spec = specs.get(name)
        if spec is not None and spec.kind in ("number", "integer", "binary"):
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
        elif spec is not None and spec.kind == "datetime":
            frame[name] = pd.to_datetime(frame[name], errors="coerce", format="mixed")
        elif spec is not None:
            frame[name] = frame[name].astype("string").astype(object).where(frame[name].notna(), None)
        elif name in BIOMARKERS:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        else:
            numeric = pd.to_numeric(frame[name], errors="coerce")
            # Extra columns (clinical covariates) become numbers when every value is one.
            if numeric.notna().sum() == frame[name].notna().sum():
                frame[name] = numeric.astype(float)
    for key in ("subject_id", "media_id"):
        if key in frame.columns:
            frame[key] = frame[key].astype(str)
    return frame
