"""Labels as the models learn them: class codes for categorical outcomes, log scale for skewed markers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.data.biomarkers import LOG_FLOOR, is_log_scale
from facehealth.data.cohort import Cohort
from facehealth.data.schema import AFFECTIVE_CLASSES

__all__ = ["subject_labels_with_codes", "model_scale", "is_synthetic_cohort", "AFFECTIVE_CODE"]

AFFECTIVE_CODE = "affective_code"  # the integer column the affective head is trained on


def subject_labels_with_codes(cohort: Cohort) -> pd.DataFrame:
    """One row of labels per subject, with the affective class as its head's integer code."""
    labels = cohort.subject_labels()
    if "affective" in labels.columns:
        labels[AFFECTIVE_CODE] = labels["affective"].map({c: i for i, c in enumerate(AFFECTIVE_CLASSES)})
    return labels


def model_scale(values: pd.Series, column: str) -> np.ndarray:
    """A label column on the scale the model learns it (log for right-skewed markers)."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(float)
    return np.log(np.maximum(x, LOG_FLOOR)) if is_log_scale(column) else x


def is_synthetic_cohort(root: str | Path) -> bool:
    """A cohort made by ``cohort synth`` (it carries the planted truth in ``ground_truth.json``)."""
    return (Path(root) / "ground_truth.json").is_file()
