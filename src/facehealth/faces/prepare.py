"""Batch face preparation: media in, aligned crops + manifest + rejection summary out.

Output folder layout::

    crops/00000/<media_id>[_f<frame>]_<face>.jpg   aligned crops, shard_size per folder
    manifest.parquet      one row per crop that passed the quality gate
    rejections.parquet    one row per rejected frame or face, with its reason
    items.parquet         one row per input file: frames read, faces found, crops, error, warning
    summary.json          the counts above, by reason
    config.resolved.yaml  the exact settings used
    _parts/, done.txt     progress of an unfinished run (resume re-uses them)

Work is split per media file across worker processes (each loads its own
models once); only small row records travel back, crops are written by the
workers. Rows are flushed to Parquet part files every ``flush_every`` items and
the ids of flushed items appended to ``done.txt``, so an interrupted run
resumes where it stopped and memory stays flat however many files there are.

A video whose resolution changes mid-stream is read frame by frame at each frame's own size:
box, landmarks and ``face_px`` are pixels of that frame (``frame_width`` x ``frame_height`` in
the manifest), and the item's ``warning`` names every change (frame and both sizes).
"""

from __future__ import annotations

import json
import multiprocessing as mp
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from facehealth.config import save_resolved
from facehealth.errors import FaceHealthError, OutputError, WorkerError
from facehealth.faces.config import FacesConfig
from facehealth.faces.io import write_image
from facehealth.faces.parts import merge_parts, next_part_index, recover_parts
from facehealth.faces.pipeline import FacePipeline
from facehealth.faces.records import FrameResult, Reason, ResolutionChange, resolution_warning
from facehealth.faces.sources import MediaItem, collect_media

__all__ = ["PrepareSummary", "prepare_faces", "MANIFEST_SCHEMA", "REJECTION_SCHEMA", "ITEM_SCHEMA"]

MANIFEST_SCHEMA = pa.schema(
    [
        ("crop_path", pa.string()),
        ("media_id", pa.string()),
        ("subject_id", pa.string()),
        ("source", pa.string()),
        ("kind", pa.string()),
        ("frame_index", pa.int64()),
        ("timestamp", pa.float64()),
        ("frame_width", pa.int32()),  # the frame's own size: a video's resolution may change mid-stream
        ("frame_height", pa.int32()),
        ("face_index", pa.int32()),
        ("detector", pa.string()),
        ("score", pa.float32()),
        ("box", pa.list_(pa.float32(), 4)),
        ("landmarks", pa.list_(pa.float32(), 136)),
        ("matrix", pa.list_(pa.float64(), 6)),
        ("face_px", pa.float32()),
        ("blur", pa.float32()),
        ("brightness", pa.float32()),
        ("yaw", pa.float32()),
        ("pitch", pa.float32()),
        ("roll", pa.float32()),
        ("outside_fraction", pa.float32()),
    ]
)
REJECTION_SCHEMA = pa.schema(
    [
        ("media_id", pa.string()),
        ("subject_id", pa.string()),
        ("source", pa.string()),
        ("frame_index", pa.int64()),
        ("face_index", pa.int32()),
        ("reason", pa.string()),
        ("all_reasons", pa.string()),
        ("count", pa.int32()),
        ("message", pa.string()),
    ]
)
ITEM_SCHEMA = pa.schema(
    [
        ("media_id", pa.string()),
        ("subject_id", pa.string()),
        ("source", pa.string()),
        ("kind", pa.string()),
        ("frames", pa.int64()),
        ("faces_detected", pa.int64()),
        ("crops", pa.int64()),
        ("error", pa.string()),
        ("warning", pa.string()),  # read, but something the user should know (a resolution change)
    ]
)
_TABLES = {"manifest": MANIFEST_SCHEMA, "rejections": REJECTION_SCHEMA, "items": ITEM_SCHEMA}


@dataclass(frozen=True)
class PrepareSummary:
    """Counts for a whole output folder (including items done by earlier, resumed runs)."""

    out_dir: Path
    items: int
    frames: int
    faces_detected: int
    crops: int
    rejections: dict[str, int]
    unreadable: int
    ignored_files: int
    resumed_items: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # media_id -> message, first 20
    warnings: dict[str, str] = field(default_factory=dict)  # media_id -> message, first 20

    def as_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "items": self.items,
            "frames": self.frames,
            "faces_detected": self.faces_detected,
            "crops": self.crops,
            "rejections": self.rejections,
            "unreadable": self.unreadable,
            "ignored_files": self.ignored_files,
            "resumed_items": self.resumed_items,
            "errors": self.errors,
            "warnings": self.warnings,
        }


