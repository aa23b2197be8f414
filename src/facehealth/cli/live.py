"""``facehealth live``: heart rate, expression motion and rolling model scores on a video or camera."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facehealth.cli.common import app, err, fail, out
from facehealth.errors import FaceHealthError


@app.command("live")
def live_cmd(
    source: Annotated[str, typer.Argument(help="Video file, camera index (0) or rtsp/http URL.")],
    model: Annotated[Path | None, typer.Option(help="Fine-tuned checkpoint for rolling scores.")] = None,
    preview: Annotated[Path | None, typer.Option(help="Write an annotated preview video here (.mp4).")] = None,
    events: Annotated[Path | None, typer.Option(help="Write one JSON event per frame here (.jsonl).")] = None,
    detect_every: Annotated[int, typer.Option(help="Run the face detector every N frames; track between.")] = 10,
    max_seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds of video.")] = None,
    realtime: Annotated[bool, typer.Option(help="Pace a file like a camera (drop frames when behind).")] = False,
    method: Annotated[str, typer.Option(help="rPPG method: pos | chrom.")] = "pos",
    markers: Annotated[
        Path | None, typer.Option(help="Stimulus sidecar JSON from `facehealth record` (labels in events).")
    ] = None,
) -> None:
    """Track the face in a video or camera stream and report heart rate and scores as JSON events."""
    from facehealth.live.engine import LiveConfig, LiveEngine
    from facehealth.live.session import run_session
    from facehealth.live.sources import open_source
    from facehealth.live.stimuli import load_markers

    try:
        predictor = None
        if model is not None:
            from facehealth.models.loader import load

            predictor = load(model)
        cfg = LiveConfig(detect_every=detect_every, max_seconds=max_seconds, rppg_method=method)
        onsets = load_markers(markers) if markers is not None else ()
        engine = LiveEngine(cfg, model=predictor, markers=onsets)
        summary = run_session(engine, open_source(source, realtime=realtime), events, preview)
    except FaceHealthError as exc:
        fail(exc)
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    hr = "no heart rate (too short or no face)"
    if summary.last_bpm is not None:
        hr = f"heart rate {summary.last_bpm:.0f} bpm (SNR {summary.last_snr_db:.1f} dB)"
    out.print(
        f"{source}: {summary.frames} frames ({summary.dropped} dropped), {summary.tracks} track(s), "
        f"{summary.detections} detections, {summary.scored_frames} scored; {hr}"
    )


@app.command("record")
def record_cmd(
    stimuli: Annotated[Path, typer.Option(help="Stimulus sequence YAML (images, durations, labels).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for recording.avi and its stimulus sidecar.")],
    camera: Annotated[str, typer.Option(help="Camera index, or a video file used as the camera.")] = "0",
    show: Annotated[bool | None, typer.Option(help="Show stimuli in a window (default: if a display exists).")] = None,
) -> None:
    """Show an emotional-stimulus sequence and record the face watching it (Emoface protocol)."""
    from facehealth.live.stimuli import load_sequence, record

    try:
        result = record(load_sequence(stimuli), camera, out_dir, show=show)
    except FaceHealthError as exc:
        fail(exc)
    out.print(f"{result.video}: {result.frames} frames at {result.fps:g} fps; onsets in {result.sidecar}")
