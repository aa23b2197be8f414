from __future__ import annotations

import numpy as np
import pytest

from facehealth.explain.regions import (
    REGIONS,
    aggregate_regions,
    compare_tasks,
    landmarks_to_crop,
    region_attribution,
    region_masks,
)


def test_every_region_is_present_inside_the_crop_and_regions_do_not_overlap(real_face):
    size = real_face.crop.shape[0]
    masks = region_masks(real_face.landmarks_crop, size)
    assert set(masks) == {*REGIONS, "other"}
    for name in REGIONS:
        assert masks[name].sum() > 0.002 * size * size, name  # at least ~100 px of a 224 crop
    stacked = np.stack(list(masks.values()))
    assert (stacked.sum(0) == 1).all()  # a partition: every pixel in exactly one region
    # Anatomy: forehead above the brows above the eyes above the nose tip above the mouth above the chin.
    ys = {n: np.nonzero(masks[n])[0].mean() for n in REGIONS}
    assert ys["forehead"] < ys["brows"] < ys["periorbital_left"] < ys["perioral"] < ys["chin_jaw"]
    xs = {n: np.nonzero(masks[n])[1].mean() for n in REGIONS}
    assert xs["ear_left"] < xs["cheek_left"] < xs["nose"] < xs["cheek_right"] < xs["ear_right"]
    # Each eye's landmarks lie in its periorbital region, the nose tip in the nose, lip points in perioral.
    lm = np.round(real_face.landmarks_crop).astype(int)
    for index, name in ((37, "periorbital_left"), (44, "periorbital_right"), (30, "nose"), (57, "perioral")):
        assert masks[name][lm[index, 1], lm[index, 0]], name


def test_landmarks_to_crop_applies_the_matrix():
    m = np.array([[2.0, 0.0, 5.0], [0.0, 2.0, -1.0]])
    assert np.allclose(landmarks_to_crop(np.array([[1.0, 2.0], [0.0, 0.0]]), m.ravel()), [[7, 3], [5, -1]])


def test_share_and_density_of_a_map_on_one_region(real_face):
    size = real_face.crop.shape[0]
    masks = region_masks(real_face.landmarks_crop, size)
    sal = masks["nose"].astype(float)
    a = region_attribution(sal, real_face.landmarks_crop)
    assert a.share["nose"] == pytest.approx(1.0) and sum(a.share.values()) == pytest.approx(1.0)
    assert a.density["nose"] == pytest.approx(size * size / masks["nose"].sum())
    assert a.ranking()[0] == "nose"
    uniform = region_attribution(np.ones((size, size)), real_face.landmarks_crop)
    assert all(v == pytest.approx(1.0) for v in uniform.density.values())  # density removes area
    assert uniform.share["forehead"] == pytest.approx(masks["forehead"].mean())
    # A low-resolution map is resized to the crop before measuring.
    small = region_attribution(np.ones((32, 32)), real_face.landmarks_crop, crop_size=size)
    assert small.share["nose"] == pytest.approx(uniform.share["nose"])


def _attributions(real_face, region, n, rng):
    masks = region_masks(real_face.landmarks_crop, real_face.crop.shape[0])
    out = []
    for _ in range(n):
        sal = 0.2 * rng.random(masks["other"].shape) + masks[region]  # region + noise everywhere
        out.append(region_attribution(sal, real_face.landmarks_crop))
    return out


def test_aggregate_gives_a_mean_inside_its_bootstrap_interval(real_face):
    rng = np.random.default_rng(0)
    attributions = _attributions(real_face, "perioral", 6, rng)
    summary = {s.region: s for s in aggregate_regions(attributions, list("aabbcc"), rng, n_boot=200)}
    top = summary["perioral"]
    assert top.n_subjects == 3 and top.low <= top.mean <= top.high
    assert top.mean > max(s.mean for r, s in summary.items() if r not in ("perioral", "other"))
    dens = aggregate_regions(attributions, list("aabbcc"), rng, measure="density", n_boot=50)
    assert max(dens, key=lambda s: s.mean).region == "perioral"


def test_compare_tasks_separates_different_regions_not_identical_ones(real_face):
    rng = np.random.default_rng(1)
    eyes = _attributions(real_face, "periorbital_left", 12, rng)
    ears = _attributions(real_face, "ear_right", 12, rng)
    same = compare_tasks(eyes, eyes, rng=rng)
    assert same.statistic == 0 and same.p_value == 1.0
    differ = compare_tasks(eyes, ears, rng=rng, n_permutations=999)
    assert differ.p_value <= 0.001 and differ.statistic > 0.5
    assert differ.difference["periorbital_left"] > 0 > differ.difference["ear_right"]
    noise = compare_tasks(eyes, _attributions(real_face, "periorbital_left", 12, rng), rng=rng)
    assert noise.p_value > 0.05  # two samples of the same behaviour
    with pytest.warns(RuntimeWarning):
        assert np.isnan(compare_tasks(eyes[:1], ears[:1]).p_value)
