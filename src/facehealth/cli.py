"""The ``facehealth`` command line: one command per stage, thin over the Python API.

Heavy libraries are imported inside the commands so ``facehealth --help`` and
the face commands start fast (the face commands never import torch).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from facehealth import __version__
from facehealth.errors import FaceHealthError

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

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)  # long paths stay on one line (copyable, greppable)


def _given(**values: Any) -> dict[str, Any]:
    """The CLI flags that were set, as config overrides (paths as text)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items() if v is not None}


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
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
def _training_progress(description: str) -> Iterator[Callable[[int, int, float], None]]:
    """Like :func:`_progress`, with the current loss; yields a ``(done, total, loss)`` callback."""
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
    draw: Annotated[
        Path | None,
        typer.Option(help="Write an annotated PNG here (one file: this path; several: FILE stem appended)."),
    ] = None,
    policy: Annotated[str, typer.Option(help="Several faces: all | largest | reject.")] = "all",
    config: Annotated[Path | None, typer.Option(help="faces YAML config.")] = None,
) -> None:
    """Detect faces with 68 landmarks and a quality report in each image."""
    try:
        cfg = _load_faces_config(config, {"multi_face": policy})
        from facehealth.faces.pipeline import FacePipeline

        pipeline = FacePipeline(cfg)
    except FaceHealthError as exc:
        _fail(exc)
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
        cfg = _load_faces_config(config, overrides)
        from facehealth.faces.prepare import prepare_faces

        with _progress("preparing faces") as update:
            summary = prepare_faces(source, out_dir, cfg, workers=workers, on_progress=update)
    except FaceHealthError as exc:
        _fail(exc)
    _print_prepare_summary(summary)


def _print_prepare_summary(summary: Any) -> None:
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


@cohort_app.command("synth")
def cohort_synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Cohort folder to write.")],
    subjects: Annotated[int, typer.Option(help="Number of subjects.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same cohort).")] = 0,
    images: Annotated[int, typer.Option(help="Photos per subject.")] = 4,
    videos: Annotated[int, typer.Option(help="Affective stimulus videos per subject.")] = 0,
    base_photos: Annotated[Path | None, typer.Option(help="Extra single-face photos to use as identity bases.")] = None,
) -> None:
    """Write a synthetic cohort with planted effects (tables, media, ground_truth.json, contact sheet)."""
    from facehealth.data.synth import SynthConfig, synthesize_cohort

    cfg = SynthConfig(
        subjects=subjects,
        images_per_subject=images,
        videos_per_subject=videos,
        seed=seed,
        base_photos=str(base_photos) if base_photos else None,
    )
    try:
        with _progress("synthesizing subjects") as update:
            path = synthesize_cohort(out_dir, cfg, on_progress=update)
    except FaceHealthError as exc:
        _fail(exc)
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
        _fail(exc)
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
        _fail(exc)
    out.print(
        f"{summary.out}: {summary.subjects} subjects, {summary.media} images; "
        f"skipped: {dict(summary.skipped) or 'none'}"
    )


