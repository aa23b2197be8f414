"""Clinical tasks: what each head predicts, from which label columns, and under which output names.

A :class:`TaskSpec` is the one owner of a task's prediction column names. Every table of
predictions (fine-tuning, evaluation, studies, robustness, reports) names its columns through
:meth:`TaskSpec.output_columns` / :meth:`TaskSpec.output_column`, so the naming scheme lives here:

| kind | label columns | prediction columns |
|---|---|---|
| regression | one per value (``age``; ``haemoglobin`` ...) | ``pred_<column>`` each |
| binary | the 0/1 outcome (``cad``) | ``prob_<task>`` |
| multiclass | the class code (``affective_code``) | ``prob_<class>`` for each class |
| cox | (time, event) | ``risk_<task>`` (log relative hazard) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from facehealth.data.biomarkers import BIOMARKERS
from facehealth.data.schema import AFFECTIVE_CLASSES
from facehealth.errors import ConfigError

__all__ = [
    "TaskSpec",
    "TaskKind",
    "TASK_NAMES",
    "OUTPUT_PREFIXES",
    "build_tasks",
    "is_output_column",
    "pred_column",
    "prob_column",
    "risk_column",
]

TaskKind = Literal["regression", "binary", "multiclass", "cox"]
TASK_NAMES = ("biomarkers", "age", "survival", "cad", "affective")
OUTPUT_PREFIXES = ("pred_", "prob_", "risk_")


def pred_column(label: str) -> str:
    """The prediction of regression label column ``label``."""
    return f"pred_{label}"


def prob_column(name: str) -> str:
    """The probability of binary task ``name``, or of class ``name`` of a multiclass task."""
    return f"prob_{name}"


def risk_column(task: str) -> str:
    """The log relative hazard of Cox task ``task``."""
    return f"risk_{task}"


def is_output_column(column: str) -> bool:
    """True for a model output column (the others in a prediction table are labels or ids)."""
    return column.startswith(OUTPUT_PREFIXES)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: TaskKind
    columns: tuple[str, ...]  # label columns; cox: (time, event)
    classes: tuple[str, ...] = ()  # multiclass labels in index order
    weight: float = 1.0  # contribution to the total loss

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSpec:
        """Inverse of :meth:`as_dict` (lists back to tuples)."""
        return cls(
            data["name"], data["kind"], tuple(data["columns"]), tuple(data.get("classes", ())), data.get("weight", 1.0)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "columns": list(self.columns),
            "classes": list(self.classes),
            "weight": self.weight,
        }

    @property
    def outputs(self) -> int:
        """Width of the head: one value per regression column or class, else one."""
        if self.kind == "regression":
            return len(self.columns)
        if self.kind == "multiclass":
            return len(self.classes)
        return 1

    def output_columns(self) -> tuple[str, ...]:
        """Prediction-table columns of this task, in head-output order."""
        if self.kind == "regression":
            return tuple(pred_column(c) for c in self.columns)
        if self.kind == "multiclass":
            return tuple(prob_column(c) for c in self.classes)
        if self.kind == "binary":
            return (prob_column(self.name),)
        return (risk_column(self.name),)

    def output_column(self, label: str | None = None) -> str:
        """The single output column of a binary/cox task, or of regression column ``label``."""
        if self.kind == "regression":
            if label not in self.columns:
                raise KeyError(f"task {self.name}: no regression column {label!r}; have {list(self.columns)}")
            return pred_column(label)
        if self.kind == "multiclass":
            raise KeyError(f"task {self.name} is multiclass: use output_columns() (one per class)")
        return self.output_columns()[0]

    def output_row(self, values: Any) -> dict[str, float]:
        """``{output column: value}`` for one item's head output (a sequence of length ``outputs``)."""
        return {col: float(v) for col, v in zip(self.output_columns(), values, strict=True)}


def build_tasks(names: tuple[str, ...], labels: pd.DataFrame, biomarkers: tuple[str, ...] = ()) -> list[TaskSpec]:
    """Task heads for ``names`` given the columns the label table has.

    Raises:
        ConfigError: an unknown task name, or a task whose label columns the table lacks.
    """
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
