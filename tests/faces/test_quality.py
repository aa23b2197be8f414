from __future__ import annotations

import cv2
import numpy as np
import pytest

from facehealth.faces.quality import head_pose, sharpness
from facehealth.faces.records import Reason


def _only_face(pipeline, image):
    result = pipeline.process(image)
    assert len(result.faces) == 1
    return result.faces[0].quality


@pytest.mark.parametrize("name", ["obama.jpg", "obama2.jpg", "biden.jpg", "obama3.jpg"])
def test_good_portraits_pass(pipeline, read, name):
    quality = _only_face(pipeline, read(name))
    assert quality.passed, quality


def test_face_cut_by_the_border_is_flagged_partial(pipeline, read):
    quality = _only_face(pipeline, read("obama_partial_face.jpg"))
    assert quality.reasons[0] == Reason.PARTIAL and quality.outside_fraction > 0.1


def test_blur_darkness_and_size(pipeline, read):
    image = read("obama.jpg")
    assert Reason.BLURRY in _only_face(pipeline, cv2.GaussianBlur(image, (0, 0), 6)).reasons
    assert Reason.UNDEREXPOSED in _only_face(pipeline, (image * 0.12).astype(np.uint8)).reasons
    washed = np.clip(image.astype(int) + 100, 0, 255).astype(np.uint8)
    assert Reason.OVEREXPOSED in _only_face(pipeline, washed).reasons
    tiny = cv2.resize(image, (100, 125), interpolation=cv2.INTER_AREA)
    quality = _only_face(pipeline, tiny)
    assert Reason.TOO_SMALL in quality.reasons and quality.face_px < 40


def test_blur_score_falls_with_blur(pipeline, read):
    image = read("obama.jpg")
    scores = [_only_face(pipeline, cv2.GaussianBlur(image, (0, 0), s) if s else image).blur for s in (0, 2, 4)]
    assert scores[0] > scores[1] > scores[2]
    assert sharpness(np.full((50, 50), 90, np.uint8)) == 0.0


def test_cameraman_is_rejected(pipeline):
    """skimage's cameraman: a near-profile face half hidden by a camera must not pass."""
    from skimage import data

    result = pipeline.process(data.camera())
    assert not result.accepted
    reasons = set(result.rejected) | {r for f in result.faces for r in f.quality.reasons}
    assert reasons & {Reason.EXTREME_POSE, Reason.TOO_SMALL, Reason.NO_FACE}


def test_yaw_changes_sign_in_a_mirror_image(pipeline, read):
    image = read("obama2.jpg")
    q = _only_face(pipeline, image)
    mirrored = _only_face(pipeline, np.ascontiguousarray(image[:, ::-1]))
    assert abs(q.yaw) > 10
    assert np.sign(q.yaw) == -np.sign(mirrored.yaw)
    assert abs(q.yaw + mirrored.yaw) < 8


def test_roll_follows_an_in_plane_rotation(pipeline, read):
    image = read("obama.jpg")
    h, w = image.shape[:2]
    rotated = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), -15, 1.0), (w, h))
    base = _only_face(pipeline, image)
    turned = _only_face(pipeline, rotated)
    assert turned.roll - base.roll == pytest.approx(15, abs=3)


@pytest.mark.parametrize("true_yaw, true_pitch", [(0, 0), (30, 0), (-25, 0), (0, 20), (20, -15)])
def test_head_pose_recovers_the_rotation_of_a_projected_head(true_yaw, true_pitch):
    from facehealth.faces.quality import _MODEL_POINTS, _POSE_LANDMARKS

    yaw, pitch = np.radians(true_yaw), np.radians(true_pitch)
    r_yaw = np.array([[np.cos(yaw), 0, -np.sin(yaw)], [0, 1, 0], [np.sin(yaw), 0, np.cos(yaw)]])
    r_pitch = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    points = _MODEL_POINTS @ (r_pitch @ r_yaw).T + [0.0, 0.0, 500.0]
    landmarks = np.zeros((68, 2))
    landmarks[_POSE_LANDMARKS] = 640.0 * points[:, :2] / points[:, 2:] + [320.0, 240.0]
    landmarks[36:42], landmarks[42:48] = landmarks[36], landmarks[45]
    est_yaw, est_pitch, _ = head_pose(landmarks, (640, 480))
    # This yaw moves the nose to the image's right and this pitch moves it down: both positive.
    assert est_yaw == pytest.approx(true_yaw, abs=4)
    assert est_pitch == pytest.approx(true_pitch, abs=4)
