"""Frame sources never queue without bound: dropped frames are counted."""

from __future__ import annotations

import numpy as np
import pytest

from facehealth.errors import VideoError
from facehealth.live.sources import PushSource, open_source
from facehealth.live.synthetic import PulseVideoSpec, pulse_frames, write_video


def test_push_source_drops_the_oldest_when_full():
    src = PushSource(maxsize=3)
    for i in range(10):
        src.push(np.full((4, 4, 3), i, np.uint8), i / 30)
    src.close()
    got = [f.index for f in src]
    assert src.dropped == 8 and got == [8, 9]  # close() made room for the end marker


def test_file_source_reads_every_frame_or_drops_when_paced(tmp_path):
    path = tmp_path / "clip.avi"
    base = np.full((48, 64, 3), 120, np.uint8)
    spec = PulseVideoSpec(bpm=None, seconds=2.0, motion_px=0, noise=0, jpeg_quality=None)
    assert write_video(path, pulse_frames(base, np.zeros((48, 64), np.float32) + 1, spec), 30.0) == 60
    frames = list(open_source(path))
    assert [f.index for f in frames] == list(range(60)) and frames[30].timestamp == pytest.approx(1.0)
    paced = open_source(str(path), realtime=True)
    import time

    kept = 0
    for _ in paced:  # a consumer 4x slower than real time keeps about a quarter of the frames
        time.sleep(4 / 30)
        kept += 1
    assert kept + paced.dropped == 60 and 10 <= kept <= 22


def test_file_source_gives_each_frame_at_its_own_size(resolution_change_video):
    """OpenCV's reader scaled every frame to the first size (640x360 stretched to 640x480); not any more."""
    frames = list(open_source(resolution_change_video.path))
    sizes = [(f.image.shape[1], f.image.shape[0]) for f in frames]
    assert len(frames) == resolution_change_video.frames == 75
    assert sizes == [(640, 480)] * 25 + [(320, 240)] * 25 + [(640, 360)] * 25
    assert [f.index for f in frames] == list(range(75)) and frames[0].timestamp == 0.0
    assert frames[50].timestamp == pytest.approx(2.0)  # 25 fps, from the container's clock


def test_missing_file_is_a_video_error(tmp_path):
    with pytest.raises(VideoError, match="does not exist"):
        open_source(tmp_path / "nope.mp4")


def test_an_http_stream_is_read_live_and_a_slow_consumer_drops_frames(tmp_path):
    """A URL source over real HTTP: a reader thread, a one-slot buffer, dropped frames counted."""
    import functools
    import http.server
    import threading
    import time

    frames_in = 90
    base = np.full((48, 64, 3), 120, np.uint8)
    spec = PulseVideoSpec(bpm=None, seconds=3.0, motion_px=0, noise=0, jpeg_quality=None)
    write_video(tmp_path / "clip.avi", pulse_frames(base, np.ones((48, 64), np.float32), spec), 30.0)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = open_source(f"http://127.0.0.1:{server.server_address[1]}/clip.avi")
        assert source.live and source.realtime  # a URL is a live stream: never read ahead of the consumer
        seen = []
        for frame in source:
            seen.append(frame)
            time.sleep(0.02)  # slower than the reader
        assert seen and seen[0].image.shape == (48, 64, 3)
        assert len(seen) + source.dropped == frames_in  # every frame read is either seen or counted
        assert source.dropped > 0
        times = [f.timestamp for f in seen]
        assert times == sorted(times)
        with pytest.raises(VideoError, match="cannot open video source"):
            open_source(f"http://127.0.0.1:{server.server_address[1]}/gone.avi")  # 404
    finally:
        server.shutdown()
