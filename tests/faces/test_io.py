from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from PIL import Image

from facehealth.errors import (
    CorruptImageError,
    FaceHealthError,
    InputError,
    InputTooLargeError,
    OutputError,
    UnsupportedInputError,
    VideoError,
)
from facehealth.faces.io import (
    iter_video_frames,
    media_kind,
    probe_video,
    read_image,
    to_rgb_array,
    write_image,
    write_video,
)
from tests.conftest import fixture_path


def test_jpeg_reads_as_rgb_uint8():
    img = read_image(fixture_path("obama.jpg"))
    assert img.shape == (1137, 910, 3) and img.dtype == np.uint8


def test_rgba_png_is_composited_to_rgb_and_matches_the_jpeg_source(read):
    rgba = read("32bit.png")
    assert Image.open(fixture_path("32bit.png")).mode == "RGBA"
    assert rgba.shape == read("obama2.jpg").shape
    # Same photo: the mean absolute difference is small (JPEG vs PNG re-encoding only).
    assert np.abs(rgba.astype(int) - read("obama2.jpg").astype(int)).mean() < 8


def test_transparent_pixels_become_white():
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., 0] = 255  # red, fully transparent
    assert (to_rgb_array(Image.fromarray(arr, "RGBA")) == 255).all()


@pytest.mark.parametrize("mode", ["L", "I;16", "P", "CMYK"])
def test_other_modes(tmp_path, mode):
    base = Image.fromarray(np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1)), "L")
    if mode == "I;16":
        img = Image.fromarray(np.asarray(base).astype(np.uint16) * 257)
        path = tmp_path / "x.png"
    else:
        img = base.convert(mode)
        path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    img.save(path)
    assert Image.open(path).mode.startswith(mode[0])
    out = read_image(path)
    assert out.shape == (32, 64, 3) and out.dtype == np.uint8
    # A horizontal grey ramp stays a ramp, whatever the mode it was stored in.
    assert out[0, -1, 0] > out[0, 0, 0] + 200


def test_webp(tmp_path, read):
    path = tmp_path / "face.webp"
    Image.fromarray(read("obama.jpg")).save(path, quality=90)
    assert read_image(path).shape == read("obama.jpg").shape


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif, quality=100)
    out = read_image(path)
    assert out.shape[:2] == (40, 20)  # displayed portrait
    assert out[:15].mean() > 200 and out[-15:].mean() < 50  # white half ends on top


def test_corrupt_empty_and_non_image_files(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(fixture_path("obama.jpg").read_bytes()[:5000])
    with pytest.raises(CorruptImageError, match="empty"):
        read_image(empty)
    with pytest.raises(CorruptImageError, match="not a readable image"):
        read_image(text)
    with pytest.raises(CorruptImageError, match="corrupt or truncated"):
        read_image(truncated)
    with pytest.raises(CorruptImageError, match="no such file"):
        read_image(tmp_path / "missing.png")


def test_pixel_limit(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 300)).save(path)
    with pytest.raises(InputTooLargeError, match="exceeds the limit"):
        read_image(path, max_pixels=250 * 250)
    assert issubclass(InputTooLargeError, FaceHealthError)


def test_media_kind():
    assert media_kind("a/b.JPG") == "image" and media_kind("clip.webm") == "video"
    with pytest.raises(UnsupportedInputError, match="unsupported file type '.txt'"):
        media_kind("notes.txt")


def test_a_stream_that_changes_resolution_is_a_video_read_frame_by_frame_at_each_size(resolution_change_video):
    """MPEG-TS (.ts) is a video; subsampling by fps keeps each sampled frame at its own size."""
    path = resolution_change_video.path
    assert media_kind(path) == "video" and media_kind("cam.MTS") == "video" and media_kind("a.m2ts") == "video"
    assert (probe_video(path).width, probe_video(path).height) == (640, 480)  # the header: the first size only
    sampled = list(iter_video_frames(path, fps=5))
    assert [f.index for f in sampled] == list(range(0, 75, 5))
    sizes = [(f.image.shape[1], f.image.shape[0]) for f in sampled]
    assert sizes == [(640, 480)] * 5 + [(320, 240)] * 5 + [(640, 360)] * 5
    late = list(iter_video_frames(path, skip=lambda t: t < 1.0))  # a paced reader dropping the first second
    assert late[0].index == 25 and late[0].image.shape == (240, 320, 3) and len(late) == 50


