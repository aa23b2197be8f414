"""Bad uploads get a 4xx JSON error that names the problem; nothing is stored."""

import io

import pytest
from PIL import Image

from tests.conftest import fixture_path


@pytest.fixture(scope="module")
def person(sqlite_server):
    token, _ = sqlite_server.user()
    pid = sqlite_server.call("POST", "/api/people", token=token, json_body={"label": "U"}).json()["id"]
    return token, pid


def _huge_png() -> bytes:
    # 8000 x 6000 = 48 MP of one colour: a few kB on disk, 144 MB once decoded.
    buf = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buf, format="PNG")
    return buf.getvalue()


CASES = {
    "empty": (b"", 422, "corrupt_media", "empty"),
    "truncated": (fixture_path("obama.jpg").read_bytes()[:5000], 422, "corrupt_media", "truncated"),
    "text_named_jpg": (b"hello, I am not a photo\n" * 20, 415, "unsupported_media", "not a JPEG"),
    "huge_pixels": (_huge_png(), 413, "too_large", "exceeds"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_upload(sqlite_server, person, case):
    data, status, code, words = CASES[case]
    token, pid = person
    reply = sqlite_server.call("POST", f"/api/people/{pid}/analyses", token=token, files={"image": ("photo.jpg", data)})
    assert reply.status == status, reply.body
    assert reply.json()["error"]["code"] == code and words in reply.json()["error"]["message"]
    assert sqlite_server.call("GET", f"/api/people/{pid}/analyses", token=token).json() == []


def test_a_photo_without_a_face_is_422(sqlite_server, person):
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), (120, 80, 60)).save(buf, format="PNG")
    token, pid = person
    reply = sqlite_server.call(
        "POST", f"/api/people/{pid}/analyses", token=token, files={"image": ("x.png", buf.getvalue())}
    )
    assert reply.status == 422 and reply.json()["error"]["code"] == "no_face"


def test_missing_file_field_is_422_json(sqlite_server, person):
    token, pid = person
    reply = sqlite_server.call("POST", f"/api/people/{pid}/analyses", token=token, files={}, fields={"x": "1"})
    assert reply.status == 422 and reply.json()["error"]["code"] == "invalid_request"


def test_an_announced_oversized_body_is_refused_before_reading(sqlite_server, person):
    import http.client
    from urllib.parse import urlsplit

    token, pid = person
    url = urlsplit(sqlite_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest("POST", f"/api/people/{pid}/analyses")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(10**9))
    conn.endheaders()
    reply = conn.getresponse()
    assert reply.status == 413 and b"too_large" in reply.read()
    conn.close()


def test_failed_logins_are_audited(sqlite_server):
    from sqlalchemy import create_engine, text

    sqlite_server.call("POST", "/api/auth/login", json_body={"email": "ghost@example.org", "password": "x" * 12})
    engine = create_engine(sqlite_server.database_url)
    with engine.connect() as c:
        rows = c.execute(text("SELECT target FROM audit_log WHERE action = 'login.failed'")).scalars().all()
    engine.dispose()
    assert "ghost@example.org" in rows
