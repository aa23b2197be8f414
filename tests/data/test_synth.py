from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import cross_val_predict

from facehealth.data.synth import SynthConfig, synthesize_cohort
from facehealth.data.synth.features import FEATURE_NAMES, features_from_manifest
from facehealth.data.validate import validate_cohort


def test_cohort_is_valid_and_complete(synth_cohort):
    report = validate_cohort(synth_cohort)
    assert report.ok, [str(i) for i in report.errors]
    assert report.counts == {"subjects": 120, "media": 240, "labels": 120}
    truth = json.loads((synth_cohort / "ground_truth.json").read_text())
    assert truth["survival"]["hazard_ratios"]["frailty_per_sd"] == pytest.approx(1.8)
    assert len(truth["biomarkers"]) == 62 and len(truth["negative_controls"]) >= 30
    assert (synth_cohort / "contact_sheet.png").stat().st_size > 10_000
    subjects = pd.read_csv(synth_cohort / "subjects.csv")
    assert subjects["age"].between(18, 90).all() and set(subjects["site"]) == {"site_a", "site_b", "site_c"}


def test_same_seed_same_cohort_other_seed_differs(tmp_path):
    a = synthesize_cohort(tmp_path / "a", SynthConfig(subjects=3, images_per_subject=1, seed=7))
    b = synthesize_cohort(tmp_path / "b", SynthConfig(subjects=3, images_per_subject=1, seed=7))
    c = synthesize_cohort(tmp_path / "c", SynthConfig(subjects=3, images_per_subject=1, seed=8))
    assert (a / "labels.csv").read_text() == (b / "labels.csv").read_text()
    assert (a / "media/S00000/img0.jpg").read_bytes() == (b / "media/S00000/img0.jpg").read_bytes()
    assert (a / "labels.csv").read_text() != (c / "labels.csv").read_text()


def test_real_detector_finds_at_least_95_percent(prepared_synth):
    summary = json.loads((prepared_synth / "summary.json").read_text())
    assert summary["items"] == 240
    assert summary["rejections"].get("no_face", 0) <= 0.05 * 240
    assert summary["crops"] >= 0.9 * 240  # the quality gate may reject a few blurred/overexposed shots


@pytest.fixture(scope="module")
def measured(synth_cohort, prepared_synth) -> pd.DataFrame:
    features = features_from_manifest(prepared_synth, pd.read_parquet(prepared_synth / "manifest.parquet"))
    labels = pd.read_csv(synth_cohort / "labels.csv")
    subjects = pd.read_csv(synth_cohort / "subjects.csv")
    latent = pd.read_csv(synth_cohort / "ground_truth_subjects.csv")
    return features.merge(labels, on="subject_id").merge(subjects, on="subject_id").merge(latent, on="subject_id")


@pytest.mark.parametrize(
    "feature, target, sign",
    [
        ("width_ratio", "bmi", 1),
        ("hair_saturation", "age", -1),
        ("yellow_skin", "total_bilirubin", 1),
        ("red_skin", "haemoglobin", 1),
        ("under_eye_contrast", "creatinine", 1),
        ("inner_lid_yellow", "ldl_cholesterol", 1),
        ("under_eye_contrast", "frailty", -1),
    ],
)
def test_planted_effects_show_in_simple_measurements(measured, feature, target, sign):
    y = np.log(measured[target]) if target in ("total_bilirubin", "creatinine") else measured[target]
    r = np.corrcoef(measured[feature], y)[0, 1]
    assert sign * r > 0.25, f"{feature} vs {target}: r = {r:.3f}"


def test_visible_markers_are_recoverable_and_negative_controls_are_not(synth_cohort, measured):
    truth = json.loads((synth_cohort / "ground_truth.json").read_text())
    x = np.column_stack([measured[list(FEATURE_NAMES)], pd.get_dummies(measured["site"]).to_numpy(float)])
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    scores = {}
    for name, info in truth["biomarkers"].items():
        y = np.log(measured[name].to_numpy() + 1e-3)
        pred = cross_val_predict(RidgeCV(alphas=np.logspace(-1, 3, 9)), x, y, cv=5)
        scores[name] = (info["role"], r2_score(y, pred))
    visible = [s for role, s in scores.values() if role == "visible"]
    controls = [s for role, s in scores.values() if role == "none"]
    assert min(visible) > 0.1, scores
    assert np.mean(controls) < 0.02 and max(controls) < 0.1, sorted(controls)[-3:]


