"""Two CPU processes under torchrun (gloo) reproduce one process with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import yaml

from facehealth.models.checkpoint import PretrainMeta, load_checkpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_config(path, prepared, out):
    path.write_text(
        yaml.safe_dump(
            {
                "data": [str(prepared)],
                "out_dir": str(out),
                "backbone": "vit_tiny_patch16",
                "img_size": 32,
                "decoder_dim": 32,
                "decoder_depth": 1,
                "decoder_heads": 2,
                "epochs": 2,
                "batch_size": 10,
                "augment": True,
                "seed": 3,
                "device": "cpu",
                "optim": {"base_lr": 1e-3, "warmup_epochs": 0.5},
            }
        )
    )
    return path


def test_two_process_ddp_equals_one_process(prepared_synth, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    single = _write_config(tmp_path / "single.yaml", prepared_synth, tmp_path / "single")
    double = _write_config(tmp_path / "double.yaml", prepared_synth, tmp_path / "double")
    one = subprocess.run(
        [sys.executable, "-m", "facehealth.cli", "pretrain", "--config", str(single)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint=127.0.0.1:{_free_port()}",
            "-m",
            "facehealth.cli",
            "pretrain",
            "--config",
            str(double),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    a, meta_a = load_checkpoint(tmp_path / "single" / "checkpoint-last.safetensors", PretrainMeta)
    b, meta_b = load_checkpoint(tmp_path / "double" / "checkpoint-last.safetensors", PretrainMeta)
    assert meta_a.history == pytest.approx(meta_b.history, rel=1e-4)
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-4, worst
    lines = (tmp_path / "double" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[-1])["epoch"] == 2  # written once, by rank 0
    assert torch.isfinite(torch.tensor(meta_b.history)).all()
