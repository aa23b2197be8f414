"""``/api/jobs/{id}``: the state and progress of a background video analysis."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from facehealth.serve.deps import CurrentUser, RowId, SessionDep, get_person
from facehealth.serve.errors import ServiceError
from facehealth.serve.jobs import job_dict
from facehealth.serve.orm import Job

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("/{job_id}")
def get_job(job_id: RowId, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """Whoever may see the person may see the job; anyone else gets 404, as for a missing job."""
    job = session.get(Job, job_id)
    if job is None:
        raise ServiceError(404, "not_found", f"no job {job_id}")
    try:
        get_person(session, user, job.person_id)
    except ServiceError as exc:
        raise ServiceError(404, "not_found", f"no job {job_id}") from exc
    return job_dict(job)
