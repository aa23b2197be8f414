from __future__ import annotations

import torch

from facehealth.models.multitask import MultiTaskModel, TaskSpec

AFFECTIVE = [TaskSpec("affective", "multiclass", ("affective_code",), ("healthy", "MDD", "BPD"))]


def test_stats_pooling_is_mean_and_sd_over_real_frames_only():
    torch.manual_seed(0)
    model = MultiTaskModel("vit_tiny_patch16", AFFECTIVE, img_size=32, pooling="stats").eval()
    width = model.backbone.num_features
    assert model.heads["affective"].in_features == 2 * width
    frames = torch.randn(1, 5, 3, 32, 32)
    padded = torch.cat([frames, torch.randn(1, 3, 3, 32, 32)], 1)  # 3 padding frames of noise
    mask = torch.tensor([[True] * 5 + [False] * 3])
    with torch.no_grad():
        per_frame = model.backbone(frames[0])  # (5, F)
        pooled = model.features(padded, mask)
        still = model.features(frames[:, :1].expand(1, 4, 3, 32, 32).contiguous())
        photo = model.features(frames[:, 0])
    torch.testing.assert_close(pooled[0, :width], per_frame.mean(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooled[0, width:], per_frame.std(0, unbiased=False), atol=1e-4, rtol=1e-4)
    assert still[0, width:].abs().max() < 1e-4  # a clip that does not move has no variability
    torch.testing.assert_close(photo[0, :width], per_frame[0], atol=1e-5, rtol=1e-5)
    assert photo[0, width:].abs().max() == 0  # a single photo is a one-frame clip


def test_skewed_markers_are_learned_on_the_log_scale_and_predicted_positive():
    tasks = [TaskSpec("biomarkers", "regression", ("crp", "sodium"))]  # CRP is right-skewed, sodium is not
    model = MultiTaskModel(
        "vit_tiny_patch16",
        tasks,
        img_size=32,
        target_mean={"biomarkers": [0.5, 140.0]},
        target_std={"biomarkers": [1.0, 3.0]},
    )
    y = torch.tensor([[torch.e**1.5, 143.0], [float("nan"), 137.0]])
    z = model.standardise("biomarkers", y)
    torch.testing.assert_close(z[0], torch.tensor([1.0, 1.0]))  # (log(e^1.5) - 0.5) / 1 and (143 - 140) / 3
    assert torch.isnan(z[1, 0]) and z[1, 1] == -1.0  # missing stays missing
    out = model.predict({"biomarkers": torch.tensor([[-4.0, -1.0]])})["biomarkers"]
    torch.testing.assert_close(out, torch.tensor([[float(torch.exp(torch.tensor(-3.5))), 137.0]]))
    assert "log_biomarkers" not in model.state_dict()  # follows from the column names, not stored


def test_landmark_motion_is_read_beside_the_frames_and_carries_gradient():
    import pytest

    from facehealth.models.multitask import MOTION_SCALE, batch_inputs

    torch.manual_seed(0)
    model = MultiTaskModel("vit_tiny_patch16", AFFECTIVE, img_size=32, pooling="stats", frame_input="both").eval()
    width = model.backbone.num_features
    assert model.heads["affective"].in_features == 2 * (width + 136)
    frames, mask = torch.randn(1, 4, 3, 32, 32), torch.ones(1, 4, dtype=torch.bool)
    motion = torch.zeros(1, 4, 68, 2)
    motion[0, 1, 48, 1] = -0.1  # the left mouth corner rises in the second frame
    batch = {"image": frames, "mask": mask, "time": torch.arange(4.0)[None], "landmarks": motion}
    with torch.no_grad():
        f = model.features(**batch_inputs(batch, "cpu"))
    corner = width + 48 * 2 + 1  # its y coordinate in a frame's feature vector
    torch.testing.assert_close(f[0, corner], torch.tensor(-0.1 * MOTION_SCALE / 4))  # the mean over frames
    assert f[0, width : width + 136].abs().sum() == f[0, corner].abs()  # nothing else moved
    still = motion.clone().requires_grad_(True)
    model(frames, mask, None, still)["affective"][0, 0].backward()
    assert still.grad.abs().sum() > 0  # the model output depends on the landmarks (facial maps use this)
    with pytest.raises(ValueError, match="landmarks"):
        model(frames, mask)
    with pytest.raises(ValueError, match="single images"):
        model(frames[:, 0])
    with pytest.raises(ValueError, match="mean"):
        MultiTaskModel("vit_tiny_patch16", AFFECTIVE, img_size=32, pooling="mean", frame_input="both")


def test_a_landmarks_only_model_has_no_backbone_and_reads_no_pixels():
    torch.manual_seed(0)
    model = MultiTaskModel("vit_tiny_patch16", AFFECTIVE, pooling="timebins", frame_input="landmarks", bins=4)
    assert model.backbone is None and model.heads["affective"].in_features == 4 * 136
    motion = torch.randn(2, 8, 68, 2) * 0.05
    times = torch.arange(8.0).expand(2, 8)
    out = model(None, torch.ones(2, 8, dtype=torch.bool), times, motion)["affective"]
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    # Only motion matters: the same clip scores the same whatever pixels come with it.
    again = model(torch.randn(2, 8, 3, 16, 16), torch.ones(2, 8, dtype=torch.bool), times, motion)["affective"]
    torch.testing.assert_close(out, again)
