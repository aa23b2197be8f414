"""The stages of a whole run (:func:`facehealth.workflow.run_pipeline`).

Each has a skip rule (why it cannot or need not run) and a body.

A body reads the outputs of earlier stages from fixed places in the run folder and writes its
own; it returns a one-line note for ``run.json``. Heavy imports happen inside the bodies so that
importing the workflow stays cheap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.config import to_mapping
from facehealth.data.cohort import Cohort
from facehealth.errors import ConfigError, SchemaError
from facehealth.evaluate.metrics import DegenerateMetricWarning
from facehealth.studies.config import StudyConfig
from facehealth.train.config import FinetuneConfig
from facehealth.workflow.records import Progress, RunConfig, RunRecord

__all__ = ["StageContext", "Stage", "STAGE_FUNCTIONS"]


@dataclass
class StageContext:
    cfg: RunConfig
    cohort: Path
    out: Path
    progress: Progress | None
    record: RunRecord

    def bar(self, stage: str) -> Callable[[int, int], None] | None:
        return self.progress(stage) if self.progress else None

    def loss_bar(self, stage: str) -> Callable[[int, int, float], None] | None:
        """Training engines report (step, total, loss); the bar shows steps."""
        bar = self.bar(stage)
        return (lambda done, total, loss: bar(done, total)) if bar else None

    # Where each stage writes (docs/run_folder.md).
    @property
    def faces_dir(self) -> Path:
        return self.out / "cohort_faces"

    @property
    def pretrain_dir(self) -> Path:
        return self.out / "pretrain"

    @property
    def finetune_dir(self) -> Path:
        return self.out / "finetune"

    @property
    def affective_dir(self) -> Path:
        return self.out / "finetune_affective"

    @property
    def evaluate_dir(self) -> Path:
        return self.out / "evaluate"


@dataclass(frozen=True)
class Stage:
    run: Callable[[StageContext], str | None]
    skip_reason: Callable[[StageContext], str | None] = lambda ctx: None


def _faces(ctx: StageContext) -> str:
    from facehealth.data.cohort import load_cohort
    from facehealth.data.splits import assert_no_leakage, load_splits, make_splits, save_splits
    from facehealth.data.validate import validate_cohort
    from facehealth.faces.prepare import prepare_faces

    report = validate_cohort(ctx.cohort)
    if not report.ok:
        first = "; ".join(f"{i.table} row {i.row} {i.column}: {i.message}" for i in report.errors[:3])
        raise SchemaError(
            f"{ctx.cohort}: {len(report.errors)} error(s) in the cohort tables, e.g. {first}. "
            f"Run `facehealth cohort validate {ctx.cohort}` for the full list."
        )
    cohort = load_cohort(ctx.cohort)
    if (ctx.cohort / "splits.csv").is_file():
        splits = load_splits(ctx.cohort)  # a broken table is an error, never silently replaced
    else:  # no saved splits: make them by subject, as documented
        splits = make_splits(
            cohort.subject_labels(), ctx.cfg.seed, stratify=_stratify(cohort), external_sites=ctx.cfg.external_sites
        )
        save_splits(splits, ctx.cohort)
    assert_no_leakage(cohort.media, splits)
    summary = prepare_faces(
        ctx.cohort, ctx.faces_dir, ctx.cfg.faces, workers=ctx.cfg.workers, on_progress=ctx.bar("faces")
    )
    rejected = sum(summary.rejections.values())
    return f"{summary.crops} crops from {summary.items} photos/videos; {rejected} rejected by the quality gate"


def _stratify(cohort: Cohort) -> str | None:
    labels = cohort.subject_labels()
    return "cad" if "cad" in labels.columns and labels["cad"].notna().any() else None


def _pretrain(ctx: StageContext) -> str:
    from facehealth.train.engine import pretrain_mae

    # Only training subjects' faces reach the encoder, unless the run is explicitly transductive.
    splits_file = None if ctx.cfg.transductive_pretraining else str(ctx.cohort / "splits.csv")
    cfg = dataclasses.replace(
        ctx.cfg.pretrain,
        data=(str(ctx.faces_dir),),
        out_dir=str(ctx.pretrain_dir),
        seed=ctx.cfg.seed,
        splits_file=splits_file,
        use_splits=("train",),
    )
    result = pretrain_mae(cfg, on_progress=ctx.loss_bar("pretrain (MAE)"))
    losses = result.epoch_losses
    speed = result.images_per_second
    seen = "every subject (transductive)" if splits_file is None else "training subjects only"
    return f"MAE loss {losses[0]:.3f} -> {losses[-1]:.3f} over {len(losses)} epochs; {speed:.0f} img/s; faces of {seen}"


def _pretrained_checkpoint(ctx: StageContext, cfg: FinetuneConfig) -> str | None:
    if ctx.cfg.pretrain is not None:
        return str(ctx.pretrain_dir / "checkpoint-last.safetensors")
    return cfg.init_from


def _finetune(ctx: StageContext) -> str:
    from facehealth.train.finetune import finetune

    cfg = dataclasses.replace(
        ctx.cfg.finetune,
        cohort=str(ctx.cohort),
        prepared=str(ctx.faces_dir),
        out_dir=str(ctx.finetune_dir),
        init_from=_pretrained_checkpoint(ctx, ctx.cfg.finetune),
        seed=ctx.cfg.seed,
    )
    result = finetune(cfg, on_progress=ctx.loss_bar("fine-tune (" + ", ".join(cfg.tasks) + ")"))
    return f"best epoch {result.best_epoch} of {len(result.history)}; tasks {', '.join(cfg.tasks)}"


def _affective_skip(ctx: StageContext) -> str | None:
    if ctx.cfg.affective is None:
        return "off in the config (affective: null)"
    labels_path = next((p for p in (ctx.cohort / "labels.csv", ctx.cohort / "labels.parquet") if p.is_file()), None)
    if labels_path is None:
        return "the cohort has no labels table"
    labels = pd.read_csv(labels_path) if labels_path.suffix == ".csv" else pd.read_parquet(labels_path)
    if "affective" not in labels.columns or labels["affective"].isna().all():
        return "the cohort has no affective labels"
    return None


def _affective(ctx: StageContext) -> str:
    from facehealth.train.finetune import finetune

    manifest = pd.read_parquet(ctx.faces_dir / "manifest.parquet", columns=["kind"])
    if not (manifest["kind"] == "video").any():
        raise SchemaError("the affective model needs stimulus videos, but no video frame passed face preparation")
    cfg = dataclasses.replace(
        ctx.cfg.affective,
        cohort=str(ctx.cohort),
        prepared=str(ctx.faces_dir),
        out_dir=str(ctx.affective_dir),
        init_from=_pretrained_checkpoint(ctx, ctx.cfg.affective),
        tasks=("affective",),
        input="video",
        seed=ctx.cfg.seed,
    )
    result = finetune(cfg, on_progress=ctx.loss_bar("fine-tune (affective, videos)"))
    return f"best epoch {result.best_epoch} of {len(result.history)}"


def _evaluate(ctx: StageContext) -> str:
    from facehealth.data.cohort import load_cohort
    from facehealth.data.labels import subject_labels_with_codes
    from facehealth.evaluate.outputs import write_evaluation
    from facehealth.models.checkpoint import read_meta

    cohort = load_cohort(ctx.cohort, check_files=False)
    labels = subject_labels_with_codes(cohort)
    predictions, tasks = None, []
    for folder in (ctx.finetune_dir, ctx.affective_dir):
        if not (folder / "predictions.parquet").is_file():
            continue
        part = pd.read_parquet(folder / "predictions.parquet").drop(columns=["n_images"], errors="ignore")
        tasks += read_meta(folder / "checkpoint-best.safetensors").tasks
        predictions = part if predictions is None else predictions.merge(part, on=["subject_id", "split"], how="outer")
    if predictions is None:
        raise SchemaError(f"no predictions to evaluate in {ctx.finetune_dir}")
    from facehealth.evaluate.recovery import oracle_predictions

    settings, prior = ctx.cfg.evaluation, None
    if settings.prior_age == "descriptor":
        prior = _descriptor_face_age(ctx, labels, predictions)
        settings = dataclasses.replace(settings, prior_age=None)
    result = write_evaluation(
        predictions,
        labels,
        cohort.subjects,
        tasks,
        ctx.evaluate_dir,
        seed=ctx.cfg.seed,
        n_boot=ctx.cfg.n_boot,
        oracle=oracle_predictions(ctx.cohort, tasks),
        settings=settings,
        prior_age=prior,
        prior_name="FaceAge-style dlib face descriptors + ridge, fitted on the training split",
    )
    ctx.record.headline = headline_numbers(result.metrics)
    warned = result.metrics["warnings"]
    notes = f"; {len(warned)} undefined-metric warning(s) kept in metrics.json" if warned else ""
    return f"{len(tasks)} task(s) on splits {', '.join(result.metrics['splits'])}; n_boot {ctx.cfg.n_boot}{notes}"


def _descriptor_face_age(ctx: StageContext, labels: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame | None:
    """The prior face-age model FAHR compares with: FaceAge-style frozen dlib descriptors + ridge,
    fitted on the training subjects (penalty on validation); None when the run has no age labels."""
    from facehealth.models.tasks import TaskSpec
    from facehealth.studies.arms import descriptor_arm

    if "age" not in labels.columns:
        return None
    task = TaskSpec("age", "regression", ("age",))
    ids = predictions.drop_duplicates("subject_id")
    train = ids.loc[ids["split"] == "train", "subject_id"].astype(str).tolist()
    val = ids.loc[ids["split"] == "val", "subject_id"].astype(str).tolist()
    arm = descriptor_arm(
        "prior_face_age", ctx.faces_dir, labels, [task], ctx.evaluate_dir / "descriptors.parquet", val_ids=val
    )
    prior = arm.fit_predict(train, ctx.evaluate_dir, ctx.cfg.seed)
    prior.to_csv(ctx.evaluate_dir / "prior_face_age.csv", index=False)
    return prior


def headline_numbers(report: dict) -> dict:
    """One number per task on the test split (and the external site), each with its CI, beside the
    trivial reference (training mean / prevalence / chance) and whether the model's CI clears it;
    on a synthetic cohort also the oracle's value and the recovery with its CI."""
    picks = {
        "age": ("age", "mae"),
        "cad": ("auroc",),
        "survival": ("c_index",),
        "affective": ("accuracy",),
        "biomarkers": ("haemoglobin", "pearson_r"),
    }
    out: dict = {}
    for split in ("test", "external"):
        tasks = report["splits"].get(split, {})
        for task, path in picks.items():
            parent, node = None, tasks.get(task)
            for key in path:
                parent, node = node, (node.get(key) if isinstance(node, dict) else None)
            if isinstance(node, dict) and "value" in node:
                name = f"{split}.{task}." + ".".join(path)
                out[name] = {k: node[k] for k in ("value", "low", "high", "n_subjects")}
                reference = (parent.get("reference") or {}).get(path[-1])
                if reference is not None:
                    value = reference["value"] if isinstance(reference, dict) else reference
                    out[name] |= {"reference": value, "versus_reference": parent["versus_reference"][path[-1]]}
                oracle = (parent.get("oracle") or {}).get(path[-1])
                if oracle is not None:  # a synthetic cohort: the ceiling, and how much of it was reached
                    recovered = parent["recovery"][path[-1]]
                    out[name] |= {
                        "oracle": oracle["value"],
                        "recovery": {k: recovered[k] for k in ("value", "low", "high")},
                    }
    return out


