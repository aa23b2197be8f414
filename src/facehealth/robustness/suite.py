"""Robustness suite: perturb each subject's original photo, re-run the whole face path, score the drift.

For every subject of a split, the original photo (the prepared manifest's
``source``) is perturbed at each severity and scored by
:meth:`facehealth.models.predictor.FaceHealthModel.predict`, i.e. detection ->
landmarks -> alignment -> quality gate -> model, so the gate's rejections are
part of the result. Per perturbation, severity and task it reports the metric
against the labels (MAE and Pearson r for regressions, AUROC for binary tasks,
Harrell's C for survival, accuracy for multi-class) and the agreement of the
perturbed with the clean predictions of the same subjects (ICC(2,1) for
continuous outputs, Cohen's kappa for classes).

Outputs in ``out_dir``:
    robustness.csv           perturbation, severity, task, metric, value, low, high (95% subject-bootstrap CI),
                             agreement, agreement_metric,
                             n, n_rejected (one row per perturbation x severity x task x metric)
    robustness_rejections.csv  perturbation, severity, reason, count
    robustness_predictions.parquet  one row per subject x perturbation x severity (NaN when rejected)
    robustness_metrics.png, robustness_agreement.png, robustness_rejected.png, robustness_contact_sheet.png
    robustness.json          settings, subjects, seconds
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from facehealth.errors import ConfigError, NoFaceError
from facehealth.evaluate import metrics as m
from facehealth.evaluate.bootstrap import bootstrap_ci
from facehealth.models.tasks import TaskSpec
from facehealth.robustness.agreement import cohen_kappa, icc_pair
from facehealth.robustness.perturb import PERTURBATIONS

if TYPE_CHECKING:
    from facehealth.models.multitask import TaskSpec
    from facehealth.models.predictor import FaceHealthModel

__all__ = ["RobustnessResult", "run_robustness", "DEFAULT_PERTURBATIONS", "DEFAULT_SEVERITIES"]

# Seventeen perturbations covering FAHR-Face's list (lighting, pose, makeup, occlusion and cosmetic
# change: a beauty filter, brow and lip reshaping) plus image-quality losses; the three single-region
# makeup variants are left to explicit requests.
DEFAULT_PERTURBATIONS = (
    "brightness",
    "gamma",
    "colour_temperature",
    "side_light",
    "blur",
    "noise",
    "jpeg",
    "downscale",
    "crop_jitter",
    "yaw",
    "pitch",
    "occlusion_glasses",
    "occlusion_mask",
    "makeup",
    "skin_smoothing",
    "brow_reshape",
    "lip_augmentation",
)
DEFAULT_SEVERITIES = (0, 1, 3, 5)


@dataclass(frozen=True)
class RobustnessResult:
    out_dir: Path
    table: pd.DataFrame  # the rows of robustness.csv
    predictions: pd.DataFrame  # the rows of robustness_predictions.parquet
    n_subjects: int
    forward_passes: int
    seconds: float


def _labels_and_splits(cohort_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from facehealth.data.cohort import load_cohort
    from facehealth.data.schema import AFFECTIVE_CLASSES
    from facehealth.data.splits import load_splits

    labels = load_cohort(cohort_dir, check_files=False).subject_labels()
    if "affective" in labels.columns:
        labels["affective_code"] = labels["affective"].map({c: i for i, c in enumerate(AFFECTIVE_CLASSES)})
    return labels, load_splits(cohort_dir)


def _photos(prepared_dir: Path, subjects: list[str]) -> pd.DataFrame:
    """One original photo per subject (its first image in the manifest) with that face's landmarks."""
    manifest = pd.read_parquet(
        prepared_dir / "manifest.parquet", columns=["subject_id", "source", "kind", "face_index", "landmarks"]
    )
    manifest = manifest[(manifest["kind"] == "image") & manifest["subject_id"].isin(subjects)]
    manifest = manifest.sort_values(["subject_id", "source", "face_index"]).drop_duplicates("subject_id")
    return manifest.reset_index(drop=True)


_REASONS = re.compile(r"(\w+): (\d+)")


def _score(model: FaceHealthModel, image: np.ndarray) -> tuple[dict[str, float], str | None]:
    """Flat outputs of one predict call, or ({}, primary rejection reason) when no face passed."""
    try:
        p = model.predict(image)
    except NoFaceError as err:
        # The predictor counts reasons in its message ("... quality gate (blurry: 1)"); keep the commonest.
        found = _REASONS.findall(str(err).rsplit("(", 1)[-1])
        return {}, max(found, key=lambda kv: int(kv[1]))[0] if found else "no_face"
    return p.as_row(model.tasks), None


def _output_columns(tasks: list[TaskSpec]) -> list[str]:
    """Every output column the predictor can give, so a slice where all faces failed still has them."""
    return [c for t in tasks for c in t.output_columns()]


