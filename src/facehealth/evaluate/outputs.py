"""Write an evaluation folder: metrics.json, survival.json and the predictions it scored.

Used by ``facehealth evaluate`` and by the evaluation stage of a study run, so both write the
same files (docs/run_folder.md).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.errors import ConfigError, SchemaError
from facehealth.evaluate import metrics as m
from facehealth.evaluate.clinical import evaluate_predictions
from facehealth.evaluate.covariates import CovariateSpec
from facehealth.evaluate.subgroups import DEFAULT_SUBGROUPS, evaluation_subgroups
from facehealth.models.tasks import TaskSpec, pred_column

__all__ = ["EvaluationConfig", "EvaluationOutput", "write_evaluation", "evaluate_checkpoint"]


@dataclass(frozen=True)
class EvaluationConfig:
    """The clinical analyses of an evaluation, set per cohort (``evaluation:`` in a run config).

    Every column named here is a subjects-table column of the cohort being scored.
    """

    covariates: tuple[str, ...] | None = None  # Cox adjustment; None = age and sex where present
    reference_levels: dict[str, str] = field(default_factory=dict)  # categorical covariate -> reference
    categorical: tuple[str, ...] = ()  # numeric-coded covariates to dummy-code (e.g. ECOG 0/1/2)
    subgroups: tuple[str, ...] | None = None  # None = sex, age, site, race, disease_type where present
    subgroup_splits: tuple[str, ...] = ("test", "external")
    subgroup_markers: tuple[str, ...] = ("haemoglobin",)  # biomarkers given subgroup rows (Pearson r)
    age_bands: tuple[float, ...] = (0, 40, 60, 120)
    min_subgroup: int = 10  # smaller subgroups are listed without an estimate
    prior_age: str | None = None  # table (subject_id, pred_age) of a prior face-age model to compare with

    def __post_init__(self) -> None:
        if len(self.age_bands) < 2 or list(self.age_bands) != sorted(self.age_bands):
            raise ConfigError(f"age_bands must be at least two increasing edges, got {list(self.age_bands)}")
        if self.min_subgroup < 2:
            raise ConfigError(f"min_subgroup must be at least 2, got {self.min_subgroup}")
        if not isinstance(self.reference_levels, dict) or not all(
            isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in self.reference_levels.items()
        ):
            raise ConfigError("reference_levels must map a column to its reference level, e.g. {stage: I}")
        object.__setattr__(self, "reference_levels", {k: str(v) for k, v in self.reference_levels.items()})

    def covariate_spec(self, available: list[str]) -> CovariateSpec:
        """The Cox adjustment set on a subjects table with columns ``available``."""
        if self.covariates is None:
            return CovariateSpec.default(available)
        missing = [c for c in self.covariates if c not in available]
        if missing:
            raise SchemaError(f"evaluation.covariates {missing} are not subjects-table columns: {sorted(available)}")
        return CovariateSpec(tuple(self.covariates), self.reference_levels, self.categorical)

    def subgroup_columns(self, available: list[str]) -> tuple[str, ...]:
        if self.subgroups is None:
            return tuple(c for c in DEFAULT_SUBGROUPS if c in available)
        missing = [c for c in self.subgroups if c not in available]
        if missing:
            raise SchemaError(f"evaluation.subgroups {missing} are not subjects-table columns: {sorted(available)}")
        return tuple(self.subgroups)


@dataclass(frozen=True)
class EvaluationOutput:
    out_dir: Path
    metrics: dict  # evaluate_predictions' report, plus "warnings"
    survival: dict | None  # survival_analysis (+ "combined") for the first Cox task, if any

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "metrics.json"


def write_evaluation(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    subjects: pd.DataFrame,
    tasks: list[TaskSpec],
    out_dir: str | Path,
    seed: int = 0,
    n_boot: int = 1000,
    extra: dict | None = None,
    score_train: bool = False,
    oracle: pd.DataFrame | None = None,
    settings: EvaluationConfig | None = None,
    prior_age: pd.DataFrame | None = None,
    prior_name: str = "prior face-age model",
) -> EvaluationOutput:
    """Score every split and task with subject-bootstrap CIs and write the evaluation folder.

    Undefined metrics (one class in a small split, no events before a horizon) warn and give
    NaN; each distinct message is kept in ``metrics.json["warnings"]`` rather than printed
    hundreds of times. The training split is scored only with ``score_train`` (its numbers
    describe fit, not performance, and its bootstrap is the costliest part). ``oracle``: the
    planted truth of a synthetic cohort (:func:`facehealth.evaluate.recovery.oracle_predictions`).
    ``settings``: covariates, subgroups and the prior face-age model (default :class:`EvaluationConfig`);
    ``prior_age`` (subject_id, pred_age) overrides ``settings.prior_age``. Subgroup rows go to
    ``subgroups.csv``; the face-age prognostic analysis to ``survival.json["face_age"]``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = settings or EvaluationConfig()
    if prior_age is None and settings.prior_age:
        prior_age, prior_name = _read_prior(settings.prior_age), f"the table {settings.prior_age}"
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scored = None if score_train else tuple(s for s in predictions["split"].unique() if s != "train")
        metrics = evaluate_predictions(predictions, labels, tasks, rng, n_boot, splits=scored, oracle=oracle)
        survival = _survival(predictions, labels, subjects, tasks, rng, n_boot, settings, prior_age, prior_name)
        subgroups = _subgroups(predictions, labels, subjects, tasks, rng, n_boot, settings)
    metrics = metrics | (extra or {}) | {"seed": seed, "warnings": sorted({str(w.message) for w in caught})}
    metrics["evaluation_settings"] = {
        "covariates": settings.covariate_spec(list(subjects.columns)).as_dict(),
        "subgroups": list(settings.subgroup_columns(list(subjects.columns))),
        "min_subgroup": settings.min_subgroup,
        "prior_age": "given" if prior_age is not None else None,
    }
    if subgroups is not None:
        subgroups.to_csv(out / "subgroups.csv", index=False)
    predictions.to_parquet(out / "predictions.parquet", index=False)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if survival is not None:
        (out / "survival.json").write_text(json.dumps(survival, indent=2))
    return EvaluationOutput(out, metrics, survival)


