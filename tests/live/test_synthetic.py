"""The generated test videos: the Y4M writer Chromium's fake camera plays."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facehealth.errors import OutputError
from facehealth.live.synthetic import PulseVideoSpec, pulse_frames, skin_mask, write_y4m


def test_y4m_reads_back_with_the_frames_written(face_canvas, tmp_path):
    canvas, landmarks = face_canvas
    spec = PulseVideoSpec(bpm=72, seconds=0.4, fps=10.0, jpeg_quality=None)
    frames = list(pulse_frames(canvas, skin_mask(canvas.shape[:2], landmarks), spec))
    path = tmp_path / "clip.y4m"
    assert write_y4m(path, iter(frames), fps=10) == 4
    header = path.read_bytes()[:60].split(b"\n")[0]
    assert header == b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg"
    assert path.stat().st_size == len(header) + 1 + 4 * (len(b"FRAME\n") + 640 * 480 * 3 // 2)
    cap = cv2.VideoCapture(str(path))
    back = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        back.append(bgr[..., ::-1])
    cap.release()
    assert len(back) == 4
    for written, read in zip(frames, back, strict=True):
        # 4:2:0 halves the colour resolution: small errors at edges, none on average.
        diff = np.abs(written.image.astype(int) - read.astype(int))
        assert diff.mean() < 3.0


def test_y4m_refuses_an_odd_frame_size(face_canvas, tmp_path):
    canvas, landmarks = face_canvas
    frames = pulse_frames(canvas[:479], skin_mask((479, 640), landmarks), PulseVideoSpec(seconds=0.1, fps=10.0))
    with pytest.raises(OutputError, match="even width and height"):
        write_y4m(tmp_path / "odd.y4m", frames, fps=10)
