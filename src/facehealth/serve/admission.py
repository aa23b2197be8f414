"""Admission control: a bounded number of HTTP requests inside the app, the rest wait their turn.

Why: FastAPI runs sync routes and dependencies on a shared thread pool (anyio's, 40 threads by
default), and one request hops between several of its threads (authentication, the route, the
session's commit). With SQLite every transaction holds the one write lock from its first query to
that commit. At 50 concurrent clients, 40 threads could all be waiting for that lock while the
request holding it waited for a free thread to commit: nothing moved until the 30 s busy timeout
failed the waiters ("database is locked", found by the 50-client load test).

The gate admits at most ``active`` requests and the app gets ``active`` + headroom threads, so an
admitted request always finds a thread; the others wait on the event loop, in arrival order, at
no cost. Past ``waiting`` queued requests, new ones get 503 with Retry-After: a bounded queue, not
a growing backlog. Health probes and WebSockets (the live camera, with its own session cap) pass
straight through.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["AdmissionGate", "THREAD_HEADROOM"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

# Threads beyond the admitted requests: live sessions' frames, the health probes, background work.
THREAD_HEADROOM = 16
_EXEMPT = ("/health", "/ready")


class AdmissionGate:
    """ASGI middleware: at most ``active`` HTTP requests at once, at most ``waiting`` queued."""

    def __init__(self, app: ASGIApp, active: int, waiting: int) -> None:
        if active < 1 or waiting < 0:
            raise ValueError(f"active must be >= 1 and waiting >= 0, got {active} and {waiting}")
        self.app, self.active, self.max_waiting = app, active, waiting
        self.waiting = 0
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop, on first use

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.active)
        if self._slots.locked() and self.waiting >= self.max_waiting:
            await _busy(send, self.max_waiting)
            return
        self.waiting += 1
        try:
            await self._slots.acquire()  # FIFO: asyncio wakes waiters in the order they came
        finally:
            self.waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()


async def _busy(send: Callable[[Message], Awaitable[None]], queued: int) -> None:
    body = json.dumps(
        {"error": {"code": "busy", "message": f"the server is busy ({queued} requests waiting); try again shortly"}}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"retry-after", b"2"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
