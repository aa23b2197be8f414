"""Covariate coding for adjusted Cox models: reference levels, complete cases, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facehealth.errors import SchemaError
from facehealth.evaluate.covariates import CovariateSpec, encode_covariates, parse_reference_levels


@pytest.fixture
def table():
    return pd.DataFrame(
        {
            "subject_id": [f"S{i}" for i in range(8)],
            "age": [50.0, 61, np.nan, 70, 45, 52, 66, 58],
            "stage": ["II", "I", "III", None, "I", "II", "III", "I"],
            "ecog": [0, 1, 2, 1, 0, 0, 2, 1],
            "time": [1.0, 2, 3, 4, 5, 6, 7, np.nan],
        }
    )


def test_categorical_columns_get_one_indicator_per_non_reference_level(table):
    encoded = encode_covariates(table, CovariateSpec(("age", "stage"), {"stage": "II"}))
    assert encoded.terms == ("age", "stage=I", "stage=III")
    assert encoded.coding["stage"] == {
        "reference": "II",
        "levels": ["I", "II", "III"],
        "terms": ["stage=I", "stage=III"],
    }
    row = encoded.frame.set_index("subject_id").loc["S6"]
    assert (row["stage=I"], row["stage=III"]) == (0.0, 1.0)


def test_without_a_stated_reference_the_first_sorted_level_is_it_and_numeric_codes_can_be_categorical(table):
    encoded = encode_covariates(table, CovariateSpec(("ecog",), categorical=("ecog",)))
    assert encoded.coding["ecog"]["reference"] == "0" and encoded.terms == ("ecog=1", "ecog=2")
    assert encode_covariates(table, CovariateSpec(("ecog",))).terms == ("ecog",)  # numeric by default


def test_subjects_missing_a_covariate_are_dropped_and_counted_per_column(table):
    encoded = encode_covariates(table, CovariateSpec(("age", "stage")), required=("time",))
    # S7 lacks the time (required, not counted); S2 lacks age, S3 stage.
    assert encoded.n_dropped == 2 and encoded.dropped == {"age": 1, "stage": 1}
    assert sorted(encoded.frame["subject_id"]) == ["S0", "S1", "S4", "S5", "S6"]


def test_bad_specs_are_clear_errors(table):
    with pytest.raises(SchemaError, match="not in the subjects table"):
        encode_covariates(table, CovariateSpec(("smoking",)))
    with pytest.raises(SchemaError, match="does not occur"):
        encode_covariates(table, CovariateSpec(("stage",), {"stage": "IV"}))
    with pytest.raises(SchemaError, match="not covariates"):
        encode_covariates(table, CovariateSpec(("age",), {"stage": "I"}))
    assert parse_reference_levels(["stage=I", " ecog = 0"]) == {"stage": "I", "ecog": "0"}
    with pytest.raises(SchemaError, match="COLUMN=LEVEL"):
        parse_reference_levels(["stage"])
