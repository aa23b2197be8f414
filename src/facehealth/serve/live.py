"""Live camera sessions over a WebSocket: browser frames in, live-engine events out.

The protocol (one WebSocket per camera, at ``/api/live``):

1. The client sends one text message ``{"token": "<access token>"}`` within
   :data:`AUTH_TIMEOUT_S`. The token travels in the first message, not in the URL, because URLs end
   up in proxy and server logs.
2. The server answers ``{"type": "ready", "model": {card}, "warnings": [...]}`` or an ``error``
   message and a close (code 1008 for a refused token, 1013 when all live slots are taken).
3. The client sends binary frames: an 8-byte little-endian float64 capture time in seconds, then a
   JPEG, PNG or WebP image. The server answers each frame it processes with ``{"type": "event",
   ...}`` (:meth:`~facehealth.live.events.LiveEvent.as_dict` plus the 68 landmarks and plain-words
   quality hints). A frame it cannot read gets ``{"type": "warning", "code": "bad_frame"}`` and
   the session goes on.

Frames are never queued: while the engine works on one frame, a newer one replaces the waiting
one, and each event says how many were dropped. A slow server therefore lowers the frame rate and
never grows a backlog or its latency. A client that waits for each event before sending the next
frame (as the web page does) drops nothing.
"""

from __future__ import annotations

import asyncio
import math
import struct
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from facehealth.errors import FaceHealthError
from facehealth.faces.records import Reason
from facehealth.live.engine import LiveConfig, LiveEngine
from facehealth.live.events import LiveEvent
from facehealth.live.sources import Frame
from facehealth.serve.uploads import decode_image

__all__ = ["AUTH_TIMEOUT_S", "HINTS", "LiveSlots", "FrameError", "parse_frame", "event_message", "LiveConnection"]

AUTH_TIMEOUT_S = 10.0  # a client that has not authenticated by then is not a camera page
_HEADER = struct.Struct("<d")

# What a person in front of the camera can do about each quality reason.
HINTS: dict[str, str] = {
    Reason.NO_FACE: "No face in view: look at the camera.",
    Reason.MULTIPLE_FACES: "Only one person in view, please.",
    Reason.TOO_SMALL: "Move closer to the camera.",
    Reason.PARTIAL: "Keep your whole face in the picture.",
    Reason.BLURRY: "Hold still.",
    Reason.EXTREME_POSE: "Face the camera.",
    Reason.UNDEREXPOSED: "More light on your face, please.",
    Reason.OVEREXPOSED: "Less light: avoid a lamp or the sun straight on your face.",
}


class FrameError(FaceHealthError):
    """A live frame the server cannot use (told to the client; the session goes on)."""


class LiveSlots:
    """At most ``limit`` live sessions at once: each one keeps a CPU core busy."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self._used >= self.limit:
                return False
            self._used += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._used = max(self._used - 1, 0)

    @property
    def used(self) -> int:
        return self._used


def parse_frame(message: bytes, max_bytes: int, max_pixels: int) -> tuple[float, np.ndarray]:
    """(capture time in s, RGB image) from a binary frame message; raises :class:`FrameError`."""
    if len(message) > max_bytes:
        raise FrameError(f"the frame has {len(message):,} bytes, above the limit of {max_bytes:,}")
    if len(message) <= _HEADER.size:
        raise FrameError("a frame is an 8-byte capture time followed by a JPEG, PNG or WebP image")
    (timestamp,) = _HEADER.unpack_from(message)
    if not math.isfinite(timestamp) or timestamp < 0:
        raise FrameError(f"the frame's capture time must be a finite number of seconds >= 0, not {timestamp}")
    try:
        image = decode_image(message[_HEADER.size :], max_pixels, "frame")
    except FaceHealthError as exc:
        raise FrameError(str(exc)) from exc
    return timestamp, image


def event_message(event: LiveEvent, landmarks: np.ndarray | None) -> dict[str, Any]:
    """The JSON the page draws: the event, the tracked landmarks and what the person can do."""
    message = {"type": "event", **event.as_dict()}
    message["landmarks"] = None if landmarks is None else np.round(landmarks, 1).tolist()
    message["hints"] = [HINTS[r] for r in event.quality_reasons if r in HINTS]
    return message


class LiveConnection:
    """One authenticated camera: receives frames, runs the engine off the event loop, sends events.

    The route hands it received frames (:meth:`offer`); ``send`` is the WebSocket's (or a test's)
    coroutine, and ``run_blocking`` runs a blocking call off the event loop (Starlette's threadpool).
    """

    def __init__(
        self,
        engine: LiveEngine,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        run_blocking: Callable[..., Awaitable[Any]],
        max_frame_bytes: int,
        max_pixels: int,
    ) -> None:
        self.engine = engine
        self.send = send
        self.run_blocking = run_blocking
        self.max_frame_bytes = max_frame_bytes
        self.max_pixels = max_pixels
        self._pending: bytes | None = None  # the newest frame the engine has not taken yet
        self._closed = False
        self._wake = asyncio.Event()
        self._last_t = -math.inf
        self._index = 0
        self.dropped = 0  # frames replaced by a newer one before the engine took them
        self.processed = 0

    def offer(self, message: bytes) -> None:
        """Hand over a received binary message, replacing a frame the engine has not taken yet."""
        if self._pending is not None:
            self.dropped += 1
        self._pending = message
        self._wake.set()

    def close(self) -> None:
        """No more frames: :meth:`process` finishes the waiting one and returns."""
        self._closed = True
        self._wake.set()

    async def process(self) -> None:
        """Until :meth:`close`: take the newest message, decode it, step the engine, send the event."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            message, self._pending = self._pending, None
            if message is None:
                if self._closed:
                    return
                continue
            try:
                timestamp, image = await self.run_blocking(parse_frame, message, self.max_frame_bytes, self.max_pixels)
                if timestamp <= self._last_t:
                    raise FrameError(f"capture times must increase; {timestamp:.3f} s came after {self._last_t:.3f} s")
            except FrameError as exc:
                await self.send({"type": "warning", "code": "bad_frame", "message": str(exc)})
                continue
            self._last_t = timestamp
            frame = Frame(self._index, timestamp, image)
            self._index += 1
            event = await self.run_blocking(self.engine.step, frame, self.dropped)
            face = self.engine.last_face
            self.processed += 1
            await self.send(event_message(event, face.landmarks if face is not None else None))
            if self._closed and self._pending is None:
                return


def make_engine(model: Any) -> LiveEngine:
    """A live engine for one camera; ``model`` is the service's shared (locked) model or None."""
    # Browsers deliver 15-30 fps; detecting every 10th frame re-finds a new person within a second.
    return LiveEngine(LiveConfig(detect_every=10), model=model)