@dataclass
class _ItemOutcome:
    media_id: str
    manifest: list[dict[str, Any]]
    rejections: list[dict[str, Any]]
    item: dict[str, Any]


def prepare_faces(
    source: str | Path,
    out_dir: str | Path,
    config: FacesConfig | None = None,
    workers: int = 2,
    flush_every: int = 200,
    on_progress: Callable[[int, int], None] | None = None,
) -> PrepareSummary:
    """Prepare aligned face crops for every image and video under ``source``.

    Args:
        source: a folder, an image, a video, or a media table (CSV/Parquet with
            ``subject_id`` and ``path``; a folder holding ``media.csv`` counts as one).
        out_dir: output folder (created; an existing one is resumed).
        config: face pipeline settings.
        workers: processes; 1 runs in this process.
        flush_every: items between Parquet flushes (the resume granularity).
        on_progress: called as ``on_progress(done, total)`` after each item.

    Returns:
        Counts over the whole output folder.
    """
    config = config or FacesConfig()
    out = Path(out_dir)
    listing = collect_media(source)
    (out / "_parts").mkdir(parents=True, exist_ok=True)
    save_resolved(config, out)
    done = recover_parts(out, _TABLES)
    shard_of = {item.media_id: i // config.shard_size for i, item in enumerate(listing.items)}
    todo = [item for item in listing.items if item.media_id not in done]
    total = len(listing.items)
    finished = total - len(todo)
    if on_progress:
        on_progress(finished, total)

    part = next_part_index(out)
    buffer: list[_ItemOutcome] = []
    tasks = [(item, shard_of[item.media_id], str(out)) for item in todo]
    for outcome in _run(tasks, config, workers):
        buffer.append(outcome)
        finished += 1
        if on_progress:
            on_progress(finished, total)
        if len(buffer) >= flush_every:
            _flush(out, part, buffer)
            part += 1
            buffer = []
    if buffer:
        _flush(out, part, buffer)
    merge_parts(out, _TABLES)
    summary = _summarise(out, len(listing.ignored), resumed=total - len(todo))
    (out / "summary.json").write_text(json.dumps(summary.as_dict(), indent=2))
    if listing.ignored:
        (out / "ignored_files.txt").write_text("\n".join(map(str, listing.ignored)) + "\n")
    return summary


# --- workers -----------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(config: FacesConfig) -> None:
    cv2.setNumThreads(1)  # one process per core; OpenCV's own pool would oversubscribe
    _WORKER["pipeline"] = FacePipeline(config)


def _work(task: tuple[MediaItem, int, str]) -> _ItemOutcome:
    item, shard, out = task
    return _process_item(_WORKER["pipeline"], item, shard, Path(out))


def _run(tasks: list[tuple[MediaItem, int, str]], config: FacesConfig, workers: int) -> Iterator[_ItemOutcome]:
    if not tasks:
        return
    if workers <= 1 or len(tasks) == 1:
        _init_worker(config)
        try:
            yield from map(_work, tasks)
        finally:
            _WORKER.clear()
        return
    # spawn, not fork: the parent may hold OpenCV/LiteRT thread pools that a fork would copy half-locked.
    # An executor, not mp.Pool: when a worker dies (e.g. a script without a __main__ guard, which each
    # spawned worker re-imports), Pool silently starts another, forever; the executor raises.
    ctx = mp.get_context("spawn")
    chunk = max(1, min(8, len(tasks) // (workers * 8)))
    with ProcessPoolExecutor(min(workers, len(tasks)), ctx, _init_worker, (config,)) as pool:
        try:
            yield from pool.map(_work, tasks, chunksize=chunk)
        except BrokenProcessPool as exc:
            raise WorkerError(
                "a face-preparation worker process died. Calling prepare_faces from a script? Put the call "
                "under `if __name__ == '__main__':` (workers are spawned and import your script), or pass "
                "workers=1. Finished items are kept; run again to resume."
            ) from exc


def _process_item(pipeline: FacePipeline, item: MediaItem, shard: int, out: Path) -> _ItemOutcome:
    outcome = _ItemOutcome(item.media_id, [], [], {})
    frames = faces = crops = 0
    error = None
    changes: list[ResolutionChange] = []
    try:
        results: Iterable[FrameResult] = (
            [pipeline.process_file(item.path)] if item.kind == "image" else pipeline.process_video(item.path)
        )
        size = None
        for result in results:
            if size is not None and result.image_size != size:
                changes.append(ResolutionChange(int(result.frame_index or 0), size, result.image_size))
            size = result.image_size
            frames += 1
            faces += result.detected
            crops += _record(result, item, shard, out, pipeline.config, outcome)
    except OutputError:
        raise  # a crop that cannot be written stops the run; the input itself was fine
    except FaceHealthError as exc:
        error = str(exc)
        outcome.rejections.append(_rejection(item, None, None, Reason.UNREADABLE, (Reason.UNREADABLE,), 1, error))
    outcome.item = {
        "media_id": item.media_id,
        "subject_id": item.subject_id,
        "source": str(item.path),
        "kind": item.kind,
        "frames": frames,
        "faces_detected": faces,
        "crops": crops,
        "error": error,
        "warning": resolution_warning(changes),
    }
    return outcome


def _record(
    result: FrameResult, item: MediaItem, shard: int, out: Path, config: FacesConfig, outcome: _ItemOutcome
) -> int:
    for reason, count in result.rejected.items():
        outcome.rejections.append(_rejection(item, result.frame_index, None, reason, (reason,), count, ""))
    written = 0
    for face_index, face in enumerate(result.faces):
        q = face.quality
        if not q.passed:
            outcome.rejections.append(
                _rejection(item, result.frame_index, face_index, q.reasons[0], q.reasons, 1, json.dumps(q.as_dict()))
            )
            continue
        frame_part = "" if result.frame_index is None else f"_f{result.frame_index:06d}"
        rel = Path("crops") / f"{shard:05d}" / f"{item.media_id}{frame_part}_{face_index}.{config.crop_format}"
        write_image(out / rel, face.aligned.image, jpeg_quality=config.jpeg_quality)
        written += 1
        outcome.manifest.append(
            {
                "crop_path": rel.as_posix(),
                "media_id": item.media_id,
                "subject_id": item.subject_id,
                "source": str(item.path),
                "kind": item.kind,
                "frame_index": result.frame_index,
                "timestamp": result.timestamp,
                "frame_width": result.image_size[0],
                "frame_height": result.image_size[1],
                "face_index": face_index,
                "detector": face.detection.detector,
                "score": face.detection.score,
                "box": face.detection.box.as_list(),
                "landmarks": face.landmarks.astype(np.float32).ravel().tolist(),
                "matrix": face.aligned.matrix.ravel().tolist(),
                "face_px": q.face_px,
                "blur": q.blur,
                "brightness": q.brightness,
                "yaw": q.yaw,
                "pitch": q.pitch,
                "roll": q.roll,
                "outside_fraction": q.outside_fraction,
            }
        )
    return written


def _rejection(
    item: MediaItem,
    frame: int | None,
    face: int | None,
    reason: str,
    reasons: tuple[str, ...],
    count: int,
    message: str,
) -> dict[str, Any]:
    return {
        "media_id": item.media_id,
        "subject_id": item.subject_id,
        "source": str(item.path),
        "frame_index": frame,
        "face_index": face,
        "reason": reason,
        "all_reasons": ",".join(reasons),
        "count": count,
        "message": message,
    }


# --- output ------------------------------------------------------------------


def _flush(out: Path, part: int, outcomes: list[_ItemOutcome]) -> None:
    """Write one part per table, then mark the items done (in that order, so a crash re-does them)."""
    rows = {
        "manifest": [r for o in outcomes for r in o.manifest],
        "rejections": [r for o in outcomes for r in o.rejections],
        "items": [o.item for o in outcomes],
    }
    for name, schema in _TABLES.items():
        tmp = out / "_parts" / f"{name}-{part:05d}.parquet.tmp"
        pq.write_table(pa.Table.from_pylist(rows[name], schema=schema), tmp)
        tmp.rename(tmp.with_suffix(""))
    with (out / "done.txt").open("a") as fh:
        fh.write("".join(f"{o.media_id}\n" for o in outcomes))


def _summarise(out: Path, ignored: int, resumed: int) -> PrepareSummary:
    items = pq.read_table(out / "items.parquet").to_pandas()
    rejections = pq.read_table(out / "rejections.parquet", columns=["reason", "count"]).to_pandas()
    counts = Counter()
    for reason, count in zip(rejections["reason"], rejections["count"]):
        counts[reason] += int(count)
    failed = items[items["error"].notna()]
    warned = items[items["warning"].notna()]
    return PrepareSummary(
        out_dir=out,
        items=len(items),
        frames=int(items["frames"].sum()),
        faces_detected=int(items["faces_detected"].sum()),
        crops=int(items["crops"].sum()),
        rejections=dict(sorted(counts.items())),
        unreadable=len(failed),
        ignored_files=ignored,
        resumed_items=resumed,
        errors=dict(zip(failed["media_id"][:20], failed["error"][:20])),
        warnings=dict(zip(warned["media_id"][:20], warned["warning"][:20])),
    )
