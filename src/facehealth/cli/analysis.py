"""``facehealth robustness|report``: perturbation suites and reports (``explain``: :mod:`.explain`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from facehealth.cli.common import (
    app,
    err,
    fail,
    out,
)
from facehealth.errors import FaceHealthError


@app.command("robustness")
def robustness_cmd(
    model: Annotated[Path, typer.Option(help="Fine-tuned checkpoint (checkpoint-best.safetensors).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for robustness.csv and the plots.")],
    cohort: Annotated[Path | None, typer.Option(help="Cohort folder (default: the one trained on).")] = None,
    prepared: Annotated[Path | None, typer.Option(help="Its `faces prepare` folder.")] = None,
    split: Annotated[str, typer.Option(help="Which split's subjects to perturb.")] = "test",
    subjects: Annotated[int, typer.Option(help="At most this many subjects (one photo each).")] = 20,
    perturbation: Annotated[
        list[str] | None, typer.Option(help="Perturbations to run (repeatable; default: the standard set).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (noise, crop jitter).")] = 0,
) -> None:
    """Re-score perturbed photos (light, pose, blur, occlusion, makeup, cosmetic change...) through the face path."""
    import numpy as np

    from facehealth.robustness.suite import run_robustness

    try:
        with err.status("perturbing and re-scoring photos"):
            result = run_robustness(
                model,
                out_dir=out_dir,
                cohort_dir=cohort,
                prepared_dir=prepared,
                split=split,
                perturbations=tuple(perturbation) if perturbation else None,
                n_subjects=subjects,
                rng=np.random.default_rng(seed),
            )
    except FaceHealthError as exc:
        fail(exc)
    out.print(
        f"{result.n_subjects} subjects, {result.forward_passes} forward passes in {result.seconds:.0f} s; "
        f"table: {out_dir / 'robustness.csv'}"
    )


@app.command("report")
def report_cmd(
    target: Annotated[str, typer.Argument(help="A run folder, or the word `person` for a per-person report.")],
    pdf: Annotated[bool, typer.Option(help="Also print the report to PDF (headless Chromium).")] = True,
    model: Annotated[Path | None, typer.Option(help="person: fine-tuned checkpoint.")] = None,
    history: Annotated[
        Path | None, typer.Option(hidden=True, help="Removed: visits live in the service database.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="person: the service's data folder, whose database keeps the visits (~/.facehealth)."),
    ] = None,
    owner: Annotated[
        str | None, typer.Option(help="person: the account the person belongs to (default: the first admin).")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="person: the person's id.")] = None,
    photo: Annotated[Path | None, typer.Option("--input", help="person: today's photo or video.")] = None,
    html: Annotated[Path | None, typer.Option(help="person: also write the report as HTML here.")] = None,
    record: Annotated[bool, typer.Option(help="person: store this visit in the history.")] = True,
    explain: Annotated[bool, typer.Option(help="person: name the facial regions behind each score.")] = True,
    when: Annotated[
        str | None, typer.Option("--time", help="person: when the photo was taken (ISO date/time; default now).")
    ] = None,
) -> None:
    """`report RUN_DIR`: the cohort report (report.html + PDF). `report person ...`: a person's risk report."""
    from facehealth import report as reports

    if target == "person":
        if history is not None:
            fail(
                ValueError(
                    "--history is gone: visits now live in the service database (--data-dir, DATABASE_URL); "
                    f"copy an old visit file in with `facehealth serve import-history {history}`"
                )
            )
        missing = [n for n, v in (("--model", model), ("--subject", subject), ("--input", photo)) if v is None]
        if missing:
            fail(ValueError(f"report person needs {', '.join(missing)}"))
        try:
            person = _person_visit(model, photo, subject, data_dir, owner, record, when, explain, html)
        except FaceHealthError as exc:
            fail(exc)
        out.print(person.text)
        if html:
            html.write_text(person.html, encoding="utf-8")
            out.print(f"HTML: {html}")
        return
    run_dir = Path(target)
    if not (run_dir / "run.json").is_file():
        fail(ValueError(f"{run_dir} is not a run folder (no run.json); give a folder written by `facehealth demo`"))
    try:
        page = reports.build_report(run_dir)
        out.print(f"report: {page}")
        if pdf:
            out.print(f"PDF: {reports.report_pdf(page)}")
    except FaceHealthError as exc:
        fail(exc)


def _person_visit(
    model: Path,
    photo: Path,
    subject: str,
    data_dir: Path | None,
    owner: str | None,
    record: bool,
    when: str | None,
    explain: bool,
    html: Path | None,
) -> Any:
    """One visit of ``report person``, read from and stored in the service database."""
    from facehealth import report as reports
    from facehealth.serve.history import open_history
    from facehealth.serve.settings import load_settings

    with open_history(data_dir, owner) as (history, _email):
        return reports.visit_report(
            model,
            photo,
            history,
            subject,
            record=record,
            time=when,
            explain=explain,
            # Grad-CAM panels show the face: beside the HTML asked for, else in the private data folder.
            explanations_dir=(html.parent if html else load_settings(data_dir).data_dir) / "explanations",
        )
