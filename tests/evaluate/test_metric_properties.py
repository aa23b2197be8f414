"""Property-based tests (Hypothesis) of the metric maths: against the reference libraries on
arbitrary inputs, and the invariances a metric must have whatever the data."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from facehealth.evaluate.metrics import auroc, harrell_c_index, mae, pearson_r, rmse

FAST = settings(max_examples=60, deadline=None)
values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def paired(draw: st.DrawFn, min_size: int = 3) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_size, 60))
    return draw(arrays(np.float64, n, elements=values)), draw(arrays(np.float64, n, elements=values))


@st.composite
def labelled(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels with both classes, and scores (ties allowed)."""
    n = draw(st.integers(4, 60))
    y = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    assume(0 < y.sum() < n)
    return y, draw(arrays(np.float64, n, elements=st.integers(-20, 20).map(float)))


@FAST
@given(paired())
def test_errors_are_non_negative_ordered_and_shift_invariant(pair):
    y, p = pair
    assert 0 <= mae(y, p) <= rmse(y, p) + 1e-9  # RMSE >= MAE always (Jensen)
    assert mae(y + 7.0, p + 7.0) == np.float64(mae(y, p)) or abs(mae(y + 7.0, p + 7.0) - mae(y, p)) < 1e-6
    assert mae(y, y) == 0.0


@FAST
@given(paired())
def test_pearson_is_bounded_symmetric_and_scale_free(pair):
    y, p = pair
    assume(np.std(y) > 1e-3 and np.std(p) > 1e-3)
    r = pearson_r(y, p)
    assert -1 - 1e-9 <= r <= 1 + 1e-9
    assert abs(r - pearson_r(p, y)) < 1e-9
    assert abs(r - pearson_r(y, 3.0 * p + 2.0)) < 1e-6


@FAST
@given(labelled())
def test_auroc_matches_sklearn_flips_with_the_score_and_ignores_monotone_maps(data):
    from sklearn.metrics import roc_auc_score

    y, s = data
    a = auroc(y, s)
    assert abs(a - roc_auc_score(y, s)) < 1e-12
    assert abs(auroc(y, -s) - (1 - a)) < 1e-12
    assert abs(auroc(y, np.exp(s / 10)) - a) < 1e-12


@st.composite
def survival(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(3, 50))
    time = draw(arrays(np.float64, n, elements=st.integers(1, 30).map(float)))  # ties in time allowed
    event = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    assume(event.sum() > 0)
    risk = draw(arrays(np.float64, n, elements=st.integers(-5, 5).map(float)))  # ties in risk allowed
    return time, event, risk


@FAST
@given(survival())
def test_harrell_c_matches_lifelines_with_ties_in_time_and_risk(data):
    from lifelines.utils import concordance_index

    time, event, risk = data
    try:
        want = concordance_index(time, -risk, event)
    except ZeroDivisionError:  # lifelines: no admissible pairs
        assume(False)
    got = harrell_c_index(time, risk, event)
    assert abs(got - want) < 1e-12
    assert 0.0 <= got <= 1.0
