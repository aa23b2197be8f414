"""Survival analysis, checked against the synthetic cohort's planted hazard ratios."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from facehealth.evaluate.survival import (
    cox_hazard_ratio,
    kaplan_meier_by_group,
    logrank_by_group,
    quartile_hazard_ratio,
    risk_quartiles,
)


@pytest.fixture(scope="module")
def large_truth(tmp_path_factory):
    """Labels of a 1,500-subject synthetic cohort (no images needed: photos are not read here)."""
    from facehealth.data.synth.model import SynthConfig, draw_subjects

    subjects = draw_subjects(SynthConfig(subjects=1500, seed=11), np.random.default_rng(11))
    frame = pd.DataFrame([s.row | s.latent for s in subjects])
    return frame.rename(columns={"survival_time": "time", "survival_event": "event"})


def test_adjusted_cox_recovers_the_planted_hazard_ratios(large_truth, synth_cohort):
    truth = json.loads((synth_cohort / "ground_truth.json").read_text())["survival"]["hazard_ratios"]
    data = large_truth.assign(age_decades=large_truth["age"] / 10, male=(large_truth["sex"] == "M").astype(float))
    frailty = cox_hazard_ratio(data, "frailty", ("age_decades", "male"))
    assert frailty.low < truth["frailty_per_sd"] < frailty.high
    age = cox_hazard_ratio(data, "age_decades", ("frailty", "male"))
    assert age.low < truth["age_per_decade"] < age.high
    assert frailty.events > 100 and frailty.adjusted_for == ("age_decades", "male")
    assert frailty.ph_test_min_p is not None and frailty.ph_test_min_p > 0.001  # hazards are proportional


def test_top_vs_bottom_quartile_of_a_real_risk_score(large_truth):
    data = large_truth.assign(score=large_truth["frailty"] + 0.47 * large_truth["age"] / 10)
    hr = quartile_hazard_ratio(data, "score", ("sex",))
    assert hr.hr > 3 and hr.p < 1e-6
    noise = large_truth.assign(score=np.random.default_rng(0).normal(size=len(large_truth)))
    null = quartile_hazard_ratio(noise, "score", ("sex",))
    assert null.low < 1 < null.high


def test_km_and_logrank_match_lifelines_directly(large_truth):
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    q = risk_quartiles(large_truth["frailty"].to_numpy())
    assert np.bincount(q)[1:].tolist() == [375] * 4
    curves = kaplan_meier_by_group(large_truth["time"], large_truth["event"], q)
    top = large_truth[q == 4]
    km = KaplanMeierFitter().fit(top["time"], top["event"])
    np.testing.assert_allclose(curves[4]["survival"].to_numpy(), km.survival_function_.iloc[:, 0].to_numpy())
    stat, p = logrank_by_group(large_truth["time"], large_truth["event"], q)
    ref = multivariate_logrank_test(large_truth["time"], q, large_truth["event"])
    assert stat == pytest.approx(ref.test_statistic) and p == pytest.approx(ref.p_value)
    # Planted: survival falls from the lowest to the highest frailty quartile.
    end = [curves[g]["survival"].iloc[-1] for g in (1, 2, 3, 4)]
    assert end[0] > end[3]
