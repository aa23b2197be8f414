"""Fixtures for the robustness tests: a tiny fine-tuned checkpoint and a landmarked real photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_checkpoint(synth_cohort, prepared_synth, tmp_path_factory) -> Path:
    """ViT-Ti at 64 px, one epoch from random init, on age / CAD / survival (seconds on a CPU)."""
    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import make_splits, save_splits
    from facehealth.train.config import OptimConfig
    from facehealth.train.finetune import FinetuneConfig, finetune

    # The same splits tests/train/test_finetune.py saves, so either order of the modules agrees.
    splits = make_splits(load_cohort(synth_cohort).subject_labels(), 0, stratify="cad", external_sites=["site_c"])
    save_splits(splits, synth_cohort)
    cfg = FinetuneConfig(
        cohort=str(synth_cohort),
        prepared=str(prepared_synth),
        out_dir=str(tmp_path_factory.mktemp("robust_ft")),
        backbone="vit_tiny_patch16",
        img_size=64,
        tasks=("age", "cad", "survival"),
        epochs=1,
        batch_size=32,
        optim=OptimConfig(base_lr=2e-3, warmup_epochs=0.5, betas=(0.9, 0.999)),
        device="cpu",
    )
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core CPU: one thread avoids spin-waiting
    try:
        return finetune(cfg).checkpoint
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def obama(read, pipeline) -> tuple[np.ndarray, np.ndarray]:
    """A real photo and its 68 landmarks from the face pipeline."""
    image = read("obama.jpg")
    faces = pipeline.process(image).faces
    assert len(faces) == 1
    return image, faces[0].landmarks
