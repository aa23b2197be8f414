"""Planted clinical effects recovered: a prognostic and a null covariate, a prognostic and a null
face-age gap, and the face-age gap against a prior face-age model (labels-only synthetic cohorts)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from facehealth.data.synth.model import CLINICAL, SURVIVAL, SynthConfig, draw_subjects
from facehealth.evaluate.covariates import CovariateSpec
from facehealth.evaluate.prognostic import face_age_analysis
from facehealth.evaluate.survival_report import survival_analysis

PLANTED_GAP_LOG_HR = float(np.log(1.5))  # per 5 years of face-age gap


def _cohort(seed: int, **planted: object) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Predictions (risk from frailty, face age with error), labels and subjects of 3,000 subjects."""
    drawn = draw_subjects(SynthConfig(subjects=3000, seed=seed, **planted), np.random.default_rng(seed))
    rows = pd.DataFrame([s.row | {k: s.latent[k] for k in ("frailty", "face_age")} for s in drawn])
    rng = np.random.default_rng(seed + 1)
    predictions = pd.DataFrame(
        {
            "subject_id": rows["subject_id"],
            "split": rng.choice(["train", "val", "test"], len(rows), p=[0.4, 0.1, 0.5]),
            "risk_survival": SURVIVAL["log_hr_frailty_per_sd"] * rows["frailty"],
            "pred_age": rows["face_age"] + rng.normal(0, 2, len(rows)),
        }
    )
    labels = rows[["subject_id", "survival_time", "survival_event"]]
    keep = ["subject_id", "age", "sex", "site", "frailty"] + [c for c in ("stage", "disease_type") if c in rows]
    return predictions, labels, rows[keep]


@pytest.fixture(scope="module")
def clinical():
    return _cohort(41, clinical_covariates=True)


def test_the_planted_covariate_is_recovered_and_the_null_one_covers_one(clinical):
    predictions, labels, subjects = clinical
    spec = CovariateSpec(("age", "sex", "stage", "disease_type"), {"stage": "I", "disease_type": "colorectal"})
    report = survival_analysis(
        predictions, labels, subjects, covariates=spec, rng=np.random.default_rng(0), n_boot=20, splits=("test",)
    )
    assert report["covariate_coding"]["coding"]["stage"]["reference"] == "I"
    test = report["splits"]["test"]
    terms = {t["term"]: t for t in test["cox_model"]["terms"]}
    for level in ("II", "III"):
        planted = float(np.exp(CLINICAL["log_hr_stage"][level]))
        hr = terms[f"stage={level}"]
        assert hr["low"] < planted < hr["high"] and hr["low"] > 1, (level, hr)
    for level in ("lung", "prostate"):
        hr = terms[f"disease_type={level}"]
        assert hr["low"] < 1 < hr["high"], (level, hr)
    assert test["n_dropped_missing_covariates"] == 0
    quartiles = [t["term"] for t in test["hazard_ratios"]["per_quartile"]["terms"]]
    assert quartiles == ["quartile_2_vs_1", "quartile_3_vs_1", "quartile_4_vs_1"]
    json.dumps(report)


def test_missing_covariates_are_counted_per_split(clinical):
    predictions, labels, subjects = clinical
    holes = subjects.copy()
    holes.loc[holes.index[:300], "stage"] = None
    report = survival_analysis(
        predictions,
        labels,
        holes,
        covariates=("age", "stage"),
        rng=np.random.default_rng(0),
        n_boot=5,
        splits=("test",),
    )
    lost = int(predictions.iloc[:300]["split"].eq("test").sum())
    assert report["splits"]["test"]["n_dropped_missing_covariates"] == lost
    assert report["covariate_coding"]["dropped"] == {"stage": 300}


@pytest.mark.parametrize("log_hr", [PLANTED_GAP_LOG_HR, 0.0], ids=["prognostic", "null"])
def test_a_prognostic_face_age_gap_is_found_and_a_null_one_is_not(log_hr):
    predictions, labels, subjects = _cohort(32, face_age_gap_sd=6.0, face_age_gap_log_hr=log_hr)
    # Frailty is a known prognostic factor here; leaving it out would shrink every Cox HR toward 1.
    result = face_age_analysis(
        predictions, labels, subjects, covariates=("sex", "frailty"), rng=np.random.default_rng(1), n_boot=20
    )
    hr = result["splits"]["test"]["gap_hr_per_5_years"]
    assert "age" in result["covariates"] and hr["adjusted_for"][0] == "age"
    if log_hr:
        # The face-age error (SD 2 years on a 6-year gap) dilutes the HR by about 10%: found, near the truth.
        assert hr["low"] > 1 and hr["low"] < np.exp(log_hr) * 1.05 and hr["high"] > np.exp(0.85 * log_hr)
    else:
        assert hr["low"] < 1 < hr["high"]


def test_the_face_age_gap_beats_a_prior_model_that_cannot_see_it():
    predictions, labels, subjects = _cohort(33, face_age_gap_sd=6.0, face_age_gap_log_hr=PLANTED_GAP_LOG_HR)
    rng = np.random.default_rng(2)
    prior = subjects[["subject_id"]].assign(pred_age=subjects["age"] + rng.normal(0, 4, len(subjects)))
    result = face_age_analysis(
        predictions,
        labels,
        subjects,
        covariates=("sex", "frailty"),
        rng=np.random.default_rng(3),
        n_boot=100,
        prior=prior,
        splits=("test",),
    )
    test = result["splits"]["test"]
    ours, theirs = test["ours_added_to_prior"], test["prior_added_to_ours"]
    assert ours["likelihood_ratio"]["p"] < 1e-4 and theirs["likelihood_ratio"]["p"] > 0.01
    assert ours["weights_from"] == "train+val" and ours["c_gain"]["low"] > 0  # out of sample
    assert theirs["c_gain"]["low"] < 0.005
    both = {t["term"]: t for t in test["both_gaps"]["terms"]}
    assert both["gap_per_5y"]["low"] > 1 and both["prior_gap_per_5y"]["low"] < 1 < both["prior_gap_per_5y"]["high"]
    json.dumps(result)
