"""Access control: anonymous, other users, wrong roles, bad tokens, revoked refresh tokens."""

import datetime as dt
import uuid

import jwt
import pytest

from facehealth.serve.security import AccessClaims, make_access_token
from tests.conftest import fixture_path


@pytest.fixture(scope="module")
def owned(sqlite_server):
    token, _ = sqlite_server.user()
    pid = sqlite_server.call("POST", "/api/people", token=token, json_body={"label": "A"}).json()["id"]
    return token, pid


def test_anonymous_is_401(server):
    for path in ("/api/people", "/api/users/me", "/api/model", "/api/people/1/analyses"):
        reply = server.call("GET", path)
        assert reply.status == 401 and reply.json()["error"]["code"] == "unauthorized", path


def test_other_clinician_cannot_see_or_delete(sqlite_server, owned):
    _token, pid = owned
    other, _ = sqlite_server.user()
    assert sqlite_server.call("GET", "/api/people", token=other).json() == []
    for method, path in (
        ("GET", f"/api/people/{pid}"),
        ("GET", f"/api/people/{pid}/export.json"),
        ("DELETE", f"/api/people/{pid}"),
    ):
        assert sqlite_server.call(method, path, token=other).status == 404


def test_admin_sees_every_person(sqlite_server, owned):
    from tests.serve.conftest import ADMIN

    admin = sqlite_server.login(*ADMIN)["access_token"]
    assert owned[1] in [p["id"] for p in sqlite_server.call("GET", "/api/people", token=admin).json()]


def test_wrong_role_cannot_manage_users(sqlite_server, owned):
    reply = sqlite_server.call("GET", "/api/users", token=owned[0])
    assert reply.status == 403 and reply.json()["error"]["code"] == "forbidden"


def _claims(server, token):
    return jwt.decode(token, options={"verify_signature": False})


