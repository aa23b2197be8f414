from __future__ import annotations

import numpy as np
import pytest

from facehealth.faces.config import FacesConfig
from facehealth.faces.pipeline import FacePipeline, count_rejections
from facehealth.faces.records import Reason


@pytest.fixture(scope="module")
def policies(pipeline):
    """One pipeline per multi-face policy, sharing the loaded models."""
    return {
        p: FacePipeline(FacesConfig(multi_face=p), detector=pipeline.detector, landmarker=pipeline.landmarker)
        for p in ("all", "largest", "reject")
    }


def test_group_photo_policies_are_applied_and_counted(policies, read):
    image = read("group4.jpg")
    every = policies["all"].process(image)
    assert every.detected == 4 and len(every.faces) == 4
    assert all(f.landmarks.shape == (68, 2) for f in every.faces)

    largest = policies["largest"].process(image)
    assert largest.detected == 4 and len(largest.faces) == 1
    assert largest.rejected == {Reason.NOT_SELECTED: 3}
    assert largest.faces[0].detection.box.area == max(f.detection.box.area for f in every.faces)

    rejected = policies["reject"].process(image)
    assert rejected.faces == () and rejected.rejected == {Reason.MULTIPLE_FACES: 1}


def test_no_face_is_counted(pipeline):
    result = pipeline.process(np.full((300, 400, 3), 200, np.uint8), source="wall")
    assert result.faces == () and result.detected == 0
    assert count_rejections(result) == {Reason.NO_FACE: 1}


def test_rgba_png_gives_the_same_face_as_its_jpeg(pipeline, read):
    png = pipeline.process(read("32bit.png")).faces[0]
    jpg = pipeline.process(read("obama2.jpg")).faces[0]
    assert png.detection.box.iou(jpg.detection.box) > 0.95
    assert np.median(np.linalg.norm(png.landmarks - jpg.landmarks, axis=1)) < 3


def test_greyscale_and_rgba_arrays_are_accepted(pipeline, read):
    grey = read("obama.jpg").mean(axis=2).astype(np.uint8)
    assert len(pipeline.process(grey).accepted) == 1
    rgba = np.dstack([read("obama.jpg"), np.full(grey.shape, 255, np.uint8)])
    assert len(pipeline.process(rgba).accepted) == 1


def test_partial_face_is_kept_but_counted_as_rejected(pipeline, read):
    result = pipeline.process(read("obama_partial_face.jpg"))
    assert result.accepted == ()
    assert count_rejections(result) == {Reason.PARTIAL: 1}


def test_process_video_yields_sampled_frames(tmp_path, pipeline, read):
    import cv2

    from facehealth.faces.io import write_video

    face = cv2.resize(read("obama.jpg"), (320, 400))
    path = tmp_path / "clip.mp4"
    write_video(path, (np.roll(face, 4 * i, axis=1) for i in range(20)), fps=10)
    results = list(pipeline.process_video(path))  # default: 5 frames per second
    assert [r.frame_index for r in results] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert all(len(r.accepted) == 1 for r in results)


def test_frame_result_as_dict_is_json_ready_with_source_and_quality(policies):
    import json

    from tests.conftest import fixture_path

    result = policies["largest"].process_file(fixture_path("group4.jpg"))
    record = json.loads(json.dumps(result.as_dict()))  # plain JSON types only
    assert record["source"] == str(fixture_path("group4.jpg")) and record["frame_index"] is None
    assert (record["width"], record["height"]) == result.image_size and record["detected"] == 4
    assert record["rejected"] == {Reason.NOT_SELECTED: 3}
    assert record["quality"] == [result.faces[0].quality.as_dict()] == [record["faces"][0]["quality"]]
    assert len(record["faces"][0]["landmarks"]) == 68


def test_process_file_can_draw_the_result(pipeline, tmp_path, read):
    from facehealth.faces.draw import draw_faces
    from facehealth.faces.io import read_image
    from tests.conftest import fixture_path

    result = pipeline.process_file(fixture_path("obama.jpg"), draw_to=tmp_path / "d" / "drawn.png")
    drawn = read_image(tmp_path / "d" / "drawn.png")
    np.testing.assert_array_equal(drawn, draw_faces(read("obama.jpg"), result))
