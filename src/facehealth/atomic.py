"""Crash-safe file writes: one file by write-then-rename, a group of files by a hashed commit record.

A ``kill -9`` (or a power cut) can stop a process between any two system calls. Writing a file in
place can leave it half-written; renaming a fully written and fsynced ``name.tmp`` over ``name`` is
atomic on POSIX filesystems, so readers see the old file or the new one, never a torn one.

A training checkpoint is several files that must agree (weights, their metadata, the optimizer
state, the loss log). Renaming them one by one is not atomic as a group, so :func:`commit_group`
uses a redo record, as a database's write-ahead log does:

1. every file of the group is written as ``name.tmp`` and fsynced (the caller does this);
2. ``commit.json`` listing each file's SHA-256 is written atomically: this is the commit point;
3. each ``name.tmp`` is renamed over ``name``.

:func:`recover_group` runs before the group is read: a crash during step 3 is rolled forward (the
staged file whose hash the record names is renamed into place), a crash before step 2 leaves the
old group intact (its stray ``.tmp`` files are deleted), and any file whose bytes do not match the
record (truncated, overwritten, bit-rotted) raises :class:`~facehealth.errors.CorruptFileError`
instead of loading garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facehealth.errors import CorruptFileError

__all__ = ["GroupRecovery", "commit_group", "recover_group", "sha256_file", "staged", "write_atomic"]

_CHUNK = 1 << 20


def staged(path: str | Path) -> Path:
    """Where ``path`` is written before it is renamed into place."""
    path = Path(path)
    return path.with_name(path.name + ".tmp")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # The rename itself lives in the directory entry: without this a crash can forget it.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems (and Windows) cannot open a directory; rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> str:
    """``write(tmp)`` then fsync and rename over ``path``; returns the file's SHA-256."""
    path = Path(path)
    tmp = staged(path)
    write(tmp)
    _fsync_file(tmp)
    digest = sha256_file(tmp)
    tmp.replace(path)
    _fsync_dir(path.parent)
    return digest


def commit_group(record: str | Path, files: Sequence[str | Path], info: Mapping[str, Any] | None = None) -> None:
    """Commit files already written to their :func:`staged` paths, all or none (see the module doc).

    Args:
        record: the commit record (e.g. ``out/commit.json``); the files must be in its folder.
        files: the final paths; each ``staged(path)`` must be fully written.
        info: small JSON-serialisable facts stored in the record (e.g. the epoch), returned by
            :func:`recover_group`.
    """
    record = Path(record)
    digests: dict[str, str] = {}
    for path in map(Path, files):
        if path.parent != record.parent:
            raise ValueError(f"{path} is not in the commit record's folder {record.parent}")
        tmp = staged(path)
        _fsync_file(tmp)
        digests[path.name] = sha256_file(tmp)
    body = json.dumps({"files": digests, "info": dict(info or {})}, indent=2)
    write_atomic(record, lambda p: p.write_text(body))  # the commit point
    for name in digests:
        staged(record.parent / name).replace(record.parent / name)
    _fsync_dir(record.parent)


@dataclass(frozen=True)
class GroupRecovery:
    """What :func:`recover_group` found: the committed facts and what it had to repair."""

    info: dict[str, Any]
    files: tuple[str, ...]  # names of the committed files, all verified
    rolled_forward: tuple[str, ...]  # renamed into place: the crash came during a commit's renames
    discarded: tuple[str, ...]  # staged files of a commit that never reached its record


def recover_group(record: str | Path) -> GroupRecovery | None:
    """Finish an interrupted commit and verify every committed file; None when nothing was committed.

    Raises:
        CorruptFileError: a committed file is missing or its bytes do not match the recorded hash.
    """
    record = Path(record)
    folder = record.parent
    if staged(record).exists():  # a record that was being written never committed
        staged(record).unlink()
    if not record.is_file():
        return None
    try:
        data = json.loads(record.read_text())
        digests: dict[str, str] = dict(data["files"])
        info: dict[str, Any] = dict(data.get("info", {}))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{record}: unreadable commit record ({exc})") from exc
    rolled, discarded = [], []
    for name, digest in digests.items():
        final, tmp = folder / name, staged(folder / name)
        if tmp.exists():
            if sha256_file(tmp) == digest:
                tmp.replace(final)
                rolled.append(name)
                continue
            tmp.unlink()  # written by a later commit that never reached its record
            discarded.append(tmp.name)
        if not final.is_file():
            raise CorruptFileError(f"{final}: missing, but {record.name} says it was committed")
        if sha256_file(final) != digest:
            raise CorruptFileError(
                f"{final}: its contents do not match the SHA-256 in {record.name} (truncated or changed "
                f"after it was written); restore it, or delete {folder} to start over"
            )
    if rolled:
        _fsync_dir(folder)
    return GroupRecovery(info, tuple(digests), tuple(rolled), tuple(discarded))
