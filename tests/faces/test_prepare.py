from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from facehealth.config import load_config
from facehealth.errors import OutputError, SchemaError, UnsupportedInputError
from facehealth.faces.config import FacesConfig
from facehealth.faces.io import write_video
from facehealth.faces.prepare import prepare_faces
from facehealth.faces.records import Reason
from facehealth.faces.sources import collect_media
from tests.conftest import fixture_path


@pytest.fixture
def cohort_folder(tmp_path, read):
    """Two subjects in sub-folders, a group photo, a partial face, a blank, a broken file and a note."""
    root = tmp_path / "in"
    (root / "S1").mkdir(parents=True)
    (root / "S2").mkdir()
    shutil.copy(fixture_path("obama.jpg"), root / "S1" / "a.jpg")
    shutil.copy(fixture_path("32bit.png"), root / "S1" / "b.png")
    shutil.copy(fixture_path("biden.jpg"), root / "S2" / "a.jpg")
    shutil.copy(fixture_path("group4.jpg"), root / "group.jpg")
    shutil.copy(fixture_path("obama_partial_face.jpg"), root / "partial.jpg")
    cv2.imwrite(str(root / "blank.png"), np.full((200, 300, 3), 90, np.uint8))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (root / "notes.txt").write_text("not media")
    return root


def _run(source, out, workers=1, **overrides):
    return prepare_faces(source, out, load_config(FacesConfig, overrides=overrides), workers=workers)


def test_folder_to_crops_manifest_and_rejection_summary(cohort_folder, tmp_path):
    out = tmp_path / "out"
    summary = _run(cohort_folder, out)
    assert summary.items == 7 and summary.ignored_files == 1 and summary.unreadable == 1
    assert summary.crops == 4  # S1/a, S1/b, S2/a, the largest face of the group photo
    assert summary.rejections == {Reason.NO_FACE: 1, Reason.NOT_SELECTED: 3, Reason.PARTIAL: 1, Reason.UNREADABLE: 1}
    manifest = pd.read_parquet(out / "manifest.parquet")
    assert len(manifest) == 4
    assert sorted(manifest["subject_id"]) == ["S1", "S1", "S2", "group"]
    assert manifest["landmarks"].map(len).eq(136).all() and manifest["box"].map(len).eq(4).all()
    for rel in manifest["crop_path"]:
        crop = cv2.imread(str(out / rel))
        assert crop is not None and crop.shape == (224, 224, 3)
    rejections = pd.read_parquet(out / "rejections.parquet")
    assert set(rejections["reason"]) == {Reason.NO_FACE, Reason.NOT_SELECTED, Reason.PARTIAL, Reason.UNREADABLE}
    assert "not a readable image" in rejections.loc[rejections.reason == Reason.UNREADABLE, "message"].item()
    assert json.loads((out / "summary.json").read_text())["crops"] == 4
    assert (out / "config.resolved.yaml").is_file()
    assert "notes.txt" in (out / "ignored_files.txt").read_text()


def test_rerun_resumes_without_redoing_work(cohort_folder, tmp_path):
    out = tmp_path / "out"
    first = _run(cohort_folder, out)
    stamp = {p: p.stat().st_mtime_ns for p in (out / "crops").rglob("*.jpg")}
    second = _run(cohort_folder, out)
    assert second.resumed_items == 7
    assert (second.crops, second.rejections) == (first.crops, first.rejections)
    assert {p: p.stat().st_mtime_ns for p in (out / "crops").rglob("*.jpg")} == stamp


def test_interrupted_run_finishes_the_rest(cohort_folder, tmp_path):
    reference = _run(cohort_folder, tmp_path / "reference")
    out = tmp_path / "out"

    def stop_after_four(done: int, total: int) -> None:
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare_faces(cohort_folder, out, FacesConfig(), workers=1, flush_every=2, on_progress=stop_after_four)
    assert len((out / "done.txt").read_text().split()) == 2  # items 1-2 flushed; 3-4 were in the buffer
    resumed = prepare_faces(cohort_folder, out, FacesConfig(), workers=1, flush_every=2)
    assert resumed.resumed_items == 2
    assert (resumed.items, resumed.crops, resumed.rejections) == (
        reference.items,
        reference.crops,
        reference.rejections,
    )
    items = pd.read_parquet(out / "items.parquet")
    assert items["media_id"].is_unique and len(items) == 7


