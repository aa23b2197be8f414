from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facehealth.models.descriptor import DlibFaceDescriptor, descriptors_from_manifest
from facehealth.models.linear import LinearHead


@pytest.fixture(scope="module")
def descriptor():
    return DlibFaceDescriptor()


def test_same_person_is_closer_than_another_person(pipeline, read, descriptor):
    def embed(name):
        face = pipeline.process(read(name)).faces[0]
        return descriptor.embed(read(name), face.landmarks)

    obama, obama2, biden = embed("obama.jpg"), embed("obama2.jpg"), embed("biden.jpg")
    assert obama.shape == (128,)
    same, other = np.linalg.norm(obama - obama2), np.linalg.norm(obama - biden)
    assert same < 0.6 < other  # dlib's documented same-identity threshold


def test_crop_descriptor_matches_the_original_photo(pipeline, read, descriptor):
    face = pipeline.process(read("obama.jpg")).faces[0]
    full = descriptor.embed(read("obama.jpg"), face.landmarks)
    crop = descriptor.embed(face.aligned.image, face.aligned.to_crop(face.landmarks))
    assert np.linalg.norm(full - crop) < 0.2


def test_faceage_style_baseline_learns_age_and_cad_on_the_synthetic_cohort(synth_cohort, prepared_synth):
    from sklearn.metrics import r2_score, roc_auc_score
    from sklearn.model_selection import KFold

    feats = descriptors_from_manifest(prepared_synth)
    per_subject = feats.drop(columns="crop_path").groupby("subject_id").mean()
    labels = (
        pd.read_csv(synth_cohort / "subjects.csv")
        .merge(pd.read_csv(synth_cohort / "labels.csv"), on="subject_id")
        .set_index("subject_id")
    )
    labels = labels.loc[per_subject.index]
    x = per_subject.to_numpy()
    pred_age, pred_cad, pred_risk = np.zeros(len(x)), np.zeros(len(x)), np.zeros(len(x))
    for train, test in KFold(5, shuffle=True, random_state=0).split(x):
        pred_age[test] = LinearHead("regression").fit(x[train], labels["age"].to_numpy()[train]).predict(x[test])
        pred_cad[test] = LinearHead("binary").fit(x[train], labels["cad"].to_numpy()[train]).predict(x[test])
        surv = labels[["survival_time", "survival_event"]].to_numpy()
        pred_risk[test] = LinearHead("cox").fit(x[train], surv[train]).predict(x[test])
    assert r2_score(labels["age"], pred_age) > 0.15  # greying, texture and sagging are visible to it
    assert roc_auc_score(labels["cad"], pred_cad) > 0.55
    assert np.isfinite(pred_risk).all()


def test_linear_heads_choose_their_penalty_on_validation_rows_when_given():
    from sklearn.linear_model import Ridge

    from facehealth.models.linear import RIDGE_ALPHAS

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 30))
    y = x[:, 0] + rng.normal(0, 0.5, 60)
    xv = rng.normal(size=(40, 30))
    yv = xv[:, 0] + rng.normal(0, 0.5, 40)
    head = LinearHead("regression").fit(x, y, xv, yv)
    z, zv = (x - x.mean(0)) / (x.std(0) + 1e-8), (xv - x.mean(0)) / (x.std(0) + 1e-8)
    errors = [np.mean((Ridge(alpha=a).fit(z, y).predict(zv) - yv) ** 2) for a in RIDGE_ALPHAS]
    assert head._model.alpha == RIDGE_ALPHAS[int(np.argmin(errors))]  # the grid point best on validation
    for kind, labels, val_labels in (
        ("binary", (y > 0).astype(float), (yv > 0).astype(float)),
        ("cox", np.column_stack([np.exp(-y) + 0.1, np.ones(60)]), np.column_stack([np.exp(-yv) + 0.1, np.ones(40)])),
    ):
        fitted = LinearHead(kind, cox_components=4).fit(x, labels, xv, val_labels).predict(xv)
        assert np.isfinite(fitted).all() and len(fitted) == 40
