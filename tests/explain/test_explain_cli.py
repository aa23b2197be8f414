"""``facehealth explain facial-map|heatmap|standard-face|saliency`` on the synthetic affective cohort."""

from __future__ import annotations

import cv2
import pandas as pd
import pytest
from typer.testing import CliRunner

from facehealth.cli import app
from tests.conftest import fixture_path
from tests.explain.conftest import motion_checkpoint, untrained_checkpoint

runner = CliRunner()
MOUTH_CORNERS = [48, 54, 60, 64]
NOSE_BRIDGE = [27, 28, 29, 30]


def _ok(args: list[str]):  # noqa: ANN202
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def _refused(args: list[str], *needles: str) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output
    return result.output


@pytest.fixture(scope="module")
def facial_map(affective_videos, tmp_path_factory):
    """One `explain facial-map` run with the motion model: (its output, its folder)."""
    cohort, prepared = affective_videos
    root = tmp_path_factory.mktemp("facial_map")
    args = ["explain", "facial-map", "--prepared", str(prepared), "--cohort", str(cohort), "--out", str(root / "map")]
    result = _ok([*args, "--model", str(motion_checkpoint(root)), "--max-faces", "40", "--top", "5"])
    return result.output, root / "map"


def test_facial_map_command_writes_both_rankings_and_prints_the_top_landmarks(facial_map):
    output, folder = facial_map
    motion = pd.read_csv(folder / "landmark_significance.csv")
    gradient = pd.read_csv(folder / "landmark_gradient_significance.csv")
    assert len(motion) == 68 and len(gradient) == 68
    assert sorted(motion["rank"]) == list(range(1, 69))
    # The synthetic BPD and MDD faces differ in how the mouth moves, not the nose bridge.
    scores = motion.set_index("landmark")["score"]
    assert scores[MOUTH_CORNERS].mean() > scores[NOSE_BRIDGE].mean() + 0.3
    best = int(motion.sort_values("rank")["landmark"].iloc[0])
    assert "BPD vs MDD" in output and "top 5 landmarks, landmark motion" in output
    assert f"1. {best} " in output and "top 5 landmarks, model gradient" in output
    for name in ("digital_facial_map.png", "digital_facial_map_gradient.png", "attention_heatmap.png"):
        image = cv2.imread(str(folder / name))
        assert image is not None and image.std() > 10, name
        assert name in output


def test_facial_map_without_a_model_ranks_motion_only(affective_videos, tmp_path):
    cohort, prepared = affective_videos
    out = tmp_path / "map"
    args = ["explain", "facial-map", "--prepared", str(prepared), "--cohort", str(cohort), "--out", str(out)]
    result = _ok([*args, "--groups", "MDD", "healthy", "--max-faces", "20"])
    assert "MDD vs healthy" in result.output and "model gradient" not in result.output
    assert len(pd.read_csv(out / "landmark_significance.csv")) == 68
    assert not (out / "landmark_gradient_significance.csv").exists()


def test_facial_map_command_refuses_bad_groups_labels_and_paths(affective_videos, tmp_path):
    cohort, prepared = affective_videos
    base = ["explain", "facial-map", "--cohort", str(cohort), "--out", str(tmp_path / "o")]
    args = [*base, "--prepared", str(prepared)]
    _refused([*args, "--groups", "BPD", "BPD"], "two different groups")
    _refused([*args, "--groups", "BPD", "schizophrenia"], "schizophrenia", "labels present", "healthy")
    _refused([*args, "--label", "mood"], "no 'mood' column")
    _refused([*base, "--prepared", str(tmp_path)], "not a `faces prepare` folder")
    _refused([*args, "--model", str(tmp_path / "missing.safetensors")], "no such checkpoint")
    # A checkpoint without a head for the groups says so instead of failing inside the gradients.
    from facehealth.models.multitask import TaskSpec

    ckpt = untrained_checkpoint(tmp_path, [TaskSpec("cad", "binary", ("cad",))])
    _refused([*args, "--model", str(ckpt), "--max-faces", "10"], "no multi-class head with the class 'BPD'")


def test_heatmap_on_a_photo_has_the_photo_size_and_heat_at_the_top_landmark(tmp_path):
    scores = pd.DataFrame({"idx": range(68), "weight": [1.0 if i == 48 else 0.05 for i in range(68)]})
    scores.to_csv(tmp_path / "scores.csv", index=False)
    photo = fixture_path("obama.jpg")
    args = ["explain", "heatmap", "--scores", str(tmp_path / "scores.csv"), "--input", str(photo)]
    result = _ok([*args, "--out", str(tmp_path / "o"), "--landmark-column", "idx", "--score-column", "weight"])
    png = tmp_path / "o" / "obama_heatmap.png"
    assert str(png) in result.output
    image, original = cv2.imread(str(png)), cv2.imread(str(photo))
    assert image is not None and image.shape == original.shape
    changed = (cv2.absdiff(image, original).max(axis=2) > 40).mean()
    assert 0 < changed < 0.2  # a patch around the mouth corner, not a tinted photo


