"""Shared fixtures: the real face photographs in tests/fixtures/faces and a synthetic cohort."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# The photos live in the repository (copied from the project's shared fixtures, provenance in the
# README there), so a bare clone runs every test; a missing photo is a broken checkout, not a skip.
FACES = REPO / "tests" / "fixtures" / "faces"


def fixture_path(name: str) -> Path:
    """The path of a fixture photo in tests/fixtures/faces; fails the test when the file is missing."""
    path = FACES / name
    if not path.is_file():
        available = sorted(p.name for p in FACES.glob("*") if p.suffix != ".md") if FACES.is_dir() else []
        pytest.fail(f"fixture photo {name!r} is missing from {FACES} (present: {available})", pytrace=False)
    return path


def record_reliability(
    test: str,
    kind: str,
    case: str,
    *,
    faults: int = 0,
    requests: int = 0,
    errors: int = 0,
    lost: int = 0,
    duplicated: int = 0,
    note: str = "",
) -> None:
    """One measured row of the fault and load table that `make reliability` prints.

    benchmarks/reliability.py runs the fault and load tests with FACEHEALTH_RELIABILITY_OUT set and
    sums the rows of each ``case``; in any other run this does nothing. Call it before asserting, so
    a failing test still reports what it saw.
    """
    folder = os.environ.get("FACEHEALTH_RELIABILITY_OUT")
    if not folder:
        return
    row = dict(kind=kind, case=case, faults=faults, requests=requests, errors=errors, lost=lost)
    row |= dict(duplicated=duplicated, note=note)
    Path(folder, re.sub(r"[^\w.-]+", "_", test) + ".json").write_text(json.dumps(row))


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not FACES.is_dir():
        pytest.fail(f"the fixture photo folder {FACES} is missing (it is part of the repository)", pytrace=False)
    return FACES


@pytest.fixture(scope="session")
def pipeline():
    from facehealth.faces.config import FacesConfig
    from facehealth.faces.pipeline import FacePipeline

    return FacePipeline(FacesConfig(multi_face="all"))


@pytest.fixture(scope="session")
def read():
    """Read a fixture photo by file name (cached per session)."""
    from facehealth.faces.io import read_image

    cache: dict[str, np.ndarray] = {}

    def load(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = read_image(fixture_path(name))
        return cache[name]

    return load


@pytest.fixture(scope="session")
def resolution_change_video(tmp_path_factory):  # noqa: ANN201 - a BadInput
    """The corpus video whose resolution changes mid-stream (640x480, 320x240, 640x360; 25 frames each)."""
    from facehealth.faces.bad_inputs import write_bad_videos

    cases = write_bad_videos(tmp_path_factory.mktemp("resolution"), fixture_path("obama.jpg"))
    return next(c for c in cases if c.name == "resolution_change.ts")


@pytest.fixture(scope="session")
def synth_cohort(tmp_path_factory) -> Path:
    """120 subjects x 2 photos, seed 0: enough for effect-recovery statistics."""
    from facehealth.data.synth import SynthConfig, synthesize_cohort

    return synthesize_cohort(
        tmp_path_factory.mktemp("synth") / "cohort", SynthConfig(subjects=120, images_per_subject=2)
    )


@pytest.fixture(scope="session")
def prepared_synth(synth_cohort, tmp_path_factory) -> Path:
    from facehealth.faces.prepare import prepare_faces

    out = tmp_path_factory.mktemp("prepared") / "faces"
    prepare_faces(synth_cohort, out, workers=2)
    return out


@pytest.fixture
def cohort_copy(synth_cohort, tmp_path) -> Path:
    """A writable copy of the tables (media files are linked, not copied)."""
    root = tmp_path / "cohort"
    root.mkdir()
    for name in ("subjects.csv", "media.csv", "labels.csv", "label_units.csv"):
        shutil.copy(synth_cohort / name, root / name)
    (root / "media").symlink_to(synth_cohort / "media")
    return root


# How every module that splits the session cohort splits it (they must agree, whatever runs first).
# A quarter of the internal subjects validate (~22): half choose the epoch, half calibrate intervals.
SESSION_SPLITS = {"stratify": "cad", "external_sites": ["site_c"], "val_fraction": 0.25}


@pytest.fixture(scope="session")
def tiny_checkpoint(synth_cohort, prepared_synth, tmp_path_factory) -> Path:
    """ViT-Ti at 64 px, one epoch from random init, on age / CAD / survival (seconds on a CPU).

    Shared by the predictor and robustness tests; session-scoped, so it is trained once per run.
    """
    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import make_splits, save_splits
    from facehealth.train.config import OptimConfig
    from facehealth.train.finetune import FinetuneConfig, finetune

    # The same splits tests/train/test_finetune.py saves, so either order of the modules agrees.
    splits = make_splits(load_cohort(synth_cohort).subject_labels(), 0, **SESSION_SPLITS)
    save_splits(splits, synth_cohort)
    cfg = FinetuneConfig(
        cohort=str(synth_cohort),
        prepared=str(prepared_synth),
        out_dir=str(tmp_path_factory.mktemp("tiny_ft")),
        backbone="vit_tiny_patch16",
        img_size=64,
        tasks=("age", "cad", "survival"),
        epochs=1,
        batch_size=32,
        optim=OptimConfig(base_lr=2e-3, warmup_epochs=0.5, betas=(0.9, 0.999)),
        device="cpu",
    )
    with torch_threads(1):
        return finetune(cfg).checkpoint


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` CPU threads inside the block.

    On a shared 2-core machine two threads spin-wait on each other: a small training step took
    2.7 s instead of 0.05 s, integrated gradients 90 s instead of 11 s.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Module-wide :func:`torch_threads` (1); use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    with torch_threads(1):
        yield


def tiny_pretrain_config(prepared, out, **overrides):  # noqa: ANN001, ANN201
    """A CPU-second-sized MAE config (ViT-Ti at 64 px, one-block decoder) for training tests."""
    from facehealth.train.config import OptimConfig, PretrainConfig

    base = dict(
        data=(str(prepared),),
        out_dir=str(out),
        backbone="vit_tiny_patch16",
        img_size=64,
        decoder_dim=64,
        decoder_depth=1,
        decoder_heads=4,
        epochs=3,
        batch_size=32,
        optim=OptimConfig(base_lr=5e-3, warmup_epochs=0.5),
        augment=True,
        seed=0,
    )
    base.update(overrides)
    return PretrainConfig(**base)
