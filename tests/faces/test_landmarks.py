from __future__ import annotations

import dlib
import numpy as np
import pytest

from facehealth.faces.blazeface import BlazeFaceDetector
from facehealth.faces.landmarks import REGIONS, DlibLandmarker, eye_centres, inter_ocular_distance
from facehealth.faces.records import BoundingBox


@pytest.fixture(scope="module")
def models():
    return BlazeFaceDetector(), DlibLandmarker()


@pytest.mark.parametrize("name", ["obama.jpg", "obama2.jpg", "biden.jpg", "group4.jpg"])
def test_landmarks_are_anatomically_plausible(models, read, name):
    detector, landmarker = models
    image = read(name)
    for det in detector.detect(image):
        pts = landmarker.predict(image, det.box)
        assert pts.shape == (68, 2)
        box = det.box
        pad = 0.15 * box.width
        assert (pts[:, 0] > box.x0 - pad).all() and (pts[:, 0] < box.x1 + pad).all()
        assert (pts[:, 1] > box.y0 - pad).all() and (pts[:, 1] < box.y1 + pad).all()
        eyes_y = pts[36:48, 1].mean()
        nose_tip_y = pts[30, 1]
        mouth_y = pts[48:68, 1].mean()
        chin_y = pts[8, 1]
        assert pts[17:27, 1].mean() < eyes_y < nose_tip_y < mouth_y < chin_y
        left, right = eye_centres(pts)
        assert left[0] < pts[30, 0] < right[0]  # nose between the eyes horizontally


def test_blazeface_box_gives_landmarks_close_to_dlibs_own_detector(models, read):
    """dlib's predictor was trained on HOG boxes; after the box mapping the gap is about 1% of the eye distance."""
    detector, landmarker = models
    hog = dlib.get_frontal_face_detector()
    gaps = []
    for name in ["obama.jpg", "obama2.jpg", "biden.jpg"]:
        image = read(name)
        rect = hog(image, 1)[0]
        reference = landmarker.predict(
            image, BoundingBox(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), detector="dlib_hog"
        )
        ours = landmarker.predict(image, detector.detect(image)[0].box)
        gaps.append(np.median(np.linalg.norm(ours - reference, axis=1)) / inter_ocular_distance(reference))
    assert np.median(gaps) < 0.03, gaps


def test_region_table_covers_all_68_points():
    indices = sorted(i for group in REGIONS.values() for i in group)
    assert indices == list(range(68))


def test_groups_add_unions_and_parts_and_region_points_picks_them():
    from facehealth.faces.landmarks import GROUPS, region_points

    points = np.arange(136, dtype=np.float64).reshape(68, 2)
    assert GROUPS.items() >= REGIONS.items()
    np.testing.assert_array_equal(region_points(points, "brows"), points[17:27])
    np.testing.assert_array_equal(region_points(points, "right_eye"), points[36:42])
    assert GROUPS["outer_lips"] + GROUPS["inner_lips"] == REGIONS["mouth"] == tuple(range(48, 68))
    assert GROUPS["outer_lips"][-1] == 59
    with pytest.raises(KeyError, match="no landmark group 'ears'"):
        region_points(points, "ears")
