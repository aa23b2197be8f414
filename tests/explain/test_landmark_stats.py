"""Digital facial map statistics: BH q-values, per-landmark tests, ranking and the map figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from facehealth.errors import InputError
from facehealth.explain.landmark_stats import benjamini_hochberg, digital_facial_map, landmark_significance

# --- Benjamini-Hochberg and the ranking ---------------------------------------------------------


def test_bh_matches_a_hand_example_and_scipy():
    # Sorted p: .005 .01 .03 .04 -> m p / i = .02 .02 .04 .04 (already monotone).
    np.testing.assert_allclose(benjamini_hochberg([0.01, 0.04, 0.03, 0.005]), [0.02, 0.04, 0.04, 0.02])
    # Step-up: 0.8 x 3/3 = 0.8 but 0.7 x 3/2 = 1.05 -> capped at 1, then min from the right keeps 0.8.
    np.testing.assert_allclose(benjamini_hochberg([0.7, 0.8, 0.1]), [0.8, 0.8, 0.3])
    p = np.random.default_rng(0).uniform(0, 1, 200) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"), rtol=1e-12)
    with_nan = benjamini_hochberg([0.01, np.nan, 0.02])
    assert np.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], [0.02, 0.02])  # m counts the 2 real p-values only


@pytest.fixture(scope="module")
def planted():
    """40 vs 35 subjects; landmarks 48-54 (and only they) shifted by 1.5 sd in group a."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(40, 68)), rng.normal(size=(35, 68))
    a[:, 48:55] += 1.5
    return a, b


def test_significance_finds_planted_landmarks_and_matches_scipy(planted):
    a, b = planted
    table = landmark_significance(a, b)
    assert list(table.columns) == [
        "landmark", "name", "region", "statistic", "p", "q", "effect", "mean_a", "mean_b", "rank", "score"
    ]  # fmt: skip
    assert set(table.nsmallest(7, "rank")["landmark"]) == set(range(48, 55))
    assert (table.loc[48:54, "q"] < 0.05).all() and (table.loc[48:54, "effect"] > 0.3).all()
    assert table.loc[50, "region"] == "mouth" and table.loc[50, "name"] == "mouth_50"
    u, p = stats.mannwhitneyu(a[:, 10], b[:, 10], alternative="two-sided")
    assert table.loc[10, "statistic"] == u and table.loc[10, "p"] == pytest.approx(p)
    assert table.loc[10, "effect"] == pytest.approx(2 * u / (40 * 35) - 1)
    np.testing.assert_allclose(table["q"], stats.false_discovery_control(table["p"], method="bh"))


def test_ranking_is_monotone_in_p_and_spans_zero_to_one(planted):
    table = landmark_significance(*planted, test="welch").sort_values("p")
    assert (np.diff(table["rank"].to_numpy()) > 0).all()
    assert (np.diff(table["score"].to_numpy()) <= 0).all()
    assert table["score"].max() == 1.0 and table["score"].min() == 0.0
    assert sorted(table["rank"]) == list(range(1, 69))


def test_welch_effect_is_hedges_g(planted):
    a, b = planted
    table = landmark_significance(a, b, test="welch")
    t, p = stats.ttest_ind(a[:, 50], b[:, 50], equal_var=False)
    pooled = np.sqrt((39 * a[:, 50].var(ddof=1) + 34 * b[:, 50].var(ddof=1)) / 73)
    g = (a[:, 50].mean() - b[:, 50].mean()) / pooled * (1 - 3 / (4 * 73 - 1))
    assert table.loc[50, "statistic"] == pytest.approx(t) and table.loc[50, "p"] == pytest.approx(p)
    assert table.loc[50, "effect"] == pytest.approx(g)


def test_untestable_landmarks_warn_get_nan_and_rank_last(planted):
    a, b = planted[0].copy(), planted[1].copy()
    a[:, 5] = b[:, 5] = 1.0
    with pytest.warns(RuntimeWarning, match="untestable"):
        table = landmark_significance(a, b)
    assert np.isnan(table.loc[5, "p"]) and np.isnan(table.loc[5, "q"])
    assert table.loc[5, "rank"] == 68 and table.loc[5, "score"] == 0.0
    with pytest.raises(InputError):
        landmark_significance(a[:, :10], b)


def test_digital_facial_map_writes_png_and_csv(planted, tmp_path):
    from PIL import Image

    table = landmark_significance(*planted)
    shape = np.stack([np.linspace(40, 180, 68), 100 + 30 * np.sin(np.arange(68))], axis=1)
    png = digital_facial_map(table, shape, tmp_path / "map.png", tmp_path / "landmark_significance.csv")
    assert np.asarray(Image.open(png).convert("RGB")).std() > 10
    back = pd.read_csv(tmp_path / "landmark_significance.csv")
    assert len(back) == 68 and back.loc[back["rank"] == 1, "landmark"].item() in range(48, 55)
