"""The admission gate: a bounded number of requests inside, the rest wait in order, overflow is a 503."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from facehealth.serve.admission import AdmissionGate


def _run(gate: AdmissionGate, path: str) -> asyncio.Task:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    task = asyncio.ensure_future(gate({"type": "http", "path": path}, receive, send))
    task.sent = sent  # type: ignore[attr-defined]
    return task


def test_requests_beyond_the_limit_wait_and_overflow_is_refused():
    async def scenario() -> None:
        inside: list[str] = []
        release = asyncio.Event()

        async def app(scope, receive, send) -> None:  # noqa: ANN001
            inside.append(scope["path"])
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        gate = AdmissionGate(app, active=2, waiting=2)
        tasks = []
        for n in range(5):
            tasks.append(_run(gate, f"/api/{n}"))
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        assert inside == ["/api/0", "/api/1"] and gate.waiting == 2  # two in, two queued
        refused = tasks[4]
        assert refused.done() and refused.sent[0]["status"] == 503
        assert dict(refused.sent[0]["headers"])[b"retry-after"] == b"2"
        assert json.loads(refused.sent[1]["body"])["error"]["code"] == "busy"
        release.set()
        await asyncio.gather(*tasks)
        assert [t.sent[0]["status"] for t in tasks[:4]] == [200] * 4 and gate.waiting == 0

    asyncio.run(scenario())


def test_the_queue_is_first_come_first_served_and_probes_skip_it():
    async def scenario() -> list[str]:
        order: list[str] = []
        gate_open = asyncio.Event()

        async def app(scope, receive, send) -> None:  # noqa: ANN001
            order.append(scope["path"])
            if scope["path"] == "/api/first":
                await gate_open.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        gate = AdmissionGate(app, active=1, waiting=10)
        first = _run(gate, "/api/first")
        await asyncio.sleep(0)
        queued = []
        for k in range(4):
            queued.append(_run(gate, f"/api/q{k}"))
            await asyncio.sleep(0)
        probe = _run(gate, "/health")  # a health check answers even when the app is saturated
        await asyncio.sleep(0.01)
        assert probe.done() and order == ["/api/first", "/health"]
        gate_open.set()
        await asyncio.gather(first, *queued)
        return order

    assert asyncio.run(scenario()) == ["/api/first", "/health", "/api/q0", "/api/q1", "/api/q2", "/api/q3"]


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="active must be >= 1"):
        AdmissionGate(lambda *a: None, active=0, waiting=1)  # type: ignore[arg-type]


def test_more_concurrent_requests_than_threads_do_not_deadlock_sqlite(sqlite_server):
    """60 simultaneous history reads on SQLite (anyio's default pool has 40 threads).

    Without the gate every thread ended up waiting for SQLite's write lock while the request
    holding it waited for a thread to commit: each request took the full 30 s busy timeout
    (the 50-client load test: upload p50 30.4 s) or failed with "database is locked".
    """
    token, _ = sqlite_server.user()
    pid = sqlite_server.call("POST", "/api/people", token=token, json_body={"label": "gate"}).json()["id"]
    barrier = threading.Barrier(60)

    def read(_: int) -> tuple[int, float]:
        barrier.wait()
        start = time.perf_counter()
        reply = sqlite_server.call("GET", f"/api/people/{pid}/analyses", token=token)
        return reply.status, time.perf_counter() - start

    with ThreadPoolExecutor(60) as pool:
        results = list(pool.map(read, range(60)))
    assert [s for s, _ in results] == [200] * 60
    assert max(t for _, t in results) < 15, sorted(t for _, t in results)[-5:]
