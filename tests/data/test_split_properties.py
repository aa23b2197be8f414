"""Property-based tests (Hypothesis) of subject-level splitting on arbitrary cohorts."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facehealth.data.splits import make_splits
from facehealth.errors import SchemaError


@st.composite
def cohorts(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(12, 120))
    sites = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    frame = pd.DataFrame({"subject_id": [f"S{i}" for i in range(n)], "site": sites})
    if draw(st.booleans()):  # some identities shown as several subjects: one group, one site
        groups = draw(st.lists(st.integers(0, max(1, n // 3)), min_size=n, max_size=n))
        frame["group_id"] = [f"g{g}" for g in groups]
        frame["site"] = frame.groupby("group_id")["site"].transform("first")
    frame["cad"] = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return frame


@settings(max_examples=40, deadline=None)
@given(cohorts(), st.integers(0, 10_000), st.booleans(), st.booleans())
def test_every_subject_lands_in_exactly_one_split_and_nothing_straddles(cohort, seed, external, stratify):
    held_out = ("c",) if external and "c" in set(cohort["site"]) and set(cohort["site"]) != {"c"} else ()
    args = dict(stratify="cad" if stratify else None, external_sites=held_out)
    units = cohort["group_id"] if "group_id" in cohort else cohort["subject_id"]
    internal_units = units[~cohort["site"].isin(held_out)].nunique()
    if internal_units < 3:  # too few to split: a clear error, never a library traceback
        with pytest.raises(SchemaError, match="need at least 3"):
            make_splits(cohort, seed, **args)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "cannot stratify ...": tiny strata, split unstratified
        splits = make_splits(cohort, seed, **args)
    assert sorted(splits["subject_id"]) == sorted(cohort["subject_id"])  # none lost, none twice
    assert set(splits["split"]) <= {"train", "val", "test", "external"}
    joined = splits.merge(cohort, on="subject_id", suffixes=("", "_cohort"))
    assert (joined["split"] == "external").eq(joined["site_cohort"].isin(held_out)).all()
    if "group_id" in joined:
        assert (joined.groupby("group_id")["split"].nunique() == 1).all()  # an identity never straddles
    internal = joined[joined["split"] != "external"]
    folds = internal.loc[internal["split"].isin(["train", "val"]), "fold"]
    assert (folds >= 0).all() or (folds == -1).all()  # all in a fold, or too few subjects for K folds
    assert (joined.loc[joined["split"].isin(["test", "external"]), "fold"] == -1).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again = make_splits(cohort, seed, **args)
    assert again.equals(splits)  # same seed, same assignment


def test_a_stratum_too_small_to_stratify_warns_and_still_splits():
    # Found by the property test: 5 subjects, 2 classes, a 20% test split of 1 subject cannot hold both.
    cohort = pd.DataFrame({"subject_id": [f"S{i}" for i in range(5)], "site": "a", "cad": [1, 1, 0, 0, 0]})
    with pytest.warns(UserWarning, match="cannot stratify 5 subjects by 'cad'"):
        splits = make_splits(cohort, 0, stratify="cad", val_fraction=0.0)
    assert len(splits) == 5 and {"train", "test"} <= set(splits["split"])
