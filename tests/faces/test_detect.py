from __future__ import annotations

import cv2
import numpy as np
import pytest

from facehealth.errors import ConfigError, ModelNotFoundError
from facehealth.faces.blazeface import BlazeFaceDetector, _square_tiles, weighted_nms
from facehealth.faces.detect import FaceDetector, create_detector, list_detectors


@pytest.fixture(scope="module")
def blazeface() -> BlazeFaceDetector:
    return BlazeFaceDetector()


@pytest.mark.parametrize("name", ["obama.jpg", "obama2.jpg", "biden.jpg", "32bit.png"])
def test_one_face_in_single_portraits(blazeface, read, name):
    found = blazeface.detect(read(name))
    assert len(found) == 1
    box = found[0].box
    assert found[0].score > 0.8 and 150 < box.width < 450


def test_small_face_in_full_body_photo(blazeface, read):
    image = read("obama3.jpg")
    found = blazeface.detect(image)
    assert len(found) == 1
    # The face is in the upper fifth of a full-body photo, about 300 px wide.
    box = found[0].box
    assert box.y1 < 0.3 * image.shape[0] and 200 < box.width < 400


def test_tiny_faces_need_the_tiles(read):
    """A 1/4-scale obama3 (face ~75 px in a 358x583 photo) is found; tiling must not create duplicates."""
    image = cv2.resize(read("obama3.jpg"), None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    found = BlazeFaceDetector(tile=True).detect(image)
    assert len(found) == 1 and 50 < found[0].box.width < 110


def test_four_faces_in_group_photo(blazeface, read):
    found = blazeface.detect(read("group4.jpg"))
    assert len(found) == 4
    centres = sorted(d.box.center[0] for d in found)
    # One face per quarter of the 1403-px-wide composite.
    assert [int(c // (1403 / 4)) for c in centres] == [0, 1, 2, 3]


def test_package_shipped_portraits(blazeface):
    from matplotlib import cbook
    from skimage import data

    from facehealth.faces.io import read_image

    assert len(blazeface.detect(data.astronaut())) == 1
    assert len(blazeface.detect(read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))) == 1


def test_no_face_in_a_blank_or_noise_image(blazeface):
    assert blazeface.detect(np.full((480, 640, 3), 128, np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    assert blazeface.detect(noise) == []


def test_keypoints_sit_inside_the_box(blazeface, read):
    det = blazeface.detect(read("obama.jpg"))[0]
    kp = det.keypoints
    assert kp.shape == (6, 2)
    eyes, nose, mouth = kp[:2], kp[2], kp[3]
    assert (eyes[:, 1] < nose[1]).all() and nose[1] < mouth[1]
    assert (det.box.x0 < eyes[:, 0]).all() and (eyes[:, 0] < det.box.x1).all()


def test_registry_and_other_detectors(read):
    assert {"blazeface", "dlib_hog", "haar"} <= set(list_detectors())
    with pytest.raises(ConfigError, match="Did you mean: blazeface"):
        create_detector("blazefase")
    image = read("obama.jpg")
    for name in ("dlib_hog", "haar"):
        detector = create_detector(name)
        assert isinstance(detector, FaceDetector)
        found = detector.detect(image)
        assert len(found) >= 1
        best = max(found, key=lambda d: d.box.area)
        assert 200 < best.box.width < 400 and 0 < best.score < 1


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="model file not found"):
        BlazeFaceDetector(model_path=tmp_path / "nope.tflite")


def test_weighted_nms_merges_overlaps_and_keeps_separate_boxes():
    rows = np.array(
        [
            [0, 0, 10, 10] + [0] * 12,
            [1, 1, 11, 11] + [0] * 12,
            [50, 50, 60, 60] + [0] * 12,
        ],
        np.float32,
    )
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    out, s = weighted_nms(rows, scores, 0.3)
    assert len(out) == 2 and list(s) == pytest.approx([0.9, 0.8])
    # Score-weighted mean of the two overlapping boxes: (0*0.9 + 1*0.6) / 1.5 = 0.4
    assert out[0][:4] == pytest.approx([0.4, 0.4, 10.4, 10.4])


def test_square_tiles_cover_the_long_side_with_overlap():
    tiles = _square_tiles(1403, 360)
    assert tiles[0][0] == 0 and tiles[-1][0] + 360 == 1403
    assert all(side == 360 for *_, side in tiles)
    assert all(b[0] - a[0] <= 0.75 * 360 for a, b in zip(tiles, tiles[1:]))
