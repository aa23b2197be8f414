"""Faults during `faces prepare`: a run killed anywhere resumes to exactly the result of an
uninterrupted run: every item once, none lost, none counted twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from facehealth.faces import prepare as prep
from facehealth.faces.config import FacesConfig
from facehealth.faces.prepare import prepare_faces
from tests.conftest import fixture_path, record_reliability

PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg", "group4.jpg")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults") / "in"
    for i in range(3):  # 18 photos: enough flushes to kill between
        for name in PHOTOS:
            (root / f"S{i}").mkdir(parents=True, exist_ok=True)
            shutil.copy(fixture_path(name), root / f"S{i}" / name)
    return root


@pytest.fixture(scope="module")
def reference(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    return out, prepare_faces(folder, out, FacesConfig(), workers=1)


def _same(out, reference, record: tuple[str, str, int] | None = None) -> None:
    ref_out, ref = reference
    items = pd.read_parquet(out / "items.parquet")
    manifest = pd.read_parquet(out / "manifest.parquet")
    if record:
        test, case, faults = record
        lost = len(set(pd.read_parquet(ref_out / "items.parquet")["media_id"]) - set(items["media_id"]))
        duplicated = len(items) - items["media_id"].nunique()
        note = f"{ref.items} items, {ref.crops} crops"
        record_reliability(test, "fault", case, faults=faults, lost=lost, duplicated=duplicated, note=note)
    assert items["media_id"].is_unique and len(items) == ref.items
    assert manifest["crop_path"].is_unique and len(manifest) == ref.crops
    want = pd.read_parquet(ref_out / "manifest.parquet")
    assert sorted(manifest["media_id"]) == sorted(want["media_id"])
    assert all((out / p).is_file() for p in manifest["crop_path"])


def test_a_crash_after_the_parts_but_before_done_redoes_those_items_once(folder, reference, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = prep._flush
    calls = {"n": 0}

    def crash_on_third(o, part, outcomes):  # the parts are renamed, done.txt is not yet appended
        calls["n"] += 1
        if calls["n"] == 3:
            for name, schema in prep._TABLES.items():
                tmp = o / "_parts" / f"{name}-{part:05d}.parquet"
                prep.pq.write_table(prep.pa.Table.from_pylist([], schema=schema), tmp)
            items = o / "_parts" / f"items-{part:05d}.parquet"
            prep.pq.write_table(
                prep.pa.Table.from_pylist([x.item for x in outcomes], schema=prep._TABLES["items"]), items
            )
            raise KeyboardInterrupt
        real(o, part, outcomes)

    monkeypatch.setattr(prep, "_flush", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        prepare_faces(folder, out, FacesConfig(), workers=1, flush_every=2)
    monkeypatch.setattr(prep, "_flush", real)
    resumed = prepare_faces(folder, out, FacesConfig(), workers=1, flush_every=2)
    assert resumed.resumed_items == 4
    _same(out, reference)


def test_a_torn_last_line_of_done_is_not_trusted(folder, reference, tmp_path):
    out = tmp_path / "out"
    prepare_faces(folder, out, FacesConfig(), workers=1, flush_every=3)
    done = (out / "done.txt").read_text()
    (out / "done.txt").write_text(done[: len(done) - 4])  # a kill in the middle of the last append
    resumed = prepare_faces(folder, out, FacesConfig(), workers=1, flush_every=3)
    assert resumed.resumed_items == len(done.split()) - 3  # the torn line's whole part is redone
    _same(out, reference)


SCRIPT = """
import sys
from facehealth.faces.config import FacesConfig
from facehealth.faces.prepare import prepare_faces
prepare_faces(sys.argv[1], sys.argv[2], FacesConfig(), workers=1, flush_every=1)
"""


def test_kill_9_at_any_moment_then_rerun_gives_the_uninterrupted_result(folder, reference, tmp_path):
    out = tmp_path / "out"
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    for kill_after in (2, 7, 12):  # items marked done when the process is killed
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(folder), str(out)], env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            done = out / "done.txt"
            if done.exists() and len(done.read_text().split()) >= kill_after:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    prepare_faces(folder, out, FacesConfig(), workers=1, flush_every=1)
    _same(out, reference, ("prepare_kill9", "kill -9 during `faces prepare`, then re-run", 3))
