"""Group commits survive a crash at every step: the group is all old or all new, never mixed, and
damage after the fact is refused by hash."""

from __future__ import annotations

import json
import pathlib

import pytest

from facehealth.atomic import commit_group, recover_group, sha256_file, staged, write_atomic
from facehealth.errors import CorruptFileError

NAMES = ("weights.bin", "meta.json", "state.pt")


def _write_group(folder: pathlib.Path, version: str) -> list[pathlib.Path]:
    files = [folder / n for n in NAMES]
    for path in files:
        staged(path).write_text(f"{path.name} {version}")
    commit_group(folder / "commit.json", files, {"version": version})
    return files


def _contents(folder: pathlib.Path) -> set[str]:
    return {(folder / n).read_text().split()[1] for n in NAMES}


class Crash(BaseException):
    """Stands for kill -9: nothing after it runs."""


@pytest.mark.parametrize("crash_at", range(1, 5))  # the record's rename, then each file's
def test_a_crash_at_any_rename_recovers_to_one_whole_group(tmp_path, monkeypatch, crash_at):
    _write_group(tmp_path, "old")
    real, calls = pathlib.Path.replace, {"n": 0}

    def replace(self, target):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == crash_at:
            raise Crash
        return real(self, target)

    monkeypatch.setattr(pathlib.Path, "replace", replace)
    with pytest.raises(Crash):
        _write_group(tmp_path, "new")
    monkeypatch.setattr(pathlib.Path, "replace", real)
    assert len(_contents(tmp_path)) == (2 if crash_at in (3, 4) else 1)  # mixed on disk until recovered
    recovery = recover_group(tmp_path / "commit.json")
    expect = "old" if crash_at == 1 else "new"  # the record's rename is the commit point
    assert _contents(tmp_path) == {expect} and recovery.info == {"version": expect}
    assert not list(tmp_path.glob("*.tmp"))
    assert (len(recovery.rolled_forward) == 5 - crash_at) if crash_at > 1 else recovery.discarded


def test_a_file_damaged_after_its_commit_is_refused(tmp_path):
    files = _write_group(tmp_path, "v1")
    assert recover_group(tmp_path / "commit.json").files == NAMES
    files[0].write_text("weights.bin v1 plus junk")
    with pytest.raises(CorruptFileError, match="weights.bin: its contents do not match"):
        recover_group(tmp_path / "commit.json")
    files[0].unlink()
    with pytest.raises(CorruptFileError, match="missing"):
        recover_group(tmp_path / "commit.json")


def test_a_torn_record_and_no_record(tmp_path):
    assert recover_group(tmp_path / "commit.json") is None
    _write_group(tmp_path, "v1")
    staged(tmp_path / "commit.json").write_text('{"files": {')  # a record killed while being written
    assert recover_group(tmp_path / "commit.json").info == {"version": "v1"}
    assert not staged(tmp_path / "commit.json").exists()
    (tmp_path / "commit.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match="unreadable commit record"):
        recover_group(tmp_path / "commit.json")


def test_files_outside_the_records_folder_are_refused(tmp_path):
    (tmp_path / "sub").mkdir()
    staged(tmp_path / "sub" / "x").write_text("x")
    with pytest.raises(ValueError, match="not in the commit record's folder"):
        commit_group(tmp_path / "commit.json", [tmp_path / "sub" / "x"])


def test_write_atomic_returns_the_hash_and_leaves_no_staged_file(tmp_path):
    digest = write_atomic(tmp_path / "a.json", lambda p: p.write_text(json.dumps({"a": 1})))
    assert digest == sha256_file(tmp_path / "a.json") and not staged(tmp_path / "a.json").exists()
