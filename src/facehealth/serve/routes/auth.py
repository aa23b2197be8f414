"""Sign-in, token refresh, sign-out and registration (by invitation, or approved later by an admin)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from facehealth.serve.accounts import (
    audit,
    create_user,
    find_user,
    issue_tokens,
    redeem_invitation,
    revoke_refresh,
    rotate_refresh,
)
from facehealth.serve.deps import SessionDep, SettingsDep
from facehealth.serve.errors import ServiceError
from facehealth.serve.schemas import Credentials, RefreshRequest, Registration, Tokens, UserOut
from facehealth.serve.security import verify_password

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login")
def login(body: Credentials, request: Request, session: SessionDep, settings: SettingsDep) -> Tokens:
    client = request.client.host if request.client else "?"
    key = f"{client}|{body.email.strip().lower()}"
    wait = request.app.state.login_limiter.hit(key)
    if wait:
        raise ServiceError(
            429,
            "too_many_attempts",
            f"too many sign-in attempts; retry in {wait:.0f} s",
            {"Retry-After": str(int(wait) + 1)},
        )
    user = find_user(session, body.email)
    if user is None or not verify_password(user.password_hash, body.password):
        audit(session, user.id if user else None, "login.failed", body.email[:200])
        session.commit()  # the error below rolls the request back; the failed attempt stays on record
        raise ServiceError(401, "bad_credentials", "wrong e-mail address or password")
    if not user.approved:
        raise ServiceError(403, "not_approved", "the account is waiting for an admin's approval")
    request.app.state.login_limiter.reset(key)
    access, refresh = issue_tokens(session, user, settings)
    audit(session, user.id, "login")
    return Tokens(access_token=access, refresh_token=refresh)


@router.post("/refresh")
def refresh(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> Tokens:
    rotated = rotate_refresh(session, body.refresh_token, settings)
    if rotated is None:
        session.commit()  # keep the revocation of a reused token's family
        raise ServiceError(401, "unauthorized", "the refresh token is unknown, expired or revoked")
    _user, (access, new_refresh) = rotated
    return Tokens(access_token=access, refresh_token=new_refresh)


@router.post("/logout", status_code=204)
def logout(body: RefreshRequest, session: SessionDep) -> None:
    revoke_refresh(session, body.refresh_token)


@router.post("/register", status_code=201)
def register(body: Registration, session: SessionDep) -> UserOut:
    """With an invitation the account is approved at once; without one it waits for an admin."""
    try:
        if body.invitation:
            user = redeem_invitation(session, body.invitation, body.email, body.password)
        else:
            user = create_user(session, body.email, body.password, body.role, approved=False)
    except ValueError as exc:
        raise ServiceError(422, "invalid_account", str(exc)) from exc
    return UserOut(id=user.id, email=user.email, role=user.role, approved=user.approved)
