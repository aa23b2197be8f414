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
