"""``/api/live``: the browser camera's WebSocket (protocol in :mod:`facehealth.serve.live`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from facehealth.serve.accounts import audit
from facehealth.serve.deps import user_from_token
from facehealth.serve.live import AUTH_TIMEOUT_S, LiveConnection, make_engine
from facehealth.serve.security import TokenError

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)

_POLICY_VIOLATION, _TRY_AGAIN_LATER, _INTERNAL_ERROR = 1008, 1013, 1011


async def _refuse(ws: WebSocket, close_code: int, code: str, message: str) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await ws.send_json({"type": "error", "code": code, "message": message})
        await ws.close(close_code, message[:120])  # a close reason holds at most 123 bytes


def _authenticate(ws: WebSocket, first: str) -> int:
    """The user id from the first message ``{"token": ...}``; raises TokenError."""
    try:
        token = json.loads(first)["token"]
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError('the first message must be {"token": "<access token>"}') from exc
    with ws.app.state.sessions() as session:
        return user_from_token(session, str(token), ws.app.state.settings.secret_key).id


@router.websocket("/api/live")
async def live(ws: WebSocket) -> None:
    await ws.accept()
    state = ws.app.state
    try:
        first = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S)
        # Database work off the event loop: a transaction may wait for SQLite's write lock.
        user_id = await run_in_threadpool(_authenticate, ws, first)
    except TimeoutError:
        return await _refuse(ws, _POLICY_VIOLATION, "unauthorized", f"no token within {AUTH_TIMEOUT_S:g} s")
    except TokenError as exc:
        return await _refuse(ws, _POLICY_VIOLATION, "unauthorized", str(exc))
    except (WebSocketDisconnect, KeyError, RuntimeError):
        return None
    if not state.live_slots.acquire():
        message = f"all {state.live_slots.limit} live sessions are in use; try again later"
        return await _refuse(ws, _TRY_AGAIN_LATER, "busy", message)
    settings = state.settings
    conn: LiveConnection | None = None
    try:
        engine = await run_in_threadpool(make_engine, state.model)
        card = state.model.card if state.model is not None else None
        await ws.send_json({"type": "ready", "model": card, "warnings": list(engine.warnings)})
        conn = LiveConnection(engine, ws.send_json, run_in_threadpool, settings.live_frame_bytes, settings.live_pixels)
        worker = asyncio.create_task(conn.process())
        await _receive(ws, conn, worker)
        conn.close()
        await _finish(ws, worker)
    finally:
        state.live_slots.release()
        frames = conn.processed if conn is not None else 0
        dropped = conn.dropped if conn is not None else 0
        # Nothing of the session is stored but this line: who used the camera, for how many frames.
        await run_in_threadpool(_audit_session, state, user_id, f"{frames} frames, {dropped} dropped")


def _audit_session(state: Any, user_id: int, detail: str) -> None:
    with state.sessions.begin() as session:
        audit(session, user_id, "live.session", detail)


async def _receive(ws: WebSocket, conn: LiveConnection, worker: asyncio.Task[None]) -> None:
    """Hand binary frames to the connection until the client leaves, says stop, or the worker ends."""
    while not worker.done():
        message: dict[str, Any] = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("bytes") is not None:
            conn.offer(message["bytes"])
        elif message.get("text") is not None:
            if _is_stop(message["text"]):
                return
            await ws.send_json({"type": "warning", "code": "bad_message", "message": "frames are binary messages"})


def _is_stop(text: str) -> bool:
    try:
        return json.loads(text).get("type") == "stop"
    except (ValueError, AttributeError):
        return False


async def _finish(ws: WebSocket, worker: asyncio.Task[None]) -> None:
    """Wait for the last frame's event; a worker that failed closes the socket with 1011."""
    try:
        await worker
    except (WebSocketDisconnect, RuntimeError):
        return  # the client left while its last event was being sent
    except Exception:
        log.exception("live session failed")
        await _refuse(ws, _INTERNAL_ERROR, "internal", "the live session failed; see the server log")
        return
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await ws.close()
