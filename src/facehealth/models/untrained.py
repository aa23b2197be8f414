"""A checkpoint with random weights, for measuring speed and memory without training a model first.

Inference cost depends on the architecture, not on the weights, so the benchmarks (ONNX Runtime
against torch, the live engine's score refresh) time an untrained age / CAD / survival model of
the backbone and input size they are asked about. Its predictions mean nothing; its metadata says
so by carrying no calibration and no training splits.
"""

from __future__ import annotations

from pathlib import Path

import torch

from facehealth.models.checkpoint import CheckpointMeta, save_checkpoint
from facehealth.models.multitask import MultiTaskModel
from facehealth.models.tasks import TaskSpec

__all__ = ["SPEED_TASKS", "untrained_checkpoint"]

# One head of each kind the demo trains: regression, binary, Cox.
SPEED_TASKS = (
    TaskSpec("age", "regression", ("age",)),
    TaskSpec("cad", "binary", ("cad",)),
    TaskSpec("survival", "cox", ("time", "event")),
)


def untrained_checkpoint(
    stem: str | Path,
    backbone: str = "vit_tiny_patch16",
    img_size: int = 64,
    colour_grid: int = 8,
    tasks: tuple[TaskSpec, ...] = SPEED_TASKS,
    seed: int = 0,
) -> Path:
    """Write a randomly initialised multi-task checkpoint at ``stem``; returns its .safetensors path.

    ``colour_grid`` defaults to the default fine-tune's (8x8 regional-colour cells), so the timed
    model costs what a trained demo model costs.
    """
    torch.manual_seed(seed)
    model = MultiTaskModel(backbone, list(tasks), img_size=img_size, colour_grid=colour_grid)
    meta = CheckpointMeta(backbone=backbone, img_size=img_size, tasks=tasks, colour_grid=colour_grid)
    return save_checkpoint(stem, model.state_dict(), meta)
