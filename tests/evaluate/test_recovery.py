"""The oracle (planted truth as a prediction) and recovery = (model - trivial) / (oracle - trivial)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from facehealth.evaluate.clinical import evaluate_predictions
from facehealth.evaluate.recovery import oracle_predictions, recovery, recovery_metric
from facehealth.models.tasks import TaskSpec

TASKS = [
    TaskSpec("age", "regression", ("age",)),
    TaskSpec("biomarkers", "regression", ("total_bilirubin", "sodium")),
    TaskSpec("cad", "binary", ("cad",)),
    TaskSpec("survival", "cox", ("survival_time", "survival_event")),
]


def test_recovery_is_zero_at_the_trivial_reference_one_at_the_oracle_and_nan_without_a_gain():
    assert recovery(0.5, 0.5, 0.9) == 0.0 and recovery(0.9, 0.5, 0.9) == 1.0
    assert recovery(4.0, 12.0, 4.0) == 1.0  # MAE: lower is better, the ratio handles the sign
    assert math.isnan(recovery(0.6, 0.5, 0.5)) and math.isnan(recovery(float("nan"), 0.5, 0.9))
    y = np.array([1.0, 2.0, 3.0, 4.0])
    constant_oracle = np.full(4, 2.5)
    assert math.isnan(recovery_metric("regression", "pearson_r")(y, y, constant_oracle))
    with pytest.raises(ValueError):
        recovery_metric("multiclass", "accuracy")


def test_the_generator_writes_the_oracle_and_it_is_the_ceiling(synth_cohort):
    oracle = oracle_predictions(synth_cohort, TASKS)
    assert set(oracle.columns) == {
        "subject_id",
        "pred_age",
        "pred_total_bilirubin",
        "pred_sodium",
        "prob_cad",
        "risk_survival",
    }
    labels = pd.read_csv(synth_cohort / "labels.csv", dtype={"subject_id": str}).merge(
        pd.read_csv(synth_cohort / "subjects.csv", dtype={"subject_id": str})
    )
    both = labels.merge(oracle, on="subject_id")
    assert np.abs(both["age"] - both["pred_age"]).max() < 0.06  # the age is planted exactly
    # A visible marker's oracle is its value; a negative control has nothing findable: a constant.
    assert np.corrcoef(np.log(both["total_bilirubin"]), np.log(both["pred_total_bilirubin"]))[0, 1] > 0.99
    assert both["pred_sodium"].nunique() == 1
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(both["cad"], both["prob_cad"]) > 0.7  # the planted probability, before its noise
    assert oracle_predictions(synth_cohort / "missing", TASKS) is None


def test_evaluation_reports_oracle_and_recovery_on_the_same_subjects(synth_cohort):
    """A model halfway between the trivial reference and the oracle recovers about half."""
    rng = np.random.default_rng(0)
    labels = pd.read_csv(synth_cohort / "labels.csv", dtype={"subject_id": str}).merge(
        pd.read_csv(synth_cohort / "subjects.csv", dtype={"subject_id": str})
    )
    oracle = oracle_predictions(synth_cohort, TASKS)
    split = np.where(rng.random(len(oracle)) < 0.5, "train", "test")
    train_mean = labels.loc[split == "train", "age"].mean()
    predictions = oracle.assign(split=split)
    # Age: the exact truth (recovery 1 for r); bilirubin: the truth plus noise (between 0 and 1).
    noisy = np.exp(np.log(oracle["pred_total_bilirubin"]) + rng.normal(0, 0.6, len(oracle)))
    predictions = predictions.assign(pred_total_bilirubin=noisy, prob_cad=oracle["prob_cad"])
    report = evaluate_predictions(predictions, labels, TASKS, np.random.default_rng(1), n_boot=100, oracle=oracle)
    test = report["splits"]["test"]
    assert test["age"]["age"]["recovery"]["pearson_r"]["value"] == pytest.approx(1.0)
    assert test["age"]["age"]["recovery"]["mae"]["value"] == pytest.approx(1.0)
    bili = test["biomarkers"]["total_bilirubin"]
    assert 0.1 < bili["recovery"]["pearson_r"]["value"] < 0.9
    assert bili["recovery"]["pearson_r"]["low"] < bili["recovery"]["pearson_r"]["value"] < 1.0
    assert (
        test["biomarkers"]["sodium"]["recovery"]["pearson_r"]["value"]
        != test["biomarkers"]["sodium"]["recovery"]["pearson_r"]["value"]
    )  # NaN: a negative control has nothing to recover
    assert test["cad"]["recovery"]["auroc"]["value"] == pytest.approx(1.0)
    assert test["survival"]["oracle"]["c_index"]["value"] > 0.6
    # A constant model sits at the trivial reference: MAE recovery 0.
    flat = oracle.assign(split=split, pred_age=train_mean)
    again = evaluate_predictions(flat, labels, TASKS[:1], np.random.default_rng(1), n_boot=50, oracle=oracle)
    assert again["splits"]["test"]["age"]["age"]["recovery"]["mae"]["value"] == pytest.approx(0.0, abs=1e-9)
