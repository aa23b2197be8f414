from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from facehealth.cli import app
from facehealth.evaluate.clinical import REGRESSION_METRICS, evaluate_predictions, youden_threshold
from facehealth.evaluate.metrics import auroc, bland_altman, spearman_rho
from facehealth.models.cohort_predictor import predict_cohort
from facehealth.train.config import OptimConfig
from facehealth.train.finetune import FinetuneConfig, finetune
from tests.conftest import SESSION_SPLITS


@pytest.fixture(scope="module")
def trained(synth_cohort, prepared_synth, tmp_path_factory):
    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import make_splits, save_splits

    save_splits(
        make_splits(load_cohort(synth_cohort).subject_labels(), 0, **SESSION_SPLITS),
        synth_cohort,
    )
    out = tmp_path_factory.mktemp("ft")
    cfg = FinetuneConfig(
        cohort=str(synth_cohort),
        prepared=str(prepared_synth),
        out_dir=str(out),
        backbone="vit_tiny_patch16",
        img_size=64,
        epochs=1,
        batch_size=32,
        tasks=("biomarkers", "cad", "survival"),
        biomarkers=("haemoglobin", "sodium"),
        optim=OptimConfig(base_lr=2e-3, warmup_epochs=0.5, betas=(0.9, 0.999)),
    )
    return finetune(cfg)


# A one-epoch model on ~20 test subjects: some metrics are undefined (no negatives predicted, no case
# before a horizon) and say so; that is the behaviour under test elsewhere, not here.
@pytest.mark.filterwarnings("ignore::facehealth.evaluate.metrics.DegenerateMetricWarning")
def test_every_number_has_a_ci_and_matches_the_metric_functions(trained):
    predictions, labels, tasks = predict_cohort(trained.checkpoint)
    assert set(predictions["split"]) == {"train", "val", "test", "external"}
    report = evaluate_predictions(predictions, labels, tasks, np.random.default_rng(0), n_boot=50)
    test = report["splits"]["test"]
    auc = test["cad"]["auroc"]
    assert set(auc) >= {"value", "low", "high", "n_subjects", "method"}
    part = predictions[predictions["split"] == "test"].merge(labels, on="subject_id")
    assert auc["value"] == pytest.approx(auroc(part["cad"], part["prob_cad"]))
    assert auc["n_subjects"] == test["n_subjects"]
    assert "c_index" in test["survival"] and "haematological" in test["biomarkers"]["by_system_mean_r"]
    assert 0.0 <= report["thresholds"]["cad"] <= 1.0
    assert {"calibration_slope", "calibration_intercept", "calibration_in_the_large", "reliability"} <= set(test["cad"])
    assert {"accuracy", "balanced_accuracy", "f1", "ece"} <= set(test["cad"])
    hb = test["biomarkers"]["haemoglobin"]
    assert set(hb) == {name for name, _ in REGRESSION_METRICS} | {"reference", "versus_reference"}
    bias, lower, upper = bland_altman(part["haemoglobin"], part["pred_haemoglobin"])
    assert hb["bland_altman_bias"]["value"] == pytest.approx(bias)
    assert hb["bland_altman_lower"]["value"] == pytest.approx(lower)
    assert hb["bland_altman_upper"]["value"] == pytest.approx(upper)
    assert hb["spearman_rho"]["value"] == pytest.approx(spearman_rho(part["haemoglobin"], part["pred_haemoglobin"]))


def test_evaluate_command_writes_metrics_json(trained, tmp_path):
    result = CliRunner().invoke(
        app, ["evaluate", "--model", str(trained.checkpoint), "--out", str(tmp_path / "ev"), "--n-boot", "30"]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["n_boot"] == 30 and set(metrics["splits"]) == {"val", "test", "external"}
    assert "[" in result.output  # intervals are printed
    args = ["evaluate", "--model", str(trained.checkpoint), "--out", str(tmp_path / "tr"), "--n-boot", "5"]
    result = CliRunner().invoke(app, [*args, "--score-train"])
    assert "train" in json.loads((tmp_path / "tr" / "metrics.json").read_text())["splits"]


def test_youden_threshold():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.8, 0.9])
    assert youden_threshold(y, p) == pytest.approx(0.35)  # the cut that separates the classes perfectly
    assert youden_threshold([1, 1], [0.2, 0.3]) == 0.5


def test_evaluation_refuses_splits_that_score_training_subjects_as_test(trained, cohort_copy):
    # The same cohort, split again afterwards: some training subjects would now be "test".
    from facehealth.errors import SplitMismatchError
    from facehealth.models.checkpoint import read_meta

    meta = read_meta(trained.checkpoint)
    recorded = {sid: split for split, ids in meta.splits.items() for sid in ids}
    moved = sorted(meta.splits["train"])[:3]
    table = pd.DataFrame({"subject_id": list(recorded), "split": list(recorded.values())})
    table.loc[table["subject_id"].isin(moved), "split"] = "test"
    table.to_csv(cohort_copy / "splits.csv", index=False)
    with pytest.raises(SplitMismatchError, match="3 subject"):
        predict_cohort(trained.checkpoint, cohort_copy)
