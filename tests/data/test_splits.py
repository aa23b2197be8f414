from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facehealth.data.cohort import load_cohort
from facehealth.data.splits import assert_no_leakage, load_splits, make_splits, save_splits, split_cohort, splits_path
from facehealth.errors import SchemaError


@pytest.fixture(scope="module")
def cohort(synth_cohort):
    return load_cohort(synth_cohort)


def test_every_subject_lands_on_exactly_one_side_and_no_media_leaks(cohort):
    table = cohort.subject_labels()
    splits = make_splits(table, seed=0, stratify="cad", external_sites=["site_c"])
    assert splits["subject_id"].is_unique and len(splits) == len(table)
    assert set(splits.loc[splits["site"] == "site_c", "split"]) == {"external"}
    assert set(splits.loc[splits["site"] != "site_c", "split"]) == {"train", "val", "test"}
    assert_no_leakage(cohort.media, splits)
    media = cohort.media.merge(splits, on="subject_id")
    assert media.groupby("subject_id")["split"].nunique().max() == 1


def test_leakage_is_detected(cohort):
    splits = make_splits(cohort.subject_labels(), seed=0)
    media = cohort.media.copy()
    # A photo filed under a different subject id of another split is a leak by construction here:
    test_subject = splits.loc[splits["split"] == "test", "subject_id"].iloc[0]
    train_subject = splits.loc[splits["split"] == "train", "subject_id"].iloc[0]
    doubled = pd.concat(
        [splits, pd.DataFrame({"subject_id": [test_subject], "site": ["x"], "split": ["train"], "fold": [-1]})]
    )
    with pytest.raises(SchemaError, match="several splits"):
        assert_no_leakage(media, doubled)
    with pytest.raises(SchemaError, match="without a split"):
        assert_no_leakage(media, splits[splits["subject_id"] != train_subject])


def test_stratification_keeps_prevalence(cohort):
    table = cohort.subject_labels()
    splits = make_splits(table, seed=1, stratify="cad", test_fraction=0.25)
    merged = splits.merge(table[["subject_id", "cad"]], on="subject_id")
    rates = merged.groupby("split")["cad"].mean()
    assert abs(rates["test"] - rates["train"]) < 0.1


def test_folds_partition_the_development_subjects(cohort):
    splits = make_splits(cohort.subject_labels(), seed=2, folds=5, stratify="age")
    dev = splits[splits["split"].isin(["train", "val"])]
    assert set(dev["fold"]) == {0, 1, 2, 3, 4}
    assert (splits.loc[splits["split"] == "test", "fold"] == -1).all()
    sizes = dev["fold"].value_counts()
    assert sizes.max() - sizes.min() <= 1


def test_deterministic_and_saved(cohort, tmp_path):
    a = make_splits(cohort.subject_labels(), seed=3)
    b = make_splits(cohort.subject_labels(), seed=3)
    c = make_splits(cohort.subject_labels(), seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a["split"].equals(c["split"])
    save_splits(a, tmp_path)
    pd.testing.assert_frame_equal(load_splits(tmp_path), a, check_dtype=False)


def test_bad_requests(cohort):
    with pytest.raises(SchemaError, match="not in the cohort"):
        make_splits(cohort.subject_labels(), seed=0, external_sites=["mars"])
    twice = pd.concat([cohort.subject_labels()] * 2)
    with pytest.raises(SchemaError, match="one row per subject"):
        make_splits(twice, seed=0)
    assert np.isclose((make_splits(cohort.subject_labels(), seed=0)["split"] == "test").mean(), 0.2, atol=0.02)


def test_split_cohort_makes_checks_and_writes_the_splits(cohort_copy):
    splits = split_cohort(cohort_copy, seed=3, stratify="cad", external_sites=("site_c",))
    expected = make_splits(load_cohort(cohort_copy).subject_labels(), 3, stratify="cad", external_sites=("site_c",))
    pd.testing.assert_frame_equal(splits, expected)
    assert splits_path(cohort_copy) == cohort_copy / "splits.csv"
    pd.testing.assert_frame_equal(load_splits(cohort_copy), splits, check_dtype=False)
    with pytest.raises(SchemaError):
        split_cohort(cohort_copy, external_sites=("site_z",))
