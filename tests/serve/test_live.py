"""The live WebSocket (/api/live) against the real server: sign-in, frames, bad frames, dropping, limits."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from contextlib import ExitStack, contextmanager

import cv2
import numpy as np
import pytest
from sqlalchemy import create_engine, text

from facehealth.faces.io import read_image
from facehealth.faces.records import Reason
from facehealth.live.synthetic import PulseVideoSpec, place_face, pulse_frames, skin_mask
from facehealth.serve.live import HINTS, FrameError, LiveConnection, LiveSlots, parse_frame
from facehealth.serve.security import AccessClaims, make_access_token
from tests.conftest import fixture_path

sync_client = pytest.importorskip("websockets.sync.client")
ConnectionClosed = pytest.importorskip("websockets.exceptions").ConnectionClosed


def _jpeg(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def _frame(t: float, rgb: np.ndarray) -> bytes:
    return struct.pack("<d", t) + _jpeg(rgb)


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    """Two seconds at 15 fps of a real photo with a planted 72 BPM pulse."""
    from facehealth.faces.pipeline import FacePipeline

    canvas, _, _ = place_face(np.asarray(read_image(fixture_path("obama.jpg"))))
    landmarks = FacePipeline().process(canvas).faces[0].landmarks
    spec = PulseVideoSpec(bpm=72, seconds=2.0, fps=15.0)
    return [f.image for f in pulse_frames(canvas, skin_mask(canvas.shape[:2], landmarks), spec)]


def _connect(server):
    return sync_client.connect(server.url.replace("http://", "ws://") + "/api/live", open_timeout=30)


def _recv(ws, timeout: float = 60.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


@contextmanager
def _session(server, token: str):
    """A signed-in live session: yields (socket, the server's ready message)."""
    with _connect(server) as ws:
        ws.send(json.dumps({"token": token}))
        ready = _recv(ws)
        assert ready["type"] == "ready", ready
        yield ws, ready


@pytest.mark.parametrize(
    "first, reason",
    [
        ("not json", "first message must be"),
        (json.dumps({"tok": "x"}), "first message must be"),
        (json.dumps({"token": "a.b.c"}), "not valid"),
    ],
)
def test_a_session_without_a_valid_token_is_refused_with_1008(sqlite_server, first, reason):
    with _connect(sqlite_server) as ws:
        ws.send(first)
        message = _recv(ws)
        assert message["type"] == "error" and message["code"] == "unauthorized"
        assert reason in message["message"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1008


def test_forged_and_expired_tokens_are_refused(sqlite_server):
    token, _ = sqlite_server.user()
    user_id = sqlite_server.call("GET", "/api/users/me", token=token).json()["id"]
    claims = AccessClaims(user_id, "clinician")
    forged = make_access_token(claims, "k" * 48, minutes=5)
    expired = make_access_token(claims, sqlite_server.secret, minutes=-1)
    for token, words in ((forged, "not valid"), (expired, "expired")):
        with _connect(sqlite_server) as ws:
            ws.send(json.dumps({"token": token}))
            message = _recv(ws)
            assert message["code"] == "unauthorized" and words in message["message"], message


def test_frames_get_events_with_landmarks_a_bad_frame_gets_a_warning_and_the_session_goes_on(sqlite_server, clip):
    token, _ = sqlite_server.user()
    with _session(sqlite_server, token) as (ws, ready):
        assert ready["model"]["synthetic"] is True
        assert any("synthetic" in w.lower() for w in ready["warnings"])
        ws.send(struct.pack("<d", 0.0) + b"this is not an image")
        warning = _recv(ws)
        assert warning["type"] == "warning" and warning["code"] == "bad_frame"
        assert "JPEG, PNG or WebP" in warning["message"]
        events = []
        for i, image in enumerate(clip[:8]):
            ws.send(_frame(i / 15.0, image))  # one at a time, like the page: nothing is dropped
            events.append(_recv(ws))
        ws.send(_frame(0.1, clip[0]))  # capture time going backwards
        back = _recv(ws)
        assert back["type"] == "warning" and "must increase" in back["message"]
        ws.send(json.dumps({"type": "stop"}))
    assert [e["type"] for e in events] == ["event"] * 8
    assert [e["frame"] for e in events] == list(range(8))
    assert [e["t"] for e in events] == pytest.approx([i / 15.0 for i in range(8)], abs=1e-3)
    tracked = [e for e in events if e["track_id"] is not None]
    assert len(tracked) == 8 and len({e["track_id"] for e in tracked}) == 1
    assert all(len(e["landmarks"]) == 68 for e in tracked)
    x0, y0, x1, y1 = tracked[0]["box"]
    lm = np.array(tracked[0]["landmarks"])
    assert (lm[:, 0] > x0 - 20).all() and (lm[:, 0] < x1 + 20).all() and (lm[:, 1] > y0 - 40).all()
    assert all(e["dropped_frames"] == 0 for e in events)
    assert any(e["scores"] for e in events)  # the model scored the best frame after a second


def test_a_flood_of_frames_is_dropped_not_queued_and_every_frame_is_accounted_for(sqlite_server, clip):
    token, _ = sqlite_server.user()
    sent = 30
    with _session(sqlite_server, token) as (ws, _):
        for i in range(sent):  # much faster than the engine runs
            ws.send(_frame(i / 15.0, clip[i % len(clip)]))
        ws.send(json.dumps({"type": "stop"}))
        events = []
        while True:
            try:
                events.append(_recv(ws))
            except ConnectionClosed:
                break
    assert all(e["type"] == "event" for e in events)
    assert events[-1]["frame"] == len(events) - 1
    assert len(events) + events[-1]["dropped_frames"] == sent  # processed + dropped: nothing vanished
    assert events[-1]["dropped_frames"] > 0
    assert events[-1]["t"] == pytest.approx((sent - 1) / 15.0, abs=1e-3)  # the newest frame is the one kept


def test_the_session_is_in_the_audit_log_and_no_frame_is_stored(sqlite_server, clip):
    token, _ = sqlite_server.user()
    user_id = json.loads(sqlite_server.call("GET", "/api/users/me", token=token).body)["id"]
    with _session(sqlite_server, token) as (ws, _):
        for i in range(3):
            ws.send(_frame(i / 15.0, clip[i]))
            _recv(ws)
        ws.send(json.dumps({"type": "stop"}))
    engine = create_engine(sqlite_server.database_url)
    deadline = time.monotonic() + 10
    with engine.connect() as conn:
        while True:
            rows = conn.execute(
                text("SELECT target FROM audit_log WHERE user_id = :u AND action = 'live.session'"), {"u": user_id}
            ).all()
            if rows or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        stored = conn.execute(text("SELECT count(*) FROM analyses WHERE image_encrypted IS NOT NULL")).scalar()
    engine.dispose()
    assert rows == [("3 frames, 0 dropped",)]
    assert stored == 0
    assert not list(sqlite_server.data_dir.rglob("*.jpg"))


def test_sessions_beyond_the_limit_are_told_to_try_again_later(sqlite_server):
    token, _ = sqlite_server.user()
    with ExitStack() as stack:
        for _ in range(4):  # the default limit
            stack.enter_context(_session(sqlite_server, token))
        with _connect(sqlite_server) as ws:
            ws.send(json.dumps({"token": token}))
            message = _recv(ws)
            assert message["code"] == "busy" and "try again later" in message["message"]
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd.code == 1013
    time.sleep(0.5)  # the server releases a slot when it sees the close
    with _session(sqlite_server, token) as (_, ready):  # a slot is free again
        assert ready["type"] == "ready"


# --- the protocol pieces, without a server ---


def test_parse_frame_reads_the_time_and_refuses_what_it_cannot_use(clip):
    t, image = parse_frame(_frame(1.25, clip[0]), 4_000_000, 8_300_000)
    assert t == 1.25 and image.shape == clip[0].shape
    bad = {
        b"\x00" * 4: "8-byte capture time",
        struct.pack("<d", float("nan")) + _jpeg(clip[0]): "finite",
        struct.pack("<d", -1.0) + _jpeg(clip[0]): ">= 0",
        struct.pack("<d", 0.0) + _jpeg(clip[0])[:200]: "frame",
    }
    for message, words in bad.items():
        with pytest.raises(FrameError, match=words):
            parse_frame(message, 4_000_000, 8_300_000)
    with pytest.raises(FrameError, match="above the limit"):
        parse_frame(_frame(0.0, clip[0]), 1000, 8_300_000)
    with pytest.raises(FrameError, match="pixels"):
        parse_frame(_frame(0.0, clip[0]), 4_000_000, 640 * 480 - 1)


def test_every_quality_reason_a_person_can_act_on_has_a_hint():
    reasons = {v for k, v in vars(Reason).items() if k.isupper() and isinstance(v, str)}
    actionable = reasons - {Reason.UNREADABLE, Reason.NOT_SELECTED}
    assert actionable == set(HINTS)


def test_slots_count_and_release():
    slots = LiveSlots(2)
    assert slots.acquire() and slots.acquire() and not slots.acquire()
    slots.release()
    assert slots.used == 1 and slots.acquire()


class _SlowEngine:
    """Stands in for the engine: records the frames it saw, takes 50 ms each."""

    def __init__(self):
        self.seen, self.last_face = [], None

    def step(self, frame, dropped):
        time.sleep(0.05)
        self.seen.append((frame.timestamp, dropped))
        from facehealth.live.events import LiveEvent

        return LiveEvent(frame.index, frame.timestamp, None, None, False, False, ("no_face",), dropped_frames=dropped)


def test_the_connection_keeps_only_the_newest_waiting_frame(clip):
    async def scenario():
        engine, sent = _SlowEngine(), []

        async def send(message):
            sent.append(message)

        async def blocking(fn, *args):
            return await asyncio.to_thread(fn, *args)

        conn = LiveConnection(engine, send, blocking, 4_000_000, 8_300_000)
        worker = asyncio.create_task(conn.process())
        for i in range(10):
            conn.offer(_frame(i * 0.01, clip[0]))
            await asyncio.sleep(0.005)
        conn.close()
        await asyncio.wait_for(worker, 10)
        return engine, sent, conn

    engine, sent, conn = asyncio.run(scenario())
    assert len(engine.seen) + conn.dropped == 10
    assert engine.seen[-1][0] == pytest.approx(0.09)  # the last frame offered is always processed
    assert [m["hints"] for m in sent] == [[HINTS[Reason.NO_FACE]]] * len(sent)


def test_a_message_above_the_frame_limit_closes_the_socket_before_it_is_buffered(sqlite_server):
    token, _ = sqlite_server.user()
    with _session(sqlite_server, token) as (ws, _):
        ws.send(struct.pack("<d", 0.0) + b"\xff" * 5_000_000)  # above the 4 MB live frame limit
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
