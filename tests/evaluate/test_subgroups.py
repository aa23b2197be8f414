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
