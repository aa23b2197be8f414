from __future__ import annotations

import numpy as np
import pytest

from facehealth.evaluate.calibration import calibration_in_the_large, calibration_slope_intercept, reliability_curve
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


@pytest.mark.parametrize("slope, shift", [(1.0, 0.0), (1.0, 0.8), (0.5, 0.0), (2.0, -0.6), (0.7, 0.4)])
def test_calibration_in_the_large_equals_a_glm_with_an_offset(slope, shift):
    import statsmodels.api as sm

    y, logit = _outcomes(3, n=4000)
    p = 1 / (1 + np.exp(-(slope * logit + shift)))
    glm = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=np.log(p / (1 - p))).fit()
    assert calibration_in_the_large(y, p) == pytest.approx(glm.params[0], abs=1e-9)


def test_calibration_in_the_large_is_not_the_slope_free_intercept():
    # Timid, too-high predictions (logit shrunk by half, shifted up 0.5): the joint fit puts part of
    # the miss into its slope (2), so its intercept (-0.98) differs from the mean miss that
    # calibration-in-the-large measures with the slope held at 1 (-0.65).
    y, logit = _outcomes(4)
    shifted = 1 / (1 + np.exp(-(0.5 * logit + 0.5)))
    citl = calibration_in_the_large(y, shifted)
    joint = calibration_slope_intercept(y, shifted)
    assert citl < -0.5 and abs(joint.intercept - citl) > 0.25 and joint.slope == pytest.approx(2.0, abs=0.1)
    assert calibration_in_the_large(y, 1 / (1 + np.exp(-logit))) == pytest.approx(0.0, abs=0.05)
    with pytest.warns(DegenerateMetricWarning):
        assert np.isnan(calibration_in_the_large([1, 1], [0.3, 0.6]))
