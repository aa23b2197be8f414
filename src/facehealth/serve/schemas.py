"""Pydantic request/response models: the HTTP edge only."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "Credentials",
    "Registration",
    "NewInvitation",
    "InvitationOut",
    "NewUser",
    "Tokens",
    "RefreshRequest",
    "UserOut",
    "NewPerson",
    "PersonOut",
]


class Credentials(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class Registration(Credentials):
    role: Literal["clinician", "self"] = "self"  # ignored with an invitation: the invitation sets the role
    invitation: str | None = Field(default=None, max_length=100)


class NewInvitation(BaseModel):
    role: Literal["admin", "clinician", "self"] = "clinician"
    email: str | None = Field(default=None, max_length=254)  # None: whoever has the link may use it
    days: int = Field(default=7, ge=1, le=90)


class InvitationOut(BaseModel):
    token: str  # shown once: only its hash is stored
    role: str
    email: str | None
    expires_at: str


class NewUser(Credentials):
    role: Literal["admin", "clinician", "self"] = "clinician"


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


class RefreshRequest(BaseModel):
    refresh_token: str = Field(max_length=200)


class UserOut(BaseModel):
    id: int
    email: str
    role: str
    approved: bool


class NewPerson(BaseModel):
    label: str = Field(min_length=1, max_length=200)


class PersonOut(BaseModel):
    id: int
    label: str
    owner_id: int
    visits: int
