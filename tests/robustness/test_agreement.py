from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import cohen_kappa_score

from facehealth.evaluate.metrics import DegenerateMetricWarning
from facehealth.robustness.agreement import cohen_kappa, icc, icc_pair

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])


def test_icc_matches_shrout_fleiss_worked_example():
    # Published (Table 4): ICC(2,1) = .29, ICC(3,1) = .71; the exact ANOVA values are 0.28976 and 0.71484.
    assert icc(SHROUT_FLEISS, "2,1") == pytest.approx(0.28976, abs=1e-5)
    assert icc(SHROUT_FLEISS, "3,1") == pytest.approx(0.71484, abs=1e-5)
    assert round(icc(SHROUT_FLEISS, "2,1"), 2) == 0.29 and round(icc(SHROUT_FLEISS, "3,1"), 2) == 0.71


def test_icc_pair_properties():
    rng = np.random.default_rng(0)
    x = rng.normal(50, 10, 200)
    assert icc_pair(x, x) == pytest.approx(1.0)
    # A constant shift is a disagreement for absolute agreement (2,1) but not for consistency (3,1).
    assert icc_pair(x, x + 10, "3,1") == pytest.approx(1.0)
    assert icc_pair(x, x + 10, "2,1") < 0.75
    noisy = x + rng.normal(0, 10, 200)  # equal signal and noise variance: ICC ~ 0.5
    assert 0.35 < icc_pair(x, noisy) < 0.65
    with_nan = np.append(x, np.nan)
    assert icc_pair(with_nan, np.append(x, 3.0)) == pytest.approx(1.0)


def test_icc_degenerate_warns_and_returns_nan():
    with pytest.warns(DegenerateMetricWarning):
        assert np.isnan(icc_pair([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]))
    with pytest.warns(DegenerateMetricWarning):
        assert np.isnan(icc_pair([1.0], [2.0]))
    with pytest.raises(ValueError, match="kind"):
        icc(SHROUT_FLEISS, "1,1")


def test_kappa_equals_sklearn():
    rng = np.random.default_rng(3)
    for _ in range(20):
        k = int(rng.integers(2, 5))
        a = rng.integers(0, k, 60)
        b = np.where(rng.random(60) < 0.6, a, rng.integers(0, k, 60))
        assert_allclose(cohen_kappa(a, b), cohen_kappa_score(a, b), atol=1e-12)
    words = ["MDD", "healthy", "BPD", "healthy", "MDD", "healthy"]
    other = ["MDD", "healthy", "healthy", "healthy", "BPD", "healthy"]
    assert_allclose(cohen_kappa(words, other), cohen_kappa_score(words, other), atol=1e-12)


def test_kappa_degenerate_warns_and_returns_nan():
    with pytest.warns(DegenerateMetricWarning):
        assert np.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))
    with pytest.warns(DegenerateMetricWarning):
        assert np.isnan(cohen_kappa([], []))
