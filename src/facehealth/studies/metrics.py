"""The metrics a study reports per target, each with a subject-bootstrap CI.

A *target* is one scored quantity: a binary or survival task, a multi-class task, or one
column of a regression task (``age``; ``biomarkers.haemoglobin``). Its ``columns`` are the
metric function's arguments in order (truth first, then the model's output; Cox: time, risk,
event), named as in :mod:`facehealth.evaluate.clinical`'s input.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from facehealth.evaluate import metrics as m
from facehealth.evaluate.bootstrap import bootstrap_ci
from facehealth.evaluate.compare import delong_test
from facehealth.evaluate.multiclass import multiclass_auroc_ovr
from facehealth.models.tasks import TaskSpec, is_output_column

__all__ = [
    "METRICS",
    "LOWER_IS_BETTER",
    "Target",
    "targets_of",
    "metric_rows",
    "seed_mean_rows",
    "seed_summary",
    "paired_difference",
]


def _accuracy(y: ArrayLike, *probs: ArrayLike) -> float:
    return float(np.mean(np.argmax(np.column_stack(probs), 1) == np.asarray(y, int)))


def _auroc_ovr(y: ArrayLike, *probs: ArrayLike) -> float:
    return multiclass_auroc_ovr(y, np.column_stack(probs))


# Headline metrics per task kind (threshold-free, so no cut-off has to be chosen per arm).
METRICS: dict[str, dict[str, Callable[..., float]]] = {
    "regression": {"mae": m.mae, "pearson_r": m.pearson_r, "r2": m.r2},
    "binary": {"auroc": m.auroc, "auprc": m.auprc, "brier": m.brier},
    "cox": {"c_index": m.harrell_c_index},
    "multiclass": {"accuracy": _accuracy, "auroc_ovr": _auroc_ovr},
}
LOWER_IS_BETTER = frozenset({"mae", "brier"})


@dataclass(frozen=True)
class Target:
    name: str  # row label in study tables
    task: str  # the TaskSpec it belongs to (primary metrics are set per task)
    kind: str
    columns: tuple[str, ...]  # metric arguments in order

    @staticmethod
    def is_output(column: str) -> bool:
        """A model output column (the rest are labels)."""
        return is_output_column(column)


def targets_of(tasks: Sequence[TaskSpec]) -> list[Target]:
    """One target per binary/cox/multiclass task and per regression column."""
    out = []
    for t in tasks:
        if t.kind == "regression":
            for c in t.columns:
                name = t.name if len(t.columns) == 1 else f"{t.name}.{c}"
                out.append(Target(name, t.name, t.kind, (c, t.output_column(c))))
        elif t.kind == "binary":
            out.append(Target(t.name, t.name, t.kind, (t.columns[0], t.output_column())))
        elif t.kind == "multiclass":
            out.append(Target(t.name, t.name, t.kind, (t.columns[0], *t.output_columns())))
        else:
            time, event = t.columns
            out.append(Target(t.name, t.name, t.kind, (time, t.output_column(), event)))
    return out


def metric_rows(
    frame: pd.DataFrame,
    targets: Sequence[Target],
    metrics: Callable[[Target], list[str]],
    rng: np.random.Generator,
    n_boot: int,
) -> list[dict]:
    """``{task, metric, value, low, high, n_test}`` per target and metric, over the rows of ``frame``.

    Subjects missing the target's label or prediction are left out of that target (n_test says
    how many remain); a target whose columns are absent (the arm did not predict it) gives NaN.
    """
    rows = []
    for t in targets:
        present = all(c in frame.columns for c in t.columns)
        part = frame.dropna(subset=list(t.columns)) if present else frame.iloc[:0]
        for name in metrics(t):
            if len(part) < 2:
                rows.append(
                    {
                        "task": t.name,
                        "metric": name,
                        "value": np.nan,
                        "low": np.nan,
                        "high": np.nan,
                        "n_test": len(part),
                    }
                )
                continue
            ci = bootstrap_ci(
                METRICS[t.kind][name],
                [part[c].to_numpy(float) for c in t.columns],
                rng,
                groups=part["subject_id"].to_numpy(),
                n_boot=n_boot,
                name=name,
            )
            rows.append(
                {"task": t.name, "metric": name, "value": ci.value, "low": ci.low, "high": ci.high, "n_test": len(part)}
            )
    return rows


def seed_mean_rows(
    frames: Mapping[int, pd.DataFrame],
    targets: Sequence[Target],
    metrics: Callable[[Target], list[str]],
    rng: np.random.Generator,
    n_boot: int,
) -> list[dict]:
    """The across-seed mean of each metric with a subject-bootstrap CI of that mean.

    ``frames`` holds one scored frame per training seed, on the same test subjects. Each
    resample draws test subjects once and scores every seed's predictions on them, so the
    interval covers both the test-set sampling and the spread between seeds' models, for the
    quantity reported (the mean). Rows: ``{task, metric, value, low, high, n_test, seeds}``.
    """
    seeds = list(frames)
    rows = []
    for t in targets:
        outputs = [c for c in t.columns if t.is_output(c)]
        labels = [c for c in t.columns if not t.is_output(c)]
        parts = []
        for seed in seeds:
            frame = frames[seed]
            if not all(c in frame.columns for c in t.columns):
                break
            part = frame[["subject_id", *labels, *outputs]].dropna()
            parts.append(part.rename(columns={c: f"{c}@{seed}" for c in outputs}))
        wide = parts[0] if len(parts) == len(seeds) else None
        for part in parts[1:] if wide is not None else ():
            wide = wide.merge(part.drop(columns=labels), on="subject_id")
        for name in metrics(t):
            fn = METRICS[t.kind][name]
            if wide is None or len(wide) < 2:
                rows.append(dict(task=t.name, metric=name, value=np.nan, low=np.nan, high=np.nan, n_test=0))
                continue
            columns = [[f"{c}@{seed}" if t.is_output(c) else c for c in t.columns] for seed in seeds]
            flat = list(dict.fromkeys(c for cols in columns for c in cols))
            position = {c: i for i, c in enumerate(flat)}

            def mean_over_seeds(*arrays: np.ndarray, fn: Callable[..., float] = fn, columns: list = columns) -> float:
                values = np.array([fn(*(arrays[position[c]] for c in cols)) for cols in columns], float)
                return float(values[np.isfinite(values)].mean()) if np.isfinite(values).any() else float("nan")

            ci = bootstrap_ci(
                mean_over_seeds,
                [wide[c].to_numpy(float) for c in flat],
                rng,
                groups=wide["subject_id"].to_numpy(),
                n_boot=n_boot,
                name=name,
            )
            rows.append(dict(task=t.name, metric=name, value=ci.value, low=ci.low, high=ci.high, n_test=int(len(wide))))
    return [r | {"seeds": len(seeds)} for r in rows]


def seed_summary(
    table: pd.DataFrame,
    scored_by: Mapping[tuple[str, int], Mapping[int, pd.DataFrame]],
    targets: Sequence[Target],
    metrics: Callable[[Target], list[str]],
    n_boot: int,
) -> pd.DataFrame:
    """Mean and sd across seeds per (arm, n, task, metric), with a CI of the across-seed mean.

    The CI resamples test subjects and scores every seed's model on each resample
    (:func:`seed_mean_rows`), so it is an interval for the mean
    itself, not an average of per-seed interval limits.
    """
    spread = (
        table.groupby(["arm", "n", "task", "metric"], sort=False)
        .agg(mean=("value", "mean"), sd=("value", "std"), seeds=("seed", "nunique"))
        .reset_index()
    )
    pooled = []
    for (arm, n), frames in scored_by.items():
        rng = np.random.default_rng([n, len(frames)])  # the same resamples for every arm
        for row in seed_mean_rows(frames, targets, metrics, rng, n_boot):
            pooled.append({"arm": arm, "n": n, "task": row["task"], "metric": row["metric"]} | row)
    ci = pd.DataFrame(pooled, columns=["arm", "n", "task", "metric", "low", "high"])
    summary = spread.merge(ci[["arm", "n", "task", "metric", "low", "high"]], on=["arm", "n", "task", "metric"])
    summary["ci"] = "subject bootstrap of the across-seed mean"
    return summary


def paired_difference(target: Target, metric: str, both: pd.DataFrame, rng: np.random.Generator, n_boot: int) -> dict:
    """arm - reference on the same subjects: DeLong for AUROC, else a paired subject bootstrap."""
    fn = METRICS[target.kind][metric]
    arm_cols = [c + "_arm" if target.is_output(c) else c for c in target.columns]
    ref_cols = [c + "_ref" if target.is_output(c) else c for c in target.columns]
    both = both.dropna(subset=list(dict.fromkeys(arm_cols + ref_cols)))
    if metric == "auroc":
        try:
            d = delong_test(both[arm_cols[0]], both[arm_cols[1]], both[ref_cols[1]])
            return {"difference": d.difference, "low": d.low, "high": d.high, "p": d.p, "method": "DeLong"}
        except ValueError as exc:
            warnings.warn(f"DeLong test for {target.name}: {exc}", stacklevel=2)
            return {"difference": np.nan, "low": np.nan, "high": np.nan, "p": np.nan, "method": "DeLong"}
    k = len(arm_cols)
    arrays = [both[c].to_numpy(float) for c in arm_cols + ref_cols]
    ci = bootstrap_ci(
        lambda *a: fn(*a[:k]) - fn(*a[k:]), arrays, rng, groups=both["subject_id"].to_numpy(), n_boot=n_boot
    )
    return {"difference": ci.value, "low": ci.low, "high": ci.high, "p": np.nan, "method": "paired bootstrap"}
