from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synth_cohort(tmp_path_factory) -> Path:
    """120 subjects x 2 photos, seed 0: enough for effect-recovery statistics."""
    from facehealth.data.synth import SynthConfig, synthesize_cohort

    return synthesize_cohort(tmp_path_factory.mktemp("synth") / "cohort", SynthConfig(subjects=120, images_per_subject=2))


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
