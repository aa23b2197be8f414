from __future__ import annotations

import numpy as np
import pytest

from facehealth.evaluate import bootstrap_ci
from facehealth.evaluate.metrics import auroc, mae


def test_reproducible_with_the_same_generator_and_covers_the_estimate():
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.4).astype(float)
    s = rng.random(200) + 0.5 * y
    a = bootstrap_ci(auroc, [y, s], np.random.default_rng(1), n_boot=300)
    b = bootstrap_ci(auroc, [y, s], np.random.default_rng(1), n_boot=300)
    assert a == b
    assert a.low < a.value < a.high and 0.5 < a.value < 1.0
    assert a.n_subjects == 200 and "CI" in str(a)


def test_subjects_not_images_are_resampled():
    """Ten photos per subject carry the evidence of one subject: the interval must not shrink."""
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, 40)
    p = y + rng.normal(0, 1, 40)
    per_subject = bootstrap_ci(mae, [y, p], np.random.default_rng(2), n_boot=400)
    rows = np.repeat(np.arange(40), 10)
    as_images = bootstrap_ci(mae, [y[rows], p[rows]], np.random.default_rng(2), n_boot=400)
    grouped = bootstrap_ci(mae, [y[rows], p[rows]], np.random.default_rng(2), groups=rows, n_boot=400)
    width = lambda ci: ci.high - ci.low  # noqa: E731
    assert grouped.n_subjects == 40 and grouped.n_rows == 400
    assert width(grouped) == pytest.approx(width(per_subject), rel=0.25)
    assert width(as_images) < 0.6 * width(grouped)  # what resampling images would wrongly report


def test_undefined_resamples_are_counted():
    y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0])
    s = np.linspace(0, 1, 10)
    ci = bootstrap_ci(auroc, [y, s], np.random.default_rng(0), n_boot=200)
    assert ci.n_failed > 0 and ci.value == 1.0
    with pytest.raises(ValueError, match="same length"):
        bootstrap_ci(auroc, [y, s[:5]], np.random.default_rng(0))
