"""Change alerts against a person's own baseline, on generated longitudinal data with known truth."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy import stats

from facehealth.report.alerts import alert_history, change_checks, check_change, rule_text
from facehealth.report.history import Visit


def test_the_threshold_is_the_t_prediction_interval_computed_by_hand():
    earlier = [10.0, 12.0, 11.0, 13.0]
    mean, sd, n = 11.5, float(np.std(earlier, ddof=1)), 4
    half = stats.t.ppf(0.975, n - 1) * sd * math.sqrt(1 + 1 / n)
    inside = check_change(earlier, mean + 0.99 * half, "age")
    outside = check_change(earlier, mean - 1.01 * half, "age")
    assert inside.status == "within" and outside.status == "alert" and outside.direction == "down"
    assert inside.low == pytest.approx(mean - half) and inside.high == pytest.approx(mean + half)
    assert inside.n_baseline == 4 and inside.baseline_mean == pytest.approx(mean)


def _people(rng, n_people, n_visits):
    """Each person: their own level and their own visit-to-visit noise (SD 0.5 to 5)."""
    level = rng.normal(50, 10, (n_people, 1))
    sd = rng.uniform(0.5, 5.0, (n_people, 1))
    return level + sd * rng.standard_normal((n_people, n_visits)), sd[:, 0]


def test_without_a_real_change_the_false_alarm_rate_is_at_its_nominal_level():
    rng = np.random.default_rng(0)
    for n_visits in (3, 5, 10):
        values, _ = _people(rng, 20_000, n_visits + 1)
        alarms = np.mean([check_change(v[:-1], v[-1], "age").alert for v in values])
        # Binomial SE at 5% and 20,000 people: 0.15 points; the bound is 4 SE.
        assert abs(alarms - 0.05) < 0.006, (n_visits, alarms)
    values, _ = _people(rng, 20_000, 9)
    strict = np.mean([check_change(v[:-1], v[-1], "age", alpha=0.01).alert for v in values])
    assert abs(strict - 0.01) < 0.003


def test_a_planted_change_of_four_of_the_persons_own_sds_is_detected():
    rng = np.random.default_rng(1)
    values, sd = _people(rng, 5_000, 9)
    shifted = values[:, -1] + 4.0 * sd * rng.choice([-1, 1], len(sd))
    checks = [check_change(v[:-1], x, "age") for v, x in zip(values, shifted, strict=True)]
    detected = np.mean([c.alert for c in checks])
    # Power of the 8-visit t rule at a 4 SD shift is about 0.89; a rule on a pooled (population)
    # SD would miss the low-noise people and over-flag the noisy ones.
    assert detected > 0.8, detected
    right_way = np.mean(
        [(c.direction == "up") == (x > v[:-1].mean()) for c, v, x in zip(checks, values, shifted) if c.alert]
    )
    assert right_way == 1.0


def test_a_gradual_drift_is_flagged_within_a_few_visits_and_a_stable_person_rarely():
    rng = np.random.default_rng(2)
    first_alarm, stable_alarms = [], 0
    for _ in range(500):
        noise = rng.standard_normal(16)
        drift = np.r_[np.zeros(8), np.arange(1, 9) * 1.0]  # from visit 9, one SD more each visit
        v = 60 + noise + drift
        flags = [check_change(v[max(0, i - 10) : i], v[i], "age").alert for i in range(8, 16)]
        first_alarm.append(flags.index(True) if True in flags else 99)
        stable = 60 + rng.standard_normal(16)
        stable_alarms += sum(check_change(stable[max(0, i - 10) : i], stable[i], "age").alert for i in range(8, 16))
    assert np.median(first_alarm) <= 3  # caught by the fourth drifting visit in most people
    assert stable_alarms / (500 * 8) < 0.07


def test_too_few_visits_say_so_and_skewed_markers_and_probabilities_use_their_own_scale():
    assert check_change([5.0, 6.0], 9.0, "age").status == "not_enough_visits"
    crp = check_change([1.0, 2.0, 4.0, 2.0], 2.0, "crp")
    assert crp.scale == "log"
    assert crp.baseline_mean == pytest.approx(2.0)  # geometric mean of 1, 2, 4, 2
    assert crp.low > 0  # never a negative concentration
    p = check_change([0.10, 0.12, 0.11, 0.09], 0.5, "cad", probability=True)
    assert p.scale == "logit" and p.alert and 0 < p.low < p.high < 1


def _visit(i, model="m1", age=50.0, cad=0.2):
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=30 * i)
    return Visit("p1", t, model, values={"age": age}, probabilities={"cad": cad}, risks={"survival": 0.1 * i})


def test_visits_of_another_model_are_not_a_baseline():
    visits = [_visit(i, "m1", 50 + (i % 2)) for i in range(5)] + [_visit(5, "m2", 70)]
    assert change_checks(visits)["age"].status == "not_enough_visits"
    visits[-1] = _visit(5, "m1", 70)
    checks = change_checks(visits)
    assert checks["age"].alert and checks["age"].direction == "up"
    assert set(checks) == {"age", "cad", "survival_risk"}
    history = alert_history(visits)
    assert len(history) == 6 and history[0]["age"].status == "not_enough_visits"
    assert "95 of 100" in rule_text() and "at least 3" in rule_text()
