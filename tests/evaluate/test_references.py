"""Trivial references beside every metric, and the verdict of a model's CI against them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facehealth.evaluate.clinical import evaluate_predictions
from facehealth.evaluate.references import reference_metrics, verdict
from facehealth.models.tasks import TaskSpec


def test_regression_reference_predicts_the_training_mean():
    rng = np.random.default_rng(0)
    train, test = rng.normal(50, 10, 300), rng.normal(55, 10, 80)
    ids = np.arange(80)
    ref = reference_metrics("regression", test, train, ids, np.random.default_rng(1), 200)
    assert ref["mae"]["value"] == pytest.approx(np.mean(np.abs(test - train.mean())))
    assert ref["mae"]["low"] < ref["mae"]["value"] < ref["mae"]["high"] and ref["pearson_r"] == 0.0
    assert ref["predicts"].startswith("the training mean")


def test_binary_and_multiclass_references():
    y_train, y = np.array([0, 0, 0, 1]), np.array([1, 0, 1, 0, 0, 1])
    ref = reference_metrics("binary", y, y_train, np.arange(6), np.random.default_rng(0), 50)
    assert ref["brier"]["value"] == pytest.approx(np.mean((y - 0.25) ** 2)) and ref["auroc"] == 0.5
    codes = reference_metrics(
        "multiclass", np.array([2, 2, 0, 1]), np.array([2, 2, 1]), np.arange(4), np.random.default_rng(0), 50, 3
    )
    assert codes["accuracy"]["value"] == 0.5 and codes["balanced_accuracy"] == pytest.approx(1 / 3)
    assert reference_metrics("cox", y, y_train, np.arange(6), np.random.default_rng(0), 10)["c_index"] == 0.5


@pytest.mark.parametrize(
    "metric, low, high, reference, expected",
    [
        ("auroc", 0.61, 0.80, 0.5, "beats"),
        ("auroc", 0.42, 0.71, 0.5, "no better"),
        ("auroc", 0.21, 0.45, 0.5, "worse"),
        ("mae", 8.0, 11.0, 15.0, "beats"),  # lower is better
        ("mae", 17.4, 23.5, 18.0, "no better"),
        ("mae", 19.0, 23.5, 18.0, "worse"),
        ("c_index", float("nan"), 0.7, 0.5, "not estimable"),
    ],
)
def test_verdict(metric, low, high, reference, expected):
    assert verdict(metric, {"low": low, "high": high}, {"value": reference}) == expected


def test_evaluation_puts_the_reference_beside_every_task():
    rng = np.random.default_rng(3)
    n = 200
    age = rng.uniform(20, 80, n)
    cad = (rng.random(n) < 0.3).astype(float)
    frame = pd.DataFrame(
        {
            "subject_id": [f"s{i}" for i in range(n)],
            "split": np.where(np.arange(n) < 120, "train", "test"),
            "pred_age": age + rng.normal(0, 4, n),  # a good age model
            "prob_cad": rng.random(n),  # a useless CAD model
        }
    )
    labels = pd.DataFrame({"subject_id": frame["subject_id"], "age": age, "cad": cad})
    tasks = [TaskSpec("age", "regression", ("age",)), TaskSpec("cad", "binary", ("cad",))]
    report = evaluate_predictions(frame, labels, tasks, np.random.default_rng(0), n_boot=200, splits=("test",))
    test = report["splits"]["test"]
    assert test["age"]["age"]["versus_reference"] == {"mae": "beats", "rmse": "beats", "pearson_r": "beats"}
    assert test["cad"]["versus_reference"]["auroc"] == "no better"
    assert test["cad"]["reference"]["predicts"] == f"the training prevalence, {cad[:120].mean():.3f}"
