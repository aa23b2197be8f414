"""Fixtures for the service tests: a real uvicorn process on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ADMIN = ("admin@example.org", "admin-pass-123")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def _multipart(files: dict[str, tuple[str, bytes]], fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class Server:
    url: str
    data_dir: Path
    database_url: str

    def call(self, method, path, *, json_body=None, token=None, files=None, fields=None) -> Reply:
        headers, data = {}, None
        if json_body is not None:
            data, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        if files is not None:
            data, headers["Content-Type"] = _multipart(files, fields or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
        except urllib.error.HTTPError as e:
            return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())

    def login(self, email, password) -> dict:
        reply = self.call("POST", "/api/auth/login", json_body={"email": email, "password": password})
        assert reply.status == 200, reply.body
        return reply.json()

    def user(self, role="clinician") -> tuple[str, str]:
        """A new approved account (created by the admin); returns its access token and e-mail."""
        email, password = f"{role}-{uuid.uuid4().hex[:8]}@example.org", "a-long-password-9"
        admin = self.login(*ADMIN)["access_token"]
        reply = self.call(
            "POST", "/api/users", token=admin, json_body={"email": email, "password": password, "role": role}
        )
        assert reply.status == 201, reply.body
        return self.login(email, password)["access_token"], email

    @property
    def secret(self) -> str:
        return (self.data_dir / "secret.key").read_text().strip()


def start_server(database_url: str, data_dir: Path, checkpoint: Path, env: dict[str, str] | None = None):
    from facehealth.serve.accounts import create_user, find_user
    from facehealth.serve.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(database_url)
    upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        if find_user(session, ADMIN[0]) is None:  # two servers may share one database
            create_user(session, *ADMIN, "admin", approved=True)
    engine.dispose()
    port = free_port()
    env = (
        os.environ
        | {
            "PYTHONPATH": str(SRC),
            "DATABASE_URL": database_url,
            "OMP_NUM_THREADS": "1",  # two torch threads spin-wait on each other on a shared 2-core machine
        }
        | (env or {})
    )
    cmd = [sys.executable, "-m", "facehealth.cli", "serve", "--port", str(port)]
    cmd += ["--model", str(checkpoint), "--data-dir", str(data_dir)]
    log = open(data_dir / "server.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", data_dir, database_url)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited: {(data_dir / 'server.log').read_text()[-3000:]}")
        try:
            if server.call("GET", "/ready").status == 200:
                break
        except OSError:
            pass
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the server did not become ready in 180 s")
    return proc, server


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _pg_bin() -> Path | None:
    for candidate in [shutil.which("initdb"), *sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))]:
        if candidate:
            return Path(candidate).parent
    return None


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A throwaway PostgreSQL cluster on a free loopback port (initdb runs as `postgres` under root)."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl); install Debian's postgresql package")
    pytest.importorskip("psycopg")
    # Not under pytest's tmp root: that is private to root, and the server runs as `postgres`.
    folder = Path(tempfile.mkdtemp(prefix="facehealth-pg-"))
    data, port = folder / "data", free_port()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(folder, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    run = lambda *a: subprocess.run([*prefix, *a], check=True, capture_output=True)  # noqa: E731
    run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "pg.log"), "-w", "start")
    yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A throwaway Redis server on a free loopback port, nothing persisted."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server (Debian package redis-server); .ci/run installs it")
    pytest.importorskip("redis")
    folder, port = tmp_path_factory.mktemp("redis"), free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    deadline = time.monotonic() + 20
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.1)
    yield url
    _stop(proc)


@pytest.fixture(scope="session")
def sqlite_server(tiny_checkpoint, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("serve_sqlite")
    proc, server = start_server(f"sqlite:///{data_dir / 'facehealth.db'}", data_dir, tiny_checkpoint)
    yield server
    _stop(proc)


@pytest.fixture(scope="session")
def postgresql_server(tiny_checkpoint, postgres_url, tmp_path_factory):
    proc, server = start_server(postgres_url, tmp_path_factory.mktemp("serve_pg"), tiny_checkpoint)
    yield server
    _stop(proc)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(request) -> Server:
    return request.getfixturevalue(f"{request.param}_server")
