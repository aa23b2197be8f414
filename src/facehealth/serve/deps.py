"""Request dependencies: one database session per request, the signed-in user, role checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from facehealth.serve.errors import ServiceError
from facehealth.serve.orm import Person, User
from facehealth.serve.security import TokenError, read_access_token
from facehealth.serve.settings import Settings

__all__ = ["SessionDep", "CurrentUser", "AdminUser", "SettingsDep", "get_person", "user_from_token"]

_bearer = HTTPBearer(auto_error=False)


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


def release_connection(session: Session) -> None:
    """End the request's read transaction before slow work (reading an upload, scoring a face).

    Found by the load test: with the connection held while 50 uploads waited for the model, the
    pool (5 + 10 connections) ran dry and history reads timed out. After the commit the session
    checks a connection out again only when it next touches the database.
    """
    session.commit()


def _settings(request: Request) -> Settings:
    return request.app.state.settings


# scope="function": commit before the response goes out, so the client's next request sees the write.
SessionDep = Annotated[Session, Depends(_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(_settings)]


def _unauthorized(message: str) -> ServiceError:
    return ServiceError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


def user_from_token(session: Session, token: str, key: str) -> User:
    """The approved account an access token names; raises TokenError (HTTP routes and the live socket)."""
    claims = read_access_token(token, key)
    user = session.get(User, claims.user_id)
    if user is None or not user.approved:
        raise TokenError("the account does not exist or is not approved")
    return user


def _current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise _unauthorized("sign in first (no bearer token)")
    try:
        return user_from_token(session, credentials.credentials, settings.secret_key)
    except TokenError as exc:
        raise _unauthorized(str(exc)) from exc


# Ids in URLs are database integers: a value outside SQLite's/PostgreSQL's 64-bit range is a 422,
# not an overflow inside the driver (found by Schemathesis: /api/people/9051545042133443974004736).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a database id")]

CurrentUser = Annotated[User, Depends(_current_user)]


def _admin(user: CurrentUser) -> User:
    if user.role != "admin":
        raise ServiceError(403, "forbidden", "only an admin may do this")
    return user


AdminUser = Annotated[User, Depends(_admin)]


def get_person(session: Session, user: User, person_id: int) -> Person:
    """The person if ``user`` may see it: admins see everyone, others only the people they own.

    Someone else's person answers 404, like a missing one, so ids cannot be probed.
    """
    person = session.get(Person, person_id)
    if person is None or (user.role != "admin" and person.owner_id != user.id):
        raise ServiceError(404, "not_found", f"no person {person_id}")
    return person
