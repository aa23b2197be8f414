from __future__ import annotations

import cv2
import numpy as np
import pytest

from facehealth.errors import InputError
from facehealth.robustness.perturb import PERTURBATIONS, apply_perturbation
from facehealth.robustness.regions import INNER_LIPS, OUTER_LIPS, polygon_mask


@pytest.fixture(scope="module")
def small(obama):
    """Half-size photo (keeps the 17 x 3 perturbation calls fast) and its landmarks."""
    image, landmarks = obama
    h, w = image.shape[:2]
    return cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA), landmarks / 2


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_identity_at_zero_change_at_five_shape_dtype_and_seeded(name, small):
    image, landmarks = small
    p = PERTURBATIONS[name]
    same = p(image, 0, landmarks, np.random.default_rng(1))
    assert np.array_equal(same, image) and same is not image
    a = p(image, 5, landmarks, np.random.default_rng(7))
    b = p(image, 5, landmarks, np.random.default_rng(7))
    assert a.shape == image.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    (x0, y0), (x1, y1) = landmarks.min(0).astype(int), landmarks.max(0).astype(int)
    change = np.percentile(np.abs(a.astype(int) - image)[y0:y1, x0:x1].max(2), 99)
    assert change >= 10, f"severity 5 should visibly change the face ({change:.1f} grey levels)"
    # Pure: the input is not modified in place.
    assert np.array_equal(image, small[0])


def test_severity_grows_the_change(small):
    image, landmarks = small
    for name in ("brightness", "blur", "noise", "makeup_lipstick", "occlusion_mask"):
        diffs = [np.abs(PERTURBATIONS[name](image, s, landmarks).astype(int) - image).mean() for s in (1, 3, 5)]
        assert diffs[0] < diffs[1] < diffs[2], (name, diffs)


def test_landmark_perturbations_need_landmarks_and_bad_input_is_an_error(small):
    image, _ = small
    with pytest.raises(InputError, match="landmarks"):
        PERTURBATIONS["yaw"](image, 3)
    with pytest.raises(InputError, match="severity"):
        PERTURBATIONS["blur"](image, 6)
    with pytest.raises(InputError, match="uint8"):
        PERTURBATIONS["blur"](image.astype(np.float32), 1)
    with pytest.raises(InputError, match="makeup"):
        apply_perturbation("makup", image, 1)


def test_lipstick_stays_on_the_lips(obama):
    image, landmarks = obama
    out = PERTURBATIONS["makeup_lipstick"](image, 5, landmarks)
    change = np.abs(out.astype(int) - image).sum(2).astype(float)
    lips = polygon_mask(image.shape[:2], landmarks[OUTER_LIPS]) - polygon_mask(image.shape[:2], landmarks[INNER_LIPS])
    near = cv2.dilate(lips, np.ones((9, 9), np.uint8))  # the soft edge spills a few pixels
    assert change[near > 0].sum() / change.sum() > 0.95
    # Lips turn redder relative to green.
    inside = lips > 0
    redness = (out[inside, 0].astype(int) - out[inside, 1]).mean()
    assert redness > (image[inside, 0].astype(int) - image[inside, 1]).mean() + 20


def test_yaw_moves_the_nose_horizontally_and_pitch_vertically(obama, pipeline):
    image, landmarks = obama

    def nose_offset(img):
        face = pipeline.process(img).faces[0]
        lm = face.landmarks
        centre = (lm[0] + lm[16]) / 2  # between the jaw ends, which the warp barely moves
        return lm[30] - centre, face.quality

    (dx0, dy0), q0 = nose_offset(image)
    (dx, dy), q = nose_offset(PERTURBATIONS["yaw"](image, 3, landmarks))
    half_width = (landmarks[16, 0] - landmarks[0, 0]) / 2
    assert dx - dx0 > 0.1 * half_width  # the nose tip moved towards the image's right
    assert abs(dy - dy0) < 0.5 * abs(dx - dx0)
    assert q.yaw > q0.yaw + 10  # and the quality gate's pose estimate follows
    (dx, dy), q = nose_offset(PERTURBATIONS["pitch"](image, 3, landmarks))
    assert dy - dy0 > 0 and q.pitch > q0.pitch + 10


def test_occlusion_and_blur_drive_the_quality_gate(obama, pipeline):
    """Heavy blur is rejected; a heavy mask is still detected (as BlazeFace does with real masks),
    but its landmarks (fitted to a masked jaw) move: the gate's pose estimate shifts strongly."""
    image, landmarks = obama
    q0 = pipeline.process(image).faces[0].quality
    blurred = pipeline.process(PERTURBATIONS["blur"](image, 5, landmarks)).faces[0].quality
    assert q0.passed and "blurry" in blurred.reasons
    masked = pipeline.process(PERTURBATIONS["occlusion_mask"](image, 5, landmarks)).faces
    assert masked, "the detector still finds a masked face"
    assert abs(masked[0].quality.yaw - q0.yaw) > 10
    dark = pipeline.process(PERTURBATIONS["brightness"](image, 5, landmarks))
    assert dark.faces[0].quality.brightness < 0.5 * q0.brightness
