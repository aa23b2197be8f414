from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facehealth.report import conformal_intervals


def test_conformal_intervals_from_the_validation_split(full_run):
    pred = pd.read_parquet(full_run / "evaluate/predictions.parquet")
    labels = pd.read_csv(full_run / "cohort/labels.csv", dtype={"subject_id": str})
    val = pred[pred["split"] == "val"].merge(labels, on="subject_id")
    assert len(val) >= 10
    residuals = np.sort(np.abs(val["haemoglobin"] - val["pred_haemoglobin"]).to_numpy())
    n = len(residuals)
    q = residuals[int(np.ceil((n + 1) * 0.9)) - 1] if np.ceil((n + 1) * 0.9) <= n else residuals[-1]  # hand-computed
    got = conformal_intervals(full_run, {"haemoglobin": 14.0, "not_a_column": 1.0, "sodium": float("nan")})
    assert set(got) == {"haemoglobin"}
    assert got["haemoglobin"] == pytest.approx((14.0 - q, 14.0 + q))
    assert conformal_intervals(full_run / "missing", {"haemoglobin": 14.0}) == {}
