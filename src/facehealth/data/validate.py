"""``cohort validate``: check a cohort folder against the documented format.

Every problem is reported with the table, the row (1-based, not counting the
header) and the column, and what is allowed. Errors make the cohort unusable;
warnings flag data that is legal but suspicious (a 105-year-old, a marker whose
values look like another unit, the same photo filed twice). Nothing is fixed
or dropped silently: the caller decides.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.data.biomarkers import BIOMARKERS
from facehealth.data.schema import LABEL_TASK_COLUMNS, TABLES, Column
from facehealth.faces.io import IMAGE_SUFFIXES, VIDEO_SUFFIXES

__all__ = ["Issue", "ValidationReport", "validate_cohort", "read_table", "find_table"]

_MAX_LISTED = 50  # per (table, column, message kind): more are summarised, not listed


@dataclass(frozen=True)
class Issue:
    severity: str  # "error" | "warning"
    table: str
    row: int | None  # 1-based data row; None for table-level issues
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.table + (f", row {self.row}" if self.row is not None else "")
        where += f", column '{self.column}'" if self.column else ""
        return f"{self.severity}: {where}: {self.message}"


@dataclass
class ValidationReport:
    root: Path
    issues: list[Issue] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # rows per table

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, severity: str, table: str, row: int | None, column: str | None, message: str) -> None:
        self.issues.append(Issue(severity, table, row, column, message))


def find_table(root: Path, name: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        if (root / f"{name}{suffix}").is_file():
            return root / f"{name}{suffix}"
    return None


def read_table(path: Path) -> pd.DataFrame:
    """Read CSV (every cell as text, so types are checked by us) or Parquet."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=True, skipinitialspace=True)


def validate_cohort(root: str | Path, check_files: bool = True) -> ValidationReport:
    """Validate the cohort folder ``root``; returns a report (never raises on bad data)."""
    root = Path(root)
    report = ValidationReport(root)
    frames: dict[str, pd.DataFrame] = {}
    for table in ("subjects", "media", "labels"):
        path = find_table(root, table)
        if path is None:
            if table != "labels":
                report.add("error", table, None, None, f"missing: expected {table}.csv or {table}.parquet in {root}")
            continue
        try:
            frames[table] = read_table(path)
        except Exception as exc:  # noqa: BLE001 - any parse failure is a validation error
            report.add("error", table, None, None, f"cannot be read: {exc}")
            continue
        report.counts[table] = len(frames[table])
        _check_columns(report, table, frames[table])
    subjects = frames.get("subjects")
    known = (
        set(subjects["subject_id"].dropna().astype(str)) if subjects is not None and "subject_id" in subjects else set()
    )
    if "media" in frames:
        _check_references(report, "media", frames["media"], known)
        if check_files:
            _check_media_files(report, root, frames["media"])
    if "labels" in frames:
        _check_references(report, "labels", frames["labels"], known)
        _check_labels(report, root, frames["labels"])
    if subjects is not None and "media" in frames and "subject_id" in frames["media"]:
        without = known - set(frames["media"]["subject_id"].dropna().astype(str))
        if without:
            report.add(
                "warning",
                "subjects",
                None,
                "subject_id",
                f"{len(without)} subject(s) have no media (e.g. {', '.join(sorted(without)[:3])})",
            )
    return report


def _check_columns(report: ValidationReport, table: str, frame: pd.DataFrame) -> None:
    specs = {c.name: c for c in TABLES[table]}
    for spec in specs.values():
        if spec.required and spec.name not in frame.columns:
            report.add(
                "error",
                table,
                None,
                spec.name,
                f"required column is missing ({spec.description}); columns found: {', '.join(map(str, frame.columns))}",
            )
    for name in frame.columns:
        if name in specs:
            _check_values(report, table, frame[name], specs[name])
    id_col = {"subjects": "subject_id", "media": "media_id"}.get(table)
    if id_col and id_col in frame.columns:
        _check_unique(report, table, frame, [id_col])
    if table == "labels" and "subject_id" in frame.columns:
        _check_unique(report, table, frame, ["subject_id"] + (["visit"] if "visit" in frame.columns else []))


def _check_unique(report: ValidationReport, table: str, frame: pd.DataFrame, keys: list[str]) -> None:
    first: dict[tuple, int] = {}
    for row, values in enumerate(frame[keys].astype(str).itertuples(index=False, name=None), start=1):
        if values in first:
            report.add(
                "error",
                table,
                row,
                keys[-1] if len(keys) == 1 else "+".join(keys),
                f"duplicate {'/'.join(keys)} {'/'.join(values)} (first at row {first[values]}); must be unique",
            )
        else:
            first[values] = row