def _frames(n: int, size: int = 96):
    for i in range(n):
        frame = np.zeros((size, size, 3), np.uint8)
        frame[:, : (i * 7) % size] = 200  # a moving edge so frames differ
        yield frame


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".webm", ".mov"])
def test_video_round_trip_and_sampling(tmp_path, suffix):
    path = tmp_path / f"clip{suffix}"
    assert write_video(path, _frames(30), fps=10) == 30
    info = probe_video(path)
    assert (info.width, info.height) == (96, 96) and info.fps == pytest.approx(10)
    assert len(list(iter_video_frames(path))) == 30
    every3 = [f.index for f in iter_video_frames(path, fps=None, every_n=3)]
    assert every3 == list(range(0, 30, 3))
    by_fps = list(iter_video_frames(path, fps=2))
    assert [f.index for f in by_fps] == [0, 5, 10, 15, 20, 25]
    assert [round(f.timestamp, 2) for f in by_fps] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert len(list(iter_video_frames(path, max_frames=4))) == 4


def test_video_streams_with_constant_memory(tmp_path):
    """Peak traced memory while reading 200 frames is no larger than for 20: frames are not kept."""
    path = tmp_path / "long.mp4"
    write_video(path, _frames(200, size=256), fps=25)

    def peak(limit: int) -> int:
        tracemalloc.start()
        for _ in iter_video_frames(path, max_frames=limit):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    short, long = peak(20), peak(200)
    frame_bytes = 256 * 256 * 3
    assert long < short + 2 * frame_bytes, (short, long)


def test_bad_videos(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(VideoError, match="not a readable video"):
        list(iter_video_frames(fake))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        list(iter_video_frames(empty))
    with pytest.raises(VideoError, match="no such file"):
        probe_video(tmp_path / "missing.mp4")


def test_fps_sampling_keeps_one_frame_per_tick_when_ticks_fall_between_frames(tmp_path):
    """5 fps sampled at 2 fps: ticks at 0.5 s fall between frames; one frame per tick, never two."""
    path = tmp_path / "five.mp4"
    write_video(path, _frames(50), fps=5)
    times = [f.timestamp for f in iter_video_frames(path, fps=2)]
    assert len(times) == 20
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.39


def test_write_image_round_trips_and_makes_folders(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    path = write_image(tmp_path / "a" / "b" / "x.png", rgb)
    assert path == tmp_path / "a" / "b" / "x.png"
    np.testing.assert_array_equal(read_image(path), rgb)  # RGB in, RGB out (no channel swap)
    small = write_image(tmp_path / "q10.jpg", rgb, jpeg_quality=10).stat().st_size
    assert small < write_image(tmp_path / "q95.jpg", rgb, jpeg_quality=95).stat().st_size


def test_write_image_failures_name_the_path(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(OutputError, match=r"x\.nope: could not write"):
        write_image(tmp_path / "x.nope", rgb)  # OpenCV has no writer for the suffix
    (tmp_path / "taken.png").mkdir()
    with pytest.raises(OutputError, match=r"taken\.png: could not write") as caught:
        write_image(tmp_path / "taken.png", rgb)  # a folder is where the file should go
    assert isinstance(caught.value, FaceHealthError) and isinstance(caught.value, OSError)
    with pytest.raises(InputError, match=r"expected an \(H, W, 3\) uint8"):
        write_image(tmp_path / "grey.png", np.zeros((8, 8), np.uint8))
