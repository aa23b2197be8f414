"""The live engine on generated videos of real faces: tracking, heart rate, identity, scores, preview."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from facehealth.faces.io import read_image
from facehealth.live.engine import LiveConfig, LiveEngine, StimulusMarker
from facehealth.live.preview import PreviewWriter, draw_event
from facehealth.live.sources import Frame, open_source
from facehealth.live.synthetic import PulseVideoSpec, place_face, pulse_frames, skin_mask, write_video
from facehealth.models.predictor import SYNTHETIC_WARNING
from tests.conftest import fixture_path


@pytest.fixture(scope="module")
def pipeline():
    from facehealth.faces.pipeline import FacePipeline

    return FacePipeline()


def _frames(face_canvas, spec):
    canvas, landmarks = face_canvas
    return pulse_frames(canvas, skin_mask(canvas.shape[:2], landmarks), spec)


def test_tracking_follows_the_face_and_detects_every_n_frames(face_canvas, pipeline):
    _, landmarks = face_canvas
    spec = PulseVideoSpec(bpm=None, seconds=3.0, motion_px=6.0, seed=1)
    engine = LiveEngine(LiveConfig(detect_every=10, check_identity=False), pipeline=pipeline)
    errors, detected = [], 0
    for fr in _frames(face_canvas, spec):
        event = engine.step(Frame(fr.index, fr.timestamp, fr.image))
        truth = landmarks + np.asarray(fr.shift)
        errors.append(np.median(np.linalg.norm(engine.last_face.landmarks - truth, axis=1)))
        detected += event.detected
        assert event.track_id == 1 and event.quality_passed
    assert np.median(errors) < 1.5 and max(errors) < 4.0  # pixels, inter-ocular distance ~55 px
    assert 90 // 11 <= detected <= 90 // 11 + 2  # one detection, then 10 tracked frames


@pytest.mark.parametrize("bpm", [66.0, 108.0])
def test_heart_rate_from_a_video_file_within_3_bpm(face_canvas, pipeline, tmp_path, bpm):
    path = tmp_path / "pulse.avi"
    write_video(path, _frames(face_canvas, PulseVideoSpec(bpm=bpm, seconds=8.0, seed=int(bpm))), 30.0)
    engine = LiveEngine(LiveConfig(check_identity=False), pipeline=pipeline)
    events = list(engine.run(open_source(path)))
    assert len(events) == 240
    assert all(e.heart_rate is None for e in events if e.timestamp < 5.9)  # collecting signal first
    hr = events[-1].heart_rate
    assert hr is not None and abs(hr.bpm - bpm) <= 3.0 and hr.reliable, hr
    line = json.loads(events[-1].to_json())
    assert line["heart_rate"]["bpm"] == pytest.approx(hr.bpm, abs=0.05) and line["track_id"] == 1


def test_no_pulse_video_reports_an_unreliable_heart_rate(face_canvas, pipeline):
    engine = LiveEngine(LiveConfig(check_identity=False), pipeline=pipeline)
    spec = PulseVideoSpec(bpm=None, seconds=8.0, seed=5)
    events = [engine.step(Frame(f.index, f.timestamp, f.image)) for f in _frames(face_canvas, spec)]
    assert events[-1].heart_rate is not None and not events[-1].heart_rate.reliable


def _biden_in_obamas_place(face_canvas, pipeline) -> np.ndarray:
    """biden.jpg warped so his face box sits where obama's is: only the descriptor can tell them apart."""
    obama_canvas, _ = face_canvas
    target = pipeline.process(obama_canvas).faces[0].detection.box
    biden, _, _ = place_face(np.asarray(read_image(fixture_path("biden.jpg"))))
    box = pipeline.process(biden).faces[0].detection.box
    s = target.width / box.width
    m = np.float32([[s, 0, target.x0 - s * box.x0], [0, s, target.y0 - s * box.y0]])
    return cv2.warpAffine(biden, m, (biden.shape[1], biden.shape[0]), borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("check_identity", [True, False])
def test_a_different_person_in_the_same_place_starts_a_new_track(face_canvas, pipeline, check_identity):
    obama, _ = face_canvas
    biden = _biden_in_obamas_place(face_canvas, pipeline)
    engine = LiveEngine(LiveConfig(check_identity=check_identity), pipeline=pipeline)
    events = [engine.step(Frame(i, i / 30, obama if i < 30 else biden)) for i in range(60)]
    ids_after = {e.track_id for e in events[33:]}
    assert {e.track_id for e in events[:30]} == {1}
    if check_identity:
        assert ids_after == {2}  # new person, within the first frames after the swap
    else:
        assert ids_after == {1}  # box position and size alone cannot see the swap


def test_model_scores_warm_up_then_carry_intervals_and_the_synthetic_warning(face_canvas, pipeline, tiny_checkpoint):
    import facehealth

    model = facehealth.load(tiny_checkpoint)
    widths = {1: 8.0, 2: 6.0, 3: 5.0}
    engine = LiveEngine(
        LiveConfig(score_every_s=0.2, min_score_frames=2, check_identity=False),
        pipeline=pipeline,
        model=model,
        interval_fn=lambda col, v, n: (v - widths[min(n, 3)], v + widths[min(n, 3)]) if col == "age" else None,
        markers=[StimulusMarker(1.0, 0.5, "happy")],
    )
    spec = PulseVideoSpec(bpm=72.0, seconds=2.0, seed=2)
    events = [engine.step(Frame(f.index, f.timestamp, f.image)) for f in _frames(face_canvas, spec)]
    assert all(e.warnings == (SYNTHETIC_WARNING,) for e in events) and model.meta.synthetic
    first = next(e for e in events if "age" in e.scores)
    assert first.scores["age"].status == "warming_up" and first.scores["age"].value is None
    final = events[-1].scores
    assert engine.scored_frames >= 5 and final["age"].n_frames == engine.scored_frames
    assert engine.scored_frames + engine.model_failures == 10  # every 6th frame of 2 s at 30 fps: 5 Hz
    low, high = final["age"].interval
    assert final["age"].status == "ok" and high - low == pytest.approx(10.0) and np.isfinite(final["age"].value)
    others = [k for k in final if k != "age"]
    assert others and all(final[k].status == "uncalibrated" for k in others)
    assert [e.stimulus for e in events if e.stimulus] == ["happy"] * 15


def test_preview_draws_the_event_and_writes_a_readable_video(face_canvas, pipeline, tmp_path):
    engine = LiveEngine(LiveConfig(check_identity=False), pipeline=pipeline)
    out = tmp_path / "preview.mp4"
    writer = PreviewWriter(out, 30.0)
    changed = []
    for f in _frames(face_canvas, PulseVideoSpec(bpm=72.0, seconds=1.0)):
        event = engine.step(Frame(f.index, f.timestamp, f.image))
        drawn = draw_event(f.image, event, engine.last_face.landmarks)
        x0, y0, x1, y1 = (int(v) for v in event.box)
        changed.append(np.any(drawn[y0 - 1 : y0 + 2, x0:x1] != f.image[y0 - 1 : y0 + 2, x0:x1]))
        writer.write(drawn)
    writer.close()
    assert all(changed)  # the box is drawn on every frame
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 640


def test_a_resolution_change_restarts_the_track_and_says_so(resolution_change_video, pipeline):
    """Frames of three sizes (e.g. pushed by the service, or the file source): no OpenCV crash in the
    optical flow; at each change the face is re-detected as a new track, the heart-rate window and
    motion history restart, and the event, the engine and its warnings name the frame and both sizes."""
    engine = LiveEngine(LiveConfig(check_identity=False), pipeline=pipeline)
    events = [engine.step(f) for f in open_source(resolution_change_video.path)]
    assert len(events) == 75
    changed = {e.frame_index: e.resolution_change for e in events if e.resolution_change}
    assert changed == {
        25: "resolution changed at frame 25: 640x480 -> 320x240",
        50: "resolution changed at frame 50: 320x240 -> 640x360",
    }
    assert [e.track_id for e in events] == [1] * 25 + [2] * 25 + [3] * 25
    assert events[25].detected and events[50].detected  # re-detected, not flowed from another size
    for e, (w, h) in ((events[30], (320, 240)), (events[60], (640, 360))):
        x0, y0, x1, y1 = e.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and e.quality_passed
    assert [(c.frame_index, c.before, c.after) for c in engine.resolution_changes] == [
        (25, (640, 480), (320, 240)),
        (50, (320, 240), (640, 360)),
    ]
    assert engine.rppg.span_s < 1.0  # only the last segment's frames: the window restarted at frame 50
    assert "640x480 -> 320x240" in events[-1].warnings[0] and "320x240 -> 640x360" in events[-1].warnings[0]
    assert events[24].warnings == () and json.loads(events[25].to_json())["resolution_change"] == changed[25]


def test_the_tracker_alone_re_detects_when_the_frame_size_changes(face_canvas, pipeline):
    from facehealth.live.tracker import FaceTracker

    canvas, _ = face_canvas
    tracker = FaceTracker(pipeline, detect_every=10)
    first, second = tracker.update(canvas), tracker.update(canvas)
    assert first.detected and not second.detected  # the second frame is optical flow
    small = tracker.update(cv2.resize(canvas, (320, 240), interpolation=cv2.INTER_AREA))
    assert small is not None and small.detected and small.track_id == 2 and small.box.x1 <= 320


def test_the_preview_keeps_every_frame_when_the_size_changes(tmp_path):
    """OpenCV's writer silently skipped frames of another size (10 of 30 written); now they fit in."""
    out = tmp_path / "preview.mp4"
    writer = PreviewWriter(out, 25.0)
    for size in ((640, 480), (320, 240), (640, 360)):
        for _ in range(10):
            writer.write(np.full((size[1], size[0], 3), 200, np.uint8))
    writer.close()
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30 and writer.fitted == 20
    frames = [cap.read()[1] for _ in range(30)]
    assert all(f.shape == (480, 640, 3) for f in frames)
    wide = frames[-1]  # 640x360 fitted into 640x480: 60-pixel black bars above and below
    assert wide[:50].max() < 30 and wide[240].min() > 150 and wide[-50:].max() < 30


def test_events_count_the_frames_a_full_push_queue_dropped(pipeline):
    from facehealth.live.sources import PushSource

    src = PushSource(maxsize=4)
    for i in range(12):  # the caller outpaces the engine: only the newest frames survive
        src.push(np.full((120, 160, 3), 90, np.uint8), i / 30)
    src.close()
    engine = LiveEngine(LiveConfig(check_identity=False), pipeline=pipeline)
    events = list(engine.run(src))
    assert [e.frame_index for e in events] == [9, 10, 11] and events[-1].dropped_frames == 9 == src.dropped
    assert all(e.track_id is None and e.quality_reasons == ("no_face",) for e in events)


def test_an_onnx_model_scores_with_the_checkpoints_intervals_and_warning(
    face_canvas, pipeline, tiny_checkpoint, tmp_path
):
    import facehealth
    from facehealth.models.onnx_export import export_onnx

    model = facehealth.load(export_onnx(tiny_checkpoint, tmp_path / "model.onnx").path)
    engine = LiveEngine(LiveConfig(score_every_s=0.2, min_score_frames=2, check_identity=False), pipeline, model)
    events = [engine.step(f) for f in _frames(face_canvas, PulseVideoSpec(bpm=72.0, seconds=1.0, seed=2))]
    assert engine.warnings == (SYNTHETIC_WARNING,) and engine.scored_frames >= 2 and engine.model_failures == 0
    final = events[-1].scores["age"]
    # The interval comes from the calibration stored in the .onnx file (conformal_interval_fn(model.meta)).
    assert final.status == "ok" and final.interval is not None and np.isfinite(final.value)


def test_a_score_every_0_2_s_at_30_fps_is_5_hz_over_ten_minutes():
    """Frame times i/30 drift in floating point; a strict >= 0.2 s waited a 7th frame now and then (4.55 Hz)."""
    from facehealth.live.engine import _due

    last, calls = -np.inf, 0
    for i in range(30 * 600):
        if _due(i / 30.0, last, LiveConfig().score_every_s):
            last, calls = i / 30.0, calls + 1
    assert calls == 5 * 600
