from __future__ import annotations

import numpy as np
import pandas as pd

from facehealth.evaluate.metrics import mae
from facehealth.evaluate.subgroups import subgroup_table


def _frame(seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    sex = rng.choice(["F", "M"], n)
    truth = rng.normal(50, 10, n)
    noise_sd = np.where(sex == "M", 4 + shift, 4)  # shift > 0: the model is worse for men
    return pd.DataFrame(
        {
            "subject_id": [f"s{i}" for i in range(n)],
            "sex": sex,
            "age": truth,
            "pred": truth + rng.normal(0, 1, n) * noise_sd,
        }
    )


def test_subgroups_report_each_level_and_flag_real_heterogeneity():
    table = subgroup_table(_frame(0, 6.0), "sex", mae, ["age", "pred"], np.random.default_rng(0), n_boot=300)
    assert list(table["level"]) == ["all", "F", "M"]
    assert table.set_index("level").loc["M", "value"] > table.set_index("level").loc["F", "value"]
    assert table.attrs["heterogeneous"]
    same = subgroup_table(_frame(1, 0.0), "sex", mae, ["age", "pred"], np.random.default_rng(0), n_boot=300)
    assert not same.attrs["heterogeneous"]


def test_small_subgroups_are_reported_not_dropped():
    frame = _frame(2, 0.0)
    frame.loc[:4, "sex"] = "X"
    table = subgroup_table(frame, "sex", mae, ["age", "pred"], np.random.default_rng(0), n_boot=100)
    row = table.set_index("level").loc["X"]
    assert row["n_subjects"] == 5 and np.isnan(row["value"])


def test_numeric_columns_are_binned_and_categories_kept():
    from facehealth.evaluate.subgroups import subgroup_levels

    age = pd.Series([20.0, 45, 61, np.nan, 80] * 3, name="age")
    assert set(subgroup_levels(age).dropna()) == {"[0, 40)", "[40, 60)", "[60, 120)"}
    assert subgroup_levels(age).isna().sum() == 3
    bmi = pd.Series(np.linspace(18, 40, 40), name="bmi")
    assert subgroup_levels(bmi).nunique() == 4  # quartiles
    ecog = pd.Series([0, 1, 2] * 5, name="ecog")
    assert sorted(subgroup_levels(ecog).unique()) == ["0", "1", "2"]  # few codes: categories


def test_evaluation_subgroups_one_table_per_task_with_small_and_missing_levels_unestimated():
    from facehealth.evaluate.subgroups import evaluation_subgroups

    frame = _frame(1, 6.0)
    frame["site"] = np.where(np.arange(len(frame)) < 5, "tiny", "main")
    frame.loc[frame.index[5:20], "sex"] = None  # 15 subjects with no sex recorded
    targets = [("age", "mae", mae, ("age", "pred"))]
    table = evaluation_subgroups(frame, targets, ["sex", "age", "site"], np.random.default_rng(0), n_boot=100)
    rows = table.set_index(["group", "level"])
    assert rows.loc[("all", "all"), "n_subjects"] == len(frame) and np.isfinite(rows.loc[("all", "all"), "value"])
    assert rows.loc[("sex", "missing"), "n_subjects"] == 15 and np.isnan(rows.loc[("sex", "missing"), "value"])
    assert rows.loc[("site", "tiny"), "n_subjects"] == 5 and np.isnan(rows.loc[("site", "tiny"), "value"])
    assert rows.loc[("sex", "M"), "heterogeneity_p"] < 0.05  # the planted worse fit for men
    assert {lv for g, lv in rows.index if g == "age"} >= {"[40, 60)", "[60, 120)"}
    assert set(table["task"]) == {"age"} and set(table["metric"]) == {"mae"}
