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


def test_intervals_respect_the_quantity(tmp_path):
    """A log-scale marker gets a ratio interval that cannot go negative; ages stay within 0-120."""
    from facehealth.data.biomarkers import BIOMARKERS

    rng = np.random.default_rng(0)
    n = 40
    ids = [f"s{i}" for i in range(n)]
    bilirubin = np.exp(rng.normal(np.log(10), 0.5, n))  # umol/L, right-skewed
    age = rng.uniform(20, 90, n)
    (tmp_path / "cohort").mkdir()
    (tmp_path / "evaluate").mkdir()
    pd.DataFrame({"subject_id": ids, "age": age, "sex": "F", "site": "a"}).to_csv(
        tmp_path / "cohort/subjects.csv", index=False
    )
    pd.DataFrame({"subject_id": ids, "total_bilirubin": bilirubin}).to_csv(tmp_path / "cohort/labels.csv", index=False)
    pd.DataFrame(
        {
            "subject_id": ids,
            "split": "val",
            "pred_total_bilirubin": bilirubin * np.exp(rng.normal(0, 0.6, n)),
            "pred_age": age + rng.normal(0, 25, n),  # a poor age model: wide residuals
        }
    ).to_parquet(tmp_path / "evaluate/predictions.parquet")
    got = conformal_intervals(tmp_path, {"total_bilirubin": 4.0, "age": 110.0})
    low, high = got["total_bilirubin"]
    marker = BIOMARKERS["total_bilirubin"]
    assert marker.min_possible <= low < 4.0 < high <= marker.max_possible and low > 0
    assert high / 4.0 == pytest.approx(4.0 / low, rel=1e-6)  # symmetric on the log scale
    assert got["age"][1] == 120.0 and 0.0 <= got["age"][0] < 110.0
