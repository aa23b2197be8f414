from __future__ import annotations

import numpy as np
import pytest

from facehealth.evaluate.calibration import calibration_slope_intercept, reliability_curve
from facehealth.evaluate.metrics import DegenerateMetricWarning


def _outcomes(seed: int, n: int = 20000):
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(-0.5, 1.2, n)
    p = 1 / (1 + np.exp(-true_logit))
    return (rng.random(n) < p).astype(float), true_logit


def test_calibrated_predictions_have_slope_one_and_intercept_zero():
    y, logit = _outcomes(0)
    fit = calibration_slope_intercept(y, 1 / (1 + np.exp(-logit)))
    assert fit.slope == pytest.approx(1.0, abs=0.06) and fit.intercept == pytest.approx(0.0, abs=0.06)


def test_overconfident_and_too_high_predictions_are_detected():
    y, logit = _outcomes(1)
    extreme = calibration_slope_intercept(y, 1 / (1 + np.exp(-2 * logit)))
    assert extreme.slope == pytest.approx(0.5, abs=0.05)
    too_high = calibration_slope_intercept(y, 1 / (1 + np.exp(-(logit + 1.0))))
    assert too_high.slope == pytest.approx(1.0, abs=0.06) and too_high.intercept == pytest.approx(-1.0, abs=0.08)
    with pytest.warns(DegenerateMetricWarning):
        assert np.isnan(calibration_slope_intercept([1, 1, 1], [0.2, 0.4, 0.9]).slope)
    with pytest.warns(DegenerateMetricWarning, match="separable"):
        assert np.isnan(calibration_slope_intercept([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]).slope)


def test_reliability_curve_by_risk_decile():
    y, logit = _outcomes(2)
    p = 1 / (1 + np.exp(-logit))
    table = reliability_curve(y, p, bins=10)
    assert len(table) == 10 and table["n"].sum() == len(y)
    assert np.abs(table["observed"] - table["predicted"]).max() < 0.03
    assert table["predicted"].is_monotonic_increasing
