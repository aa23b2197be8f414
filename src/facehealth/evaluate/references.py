"""Trivial references: what a model must beat before any of its numbers mean something.

The reference predicts, for every subject, what the training split alone suggests: its mean
for a regression label, its prevalence for a binary outcome, its most common class for a
multi-class one, and one constant risk for survival. Such a predictor has AUROC and C = 0.5 and
Pearson r undefined (reported as 0); its MAE, RMSE, Brier score and accuracy are computed on the
same subjects as the model's, with the same subject bootstrap, so the two sit side by side.

:func:`verdict` then says whether a model's CI clears the reference: ``"beats"`` when the whole
interval is on the better side, ``"worse"`` when it is wholly on the other side, and
``"no better"`` when the interval includes the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from facehealth.evaluate import metrics as m
from facehealth.evaluate.bootstrap import bootstrap_ci

__all__ = ["reference_metrics", "reference_frame", "verdict", "LOWER_IS_BETTER", "CHANCE"]

LOWER_IS_BETTER = frozenset({"mae", "rmse", "brier"})
# Metrics whose reference value is fixed by construction for a constant predictor.
CHANCE = {"auroc": 0.5, "c_index": 0.5, "pearson_r": 0.0, "auroc_ovr": 0.5}


def _ci(
    fn: Callable[..., float],
    arrays: list[np.ndarray],
    ids: np.ndarray,
    rng: np.random.Generator,
    n_boot: int,
    name: str,
) -> dict[str, Any]:
    return bootstrap_ci(fn, arrays, rng, groups=ids, n_boot=n_boot, name=name).as_dict()


def reference_metrics(
    kind: str,
    truth: np.ndarray,
    train_truth: np.ndarray,
    ids: np.ndarray,
    rng: np.random.Generator,
    n_boot: int,
    classes: int = 0,
) -> dict[str, Any]:
    """The trivial reference's metrics on the scored subjects, each as a MetricCI dict or a constant.

    Args:
        kind: task kind (regression, binary, multiclass, cox).
        truth: (n,) labels of the scored subjects (cox: ignored; the reference C is 0.5).
        train_truth: labels of the training split, which the reference is fitted on.
        ids: (n,) subject ids, for the bootstrap.
        classes: number of classes (multiclass).
    """
    y = np.asarray(truth, float)
    train = np.asarray(train_truth, float)
    train = train[np.isfinite(train)]
    out: dict[str, Any] = {"predicts": ""}
    if kind == "regression":
        centre = float(np.mean(train)) if len(train) else float("nan")
        constant = np.full_like(y, centre)
        out["predicts"] = f"the training mean, {centre:.4g}"
        out["mae"] = _ci(m.mae, [y, constant], ids, rng, n_boot, "mae")
        out["rmse"] = _ci(m.rmse, [y, constant], ids, rng, n_boot, "rmse")
        out["pearson_r"] = CHANCE["pearson_r"]
    elif kind == "binary":
        rate = float(np.mean(train)) if len(train) else float("nan")
        out["predicts"] = f"the training prevalence, {rate:.3f}"
        out["brier"] = _ci(m.brier, [y, np.full_like(y, rate)], ids, rng, n_boot, "brier")
        out["auroc"] = CHANCE["auroc"]
    elif kind == "multiclass":
        counts = np.bincount(train.astype(int), minlength=classes) if len(train) else np.zeros(classes)
        top = int(np.argmax(counts))
        out["predicts"] = f"the most common training class (index {top})"
        hit = np.where(np.isfinite(y), (y == top).astype(float), np.nan)
        out["accuracy"] = _ci(lambda h: float(np.nanmean(h)), [hit], ids, rng, n_boot, "accuracy")
        out["balanced_accuracy"] = 1.0 / classes if classes else float("nan")
        out["auroc_ovr"] = CHANCE["auroc_ovr"]
    else:
        out["predicts"] = "the same risk for everyone"
        out["c_index"] = CHANCE["c_index"]
    return out


def _value(reference: Any) -> float:
    return float(reference["value"]) if isinstance(reference, Mapping) else float(reference)


def verdict(metric: str, model: Mapping[str, Any], reference: Any) -> str:
    """``beats``, ``no better`` or ``worse``: the model's CI against the reference's value."""
    ref = _value(reference)
    low, high = float(model.get("low", np.nan)), float(model.get("high", np.nan))
    if not all(np.isfinite([ref, low, high])):
        return "not estimable"
    better_low, better_high = (-high, -low) if metric in LOWER_IS_BETTER else (low, high)
    ref = -ref if metric in LOWER_IS_BETTER else ref
    if better_low > ref:
        return "beats"
    if better_high < ref:
        return "worse"
    return "no better"


def reference_frame(data: pd.DataFrame, column: str) -> np.ndarray:
    """The training split's values of ``column`` (what a reference may be fitted on)."""
    return data.loc[data["split"] == "train", column].to_numpy(float)
