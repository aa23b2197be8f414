"""Photo-level calibration of a fine-tuned model, on validation subjects that model selection never saw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from facehealth.models.calibration import MIN_CALIBRATION_SUBJECTS, PhotoCalibration, fit_photo_calibration
from facehealth.models.cohort_predictor import predict_items
from facehealth.models.multitask import MultiTaskModel
from facehealth.models.tasks import TaskSpec, pred_column

__all__ = ["calibrate", "split_calibration"]


def split_calibration(val_ids: list[str], share: float, seed: int) -> tuple[list[str], list[str]]:
    """(selection, calibration) subjects of the validation split, or (all, none) when too few.

    The calibration subjects must not steer model selection, or their residuals would be
    optimistic; both halves need MIN_CALIBRATION_SUBJECTS for their own job.
    """
    n_cal = int(round(share * len(val_ids)))
    if n_cal < MIN_CALIBRATION_SUBJECTS or len(val_ids) - n_cal < MIN_CALIBRATION_SUBJECTS:
        return list(val_ids), []
    order = np.random.default_rng([seed, 7]).permutation(len(val_ids))
    chosen = {val_ids[i] for i in order[:n_cal]}
    return [s for s in val_ids if s not in chosen], [s for s in val_ids if s in chosen]


def calibrate(
    model: MultiTaskModel,
    data: Dataset,
    labels: pd.DataFrame,
    tasks: list[TaskSpec],
    batch_size: int,
    device: torch.device,
) -> PhotoCalibration | None:
    columns = [c for t in tasks if t.kind == "regression" for c in t.columns]
    repeat = [t.output_column() for t in tasks if t.kind in ("binary", "cox")]
    if not (columns or repeat) or len(data) == 0:
        return None
    items = predict_items(model, data, batch_size, device).rename(columns={pred_column(c): c for c in columns})
    return fit_photo_calibration(items[["subject_id", *columns, *repeat]], labels, columns, repeat_columns=repeat)
