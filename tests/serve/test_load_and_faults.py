"""Long reliability tests of the service (marked slow: `make test-all` runs them).

- Load: concurrent clients upload photos and read histories for a fixed time on loopback;
  every request must succeed, and the p50/p95 latencies are printed.
- Crash: the server is killed with SIGKILL while uploads are in flight, then restarted on the
  same database: every upload that was answered 201 is there, and no analysis is half-stored.
"""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import fixture_path, record_reliability
from tests.serve.conftest import start_server

LOAD_SECONDS = float(os.environ.get("FACEHEALTH_LOAD_SECONDS", "60"))
LOAD_CLIENTS = int(os.environ.get("FACEHEALTH_LOAD_CLIENTS", "50"))


@pytest.mark.slow
# SQLite at 50 clients failed ('database is locked', uploads p50 30.4 s over 30 s) until the admission
# gate (serve/admission.py) kept every admitted request able to get a thread to commit.
@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_concurrent_clients_upload_and_read_for_a_minute_without_errors(database, tiny_checkpoint, tmp_path, request):
    # The per-user upload limit (60 a minute) is tested elsewhere; here it would only cap the load.
    env = {"FACEHEALTH_UPLOADS_PER_MINUTE": "1000000"}
    url = request.getfixturevalue("postgres_url") if database == "postgresql" else f"sqlite:///{tmp_path / 'load.db'}"
    proc, server = start_server(url, tmp_path, tiny_checkpoint, env)
    try:
        jpeg = fixture_path("obama.jpg").read_bytes()
        clients = []
        for _ in range(LOAD_CLIENTS):  # one account each: per-user limits are not what is measured
            token, _ = server.user()
            pid = server.call("POST", "/api/people", token=token, json_body={"label": "load"}).json()["id"]
            clients.append((token, pid))
        latencies: dict[str, list[float]] = {"upload": [], "history": []}
        errors: list[str] = []
        lock = threading.Lock()
        stop = time.monotonic() + LOAD_SECONDS

        def client(k: int) -> None:
            token, pid = clients[k]
            n = 0
            while time.monotonic() < stop:
                kind = "upload" if n % 2 == 0 else "history"
                start = time.perf_counter()
                if kind == "upload":
                    reply = server.call(
                        "POST", f"/api/people/{pid}/analyses", token=token, files={"image": ("a.jpg", jpeg)}
                    )
                else:
                    reply = server.call("GET", f"/api/people/{pid}/analyses", token=token)
                took = time.perf_counter() - start
                with lock:
                    latencies[kind].append(took)
                    if reply.status not in (200, 201):
                        errors.append(f"{kind} {reply.status} {reply.body[:200]!r}")
                n += 1

        with ThreadPoolExecutor(LOAD_CLIENTS) as pool:
            list(pool.map(client, range(LOAD_CLIENTS)))
        notes = []
        for kind, values in latencies.items():
            q = statistics.quantiles(values, n=20)
            p50, p95 = statistics.median(values) * 1000, q[18] * 1000
            print(f"{kind}: {len(values)} requests, p50 {p50:.0f} ms, p95 {p95:.0f} ms")
            notes.append(f"{kind} {len(values):,}, p50 {p50 / 1000:.2f} s, p95 {p95 / 1000:.2f} s")
        stored = sum(len(server.call("GET", f"/api/people/{pid}/analyses", token=t).json()) for t, pid in clients)
        answered = len(latencies["upload"]) - sum(e.startswith("upload") for e in errors)
        record_reliability(
            f"load_{database}",
            "load",
            f"{LOAD_CLIENTS} clients uploading photos and reading histories for {LOAD_SECONDS:.0f} s, {database}",
            requests=sum(map(len, latencies.values())),
            errors=len(errors),
            lost=max(0, answered - stored),
            duplicated=max(0, stored - answered),
            note="; ".join(notes),
        )
        assert not errors, errors[:5]
        assert len(latencies["upload"]) >= LOAD_CLIENTS  # every client got at least one photo through
        assert stored == len(latencies["upload"])  # every answered upload is stored, once
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_a_server_killed_mid_upload_loses_no_committed_analysis_and_keeps_no_half(tiny_checkpoint, tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    proc, server = start_server(url, tmp_path, tiny_checkpoint)
    jpeg = fixture_path("obama.jpg").read_bytes()
    token, _ = server.user()
    pid = server.call("POST", "/api/people", token=token, json_body={"label": "crash"}).json()["id"]
    answered: list[int] = []

    def upload(_: int) -> None:
        try:
            reply = server.call("POST", f"/api/people/{pid}/analyses", token=token, files={"image": ("a.jpg", jpeg)})
        except OSError:  # the connection died with the server: not answered, may or may not be stored
            return
        if reply.status == 201:
            answered.append(reply.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(upload, i) for i in range(40)]
        while len(answered) < 5:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown, no flush: as a power cut would
        for f in futures:
            f.result()
    proc.wait()
    proc, server = start_server(url, tmp_path, tiny_checkpoint)
    try:
        # The same data folder, so the same signing key: the token from before the crash still works.
        stored = server.call("GET", f"/api/people/{pid}/analyses", token=token).json()
        ids = [a["id"] for a in stored]
        half = sum(not (a["values"] and a["probabilities"] and a["model_id"]) for a in stored)
        record_reliability(
            "server_kill9",
            "fault",
            "kill -9 of the server with 8 uploads in flight, then restart",
            faults=1,
            requests=40,
            errors=half,
            lost=len(set(answered) - set(ids)),
            duplicated=len(ids) - len(set(ids)),
            note=f"{len(answered)} answered 201 before the kill, {len(ids)} stored after; half-stored analyses: {half}",
        )
        assert set(answered) <= set(ids), "an analysis answered 201 was lost"
        assert len(ids) == len(set(ids))
        for a in stored:  # complete rows only: the scores and the model that made them
            assert a["values"] and a["probabilities"] and a["model_id"], a
        report = server.call("GET", f"/api/people/{pid}/report.txt", token=token)
        assert report.status == 200 and report.body  # the store reads back whole
    finally:
        proc.terminate()
        proc.wait(10)
