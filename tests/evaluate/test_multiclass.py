"""Multi-class metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.metrics import confusion_matrix as sk_confusion

from facehealth.evaluate.metrics import DegenerateMetricWarning
from facehealth.evaluate.multiclass import confusion_matrix, multiclass_auroc_ovr, multiclass_balanced_accuracy


def test_multiclass_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + np.eye(3)[y]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert multiclass_auroc_ovr(y, probs) == pytest.approx(roc_auc_score(y, probs, multi_class="ovr"), abs=1e-12)
    pred = probs.argmax(1)
    assert (confusion_matrix(y, pred, 3) == sk_confusion(y, pred, labels=[0, 1, 2])).all()
    unbalanced = np.r_[np.zeros(250, int), y[:50]]  # mostly class 0
    assert multiclass_balanced_accuracy(unbalanced, probs) == pytest.approx(
        balanced_accuracy_score(unbalanced, pred), abs=1e-12
    )
    assert multiclass_balanced_accuracy(y, np.tile([1.0, 0, 0], (300, 1))) == pytest.approx(1 / 3)


def test_an_absent_class_gives_nan_with_a_warning():
    with pytest.warns(DegenerateMetricWarning, match="a class is absent"):
        assert np.isnan(multiclass_auroc_ovr([0, 0, 1], np.full((3, 3), 1 / 3)))
