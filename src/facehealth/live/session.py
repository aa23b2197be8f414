"""One live session end to end: a source through the engine to a JSON-lines file and a preview video.

The CLI and the web service call :func:`run_session`; the loop itself stays in the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facehealth.live.engine import LiveEngine
from facehealth.live.events import EventWriter, LiveEvent
from facehealth.live.preview import PreviewWriter, draw_event
from facehealth.live.sources import CaptureSource, FileSource, PushSource

__all__ = ["SessionSummary", "run_session"]


@dataclass(frozen=True)
class SessionSummary:
    """What a session did, for the CLI's last line and for benchmarks."""

    frames: int
    dropped: int
    detections: int
    tracks: int
    scored_frames: int
    last_bpm: float | None
    last_snr_db: float | None
    warnings: tuple[str, ...]
    resolution_changes: int = 0  # frame-size changes in the source (each restarted the track; named in warnings)


def run_session(
    engine: LiveEngine,
    source: CaptureSource | FileSource | PushSource,
    events_path: str | Path | None = None,
    preview_path: str | Path | None = None,
    on_event: Callable[[LiveEvent], None] | None = None,
) -> SessionSummary:
    """Run ``engine`` over ``source``, writing events (JSON lines) and an annotated preview."""
    writer = EventWriter(events_path) if events_path is not None else None
    preview = PreviewWriter(preview_path, getattr(source, "fps", 30.0)) if preview_path is not None else None
    frames, tracks, last = 0, set(), None
    try:
        for frame, event in engine.run_with_frames(source):
            frames += 1
            last = event
            if event.track_id is not None:
                tracks.add(event.track_id)
            if writer is not None:
                writer.write(event)
            if preview is not None:
                landmarks = engine.last_face.landmarks if engine.last_face is not None else None
                preview.write(draw_event(frame.image, event, landmarks))
            if on_event is not None:
                on_event(event)
    finally:
        if writer is not None:
            writer.close()
        if preview is not None:
            preview.close()
    hr = last.heart_rate if last is not None else None
    return SessionSummary(
        frames=frames,
        dropped=int(source.dropped),
        detections=engine.tracker.detections,
        tracks=len(tracks),
        scored_frames=engine.scored_frames,
        last_bpm=hr.bpm if hr is not None else None,
        last_snr_db=hr.snr_db if hr is not None else None,
        warnings=engine.warnings,
        resolution_changes=len(engine.resolution_changes),
    )
