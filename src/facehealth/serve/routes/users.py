"""Account administration (admins only) and the signed-in user's own account."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from facehealth.serve.accounts import audit, create_invitation, create_user
from facehealth.serve.deps import AdminUser, CurrentUser, RowId, SessionDep
from facehealth.serve.errors import ServiceError
from facehealth.serve.orm import User
from facehealth.serve.schemas import InvitationOut, NewInvitation, NewUser, UserOut

router = APIRouter(prefix="/api/users", tags=["users"])


def _out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, role=user.role, approved=user.approved)


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    return _out(user)


@router.get("")
def list_users(_admin: AdminUser, session: SessionDep) -> list[UserOut]:
    return [_out(u) for u in session.scalars(select(User).order_by(User.id))]


@router.post("", status_code=201)
def add_user(body: NewUser, admin: AdminUser, session: SessionDep) -> UserOut:
    try:
        return _out(create_user(session, body.email, body.password, body.role, approved=True))
    except ValueError as exc:
        raise ServiceError(422, "invalid_account", str(exc)) from exc


@router.post("/invitations", status_code=201)
def invite(body: NewInvitation, admin: AdminUser, session: SessionDep) -> InvitationOut:
    """A one-time sign-up token: the account registered with it is approved at once, with its role."""
    try:
        token, row = create_invitation(session, admin, body.role, body.email, body.days)
    except ValueError as exc:
        raise ServiceError(422, "invalid_invitation", str(exc)) from exc
    return InvitationOut(token=token, role=row.role, email=row.email, expires_at=row.expires_at.isoformat())


@router.post("/{user_id}/approve")
def approve(user_id: RowId, admin: AdminUser, session: SessionDep) -> UserOut:
    user = session.get(User, user_id)
    if user is None:
        raise ServiceError(404, "not_found", f"no user {user_id}")
    user.approved = True
    audit(session, admin.id, "user.approve", user.email)
    return _out(user)
