"""People, their analyses (photo upload -> scores + report), history, reports, export, deletion."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from facehealth.serve.accounts import audit
from facehealth.serve.analyses import analysis_dict, export_csv, history_dicts, latest_alerts, record_analysis, score
from facehealth.serve.deps import CurrentUser, RowId, SessionDep, SettingsDep, get_person, release_connection
from facehealth.serve.errors import ServiceError
from facehealth.serve.jobs import job_dict
from facehealth.serve.orm import Person, User
from facehealth.serve.schemas import NewPerson, PersonOut
from facehealth.serve.security import fernet_key
from facehealth.serve.uploads import decode_image, read_upload, sniff_video_type

router = APIRouter(prefix="/api/people", tags=["people"])


def _throttle(request: Request, user: Any) -> None:
    """Per-user limit on analyses: 429 with Retry-After beyond ``uploads_per_minute``."""
    wait = request.app.state.upload_limiter.hit(str(user.id))
    if wait:
        limit = request.app.state.settings.uploads_per_minute
        message = f"more than {limit} analyses in a minute; retry in {wait:.0f} s"
        raise ServiceError(429, "too_many_requests", message, {"Retry-After": str(int(wait) + 1)})


def _out(person: Person) -> PersonOut:
    return PersonOut(id=person.id, label=person.label, owner_id=person.owner_id, visits=len(person.analyses))


@router.get("")
def list_people(user: CurrentUser, session: SessionDep) -> list[PersonOut]:
    query = select(Person).order_by(Person.id)
    if user.role != "admin":
        query = query.where(Person.owner_id == user.id)
    return [_out(p) for p in session.scalars(query)]


@router.post("", status_code=201)
def add_person(body: NewPerson, user: CurrentUser, session: SessionDep) -> PersonOut:
    if user.role == "self":
        owned = session.scalar(select(func.count()).select_from(Person).where(Person.owner_id == user.id))
        if owned:
            raise ServiceError(403, "forbidden", "a self-user account holds one person: its owner")
    person = Person(owner_id=user.id, label=body.label.strip())
    session.add(person)
    session.flush()
    audit(session, user.id, "person.create", str(person.id))
    return _out(person)


@router.get("/{person_id}")
def get_one(person_id: RowId, user: CurrentUser, session: SessionDep) -> PersonOut:
    return _out(get_person(session, user, person_id))


@router.delete("/{person_id}", status_code=204)
def delete_person(person_id: RowId, user: CurrentUser, session: SessionDep) -> None:
    """Hard delete: the person, every analysis and any stored image (cascade), kept only in the audit log as an id."""
    person = get_person(session, user, person_id)
    session.delete(person)
    audit(session, user.id, "person.delete", str(person_id))


@router.post("/{person_id}/analyses", status_code=201)
async def analyse(
    person_id: RowId,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    image: Annotated[UploadFile, File(description="a JPEG, PNG or WebP photo")],
    store_image: Annotated[bool, Form(description="keep the photo, encrypted at rest")] = False,
) -> dict[str, Any]:
    person = await run_in_threadpool(get_person, session, user, person_id)
    _throttle(request, user)
    handle = request.app.state.model
    if handle is None:
        raise ServiceError(503, "no_model", "no model is loaded (start with --model CKPT)")
    await run_in_threadpool(release_connection, session)
    data = await read_upload(image, settings.max_upload_bytes)
    name = image.filename or "upload"
    rgb = await run_in_threadpool(decode_image, data, settings.max_pixels, name)
    # Torch runs in the threadpool so one analysis does not stall every other request.
    prediction, intervals = await run_in_threadpool(score, handle, rgb)
    encrypted = None
    if store_image:
        from cryptography.fernet import Fernet

        encrypted = Fernet(fernet_key(settings.secret_key)).encrypt(data)
    # Database work off the event loop: the transaction may wait for SQLite's write lock.
    return await run_in_threadpool(_store, session, user, person, handle, prediction, intervals, encrypted)


def _store(
    session: Session,
    user: User,
    person: Person,
    handle: Any,
    prediction: Any,
    intervals: dict[str, tuple[float, float]] | None,
    encrypted: bytes | None,
) -> dict[str, Any]:
    analysis = record_analysis(session, person, handle, prediction, intervals, encrypted)
    audit(session, user.id, "analysis.create", f"{person.id}/{analysis.id}")
    return analysis_dict(analysis)


@router.post("/{person_id}/videos", status_code=202)
async def analyse_video(
    person_id: RowId,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    video: Annotated[UploadFile, File(description="an MP4, MOV, WebM or AVI video of the face")],
) -> dict[str, Any]:
    """Queue a video for analysis; poll ``GET /api/jobs/{id}``. The video is deleted when the job ends."""
    person = await run_in_threadpool(get_person, session, user, person_id)
    _throttle(request, user)
    runner = request.app.state.jobs
    if runner is None:
        raise ServiceError(503, "no_model", "no model is loaded (start with --model CKPT)")
    await run_in_threadpool(release_connection, session)
    data = await read_upload(video, settings.max_video_bytes)
    kind = sniff_video_type(data)
    job = await run_in_threadpool(_queue_video, session, runner, user, person, data, kind)
    runner.start(job["id"])
    return job


def _queue_video(session: Session, runner: Any, user: User, person: Person, data: bytes, kind: str) -> dict[str, Any]:
    job = runner.submit(session, user.id, person, data, kind)
    audit(session, user.id, "video.upload", f"{person.id} (job {job.id})")
    session.commit()  # the worker reads the job in its own session
    return job_dict(job)


@router.get("/{person_id}/analyses")
def history(person_id: RowId, user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    """Every analysis, oldest first; ``alerts`` gives each score's change-alert status at that visit."""
    person = get_person(session, user, person_id)
    audit(session, user.id, "person.read", f"{person_id} history")  # who saw whose health data
    return history_dicts(person)


