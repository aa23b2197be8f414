"""Multi-class metrics (Emoface's healthy / MDD / BPD): pure functions of labels and class scores.

Degenerate input warns with :class:`~facehealth.evaluate.metrics.DegenerateMetricWarning` and
returns NaN, as the binary and regression metrics do; each equals scikit-learn's to 1e-12.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray

from facehealth.evaluate.metrics import DegenerateMetricWarning, auroc

__all__ = ["multiclass_balanced_accuracy", "multiclass_auroc_ovr", "confusion_matrix"]


def _nan(reason: str) -> float:
    warnings.warn(reason, DegenerateMetricWarning, stacklevel=3)
    return float("nan")


def multiclass_balanced_accuracy(y_true: ArrayLike, probs: ArrayLike) -> float:
    """Mean recall over the classes present in ``y_true``, predicting the most probable class.

    Equals sklearn ``balanced_accuracy_score(y, argmax(probs))``; a majority-class guess scores
    1 / (number of classes present) however unbalanced the classes are.

    Args:
        y_true: (n,) integer class labels 0..K-1.
        probs: (n, K) class probabilities (or scores).
    """
    y = np.asarray(y_true, int)
    pred = np.asarray(probs, float).argmax(1)
    if len(y) == 0:
        return _nan("multiclass_balanced_accuracy: no rows")
    return float(np.mean([np.mean(pred[y == k] == k) for k in np.unique(y)]))


def multiclass_auroc_ovr(y_true: ArrayLike, probs: ArrayLike) -> float:
    """Macro-average one-vs-rest AUROC (sklearn ``roc_auc_score(multi_class="ovr")``).

    Args:
        y_true: (n,) integer class labels 0..K-1.
        probs: (n, K) class probabilities (or scores).
    """
    y = np.asarray(y_true, int)
    p = np.asarray(probs, float)
    if len(np.unique(y)) < p.shape[1]:
        return _nan("multiclass_auroc_ovr: a class is absent")
    return float(np.mean([auroc((y == k).astype(float), p[:, k]) for k in range(p.shape[1])]))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> NDArray[np.int_]:
    """(n_classes, n_classes) counts; rows = truth, columns = prediction.

    Args:
        y_true: (n,) integer class labels 0..n_classes-1.
        y_pred: (n,) predicted class labels 0..n_classes-1.
        n_classes: number of classes K.
    """
    out = np.zeros((n_classes, n_classes), int)
    np.add.at(out, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return out
