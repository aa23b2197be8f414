from __future__ import annotations

import cv2
from typer.testing import CliRunner

from facehealth.cli import app
from facehealth.explain.photo import explain_photo
from facehealth.models.multitask import TaskSpec
from tests.conftest import fixture_path
from tests.explain.conftest import untrained_checkpoint

TASKS = [TaskSpec("age", "regression", ("age",)), TaskSpec("cad", "binary", ("cad",))]


def _checkpoint(folder):  # noqa: ANN001, ANN202
    return untrained_checkpoint(folder, TASKS)


def test_explain_photo_maps_saliency_onto_the_face_in_the_photo(tmp_path):
    photo = fixture_path("obama.jpg")
    result = explain_photo(_checkpoint(tmp_path), photo, tmp_path / "out", ["age", "cad"], method="ig")
    image = cv2.imread(str(result.overlay_png))
    original = cv2.imread(str(photo))
    assert image.shape[1] > 2 * original.shape[1] * 0.9  # two panels side by side
    assert set(result.top_regions) == {"age", "cad"} and all(len(v) == 3 for v in result.top_regions.values())
    assert image.std() > 20  # a photo, not a blank canvas


def test_explain_command_needs_an_input_and_names_unknown_targets(tmp_path):
    runner = CliRunner()
    ckpt = _checkpoint(tmp_path)
    result = runner.invoke(app, ["explain", "--model", str(ckpt), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--input" in result.output
    args = ["explain", "--model", str(ckpt), "--out", str(tmp_path / "o"), "--input", str(fixture_path("obama.jpg"))]
    result = runner.invoke(app, [*args, "--task", "bmi"])
    assert result.exit_code == 2 and "unknown target 'bmi'" in result.output
    result = runner.invoke(app, [*args, "--task", "cad"])
    assert result.exit_code == 0 and "obama_gradcam.png" in result.output


def test_a_landmark_motion_video_model_is_pointed_to_the_facial_map(tmp_path):
    from facehealth.models.checkpoint import CheckpointMeta, save_checkpoint
    from facehealth.models.multitask import MultiTaskModel

    task = TaskSpec("affective", "multiclass", ("affective_code",), ("healthy", "MDD", "BPD"))
    model = MultiTaskModel("vit_tiny_patch16", [task], pooling="timebins", frame_input="landmarks")
    meta = CheckpointMeta(
        backbone="vit_tiny_patch16", img_size=64, tasks=(task,), pooling="timebins", frame_input="landmarks"
    )
    ckpt = save_checkpoint(tmp_path / "ckpt", model.state_dict(), meta)
    args = ["explain", "--model", str(ckpt), "--out", str(tmp_path / "o"), "--input", str(fixture_path("obama.jpg"))]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "digital facial map" in result.output, result.output
