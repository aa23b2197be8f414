"""The visit history in the service database: what ``facehealth report person`` reads and writes.

The CLI and the web service keep one store. A person is matched by its owner and label (the CLI's
``--subject``), so a visit recorded from the shell shows up on the owner's web page, and an upload
on the page is the previous visit of the next ``report person``. This replaces the separate
SQLite visit file the CLI used to write; ``facehealth serve import-history FILE`` copies such a
file in (:func:`import_history_file`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facehealth.errors import ConfigError
from facehealth.report.history import HistoryStore, Visit
from facehealth.serve.accounts import audit, create_user, find_user
from facehealth.serve.analyses import visits_of
from facehealth.serve.db import open_database
from facehealth.serve.orm import Analysis, Person, User

__all__ = ["DatabaseHistory", "LOCAL_OWNER", "resolve_owner", "open_history", "import_history_file"]


class DatabaseHistory:
    """A :class:`~facehealth.report.history.VisitHistory` on the service's people and analyses.

    Args:
        sessions: the service database's session factory.
        owner_id: the account the people belong to (it sees them on the web page).
        source: how the visits were recorded, kept in each analysis's model card.
    """

    def __init__(
        self, sessions: sessionmaker[Session], owner_id: int, source: str = "facehealth report person"
    ) -> None:
        self.sessions = sessions
        self.owner_id = owner_id
        self.source = source

    def _person(self, session: Session, subject_id: str) -> Person | None:
        """The person this owner sees under that label, as on the web page: admins see everyone's."""
        query = select(Person).where(Person.label == str(subject_id))
        owner = session.get(User, self.owner_id)
        if owner is None or owner.role != "admin":
            query = query.where(Person.owner_id == self.owner_id)
        # Their own person first, then the oldest: the same one every time.
        rows = session.scalars(query.order_by(Person.id)).all()
        return next((p for p in rows if p.owner_id == self.owner_id), rows[0] if rows else None)

    def visits(self, subject_id: str) -> list[Visit]:
        with self.sessions() as session:
            person = self._person(session, subject_id)
            return visits_of(person) if person is not None else []

    def add_visit(self, visit: Visit, report: Any = None) -> int:
        """Store the visit (and its report, when given) as one analysis, creating the person if new."""
        with self.sessions.begin() as session:
            person = self._person(session, visit.subject_id)
            if person is None:
                person = Person(owner_id=self.owner_id, label=visit.subject_id)
                session.add(person)
                session.flush()
                audit(session, self.owner_id, "person.create", f"{person.id} ({self.source})")
            text = report.text if report is not None else f"No report was kept for this visit ({self.source})."
            # An imported visit keeps no report; its text says so instead of inventing one.
            analysis = Analysis(
                person_id=person.id,
                visit_time=visit.time,
                model_id=visit.model_id,
                model_card={"model_id": visit.model_id, "recorded_by": self.source},
                payload=visit.payload(),
                warnings=[],
                report_text=text,
                report_html=report.html if report is not None else f"<p>{text}</p>",
                image_encrypted=None,
            )
            session.add(analysis)
            session.flush()
            audit(session, self.owner_id, "analysis.create", f"{person.id}/{analysis.id} ({self.source})")
            return int(analysis.id)


LOCAL_OWNER = "local@localhost"


def resolve_owner(session: Session, email: str | None) -> User:
    """The account ``email`` names; without one, the first admin, else the local owner.

    The local owner holds the visits of someone who uses only the shell: an account that cannot
    sign in (not approved, random password). Admins see its people once the service runs.
    """
    if email:
        user = find_user(session, email)
        if user is None:
            raise ConfigError(f"no account {email!r} in the service database (see `facehealth serve invite`)")
        return user
    admin = session.scalars(select(User).where(User.role == "admin").order_by(User.id)).first()
    if admin is not None:
        return admin
    return find_user(session, LOCAL_OWNER) or create_user(
        session, LOCAL_OWNER, secrets.token_urlsafe(32), "clinician", approved=False
    )


@contextmanager
def open_history(
    data_dir: str | Path | None, owner: str | None, source: str = "facehealth report person"
) -> Iterator[tuple[DatabaseHistory, str]]:
    """(the history of ``owner``'s people, the owner's e-mail) in the data folder's service database."""
    with open_database(data_dir) as (_settings, sessions):
        with sessions.begin() as session:  # commits the local owner when it is created here
            user = resolve_owner(session, owner)
            owner_id, email = user.id, user.email
        yield DatabaseHistory(sessions, owner_id, source), email


def import_history_file(path: str | Path, history: DatabaseHistory) -> dict[str, int]:
    """Copy every visit of a legacy SQLite visit file in; returns visits per subject.

    A visit already in the database (same person, time and model) is skipped, so an import can be
    run again after it was interrupted without doubling anything.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such visit file")
    copied: dict[str, int] = {}
    with HistoryStore(path) as store:
        for subject in store.subjects():
            seen = {(v.time, v.model_id) for v in history.visits(subject)}  # both UTC (Visit.from_payload)
            for visit in store.visits(subject):
                if (visit.time, visit.model_id) in seen:
                    continue
                history.add_visit(visit)
                copied[subject] = copied.get(subject, 0) + 1
    return copied
