"""Evaluate subject-level predictions: every metric with a subject-bootstrap CI, per split and task.

Input: the predictions table of a fine-tuned model (``pred_<column>``, ``prob_<task>``,
``prob_<class>``, ``risk_<task>`` per subject and split) and the subject labels. Output: a
JSON-ready dict ``{split: {task: {metric: MetricCI dict}}}``; biomarkers are also summarised by
physiological system. Binary thresholds (for sensitivity, specificity, PPV, NPV) come from the
validation split (Youden's J) when it exists, never from the split being scored. Survival tasks
get Harrell's and Uno's C, AUC(t) and Brier(t) at 3/5/10 years (clipped to the training
follow-up) and the integrated Brier score, with the censoring distribution and Breslow baseline
hazard taken from the train split.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from facehealth.data.biomarkers import BIOMARKERS
from facehealth.evaluate import metrics as m
from facehealth.evaluate.bootstrap import bootstrap_ci
from facehealth.evaluate.calibration import calibration_in_the_large, calibration_slope_intercept, reliability_curve
from facehealth.evaluate.multiclass import confusion_matrix, multiclass_auroc_ovr, multiclass_balanced_accuracy
from facehealth.evaluate.recovery import ORACLE_PREFIX, RECOVERY_METRICS, recovery_metric
from facehealth.evaluate.references import reference_frame, reference_metrics, verdict
from facehealth.evaluate.survival_report import survival_metric_cis
from facehealth.models.tasks import TaskSpec

__all__ = ["evaluate_predictions", "point_metrics", "youden_threshold"]


# Per regression column: accuracy (MAE, RMSE), association (Pearson, Spearman), explained variance
# (R²) and agreement (Bland-Altman bias and 95% limits, pred - true).
REGRESSION_METRICS = (
    ("mae", m.mae),
    ("rmse", m.rmse),
    ("pearson_r", m.pearson_r),
    ("spearman_rho", m.spearman_rho),
    ("r2", m.r2),
    ("bland_altman_bias", lambda t, p: m.bland_altman(t, p)[0]),
    ("bland_altman_lower", lambda t, p: m.bland_altman(t, p)[1]),
    ("bland_altman_upper", lambda t, p: m.bland_altman(t, p)[2]),
)


def youden_threshold(y_true: ArrayLike, prob: ArrayLike) -> float:
    """The probability cut maximising sensitivity + specificity - 1 (Youden's J).

    Args:
        y_true: (n,) 0/1 labels.
        prob: (n,) predicted probabilities of the positive class.
    """
    from sklearn.metrics import roc_curve

    y, p = np.asarray(y_true, float), np.asarray(prob, float)
    ok = ~(np.isnan(y) | np.isnan(p))
    if len(np.unique(y[ok])) < 2:
        return 0.5
    fpr, tpr, thresholds = roc_curve(y[ok], p[ok])
    return float(np.clip(thresholds[np.argmax(tpr - fpr)], 0.0, 1.0))


def evaluate_predictions(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    tasks: list[TaskSpec],
    rng: np.random.Generator,
    n_boot: int = 1000,
    splits: tuple[str, ...] | None = None,
    oracle: pd.DataFrame | None = None,
) -> dict:
    """Every metric of every task with a subject-bootstrap CI, for each split in ``splits`` (None = all).

    The training split still supplies what the survival metrics need (censoring distribution)
    when it is not itself scored. With ``oracle`` (the planted truth as predictions, named like
    the model's output columns: :func:`facehealth.evaluate.recovery.oracle_predictions`), each
    task also gets the oracle's metrics and the recovery ratio with their CIs.
    """
    data = predictions.merge(labels, on="subject_id", how="left", suffixes=("", "_label"))
    if oracle is not None:
        renamed = oracle.rename(columns={c: ORACLE_PREFIX + c for c in oracle.columns if c != "subject_id"})
        data = data.merge(renamed, on="subject_id", how="left")
    thresholds = {}
    val = data[data["split"] == "val"]
    for t in tasks:
        if t.kind == "binary":
            thresholds[t.name] = youden_threshold(val[t.columns[0]], val[t.output_column()]) if len(val) else 0.5
    result: dict = {"thresholds": thresholds, "n_boot": n_boot, "splits": {}}
    for split, part in data.groupby("split"):
        if splits is not None and split not in splits:
            continue
        ids = part["subject_id"].to_numpy()
        out: dict = {"n_subjects": int(len(part))}

        def ci(metric: Callable[..., float], columns: list[str], name: str) -> dict:
            arrays = [part[c].to_numpy(float) for c in columns]
            return bootstrap_ci(metric, arrays, rng, groups=ids, n_boot=n_boot, name=name).as_dict()

        def compare(kind: str, node: dict, truth: str, classes: int = 0) -> None:
            """Add the trivial reference on the same subjects, and the model's verdict against it."""
            ref = reference_metrics(kind, part[truth], reference_frame(data, truth), ids, rng, n_boot, classes)
            node["reference"] = ref
            node["versus_reference"] = {k: verdict(k, node[k], v) for k, v in ref.items() if k in node}

        def ceiling(kind: str, node: dict, truth: list[str], pred: str) -> None:
            """Add the oracle's metrics and the model's recovery (same subjects, same resamples)."""
            o = ORACLE_PREFIX + pred
            if o not in part.columns or part[o].isna().all():
                return
            centre = float(np.nanmean(reference_frame(data, truth[0]))) if kind == "regression" else float("nan")
            node["oracle"], node["recovery"] = {}, {}
            for name in RECOVERY_METRICS[kind]:
                fn = dict(REGRESSION_METRICS).get(name) or {"auroc": m.auroc, "c_index": m.harrell_c_index}[name]
                if kind == "cox":  # C takes (time, risk, event)
                    node["oracle"][name] = ci(fn, [truth[0], o, truth[1]], name)
                    arrays = [truth[0], pred, truth[1], o]
                else:
                    node["oracle"][name] = ci(fn, [truth[0], o], name)
                    arrays = [truth[0], pred, o]
                node["recovery"][name] = ci(recovery_metric(kind, name, centre), arrays, f"recovery_{name}")

        for t in tasks:
            task: dict = {}
            if t.kind == "regression":
                for c in t.columns:
                    task[c] = {name: ci(fn, [c, t.output_column(c)], name) for name, fn in REGRESSION_METRICS}
                    compare("regression", task[c], c)
                    ceiling("regression", task[c], [c], t.output_column(c))
                systems = {}
                for c in t.columns:
                    if c in BIOMARKERS:
                        systems.setdefault(BIOMARKERS[c].system, []).append(task[c]["pearson_r"]["value"])
                if systems:
                    # A system whose markers all have undefined r (e.g. constant predictions) stays NaN.
                    task["by_system_mean_r"] = {
                        k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in systems.items()
                    }
            elif t.kind == "binary":
                y, p = t.columns[0], t.output_column()
                cut = thresholds[t.name]
                task = {
                    name: ci(fn, [y, p], name)
                    for name, fn in (
                        ("auroc", m.auroc),
                        ("auprc", m.auprc),
                        ("brier", m.brier),
                        ("ece", m.expected_calibration_error),
                    )
                }
                for name, fn in (
                    ("sensitivity", m.sensitivity),
                    ("specificity", m.specificity),
                    ("ppv", m.ppv),
                    ("npv", m.npv),
                    ("accuracy", m.accuracy),
                    ("balanced_accuracy", m.balanced_accuracy),
                    ("f1", m.f1),
                ):
                    task[name] = ci(lambda a, b, fn=fn: fn(a, b, cut), [y, p], name)
                task["calibration_slope"] = ci(
                    lambda a, b: calibration_slope_intercept(a, b).slope, [y, p], "calibration_slope"
                )
                task["calibration_intercept"] = ci(
                    lambda a, b: calibration_slope_intercept(a, b).intercept, [y, p], "calibration_intercept"
                )
                task["calibration_in_the_large"] = ci(calibration_in_the_large, [y, p], "calibration_in_the_large")
                task["reliability"] = reliability_curve(part[y], part[p], bins=5).to_dict("records")
                compare("binary", task, y)
                ceiling("binary", task, [y], p)
            elif t.kind == "multiclass":
                y = t.columns[0]
                probs = list(t.output_columns())
                k = len(t.classes)
                task["accuracy"] = ci(
                    lambda yy, *ps: float(np.mean(np.argmax(np.column_stack(ps), 1) == yy)), [y, *probs], "accuracy"
                )
                task["balanced_accuracy"] = ci(
                    lambda yy, *ps: multiclass_balanced_accuracy(yy, np.column_stack(ps)),
                    [y, *probs],
                    "balanced_accuracy",
                )
                task["auroc_ovr"] = ci(
                    lambda yy, *ps: multiclass_auroc_ovr(yy, np.column_stack(ps)), [y, *probs], "auroc_ovr"
                )
                compare("multiclass", task, y, k)
                ok = part[y].notna()
                task["confusion_matrix"] = confusion_matrix(
                    part.loc[ok, y].astype(int), part.loc[ok, probs].to_numpy().argmax(1), k
                ).tolist()
            else:
                time, event = t.columns
                risk = t.output_column()
                task["c_index"] = ci(m.harrell_c_index, [time, risk, event], "c_index")
                compare("cox", task, event)
                ceiling("cox", task, [time, event], risk)
                # Censoring distribution and baseline hazard from the train split, fixed across resamples.
                train = data.loc[data["split"] == "train", [time, event, risk]].dropna()
                ref = train if train[event].sum() > 0 else part[[time, event, risk]].dropna()
                if len(ref):
                    task |= survival_metric_cis(
                        (ref[time], ref[event], ref[risk]), part[time], part[event], part[risk], ids, rng, n_boot
                    )
                    task["censoring_from"] = "train" if ref is train else str(split)
            out[t.name] = task
        result["splits"][str(split)] = out
    return result


def point_metrics(predictions: pd.DataFrame, labels: pd.DataFrame, tasks: list[TaskSpec]) -> dict[str, dict]:
    """Headline point estimates per split (MAE and r per regression column, AUROC, accuracy, C).

    A quick look after fine-tuning; :func:`evaluate_predictions` gives every metric with its CI.
    Returns ``{split: {"n_subjects": n, "<column>_mae": ..., "<task>_auroc": ...}}``; a metric
    that is undefined on a split (too few labels, one class, no events) is left out.
    """
    merged = predictions.merge(labels, on="subject_id", how="left", suffixes=("", "_label"))
    result: dict[str, dict] = {}
    for split, part in merged.groupby("split"):
        out: dict[str, float | int] = {"n_subjects": int(len(part))}
        for t in tasks:
            if t.kind == "regression":
                for c in t.columns:
                    ok = part[c].notna()
                    if ok.sum() >= 3:
                        y, p = part.loc[ok, c].to_numpy(float), part.loc[ok, t.output_column(c)].to_numpy(float)
                        out[f"{c}_mae"] = m.mae(y, p)
                        out[f"{c}_r"] = m.pearson_r(y, p) if np.std(p) > 0 else float("nan")
            elif t.kind == "binary":
                ok = part[t.columns[0]].notna()
                if part.loc[ok, t.columns[0]].nunique() == 2:
                    out[f"{t.name}_auroc"] = m.auroc(part.loc[ok, t.columns[0]], part.loc[ok, t.output_column()])
            elif t.kind == "multiclass":
                ok = part[t.columns[0]].notna()
                if ok.any():
                    probs = part.loc[ok, list(t.output_columns())].to_numpy()
                    out[f"{t.name}_accuracy"] = float((probs.argmax(1) == part.loc[ok, t.columns[0]].to_numpy()).mean())
            else:
                time, event = t.columns
                ok = part[[time, event]].notna().all(axis=1)
                if part.loc[ok, event].sum() > 0:
                    out[f"{t.name}_c_index"] = m.harrell_c_index(
                        part.loc[ok, time], part.loc[ok, t.output_column()], part.loc[ok, event]
                    )
        result[str(split)] = out
    return result
