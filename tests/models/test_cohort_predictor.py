"""A model is evaluated only on subjects it did not learn from: splits are bound to the checkpoint."""

from __future__ import annotations

import pandas as pd
import pytest

from facehealth.errors import SplitMismatchError
from facehealth.models.checkpoint import CheckpointMeta
from facehealth.models.cohort_predictor import UNSEEN, bind_splits, cohort_fingerprint
from facehealth.models.tasks import TaskSpec

SUBJECTS = pd.DataFrame({"subject_id": ["a", "b", "c", "d", "e", "f"], "site": ["s1", "s1", "s1", "s1", "s2", "s2"]})
TRAINED = {"train": ("a", "b"), "val": ("c",), "test": ("d",), "external": ("e", "f")}


def _meta(splits: dict[str, tuple[str, ...]] = TRAINED) -> CheckpointMeta:
    return CheckpointMeta("vit_tiny_patch16", 64, (TaskSpec("cad", "binary", ("cad",)),), splits=splits)


def _write(root, assignment: dict[str, str]) -> None:
    pd.DataFrame({"subject_id": list(assignment), "split": list(assignment.values())}).to_csv(
        root / "splits.csv", index=False
    )


def test_the_splits_the_model_was_trained_with_are_accepted(tmp_path):
    _write(tmp_path, {"a": "train", "b": "train", "c": "val", "d": "test", "e": "external", "f": "external"})
    splits = bind_splits(_meta(), tmp_path, SUBJECTS)
    assert dict(zip(splits["subject_id"], splits["split"]))["d"] == "test"


def test_a_training_subject_scored_as_test_is_refused(tmp_path):
    # Trained without splits.csv (the default splits were recorded), split differently afterwards.
    _write(tmp_path, {"a": "test", "b": "train", "c": "val", "d": "train", "e": "external", "f": "external"})
    with pytest.raises(SplitMismatchError, match="1 subject.*trained or validated on.*e.g. a"):
        bind_splits(_meta(), tmp_path, SUBJECTS)
    _write(tmp_path, {"a": "train", "b": "train", "c": "external", "d": "test", "e": "external", "f": "external"})
    with pytest.raises(SplitMismatchError, match="e.g. c"):  # a validation subject counts too
        bind_splits(_meta(), tmp_path, SUBJECTS)


def test_an_external_site_that_had_training_subjects_is_refused(tmp_path):
    meta = _meta({"train": ("a", "e"), "val": ("c",), "test": ("d",), "external": ("f",)})
    _write(tmp_path, {"a": "train", "b": "test", "c": "val", "d": "test", "e": "train", "f": "external"})
    with pytest.raises(SplitMismatchError, match="external site.*s2 had subjects in training"):
        bind_splits(meta, tmp_path, SUBJECTS)


def test_without_a_split_table_the_recorded_splits_are_used(tmp_path):
    subjects = pd.concat([SUBJECTS, pd.DataFrame({"subject_id": ["new"], "site": ["s3"]})], ignore_index=True)
    splits = bind_splits(_meta(), tmp_path, subjects)
    assert dict(zip(splits["subject_id"], splits["split"])) == {
        "a": "train",
        "b": "train",
        "c": "val",
        "d": "test",
        "e": "external",
        "f": "external",
        "new": UNSEEN,
    }
    assert cohort_fingerprint(SUBJECTS["subject_id"]) == cohort_fingerprint(SUBJECTS["subject_id"][::-1])
