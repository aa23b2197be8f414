"""Video uploads as background jobs, against the real server: progress, result, bad videos, restarts."""

from __future__ import annotations

import time

import numpy as np
import pytest

from facehealth.errors import UnsupportedInputError
from facehealth.faces.io import read_image, write_video
from facehealth.live.synthetic import place_face
from facehealth.serve.db import make_engine, make_sessionmaker, upgrade
from facehealth.serve.jobs import INTERRUPTED, recover_interrupted
from facehealth.serve.orm import Job, Person, User
from facehealth.serve.uploads import sniff_video_type
from tests.conftest import fixture_path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    """A 3 s H.264 MP4 of a real face moving a little (what a phone would send, smaller)."""
    canvas, _, _ = place_face(np.asarray(read_image(fixture_path("obama.jpg"))))
    frames = (np.roll(canvas, int(3 * np.sin(i / 4)), axis=1) for i in range(30))
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_video(path, frames, fps=10.0)
    return path.read_bytes()


def _person(server, token):
    return server.call("POST", "/api/people", token=token, json_body={"label": "V"}).json()["id"]


def _upload(server, token, pid, data, name="clip.mp4"):
    return server.call("POST", f"/api/people/{pid}/videos", token=token, files={"video": (name, data)})


def _wait(server, token, job_id, timeout=180):
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        job = server.call("GET", f"/api/jobs/{job_id}", token=token).json()
        seen.append(job)
        if job["state"] in ("done", "failed"):
            return job, seen
        time.sleep(0.2)
    pytest.fail(f"job {job_id} did not end in {timeout} s: {seen[-1]}")


def test_a_video_is_analysed_in_the_background_and_becomes_a_visit(server, clip):
    token, _ = server.user()
    pid = _person(server, token)
    reply = _upload(server, token, pid, clip)
    assert reply.status == 202, reply.body
    queued = reply.json()
    assert queued["state"] == "queued" and queued["progress"] == 0
    job, seen = _wait(server, token, queued["id"])
    assert job["state"] == "done", job
    assert job["progress"] == 1.0 and job["analysis_id"] is not None and job["frames_read"] == 15  # 3 s at 5 fps
    assert all(0 <= s["progress"] <= 1 for s in seen)
    history = server.call("GET", f"/api/people/{pid}/analyses", token=token).json()
    assert [h["id"] for h in history] == [job["analysis_id"]]
    assert history[0]["quality"]["frames_read"] == 15 and history[0]["quality"]["faces_used"] >= 10
    assert not history[0]["image_stored"]
    assert not list((server.data_dir / "tmp").glob("job-*"))  # the video is not kept


def test_a_file_that_is_not_a_video_is_refused_at_upload(server):
    token, _ = server.user()
    pid = _person(server, token)
    reply = _upload(server, token, pid, fixture_path("obama.jpg").read_bytes(), "looks-like.mp4")
    assert reply.status == 415 and "MP4, MOV, WebM or AVI" in reply.json()["error"]["message"]


def test_a_broken_video_fails_its_job_with_a_clear_error_and_stores_nothing(server, clip):
    token, _ = server.user()
    pid = _person(server, token)
    job, _ = _wait(server, token, _upload(server, token, pid, clip[:3000]).json()["id"])
    assert job["state"] == "failed" and job["analysis_id"] is None
    assert job["error"].startswith("the uploaded video: not a readable video")
    assert str(server.data_dir) not in job["error"]  # the client never sees the server's paths
    assert server.call("GET", f"/api/people/{pid}/analyses", token=token).json() == []


def test_another_users_job_is_not_found(sqlite_server, clip):
    token, _ = sqlite_server.user()
    other, _ = sqlite_server.user()
    job = _upload(sqlite_server, token, _person(sqlite_server, token), clip).json()
    assert sqlite_server.call("GET", f"/api/jobs/{job['id']}", token=other).status == 404
    assert sqlite_server.call("GET", "/api/jobs/999999", token=token).status == 404
    _wait(sqlite_server, token, job["id"])


def test_jobs_a_stopped_server_left_running_are_failed_and_their_videos_deleted(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        user = User(email="a@example.org", password_hash="x", role="clinician", approved=True)
        s.add(user)
        s.flush()
        person = Person(owner_id=user.id, label="p")
        s.add(person)
        s.flush()
        s.add_all(
            [
                Job(user_id=user.id, person_id=person.id, state=st, progress=0.3, frames_read=4)
                for st in ("running", "queued", "done")
            ]
        )
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp / "job-1.mp4").write_bytes(b"half a video")
    assert recover_interrupted(sessions, tmp) == 2
    with sessions() as s:
        states = {j.id: (j.state, j.error) for j in s.query(Job)}
    assert states == {1: ("failed", INTERRUPTED), 2: ("failed", INTERRUPTED), 3: ("done", None)}
    assert not list(tmp.iterdir())
    engine.dispose()


def test_video_types_are_read_from_the_content(clip):
    assert sniff_video_type(clip) == "mp4"
    assert sniff_video_type(b"\x1a\x45\xdf\xa3" + b"\0" * 20) == "webm"
    assert sniff_video_type(b"RIFF\0\0\0\0AVI LIST") == "avi"
    assert sniff_video_type(b"\0\0\0\x14ftypqt  ") == "mov"
    with pytest.raises(UnsupportedInputError):
        sniff_video_type(b"\xff\xd8\xff\xe0 a jpeg")
