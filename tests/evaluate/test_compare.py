from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from facehealth.evaluate.compare import delong_test, nested_cox_test


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
