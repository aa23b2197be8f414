from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from facehealth.evaluate.compare import delong_test, nested_cox_test
from facehealth.evaluate.conformal import ConformalClassifier, ConformalRegressor, coverage


def _scores(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    latent = rng.normal(size=n) + 1.0 * y
    a = latent + rng.normal(0, 0.5, n)
    b = latent + rng.normal(0, 1.5, n)  # noisier: lower AUC, correlated with a
    return y, a, b


def test_delong_aucs_equal_sklearn_and_variance_matches_the_bootstrap():
    y, a, b = _scores(0)
    result = delong_test(y, a, b)
    assert result.auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert result.auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    rng = np.random.default_rng(1)
    diffs = []
    for _ in range(800):
        i = rng.integers(0, len(y), len(y))
        diffs.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    assert result.se == pytest.approx(np.std(diffs), rel=0.15)
    assert result.p < 0.01 and result.low > 0


def test_delong_is_symmetric_and_null_for_identical_scores():
    y, a, b = _scores(2)
    ab, ba = delong_test(y, a, b), delong_test(y, b, a)
    assert ab.z == pytest.approx(-ba.z) and ab.p == pytest.approx(ba.p)
    same = delong_test(y, a, a)
    assert same.difference == 0 and same.p == 1.0
    with pytest.raises(ValueError, match="at least 2 positives"):
        delong_test([1, 0, 0], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])


def test_nested_cox_detects_an_informative_second_score_and_not_a_useless_one():
    rng = np.random.default_rng(0)
    n = 600
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    t = rng.exponential(1 / np.exp(0.7 * x1 + 0.5 * x2))
    c = rng.uniform(0, 3, n)
    frame = pd.DataFrame(
        {"time": np.minimum(t, c), "event": (t <= c).astype(float), "x1": x1, "x2": x2, "noise": rng.normal(size=n)}
    )
    useful = nested_cox_test(frame, ("x1",), ("x2",))
    assert useful.p < 1e-6 and useful.c_full > useful.c_base
    useless = nested_cox_test(frame, ("x1", "x2"), ("noise",))
    assert useless.p > 0.01 and useless.df == 1


def test_conformal_intervals_and_sets_reach_their_coverage():
    rng = np.random.default_rng(0)
    y = rng.normal(50, 15, 4000)
    pred = y + rng.normal(0, 5, 4000)
    reg = ConformalRegressor.fit(y[:2000], pred[:2000], alpha=0.1)
    low, high = reg.interval(pred[2000:])
    assert 0.88 < coverage(low, high, y[2000:]) < 0.92
    assert reg.q == pytest.approx(5 * 1.645, rel=0.08)  # |N(0, 5)| 90% quantile
    labels = rng.integers(0, 3, 4000)
    logits = rng.normal(size=(4000, 3)) + 2.0 * np.eye(3)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    clf = ConformalClassifier.fit(labels[:2000], probs[:2000], alpha=0.1)
    sets = clf.sets(probs[2000:])
    covered = sets[np.arange(2000), labels[2000:]].mean()
    assert 0.88 < covered < 0.93 and sets.sum(1).mean() < 3


def test_conformal_quantile_is_the_kth_smallest_residual():
    """n = 20, alpha = 0.1: k = ceil(21 * 0.9) = 19, so q is the 19th smallest |residual| (not the 20th)."""
    residuals = np.arange(1.0, 21.0)  # |y - pred| = 1..20
    reg = ConformalRegressor.fit(residuals, np.zeros(20), alpha=0.1)
    assert reg.q == 19.0
    # Too few calibration subjects for the level (k = 10 > n = 5): the largest residual.
    assert ConformalRegressor.fit(np.arange(1.0, 6.0), np.zeros(5), alpha=0.1).q == 5.0
