from __future__ import annotations

import numpy as np
import pytest

from facehealth.errors import InputError
from facehealth.explain.overlay import grid, overlay, save_png, to_original
from facehealth.faces.io import read_image


def test_to_original_puts_a_crop_blob_on_the_face_in_the_photo(real_face):
    size = real_face.crop.shape[0]
    # A blob on the nose tip of the crop must land on the nose tip of the photo.
    tip_crop = real_face.landmarks_crop[30]
    yy, xx = np.mgrid[:size, :size]
    blob = np.exp(-((xx - tip_crop[0]) ** 2 + (yy - tip_crop[1]) ** 2) / (2 * 6.0**2)).astype(np.float32)
    mapped = to_original(blob, real_face.matrix.ravel(), real_face.photo.shape)
    assert mapped.shape == real_face.photo.shape[:2]
    peak = np.array(np.unravel_index(np.argmax(mapped), mapped.shape))[::-1]
    inverse = np.linalg.inv(np.vstack([real_face.matrix, [0, 0, 1]]))[:2]
    tip_photo = inverse[:, :2] @ tip_crop + inverse[:, 2]
    scale = np.hypot(*real_face.matrix[:, 0])
    assert np.linalg.norm(peak - tip_photo) < 2 / scale + 1
    # A 64-px map of the same blob gives the same placement once resized to the crop side.
    small = to_original(blob[::4, ::4][:56, :56], real_face.matrix, real_face.photo.shape, crop_size=size)
    assert np.linalg.norm(np.array(np.unravel_index(np.argmax(small), small.shape))[::-1] - tip_photo) < 6 / scale
    # Nothing outside the crop footprint.
    corners = to_original(np.ones((size, size), np.float32), real_face.matrix, real_face.photo.shape)
    assert corners.max() == pytest.approx(1.0) and corners.mean() < 0.9 and corners[0, 0] == 0


def test_overlay_tints_salient_pixels_and_keeps_the_rest(real_face, tmp_path):
    crop = real_face.crop
    sal = np.zeros(crop.shape[:2], np.float32)
    sal[100:140, 90:130] = 1.0
    out = overlay(crop, sal, alpha=0.6)
    assert out.shape == crop.shape and out.dtype == np.uint8
    assert np.array_equal(out[:50], crop[:50])  # zero saliency: the photo unchanged
    assert np.abs(out[100:140, 90:130].astype(int) - crop[100:140, 90:130]).mean() > 20
    path = save_png(tmp_path / "o.png", grid([out, crop], columns=2, labels=["cad", "photo"]))
    sheet = read_image(path)
    assert sheet.shape[0] > crop.shape[0] and sheet.shape[1] > 2 * crop.shape[1]
    with pytest.raises(InputError, match="alpha"):
        overlay(crop, sal, alpha=2)
