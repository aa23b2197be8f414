"""Passwords (argon2), access tokens (JWT, HS256 only) and refresh tokens (random, stored hashed)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "AccessClaims",
    "TokenError",
    "WeakPasswordError",
    "check_password_strength",
    "hash_password",
    "verify_password",
    "make_access_token",
    "read_access_token",
    "new_refresh_token",
    "hash_refresh_token",
    "fernet_key",
]

# OWASP ASVS 4.0.3 V2.1.1 (level 2): at least 12 characters (NIST SP 800-63B's floor is 8).
MIN_PASSWORD_LENGTH = 12
_ALGORITHM = "HS256"  # the only one accepted when reading: "none" and key-confusion attacks fail
_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory defaults


class TokenError(Exception):
    """The token is missing, malformed, forged, expired or of the wrong kind."""


class WeakPasswordError(ValueError):
    pass


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    role: str


def check_password_strength(password: str, email: str = "") -> None:
    """Raise WeakPasswordError naming the rule the password breaks."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(set(password)) < 4:
        raise WeakPasswordError("the password needs at least 4 different characters")
    if email and password.lower() in email.lower():
        raise WeakPasswordError("the password must not be part of the e-mail address")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def make_access_token(claims: AccessClaims, key: str, minutes: int, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    payload = {
        "sub": str(claims.user_id),
        "role": claims.role,
        "type": "access",
        "iat": now,
        "exp": now + dt.timedelta(minutes=minutes),
    }
    return jwt.encode(payload, key, algorithm=_ALGORITHM)


def read_access_token(token: str, key: str) -> AccessClaims:
    try:
        data = jwt.decode(token, key, algorithms=[_ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("the access token has expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("the access token is not valid") from exc
    if data.get("type") != "access":
        raise TokenError("not an access token")
    return AccessClaims(int(data["sub"]), str(data.get("role", "")))


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits: unguessable, so a plain SHA-256 suffices to store it


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def fernet_key(secret: str) -> bytes:
    """A Fernet key derived from the service secret (a separate purpose string keeps it distinct)."""
    digest = hashlib.sha256(b"facehealth-image-encryption:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest)