def test_heatmap_on_the_standard_face_has_the_crop_size(facial_map, affective_videos, tmp_path):
    _, prepared = affective_videos
    _, folder = facial_map
    args = ["explain", "heatmap", "--scores", str(folder / "landmark_significance.csv"), "--prepared", str(prepared)]
    _ok([*args, "--out", str(tmp_path), "--max-faces", "20"])
    crop = cv2.imread(str(prepared / pd.read_parquet(prepared / "manifest.parquet")["crop_path"].iloc[0]))
    image = cv2.imread(str(tmp_path / "standard_face_heatmap.png"))
    assert image is not None and image.shape == crop.shape and image.std() > 10


def test_heatmap_command_refuses_bad_tables_and_inputs(tmp_path):
    photo = str(fixture_path("obama.jpg"))
    pd.DataFrame({"landmark": range(68), "p": 0.5}).to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"landmark": [0, 70], "score": [1, 1]}).to_csv(tmp_path / "far.csv", index=False)
    pd.DataFrame({"landmark": [0, 1], "score": [1, -1]}).to_csv(tmp_path / "neg.csv", index=False)
    base = ["explain", "heatmap", "--out", str(tmp_path / "o")]
    _refused([*base, "--scores", str(tmp_path / "p.csv"), "--input", photo], "no column 'score'", "landmark, p")
    _refused([*base, "--scores", str(tmp_path / "far.csv"), "--input", photo], "integers 0..67", "70")
    _refused([*base, "--scores", str(tmp_path / "neg.csv"), "--input", photo], ">= 0")
    _refused([*base, "--scores", str(tmp_path / "none.csv"), "--input", photo], "no such score table")
    _refused([*base, "--scores", str(tmp_path / "p.csv")], "either --input PHOTO or --prepared")
    _refused([*base, "--scores", str(tmp_path / "p.csv"), "--input", str(tmp_path / "x.jpg")], "no such photo")


def test_standard_face_command_paints_the_scores_in_2d_and_3d(facial_map, affective_videos, tmp_path):
    from facehealth.explain.standard_face_3d import face_mesh_unavailable

    _, prepared = affective_videos
    _, folder = facial_map
    args = ["explain", "standard-face", "--prepared", str(prepared), "--out", str(tmp_path), "--max-faces", "12"]
    result = _ok([*args, "--scores", str(folder / "landmark_significance.csv")])
    assert len(pd.read_csv(tmp_path / "standard_face.csv")) == 68
    image = cv2.imread(str(tmp_path / "standard_face.png"))
    assert image is not None and image.shape[0] > 200 and image.std() > 10
    reason = face_mesh_unavailable()
    if reason is None:
        assert cv2.imread(str(tmp_path / "standard_face_3d.png")) is not None
    else:  # the mesh model is optional: the command says why the 3D face is missing
        assert f"3D face skipped: {reason}" in result.output


def test_standard_face_command_without_3d_says_so_and_refuses_a_bad_folder(affective_videos, tmp_path):
    _, prepared = affective_videos
    result = _ok(["explain", "standard-face", "--prepared", str(prepared), "--out", str(tmp_path), "--no-3d"])
    assert "3D face skipped: --no-3d" in result.output and not (tmp_path / "standard_face_3d.png").exists()
    _refused(["explain", "standard-face", "--prepared", str(tmp_path), "--out", str(tmp_path)], "no manifest.parquet")


def test_saliency_alias_and_the_bare_explain_behave_alike(tmp_path):
    from facehealth.models.multitask import TaskSpec

    ckpt = untrained_checkpoint(tmp_path, [TaskSpec("cad", "binary", ("cad",))])
    args = ["--model", str(ckpt), "--out", str(tmp_path / "o"), "--input", str(fixture_path("obama.jpg"))]
    assert "obama_gradcam.png" in _ok(["explain", "saliency", *args]).output
    _refused(["explain"], "explain needs --model and --out")
    _refused(["explain", "saliency", "--out", str(tmp_path)], "needs --model")
    _refused(["explain", "--out", str(tmp_path), "heatmap"], "put the options after the subcommand")
