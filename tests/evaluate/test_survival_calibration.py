"""Survival calibration: the true model is calibrated, an over-extreme one has slope 1/2, KM matches lifelines."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from facehealth.evaluate.survival_calibration import _km_with_ci, survival_calibration


def test_survival_calibration_of_the_true_model():
    """Exponential survival with a known hazard: the true S(h|x) is calibrated; doubling the
    linear predictor gives a slope near 1/2."""
    rng = np.random.default_rng(3)
    n, h = 4000, 2.0
    lp = rng.normal(size=n)
    t_event = rng.exponential(1 / (0.3 * np.exp(lp)))
    t_cens = rng.uniform(1, 6, n)
    t, e = np.minimum(t_event, t_cens), t_event <= t_cens
    true_surv = np.exp(-0.3 * h * np.exp(lp))
    cal = survival_calibration(t, e, true_surv, h, bins=10)
    assert cal.slope_low < 1 < cal.slope_high and cal.oe_ratio == pytest.approx(1, abs=0.05)
    assert len(cal.table) == 10 and (cal.table["n"] == 400).all()
    assert_allclose(cal.table["observed"], cal.table["mean_predicted"], atol=0.06)
    assert cal.table["observed"].is_monotonic_increasing
    too_extreme = np.exp(-0.3 * h * np.exp(2 * lp))
    assert survival_calibration(t, e, too_extreme, h).slope == pytest.approx(0.5, abs=0.05)


def test_calibration_observed_is_lifelines_kaplan_meier():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(4)
    x = rng.normal(size=200)
    t_event, t_cens = rng.exponential(1 / np.exp(0.7 * x)), rng.uniform(0, 3, 200)
    t, e = np.minimum(t_event, t_cens), t_event <= t_cens
    cal = survival_calibration(t, e, rng.uniform(size=200), 1.0, bins=2)
    km = KaplanMeierFitter().fit(t, e)
    assert cal.observed == pytest.approx(1 - km.predict(1.0), rel=1e-12)
    low, high = km.confidence_interval_survival_function_.asof(1.0)
    whole = _km_with_ci(t, e, 1.0)
    assert whole[1] == pytest.approx(1 - high, rel=1e-9) and whole[2] == pytest.approx(1 - low, rel=1e-9)
