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
