"""``facehealth cohort synth|validate|split|import``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facehealth.cli.common import (
    cohort_app,
    fail,
    out,
    progress_bar,
)
from facehealth.errors import FaceHealthError


@cohort_app.command("synth")
def cohort_synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Cohort folder to write.")],
    subjects: Annotated[int, typer.Option(help="Number of subjects.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same cohort).")] = 0,
    images: Annotated[int, typer.Option(help="Photos per subject.")] = 4,
    videos: Annotated[int, typer.Option(help="Affective stimulus videos per subject.")] = 0,
    base_photos: Annotated[Path | None, typer.Option(help="Extra single-face photos to use as identity bases.")] = None,
    clinical_covariates: Annotated[
        bool, typer.Option(help="Add stage (planted prognostic) and disease_type (null) to the subjects table.")
    ] = False,
    face_age_gap_sd: Annotated[
        float, typer.Option(help="Years the faces look older/younger than their age (SD); 0 = none.")
    ] = 0.0,
    face_age_gap_log_hr: Annotated[
        float, typer.Option(help="Planted log hazard ratio per 5 years of face-age gap (0 = a null gap).")
    ] = 0.0,
) -> None:
    """Write a synthetic cohort with planted effects (tables, media, ground_truth.json, contact sheet)."""
    from facehealth.data.synth import SynthConfig, synthesize_cohort

    cfg = SynthConfig(
        subjects=subjects,
        images_per_subject=images,
        videos_per_subject=videos,
        seed=seed,
        base_photos=str(base_photos) if base_photos else None,
        clinical_covariates=clinical_covariates,
        face_age_gap_sd=face_age_gap_sd,
        face_age_gap_log_hr=face_age_gap_log_hr,
    )
    try:
        with progress_bar("synthesizing subjects") as update:
            path = synthesize_cohort(out_dir, cfg, on_progress=update)
    except FaceHealthError as exc:
        fail(exc)
    out.print(
        f"cohort written to {path} (ground truth: {path / 'ground_truth.json'}, "
        f"contact sheet: {path / 'contact_sheet.png'})"
    )


@cohort_app.command("validate")
def cohort_validate(
    cohort: Annotated[Path, typer.Argument(help="Cohort folder.")],
    no_files: Annotated[bool, typer.Option("--no-files", help="Skip checking that media files exist.")] = False,
) -> None:
    """Check a cohort folder's tables; errors name the table, row and column. Exit 1 on errors."""
    from facehealth.data.validate import validate_cohort

    report = validate_cohort(cohort, check_files=not no_files)
    for issue in report.issues:
        style = "red" if issue.severity == "error" else "yellow"
        out.print(f"[{style}]{issue}[/]", highlight=False)
    counts = ", ".join(f"{k}: {v} rows" for k, v in report.counts.items())
    out.print(f"{cohort}: {counts}; {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    if not report.ok:
        raise typer.Exit(code=1)


@cohort_app.command("split")
def cohort_split(
    cohort: Annotated[Path, typer.Argument(help="Cohort folder.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    stratify: Annotated[str | None, typer.Option(help="Column to stratify on (e.g. cad, age).")] = None,
    external_site: Annotated[list[str] | None, typer.Option(help="Hold this site out whole (repeatable).")] = None,
    test_fraction: Annotated[float, typer.Option(help="Share of internal subjects in the test split.")] = 0.2,
    val_fraction: Annotated[float, typer.Option(help="Share of internal subjects in the validation split.")] = 0.1,
    folds: Annotated[int, typer.Option(help="K for cross-validation folds over train+val.")] = 5,
) -> None:
    """Assign subjects (never images) to train/val/test/external and CV folds; writes splits.csv."""
    from facehealth.data.splits import split_cohort, splits_path

    try:
        splits = split_cohort(cohort, seed, test_fraction, val_fraction, folds, stratify, external_site or ())
    except FaceHealthError as exc:
        fail(exc)
    sizes = splits["split"].value_counts().to_dict()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(sizes.items()))
    out.print(f"{splits_path(cohort)}: {counts} subjects; no subject leaks")


@cohort_app.command("import")
def cohort_import(
    kind: Annotated[str, typer.Argument(help="utkface | imdb-wiki | agedb | csv | folder")],
    source: Annotated[Path, typer.Argument(help="Dataset folder, .mat file or CSV.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Cohort folder (or image list folder) to write.")],
    path_col: Annotated[str, typer.Option(help="csv: column with image paths.")] = "path",
    subject_col: Annotated[str | None, typer.Option(help="csv: subject id column.")] = None,
    age_col: Annotated[str | None, typer.Option(help="csv: age column.")] = None,
    sex_col: Annotated[str | None, typer.Option(help="csv: sex column.")] = None,
) -> None:
    """Turn a public face dataset you downloaded into a cohort folder (nothing is downloaded)."""
    from facehealth.data.importers import import_dataset

    try:
        summary = import_dataset(
            kind, source, out_dir, path_col=path_col, subject_col=subject_col, age_col=age_col, sex_col=sex_col
        )
    except FaceHealthError as exc:
        fail(exc)
    out.print(
        f"{summary.out}: {summary.subjects} subjects, {summary.media} images; "
        f"skipped: {dict(summary.skipped) or 'none'}"
    )
