from __future__ import annotations

import cv2
import numpy as np
import pytest

from facehealth.errors import InputError
from facehealth.faces.landmarks import inter_ocular_distance, region_points
from facehealth.robustness.perturb import PERTURBATIONS, apply_perturbation
from facehealth.robustness.regions import INNER_LIPS, OUTER_LIPS, polygon_mask

COSMETIC = ("skin_smoothing", "brow_reshape", "lip_augmentation")


@pytest.fixture(scope="module")
def small(obama):
    """Half-size photo (keeps the 20 x 3 perturbation calls fast) and its landmarks."""
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
    for name in ("brightness", "blur", "noise", "makeup_lipstick", "occlusion_mask", *COSMETIC):
        diffs = [np.abs(PERTURBATIONS[name](image, s, landmarks).astype(int) - image).mean() for s in (1, 3, 5)]
        assert diffs[0] < diffs[1] < diffs[2], (name, diffs)


def test_landmark_perturbations_need_landmarks_and_bad_input_is_an_error(small):
    image, _ = small
    for name in ("yaw", *COSMETIC):
        with pytest.raises(InputError, match=f"{name}: needs the 68 face landmarks"):
            PERTURBATIONS[name](image, 3)
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


def _change(out: np.ndarray, image: np.ndarray) -> np.ndarray:
    """(H, W) largest absolute change over the three channels, in grey levels."""
    return np.abs(out.astype(int) - image).max(2)


def _laplacian_energy(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared Laplacian of the grey image inside ``mask``: the fine texture (pores, wrinkles)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float((cv2.Laplacian(grey, cv2.CV_32F)[mask > 0] ** 2).mean())


def test_skin_smoothing_stays_on_the_skin_and_removes_texture(obama):
    image, landmarks = obama
    shape, iod = image.shape[:2], inter_ocular_distance(landmarks)
    hull = polygon_mask(shape, cv2.convexHull(landmarks.astype(np.float32)).reshape(-1, 2))
    features = polygon_mask(shape, region_points(landmarks, "right_eye"), region_points(landmarks, "left_eye"),
                            landmarks[OUTER_LIPS])  # fmt: skip
    cheeks = np.zeros(shape, np.float32)
    for jaw, nostril in ((2, 31), (14, 35)):  # halfway between the jaw and the nostril
        centre = (landmarks[jaw] + landmarks[nostril]) / 2
        cv2.circle(cheeks, tuple(int(v) for v in centre), int(0.15 * iod), 1.0, -1)
    outs = {s: PERTURBATIONS["skin_smoothing"](image, s, landmarks) for s in (1, 5)}
    for out in outs.values():
        change = _change(out, image)
        assert change[hull == 0].max() == 0, "pixels outside the face hull must not change"
        assert change[features > 0].max() == 0, "eyes and mouth are cut out of the skin mask"
    texture = {s: _laplacian_energy(out, cheeks) / _laplacian_energy(image, cheeks) for s, out in outs.items()}
    assert texture[5] < 0.6 and texture[5] < texture[1] < 0.95, texture
    lift = outs[5][cheeks > 0].mean() - image[cheeks > 0].mean()
    assert 2 < lift < 20, f"slight brightening of the cheeks, got {lift:.1f} grey levels"


def _vertical_flow(image: np.ndarray, out: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K,) upward displacement (px) of ``points`` from ``image`` to ``out`` (Farneback optical flow)."""
    (x0, y0), (x1, y1) = points.min(0).astype(int) - 60, points.max(0).astype(int) + 60
    grey = [cv2.cvtColor(a[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY) for a in (image, out)]
    flow = cv2.calcOpticalFlowFarneback(*grey, None, 0.5, 3, 15, 3, 5, 1.2, 0)  # (h, w, 2): where each pixel went
    xy = np.round(points).astype(int) - [x0, y0]
    return -flow[xy[:, 1], xy[:, 0], 1]


def test_brow_reshape_raises_and_arches_the_brows_only(obama):
    image, landmarks = obama
    shape, iod = image.shape[:2], inter_ocular_distance(landmarks)
    brows = landmarks[17:27]
    band = polygon_mask(shape, np.vstack([brows - [0, 0.25 * iod], brows[::-1] + [0, 0.1 * iod]]))
    mouth = polygon_mask(shape, landmarks[OUTER_LIPS])
    lift = {}
    for s in (1, 5):
        out = PERTURBATIONS["brow_reshape"](image, s, landmarks)
        change = _change(out, image)
        assert change[band > 0].mean() > 5 and change[mouth > 0].max() <= 2, s
        lift[s] = _vertical_flow(image, out, brows) / iod
    assert lift[5].mean() > 2 * lift[1].mean() > 0
    tails, inner_ends = lift[5][[0, 1, 8, 9]], lift[5][[3, 4, 5, 6]]  # 17-18 and 25-26 vs 20-23
    assert tails.min() > 1.3 * inner_ends.max(), lift[5]  # arched: the outer parts rise most
    assert 0.03 < lift[5].max() < 0.1, lift[5]  # "a few %" of the inter-ocular distance


def test_lip_augmentation_fills_the_lips_vertically_only_around_the_mouth(obama, pipeline):
    image, landmarks = obama
    shape, iod = image.shape[:2], inter_ocular_distance(landmarks)
    mouth = polygon_mask(shape, landmarks[OUTER_LIPS])
    top = landmarks[17:27, 1].min()
    forehead = np.zeros(shape, np.float32)
    forehead[int(top - 0.6 * iod) : int(top - 0.15 * iod), int(landmarks[17, 0]) : int(landmarks[26, 0])] = 1
    out = PERTURBATIONS["lip_augmentation"](image, 5, landmarks)
    change = _change(out, image)
    assert change[mouth > 0].mean() > 10
    assert change[forehead > 0].mean() < 0.1 and change[forehead > 0].max() <= 3

    def height_and_width(lm: np.ndarray) -> np.ndarray:
        return np.array([lm[57, 1] - lm[51, 1], lm[54, 0] - lm[48, 0]])  # lip line: top to bottom, corner to corner

    before = height_and_width(landmarks)
    grow = {s: height_and_width(pipeline.process(PERTURBATIONS["lip_augmentation"](image, s, landmarks))
                                .faces[0].landmarks) / before for s in (1, 5)}  # fmt: skip
    assert grow[5][0] > 1.1 and grow[5][0] - 1 > 2 * (grow[5][1] - 1), grow  # fuller: taller far more than wider
    assert grow[5][0] > grow[1][0], grow
