"""Checkpoint metadata: one typed, versioned record, written and read in one place."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from facehealth.errors import CheckpointVersionError, ConfigError, ModelNotFoundError
from facehealth.models.checkpoint import (
    CHECKPOINT_VERSION,
    CheckpointMeta,
    PretrainMeta,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from facehealth.models.tasks import TaskSpec

TASKS = (
    TaskSpec("age", "regression", ("age",)),
    TaskSpec("affective", "multiclass", ("affective_code",), ("healthy", "MDD", "BPD")),
)


def _meta(**kw) -> CheckpointMeta:
    base = dict(
        backbone="vit_tiny_patch16",
        img_size=64,
        tasks=TASKS,
        input="video",
        frame_input="landmarks",
        pooling="timebins",
        target_mean={"age": [50.0]},
        target_std={"age": [12.0]},
        splits={"train": ("s1", "s2"), "val": ("s3",), "test": ("s4",)},
        cohort_fingerprint="abc",
        synthetic=True,
        history=({"epoch": 1, "train_loss": 1.0, "val_loss": 1.1},),
        config={"cohort": "c", "seed": 3},
    )
    return CheckpointMeta(**(base | kw))


def test_finetune_metadata_round_trips_through_the_json_file(tmp_path):
    meta = _meta()
    path = save_checkpoint(tmp_path / "ck", {"w": torch.ones(2, 3)}, meta)
    weights, loaded = load_checkpoint(path)
    assert loaded == meta and torch.equal(weights["w"], torch.ones(2, 3))
    data = json.loads(path.with_suffix(".json").read_text())
    assert data["version"] == CHECKPOINT_VERSION and data["stage"] == "finetune"
    assert loaded.uses_motion and loaded.trained_on == {"s1", "s2", "s3"}
    spec = loaded.dataset_spec()
    assert (spec.input, spec.size, spec.frame_input) == ("video", 64, "landmarks")


def test_an_old_or_unknown_version_is_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "ck", {"w": torch.zeros(1)}, _meta())
    data = json.loads(path.with_suffix(".json").read_text())
    del data["version"]  # what facehealth wrote before metadata was versioned
    path.with_suffix(".json").write_text(json.dumps(data))
    with pytest.raises(CheckpointVersionError, match="version 1 was written by an older facehealth"):
        read_meta(path)
    path.with_suffix(".json").write_text(json.dumps(data | {"version": CHECKPOINT_VERSION + 1}))
    with pytest.raises(CheckpointVersionError, match="Upgrade"):
        load_checkpoint(path)


def test_a_pretraining_checkpoint_is_not_taken_for_a_fine_tuned_one(tmp_path):
    pre = PretrainMeta(backbone="vit_tiny_patch16", img_size=64, epoch=2, loss=0.4, subjects=("s1",))
    path = save_checkpoint(tmp_path / "mae", {"encoder.w": torch.zeros(1)}, pre)
    assert read_meta(path, PretrainMeta) == pre
    with pytest.raises(ConfigError, match="'mae_pretrain' checkpoint where a 'finetune' one is needed"):
        read_meta(path)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        load_checkpoint(tmp_path / "nothing.safetensors")
    save_checkpoint(tmp_path / "ck", {"w": torch.zeros(1)}, _meta())
    (tmp_path / "ck.json").unlink()
    with pytest.raises(ModelNotFoundError, match="metadata not found"):
        load_checkpoint(tmp_path / "ck.safetensors")


def test_reading_metadata_does_not_import_torch(tmp_path):
    # Reports and the service read model cards without paying torch's import.
    path = save_checkpoint(tmp_path / "ck", {"w": torch.zeros(1)}, _meta())
    code = (
        "import sys; from facehealth.models.checkpoint import read_meta; "
        f"m = read_meta({str(path)!r}); print(m.backbone, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["vit_tiny_patch16", "False"]