def study_config_for_run(ctx: StageContext) -> StudyConfig:
    """The run's study settings with its cohort, crops, output folder, recipe and MAE encoder filled in."""
    study = ctx.cfg.study
    # The run's own fine-tuning recipe, with the study's overrides on top (e.g. a smaller input).
    recipe = {
        k: v
        for k, v in to_mapping(ctx.cfg.finetune).items()
        if k not in ("cohort", "prepared", "out_dir", "init_from", "tasks", "biomarkers", "seed", "device")
    } | dict(study.finetune)
    arms = {name: dict(spec or {}) for name, spec in study.arms.items()}
    if "foundation" in arms and ctx.cfg.pretrain is not None:
        arms["foundation"]["init_from"] = str(ctx.pretrain_dir / "checkpoint-last.safetensors")
    tasks = tuple(t for t in study.tasks if t in ctx.cfg.finetune.tasks) or ctx.cfg.finetune.tasks
    return dataclasses.replace(
        study,
        cohort=str(ctx.cohort),
        prepared=str(ctx.faces_dir),
        out_dir=str(ctx.out / "studies"),
        finetune_config=None,
        finetune=recipe,
        arms=arms,
        tasks=tasks,
        biomarkers=ctx.cfg.finetune.biomarkers if "biomarkers" in tasks else (),
    )


