"""IPCW survival metrics against scikit-survival, hand-computed values and degenerate input.

scikit-survival is the reference and a pinned test dependency (the `test` extra, requirements.lock),
so it is imported plainly: without it this module fails to collect rather than skipping.
"""

from __future__ import annotations

import numpy as np
import pytest
import sksurv.metrics as sksurv_metrics
from numpy.testing import assert_allclose
from sksurv.linear_model.coxph import BreslowEstimator
from sksurv.util import Surv

from facehealth.evaluate import survival_metrics as sm
from facehealth.evaluate.metrics import DegenerateMetricWarning, harrell_c_index
from facehealth.evaluate.survival_calibration import survival_calibration


def _draw(rng: np.random.Generator, n: int, round_to: int | None = None) -> tuple[np.ndarray, ...]:
    """Exponential survival with log-hazard 0.7 x, uniform censoring; the risk is a noisy x."""
    x = rng.normal(size=n)
    t_event = rng.exponential(1 / np.exp(0.7 * x))
    t_cens = rng.uniform(0, 3, n)
    time, event = np.minimum(t_event, t_cens), t_event <= t_cens
    risk = x + 0.3 * rng.normal(size=n)
    if round_to is not None:  # many tied times, and tied risks
        time, risk = np.round(time, round_to) + 0.01, np.round(risk, 1)
    return time, event, risk


@pytest.fixture(params=[None, 1], ids=["continuous", "ties"])
def data(request):
    rng = np.random.default_rng(7)
    train = _draw(rng, 300, request.param)
    test = _draw(rng, 150, request.param)
    inside = test[0] < train[0].max()  # sksurv refuses test times beyond the training follow-up
    return train, tuple(a[inside] for a in test)


def _surv(time, event):  # noqa: ANN001, ANN202
    return Surv.from_arrays(np.asarray(event, bool), time)


@pytest.mark.parametrize("tau", [None, 1.5])
def test_uno_c_matches_sksurv(data, tau):
    (tt, te, _), (t, e, r) = data
    ref = sksurv_metrics.concordance_index_ipcw(_surv(tt, te), _surv(t, e), r, tau=tau)[0]
    assert_allclose(sm.uno_c_index(tt, te, t, e, r, tau=tau), ref, rtol=1e-9)


def test_uno_c_without_censoring_in_train_is_harrell(data):
    (tt, _, _), (t, e, r) = data
    # G = 1 everywhere, so every weight is 1 and Uno's C reduces to Harrell's.
    assert_allclose(sm.uno_c_index(tt, np.ones_like(tt), t, e, r), harrell_c_index(t, r, e), rtol=1e-12)


def test_time_dependent_auc_matches_sksurv(data):
    (tt, te, _), (t, e, r) = data
    times = np.quantile(t[e], [0.2, 0.5, 0.8])
    auc, mean_auc = sm.cumulative_dynamic_auc(tt, te, t, e, r, times)
    ref_auc, ref_mean = sksurv_metrics.cumulative_dynamic_auc(_surv(tt, te), _surv(t, e), r, times)
    assert_allclose(auc, ref_auc, rtol=1e-9)
    assert_allclose(mean_auc, ref_mean, rtol=1e-9)


def test_breslow_brier_and_ibs_match_sksurv(data):
    (tt, te, tr), (t, e, r) = data
    # sksurv's baseline returns H0(first event) before the first event; start the grid after it.
    grid = np.linspace(max(tt[te].min(), t.min()), 0.95 * t.max(), 20)
    mine = sm.breslow_survival(tt, te, tr, r, grid)
    fitted = BreslowEstimator().fit(tr, te, tt)
    ref = np.array([fn(grid) for fn in fitted.get_survival_function(r)])
    assert_allclose(mine, ref, rtol=1e-9)
    y_train, y_test = _surv(tt, te), _surv(t, e)
    assert_allclose(
        sm.brier_score(tt, te, t, e, mine, grid), sksurv_metrics.brier_score(y_train, y_test, ref, grid)[1], rtol=1e-9
    )
    ibs = sm.integrated_brier_score(tt, te, t, e, mine, grid)
    assert_allclose(ibs, sksurv_metrics.integrated_brier_score(y_train, y_test, ref, grid), rtol=1e-9)


