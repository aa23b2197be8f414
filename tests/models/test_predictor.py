"""Inference through the public API: ``load(checkpoint).predict(photo)`` on the repository's real photos.

The checkpoint is the session's ``tiny_checkpoint`` (tests/conftest.py): a ViT-Ti at 64 px fine-tuned for one
epoch on the synthetic cohort for age (regression), CAD (binary) and survival (Cox). Skill is not tested here;
what a prediction holds, and how inputs without a usable face fail, are.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import facehealth
from facehealth.errors import FaceHealthError, InputError, ModelNotFoundError, NoFaceError
from facehealth.faces.records import Reason
from facehealth.models.loader import load
from facehealth.models.predictor import FaceHealthModel, Prediction
from tests.conftest import fixture_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py: torch_threads


@pytest.fixture(scope="module")
def model(tiny_checkpoint) -> FaceHealthModel:
    return load(tiny_checkpoint)


@pytest.fixture(scope="module")
def obama(model) -> Prediction:
    return model.predict(fixture_path("obama.jpg"))


def test_a_real_photo_gives_one_output_per_task_of_the_checkpoint(model, obama):
    assert isinstance(obama, Prediction)
    assert obama.source == str(fixture_path("obama.jpg"))
    assert obama.faces_used == 1 and obama.frames_read == 1 and obama.rejected == {}
    # The checkpoint was trained for age, cad and survival: one output each, in the field of its kind.
    assert set(obama.values) == {"age"} and set(obama.probabilities) == {"cad"} and set(obama.risks) == {"survival"}
    assert 0.0 <= obama.probabilities["cad"] <= 1.0
    assert all(math.isfinite(v) for v in (obama.values["age"], obama.risks["survival"]))
    # Every task the loaded model has is answered (regression tasks by their label columns).
    answered = set(obama.values) | set(obama.probabilities) | set(obama.risks)
    for task in model.model.tasks:
        assert set(task.columns if task.kind == "regression" else [task.name]) <= answered, task
    assert len(obama.quality) == 1 and obama.quality[0].passed


def test_the_package_level_load_and_an_rgb_array_give_the_same_prediction(tiny_checkpoint, obama):
    from facehealth.faces.io import read_image

    again = facehealth.load(tiny_checkpoint).predict(read_image(fixture_path("obama.jpg")))
    assert again.source == "<array>" and again.faces_used == 1
    assert again.values["age"] == pytest.approx(obama.values["age"], abs=1e-4)
    assert again.probabilities["cad"] == pytest.approx(obama.probabilities["cad"], abs=1e-5)
    assert again.risks["survival"] == pytest.approx(obama.risks["survival"], abs=1e-4)


def test_as_dict_is_plain_json(obama):
    d = obama.as_dict()
    keys = {"source", "warnings", "faces_used", "frames_read", "rejected", "values", "intervals", "probabilities"}
    keys |= {"risks", "apparent_age_pretrained"}
    assert set(d) == keys | {"quality"}
    # The checkpoint was trained on the synthetic cohort and records it: every output says so.
    assert obama.synthetic_model and "synthetic faces" in d["warnings"][0]
    back = json.loads(json.dumps(d))
    assert back["faces_used"] == 1 and back["values"]["age"] == pytest.approx(obama.values["age"])
    assert back["quality"][0]["passed"] is True and back["quality"][0]["reasons"] == []


def test_a_group_photo_scores_the_largest_face_and_counts_the_others(model):
    """group4.jpg holds four faces; the checkpoint's face settings keep the largest ("largest" policy)."""
    p = model.predict(fixture_path("group4.jpg"))
    assert p.faces_used == 1 and p.rejected == {Reason.NOT_SELECTED: 3}
    assert set(p.values) == {"age"} and set(p.probabilities) == {"cad"} and set(p.risks) == {"survival"}


def test_a_photo_without_a_usable_face_raises_no_face_error_with_the_reasons_counted(model):
    with pytest.raises(NoFaceError, match=r"no face passed the quality gate \(no_face: 1\)") as blank:
        model.predict(np.full((300, 400, 3), 200, np.uint8))
    assert "<array>" in str(blank.value)
    # A real face cut by the image border is found but fails the quality gate: counted by its reason.
    with pytest.raises(NoFaceError, match=r"obama_partial_face\.jpg: .*\(partial_face: 1\)"):
        model.predict(fixture_path("obama_partial_face.jpg"))


def test_an_unreadable_file_raises_input_error(model, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG")
    with pytest.raises(InputError, match="broken.jpg"):
        model.predict(broken)
    empty = tmp_path / "empty.png"
    empty.touch()
    with pytest.raises(InputError, match="empty"):
        model.predict(empty)
    with pytest.raises(InputError, match="no such file"):
        model.predict(tmp_path / "missing.jpg")
    # Both failure kinds belong to the package's one hierarchy, so a caller can catch them together.
    assert issubclass(InputError, FaceHealthError) and issubclass(NoFaceError, FaceHealthError)


def test_a_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="checkpoint not found"):
        load(tmp_path / "nothing-here.safetensors")


def test_a_calibrated_checkpoint_gives_intervals_for_the_photos_it_averaged(model, obama):
    """Intervals come from the checkpoint's photo-level calibration, at the number of faces used."""
    calibration = model.meta.calibration
    assert calibration is not None and "age" in calibration.quantiles
    # The calibration subjects were validation subjects that model selection did not use.
    assert set(calibration.subjects) < set(model.meta.splits["val"])
    p = obama
    assert p.faces_used == 1 and set(p.intervals) == {"age", "cad", "survival"}
    # CAD probability and survival risk: repeat-photo intervals (where another photo would score).
    r_cad, r_risk = calibration.repeat["prob_cad"][0], calibration.repeat["risk_survival"][0]
    assert p.intervals["cad"] == pytest.approx(
        (max(p.probabilities["cad"] - r_cad, 0), min(p.probabilities["cad"] + r_cad, 1))
    )
    assert p.intervals["survival"] == pytest.approx((p.risks["survival"] - r_risk, p.risks["survival"] + r_risk))
    low, high = p.intervals["age"]
    q1 = calibration.quantiles["age"][0]
    assert low == pytest.approx(max(p.values["age"] - q1, 0.0)) and high == pytest.approx(
        min(p.values["age"] + q1, 120)
    )
    assert json.loads(json.dumps(p.as_dict()))["intervals"]["age"] == [low, high]