def evaluate_checkpoint(
    checkpoint: str | Path,
    out_dir: str | Path,
    cohort: str | Path | None = None,
    prepared: str | Path | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    score_train: bool = False,
    settings: EvaluationConfig | None = None,
) -> EvaluationOutput:
    """``facehealth evaluate``: score a fine-tuned checkpoint on a cohort (default: its own) and write the folder.

    The splits are bound to the ones the checkpoint was trained with
    (:func:`facehealth.models.cohort_predictor.bind_splits`).
    """
    from facehealth.data.cohort import load_cohort
    from facehealth.evaluate.recovery import oracle_predictions
    from facehealth.models.checkpoint import read_meta
    from facehealth.models.cohort_predictor import predict_cohort

    predictions, labels, tasks = predict_cohort(checkpoint, cohort, prepared)
    root = cohort or read_meta(checkpoint).config["cohort"]
    subjects = load_cohort(root, check_files=False).subjects
    return write_evaluation(
        predictions,
        labels,
        subjects,
        tasks,
        out_dir,
        seed=seed,
        n_boot=n_boot,
        extra={"model": str(checkpoint)},
        score_train=score_train,
        oracle=oracle_predictions(root, tasks),
        settings=settings,
    )


def _read_prior(path: str | Path) -> pd.DataFrame:
    """A prior face-age model's predictions: a CSV or Parquet table with subject_id and pred_age."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"prior face-age table not found: {path}")
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = [c for c in ("subject_id", pred_column("age")) if c not in table.columns]
    if missing:
        raise SchemaError(f"{path}: missing column(s) {missing}; a prior face-age table has subject_id, pred_age")
    return table


def _survival(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    subjects: pd.DataFrame,
    tasks: list[TaskSpec],
    rng: np.random.Generator,
    n_boot: int,
    settings: EvaluationConfig,
    prior_age: pd.DataFrame | None,
    prior_name: str,
) -> dict | None:
    """FAHR-FaceSurvival's analysis of the first Cox task; with a face-age head, the combination
    and the face-age gap as a prognostic factor (against ``prior_age`` when given) too."""
    from facehealth.evaluate.prognostic import combined_scores, face_age_analysis
    from facehealth.evaluate.survival_report import survival_analysis

    cox = next((t for t in tasks if t.kind == "cox"), None)
    if cox is None or "train" not in set(predictions["split"]):
        return None
    time_col, event_col = cox.columns
    spec = settings.covariate_spec(list(subjects.columns))
    common = dict(task=cox.name, covariates=spec, rng=rng, n_boot=n_boot, time_col=time_col, event_col=event_col)
    result = survival_analysis(predictions, labels, subjects, **common)
    if pred_column("age") in predictions.columns and "age" in subjects.columns:
        result["combined"] = combined_scores(predictions, labels, subjects, **common)
        result["face_age"] = face_age_analysis(
            predictions, labels, subjects, **common, prior=prior_age, prior_name=prior_name
        )
    return result


def _subgroup_targets(tasks: list[TaskSpec], settings: EvaluationConfig) -> list[tuple]:
    """(task, metric name, metric, columns) of every task's headline metric for the subgroup rows."""
    targets = []
    for t in tasks:
        if t.kind == "binary":
            targets.append((t.name, "auroc", m.auroc, (t.columns[0], t.output_column())))
        elif t.kind == "cox":
            time, event = t.columns
            targets.append((t.name, "c_index", m.harrell_c_index, (time, t.output_column(), event)))
        elif t.kind == "regression":
            for c in t.columns:
                if t.name == "age":
                    targets.append((t.name, "mae", m.mae, (c, t.output_column(c))))
                elif c in settings.subgroup_markers:
                    targets.append((f"{t.name}.{c}", "pearson_r", m.pearson_r, (c, t.output_column(c))))
    return targets


def _subgroups(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    subjects: pd.DataFrame,
    tasks: list[TaskSpec],
    rng: np.random.Generator,
    n_boot: int,
    settings: EvaluationConfig,
) -> pd.DataFrame | None:
    """Subgroup rows on the held-out splits (test and external by default), or None when there is nothing."""
    by = settings.subgroup_columns(list(subjects.columns))
    targets = _subgroup_targets(tasks, settings)
    scored = predictions[predictions["split"].isin(settings.subgroup_splits)]
    if not by or not targets or scored.empty:
        return None
    from facehealth.evaluate.survival_report import merge_subject_tables

    frame = merge_subject_tables(scored, labels, subjects)
    return evaluation_subgroups(
        frame,
        targets,
        by,
        rng,
        n_boot=min(n_boot, 500),
        min_subjects=settings.min_subgroup,
        age_bands=settings.age_bands,
    )
