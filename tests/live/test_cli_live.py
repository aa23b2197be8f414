"""``facehealth live`` on a generated video: events file, preview video, summary line, errors."""

from __future__ import annotations

import json

import cv2
import pytest
from typer.testing import CliRunner

from facehealth.cli import app
from facehealth.live.synthetic import PulseVideoSpec, pulse_frames, skin_mask, write_video
from facehealth.models.predictor import SYNTHETIC_WARNING

runner = CliRunner()


@pytest.fixture(scope="module")
def pulse_video(face_canvas, tmp_path_factory):
    canvas, landmarks = face_canvas
    path = tmp_path_factory.mktemp("live") / "pulse.avi"
    spec = PulseVideoSpec(bpm=78.0, seconds=7.0, seed=7)
    write_video(path, pulse_frames(canvas, skin_mask(canvas.shape[:2], landmarks), spec), 30.0)
    return path


def test_live_writes_events_and_a_preview(pulse_video, tmp_path):
    events, preview = tmp_path / "e.jsonl", tmp_path / "p.mp4"
    args = ["live", str(pulse_video), "--events", str(events), "--preview", str(preview), "--detect-every", "5"]
    result = runner.invoke(app, [*args, "--max-seconds", "6.5"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert len(lines) == 196  # frames 0..195 have t <= 6.5 s at 30 fps
    assert {e["track_id"] for e in lines} == {1} and sum(e["detected"] for e in lines) == 33  # every 6th
    assert abs(lines[-1]["heart_rate"]["bpm"] - 78.0) <= 3.0 and lines[-1]["warnings"] == []
    assert "196 frames (0 dropped), 1 track(s)" in result.output
    cap = cv2.VideoCapture(str(preview))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 196


def test_live_with_a_synthetic_model_says_so(pulse_video, tmp_path, tiny_checkpoint):
    events = tmp_path / "e.jsonl"
    result = runner.invoke(app, ["live", str(pulse_video), "--model", str(tiny_checkpoint), "--events", str(events)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert all(e["warnings"] == [SYNTHETIC_WARNING] for e in lines)
    assert "age" in lines[-1]["scores"] and lines[-1]["scores"]["age"]["n_frames"] >= 3
    assert "synthetic" in result.output


def test_live_on_a_video_whose_resolution_changes_warns_and_keeps_every_preview_frame(
    resolution_change_video, tmp_path
):
    events, preview = tmp_path / "e.jsonl", tmp_path / "p.mp4"
    args = ["live", str(resolution_change_video.path), "--events", str(events), "--preview", str(preview)]
    result = runner.invoke(app, [*args, "--max-seconds", "1.5"])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "resolution changed at frame 25: 640x480 -> 320x240" in result.output
    assert "38 frames (0 dropped), 2 track(s)" in result.output
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert [e["frame"] for e in lines if e["resolution_change"]] == [25]
    cap = cv2.VideoCapture(str(preview))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 38 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 640


def test_live_missing_source_exits_2(tmp_path):
    result = runner.invoke(app, ["live", str(tmp_path / "none.mp4")])
    assert result.exit_code == 2 and "does not exist" in result.output
