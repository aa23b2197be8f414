"""The service's tables as typed SQLAlchemy 2 models. Every change here needs an Alembic migration."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "User",
    "RefreshToken",
    "Person",
    "Analysis",
    "AuditEvent",
    "Job",
    "Invitation",
    "ROLES",
    "JOB_STATES",
    "utcnow",
]

ROLES = ("admin", "clinician", "self")
JOB_STATES = ("queued", "running", "done", "failed")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # Self-registered accounts wait for an admin's approval before they can log in.
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token: a leaked database does not leak usable tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    analyses: Mapped[list[Analysis]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Analysis.visit_time"
    )


class Analysis(Base):
    """One scored visit: the report's Visit payload plus the report rendered at that time."""

    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    visit_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    model_id: Mapped[str] = mapped_column(String(255))
    model_card: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # report.history.Visit.payload()
    warnings: Mapped[list[str]] = mapped_column(JSON)
    report_text: Mapped[str] = mapped_column(Text)
    report_html: Mapped[str] = mapped_column(Text)
    # Only when the user opted in, and then Fernet-encrypted with a key derived from the secret.
    image_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    person: Mapped[Person] = relationship(back_populates="analyses")


class AuditEvent(Base):
    """Append-only: the service inserts rows and never updates or deletes them."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # No foreign key: the trail outlives deleted users and people.
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")


class Job(Base):
    """A video analysis running in the background: its state, progress and, when done, its analysis."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0-1: frames read / frames expected
    frames_read: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    analysis_id: Mapped[int | None] = mapped_column(ForeignKey("analyses.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Invitation(Base):
    """A one-time sign-up link made by an admin: the account it creates is approved at once."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the token, as for refresh tokens: the database alone cannot be used to sign up.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)  # None: anyone with the link
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
