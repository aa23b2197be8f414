"""The ``facehealth`` command line: one command per stage, thin over the Python API.

Heavy libraries are imported inside the commands so ``facehealth --help`` and
the face commands start fast (the face commands never import torch).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from facehealth import __version__
from facehealth.errors import FaceHealthError

app = typer.Typer(help="facehealth: health signals from face photos and videos, locally.", no_args_is_help=True)
faces_app = typer.Typer(help="Face pipeline: detect, landmarks, align, quality-gate, prepare crops.",
                        no_args_is_help=True)
app.add_typer(faces_app, name="faces")

err = Console(stderr=True)
out = Console()


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr; yields a ``(done, total)`` callback."""
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=err, transient=False,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _load_faces_config(config: Path | None, overrides: dict[str, Any]) -> Any:
    from facehealth.config import load_config
    from facehealth.faces.config import FacesConfig

    return load_config(FacesConfig, config, overrides)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(__version__)
        raise typer.Exit()


@faces_app.command("detect")
def faces_detect(
    files: Annotated[list[Path], typer.Argument(help="Image files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    draw: Annotated[Path | None, typer.Option(help="Write an annotated PNG here (one file: this path; "
                                                   "several: FILE stem appended).")] = None,
    policy: Annotated[str, typer.Option(help="Several faces: all | largest | reject.")] = "all",
    config: Annotated[Path | None, typer.Option(help="faces YAML config.")] = None,
) -> None:
    """Detect faces with 68 landmarks and a quality report in each image."""
    try:
        cfg = _load_faces_config(config, {"multi_face": policy})
        from facehealth.faces.draw import draw_faces
        from facehealth.faces.io import read_image
        from facehealth.faces.pipeline import FacePipeline

        pipeline = FacePipeline(cfg)
    except FaceHealthError as exc:
        _fail(exc)
    reports, failed = [], 0
    for path in files:
        try:
            image = read_image(path)
            result = pipeline.process(image, source=str(path))
        except FaceHealthError as exc:
            failed += 1
            reports.append({"file": str(path), "error": str(exc)})
            if not as_json:
                err.print(f"[red]{path}: {exc}[/]")
            continue
        w, h = result.image_size
        reports.append({"file": str(path), "width": w, "height": h, "detected": result.detected,
                        "rejected": result.rejected, "faces": [f.as_dict() for f in result.faces]})
        if draw is not None:
            import cv2

            target = draw if len(files) == 1 else draw.with_name(f"{draw.stem}-{path.stem}{draw.suffix or '.png'}")
            target.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(target), cv2.cvtColor(draw_faces(image, result), cv2.COLOR_RGB2BGR))
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
        cfg = _load_faces_config(config, overrides)
        from facehealth.faces.prepare import prepare_faces

        with _progress("preparing faces") as update:
            summary = prepare_faces(source, out_dir, cfg, workers=workers, on_progress=update)
    except FaceHealthError as exc:
        _fail(exc)
    _print_prepare_summary(summary)


def _print_prepare_summary(summary: Any) -> None:
    table = Table(title=f"Face preparation -> {summary.out_dir}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in [("input files", summary.items), ("frames / images read", summary.frames),
                         ("faces detected", summary.faces_detected), ("crops kept", summary.crops),
                         ("unreadable files", summary.unreadable), ("ignored (not media)", summary.ignored_files)]:
        table.add_row(label, str(value))
    for reason, count in summary.rejections.items():
        table.add_row(f"rejected: {reason}", str(count))
    out.print(table)
    for media_id, message in summary.errors.items():
        err.print(f"[yellow]unreadable {media_id}:[/] {message}")


@app.command("demo")
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Run folder.")] = Path("runs/demo"),
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
) -> None:
    """Run the main job on data that ships with the packages (today: face preparation with QC)."""
    from facehealth.demo import run_demo

    try:
        with _progress("demo: preparing faces") as update:
            result = run_demo(out_dir, workers=workers, on_progress=update)
    except FaceHealthError as exc:
        _fail(exc)
    _print_prepare_summary(result.prepare)
    out.print(f"inputs: {result.examples_dir}\ncrops and manifest: {result.prepare.out_dir}"
              f"\nsummary: {result.prepare.out_dir / 'summary.json'}")


if __name__ == "__main__":  # pragma: no cover
    app()
