"""`facehealth evaluate` with the cohort's own covariates, subgroups and a prior face-age model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from facehealth.cli import app


@pytest.mark.filterwarnings("ignore::facehealth.evaluate.metrics.DegenerateMetricWarning")
def test_evaluate_adjusts_for_named_covariates_splits_by_subgroups_and_compares_a_prior(
    tiny_checkpoint, prepared_synth, cohort_copy, tmp_path
):
    subjects = pd.read_csv(cohort_copy / "subjects.csv")
    rng = np.random.default_rng(0)
    subjects["stage"] = rng.choice(["I", "II", "III"], len(subjects))
    subjects.loc[subjects.index[:6], "stage"] = None  # six subjects lack the covariate
    subjects.to_csv(cohort_copy / "subjects.csv", index=False)
    prior = subjects[["subject_id"]].assign(pred_age=subjects["age"] + rng.normal(0, 5, len(subjects)))
    prior.to_csv(tmp_path / "prior.csv", index=False)
    out = tmp_path / "ev"
    args = [
        "evaluate",
        "--model",
        str(tiny_checkpoint),
        "--cohort",
        str(cohort_copy),
        "--prepared",
        str(prepared_synth),
    ]
    args += ["--out", str(out), "--n-boot", "10", "--covariate", "age", "--covariate", "stage"]
    args += [
        "--reference",
        "stage=II",
        "--subgroup",
        "sex",
        "--subgroup",
        "stage",
        "--prior-age",
        str(tmp_path / "prior.csv"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    survival = json.loads((out / "survival.json").read_text())
    coding = survival["covariate_coding"]
    assert coding["coding"]["stage"]["reference"] == "II" and coding["terms"] == ["age", "stage=I", "stage=III"]
    assert coding["dropped"] == {"stage": 6}
    dropped = sum(s["n_dropped_missing_covariates"] for k, s in survival["splits"].items() if "+" not in k)
    assert 0 < dropped <= 6  # the six lie in train/val or in the scored splits
    assert survival["face_age"]["prior"] and "ours_added_to_prior" in survival["face_age"]["splits"]["test"]
    table = pd.read_csv(out / "subgroups.csv")
    assert set(table["group"]) == {"all", "sex", "stage"} and {"age", "cad", "survival"} <= set(table["task"])
    assert "missing" in set(table.loc[table["group"] == "stage", "level"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluation_settings"]["covariates"]["reference"] == {"stage": "II"}


def test_evaluate_names_a_covariate_the_cohort_lacks(tiny_checkpoint, tmp_path):
    args = ["evaluate", "--model", str(tiny_checkpoint), "--out", str(tmp_path / "ev"), "--n-boot", "5"]
    result = CliRunner().invoke(app, [*args, "--covariate", "smoking"])
    assert result.exit_code != 0 and "smoking" in result.output and "not subjects-table columns" in result.output
    result = CliRunner().invoke(app, [*args, "--reference", "stage"])
    assert result.exit_code != 0 and "COLUMN=LEVEL" in result.output
