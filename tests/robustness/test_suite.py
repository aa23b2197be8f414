from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from facehealth.errors import ConfigError
from facehealth.robustness.perturb import PERTURBATIONS
from facehealth.robustness.suite import DEFAULT_PERTURBATIONS, run_robustness

pytestmark = pytest.mark.filterwarnings("ignore::facehealth.evaluate.metrics.DegenerateMetricWarning")

NAMES = ("blur", "brightness", "yaw", "occlusion_mask", "makeup")


@pytest.fixture(scope="module")
def result(tiny_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("robust")
    return run_robustness(
        tiny_checkpoint, out_dir=out, perturbations=NAMES, severities=(0, 1, 5), n_subjects=6,
        rng=np.random.default_rng(0),
    )  # fmt: skip


def test_csv_has_a_row_per_perturbation_severity_task_metric(result):
    table = pd.read_csv(result.out_dir / "robustness.csv")
    assert list(table.columns) == [
        "perturbation", "severity", "task", "metric", "value", "low", "high", "agreement", "agreement_metric", "n",
        "n_rejected",
    ]  # fmt: skip
    # Tasks of the tiny model: age (MAE + r), cad (AUROC), survival (C-index) -> 4 metric rows.
    assert len(table) == len(NAMES) * 3 * 4
    assert set(table["perturbation"]) == set(NAMES) and set(table["severity"]) == {0, 1, 5}
    assert set(zip(table["task"], table["metric"])) == {
        ("age", "mae"), ("age", "pearson_r"), ("cad", "auroc"), ("survival", "c_index"),
    }  # fmt: skip
    assert result.n_subjects == 6 and result.forward_passes == 6 * (1 + len(NAMES) * 2)
    clean = table[table["severity"] == 0]
    # Severity 0 is the same clean run for every perturbation, and agrees perfectly with itself.
    assert clean.groupby(["task", "metric"])["value"].nunique(dropna=False).max() == 1
    assert np.allclose(clean.loc[clean["metric"] == "mae", "agreement"], 1.0)
    assert (table["n"] + table["n_rejected"] <= 6).all()
    # Every metric has its subject-bootstrap CI around it (where the metric is defined at all).
    defined = table.dropna(subset=["value", "low", "high"])
    assert len(defined) > 0 and ((defined["low"] <= defined["value"]) & (defined["value"] <= defined["high"])).all()


def test_perturbed_predictions_drift_and_gate_counts(result):
    table = pd.read_csv(result.out_dir / "robustness.csv")
    age = table[(table["metric"] == "mae") & (table["severity"] == 5)].set_index("perturbation")
    assert (age["agreement"].dropna() < 1.0).all()  # every strong perturbation moves the predictions
    blur = table[(table["perturbation"] == "blur") & (table["severity"] == 5)]
    rejections = pd.read_csv(result.out_dir / "robustness_rejections.csv")
    counted = rejections.query("perturbation == 'blur' and severity == 5")["count"].sum()
    assert int(blur["n_rejected"].iloc[0]) == counted
    preds = pd.read_parquet(result.out_dir / "robustness_predictions.parquet")
    assert len(preds) == 6 * len(NAMES) * 3 and {"pred_age", "prob_cad", "risk_survival", "rejected"} <= set(preds)
    assert preds.loc[preds["rejected"].notna(), "pred_age"].isna().all()
    summary = json.loads((result.out_dir / "robustness.json").read_text())
    assert summary["n_subjects"] == 6 and summary["seconds"] > 0


def test_figures_exist_and_are_not_blank(result):
    for name in ("metrics", "agreement", "rejected", "contact_sheet"):
        img = np.asarray(Image.open(result.out_dir / f"robustness_{name}.png").convert("L"))
        assert img.shape[0] > 200 and img.shape[1] > 200 and img.std() > 10, name
    sheet = Image.open(result.out_dir / "robustness_contact_sheet.png")
    assert sheet.height > sheet.width  # a row per perturbation, four columns


def test_unknown_perturbation_is_a_config_error(tiny_checkpoint, tmp_path):
    with pytest.raises(ConfigError, match="unknown perturbation"):
        run_robustness(tiny_checkpoint, out_dir=tmp_path, perturbations=("sepia",))


def test_the_default_set_runs_every_perturbation_family_including_cosmetic_change():
    assert set(DEFAULT_PERTURBATIONS) <= set(PERTURBATIONS)
    assert {"makeup", "skin_smoothing", "brow_reshape", "lip_augmentation"} <= set(DEFAULT_PERTURBATIONS)