def test_two_workers_match_one(cohort_folder, tmp_path):
    one = _run(cohort_folder, tmp_path / "one", workers=1)
    two = _run(cohort_folder, tmp_path / "two", workers=2)
    assert (one.crops, one.rejections, one.frames) == (two.crops, two.rejections, two.frames)
    a = pd.read_parquet(tmp_path / "one" / "manifest.parquet").sort_values("crop_path").reset_index(drop=True)
    b = pd.read_parquet(tmp_path / "two" / "manifest.parquet").sort_values("crop_path").reset_index(drop=True)
    assert list(a["crop_path"]) == list(b["crop_path"])
    np.testing.assert_allclose(np.stack(a["landmarks"]), np.stack(b["landmarks"]), atol=1e-3)


def test_video_input_writes_one_crop_per_sampled_frame(tmp_path, read):
    face = cv2.resize(read("biden.jpg")[150:750, 350:850], (320, 384))
    frames = [np.roll(face, 3 * i, axis=1) for i in range(15)] + [np.full_like(face, 30)] * 5
    path = tmp_path / "S9.mp4"
    write_video(path, frames, fps=10)
    summary = _run(path, tmp_path / "out", video={"fps": None, "every_n": 2})
    assert summary.frames == 10
    assert summary.crops == 8 and summary.rejections == {Reason.NO_FACE: 2}
    manifest = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert list(manifest["frame_index"]) == [0, 2, 4, 6, 8, 10, 12, 14]
    assert manifest["timestamp"].is_monotonic_increasing and set(manifest["subject_id"]) == {"S9"}


def test_media_table_input_and_its_errors(tmp_path):
    table = tmp_path / "media.csv"
    pd.DataFrame(
        {"subject_id": ["P1", "P2"], "path": [str(fixture_path("obama.jpg")), "missing.jpg"], "media_id": ["m1", "m2"]}
    ).to_csv(table, index=False)
    summary = _run(table, tmp_path / "out")
    assert summary.items == 2 and summary.crops == 1 and summary.unreadable == 1
    assert pd.read_parquet(tmp_path / "out" / "manifest.parquet")["subject_id"].tolist() == ["P1"]

    bad = tmp_path / "bad.csv"
    pd.DataFrame({"subject": ["P1"], "file": ["x.jpg"]}).to_csv(bad, index=False)
    with pytest.raises(SchemaError, match="missing column"):
        collect_media(bad)
    dup = tmp_path / "dup.csv"
    pd.DataFrame({"subject_id": ["P1", "P1"], "path": ["a.jpg", "b.jpg"], "media_id": ["m", "m"]}).to_csv(
        dup, index=False
    )
    with pytest.raises(SchemaError, match="row 3, column media_id: 'm' repeats row 2"):
        collect_media(dup)
    with pytest.raises(UnsupportedInputError, match="no such file or folder"):
        collect_media(tmp_path / "nowhere")


def test_a_script_without_main_guard_fails_clearly_instead_of_hanging(cohort_folder, tmp_path):
    """Spawned workers re-import the calling script; without a guard each one dies on start-up.

    multiprocessing.Pool replaced dead workers forever (the run hung); the executor raises.
    """
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "from facehealth.faces.prepare import prepare_faces\n"
        f"prepare_faces({str(cohort_folder)!r}, {str(tmp_path / 'out')!r}, workers=2)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    assert done.returncode != 0
    assert "WorkerError" in done.stderr and "__main__" in done.stderr, done.stderr[-2000:]


def test_a_crop_that_cannot_be_written_stops_the_run(tmp_path):
    """An output problem is not an unreadable input: it raises instead of being counted as a rejection."""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(fixture_path("obama.jpg"), src / "a.jpg")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "crops").write_text("a file where the crops folder goes")
    with pytest.raises(OutputError, match="could not write"):
        _run(src, tmp_path / "out")
