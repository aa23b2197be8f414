from __future__ import annotations

import pytest
import torch

from facehealth.errors import ConfigError
from facehealth.models import create_model, list_models
from facehealth.models.mae import MaskedAutoencoder, patchify, random_masking


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


def test_patchify_and_masking_shapes():
    images = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    patches = patchify(images, 16)
    assert patches.shape == (2, 4, 16 * 16 * 3)
    # The first patch of the first image holds its top-left 16x16 block, channels last.
    assert torch.equal(patches[0, 0].reshape(16, 16, 3).permute(2, 0, 1), images[0, :, :16, :16])
    tokens = torch.randn(2, 4, 8)
    kept, mask, restore = random_masking(tokens, 0.75, torch.Generator().manual_seed(0))
    assert kept.shape == (2, 1, 8) and mask.sum().item() == 6
    # The kept token is one of the originals, at a position the mask marks visible.
    for b in range(2):
        visible = int((mask[b] == 0).nonzero())
        assert torch.equal(kept[b, 0], tokens[b, visible])


def test_mae_rejects_a_cnn_backbone():
    with pytest.raises(ValueError, match="needs a ViT"):
        MaskedAutoencoder("resnet18")
