from __future__ import annotations

import numpy as np
import pytest

from facehealth.faces.align import align_face, similarity_from_eyes, template_eyes
from facehealth.faces.config import AlignConfig
from facehealth.faces.landmarks import eye_centres
from facehealth.faces.records import BoundingBox


def test_similarity_maps_both_points_exactly():
    src = np.array([[10.0, 20.0], [50.0, 35.0]])
    dst = np.array([[70.0, 85.0], [154.0, 85.0]])
    m = similarity_from_eyes(src, dst)
    mapped = src @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(mapped, dst, atol=1e-9)
    # A similarity: the linear part is a scaled rotation.
    a = m[:, :2]
    np.testing.assert_allclose(a @ a.T, np.eye(2) * (a[0, 0] ** 2 + a[1, 0] ** 2), atol=1e-9)


def test_coincident_points_raise():
    with pytest.raises(ValueError, match="coincide"):
        similarity_from_eyes(np.zeros((2, 2)), np.array([[0, 0], [1, 0]]))


@pytest.mark.parametrize("name", ["obama.jpg", "obama2.jpg", "biden.jpg", "obama3.jpg"])
def test_eyes_land_on_the_template_when_measured_again_on_the_crop(pipeline, read, name):
    """Landmarks predicted afresh on the aligned crop put the eye centres within 2 px of the template."""
    config = AlignConfig()
    face = pipeline.process(read(name)).faces[0]
    crop = face.aligned.image
    assert crop.shape == (config.size, config.size, 3)
    target = template_eyes(config)
    np.testing.assert_allclose(np.stack(eye_centres(face.aligned.to_crop(face.landmarks))), target, atol=1e-6)
    s = config.size
    again = pipeline.landmarker.predict(crop, BoundingBox(0.2 * s, 0.2 * s, 0.8 * s, 0.85 * s), detector="crop")
    redetected = np.stack(eye_centres(again))
    assert np.abs(redetected - target).max() < 2.0, (redetected, target)


def test_crop_maps_back_to_the_original(pipeline, read):
    face = pipeline.process(read("obama.jpg")).faces[0]
    back = face.aligned.to_original(face.aligned.to_crop(face.landmarks))
    np.testing.assert_allclose(back, face.landmarks, atol=1e-6)


def test_other_sizes_and_margins(pipeline, read):
    face = pipeline.process(read("biden.jpg")).faces[0]
    config = AlignConfig(size=112, eye_distance=0.4, eye_y=0.45)
    aligned = align_face(read("biden.jpg"), face.landmarks, config)
    assert aligned.image.shape == (112, 112, 3)
    np.testing.assert_allclose(np.stack(eye_centres(aligned.to_crop(face.landmarks))), template_eyes(config), atol=1e-6)
