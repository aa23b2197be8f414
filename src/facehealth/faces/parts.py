"""Part files of `faces prepare`: the resume bookkeeping, kept apart from the face work.

Rows are flushed to numbered part files (one per table) and the ids of flushed items appended
to ``done.txt``; at the end the parts of each table are merged into one Parquet file. A killed
run can leave a part half-done; :func:`recover_parts` removes it so its items are redone once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["merge_parts", "next_part_index", "recover_parts"]


def next_part_index(out: Path) -> int:
    """One past the highest part number present, so no part is ever overwritten."""
    return 1 + max((_part_index(p) for p in (out / "_parts").glob("*-*.parquet")), default=-1)


def _part_index(path: Path) -> int:
    return int(path.name.split(".")[0].rsplit("-", 1)[1])


def recover_parts(out: Path, tables: Mapping[str, pa.Schema]) -> set[str]:
    """The ids of finished items, after undoing what a killed run left half-done.

    A run killed inside ``prepare._flush`` can leave a part whose tables are not all renamed, or whose
    items were never (or only partly) marked in ``done.txt``. Such a part is deleted and its items
    are forgotten, so the resumed run redoes each of them exactly once: nothing is lost and nothing
    is counted twice. ``done.txt`` is rewritten (write-then-rename) without a torn last line.
    """
    parts = out / "_parts"
    for leftover in parts.glob("*.tmp"):
        leftover.unlink()
    done_file = out / "done.txt"
    text = done_file.read_text() if done_file.exists() else ""
    marked = set(text.split("\n")[:-1]) if text else set()  # a line without its newline is torn
    by_index: dict[int, list[Path]] = {}
    for path in parts.glob("*-*.parquet"):
        by_index.setdefault(_part_index(path), []).append(path)
    done: set[str] = set()
    for index, paths in sorted(by_index.items()):
        items = parts / f"items-{index:05d}.parquet"
        ids = set(pq.read_table(items, columns=["media_id"]).column(0).to_pylist()) if items in paths else set()
        if len(paths) == len(tables) and ids and ids <= marked:
            done |= ids
            continue
        for path in paths:  # half-written: redo its items
            path.unlink()
    if done != marked or not text.endswith("\n") and text:
        tmp = done_file.with_suffix(".txt.tmp")
        tmp.write_text("".join(f"{m}\n" for m in sorted(done)))
        tmp.rename(done_file)
    return done


def merge_parts(out: Path, tables: Mapping[str, pa.Schema]) -> None:
    """Concatenate the part files of each table into one Parquet file, one part in memory at a time."""
    for name, schema in tables.items():
        parts = sorted((out / "_parts").glob(f"{name}-*.parquet"))
        tmp = out / f"{name}.parquet.tmp"
        with pq.ParquetWriter(tmp, schema) as writer:
            for p in parts:
                writer.write_table(pq.read_table(p, schema=schema))
        tmp.rename(out / f"{name}.parquet")