def test_affective_videos_plant_group_differences(tmp_path):
    from facehealth.faces.io import iter_video_frames

    cohort = synthesize_cohort(
        tmp_path / "v", SynthConfig(subjects=6, images_per_subject=1, videos_per_subject=1, seed=3)
    )
    media = pd.read_csv(cohort / "media.csv")
    videos = media[media["kind"] == "video"]
    assert len(videos) == 6 and (videos["stimulus"] == "emotion_sequence_v1").all()
    labels = pd.read_csv(cohort / "labels.csv")
    assert set(labels["affective"]) <= {"healthy", "MDD", "BPD"}
    frames = list(iter_video_frames(cohort / videos["path"].iloc[0], fps=None))
    assert len(frames) == 50  # 10 s at 5 fps
    # The face changes over the stimulus sequence (expression), not only by noise.
    diffs = [np.abs(f.image.astype(int) - frames[0].image.astype(int)).mean() for f in frames]
    assert max(diffs) > 2 * min(diffs[1:5]) + 0.5
    assert validate_cohort(cohort).ok


def test_expression_warper_matches_a_fresh_warp_per_frame():
    """The per-video shortcut (two precomputed fields, scaled) stays within a grey level of the exact warp."""
    from facehealth.data.synth.faces import (
        ExpressionWarper,
        apply_expression,
        identity_photos,
        load_base_faces,
        render_face,
    )
    from facehealth.data.synth.model import SynthConfig, draw_subjects

    bases, _ = load_base_faces(identity_photos(), 1, np.random.default_rng(0))
    subject = draw_subjects(SynthConfig(subjects=1), np.random.default_rng(0), bases)[0]
    face, landmarks = render_face(bases, subject.appearance)
    warp = ExpressionWarper(face, landmarks)
    for e in (-1.0, -0.4, 0.0, 0.3, 1.0):
        exact = apply_expression(face, landmarks, e).astype(float)
        fast = warp(e).astype(float)
        assert np.abs(exact - fast).mean() < 0.5
        if abs(e) >= 0.3:  # and the expression itself changes the face more than the shortcut does
            assert np.abs(exact - face).mean() > 2 * np.abs(exact - fast).mean()


def test_expression_moves_the_detected_mouth_corners_as_planted(pipeline):
    """The warp realises the planted offsets: a real landmarker sees corners rise 0.12 IOD in a full smile.

    (An anchored warp, pinned by the still landmarks around each corner, moved them a quarter of that.)
    """
    from facehealth.data.synth.faces import ExpressionWarper, identity_photos, load_base_faces, render_face
    from facehealth.data.synth.model import SynthConfig, draw_subjects
    from facehealth.faces.landmarks import inter_ocular_distance
    from facehealth.faces.motion import aligned_landmarks

    bases, _ = load_base_faces(identity_photos(), 1, np.random.default_rng(0))
    subject = draw_subjects(SynthConfig(subjects=1), np.random.default_rng(0), bases)[0]
    face, landmarks = render_face(bases, subject.appearance)
    warp = ExpressionWarper(face, landmarks)
    shapes = {}
    for e in (-1.0, 0.0, 1.0):
        found = pipeline.process(warp(e)).faces[0]
        shapes[e] = aligned_landmarks(found.landmarks[None], found.aligned.matrix[None])[0]
    iod = inter_ocular_distance(shapes[0.0])
    corners = [48, 54]
    rise = (shapes[0.0][corners, 1] - shapes[1.0][corners, 1]).mean() / iod
    drop = (shapes[-1.0][corners, 1] - shapes[0.0][corners, 1]).mean() / iod
    # Official portraits mostly smile already, so a full smile lifts the corners a little less.
    assert 0.05 < rise < 0.18 and 0.07 < drop < 0.18, (rise, drop)
    nose = (shapes[1.0][27:31] - shapes[0.0][27:31]).std() / iod  # rigid points barely move
    assert nose < 0.03