def test_expired_forged_and_alg_none_tokens_are_refused(sqlite_server, owned):
    user_id = int(_claims(sqlite_server, owned[0])["sub"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    expired = make_access_token(AccessClaims(user_id, "admin"), sqlite_server.secret, 15, now=past)
    forged = make_access_token(AccessClaims(user_id, "admin"), "not-the-server-key-but-long-enough-for-hs256", 15)
    payload = {"sub": str(user_id), "role": "admin", "type": "access", "exp": 9999999999}
    unsigned = jwt.encode(payload, None, algorithm="none")
    for token, words in ((expired, "expired"), (forged, "not valid"), (unsigned, "not valid")):
        reply = sqlite_server.call("GET", "/api/users/me", token=token)
        assert reply.status == 401 and words in reply.json()["error"]["message"]


def test_refresh_rotates_and_a_reused_token_ends_every_session(sqlite_server):
    token, email = sqlite_server.user()
    pair = sqlite_server.login(email, "a-long-password-9")
    new = sqlite_server.call("POST", "/api/auth/refresh", json_body={"refresh_token": pair["refresh_token"]})
    assert new.status == 200
    again = sqlite_server.call("POST", "/api/auth/refresh", json_body={"refresh_token": pair["refresh_token"]})
    assert again.status == 401
    # The reuse revoked the whole family, including the token issued by the rotation.
    later = sqlite_server.call("POST", "/api/auth/refresh", json_body={"refresh_token": new.json()["refresh_token"]})
    assert later.status == 401


def test_logout_revokes_the_refresh_token(sqlite_server):
    _token, email = sqlite_server.user()
    pair = sqlite_server.login(email, "a-long-password-9")
    assert (
        sqlite_server.call("POST", "/api/auth/logout", json_body={"refresh_token": pair["refresh_token"]}).status == 204
    )
    reply = sqlite_server.call("POST", "/api/auth/refresh", json_body={"refresh_token": pair["refresh_token"]})
    assert reply.status == 401


def test_registration_waits_for_approval(sqlite_server):
    from tests.serve.conftest import ADMIN

    email = f"new-{uuid.uuid4().hex[:6]}@example.org"
    creds = {"email": email, "password": "another-pass-77"}
    reply = sqlite_server.call("POST", "/api/auth/register", json_body=creds | {"role": "clinician"})
    assert reply.status == 201 and reply.json()["approved"] is False
    assert sqlite_server.call("POST", "/api/auth/login", json_body=creds).status == 403
    admin = sqlite_server.login(*ADMIN)["access_token"]
    assert sqlite_server.call("POST", f"/api/users/{reply.json()['id']}/approve", token=admin).status == 200
    assert sqlite_server.call("POST", "/api/auth/login", json_body=creds).status == 200


def test_weak_password_and_admin_self_registration_are_refused(sqlite_server):
    weak = sqlite_server.call("POST", "/api/auth/register", json_body={"email": "w@example.org", "password": "short"})
    assert weak.status == 422 and "at least" in weak.json()["error"]["message"]
    admin = {"email": "x@example.org", "password": "a-long-password-9", "role": "admin"}
    assert sqlite_server.call("POST", "/api/auth/register", json_body=admin).status == 422


def test_login_is_throttled(sqlite_server):
    body = {"email": f"nobody-{uuid.uuid4().hex[:6]}@example.org", "password": "wrong-password-1"}
    statuses = [sqlite_server.call("POST", "/api/auth/login", json_body=body).status for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429


def test_an_invitation_creates_an_approved_account_once(sqlite_server):
    from tests.serve.conftest import ADMIN

    admin = sqlite_server.login(*ADMIN)["access_token"]
    clinician, _ = sqlite_server.user()
    body = {"role": "clinician", "email": "Invited@Example.org"}
    assert sqlite_server.call("POST", "/api/users/invitations", token=clinician, json_body=body).status == 403
    invitation = sqlite_server.call("POST", "/api/users/invitations", token=admin, json_body=body)
    assert invitation.status == 201, invitation.body
    token = invitation.json()["token"]
    creds = {"email": "invited@example.org", "password": "invited-pass-42"}
    wrong = {"email": "someone@example.org", "password": "invited-pass-42", "invitation": token}
    refused = sqlite_server.call("POST", "/api/auth/register", json_body=wrong)
    assert refused.status == 422 and "another e-mail" in refused.json()["error"]["message"]
    joined = sqlite_server.call("POST", "/api/auth/register", json_body=creds | {"invitation": token, "role": "self"})
    assert joined.status == 201 and joined.json()["approved"] is True
    assert joined.json()["role"] == "clinician"  # the invitation's role, not the one asked for
    assert sqlite_server.call("POST", "/api/auth/login", json_body=creds).status == 200
    again = {"email": "other@example.org", "password": "invited-pass-42", "invitation": token}
    reused = sqlite_server.call("POST", "/api/auth/register", json_body=again)
    assert reused.status == 422 and "used" in reused.json()["error"]["message"]
    made_up = sqlite_server.call("POST", "/api/auth/register", json_body=again | {"invitation": "x" * 43})
    assert made_up.status == 422


def test_an_expired_invitation_is_refused(sqlite_server):
    import datetime as dt

    from sqlalchemy import create_engine, text

    from tests.serve.conftest import ADMIN

    admin = sqlite_server.login(*ADMIN)["access_token"]
    token = sqlite_server.call("POST", "/api/users/invitations", token=admin, json_body={"role": "self"}).json()
    engine = create_engine(sqlite_server.database_url)
    with engine.begin() as c:  # as if 8 days had passed
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        c.execute(text("UPDATE invitations SET expires_at = :t WHERE used_by IS NULL"), {"t": past})
    engine.dispose()
    creds = {
        "email": f"late-{uuid.uuid4().hex[:6]}@example.org",
        "password": "late-pass-4242",
        "invitation": token["token"],
    }
    reply = sqlite_server.call("POST", "/api/auth/register", json_body=creds)
    assert reply.status == 422 and "expired" in reply.json()["error"]["message"]


def test_every_read_of_health_data_is_in_the_audit_log(sqlite_server):
    from sqlalchemy import create_engine, text

    token, _ = sqlite_server.user()
    user_id = sqlite_server.call("GET", "/api/users/me", token=token).json()["id"]
    pid = sqlite_server.call("POST", "/api/people", token=token, json_body={"label": "A"}).json()["id"]
    files = {"image": ("obama.jpg", fixture_path("obama.jpg").read_bytes())}
    assert sqlite_server.call("POST", f"/api/people/{pid}/analyses", token=token, files=files).status == 201
    for path in ("analyses", "alerts", "report.txt", "report.html", "export.json"):
        assert sqlite_server.call("GET", f"/api/people/{pid}/{path}", token=token).status == 200
    engine = create_engine(sqlite_server.database_url)
    with engine.connect() as c:
        rows = c.execute(text("SELECT action, target FROM audit_log WHERE user_id = :u ORDER BY id"), {"u": user_id})
        trail = [tuple(r) for r in rows]
    engine.dispose()
    assert trail[-5:] == [
        ("person.read", f"{pid} history"),
        ("person.read", f"{pid} alerts"),
        ("person.read", f"{pid} report"),
        ("person.read", f"{pid} report"),
        ("person.export", str(pid)),
    ]
