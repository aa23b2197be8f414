"""The random-weight checkpoint the speed benchmarks time: loadable like a trained one, and marked as untrained."""

from __future__ import annotations

import numpy as np
import torch

import facehealth
from facehealth.models.untrained import SPEED_TASKS, untrained_checkpoint
from tests.conftest import fixture_path


def test_untrained_checkpoint_loads_predicts_every_head_and_carries_no_calibration(tmp_path):
    path = untrained_checkpoint(tmp_path / "speed" / "checkpoint", img_size=32)
    assert path == tmp_path / "speed" / "checkpoint.safetensors" and path.with_suffix(".json").exists()
    model = facehealth.load(path)
    assert (model.meta.backbone, model.meta.img_size, model.meta.colour_grid) == ("vit_tiny_patch16", 32, 8)
    assert model.meta.tasks == SPEED_TASKS and model.meta.calibration is None
    prediction = model.predict(fixture_path("obama.jpg"))
    assert prediction.faces_used == 1 and prediction.intervals == {}
    assert np.isfinite(prediction.values["age"]) and 0 < prediction.probabilities["cad"] < 1
    assert np.isfinite(prediction.risks["survival"])


def test_the_seed_fixes_the_weights(tmp_path):
    a = facehealth.load(untrained_checkpoint(tmp_path / "a", img_size=32, seed=3))
    b = facehealth.load(untrained_checkpoint(tmp_path / "b", img_size=32, seed=3))
    c = facehealth.load(untrained_checkpoint(tmp_path / "c", img_size=32, seed=4))
    wa, wb, wc = (torch.cat([v.flatten().float() for v in m.model.state_dict().values()]) for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
