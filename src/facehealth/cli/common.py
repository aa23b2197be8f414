"""What every ``facehealth`` command shares: the Typer apps, consoles, errors and progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from facehealth import __version__

__all__ = [
    "app",
    "faces_app",
    "cohort_app",
    "study_app",
    "export_app",
    "out",
    "err",
    "given",
    "fail",
    "progress_bar",
    "training_bar",
    "stage_bars",
    "load_faces_config",
    "print_prepare_summary",
]

app = typer.Typer(help="facehealth: health signals from face photos and videos, locally.", no_args_is_help=True)
faces_app = typer.Typer(
    help="Face pipeline: detect, landmarks, align, quality-gate, prepare crops.", no_args_is_help=True
)
app.add_typer(faces_app, name="faces")
cohort_app = typer.Typer(help="Cohorts: synthesize, validate, split, import public datasets.", no_args_is_help=True)
app.add_typer(cohort_app, name="cohort")

study_app = typer.Typer(
    help="Study designs: label efficiency, external sites, baselines, subgroups.", no_args_is_help=True
)
app.add_typer(study_app, name="study")
export_app = typer.Typer(help="Export a fine-tuned model for fast inference (ONNX).", no_args_is_help=True)
app.add_typer(export_app, name="export")

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)  # long paths stay on one line (copyable, greppable)


def given(**values: Any) -> dict[str, Any]:
    """The CLI flags that were set, as config overrides (paths as text)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items() if v is not None}


def fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr; yields a ``(done, total)`` callback."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


@contextmanager
def training_bar(description: str) -> Iterator[Callable[[int, int, float], None]]:
    """Like :func:`progress_bar`, with the current loss; yields a ``(done, total, loss)`` callback."""
    with Progress(
        TextColumn(f"[bold]{description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    ) as progress:
        task = progress.add_task(description, total=None, loss=float("nan"))

        def update(done: int, total: int, loss: float) -> None:
            progress.update(task, completed=done, total=total, loss=loss)

        yield update


def load_faces_config(config: Path | None, overrides: dict[str, Any]) -> Any:
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


def print_prepare_summary(summary: Any) -> None:
    table = Table(title=f"Face preparation: {summary.out_dir}", show_header=True, title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in [
        ("input files", summary.items),
        ("frames / images read", summary.frames),
        ("faces detected", summary.faces_detected),
        ("crops kept", summary.crops),
        ("unreadable files", summary.unreadable),
        ("ignored (not media)", summary.ignored_files),
    ]:
        table.add_row(label, str(value))
    for reason, count in summary.rejections.items():
        table.add_row(f"rejected: {reason}", str(count))
    out.print(table)
    for media_id, message in summary.errors.items():
        err.print(f"[yellow]unreadable {media_id}:[/] {message}")
    for media_id, message in summary.warnings.items():
        err.print(f"[yellow]warning {media_id}:[/] {message}")


@contextmanager
def stage_bars() -> Iterator[Callable[[str], Callable[[int, int], None]]]:
    """One Rich progress bar per stage of a run."""
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as progress:

        def stage(name: str) -> Callable[[int, int], None]:
            task = progress.add_task(name, total=None)
            return lambda done, total: progress.update(task, completed=done, total=total)

        yield stage
