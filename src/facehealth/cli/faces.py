"""``facehealth faces detect|prepare``: the face pipeline on photos, videos and folders."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from facehealth.cli.common import (
    err,
    faces_app,
    fail,
    load_faces_config,
    out,
    print_prepare_summary,
    progress_bar,
)
from facehealth.errors import FaceHealthError


@faces_app.command("detect")
def faces_detect(
    files: Annotated[list[Path], typer.Argument(help="Image files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    draw: Annotated[
        Path | None,
        typer.Option(help="Write an annotated PNG here (one file: this path; several: FILE stem appended)."),
    ] = None,
    policy: Annotated[str, typer.Option(help="Several faces: all | largest | reject.")] = "all",
    config: Annotated[Path | None, typer.Option(help="faces YAML config.")] = None,
) -> None:
    """Detect faces with 68 landmarks and a quality report in each image."""
    try:
        cfg = load_faces_config(config, {"multi_face": policy})
        from facehealth.faces.pipeline import FacePipeline

        pipeline = FacePipeline(cfg)
    except FaceHealthError as exc:
        fail(exc)
    reports, failed = [], 0
    for path in files:
        drawing = None
        if draw is not None:  # one file: this path; several: the file's stem appended
            drawing = draw if len(files) == 1 else draw.with_name(f"{draw.stem}-{path.stem}{draw.suffix or '.png'}")
        try:
            result = pipeline.process_file(path, draw_to=drawing)
        except FaceHealthError as exc:
            failed += 1
            reports.append({"source": str(path), "error": str(exc)})
            if not as_json:
                err.print(f"[red]{path}: {exc}[/]")
            continue
        reports.append(result.as_dict())  # the shape `predict --json` uses: source, quality, ...
        if not as_json:
            verdicts = ", ".join("ok" if f.quality.passed else "/".join(f.quality.reasons) for f in result.faces)
            out.print(f"{path}: {len(result.faces)} face(s) kept of {result.detected} found [{verdicts}]")
    if as_json:
        sys.stdout.write(json.dumps(reports, indent=2) + "\n")
    if failed:
        raise typer.Exit(code=2)


@faces_app.command("prepare")
def faces_prepare(
    source: Annotated[Path, typer.Argument(help="Folder, image, video, or media table (CSV/Parquet).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (resumed if it exists).")],
    config: Annotated[Path | None, typer.Option(help="faces YAML config.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    fps: Annotated[float | None, typer.Option(help="Video frames kept per second.")] = None,
    every_n: Annotated[int | None, typer.Option(help="Keep every N-th video frame (instead of --fps).")] = None,
    policy: Annotated[str | None, typer.Option(help="Several faces: largest | all | reject.")] = None,
) -> None:
    """Write aligned crops, a manifest and a rejection summary for every image and video."""
    overrides: dict[str, Any] = {}
    if policy:
        overrides["multi_face"] = policy
    if every_n is not None:
        overrides["video"] = {"fps": None, "every_n": every_n}
    elif fps is not None:
        overrides["video"] = {"fps": fps}
    try:
        cfg = load_faces_config(config, overrides)
        from facehealth.faces.prepare import prepare_faces

        with progress_bar("preparing faces") as update:
            summary = prepare_faces(source, out_dir, cfg, workers=workers, on_progress=update)
    except FaceHealthError as exc:
        fail(exc)
    print_prepare_summary(summary)
