"""Video analyses in the background: upload -> job (queued, running, done | failed) -> analysis.

A video takes seconds to minutes on a CPU, longer than an HTTP request should wait, so the upload
route stores the video in a private temporary file, creates a ``jobs`` row and returns at once; the
client polls ``GET /api/jobs/{id}`` for state and progress.

* **One worker thread, its own model.** Videos run one at a time (each keeps the CPU busy) on a
  second copy of the model, so a long video never holds the lock that photo uploads and live
  sessions share.
* **Nothing half-stored.** The analysis and the job's ``done`` state are written in one
  transaction; a failure stores the error and no analysis.
* **The video is not kept.** Its temporary file (owner-only, in the data folder) is deleted when the
  job ends, whatever happened; a server stopped mid-job leaves its file and a ``running`` row,
  which the next start deletes and marks failed with a message to upload again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from facehealth.errors import FaceHealthError
from facehealth.serve.accounts import audit
from facehealth.serve.orm import Job, Person, utcnow

__all__ = ["JobRunner", "job_dict", "recover_interrupted"]

log = logging.getLogger(__name__)

_SAVE_EVERY_S = 0.5  # progress writes: often enough for a progress bar, rare enough for the database
INTERRUPTED = "the server stopped while this video was being analysed; upload it again"


def job_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "person_id": job.person_id,
        "state": job.state,
        "progress": round(job.progress, 3),
        "frames_read": job.frames_read,
        "error": job.error,
        "analysis_id": job.analysis_id,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }


def recover_interrupted(sessions: sessionmaker[Session], tmp_dir: Path) -> int:
    """At start-up: jobs a stopped server left queued or running are failed, their videos deleted."""
    with sessions.begin() as session:
        n = session.execute(
            update(Job)
            .where(Job.state.in_(("queued", "running")))
            .values(state="failed", error=INTERRUPTED, updated_at=utcnow())
        ).rowcount
    for leftover in tmp_dir.glob("job-*"):
        leftover.unlink(missing_ok=True)
    return int(n or 0)


class JobRunner:
    """Runs video jobs on one background thread with a model of its own (loaded on first use).

    Args:
        sessions: the service's session factory.
        load_model: returns the worker's own ModelHandle (the service's checkpoint, loaded again).
        record: ``(session, person, handle, prediction) -> Analysis``: stores the analysis and report.
        tmp_dir: where uploaded videos wait (owner-only; emptied as jobs end).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        load_model: Callable[[], Any],
        record: Callable[[Session, Person, Any, Any], Any],
        tmp_dir: Path,
    ) -> None:
        self.sessions = sessions
        self._load_model = load_model
        self._record = record
        self.tmp_dir = tmp_dir
        self.tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facehealth-video")
        self._model: Any = None
        self._model_lock = threading.Lock()

    def submit(self, session: Session, user_id: int, person: Person, data: bytes, kind: str) -> Job:
        """Create the job row (in the caller's transaction) and write the video where the worker reads it."""
        job = Job(user_id=user_id, person_id=person.id, state="queued", progress=0.0, frames_read=0)
        session.add(job)
        session.flush()
        path = self.tmp_dir / f"job-{job.id}.{kind}"
        # O_EXCL + 0600: a health video is never readable by another account on the machine.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return job

    def start(self, job_id: int) -> None:
        """Queue a submitted job once its row is committed (the worker reads it in its own session)."""
        self._pool.submit(self._run, job_id)

    def _model_handle(self) -> Any:
        with self._model_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _run(self, job_id: int) -> None:
        path = next(self.tmp_dir.glob(f"job-{job_id}.*"), None)
        try:
            self._analyse(job_id, path)
        except Exception as exc:  # noqa: BLE001 - a job's failure is stored, never lost in a thread
            if not isinstance(exc, FaceHealthError):
                log.exception("video job %s failed", job_id)
            message = str(exc) if isinstance(exc, FaceHealthError) else f"internal error: {type(exc).__name__}"
            if path is not None:  # the client never sees the server's file layout
                message = message.replace(str(path), "the uploaded video")
            with self.sessions.begin() as session:
                job = session.get(Job, job_id)
                if job is not None:
                    job.state, job.error, job.updated_at = "failed", message, utcnow()
        finally:
            if path is not None:
                path.unlink(missing_ok=True)

    def _analyse(self, job_id: int, path: Path | None) -> None:
        from facehealth.faces.io import expected_sampled_frames, probe_video

        if path is None:
            raise FaceHealthError("the uploaded video is gone (the server was restarted); upload it again")
        with self.sessions.begin() as session:
            job = session.get(Job, job_id)
            if job is None:  # the person was deleted meanwhile (cascade)
                return
            job.state, job.updated_at = "running", utcnow()
        handle = self._model_handle()
        video = handle.model.pipeline.config.video
        info = probe_video(path)
        expected = expected_sampled_frames(info, video.fps, video.every_n, video.max_frames)
        last_save = [0.0]

        def progress(frames: int) -> None:
            now = time.monotonic()
            if now - last_save[0] < _SAVE_EVERY_S:
                return
            last_save[0] = now
            share = min(frames / expected, 0.99) if expected else 0.0
            with self.sessions.begin() as s:
                s.execute(update(Job).where(Job.id == job_id).values(progress=share, frames_read=frames))

        prediction = handle.model.predict(path, progress=progress)
        with self.sessions.begin() as session:
            job = session.get(Job, job_id)
            person = session.get(Person, job.person_id) if job is not None else None
            if job is None or person is None:
                return
            analysis = self._record(session, person, handle, prediction)
            job.state, job.progress, job.analysis_id = "done", 1.0, analysis.id
            job.frames_read, job.updated_at = prediction.frames_read, utcnow()
            audit(session, job.user_id, "analysis.create", f"{person.id}/{analysis.id} (video job {job.id})")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
