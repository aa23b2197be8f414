"""Every metric against its reference implementation, on random and edge-case inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from sklearn import metrics as skm

from facehealth.evaluate import metrics as m

SEEDS = range(5)


def _reg(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 15, 60)
    return y, y + rng.normal(0, 8, 60)


def _bin(seed, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random(80) < 0.35).astype(float)
    s = rng.random(80) + 0.4 * y
    if ties:
        s = np.round(s, 1)
    return y, s


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_match_sklearn_and_scipy(seed):
    y, p = _reg(seed)
    assert_allclose(m.mae(y, p), skm.mean_absolute_error(y, p), rtol=1e-12)
    assert_allclose(m.rmse(y, p), np.sqrt(skm.mean_squared_error(y, p)), rtol=1e-12)
    assert_allclose(m.r2(y, p), skm.r2_score(y, p), rtol=1e-9)
    assert_allclose(m.pearson_r(y, p), stats.pearsonr(y, p)[0], rtol=1e-9)
    q = np.round(p / 5)  # ties
    assert_allclose(m.spearman_rho(y, q), stats.spearmanr(y, q)[0], rtol=1e-9)


def test_bland_altman_by_hand():
    bias, low, high = m.bland_altman([1, 2, 3, 4], [2, 2, 5, 4])
    d = np.array([1, 0, 2, 0])
    assert bias == pytest.approx(0.75)
    assert (low, high) == pytest.approx((0.75 - 1.96 * d.std(ddof=1), 0.75 + 1.96 * d.std(ddof=1)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ties", [False, True])
def test_binary_metrics_match_sklearn(seed, ties):
    y, s = _bin(seed, ties)
    assert_allclose(m.auroc(y, s), skm.roc_auc_score(y, s), rtol=1e-12)
    assert_allclose(m.auprc(y, s), skm.average_precision_score(y, s), rtol=1e-12)
    pred = (s >= 0.5).astype(int)
    assert_allclose(m.accuracy(y, s), skm.accuracy_score(y, pred), rtol=1e-12)
    assert_allclose(m.balanced_accuracy(y, s), skm.balanced_accuracy_score(y, pred), rtol=1e-12)
    assert_allclose(m.sensitivity(y, s), skm.recall_score(y, pred), rtol=1e-12)
    assert_allclose(m.specificity(y, s), skm.recall_score(1 - y, 1 - pred), rtol=1e-12)
    assert_allclose(m.ppv(y, s), skm.precision_score(y, pred), rtol=1e-12)
    assert_allclose(m.npv(y, s), skm.precision_score(1 - y, 1 - pred), rtol=1e-12)
    assert_allclose(m.f1(y, s), skm.f1_score(y, pred), rtol=1e-12)
    prob = np.clip(s, 0, 1)
    assert_allclose(m.brier(y, prob), skm.brier_score_loss(y, prob), rtol=1e-12)


def test_expected_calibration_error_by_hand():
    y = [0, 1, 1, 0]
    p = [0.1, 0.15, 0.85, 0.95]  # bin 1: mean y 0.5 vs p 0.125; bin 8/9: y 1 vs .85, y 0 vs .95
    expected = 0.5 * abs(0.5 - 0.125) + 0.25 * abs(1 - 0.85) + 0.25 * abs(0 - 0.95)
    assert m.expected_calibration_error(y, p) == pytest.approx(expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_harrell_c_matches_lifelines(seed):
    from lifelines.utils import concordance_index

    rng = np.random.default_rng(seed)
    risk = rng.normal(size=70)
    time = np.round(rng.exponential(1 / np.exp(risk)), 1)  # rounded: tied times
    event = (rng.random(70) < 0.6).astype(float)
    risk[:10] = np.round(risk[:10])  # tied risks
    assert_allclose(m.harrell_c_index(time, risk, event), concordance_index(time, -risk, event), rtol=1e-9)


def test_degenerate_inputs_warn_and_return_nan():
    cases = [
        lambda: m.auroc([1, 1, 1], [0.2, 0.5, 0.9]),
        lambda: m.pearson_r([1, 2, 3], [5, 5, 5]),
        lambda: m.r2([2, 2, 2], [1, 2, 3]),
        lambda: m.harrell_c_index([1, 2, 3], [0.1, 0.2, 0.3], [0, 0, 0]),
        lambda: m.specificity([1, 1], [0.9, 0.8]),
        lambda: m.mae([], []),
    ]
    for case in cases:
        with pytest.warns(m.DegenerateMetricWarning):
            assert np.isnan(case())


def test_missing_values_are_dropped_and_bad_input_raises():
    assert m.mae([1, np.nan, 3], [1, 5, 4]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="0/1"):
        m.auroc([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="values"):
        m.mae([1, 2], [1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert m.auroc([0, 1], [0.2, 0.9]) == 1.0
