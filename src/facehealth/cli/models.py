"""``facehealth pretrain|finetune|predict|evaluate``: train, apply and score models."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from facehealth.cli.common import (
    app,
    err,
    fail,
    given,
    out,
    training_bar,
)
from facehealth.errors import FaceHealthError


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

    overrides = given(
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

        with training_bar("MAE pretraining") as update:
            result = pretrain_mae(cfg, on_progress=update)
    except FaceHealthError as exc:
        fail(exc)
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

    overrides = given(cohort=cohort, prepared=prepared, out_dir=out_dir, init_from=init_from, epochs=epochs)
    try:
        cfg = load_config(FinetuneConfig, config, overrides)
        with training_bar("fine-tuning") as update:
            result = finetune(cfg, on_progress=update)
    except FaceHealthError as exc:
        fail(exc)
    out.print(f"best epoch {result.best_epoch}; checkpoint: {result.checkpoint}")
    for split, values in point_metrics(result.predictions, result.labels, result.tasks).items():
        shown = ", ".join(f"{k} {v:.3f}" for k, v in values.items() if k != "n_subjects" and isinstance(v, float))
        out.print(f"{split} (n={values['n_subjects']}): {shown}")


@app.command("predict")
def predict_cmd(
    files: Annotated[list[Path], typer.Argument(help="Photos or videos.")],
    model: Annotated[
        Path | None, typer.Option(help="Fine-tuned checkpoint (checkpoint-best.safetensors); optional.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Run faces -> model -> every head on each photo or video.

    Without --model only the pretrained apparent age is computed (photos only). JSON output: a list
    with one object per file: source, warnings, faces_used, frames_read, rejected {reason: count},
    values {column: float}, probabilities {task: p or {class: p}}, risks {task: log hazard},
    quality [per-face report], apparent_age_pretrained (years, from dlib's CC0 age network, not
    from your model; null for videos or when no face passed); or {source, error} for a failure.
    """
    from facehealth.faces.pipeline import FacePipeline
    from facehealth.models.apparent_age import ApparentAgeNet
    from facehealth.models.apparent_age_predictor import predict_apparent_age, with_apparent_age
    from facehealth.models.loader import load

    try:
        predictor = load(model) if model is not None else None
    except FaceHealthError as exc:
        fail(exc)
    pipeline = FacePipeline()
    try:
        net: ApparentAgeNet | None = ApparentAgeNet()
    except FaceHealthError as exc:
        if predictor is None:
            fail(exc)
        # The user's own model still answers; only the extra pretrained estimate is missing.
        err.print(f"[yellow]warning[/]: no pretrained apparent age ({exc})")
        net = None
    reports, failed = [], 0
    for path in files:
        try:
            if predictor is None:
                prediction = predict_apparent_age(path, pipeline, net)
            else:
                prediction = predictor.predict(path)
                prediction = with_apparent_age(prediction, path, pipeline, net) if net is not None else prediction
            reports.append(prediction.as_dict())
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
            ranges = r["intervals"]

            def shown(k: str, v: float) -> str:  # the score, and its 90% interval when calibrated
                return f"{k} {v:.2f}" + (f" [{ranges[k][0]:.2f}, {ranges[k][1]:.2f}]" if k in ranges else "")

            values = ", ".join(shown(k, v) for k, v in r["values"].items())
            probs = ", ".join(
                shown(k, v) if isinstance(v, float) else f"{k} {max(v, key=v.get)}"
                for k, v in r["probabilities"].items()
            )
            risks = "".join(f"; risk {shown(k, v)}" for k, v in r["risks"].items())
            age = r["apparent_age_pretrained"]
            shown_age = f"; apparent age (pretrained CC0 dlib) {age:.1f}" if age is not None else ""
            out.print(f"{r['source']}: {r['faces_used']} face(s); {values}; {probs}{risks}{shown_age}")
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
    covariate: Annotated[
        list[str] | None,
        typer.Option(help="Subjects-table column adjusting the Cox models (repeatable; default age and sex)."),
    ] = None,
    reference: Annotated[
        list[str] | None, typer.Option(help="Reference level of a categorical covariate, COLUMN=LEVEL (repeatable).")
    ] = None,
    categorical: Annotated[
        list[str] | None, typer.Option(help="Numeric-coded covariate to dummy-code, e.g. ecog (repeatable).")
    ] = None,
    subgroup: Annotated[
        list[str] | None,
        typer.Option(help="Subjects-table column to split metrics by (repeatable; numeric ones are binned)."),
    ] = None,
    min_subgroup: Annotated[int, typer.Option(help="Smaller subgroups are listed without an estimate.")] = 10,
    prior_age: Annotated[
        Path | None, typer.Option(help="A prior face-age model's predictions (CSV/Parquet: subject_id, pred_age).")
    ] = None,
) -> None:
    """Score every split of a cohort; write metrics.json (and survival.json) with a CI for every number."""
    from facehealth.evaluate.covariates import parse_reference_levels
    from facehealth.evaluate.outputs import EvaluationConfig, evaluate_checkpoint

    try:
        settings = EvaluationConfig(
            covariates=tuple(covariate) if covariate else None,
            reference_levels=parse_reference_levels(reference or []),
            categorical=tuple(categorical or ()),
            subgroups=tuple(subgroup) if subgroup else None,
            min_subgroup=min_subgroup,
            prior_age=str(prior_age) if prior_age else None,
        )
        result = evaluate_checkpoint(
            model, out_dir, cohort, prepared, seed=seed, n_boot=n_boot, score_train=score_train, settings=settings
        )
    except FaceHealthError as exc:
        fail(exc)
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
    if (out_dir / "subgroups.csv").is_file():
        survival += f", {out_dir / 'subgroups.csv'}"
    out.print(f"metrics: {out_dir / 'metrics.json'}{survival}")
