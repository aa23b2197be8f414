from __future__ import annotations

import json

import pytest
import torch

from facehealth.config import load_config
from facehealth.errors import ModelNotFoundError
from facehealth.models.checkpoint import PretrainMeta, load_checkpoint, save_checkpoint
from facehealth.train.config import OptimConfig, PretrainConfig
from facehealth.train.engine import TrainingError, cosine_lr, pretrain_mae
from tests.conftest import tiny_pretrain_config

_config = tiny_pretrain_config


def test_mae_loss_falls_and_checkpoint_is_written(prepared_synth, tmp_path):
    result = pretrain_mae(_config(prepared_synth, tmp_path / "run", epochs=4))
    assert len(result.epoch_losses) == 4
    assert result.epoch_losses[-1] < 0.85 * result.epoch_losses[0], result.epoch_losses
    weights, meta = load_checkpoint(result.checkpoint, PretrainMeta)
    assert meta.epoch == 4 and meta.backbone == "vit_tiny_patch16" and len(meta.data_hash) == 16
    assert any(k.startswith("encoder.blocks.") for k in weights)
    assert (tmp_path / "run" / "config.resolved.yaml").is_file()
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3, 4]


def test_resume_after_interruption_reproduces_the_loss_curve(prepared_synth, tmp_path):
    straight = pretrain_mae(_config(prepared_synth, tmp_path / "a"))
    pretrain_mae(_config(prepared_synth, tmp_path / "b"), stop_after_epochs=1)
    resumed = pretrain_mae(_config(prepared_synth, tmp_path / "b"))
    assert resumed.epoch_losses == pytest.approx(straight.epoch_losses, rel=1e-6, abs=1e-7)
    a, _ = load_checkpoint(straight.checkpoint, PretrainMeta)
    b, _ = load_checkpoint(resumed.checkpoint, PretrainMeta)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_stage_chain_starts_from_the_previous_checkpoint(prepared_synth, tmp_path):
    first = pretrain_mae(_config(prepared_synth, tmp_path / "s1", epochs=1))
    second = pretrain_mae(_config(prepared_synth, tmp_path / "s2", epochs=1, init_from=str(first.checkpoint)))
    fresh = pretrain_mae(_config(prepared_synth, tmp_path / "s3", epochs=1))
    assert second.epoch_losses[0] < fresh.epoch_losses[0]
    with pytest.raises(ModelNotFoundError):
        pretrain_mae(_config(prepared_synth, tmp_path / "s4", epochs=1, init_from=str(tmp_path / "missing")))


def test_non_finite_loss_stops_with_a_clear_error(prepared_synth, tmp_path, monkeypatch):
    from facehealth.models.mae import MaskedAutoencoder

    monkeypatch.setattr(MaskedAutoencoder, "loss", lambda self, images, pred, mask: (pred * float("nan")).mean())
    with pytest.raises(TrainingError, match="non-finite loss nan at epoch 0, iteration 0"):
        pretrain_mae(_config(prepared_synth, tmp_path / "nan", epochs=1))


def test_no_data_is_a_clear_error(tmp_path):
    empty = tmp_path / "prep"
    empty.mkdir()
    import pandas as pd

    from facehealth.faces.prepare import MANIFEST_SCHEMA

    pd.DataFrame({f.name: [] for f in MANIFEST_SCHEMA}).to_parquet(empty / "manifest.parquet")
    with pytest.raises(TrainingError, match="no face crops"):
        pretrain_mae(_config(empty, tmp_path / "run"))


def test_cosine_schedule():
    optim = OptimConfig(warmup_epochs=2, min_lr=0.0)
    assert cosine_lr(0, 10, 1.0, optim) == 0.0
    assert cosine_lr(1, 10, 1.0, optim) == pytest.approx(0.5)
    assert cosine_lr(2, 10, 1.0, optim) == pytest.approx(1.0)
    assert cosine_lr(6, 10, 1.0, optim) == pytest.approx(0.5)
    assert cosine_lr(10, 10, 1.0, optim) == pytest.approx(0.0)


def test_checkpoint_round_trip_and_config_file(tmp_path):
    written = PretrainMeta(backbone="vit_tiny_patch16", img_size=64, epoch=1, loss=0.5, history=(0.5,))
    path = save_checkpoint(tmp_path / "ck", {"w": torch.arange(6.0).reshape(2, 3)}, written)
    weights, meta = load_checkpoint(path, PretrainMeta)
    assert torch.equal(weights["w"], torch.arange(6.0).reshape(2, 3)) and meta == written
    from pathlib import Path

    cfg = load_config(PretrainConfig, Path(__file__).parents[2] / "configs" / "pretrain.yaml")
    assert cfg.mask_ratio == 0.75 and cfg.optim.betas == (0.9, 0.95)


def test_gradient_accumulation_matches_one_large_batch(prepared_synth, tmp_path):
    """2 x 16 images with accumulation ~ one batch of 32: same order, masks, gradients and learning rates.

    Not bit-equal: summation order differs, and Adam's first steps (update ~ lr * sign(g)) amplify
    float noise in near-zero gradients. So the test also runs batch 16 without accumulation, which
    must be much further from the batch-32 run than the accumulated one is.
    """

    def run(name: str, batch: int, accum: int) -> dict:
        optim = OptimConfig(base_lr=5e-3, warmup_epochs=0.5, clip_grad=None, accum_steps=accum)
        cfg = _config(prepared_synth, tmp_path / name, batch_size=batch, epochs=1, augment=False, optim=optim)
        return load_checkpoint(pretrain_mae(cfg).checkpoint, PretrainMeta)[0]

    big, accumulated, plain = run("big", 32, 1), run("accum", 16, 2), run("plain", 16, 1)

    def distance(a: dict, b: dict) -> float:
        return sum(float((a[k] - b[k]).norm()) for k in a if k.startswith("encoder.blocks"))

    assert distance(big, accumulated) < 0.2 * distance(big, plain)


def test_pretraining_on_a_split_table_never_sees_held_out_faces(synth_cohort, prepared_synth, tmp_path):
    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import make_splits

    splits = make_splits(load_cohort(synth_cohort).subject_labels(), 0, external_sites=["site_c"])
    path = tmp_path / "splits.csv"
    splits.to_csv(path, index=False)
    cfg = _config(prepared_synth, tmp_path / "run", epochs=1, splits_file=str(path))
    _, meta = load_checkpoint(pretrain_mae(cfg).checkpoint, PretrainMeta)
    split_of = dict(zip(splits["subject_id"].astype(str), splits["split"]))
    assert meta.subjects and {split_of[s] for s in meta.subjects} == {"train"}
    # Without a split table every crop is used: the transductive case the run must label as such.
    everything = _config(prepared_synth, tmp_path / "all", epochs=1)
    _, seen_all = load_checkpoint(pretrain_mae(everything).checkpoint, PretrainMeta)
    assert {"test", "external"} <= {split_of[s] for s in seen_all.subjects}
    with pytest.raises(TrainingError, match="splits_file .* not found"):
        pretrain_mae(_config(prepared_synth, tmp_path / "x", splits_file=str(tmp_path / "missing.csv")))
