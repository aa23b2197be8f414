"""Rolling scores: weighted means, the warming-up state, and intervals from the conformal table."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from facehealth.live.rolling import RollingScores, conformal_interval_fn, quality_weight


def test_weighted_mean_and_warming_up_state():
    scores = RollingScores(interval_fn=None, window_s=10.0, min_frames=3)
    scores.add(0.0, {"age": 40.0}, 1.0)
    scores.add(1.0, {"age": 50.0}, 1.0)
    est = scores.estimates()["age"]
    assert est.value is None and est.status == "warming_up" and est.n_frames == 2
    scores.add(2.0, {"age": 60.0}, 2.0)
    est = scores.estimates()["age"]
    assert est.value == pytest.approx((40 + 50 + 2 * 60) / 4) and est.status == "uncalibrated"
    assert est.as_dict()["low"] is None


def test_old_frames_leave_the_window():
    scores = RollingScores(window_s=5.0, min_frames=1)
    scores.add(0.0, {"x": 100.0}, 1.0)
    scores.add(6.0, {"x": 1.0}, 1.0)
    assert scores.estimates()["x"].value == pytest.approx(1.0)


def test_conformal_interval_narrows_with_frames_and_caps_at_k():
    from facehealth.models.calibration import PhotoCalibration

    meta = SimpleNamespace(calibration=PhotoCalibration(0.1, ("s",), {"age": (9.0, 6.0, 4.0)}))
    fn = conformal_interval_fn(meta)
    assert [fn("age", 50.0, k) for k in (1, 2, 3, 7)] == [(41.0, 59.0), (44.0, 56.0), (46.0, 54.0), (46.0, 54.0)]
    assert fn("cad", 0.3, 3) is None and conformal_interval_fn(SimpleNamespace())("age", 50.0, 3) is None
    scores = RollingScores(fn, min_frames=1)
    widths = []
    for i in range(4):
        scores.add(float(i), {"age": 50.0}, 1.0)
        low, high = scores.estimates()["age"].interval
        widths.append((high - low) / 2)
    assert widths == [9.0, 6.0, 4.0, 4.0]
    d = scores.estimates()["age"].as_dict()
    assert (d["low"], d["high"], d["status"]) == (46.0, 54.0, "ok")


def test_quality_weight_prefers_sharp_frontal_frames():
    sharp_frontal = quality_weight(200.0, 0.0, 0.0)
    assert sharp_frontal == pytest.approx(1.0)
    assert quality_weight(50.0, 0.0, 0.0) < sharp_frontal
    assert quality_weight(200.0, 40.0, 0.0) == pytest.approx(np.cos(np.radians(40)))
