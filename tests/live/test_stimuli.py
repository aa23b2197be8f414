"""The Emoface recording protocol with a video file as the camera: video, sidecar, markers in events."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from facehealth.cli import app
from facehealth.errors import ConfigError, VideoError
from facehealth.live.stimuli import load_markers, load_sequence, record
from facehealth.live.synthetic import PulseVideoSpec, pulse_frames, write_video

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "stimuli" / "example.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory) -> Path:
    """A 9 s, 30 fps stand-in camera (the example sequence lasts 7 s)."""
    path = tmp_path_factory.mktemp("cam") / "camera.avi"
    base = np.full((120, 160, 3), 128, np.uint8)
    spec = PulseVideoSpec(bpm=None, seconds=11.0, motion_px=0, jpeg_quality=None)
    write_video(path, pulse_frames(base, np.ones((120, 160), np.float32), spec), 30.0)
    return path


def test_example_sequence_loads():
    seq = load_sequence(EXAMPLE)
    assert [s.label for s in seq.stimuli] == ["neutral", "happy", "neutral", "sad"]
    assert sum(s.duration for s in seq.stimuli) == pytest.approx(10.0)


def test_bad_sequences_raise(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stimuli:\n  - {image: x.png, duration: 1, label: a, colour: red}\n")
    with pytest.raises(ConfigError, match="colour"):
        load_sequence(bad)
    bad.write_text("stimuli:\n  - {image: missing.png, duration: 1, label: a}\n")
    with pytest.raises(ConfigError, match="not found"):
        load_sequence(bad)


def test_record_writes_video_and_onsets_in_video_time(camera_file, tmp_path):
    rec = record(load_sequence(EXAMPLE), camera_file, tmp_path, show=False)
    assert rec.frames == 300 and rec.fps == pytest.approx(30.0)
    assert int(cv2.VideoCapture(str(rec.video)).get(cv2.CAP_PROP_FRAME_COUNT)) == 300
    side = json.loads(rec.sidecar.read_text())
    assert [s["onset"] for s in side["stimuli"]] == [0.0, 2.0, 5.0, 7.0]
    assert [m.label for m in load_markers(rec.sidecar)] == ["neutral", "happy", "neutral", "sad"]


def test_camera_that_ends_early_is_a_video_error(camera_file, tmp_path):
    short = tmp_path / "short.yaml"
    short.write_text(f"stimuli:\n  - {{image: {EXAMPLE.parent / 'sad.png'}, duration: 20, label: sad}}\n")
    with pytest.raises(VideoError, match="ended after 330 frames"):
        record(load_sequence(short), camera_file, tmp_path / "out", show=False)


def test_record_then_live_carries_the_stimulus_labels(camera_file, tmp_path):
    result = runner.invoke(
        app, ["record", "--stimuli", str(EXAMPLE), "--out", str(tmp_path), "--camera", str(camera_file), "--no-show"]
    )
    assert result.exit_code == 0, result.output
    events = tmp_path / "e.jsonl"
    video, sidecar = tmp_path / "recording.avi", tmp_path / "recording.stimuli.json"
    result = runner.invoke(app, ["live", str(video), "--markers", str(sidecar), "--events", str(events)])
    assert result.exit_code == 0, result.output
    labels = [json.loads(line)["stimulus"] for line in events.read_text().splitlines()]
    assert labels[:60] == ["neutral"] * 60 and labels[60:150] == ["happy"] * 90 and labels[210:] == ["sad"] * 90
