"""What ``faces prepare`` reads: a folder, one image or video, or a media table.

Subjects are identified from the layout when no table says otherwise: a file
inside a sub-folder of the input belongs to the subject named by that first
sub-folder (``root/S001/a.jpg`` -> ``S001``); a file directly in the input
folder is its own subject (its stem).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from facehealth.errors import SchemaError, UnsupportedInputError
from facehealth.faces.io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, media_kind

__all__ = ["MediaItem", "SourceListing", "collect_media"]

_TABLE_NAMES = ("media.csv", "media.parquet")


@dataclass(frozen=True)
class MediaItem:
    media_id: str
    subject_id: str
    path: Path
    kind: str  # "image" | "video"


@dataclass(frozen=True)
class SourceListing:
    """The media to process, and the files seen but not used (reported, not dropped silently)."""

    items: tuple[MediaItem, ...]
    ignored: tuple[Path, ...]


def collect_media(source: str | Path) -> SourceListing:
    """List the media under ``source`` (see the module docstring for the rules).

    Raises:
        UnsupportedInputError: ``source`` does not exist or is not a media file/folder/table.
        SchemaError: a media table lacks required columns or repeats a media_id.
    """
    source = Path(source)
    if not source.exists():
        raise UnsupportedInputError(f"{source}: no such file or folder")
    if source.is_file():
        if source.suffix.lower() in (".csv", ".parquet"):
            return _from_table(source)
        kind = media_kind(source)
        return SourceListing((MediaItem(_safe_id(source.stem), _safe_id(source.stem), source, kind),), ())
    for name in _TABLE_NAMES:
        if (source / name).is_file():
            return _from_table(source / name)
    items, ignored = [], []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = path.relative_to(source)
        if any(part.startswith(".") for part in rel.parts):
            continue  # hidden files and folders (e.g. .DS_Store, .cache)
        suffix = path.suffix.lower()
        if suffix not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            ignored.append(path)
            continue
        subject = rel.parts[0] if len(rel.parts) > 1 else path.stem
        media_id = _safe_id("__".join(rel.with_suffix("").parts))
        items.append(MediaItem(media_id, str(subject), path, media_kind(path)))
    return SourceListing(tuple(items), tuple(ignored))


def _from_table(table: Path) -> SourceListing:
    frame = pd.read_parquet(table) if table.suffix == ".parquet" else pd.read_csv(table, dtype=str)
    missing = {"subject_id", "path"} - set(frame.columns)
    if missing:
        raise SchemaError(
            f"{table}: missing column(s) {', '.join(sorted(missing))}; a media table needs subject_id and path "
            f"(optional: media_id, kind). Columns found: {', '.join(map(str, frame.columns))}"
        )
    items = []
    seen: dict[str, int] = {}
    for row_number, row in enumerate(frame.itertuples(index=False), start=2):  # row 1 is the header
        path = Path(str(row.path))
        if not path.is_absolute():
            path = table.parent / path
        media_id = _cell(row, "media_id") or path.stem
        media_id = _safe_id(media_id)
        if media_id in seen:
            raise SchemaError(f"{table}: row {row_number}, column media_id: '{media_id}' repeats row {seen[media_id]}")
        seen[media_id] = row_number
        kind = _cell(row, "kind") or media_kind(path)
        if kind not in ("image", "video"):
            raise SchemaError(f"{table}: row {row_number}, column kind: '{kind}' is not allowed; use image or video")
        items.append(MediaItem(media_id, str(row.subject_id), path, kind))
    return SourceListing(tuple(items), ())


def _cell(row: object, name: str) -> str:
    value = getattr(row, name, None)
    return "" if value is None or pd.isna(value) else str(value).strip()


def _safe_id(text: str) -> str:
    """File-name-safe identifier (crop file names are built from it)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "item"