@app.command("pretrain")
def pretrain(
    config: Annotated[Path | None, typer.Option(help="Pretraining YAML (configs/pretrain.yaml).")] = None,
    data: Annotated[
        list[Path] | None, typer.Option(help="Prepared crops folder (repeatable); overrides the config.")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder; overrides the config.")] = None,
    backbone: Annotated[str | None, typer.Option(help="Registry ViT name, e.g. vit_tiny_patch16.")] = None,
    img_size: Annotated[int | None, typer.Option(help="Input side in px.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size.")] = None,
) -> None:
    """Self-supervised MAE pretraining on face crops (resumes an interrupted run in the same folder)."""
    from facehealth.config import load_config
    from facehealth.train.config import PretrainConfig

    overrides = _given(
        data=[str(d) for d in data] if data else None,
        out_dir=out_dir,
        backbone=backbone,
        img_size=img_size,
        epochs=epochs,
        batch_size=batch_size,
    )
    try:
        cfg = load_config(PretrainConfig, config, overrides)
        from facehealth.train.engine import pretrain_mae

        with _training_progress("MAE pretraining") as update:
            result = pretrain_mae(cfg, on_progress=update)
    except FaceHealthError as exc:
        _fail(exc)
    losses = ", ".join(f"{x:.4f}" for x in result.epoch_losses)
    out.print(f"loss per epoch: {losses}\n{result.images_per_second:.1f} images/s\ncheckpoint: {result.checkpoint}")


@app.command("finetune")
def finetune_cmd(
    config: Annotated[Path | None, typer.Option(help="Fine-tuning YAML (configs/finetune.yaml).")] = None,
    cohort: Annotated[Path | None, typer.Option(help="Cohort folder; overrides the config.")] = None,
    prepared: Annotated[Path | None, typer.Option(help="Its `faces prepare` folder; overrides the config.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder; overrides the config.")] = None,
    init_from: Annotated[Path | None, typer.Option(help="Pretrained checkpoint (.safetensors).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs.")] = None,
) -> None:
    """Fine-tune the multi-task clinical model; writes the best checkpoint, predictions and metrics."""
    from facehealth.config import load_config
    from facehealth.evaluate.clinical import point_metrics
    from facehealth.train.finetune import FinetuneConfig, finetune

    overrides = _given(cohort=cohort, prepared=prepared, out_dir=out_dir, init_from=init_from, epochs=epochs)
    try:
        cfg = load_config(FinetuneConfig, config, overrides)
        with _training_progress("fine-tuning") as update:
            result = finetune(cfg, on_progress=update)
    except FaceHealthError as exc:
        _fail(exc)
    out.print(f"best epoch {result.best_epoch}; checkpoint: {result.checkpoint}")
    for split, values in point_metrics(result.predictions, result.labels, result.tasks).items():
        shown = ", ".join(f"{k} {v:.3f}" for k, v in values.items() if k != "n_subjects" and isinstance(v, float))
        out.print(f"{split} (n={values['n_subjects']}): {shown}")


@app.command("predict")
def predict_cmd(
    files: Annotated[list[Path], typer.Argument(help="Photos or videos.")],
    model: Annotated[Path, typer.Option(help="Fine-tuned checkpoint (checkpoint-best.safetensors).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Run faces -> model -> every head on each photo or video."""
    from facehealth.models.predictor import load

    try:
        predictor = load(model)
    except FaceHealthError as exc:
        _fail(exc)
    reports, failed = [], 0
    for path in files:
        try:
            reports.append(predictor.predict(path).as_dict())
        except FaceHealthError as exc:
            failed += 1
            reports.append({"source": str(path), "error": str(exc)})
    if as_json:
        sys.stdout.write(json.dumps(reports, indent=2) + "\n")
    else:
        for r in reports:
            if "error" in r:
                err.print(f"[red]{r['source']}: {r['error']}[/]")
                continue
            values = ", ".join(f"{k} {v:.2f}" for k, v in r["values"].items())
            probs = ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {max(v, key=v.get)}"
                for k, v in r["probabilities"].items()
            )
            out.print(f"{r['source']}: {r['faces_used']} face(s); {values}; {probs}")
    if failed:
        raise typer.Exit(code=2)


@app.command("evaluate")
def evaluate_cmd(
    model: Annotated[Path, typer.Option(help="Fine-tuned checkpoint (checkpoint-best.safetensors).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for metrics.json and predictions.parquet.")],
    cohort: Annotated[Path | None, typer.Option(help="Cohort folder (default: the one trained on).")] = None,
    prepared: Annotated[Path | None, typer.Option(help="Its `faces prepare` folder.")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples (of subjects).")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    score_train: Annotated[bool, typer.Option(help="Also score the training split (fit, not performance).")] = False,
) -> None:
    """Score every split of a cohort; write metrics.json (and survival.json) with a CI for every number."""
    from facehealth.evaluate.outputs import evaluate_checkpoint

    try:
        result = evaluate_checkpoint(
            model, out_dir, cohort, prepared, seed=seed, n_boot=n_boot, score_train=score_train
        )
    except FaceHealthError as exc:
        _fail(exc)
    report = result.metrics
    for split, tasks_out in report["splits"].items():
        shown = []
        for task, values in tasks_out.items():
            if isinstance(values, dict):
                for name, v in values.items():
                    if isinstance(v, dict) and "value" in v:
                        shown.append(f"{task}.{name} {v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}]")
        out.print(f"{split} (n={tasks_out['n_subjects']}): " + "; ".join(shown[:6]))
    if report["warnings"]:
        err.print(f"[yellow]{len(report['warnings'])} metric(s) undefined on some split (listed in metrics.json)[/]")
    survival = f", {out_dir / 'survival.json'}" if result.survival else ""
    out.print(f"metrics: {out_dir / 'metrics.json'}{survival}")


StudyConfigOption = Annotated[Path | None, typer.Option("--config", help="Study YAML (configs/study.yaml).")]
StudyOut = Annotated[Path | None, typer.Option("--out", help="Output folder; overrides the config.")]


def _run_study(name: str, config: Path | None, out_dir: Path | None) -> None:
    from facehealth.config import load_config
    from facehealth.studies.config import StudyConfig
    from facehealth.workflow.designs import run_design

    try:
        cfg = load_config(StudyConfig, config, {"out_dir": str(out_dir)} if out_dir else None)
        # Only label efficiency reports progress (over its dozens of fine-tuning runs).
        with _progress("label efficiency (runs)") if name == "label_efficiency" else nullcontext() as update:
            outcome = run_design(name, cfg, on_progress=update)
    except FaceHealthError as exc:
        _fail(exc)
    out.print(f"{name.replace('_', ' ')}: {outcome.rows} rows; tables and plots in {outcome.out_dir}")


@study_app.command("label-efficiency")
def study_label_efficiency(config: StudyConfigOption = None, out_dir: StudyOut = None) -> None:
    """Fine-tune every arm on n = 50, 100, 200, 400... labelled subjects (nested, seeded); metric vs n with CIs."""
    _run_study("label_efficiency", config, out_dir)


@study_app.command("external")
def study_external(config: StudyConfigOption = None, out_dir: StudyOut = None) -> None:
    """Train on the internal sites; report the internal test split and every held-out site separately."""
    _run_study("external", config, out_dir)


@study_app.command("baselines")
def study_baselines(config: StudyConfigOption = None, out_dir: StudyOut = None) -> None:
    """Every arm on identical splits, with paired comparisons against the reference (foundation) arm."""
    _run_study("baselines", config, out_dir)


@study_app.command("subgroups")
def study_subgroups(config: StudyConfigOption = None, out_dir: StudyOut = None) -> None:
    """Primary metric with CI by age band, sex and site (forest-plot data) with a heterogeneity test."""
    _run_study("subgroups", config, out_dir)


@app.command("explain")
def explain_cmd(
    model: Annotated[Path, typer.Option(help="Fine-tuned checkpoint (checkpoint-best.safetensors).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the PNGs and tables.")],
    photos: Annotated[list[Path] | None, typer.Option("--input", help="A photo to explain (repeatable).")] = None,
    prepared: Annotated[
        Path | None, typer.Option(help="A `faces prepare` folder: galleries and region tables over its subjects.")
    ] = None,
    task: Annotated[
        list[str] | None, typer.Option(help="Target, e.g. cad or biomarkers:haemoglobin (repeatable; default all).")
    ] = None,
    method: Annotated[str, typer.Option(help="gradcam, rollout (ViT) or ig (integrated gradients).")] = "gradcam",
    subjects: Annotated[int, typer.Option(help="With --prepared: subjects drawn from the test split.")] = 32,
) -> None:
    """Saliency of each head: on your photos (mapped back onto them) or across a prepared cohort."""
    if not photos and prepared is None:
        _fail(ValueError("give --input PHOTO (repeatable) or --prepared FOLDER"))
    if method not in ("gradcam", "rollout", "ig"):
        _fail(ValueError(f"unknown method '{method}'; use gradcam, rollout or ig"))
    try:
        if prepared is not None:
            from facehealth.explain.cohort import explain_cohort

            result = explain_cohort(model, prepared, out_dir, task, n_subjects=subjects, method=method)
            out.print(f"{result.n_images} photos of {result.n_subjects} subjects; regions: {result.regions_csv}")
        from facehealth.explain.photo import explain_photo

        for photo in photos or []:
            explained = explain_photo(model, photo, out_dir, task, method=method)
            regions = "; ".join(f"{k}: {', '.join(v)}" for k, v in explained.top_regions.items())
            out.print(f"{photo}: {explained.overlay_png} (top regions - {regions})")
    except FaceHealthError as exc:
        _fail(exc)


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
    """Re-score perturbed photos (light, pose, blur, occlusion, makeup...) through the whole face path."""
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
        _fail(exc)
    out.print(
        f"{result.n_subjects} subjects, {result.forward_passes} forward passes in {result.seconds:.0f} s; "
        f"table: {out_dir / 'robustness.csv'}"
    )


@app.command("report")
def report_cmd(
    target: Annotated[str, typer.Argument(help="A run folder, or the word `person` for a per-person report.")],
    pdf: Annotated[bool, typer.Option(help="Also print the report to PDF (headless Chromium).")] = True,
    model: Annotated[Path | None, typer.Option(help="person: fine-tuned checkpoint.")] = None,
    history: Annotated[Path | None, typer.Option(help="person: SQLite visit history (created if missing).")] = None,
    subject: Annotated[str | None, typer.Option(help="person: the person's id.")] = None,
    photo: Annotated[Path | None, typer.Option("--input", help="person: today's photo or video.")] = None,
    run: Annotated[Path | None, typer.Option(help="person: the model's run folder (90% intervals).")] = None,
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
        missing = [n for n, v in (("--model", model), ("--history", history), ("--subject", subject)) if v is None]
        if missing or photo is None:
            _fail(ValueError(f"report person needs {', '.join(missing + (['--input'] if photo is None else []))}"))
        try:
            person = reports.visit_report(
                model,
                photo,
                history,
                subject,
                run_dir=run,
                record=record,
                time=when,
                explain=explain,  # Grad-CAM panels beside the HTML (or the history) file
                explanations_dir=(html or history).parent / "explanations",
            )
        except FaceHealthError as exc:
            _fail(exc)
        out.print(person.text)
        if html:
            html.write_text(person.html, encoding="utf-8")
            out.print(f"HTML: {html}")
        return
    run_dir = Path(target)
    if not (run_dir / "run.json").is_file():
        _fail(ValueError(f"{run_dir} is not a run folder (no run.json); give a folder written by `facehealth demo`"))
    try:
        page = reports.build_report(run_dir)
        out.print(f"report: {page}")
        if pdf:
            out.print(f"PDF: {reports.report_pdf(page)}")
    except FaceHealthError as exc:
        _fail(exc)


@contextmanager
def _stage_bars() -> Iterator[Callable[[str], Callable[[int, int], None]]]:
    """One Rich progress bar per stage of a run."""
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as progress:

        def stage(name: str) -> Callable[[int, int], None]:
            task = progress.add_task(name, total=None)
            return lambda done, total: progress.update(task, completed=done, total=total)

        yield stage


def _print_run(record: Any) -> None:
    for name, stage in record.stages.items():
        colour = {"done": "green", "skipped": "yellow", "failed": "red"}.get(stage["status"], "white")
        note = f" - {stage['note']}" if stage.get("note") else ""
        out.print(f"[{colour}]{stage['status']:>7}[/] {name} ({stage['seconds']:.0f} s){note}")
    if record.headline:
        out.print("[bold]Headline numbers[/] (95% CI, subject bootstrap):")
        for name, v in record.headline.items():
            out.print(f"  {name}: {v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}] (n={v['n_subjects']})")
    report = record.out_dir / "report.html"
    out.print(f"report: {report}" if report.is_file() else f"run folder: {record.out_dir}")


@app.command("demo")
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Run folder.")] = Path("runs/demo"),
    profile: Annotated[str, typer.Option(help="quick (minutes on 2 cores) or full (under 30 min).")] = "quick",
    subjects: Annotated[int | None, typer.Option(help="Synthetic subjects (default: 120 quick, 300 full).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    workers: Annotated[int, typer.Option(help="Face-preparation processes.")] = 2,
    config: Annotated[
        Path | None, typer.Option(help="YAML of run settings merged over the profile (keys of configs/run.yaml).")
    ] = None,
) -> None:
    """The main job on synthetic data: cohort -> faces -> pretrain -> fine-tune -> evaluate -> report."""
    from facehealth.config import read_yaml_mapping
    from facehealth.demo import run_demo

    try:
        overrides = read_yaml_mapping(config) if config else None
        with _stage_bars() as stage:
            result = run_demo(
                out_dir,
                profile=profile,
                subjects=subjects,
                seed=seed,
                workers=workers,
                progress=stage,
                overrides=overrides,
            )
    except FaceHealthError as exc:
        _fail(exc)
    out.print(
        f"[bold]Synthetic cohort[/] {result.cohort_dir}; splits by subject: "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.splits.items()))
    )
    _print_prepare_summary(result.showcase)
    _print_run(result.record)


@app.command("run")
def run_cmd(
    cohort: Annotated[Path, typer.Option(help="Cohort folder (docs/cohort_format.md).")],
    config: Annotated[Path | None, typer.Option(help="Run YAML (configs/run.yaml).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder; overrides the config.")] = None,
) -> None:
    """The whole pipeline on your cohort: faces -> pretrain -> fine-tune -> evaluate -> explain -> report."""
    from facehealth.config import load_config
    from facehealth.workflow import RunConfig, run_pipeline

    overrides = {"out_dir": str(out_dir)} if out_dir else {}
    try:
        cfg = load_config(RunConfig, config, overrides)
        with _stage_bars() as stage:
            record = run_pipeline(cfg, cohort, progress=stage)
    except FaceHealthError as exc:
        _fail(exc)
    _print_run(record)


if __name__ == "__main__":  # pragma: no cover
    app()