@router.get("/{person_id}/alerts")
def alerts(person_id: RowId, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """The latest visit against the person's own earlier visits (rule: facehealth.report.alerts)."""
    person = get_person(session, user, person_id)
    if not person.analyses:
        raise ServiceError(404, "no_visits", f"person {person_id} has no analyses yet")
    audit(session, user.id, "person.read", f"{person_id} alerts")
    return latest_alerts(person)


def _latest(session: SessionDep, user: CurrentUser, person_id: RowId) -> Any:
    person = get_person(session, user, person_id)
    if not person.analyses:
        raise ServiceError(404, "no_visits", f"person {person_id} has no analyses yet")
    audit(session, user.id, "person.read", f"{person_id} report")
    return person.analyses[-1]


@router.get("/{person_id}/report.html", response_class=HTMLResponse)
def report_html(person_id: RowId, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    return HTMLResponse(_latest(session, user, person_id).report_html)


@router.get("/{person_id}/report.txt", response_class=PlainTextResponse)
def report_text(person_id: RowId, user: CurrentUser, session: SessionDep) -> PlainTextResponse:
    return PlainTextResponse(_latest(session, user, person_id).report_text)


@router.get("/{person_id}/export.json")
def export_json(person_id: RowId, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    person = get_person(session, user, person_id)
    audit(session, user.id, "person.export", str(person_id))
    return {"person": _out(person).model_dump(), "analyses": [analysis_dict(a) for a in person.analyses]}


# Documented as CSV (Schemathesis's stateful run found the spec saying application/json).
@router.get(
    "/{person_id}/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "one row per analysis"}},
)
def export_table(person_id: RowId, user: CurrentUser, session: SessionDep) -> Response:
    person = get_person(session, user, person_id)
    audit(session, user.id, "person.export", str(person_id))
    headers = {"Content-Disposition": f'attachment; filename="person-{person_id}.csv"'}
    return Response(export_csv(person), media_type="text/csv", headers=headers)
