"""The cohort table format: which tables, which columns, which values are allowed.

A cohort is a folder::

    subjects.csv|.parquet   one row per person
    media.csv|.parquet      one row per photo or video, paths relative to the folder
    labels.csv|.parquet     per subject (optionally per visit): biomarkers, diagnoses, survival
    label_units.csv         optional: column,unit - checked against the biomarker registry
    splits.csv              written by ``cohort split``: subject_id, split, fold

See ``docs/cohort_format.md`` for the full description with examples.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Column", "TABLES", "SEXES", "AFFECTIVE_CLASSES", "MEDIA_KINDS", "LABEL_TASK_COLUMNS"]

SEXES = ("F", "M", "X")  # X: not recorded / other
AFFECTIVE_CLASSES = ("healthy", "MDD", "BPD")
MEDIA_KINDS = ("image", "video")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "id" | "text" | "number" | "integer" | "category" | "binary" | "datetime" | "path"
    required: bool
    description: str
    allowed: tuple[str, ...] = ()
    low: float | None = None  # hard limits: outside is an error
    high: float | None = None
    warn_low: float | None = None  # legal but suspicious: outside is a warning
    warn_high: float | None = None


TABLES: dict[str, tuple[Column, ...]] = {
    "subjects": (
        Column("subject_id", "id", True, "unique person identifier"),
        Column("age", "number", True, "age in years at the first visit", low=0, high=125, warn_low=18, warn_high=100),
        Column("sex", "category", True, "F, M or X (not recorded)", allowed=SEXES),
        Column("site", "text", True, "hospital or cohort the person was recruited at"),
        Column("race", "text", False, "self-reported race/ethnicity"),
        Column("group_id", "text", False, "subjects sharing it (twins, one identity) are kept in one split"),
        Column("bmi", "number", False, "body-mass index, kg/m2", low=8, high=90, warn_low=14, warn_high=60),
    ),
    "media": (
        Column("media_id", "id", True, "unique media identifier"),
        Column("subject_id", "text", True, "the person shown; must exist in subjects"),
        Column("path", "path", True, "file path relative to the cohort folder"),
        Column("kind", "category", True, "image or video", allowed=MEDIA_KINDS),
        Column("acquired_at", "datetime", False, "when it was taken (ISO 8601), for longitudinal history"),
        Column("visit", "integer", False, "visit number, matching labels.visit", low=0),
        Column("stimulus", "text", False, "stimulus/condition tag of a video (e.g. an emotion sequence)"),
    ),
    "labels": (
        Column("subject_id", "text", True, "must exist in subjects"),
        Column("visit", "integer", False, "visit number (omit for one row per subject)", low=0),
        Column("cad", "binary", False, "coronary artery disease: 1 yes, 0 no"),
        Column("affective", "category", False, "healthy, MDD or BPD", allowed=AFFECTIVE_CLASSES),
        Column("survival_time", "number", False, "years from the visit to event or censoring", low=0, high=120),
        Column("survival_event", "binary", False, "1 event (death) observed, 0 censored"),
    ),
}

# Label columns that are tasks in their own right (biomarker columns come from the registry).
LABEL_TASK_COLUMNS = ("cad", "affective", "survival_time", "survival_event")
