"""Task specs own the names of every prediction column."""

from __future__ import annotations

import pandas as pd
import pytest

from facehealth.errors import ConfigError
from facehealth.models.predictor import Prediction
from facehealth.models.tasks import TaskSpec, build_tasks, is_output_column


def _tasks() -> list[TaskSpec]:
    labels = pd.DataFrame(
        columns=["subject_id", "age", "haemoglobin", "sodium", "cad", "survival_time", "survival_event"]
        + ["affective_code"]
    )
    return build_tasks(("biomarkers", "age", "cad", "survival", "affective"), labels)


def test_output_columns_per_kind():
    bio, age, cad, survival, affective = _tasks()
    assert bio.output_columns() == ("pred_haemoglobin", "pred_sodium")
    assert age.output_column("age") == "pred_age"
    assert cad.output_columns() == ("prob_cad",) and cad.output_column() == "prob_cad"
    assert survival.output_column() == "risk_survival"
    assert affective.output_columns() == ("prob_healthy", "prob_MDD", "prob_BPD")
    assert all(is_output_column(c) for t in _tasks() for c in t.output_columns())
    assert not is_output_column("haemoglobin") and not is_output_column("subject_id")


def test_output_column_refuses_what_has_no_single_column():
    bio, _, _, _, affective = _tasks()
    with pytest.raises(KeyError, match="no regression column 'bilirubin'"):
        bio.output_column("bilirubin")
    with pytest.raises(KeyError, match="multiclass"):
        affective.output_column()
    with pytest.raises(ValueError):  # a head output of the wrong width
        bio.output_row([1.0])


def test_a_prediction_row_uses_the_same_names_as_the_cohort_tables():
    tasks = _tasks()
    p = Prediction(
        "x.jpg",
        1,
        1,
        {},
        values={"haemoglobin": 140.0, "sodium": 139.0, "age": 51.0},
        probabilities={"cad": 0.2, "affective": {"healthy": 0.7, "MDD": 0.2, "BPD": 0.1}},
        risks={"survival": -0.3},
    )
    row = p.as_row(tasks)
    assert list(row) == [c for t in tasks for c in t.output_columns()]
    assert row["prob_MDD"] == 0.2 and row["risk_survival"] == -0.3


def test_build_tasks_names_the_missing_columns():
    with pytest.raises(ConfigError, match="unknown task 'bmi'"):
        build_tasks(("bmi",), pd.DataFrame(columns=["age"]))
    with pytest.raises(ConfigError, match=r"needs label column\(s\) \['survival_time', 'survival_event'\]"):
        build_tasks(("survival",), pd.DataFrame(columns=["age"]))
    spec = TaskSpec("cad", "binary", ("cad",))
    assert TaskSpec.from_dict(spec.as_dict()) == spec
