"""Study metrics: per-run rows and the across-seed mean with an interval for that mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facehealth.models.tasks import TaskSpec
from facehealth.studies.metrics import metric_rows, seed_mean_rows, targets_of

TARGETS = targets_of([TaskSpec("age", "regression", ("age",))])


def _scored(seed: int, n: int = 200, noise: float = 8.0) -> pd.DataFrame:
    truth = np.random.default_rng(0).uniform(20, 80, n)  # the same test subjects for every seed
    pred = truth + np.random.default_rng(seed + 1).normal(0, noise, n)
    return pd.DataFrame({"subject_id": [f"s{i}" for i in range(n)], "age": truth, "pred_age": pred})


def _mae(_: object) -> list[str]:
    return ["mae"]


def test_one_seed_gives_the_single_run_interval():
    frame = _scored(0)
    single = metric_rows(frame, TARGETS, _mae, np.random.default_rng(5), 300)[0]
    pooled = seed_mean_rows({0: frame}, TARGETS, _mae, np.random.default_rng(5), 300)[0]
    assert pooled["value"] == pytest.approx(single["value"]) and pooled["seeds"] == 1
    assert (pooled["low"], pooled["high"]) == pytest.approx((single["low"], single["high"]))


def test_the_interval_is_for_the_mean_over_seeds_not_the_mean_of_intervals():
    frames = {seed: _scored(seed) for seed in range(5)}
    per_seed = [metric_rows(f, TARGETS, _mae, np.random.default_rng(seed), 300)[0] for seed, f in frames.items()]
    pooled = seed_mean_rows(frames, TARGETS, _mae, np.random.default_rng(9), 300)[0]
    assert pooled["value"] == pytest.approx(np.mean([r["value"] for r in per_seed]))
    assert pooled["low"] < pooled["value"] < pooled["high"] and pooled["n_test"] == 200
    # Averaging five models' errors per subject cancels part of their independent noise, so the
    # mean is known more precisely than any one run: the pooled interval is narrower.
    assert pooled["high"] - pooled["low"] < 0.9 * np.mean([r["high"] - r["low"] for r in per_seed])


def test_a_seed_missing_the_target_gives_nan():
    frames = {0: _scored(0), 1: _scored(1).drop(columns="pred_age")}
    row = seed_mean_rows(frames, TARGETS, _mae, np.random.default_rng(0), 50)[0]
    assert np.isnan(row["value"]) and row["n_test"] == 0
