"""Write an evaluation folder: metrics.json, survival.json and the predictions it scored.

Used by ``facehealth evaluate`` and by the evaluation stage of a study run, so both write the
same files (docs/run_folder.md).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.evaluate.clinical import evaluate_predictions
from facehealth.models.tasks import TaskSpec, pred_column

__all__ = ["EvaluationOutput", "write_evaluation", "evaluate_checkpoint"]


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
) -> EvaluationOutput:
    """Score every split and task with subject-bootstrap CIs and write the evaluation folder.

    Undefined metrics (one class in a small split, no events before a horizon) warn and give
    NaN; each distinct message is kept in ``metrics.json["warnings"]`` rather than printed
    hundreds of times. The training split is scored only with ``score_train`` (its numbers
    describe fit, not performance, and its bootstrap is the costliest part). ``oracle``: the
    planted truth of a synthetic cohort (:func:`facehealth.evaluate.recovery.oracle_predictions`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scored = None if score_train else tuple(s for s in predictions["split"].unique() if s != "train")
        metrics = evaluate_predictions(predictions, labels, tasks, rng, n_boot, splits=scored, oracle=oracle)
        survival = _survival(predictions, labels, subjects, tasks, rng, n_boot)
    metrics = metrics | (extra or {}) | {"seed": seed, "warnings": sorted({str(w.message) for w in caught})}
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
    )


def _survival(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    subjects: pd.DataFrame,
    tasks: list[TaskSpec],
    rng: np.random.Generator,
    n_boot: int,
) -> dict | None:
    """FAHR-FaceSurvival's analysis of the first Cox task; with a face-age head, the combination too."""
    from facehealth.evaluate.survival_report import combined_scores, survival_analysis

    cox = next((t for t in tasks if t.kind == "cox"), None)
    if cox is None or "train" not in set(predictions["split"]):
        return None
    time_col, event_col = cox.columns
    covariates = tuple(c for c in ("age", "sex") if c in subjects.columns)
    common = dict(task=cox.name, covariates=covariates, rng=rng, n_boot=n_boot, time_col=time_col, event_col=event_col)
    result = survival_analysis(predictions, labels, subjects, **common)
    if pred_column("age") in predictions.columns:
        result["combined"] = combined_scores(predictions, labels, subjects, **common)
    return result
