"""The bad-input corpus: every malformed file gets its named error or decodes; a folder of them
goes through `faces prepare` with every file counted and nothing lost or crashing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
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
    videos = write_bad_videos(folder, fixture_path("obama.jpg"))
    summary = prepare_faces(folder, tmp_path / "out", load_config(FacesConfig), workers=1)
    errors = [c for c in cases + videos if c.expect is not None]
    assert summary.items == len(cases) + len(videos) and summary.ignored_files == 0  # none ignored, none lost
    assert summary.unreadable == len(errors)
    assert summary.crops >= 6 + 15  # the decodable face variants, and the video's 15 sampled frames
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sum(saved["rejections"].values()) + saved["crops"] >= saved["items"] - 1 + 14  # the 1x1 image: no face
    # The changing video: 15 frames sampled at 5 fps, each counted (a crop or a rejection), each
    # crop's coordinates tagged with its own frame's size, the item's warning naming both changes.
    items = pd.read_parquet(tmp_path / "out" / "items.parquet").set_index("media_id").loc["resolution_change"]
    manifest = pd.read_parquet(tmp_path / "out" / "manifest.parquet").query("media_id == 'resolution_change'")
    rejected = pd.read_parquet(tmp_path / "out" / "rejections.parquet").query("media_id == 'resolution_change'")
    assert items["frames"] == 15 and items["crops"] + rejected["count"].sum() == 15 and items["error"] is None
    sizes = list(zip(manifest["frame_width"], manifest["frame_height"]))
    assert list(dict.fromkeys(sizes)) == [(640, 480), (320, 240), (640, 360)]
    small = manifest[manifest["frame_width"] == 320]
    assert small["box"].map(lambda b: b[2] <= 320 and b[3] <= 240).all()  # boxes in their own frame's pixels
    assert (
        items["warning"]
        == saved["warnings"]["resolution_change"]
        == ("resolution changed at frame 25: 640x480 -> 320x240; at frame 50: 320x240 -> 640x360 (2 changes)")
    )


def test_each_bad_video_gets_its_named_error_and_the_changing_one_reads_every_frame(tmp_path):
    cases = write_bad_videos(tmp_path, fixture_path("obama.jpg"))
    assert [c.expect for c in cases].count(None) == 1
    for case in cases:
        if case.expect is not None:
            with pytest.raises(case.expect, match=case.match) as caught:
                list(iter_video_frames(case.path))
            assert case.path.name in str(caught.value), case.name
            continue
        assert case.path.stat().st_size < 300_000  # a few seconds, small enough to generate per test run
        frames = list(iter_video_frames(case.path))
        sizes = [(f.image.shape[1], f.image.shape[0]) for f in frames]
        assert len(frames) == case.frames == 75 and [f.index for f in frames] == list(range(75))
        assert list(dict.fromkeys(sizes)) == list(case.sizes) == [(640, 480), (320, 240), (640, 360)]
        assert sizes[24:26] == [(640, 480), (320, 240)] and sizes[49:51] == [(320, 240), (640, 360)]
        times = [f.timestamp for f in frames]
        assert times == sorted(times) and len(set(times)) == 75  # the segments' clocks continue each other