def _listed(report: ValidationReport, table: str, column: str, severity: str, rows: list[int], message: str) -> None:
    for row in rows[:_MAX_LISTED]:
        report.add(severity, table, row, column, message)
    if len(rows) > _MAX_LISTED:
        report.add(severity, table, None, column, f"... and {len(rows) - _MAX_LISTED} more rows: {message}")


def _check_values(report: ValidationReport, table: str, series: pd.Series, spec: Column) -> None:
    rows = np.arange(1, len(series) + 1)
    missing = series.isna() | (series.astype(str).str.strip() == "")
    if spec.required and missing.any():
        _listed(
            report,
            table,
            spec.name,
            "error",
            rows[missing].tolist(),
            f"empty; a value is required ({spec.description})",
        )
    present = series[~missing]
    prow = rows[~missing.to_numpy()]
    if spec.kind in ("number", "integer", "binary"):
        numbers = pd.to_numeric(present, errors="coerce")
        bad = numbers.isna().to_numpy()
        if bad.any():
            examples = present[bad]
            for row, value in list(zip(prow[bad], examples))[:_MAX_LISTED]:
                report.add("error", table, int(row), spec.name, f"'{value}' is not a number")
        values = numbers.to_numpy(dtype=float)
        ok = ~bad
        if spec.kind == "binary":
            wrong = ok & ~np.isin(values, (0.0, 1.0))
            _listed(report, table, spec.name, "error", prow[wrong].tolist(), "must be 0 or 1")
        if spec.kind == "integer":
            wrong = ok & (np.floor(values) != values)
            _listed(report, table, spec.name, "error", prow[wrong].tolist(), "must be a whole number")
        _check_range(
            report, table, spec.name, prow[ok], values[ok], spec.low, spec.high, spec.warn_low, spec.warn_high, ""
        )
    elif spec.kind == "category":
        wrong = ~present.astype(str).isin(spec.allowed).to_numpy()
        for row, value in list(zip(prow[wrong], present[wrong]))[:_MAX_LISTED]:
            report.add(
                "error", table, int(row), spec.name, f"'{value}' is not allowed; use one of {', '.join(spec.allowed)}"
            )
    elif spec.kind == "datetime":
        parsed = pd.to_datetime(present, errors="coerce", format="mixed")
        wrong = parsed.isna().to_numpy()
        for row, value in list(zip(prow[wrong], present[wrong]))[:_MAX_LISTED]:
            report.add(
                "error", table, int(row), spec.name, f"'{value}' is not a date/time (use ISO 8601, e.g. 2024-03-01)"
            )
        # A date after today is a typo or a clock error; a history ordered by it would be wrong.
        stamps = pd.to_datetime(parsed, utc=True, errors="coerce")
        future = (stamps > pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)).to_numpy()
        _listed(report, table, spec.name, "warning", prow[future].tolist(), "is in the future; check the date")


def _check_range(
    report: ValidationReport,
    table: str,
    column: str,
    rows: np.ndarray,
    values: np.ndarray,
    low: float | None,
    high: float | None,
    warn_low: float | None,
    warn_high: float | None,
    unit: str,
) -> None:
    u = f" {unit}" if unit else ""
    if low is not None or high is not None:
        lo = -np.inf if low is None else low
        hi = np.inf if high is None else high
        wrong = (values < lo) | (values > hi)
        _listed(
            report, table, column, "error", rows[wrong].tolist(), f"impossible value; allowed range is {low}..{high}{u}"
        )
    if warn_low is not None or warn_high is not None:
        lo = -np.inf if warn_low is None else warn_low
        hi = np.inf if warn_high is None else warn_high
        odd = ((values < lo) | (values > hi)) & ~(
            (values < (low if low is not None else -np.inf)) | (values > (high if high is not None else np.inf))
        )
        _listed(
            report, table, column, "warning", rows[odd].tolist(), f"unusual value (outside {warn_low}..{warn_high}{u})"
        )


def _check_references(report: ValidationReport, table: str, frame: pd.DataFrame, known: set[str]) -> None:
    if "subject_id" not in frame.columns or not known:
        return
    ids = frame["subject_id"].astype(str)
    wrong = (~ids.isin(known) & frame["subject_id"].notna()).to_numpy()
    rows = np.arange(1, len(frame) + 1)[wrong]
    for row, value in list(zip(rows, ids[wrong]))[:_MAX_LISTED]:
        report.add("error", table, int(row), "subject_id", f"'{value}' is not in the subjects table")


