from __future__ import annotations

import pandas as pd
import pytest

from facehealth.data.cohort import load_cohort
from facehealth.data.validate import validate_cohort
from facehealth.errors import SchemaError


def _edit(root, table, fn):
    path = root / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str)
    frame = fn(frame)
    frame.to_csv(path, index=False)


def _messages(report):
    return [str(i) for i in report.issues]


def test_clean_copy_validates_and_loads(cohort_copy):
    cohort = load_cohort(cohort_copy)
    assert len(cohort.subjects) == 120 and len(cohort.media) == 240
    assert cohort.subjects["age"].dtype.kind == "f" and len(cohort.biomarker_columns) == 62
    assert cohort.sites == ["site_a", "site_b", "site_c"]
    assert len(cohort.subject_labels()) == 120


def test_bad_values_point_to_table_row_and_column(cohort_copy):
    def corrupt(f):
        f.loc[2, "age"] = "abc"
        f.loc[4, "sex"] = "female"
        f.loc[6, "age"] = "150"
        f.loc[7, "age"] = "104"
        return f

    _edit(cohort_copy, "subjects", corrupt)
    report = validate_cohort(cohort_copy)
    msgs = _messages(report)
    assert "error: subjects, row 3, column 'age': 'abc' is not a number" in msgs
    assert "error: subjects, row 5, column 'sex': 'female' is not allowed; use one of F, M, X" in msgs
    assert "error: subjects, row 7, column 'age': impossible value; allowed range is 0..125" in msgs
    assert any(m.startswith("warning: subjects, row 8, column 'age': unusual value") for m in msgs)
    with pytest.raises(SchemaError, match="row 3, column 'age'"):
        load_cohort(cohort_copy)


def test_missing_columns_and_tables(cohort_copy):
    _edit(cohort_copy, "subjects", lambda f: f.drop(columns=["site"]))
    (cohort_copy / "media.csv").unlink()
    msgs = _messages(validate_cohort(cohort_copy))
    assert any("subjects, column 'site': required column is missing" in m for m in msgs)
    assert any("media: missing: expected media.csv or media.parquet" in m for m in msgs)


def test_ids_files_and_duplicates(cohort_copy):
    def corrupt(f):
        f.loc[0, "subject_id"] = "NOBODY"
        f.loc[1, "path"] = "media/S00000/missing.jpg"
        f.loc[3, "media_id"] = f.loc[2, "media_id"]
        f.loc[5, "kind"] = "video"
        return f

    _edit(cohort_copy, "media", corrupt)
    msgs = _messages(validate_cohort(cohort_copy))
    assert "error: media, row 1, column 'subject_id': 'NOBODY' is not in the subjects table" in msgs
    assert any(m.startswith("error: media, row 2, column 'path': file not found") for m in msgs)
    assert any(m.startswith("error: media, row 4, column 'media_id': duplicate media_id") for m in msgs)
    assert "error: media, row 6, column 'kind': 'video' but the file is an image" in msgs


def test_duplicate_media_content_is_a_warning(cohort_copy):
    def dup(f):
        extra = f.iloc[[0]].copy()
        extra["media_id"] = "copy"
        extra["path"] = "copy.jpg"
        return pd.concat([f, extra])

    (cohort_copy / "copy.jpg").write_bytes((cohort_copy / "media/S00000/img0.jpg").read_bytes())
    _edit(cohort_copy, "media", dup)
    report = validate_cohort(cohort_copy)
    assert report.ok
    assert "warning: media, row 241, column 'path': same content as row 1 (duplicate media?)" in _messages(report)


def test_labels_ranges_units_and_unknown_columns(cohort_copy):
    def corrupt(f):
        f.loc[0, "haemoglobin"] = "-3"
        f.loc[1, "cad"] = "2"
        f.loc[2, "affective"] = "bipolar"
        f["my_marker"] = "1"
        return f

    _edit(cohort_copy, "labels", corrupt)
    units = pd.read_csv(cohort_copy / "label_units.csv")
    units.loc[units["column"] == "glucose", "unit"] = "mg/dL"
    units.to_csv(cohort_copy / "label_units.csv", index=False)
    msgs = _messages(validate_cohort(cohort_copy))
    assert "error: labels, row 1, column 'haemoglobin': impossible value; allowed range is 2.0..25.0 g/dL" in msgs
    assert "error: labels, row 2, column 'cad': must be 0 or 1" in msgs
    assert any("labels, row 3, column 'affective': 'bipolar' is not allowed" in m for m in msgs)
    assert any(m.startswith("warning: labels, column 'my_marker': not a registered biomarker") for m in msgs)
    assert any("label_units, column 'glucose': unit 'mg/dL' does not match the registry's 'mmol/L'" in m for m in msgs)


def test_unit_slip_is_flagged_by_its_median(cohort_copy):
    """Glucose ten times too small is still physiologically possible row by row, but its median gives it away."""
    _edit(cohort_copy, "labels", lambda f: f.assign(glucose=(pd.to_numeric(f["glucose"]) / 10).clip(lower=0.5)))
    report = validate_cohort(cohort_copy)
    assert report.ok
    assert any(
        m.startswith("warning: labels, column 'glucose': median") and m.endswith("is the unit right?")
        for m in _messages(report)
    )


def test_a_date_in_the_future_is_a_warning_naming_the_row(cohort_copy):
    _edit(cohort_copy, "media", lambda f: f.assign(acquired_at=f["acquired_at"].where(f.index != 1, "2099-05-01")))
    msgs = _messages(validate_cohort(cohort_copy))
    assert "warning: media, row 2, column 'acquired_at': is in the future; check the date" in msgs
    assert not [m for m in msgs if "future" in m and "row 2," not in m]  # the generated dates are in the past