def _studies(ctx: StageContext) -> str:
    from facehealth.workflow.designs import STUDY_NAMES, run_design

    unknown = [s for s in ctx.cfg.studies if s not in STUDY_NAMES]
    if unknown:  # before any design runs: a typo should not cost the ones before it
        raise ConfigError(f"studies: unknown {unknown}; choose from {', '.join(STUDY_NAMES)}")
    cfg = study_config_for_run(ctx)
    done = [name for name in STUDY_NAMES if name in ctx.cfg.studies]  # the designs' own order
    for name in done:
        run_design(name, cfg, on_progress=ctx.bar("study: label efficiency") if name == "label_efficiency" else None)
    return f"{', '.join(done)}; arms {', '.join(cfg.arms)}"


def _explain(ctx: StageContext) -> str:
    from facehealth.explain.cohort import explain_cohort

    out = ctx.out / "explain"
    result = explain_cohort(
        ctx.finetune_dir / "checkpoint-best.safetensors",
        ctx.faces_dir,
        out,
        n_subjects=24,
        split="test",
        cohort=ctx.cohort,
        n_boot=ctx.cfg.n_boot,
        seed=ctx.cfg.seed,
    )
    note = f"Grad-CAM on {result.n_images} photos of {result.n_subjects} test subjects"
    if _affective_skip(ctx) is None and (ctx.affective_dir / "checkpoint-best.safetensors").is_file():
        from facehealth.data.cohort import load_cohort
        from facehealth.explain.facial_map import affective_facial_map

        labels = load_cohort(ctx.cohort, check_files=False).subject_labels()
        facial = affective_facial_map(
            ctx.faces_dir, labels, out, checkpoint=ctx.affective_dir / "checkpoint-best.safetensors", seed=ctx.cfg.seed
        )
        counts = ", ".join(f"{g} {n}" for g, n in facial.n_videos.items())
        note += f"; digital facial map from {counts} videos ({facial.n_excluded} other videos not compared)"
    return note