def _task_rows(
    part: pd.DataFrame, clean: pd.DataFrame, tasks: list[TaskSpec], rng: np.random.Generator, n_boot: int
) -> list[dict]:
    """Metric (with a subject-bootstrap CI) and clean-vs-perturbed agreement for every task on one slice."""
    ok = part[part["rejected"].isna()]
    paired = ok.merge(clean, on="subject_id", suffixes=("", "_clean"))
    ids = ok["subject_id"].to_numpy()
    rows = []

    def add(
        task: str, metric: str, fn: Callable[..., float], columns: list[str], agreement: float, how: str, n: int
    ) -> None:
        if len(ok):
            ci = bootstrap_ci(fn, [ok[c].to_numpy(float) for c in columns], rng, groups=ids, n_boot=n_boot, name=metric)
            value, low, high = ci.value, ci.low, ci.high
        else:  # every face of the slice was rejected: nothing to score (n_rejected says why)
            value = low = high = float("nan")
        rows.append(
            dict(
                task=task,
                metric=metric,
                value=value,
                low=low,
                high=high,
                agreement=agreement,
                agreement_metric=how,
                n=n,
            )
        )

    for t in tasks:
        if t.kind == "regression":
            for c in t.columns:
                name = c if len(t.columns) == 1 else f"{t.name}:{c}"
                col = t.output_column(c)
                agree = icc_pair(paired[f"{col}_clean"], paired[col])
                n = int(ok[c].notna().sum())
                add(name, "mae", m.mae, [c, col], agree, "icc21", n)
                add(name, "pearson_r", m.pearson_r, [c, col], agree, "icc21", n)
        elif t.kind == "binary":
            col = t.output_column()
            agree = icc_pair(paired[f"{col}_clean"], paired[col])
            add(t.name, "auroc", m.auroc, [t.columns[0], col], agree, "icc21", int(ok[t.columns[0]].notna().sum()))
        elif t.kind == "multiclass":
            cols = list(t.output_columns())
            kappa = cohen_kappa(
                paired[[f"{c}_clean" for c in cols]].to_numpy(float).argmax(1), paired[cols].to_numpy(float).argmax(1)
            )
            n = int(ok[t.columns[0]].notna().sum())
            add(t.name, "accuracy", _accuracy, [t.columns[0], *cols], kappa, "kappa", n)
        else:  # cox
            col = t.output_column()
            time_col, event_col = t.columns
            agree = icc_pair(paired[f"{col}_clean"], paired[col])
            n = int(ok[[time_col, event_col]].notna().all(1).sum())
            add(t.name, "c_index", m.harrell_c_index, [time_col, col, event_col], agree, "icc21", n)
    return rows


def _accuracy(truth: np.ndarray, *probs: np.ndarray) -> float:
    has = ~np.isnan(truth)
    if not has.any():
        return float("nan")
    return float(np.mean(np.column_stack(probs)[has].argmax(1) == truth[has]))