def test_hand_computed_auc_and_uno():
    # Train without censoring: G = 1. Test: events at 1 and 2, controls (T > 2.5) at 3 and 4.
    tt, te = np.array([1.0, 2.0, 3.0, 5.0]), np.ones(4)
    t, e = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 1, 0, 1])
    r = np.array([0.9, 0.2, 0.5, 0.1])
    # Cases {0.9, 0.2} vs controls {0.5, 0.1}: pairs won 2 + 1 = 3 of 4.
    auc, _ = sm.cumulative_dynamic_auc(tt, te, t, e, r, [2.5])
    assert auc[0] == pytest.approx(0.75)
    # Comparable pairs (i event, T_j > T_i): (0,1)(0,2)(0,3) won 3; (1,2)(1,3) won 1 of 2; (3,-) none.
    assert sm.uno_c_index(tt, te, t, e, r) == pytest.approx(4 / 5)
    # With censoring in train the weights change: G(t) drops to 2/3 after the censoring at 1.5.
    g = sm.censoring_survival([1.0, 1.5, 2.0, 3.0], [1, 0, 1, 1], [1.0, 1.5, 2.9])
    assert_allclose(g, [1.0, 2 / 3, 2 / 3])  # at 1.5: 3 at risk (1.5, 2, 3), one censored


def test_all_censored_gives_nan_with_a_warning(data):
    (tt, te, tr), (t, _, r) = data
    none = np.zeros_like(t)
    with pytest.warns(DegenerateMetricWarning):
        assert np.isnan(sm.uno_c_index(tt, te, t, none, r))
    with pytest.warns(DegenerateMetricWarning):
        auc, mean_auc = sm.cumulative_dynamic_auc(tt, te, t, none, r, [0.5, 1.0])
    assert np.isnan(auc).all() and np.isnan(mean_auc)
    with pytest.raises(ValueError, match="censored"):  # sksurv refuses what we report as NaN
        sksurv_metrics.concordance_index_ipcw(_surv(tt, te), _surv(t, none), r)
    surv = sm.breslow_survival(tt, te, tr, r, [0.5])
    with pytest.warns(DegenerateMetricWarning):  # the calibration slope needs events
        cal = survival_calibration(t, none, surv[:, 0], 0.5, bins=5)
    assert np.isnan(cal.slope) and cal.observed == 0.0


def test_one_event(data):
    (tt, te, _), (t, _, r) = data
    e = np.zeros_like(t, dtype=bool)
    e[np.argsort(t)[len(t) // 3]] = True
    ref = sksurv_metrics.concordance_index_ipcw(_surv(tt, te), _surv(t, e), r)[0]
    assert_allclose(sm.uno_c_index(tt, te, t, e, r), ref, rtol=1e-9)
    h = np.sort(t)[len(t) // 2]
    ref_auc = sksurv_metrics.cumulative_dynamic_auc(_surv(tt, te), _surv(t, e), r, [h])[0]
    assert_allclose(sm.cumulative_dynamic_auc(tt, te, t, e, r, [h])[0], ref_auc, rtol=1e-9)


def test_horizons_outside_follow_up_give_nan(data):
    (tt, te, tr), (t, e, r) = data
    beyond = t.max() + 1
    with pytest.warns(DegenerateMetricWarning):
        auc, mean_auc = sm.cumulative_dynamic_auc(tt, te, t, e, r, [1.0, beyond])
    assert np.isnan(auc[1]) and mean_auc == pytest.approx(auc[0])  # the valid time alone
    with pytest.warns(DegenerateMetricWarning):
        surv = sm.breslow_survival(tt, te, tr, r, [1.0, tt.max() + 1])
    assert np.isnan(surv[:, 1]).all() and np.isfinite(surv[:, 0]).all()
    with pytest.warns(DegenerateMetricWarning):
        brier = sm.brier_score(tt, te, t, e, np.full((len(t), 2), 0.5), [1.0, beyond])
    assert np.isfinite(brier[0]) and np.isnan(brier[1])
    with pytest.warns(DegenerateMetricWarning):  # an event after the training follow-up: G unknown
        assert np.isnan(sm.uno_c_index(tt[tt < 1], te[tt < 1], t, e, r))
    assert np.isfinite(sm.uno_c_index(tt[tt < 1], te[tt < 1], t, e, r, tau=0.5))