def _check_media_files(report: ValidationReport, root: Path, media: pd.DataFrame) -> None:
    if "path" not in media.columns:
        return
    by_path: dict[str, int] = {}
    by_digest: dict[str, int] = defaultdict(int)
    kinds = media["kind"].astype(str).tolist() if "kind" in media.columns else [""] * len(media)
    for row, (rel, kind) in enumerate(zip(media["path"].astype(str), kinds), start=1):
        if rel in by_path:
            report.add("error", "media", row, "path", f"'{rel}' is listed twice (first at row {by_path[rel]})")
            continue
        by_path[rel] = row
        path = Path(rel) if Path(rel).is_absolute() else root / rel
        if not path.is_file():
            report.add("error", "media", row, "path", f"file not found: {path}")
            continue
        suffix = path.suffix.lower()
        expected = "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None
        if expected is None:
            report.add("error", "media", row, "path", f"'{suffix}' is not a supported image or video type")
        elif kind in ("image", "video") and kind != expected:
            report.add(
                "error",
                "media",
                row,
                "kind",
                f"'{kind}' but the file is a{'n' if expected == 'image' else ''} {expected}",
            )
        if path.stat().st_size == 0:
            report.add("error", "media", row, "path", f"file is empty: {path}")
            continue
        digest = _quick_digest(path)
        if digest in by_digest:
            report.add("warning", "media", row, "path", f"same content as row {by_digest[digest]} (duplicate media?)")
        else:
            by_digest[digest] = row


def _quick_digest(path: Path) -> str:
    """Size + hash of the first and last 64 KiB: finds copies without reading whole videos."""
    size = path.stat().st_size
    h = hashlib.blake2b(str(size).encode(), digest_size=16)
    with path.open("rb") as fh:
        h.update(fh.read(65536))
        if size > 131072:
            fh.seek(-65536, 2)
            h.update(fh.read())
    return h.hexdigest()


def _check_labels(report: ValidationReport, root: Path, labels: pd.DataFrame) -> None:
    units = {}
    units_path = find_table(root, "label_units")
    if units_path is not None:
        table = read_table(units_path)
        if {"column", "unit"} <= set(table.columns):
            units = dict(zip(table["column"].astype(str), table["unit"].astype(str)))
        else:
            report.add("error", "label_units", None, None, "needs columns 'column' and 'unit'")
    known = {c.name for c in TABLES["labels"]}
    for name in labels.columns:
        if name in known:
            continue
        marker = BIOMARKERS.get(name)
        if marker is None:
            report.add(
                "warning",
                "labels",
                None,
                name,
                "not a registered biomarker or task column; it will be ignored by training "
                "(see facehealth.data.biomarkers for the 62 marker names)",
            )
            continue
        if name in units and units[name] != marker.unit:
            report.add(
                "error",
                "label_units",
                None,
                name,
                f"unit '{units[name]}' does not match the registry's '{marker.unit}'; convert the values",
            )
        values = pd.to_numeric(labels[name], errors="coerce")
        present = labels[name].notna() & (labels[name].astype(str).str.strip() != "")
        bad = (present & values.isna()).to_numpy()
        rows = np.arange(1, len(labels) + 1)
        for row, value in list(zip(rows[bad], labels[name][bad]))[:_MAX_LISTED]:
            report.add("error", "labels", int(row), name, f"'{value}' is not a number")
        ok = values.notna().to_numpy()
        _check_range(
            report,
            "labels",
            name,
            rows[ok],
            values.to_numpy()[ok],
            marker.min_possible,
            marker.max_possible,
            None,
            None,
            marker.unit,
        )
        median = float(np.nanmedian(values)) if ok.any() else float("nan")
        if ok.sum() >= 10 and not (marker.ref_low / 5 <= median <= marker.ref_high * 5):
            report.add(
                "warning",
                "labels",
                None,
                name,
                f"median {median:g} is far from the reference range {marker.ref_low}-{marker.ref_high} "
                f"{marker.unit}: is the unit right?",
            )
    if "survival_time" in labels.columns and "survival_event" not in labels.columns:
        report.add(
            "error", "labels", None, "survival_event", "survival_time needs survival_event (1 event, 0 censored)"
        )
    for column in LABEL_TASK_COLUMNS:
        if column in labels.columns and labels[column].isna().all():
            report.add("warning", "labels", None, column, "present but empty")