def _robustness(ctx: StageContext) -> str:
    import warnings

    from facehealth.robustness.suite import run_robustness

    # Severe perturbations can leave a slice with every face rejected; its metrics are NaN by design
    # and the table says how many were rejected, so the per-slice warnings are not repeated here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateMetricWarning)
        result = run_robustness(
            ctx.finetune_dir / "checkpoint-best.safetensors",
            out_dir=ctx.out / "robustness",
            cohort_dir=ctx.cohort,
            prepared_dir=ctx.faces_dir,
            rng=np.random.default_rng(ctx.cfg.seed),
            n_boot=min(ctx.cfg.n_boot, 200),  # ~50 slices x every metric: CIs, but not a thousand each
        )
    return f"{result.n_subjects} test subjects, {result.forward_passes} forward passes"


def _report(ctx: StageContext) -> str:
    from facehealth.report import RenderError, build_report, find_chromium, report_pdf

    html = build_report(ctx.out)
    if find_chromium() is None:
        return f"{html.name}; no PDF (headless Chromium is not installed)"
    try:
        pdf = report_pdf(html)
    except RenderError as exc:  # the HTML report stands on its own; say why the PDF is missing
        return f"{html.name}; no PDF ({exc})"
    return f"{html.name}, {pdf.name}"


def _off(flag: str) -> Callable[[StageContext], str | None]:
    return lambda ctx: None if getattr(ctx.cfg, flag) else f"off in the config ({flag}: false)"


STAGE_FUNCTIONS: dict[str, Stage] = {
    "faces": Stage(_faces),
    "pretrain": Stage(_pretrain, lambda ctx: None if ctx.cfg.pretrain else "off in the config (pretrain: null)"),
    "finetune": Stage(_finetune),
    "affective": Stage(_affective, _affective_skip),
    "evaluate": Stage(_evaluate),
    "studies": Stage(_studies, lambda ctx: None if ctx.cfg.studies else "none listed in the config (studies: [])"),
    "explain": Stage(_explain, _off("explain")),
    "robustness": Stage(_robustness, _off("robustness")),
    "report": Stage(_report, _off("report")),
}
