"""Photo-level conformal calibration: the quantile, the units, the scale, and coverage where it is used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facehealth.data.biomarkers import BIOMARKERS
from facehealth.models.calibration import (
    PhotoCalibration,
    conformal_quantile,
    fit_photo_calibration,
    unit_scores,
)


def _cohort(rng: np.random.Generator, n_subjects: int, photos: int, subject_sd: float, photo_sd: float):
    """Per-photo predictions = truth + a subject error (shared by its photos) + a photo error."""
    truth = rng.normal(50, 15, n_subjects)
    bias = rng.normal(0, subject_sd, n_subjects)
    ids = np.repeat([f"s{i}" for i in range(n_subjects)], photos)
    pred = np.repeat(truth + bias, photos) + rng.normal(0, photo_sd, n_subjects * photos)
    items = pd.DataFrame({"subject_id": ids, "age": pred})
    return items, pd.DataFrame({"subject_id": [f"s{i}" for i in range(n_subjects)], "age": truth})


def test_quantile_is_the_finite_sample_order_statistic():
    scores = np.arange(1.0, 20.0)  # n = 19: ceil(20 * 0.9) = 18th smallest
    assert conformal_quantile(scores, 0.1) == 18.0
    assert conformal_quantile([3.0, 1.0], 0.1) == 3.0  # k > n: the largest score
    with pytest.raises(ValueError):
        conformal_quantile([], 0.1)


def test_unit_scores_average_disjoint_groups_of_k_photos():
    ids = ["a"] * 5 + ["b"] * 2
    truth = [10.0] * 5 + [0.0] * 2
    pred = [11.0, 13.0, 9.0, 7.0, 100.0, 2.0, -4.0]
    assert unit_scores(ids, truth, pred, 1).tolist() == [1, 3, 1, 3, 90, 2, 4]
    assert unit_scores(ids, truth, pred, 2).tolist() == [2.0, 2.0, 1.0]  # a: (11,13), (9,7); b: (2,-4)
    assert unit_scores(ids, truth, pred, 3).tolist() == [1.0]  # b has too few photos


def test_single_photo_intervals_cover_at_nominal_where_subject_mean_calibration_falls_short():
    """The integrity issue's test: coverage at the prediction unit (one photo) within 3 points of 90%."""
    rng = np.random.default_rng(0)
    cal_items, cal_truth = _cohort(rng, 400, 4, subject_sd=3.0, photo_sd=6.0)
    test_items, test_truth = _cohort(rng, 2000, 4, subject_sd=3.0, photo_sd=6.0)
    cal = fit_photo_calibration(cal_items, cal_truth, ["age"], alpha=0.1, max_photos=4)
    assert cal is not None and len(cal.quantiles["age"]) == 4
    assert list(cal.quantiles["age"]) == sorted(cal.quantiles["age"], reverse=True)  # narrower with more photos
    truth = test_items.merge(test_truth, on="subject_id", suffixes=("_pred", ""))
    one = np.array([cal.interval("age", v, 1) for v in truth["age_pred"]])
    covered = np.mean((truth["age"] >= one[:, 0]) & (truth["age"] <= one[:, 1]))
    assert abs(covered - 0.9) <= 0.03, covered
    # The old way: calibrate on subject means of 4 photos, apply to one photo: short of 90%.
    means = (
        cal_items.groupby("subject_id")["age"].mean().to_frame().join(cal_truth.set_index("subject_id"), rsuffix="_t")
    )
    q_mean = conformal_quantile(np.abs(means["age"] - means["age_t"]), 0.1)
    old = np.mean(np.abs(truth["age"] - truth["age_pred"]) <= q_mean)
    assert old < 0.85, old
    # And a 4-photo mean with the 4-photo quantile covers at nominal too.
    test_means = test_items.groupby("subject_id")["age"].mean()
    four = np.array([cal.interval("age", v, 4) for v in test_means])
    t = test_truth.set_index("subject_id").loc[test_means.index, "age"].to_numpy()
    assert abs(np.mean((t >= four[:, 0]) & (t <= four[:, 1])) - 0.9) <= 0.03


def test_log_scale_markers_get_ratio_intervals_clipped_to_what_the_quantity_allows():
    cal = PhotoCalibration(0.1, ("s",), {"total_bilirubin": (0.5,), "age": (30.0,)})
    low, high = cal.interval("total_bilirubin", 4.0)
    marker = BIOMARKERS["total_bilirubin"]
    assert marker.min_possible <= low < 4.0 < high <= marker.max_possible and low > 0
    assert high / 4.0 == pytest.approx(4.0 / low) == pytest.approx(np.exp(0.5))
    assert cal.interval("age", 110.0) == (80.0, 120.0)  # clipped at 120 years
    assert cal.interval("sodium", 140.0) is None and cal.interval("age", float("nan")) is None


def test_too_few_calibration_subjects_give_no_calibration_and_json_round_trips():
    rng = np.random.default_rng(1)
    items, truth = _cohort(rng, 9, 4, 1.0, 1.0)
    assert fit_photo_calibration(items, truth, ["age"]) is None
    items, truth = _cohort(rng, 12, 2, 1.0, 1.0)
    cal = fit_photo_calibration(items, truth, ["age"], max_photos=4)
    assert len(cal.quantiles["age"]) == 2  # k = 3, 4: fewer than 10 units
    assert PhotoCalibration.from_json(cal.to_json()) == cal


def test_repeat_photo_intervals_cover_another_photo_of_the_same_person_at_nominal():
    """A probability has no per-person truth: its interval says where a repeat photo set would score."""
    from facehealth.models.calibration import fit_photo_calibration, repeat_scores

    assert repeat_scores(["a"] * 4 + ["b"] * 3, [0.1, 0.3, 0.2, 0.6, 0.5, 0.5, 0.9], 1).tolist() == pytest.approx(
        [0.2, 0.4, 0.0]
    )
    assert repeat_scores(["a"] * 4, [0.1, 0.3, 0.2, 0.6], 2).tolist() == pytest.approx([0.2])  # |0.2 - 0.4|
    rng = np.random.default_rng(4)

    def photos(n_subjects: int, per: int, start: int) -> pd.DataFrame:
        person = rng.uniform(0.1, 0.9, n_subjects)  # each person's expected score
        ids = np.repeat([f"s{start + i}" for i in range(n_subjects)], per)
        return pd.DataFrame({"subject_id": ids, "prob_cad": np.repeat(person, per) + rng.normal(0, 0.05, len(ids))})

    calibration = fit_photo_calibration(
        photos(400, 4, 0), pd.DataFrame({"subject_id": []}), [], repeat_columns=["prob_cad"]
    )
    assert calibration is not None and len(calibration.repeat["prob_cad"]) == 2  # k = 1 and 2 from 4 photos
    r1, r2 = calibration.repeat["prob_cad"]
    assert r2 < r1  # two-photo means move less between repeats
    fresh = photos(2000, 2, 10_000)
    first, second = fresh.groupby("subject_id")["prob_cad"].first(), fresh.groupby("subject_id")["prob_cad"].last()
    covered = [lo <= b <= hi for a, b in zip(first, second) for lo, hi in [calibration.repeat_interval("prob_cad", a)]]
    assert 0.87 < np.mean(covered) < 0.93  # 90% nominal
    assert calibration.repeat_interval("prob_cad", 0.99)[1] == 1.0  # a probability stays in [0, 1]
    assert PhotoCalibration.from_json(calibration.to_json()) == calibration
    assert PhotoCalibration.from_json({"alpha": 0.1, "quantiles": {}}).repeat == {}  # older checkpoints
