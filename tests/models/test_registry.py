from __future__ import annotations

import pytest
import torch

from facehealth.errors import ConfigError
from facehealth.models import create_model, list_models


def test_registry_lists_the_foundation_models_and_baselines():
    assert {
        "vit_small_patch16",
        "vit_base_patch16",
        "resnet18",
        "swin_tiny_patch4_window7",
        "swin_small_patch4_window7",
    } <= set(list_models())


def test_unknown_name_lists_close_matches():
    with pytest.raises(ConfigError, match="Did you mean: vit_small_patch16"):
        create_model("vit_smal_patch16")


@pytest.mark.parametrize(
    "name, size, width",
    [("vit_tiny_patch16", 112, 192), ("resnet18", 112, 512), ("swin_tiny_patch4_window7", 224, 768)],
)
def test_backbones_give_pooled_features(name, size, width):
    torch.manual_seed(0)
    model = create_model(name, img_size=size).eval()
    with torch.no_grad():
        features = model(torch.randn(2, 3, size, size))
    assert features.shape == (2, width) and model.num_features == width


def test_swin_needs_a_multiple_of_32():
    with pytest.raises(ConfigError, match="multiple of 32"):
        create_model("swin_tiny_patch4_window7", img_size=100)
