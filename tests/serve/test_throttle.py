"""Rate limits: the in-process and the Redis limiter keep the same rule; Redis shares it across processes."""

from __future__ import annotations

import time

import pytest

from facehealth.errors import ConfigError
from facehealth.serve.throttle import RateLimiter, RedisRateLimiter, connect_redis
from tests.conftest import fixture_path
from tests.serve.conftest import _stop, free_port, start_server


def _sequence(limiter, key):
    return [limiter.hit(key) > 0 for _ in range(5)]


def test_redis_and_in_process_limiters_refuse_the_same_hits(redis_url):
    client = connect_redis(redis_url)
    redis_limiter, local = RedisRateLimiter(client, "t1", 3, 0.5), RateLimiter(3, 0.5)
    assert _sequence(redis_limiter, "k") == _sequence(local, "k") == [False, False, False, True, True]
    wait = redis_limiter.hit("k")
    assert 0 < wait <= 0.5
    time.sleep(0.55)  # the window has passed: allowed again
    assert redis_limiter.hit("k") == 0.0 and local.hit("k") == 0.0
    redis_limiter.reset("k")
    assert [redis_limiter.hit("k") for _ in range(3)] == [0.0] * 3
    assert client.pttl("facehealth:t1:k") <= 500  # counters expire with their window


def test_two_processes_share_one_count_in_redis(redis_url):
    first = RedisRateLimiter(connect_redis(redis_url), "t2", 4, 30)
    second = RedisRateLimiter(connect_redis(redis_url), "t2", 4, 30)  # another process's client
    assert [first.hit("u"), second.hit("u"), first.hit("u"), second.hit("u")] == [0.0] * 4
    assert second.hit("u") > 0 and first.hit("u") > 0
    assert first.hit("other") == 0.0  # keys are separate


def test_an_unreachable_redis_is_a_clear_error():
    with pytest.raises(ConfigError, match="cannot reach Redis"):
        connect_redis(f"redis://127.0.0.1:{free_port()}/0")


def test_servers_sharing_redis_share_login_and_upload_limits(redis_url, tiny_checkpoint, tmp_path):
    env = {"REDIS_URL": redis_url, "FACEHEALTH_UPLOADS_PER_MINUTE": "2", "FACEHEALTH_SECRET_KEY": "s" * 48}
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    proc_a, a = start_server(database, tmp_path / "a", tiny_checkpoint, env)
    proc_b, b = start_server(database, tmp_path / "b", tiny_checkpoint, env)
    try:
        assert a.call("GET", "/ready").status == 200
        wrong = {"email": "nobody@example.org", "password": "wrong-password-1"}
        statuses = [(a if i % 2 else b).call("POST", "/api/auth/login", json_body=wrong).status for i in range(6)]
        assert statuses == [401] * 5 + [429]  # 5 attempts in all, not 5 per process
        token, _ = a.user()
        pid = a.call("POST", "/api/people", token=token, json_body={"label": "R"}).json()["id"]
        photo = {"image": ("obama.jpg", fixture_path("obama.jpg").read_bytes())}
        uploads = [s.call("POST", f"/api/people/{pid}/analyses", token=token, files=photo).status for s in (a, b, a)]
        assert uploads == [201, 201, 429]
        refused = b.call("POST", f"/api/people/{pid}/analyses", token=token, files=photo)
        assert refused.status == 429 and int(refused.headers["retry-after"]) >= 1
    finally:
        _stop(proc_a)
        _stop(proc_b)
