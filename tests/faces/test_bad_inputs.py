"""The bad-input corpus: every malformed file gets its named error or decodes; a folder of them
goes through `faces prepare` with every file counted and nothing lost or crashing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facehealth.faces.bad_inputs import write_bad_images, write_bad_videos
from facehealth.faces.io import iter_video_frames, read_image
from tests.conftest import fixture_path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad") / "images"
    return folder, write_bad_images(folder, fixture_path("obama.jpg"))


def test_each_bad_image_gets_its_named_error_and_each_odd_one_decodes(corpus):
    _, cases = corpus
    assert len(cases) >= 12 and (corpus[0] / "bomb_40000x40000.png").stat().st_size < 2_000_000
    for case in cases:
        if case.expect is None:
            rgb = read_image(case.path)
            assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8, case.name
        else:
            with pytest.raises(case.expect, match=case.match) as caught:
                read_image(case.path)
            assert case.path.name in str(caught.value), case.name  # the message names the file


def test_cmyk_sixteen_bit_and_palette_photos_keep_their_face(corpus, pipeline):
    folder, _ = corpus
    for name in ("cmyk.jpg", "sixteen_bit.png", "palette.png", "png_named.jpg", "polyglot.jpg", "animated.gif"):
        faces = pipeline.process(read_image(folder / name)).faces
        assert any(f.quality.passed for f in faces), name


def test_a_folder_of_bad_inputs_is_prepared_with_every_file_counted(corpus, tmp_path):
    from facehealth.config import load_config
    from facehealth.faces.config import FacesConfig
    from facehealth.faces.prepare import prepare_faces

    folder, cases = corpus
    videos = write_bad_videos(folder)
    summary = prepare_faces(folder, tmp_path / "out", load_config(FacesConfig), workers=1)
    errors = [c for c in cases if c.expect is not None] + videos
    assert summary.items == len(cases) + len(videos)  # none ignored, none lost
    assert summary.unreadable == len(errors)
    assert summary.crops >= 6  # the decodable face variants
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sum(saved["rejections"].values()) + saved["crops"] >= saved["items"] - 1  # the 1x1 image: no face


def test_bad_videos_are_clear_errors(tmp_path):
    from facehealth.errors import VideoError

    for case in write_bad_videos(tmp_path):
        with pytest.raises(VideoError):
            list(iter_video_frames(case.path))
