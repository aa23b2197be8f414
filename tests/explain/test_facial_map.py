from __future__ import annotations

import cv2
import pandas as pd
import pytest

from facehealth.errors import SchemaError
from facehealth.explain.facial_map import affective_facial_map
from tests.explain.conftest import motion_checkpoint

MOUTH_CORNERS = [48, 54, 60, 64]
NOSE_BRIDGE = [27, 28, 29, 30]


def test_facial_map_of_synthetic_videos_ranks_the_mouth_above_the_nose(affective_videos, tmp_path):
    cohort, prepared = affective_videos
    labels = pd.read_csv(cohort / "labels.csv")
    result = affective_facial_map(prepared, labels, tmp_path / "map", max_faces=40)
    n_bpd, n_mdd = (labels["affective"] == "BPD").sum(), (labels["affective"] == "MDD").sum()
    assert result.n_videos["BPD"] <= n_bpd and result.n_videos["MDD"] <= n_mdd
    # Every video is accounted for: compared, or excluded (healthy, or too few frames).
    assert sum(result.n_videos.values()) + result.n_excluded == labels["subject_id"].nunique()
    table = result.motion.set_index("landmark")
    assert table.loc[MOUTH_CORNERS, "score"].mean() > table.loc[NOSE_BRIDGE, "score"].mean() + 0.3
    saved = pd.read_csv(tmp_path / "map" / "landmark_significance.csv")
    assert len(saved) == 68 and saved["score"].tolist() == pytest.approx(result.motion["score"].tolist())
    for key in ("motion_map", "heatmap", "standard_2d"):
        image = cv2.imread(str(result.files[key]))
        assert image is not None and image.shape[0] > 200 and image.std() > 10, key


def test_facial_map_needs_both_groups(affective_videos, tmp_path):
    cohort, prepared = affective_videos
    labels = pd.read_csv(cohort / "labels.csv").assign(affective="healthy")
    with pytest.raises(SchemaError, match="no videos of group"):
        affective_facial_map(prepared, labels, tmp_path / "map")


def test_motion_attributions_land_on_the_landmarks_the_model_reads(affective_videos, tmp_path):
    from facehealth.data.datasets import FrameSequenceDataset
    from facehealth.explain.facial_map import motion_attributions
    from facehealth.models.predictor import model_from_checkpoint

    _, prepared = affective_videos
    model, _ = model_from_checkpoint(motion_checkpoint(tmp_path, only_landmark=54))
    item = FrameSequenceDataset(prepared, length=16, size=32, landmarks=True)[0]
    values = motion_attributions(model, item, "affective", 2)
    assert values.shape == (68,) and values[54] != 0
    assert abs(values[[i for i in range(68) if i != 54]]).max() == 0


def test_motion_attributions_of_a_linear_model_add_up_to_its_output(affective_videos):
    """Time slices + a linear head are linear in the motion: the attributions are the logit's parts."""
    import torch

    from facehealth.data.datasets import FrameSequenceDataset
    from facehealth.explain.facial_map import motion_attributions
    from facehealth.models.multitask import MultiTaskModel, TaskSpec, batch_inputs

    _, prepared = affective_videos
    torch.manual_seed(0)
    task = TaskSpec("affective", "multiclass", ("affective_code",), ("healthy", "MDD", "BPD"))
    model = MultiTaskModel("vit_tiny_patch16", [task], pooling="timebins", frame_input="landmarks").eval()
    item = FrameSequenceDataset(prepared, length=16, landmarks=True, images=False)[1]
    values = motion_attributions(model, item, "affective", 2)
    inputs = batch_inputs({k: v.unsqueeze(0) for k, v in item.items() if isinstance(v, torch.Tensor)}, "cpu")
    with torch.no_grad():
        logit = model(**inputs)["affective"][0, 2]
    assert values.sum() + model.heads["affective"].bias[2].item() == pytest.approx(logit.item(), abs=1e-4)


def test_facial_map_of_a_motion_model_ranks_landmark_gradients(affective_videos, tmp_path):
    cohort, prepared = affective_videos
    labels = pd.read_csv(cohort / "labels.csv")
    result = affective_facial_map(prepared, labels, tmp_path / "map", checkpoint=motion_checkpoint(tmp_path))
    assert result.gradient is not None and len(result.gradient) == 68
    assert result.gradient["p"].between(0, 1).all()
    saved = pd.read_csv(tmp_path / "map" / "landmark_gradient_significance.csv")
    assert saved["score"].tolist() == pytest.approx(result.gradient["score"].tolist())
    # Both rankings are painted on the standardized faces (Emoface paints the model's).
    for key in ("standard_2d", "standard_2d_gradient"):
        image = cv2.imread(str(result.files[key]))
        assert image is not None and image.std() > 10, key
    assert result.files["standard_2d_gradient"].name == "standard_face_gradient.png"
    if "standard_3d" in result.files:  # the 3D mesh model is optional
        assert result.files["standard_3d_gradient"].is_file()
