from __future__ import annotations

import numpy as np
import pytest

from facehealth.errors import InputError
from facehealth.explain.heatmap import gaussian_heatmap, overlay_heatmap
from facehealth.faces.landmarks import inter_ocular_distance


@pytest.fixture(scope="module")
def obama(pipeline, read):
    face = pipeline.process(read("obama.jpg")).faces[0]
    return face.aligned.image, face.aligned.to_crop(face.landmarks)


def test_heatmap_peaks_at_the_highest_weighted_landmark(obama):
    crop, lm = obama
    rng = np.random.default_rng(0)
    for target in (30, 48, 19):
        weights = rng.uniform(0, 0.3, 68)
        weights[target] = 1.0
        heat = gaussian_heatmap(lm, weights, crop.shape[:2])
        assert heat.shape == crop.shape[:2] and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
        y, x = np.unravel_index(heat.argmax(), heat.shape)
        # Neighbouring landmarks add their tails, so the peak sits near, not exactly on, the point.
        assert np.hypot(x + 0.5 - lm[target, 0], y + 0.5 - lm[target, 1]) < 0.1 * inter_ocular_distance(lm)


def test_single_landmark_gives_a_gaussian_of_the_requested_width(obama):
    crop, lm = obama
    weights = np.zeros(68)
    weights[30] = 2.0
    heat = gaussian_heatmap(lm, weights, crop.shape[:2], sigma_iod=0.2)
    sigma = 0.2 * inter_ocular_distance(lm)
    ys, xs = np.mgrid[0 : crop.shape[0], 0 : crop.shape[1]] + 0.5
    expected = np.exp(-((xs - lm[30, 0]) ** 2 + (ys - lm[30, 1]) ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(heat, expected / expected.max(), atol=1e-9)


def test_zero_weights_give_a_zero_map_and_leave_the_image_unchanged(obama):
    crop, lm = obama
    heat = gaussian_heatmap(lm, np.zeros(68), crop.shape[:2])
    assert not heat.any()
    np.testing.assert_array_equal(overlay_heatmap(crop, heat), crop)
    nan_heat = gaussian_heatmap(lm, np.full(68, np.nan), crop.shape[:2])
    assert not nan_heat.any()


def test_overlay_tints_only_where_the_map_is_hot(obama):
    crop, lm = obama
    weights = np.zeros(68)
    weights[48] = 1.0
    heat = gaussian_heatmap(lm, weights, crop.shape[:2], sigma_iod=0.1)
    out = overlay_heatmap(crop, heat, alpha=0.7)
    assert out.shape == crop.shape and out.dtype == np.uint8
    x, y = np.round(lm[48]).astype(int)
    assert np.abs(out[y, x].astype(int) - crop[y, x].astype(int)).sum() > 30  # the mouth corner is tinted
    np.testing.assert_array_equal(out[:20, :20], crop[:20, :20])  # a far corner is untouched


def test_bad_inputs_raise(obama):
    crop, lm = obama
    with pytest.raises(InputError, match=">= 0"):
        gaussian_heatmap(lm, -np.ones(68), (10, 10))
    with pytest.raises(InputError):
        gaussian_heatmap(lm, np.ones(5), (10, 10))
    with pytest.raises(InputError, match="uint8"):
        overlay_heatmap(crop.astype(np.float32), np.zeros(crop.shape[:2]))
