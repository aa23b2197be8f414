"""Users, login sessions (refresh-token rotation) and the audit trail: database operations only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facehealth.serve.orm import ROLES, AuditEvent, Invitation, RefreshToken, User, utcnow
from facehealth.serve.security import (
    AccessClaims,
    check_password_strength,
    hash_password,
    hash_refresh_token,
    make_access_token,
    new_refresh_token,
)
from facehealth.serve.settings import Settings

__all__ = [
    "TokenPair",
    "audit",
    "create_user",
    "create_invitation",
    "redeem_invitation",
    "issue_tokens",
    "rotate_refresh",
    "revoke_refresh",
    "find_user",
]


class TokenPair(tuple[str, str]):
    """(access token, refresh token)."""


def audit(session: Session, user_id: int | None, action: str, target: str = "") -> None:
    session.add(AuditEvent(user_id=user_id, action=action, target=target[:200]))


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(session: Session, email: str, password: str, role: str, approved: bool) -> User:
    """A new account. Raises ValueError (weak password, unknown role, taken e-mail)."""
    email = email.strip().lower()
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; allowed: {', '.join(ROLES)}")
    if "@" not in email:
        raise ValueError(f"{email!r} is not an e-mail address")
    check_password_strength(password, email)
    if find_user(session, email) is not None:
        raise ValueError(f"an account for {email} exists already")
    user = User(email=email, password_hash=hash_password(password), role=role, approved=approved)
    session.add(user)
    session.flush()
    audit(session, user.id, "user.create", f"{email} as {role}")
    return user


def _aware(time: dt.datetime) -> dt.datetime:
    return time.replace(tzinfo=dt.UTC) if time.tzinfo is None else time  # SQLite drops the zone


def issue_tokens(session: Session, user: User, settings: Settings) -> TokenPair:
    refresh = new_refresh_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=hash_refresh_token(refresh),
            expires_at=utcnow() + dt.timedelta(days=settings.refresh_days),
        )
    )
    access = make_access_token(AccessClaims(user.id, user.role), settings.secret_key, settings.access_minutes)
    return TokenPair((access, refresh))


def rotate_refresh(session: Session, token: str, settings: Settings) -> tuple[User, TokenPair] | None:
    """Exchange a refresh token for a new pair; None when it is unknown, expired or revoked.

    Presenting an already-revoked token means it was copied: every session of that user ends.
    """
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token)))
    if row is None:
        return None
    if row.revoked:
        session.execute(update(RefreshToken).where(RefreshToken.user_id == row.user_id).values(revoked=True))
        audit(session, row.user_id, "token.reuse")
        return None
    if _aware(row.expires_at) < utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.approved:
        return None
    row.revoked = True
    return user, issue_tokens(session, user, settings)


def revoke_refresh(session: Session, token: str) -> None:
    session.execute(
        update(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token)).values(revoked=True)
    )


def create_invitation(session: Session, admin: User, role: str, email: str | None, days: int) -> tuple[str, Invitation]:
    """A one-time sign-up token (returned once; only its hash is stored) and its row."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; allowed: {', '.join(ROLES)}")
    token = new_refresh_token()  # the same 256-bit random token, for the same reason
    row = Invitation(
        token_hash=hash_refresh_token(token),
        role=role,
        email=email.strip().lower() if email else None,
        created_by=admin.id,
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    session.add(row)
    session.flush()
    audit(session, admin.id, "invitation.create", f"{row.id} as {role}" + (f" for {row.email}" if row.email else ""))
    return token, row


def redeem_invitation(session: Session, token: str, email: str, password: str) -> User:
    """The approved account an invitation creates. Raises ValueError: unknown, used, expired, other e-mail."""
    row = session.scalar(select(Invitation).where(Invitation.token_hash == hash_refresh_token(token)))
    if row is None or row.used_by is not None:
        raise ValueError("the invitation is unknown or has been used")
    if _aware(row.expires_at) < utcnow():
        raise ValueError("the invitation has expired; ask for a new one")
    if row.email is not None and row.email != email.strip().lower():
        raise ValueError("the invitation is for another e-mail address")
    user = create_user(session, email, password, row.role, approved=True)
    row.used_by = user.id
    audit(session, user.id, "invitation.redeem", str(row.id))
    return user