def run_robustness(
    checkpoint: str | Path,
    *,
    out_dir: str | Path,
    cohort_dir: str | Path | None = None,
    prepared_dir: str | Path | None = None,
    split: str = "test",
    perturbations: tuple[str, ...] | list[str] | None = None,
    severities: tuple[int, ...] = DEFAULT_SEVERITIES,
    n_subjects: int | None = 20,
    rng: np.random.Generator | None = None,
    n_boot: int = 200,
) -> RobustnessResult:
    """Perturb, re-score and compare; writes the tables and figures listed in the module docstring.

    Args:
        checkpoint: a fine-tuned ``checkpoint-best.safetensors``.
        out_dir: where the outputs go (created).
        cohort_dir, prepared_dir: default to the folders the checkpoint was trained on.
        split: subjects to use (``splits.csv`` of the cohort).
        perturbations: names from :data:`~facehealth.robustness.perturb.PERTURBATIONS`;
            default :data:`DEFAULT_PERTURBATIONS`.
        severities: 0 (clean, scored once and shared by every perturbation) .. 5.
        n_subjects: at most this many subjects, drawn with ``rng``; None = all of the split.
        rng: draws subjects, seeds the random perturbations and the bootstrap (default seed 0).
        n_boot: subject-bootstrap resamples for each metric's 95% CI.

    Cost: subjects x (1 + perturbations x non-zero severities) face-path forward passes.
    """
    start = time.perf_counter()
    rng = rng or np.random.default_rng(0)
    names = list(perturbations or DEFAULT_PERTURBATIONS)
    unknown = [n for n in names if n not in PERTURBATIONS]
    if unknown:
        raise ConfigError(f"unknown perturbation(s) {unknown}; choose from {', '.join(PERTURBATIONS)}")
    severities = tuple(sorted({int(s) for s in severities} | {0}))
    if any(not 0 <= s <= 5 for s in severities):
        raise ConfigError(f"severities must lie in 0..5, got {severities}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    import torch

    # One crop per forward pass: intra-op threads only add spin-waiting on a shared CPU (measured
    # 10x slower with 2 threads on a loaded 2-core machine), so run single-threaded and restore after.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(checkpoint, out, cohort_dir, prepared_dir, split, names, severities, n_subjects, rng, start, n_boot)
    finally:
        torch.set_num_threads(threads)


def _run(  # noqa: PLR0913
    checkpoint: str | Path,
    out: Path,
    cohort_dir: str | Path | None,
    prepared_dir: str | Path | None,
    split: str,
    names: list[str],
    severities: tuple[int, ...],
    n_subjects: int | None,
    rng: np.random.Generator,
    start: float,
    n_boot: int,
) -> RobustnessResult:
    from facehealth.faces.io import read_image
    from facehealth.models.loader import load
    from facehealth.robustness.plots import contact_sheet, plot_curves

    model = load(checkpoint)
    cfg = model.meta.config
    cohort_dir = Path(cohort_dir or cfg.get("cohort", ""))
    prepared_dir = Path(prepared_dir or cfg.get("prepared", ""))
    labels, splits = _labels_and_splits(cohort_dir)
    ids = sorted(splits.loc[splits["split"] == split, "subject_id"].astype(str))
    photos = _photos(prepared_dir, ids)
    if photos.empty:
        raise ConfigError(f"no prepared photos for split '{split}' in {prepared_dir}")
    if n_subjects is not None and n_subjects < len(photos):
        photos = photos.iloc[np.sort(rng.choice(len(photos), n_subjects, replace=False))].reset_index(drop=True)
    seed = int(rng.integers(2**32))

    records, passes = [], 0
    for i, row in photos.iterrows():
        image = read_image(row["source"])
        landmarks = np.asarray(row["landmarks"], np.float64).reshape(68, 2)
        clean, reason = _score(model, image)
        passes += 1
        for p_index, name in enumerate(names):
            for sev in severities:
                if sev == 0:
                    scored, why = clean, reason
                else:
                    local = np.random.default_rng([seed, int(i), p_index, sev])
                    scored, why = _score(model, PERTURBATIONS[name](image, sev, landmarks, local))
                    passes += 1
                records.append({"subject_id": row["subject_id"], "perturbation": name, "severity": sev,
                                "rejected": why, **scored})  # fmt: skip
    predictions = pd.DataFrame.from_records(records)
    predictions = predictions.reindex(columns=[*predictions.columns[:4], *_output_columns(model.tasks)])
    predictions["rejected"] = predictions["rejected"].astype(object)
    data = predictions.merge(labels, on="subject_id", how="left", suffixes=("", "_label"))
    clean = predictions[(predictions["severity"] == 0) & predictions["rejected"].isna()]
    clean = clean.drop_duplicates("subject_id").drop(columns=["perturbation", "severity", "rejected"])

    rows, rejections = [], []
    for (name, sev), part in data.groupby(["perturbation", "severity"], sort=False):
        n_rejected = int(part["rejected"].notna().sum())
        for r in _task_rows(part, clean, list(model.tasks), rng, n_boot):
            rows.append({"perturbation": name, "severity": int(sev), **r, "n_rejected": n_rejected})
        for reason, count in Counter(part["rejected"].dropna()).items():
            rejections.append({"perturbation": name, "severity": int(sev), "reason": reason, "count": count})
    columns = [
        "perturbation",
        "severity",
        "task",
        "metric",
        "value",
        "low",
        "high",
        "agreement",
        "agreement_metric",
        "n",
    ]
    table = pd.DataFrame(rows, columns=[*columns, "n_rejected"])
    table.to_csv(out / "robustness.csv", index=False)
    pd.DataFrame(rejections, columns=["perturbation", "severity", "reason", "count"]).to_csv(
        out / "robustness_rejections.csv", index=False
    )
    predictions.to_parquet(out / "robustness_predictions.parquet", index=False)
    plot_curves(table, len(photos), out)
    first = photos.iloc[0]
    contact_sheet(read_image(first["source"]), np.asarray(first["landmarks"]).reshape(68, 2), names, out, seed)
    seconds = time.perf_counter() - start
    summary = {
        "checkpoint": str(checkpoint),
        "cohort": str(cohort_dir),
        "prepared": str(prepared_dir),
        "split": split,
        "perturbations": names,
        "severities": list(severities),
        "n_subjects": int(len(photos)),
        "forward_passes": passes,
        "seconds": round(seconds, 2),
    }
    (out / "robustness.json").write_text(json.dumps(summary, indent=2))
    return RobustnessResult(out, table, predictions, int(len(photos)), passes, seconds)
