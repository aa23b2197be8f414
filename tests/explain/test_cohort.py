from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from facehealth.errors import ConfigError
from facehealth.explain.cohort import explain_cohort, resolve_targets
from facehealth.faces.io import read_image
from facehealth.models.multitask import MultiTaskModel, TaskSpec
from tests.explain.conftest import untrained_checkpoint

TASKS = [
    TaskSpec("cad", "binary", ("cad",)),
    TaskSpec("biomarkers", "regression", ("haemoglobin", "sodium")),
    TaskSpec("survival", "cox", ("time", "event")),
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return untrained_checkpoint(tmp_path_factory.mktemp("ckpt"), TASKS)


@pytest.fixture
def prepared(real_face, tmp_path):
    """A prepared folder of 5 subjects x 2 photos, each photo the real crop slightly shifted."""
    root = tmp_path / "faces"
    (root / "crops").mkdir(parents=True)
    rows = []
    for s in range(5):
        for k in range(2):
            shift = np.array([[1.0, 0.0, s - 2.0], [0.0, 1.0, k]])
            crop = cv2.warpAffine(real_face.crop, shift, real_face.crop.shape[1::-1])
            rel = f"crops/S{s}_{k}.png"
            cv2.imwrite(str(root / rel), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            matrix = np.vstack([shift, [0, 0, 1]])[:2] @ np.vstack([real_face.matrix, [0, 0, 1]])
            original = (
                np.c_[real_face.landmarks_crop, np.ones(68)] @ np.linalg.inv(np.vstack([real_face.matrix, [0, 0, 1]])).T
            )
            rows.append(
                {
                    "crop_path": rel,
                    "subject_id": f"S{s}",
                    "kind": "image",
                    "landmarks": original[:, :2].ravel().tolist(),
                    "matrix": matrix.ravel().tolist(),
                }
            )
    pd.DataFrame(rows).to_parquet(root / "manifest.parquet")
    return root


def test_targets_resolve_by_task_and_by_column(checkpoint):
    model = MultiTaskModel("vit_tiny_patch16", TASKS, img_size=32)
    assert [t[2] for t in resolve_targets(model, None)] == [
        "cad",
        "biomarkers:haemoglobin",
        "biomarkers:sodium",
        "survival",
    ]
    assert resolve_targets(model, ["biomarkers:sodium", "cad"]) == [
        ("biomarkers", 1, "biomarkers:sodium"),
        ("cad", 0, "cad"),
    ]
    with pytest.raises(ConfigError, match="unknown target 'biomarkers:ldl'"):
        resolve_targets(model, ["biomarkers:ldl"])


def test_explain_cohort_writes_galleries_tables_and_heatmap(checkpoint, prepared, tmp_path):
    result = explain_cohort(
        checkpoint,
        prepared,
        tmp_path / "out",
        tasks=["cad", "survival"],
        n_subjects=4,
        method="ig",
        split=None,
        gallery=3,
        n_boot=50,
        steps=4,
    )
    assert result.n_subjects == 4 and result.n_images == 8
    table = pd.read_csv(result.regions_csv)
    assert list(table.columns[:5]) == ["target", "region", "share", "low", "high"]
    assert set(table["target"]) == {"cad", "survival"} and len(table) == 2 * 12
    for _, part in table.groupby("target"):
        assert part["share"].sum() == pytest.approx(1.0, abs=1e-6)  # regions + other partition the crop
    assert ((table["low"] <= table["share"] + 1e-12) & (table["share"] <= table["high"] + 1e-12)).all()
    gallery = read_image(result.galleries["cad"])
    assert gallery.shape[1] > 3 * 224  # three overlays side by side
    assert read_image(result.heatmap).shape[0] > 200
    comparisons = pd.read_csv(result.comparisons_csv)
    assert len(comparisons) == 1 and 0 < comparisons["p_value"].iloc[0] <= 1
    settings = json.loads((tmp_path / "out" / "explain.json").read_text())
    assert settings["n_images"] == 8 and len(settings["ranking_by_density"]["cad"]) == 11
    assert settings["empty_maps"] == {"cad": 0, "survival": 0}
