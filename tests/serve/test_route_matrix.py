"""Every route of the served OpenAPI spec against every kind of caller: anonymous, bad tokens,
another user, the wrong role; and SQL-shaped text in every free-text field stays text.

The list of protected routes is pinned: a new route fails the first test until it is placed in
the matrix below, so no route ships without its access check being tested.
"""

from __future__ import annotations

import jwt
import pytest

from tests.conftest import fixture_path

PERSON_ROUTES = {
    ("GET", "/api/people/{person_id}"),
    ("DELETE", "/api/people/{person_id}"),
    ("POST", "/api/people/{person_id}/analyses"),
    ("GET", "/api/people/{person_id}/analyses"),
    ("POST", "/api/people/{person_id}/videos"),
    ("GET", "/api/people/{person_id}/alerts"),
    ("GET", "/api/people/{person_id}/report.html"),
    ("GET", "/api/people/{person_id}/report.txt"),
    ("GET", "/api/people/{person_id}/export.json"),
    ("GET", "/api/people/{person_id}/export.csv"),
}
ADMIN_ROUTES = {
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("POST", "/api/users/{user_id}/approve"),
}
INVITE_ROUTES = {("POST", "/api/users/invitations")}  # admins and clinicians invite; self-users do not
OWN_ROUTES = {  # scoped to the caller by construction
    ("GET", "/api/model"),
    ("GET", "/api/users/me"),
    ("GET", "/api/people"),
    ("POST", "/api/people"),
    ("GET", "/api/jobs/{job_id}"),
}
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/ready"),
    *(("POST", f"/api/auth/{a}") for a in ("login", "refresh", "logout", "register")),
}


@pytest.fixture(scope="module")
def spec(sqlite_server):
    return sqlite_server.call("GET", "/openapi.json").json()


def _operations(spec: dict) -> dict[tuple[str, str], dict]:
    return {(m.upper(), p): op for p, item in spec["paths"].items() for m, op in item.items()}


def _fill(path: str, person: int = 1) -> str:
    return path.replace("{person_id}", str(person)).replace("{user_id}", "1").replace("{job_id}", "1")


def test_every_route_is_in_the_matrix_and_only_the_public_ones_are_open(spec):
    ops = _operations(spec)
    protected = {k for k, op in ops.items() if op.get("security")}
    assert protected == PERSON_ROUTES | ADMIN_ROUTES | INVITE_ROUTES | OWN_ROUTES, "place new routes in the matrix"
    assert set(ops) - protected == PUBLIC


def test_every_protected_route_refuses_anonymous_forged_and_unsigned_callers(sqlite_server, spec):
    forged = jwt.encode({"sub": "1", "role": "admin", "type": "access", "exp": 9999999999}, "x" * 40, "HS256")
    unsigned = jwt.encode({"sub": "1", "role": "admin", "type": "access", "exp": 9999999999}, None, algorithm="none")
    for method, path in sorted(PERSON_ROUTES | ADMIN_ROUTES | INVITE_ROUTES | OWN_ROUTES):
        for token in (None, forged, unsigned, "not-a-jwt"):
            reply = sqlite_server.call(method, _fill(path), token=token)
            assert reply.status == 401, (method, path, token and token[:12], reply.status)
            assert reply.json()["error"]["code"] == "unauthorized"


def test_another_users_person_is_invisible_on_every_person_route(sqlite_server):
    owner, _ = sqlite_server.user()
    pid = sqlite_server.call("POST", "/api/people", token=owner, json_body={"label": "owned"}).json()["id"]
    jpeg = fixture_path("obama.jpg").read_bytes()
    photo = {"image": ("a.jpg", jpeg)}
    assert sqlite_server.call("POST", f"/api/people/{pid}/analyses", token=owner, files=photo).status == 201
    stranger, _ = sqlite_server.user()
    for method, path in sorted(PERSON_ROUTES):
        files = ({"video": ("a.mp4", jpeg)} if path.endswith("videos") else photo) if method == "POST" else None
        reply = sqlite_server.call(method, _fill(path, pid), token=stranger, files=files)
        # 404, not 403: a stranger cannot even learn that the person exists.
        assert reply.status == 404, (method, path, reply.status)
    analyses = sqlite_server.call("GET", f"/api/people/{pid}/analyses", token=owner).json()
    assert len(analyses) == 1  # the stranger's upload stored nothing, the DELETE removed nothing


def test_clinicians_and_self_users_cannot_use_admin_routes(sqlite_server):
    for role in ("clinician", "self"):
        token, _ = sqlite_server.user(role)
        for method, path in sorted(ADMIN_ROUTES):
            body = {"email": "x@example.org", "password": "a-long-password-9", "role": "admin"}
            reply = sqlite_server.call(method, _fill(path), token=token, json_body=body if method == "POST" else None)
            assert reply.status == 403 and reply.json()["error"]["code"] == "forbidden", (role, method, path)


INJECTIONS = ("'; DROP TABLE people; --", "x' OR '1'='1", 'Robert"); DELETE FROM users; --', "%' --", "\\'; SELECT 1")


def test_sql_shaped_text_is_stored_as_text_and_matches_nothing(sqlite_server):
    token, _ = sqlite_server.user()
    for text in INJECTIONS:
        reply = sqlite_server.call("POST", "/api/people", token=token, json_body={"label": text})
        assert reply.status == 201, reply.body
        assert sqlite_server.call("GET", f"/api/people/{reply.json()['id']}", token=token).json()["label"] == text
    labels = [p["label"] for p in sqlite_server.call("GET", "/api/people", token=token).json()]
    assert labels == list(INJECTIONS) or sorted(labels) == sorted(INJECTIONS)  # nothing dropped, nothing extra
    for text in INJECTIONS:  # as login e-mail and password: refused, never a way in, never a 500
        reply = sqlite_server.call("POST", "/api/auth/login", json_body={"email": text, "password": text})
        assert reply.status in (401, 422), (text, reply.status)
    assert sqlite_server.call("GET", "/api/users/me", token=token).status == 200  # tables intact


def test_an_upload_named_like_a_path_writes_nothing_outside_the_data_folder(sqlite_server):
    token, _ = sqlite_server.user()
    pid = sqlite_server.call("POST", "/api/people", token=token, json_body={"label": "t"}).json()["id"]
    root = sqlite_server.data_dir.parent
    before = {p for p in root.rglob("*")}
    jpeg = fixture_path("obama.jpg").read_bytes()
    for name in ("../../escaped.jpg", "/tmp/escaped.jpg", "..\\..\\escaped.jpg"):
        files = {"image": (name, jpeg)}
        reply = sqlite_server.call(
            "POST", f"/api/people/{pid}/analyses", token=token, files=files, fields={"store_image": "true"}
        )
        assert reply.status == 201, reply.body
    created = {p for p in root.rglob("*")} - before
    assert not [p for p in created if "escaped" in p.name], created
    assert not list(root.parent.glob("escaped*")) and not list(root.parent.parent.glob("escaped*"))


def test_an_id_beyond_64_bits_is_a_422_not_a_500(sqlite_server):
    token, _ = sqlite_server.user()  # found by the Schemathesis run (tests/serve/test_fuzz.py)
    for path in ("/api/people/9051545042133443974004736", "/api/jobs/18446744073709551616", "/api/people/0"):
        reply = sqlite_server.call("GET", path, token=token)
        assert reply.status == 422 and reply.json()["error"]["code"] == "invalid_request", (path, reply.status)
