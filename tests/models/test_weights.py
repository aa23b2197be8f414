from __future__ import annotations

import argparse

import pytest
import torch
from safetensors.torch import save_file

from facehealth.errors import ConfigError, ModelNotFoundError
from facehealth.models import create_model
from facehealth.models.weights import load_backbone_weights, read_state_dict


def _source():
    torch.manual_seed(1)
    return create_model("vit_tiny_patch16", img_size=224)


def test_mae_style_checkpoint_with_decoder_and_args_at_another_size(tmp_path):
    src = _source()
    state = {f"module.{k}": v for k, v in src.state_dict().items()}
    state["decoder_embed.weight"] = torch.zeros(4, 4)
    path = tmp_path / "mae.pth"
    torch.save({"model": state, "epoch": 799, "args": argparse.Namespace(lr=1e-3)}, path)
    target = create_model("vit_tiny_patch16", img_size=112)
    report = load_backbone_weights(target, path)
    assert report.resized == ("pos_embed",) and target.pos_embed.shape == (1, 50, 192)
    assert "decoder_embed.weight" in report.unexpected and report.missing == ()
    assert torch.equal(target.blocks[3].attn.qkv.weight, src.blocks[3].attn.qkv.weight)
    # The class-token slot is kept as is; the grid is interpolated.
    assert torch.equal(target.pos_embed[:, 0], src.pos_embed[:, 0])


def test_safetensors_with_a_prefix_and_a_foreign_head(tmp_path):
    src = _source()
    state = {f"encoder.{k}": v.contiguous() for k, v in src.state_dict().items()}
    state["head.weight"] = torch.zeros(1000, 192)
    save_file(state, str(tmp_path / "w.safetensors"))
    target = create_model("vit_tiny_patch16", img_size=224)
    report = load_backbone_weights(target, tmp_path / "w.safetensors")
    assert report.loaded == len(src.state_dict()) and report.resized == ()
    assert any("head.weight" in k for k in report.unexpected)
    assert "loaded" in report.summary()


def test_wrong_architecture_and_missing_file(tmp_path):
    resnet = create_model("resnet18", img_size=64)
    torch.save(resnet.state_dict(), tmp_path / "r.pth")
    with pytest.raises(ConfigError, match="no tensor fits"):
        load_backbone_weights(create_model("vit_tiny_patch16", img_size=64), tmp_path / "r.pth")
    with pytest.raises(ModelNotFoundError):
        read_state_dict(tmp_path / "none.pth")
    torch.save({"epoch": 3}, tmp_path / "bad.pth")
    with pytest.raises(ConfigError, match="no state dict"):
        read_state_dict(tmp_path / "bad.pth")