def test_each_subject_is_one_real_portrait_with_its_sex_and_roughly_its_age():
    """Identities come from the packaged portraits: sex is the portrait's, age is near its real age."""
    from facehealth.data.portraits import portrait_table
    from facehealth.data.synth.faces import identity_photos, load_base_faces
    from facehealth.data.synth.model import AGE_SPREAD_SD, SynthConfig, draw_subjects

    rng = np.random.default_rng(3)
    bases, skipped = load_base_faces(identity_photos(), 40, rng)
    assert len(bases) == 40 and skipped <= 2
    subjects = draw_subjects(SynthConfig(subjects=40), rng, bases)
    table = portrait_table().assign(name=lambda t: t["file"].str.removesuffix(".jpg")).set_index("name")
    names = [s.row["group_id"] for s in subjects]
    assert len(set(names)) == 40  # one identity per subject while there are enough
    truth = table.loc[names]
    assert [s.row["sex"] for s in subjects] == truth["sex"].tolist()
    gap = np.array([s.row["age"] for s in subjects]) - truth["age"].to_numpy()
    assert abs(gap.mean()) < 4 and 0.5 * AGE_SPREAD_SD < gap.std() < 1.5 * AGE_SPREAD_SD


def test_a_reused_identity_never_straddles_splits():
    """More subjects than identities: subjects sharing one share a group, a site and a split."""
    from facehealth.data.splits import make_splits
    from facehealth.data.synth.faces import identity_photos, load_base_faces
    from facehealth.data.synth.model import SynthConfig, draw_subjects

    rng = np.random.default_rng(5)
    bases, _ = load_base_faces(identity_photos()[:30], 12, rng)
    subjects = draw_subjects(SynthConfig(subjects=60), rng, bases)
    table = pd.DataFrame([s.row for s in subjects])
    assert table["group_id"].nunique() == 12
    assert (table.groupby("group_id")["site"].nunique() == 1).all()
    splits = make_splits(table, seed=0, external_sites=("site_c",)).merge(table[["subject_id", "group_id"]])
    assert (splits.groupby("group_id")["split"].nunique() == 1).all()
    assert set(splits["split"]) >= {"train", "test"}


def test_clinical_covariates_and_a_face_age_gap_are_opt_in_and_leave_the_default_cohort_unchanged(tmp_path):
    from typer.testing import CliRunner

    from facehealth.cli import app
    from facehealth.data.synth.model import SynthConfig, draw_subjects

    plain = draw_subjects(SynthConfig(subjects=40), np.random.default_rng(0))
    planted = draw_subjects(
        SynthConfig(subjects=40, clinical_covariates=True, face_age_gap_sd=6.0, face_age_gap_log_hr=0.4),
        np.random.default_rng(0),
    )
    for a, b in zip(plain, planted):
        # Same identities, ages and markers: the opt-in effects draw from their own stream.
        assert a.row["age"] == b.row["age"] and a.row["haemoglobin"] == b.row["haemoglobin"]
        assert a.latent["face_age"] == a.row["age"] and "stage" not in a.row
        assert b.row["stage"] in ("I", "II", "III") and b.row["disease_type"] in ("colorectal", "lung", "prostate")
        assert b.appearance.age == pytest.approx(b.latent["face_age"], abs=0.05)  # the face shows the gap
    gaps = np.array([b.latent["face_age_gap"] for b in planted])
    assert 3 < gaps.std() < 9 and any(a.row["survival_time"] != b.row["survival_time"] for a, b in zip(plain, planted))

    out = tmp_path / "c"
    args = ["cohort", "synth", "--out", str(out), "--subjects", "6", "--images", "1", "--clinical-covariates"]
    result = CliRunner().invoke(app, [*args, "--face-age-gap-sd", "5", "--face-age-gap-log-hr", "0.3"])
    assert result.exit_code == 0, result.output
    subjects = pd.read_csv(out / "subjects.csv")
    assert {"stage", "disease_type"} <= set(subjects.columns)
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["clinical_covariates"]["hazard_ratios"]["stage_III_vs_I"] == pytest.approx(2.8)
    assert truth["face_age_gap"]["sd_years"] == 5.0 and truth["face_age_gap"]["log_hr_per_5_years"] == 0.3
    assert "face_age_gap" in pd.read_csv(out / "ground_truth_subjects.csv").columns
