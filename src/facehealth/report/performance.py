"""Performance sections: biomarkers by physiological system, age, survival, classification.

Every number shown comes from ``evaluate/metrics.json`` (as ``value [low, high]`` with the
subject-bootstrap CI); the figures are drawn from ``evaluate/predictions.parquet`` joined with the
cohort labels, and from ``evaluate/survival.json`` for the survival analysis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from facehealth.data.labels import AFFECTIVE_CODE
from facehealth.models.tasks import pred_column, prob_column
from facehealth.report import plots
from facehealth.report.blocks import Figure, Metric, Para, Row, Section, Table, fmt, metric_cell
from facehealth.report.run_folder import RunFolder, metric_at
from facehealth.report.survival import survival_section

__all__ = ["performance_section"]

_SCATTER_PANELS = 12  # the markers with the highest r; the table lists them all


def performance_section(run: RunFolder) -> Section:
    """Headline table per split, then one subsection per task that metrics.json has."""
    metrics = run.metrics
    if not metrics or not metrics.get("splits"):
        return Section.not_run("performance", "Performance", "evaluate/metrics.json is missing: evaluation not run.")
    split = run.primary_split()
    splits = run.splits()
    tasks = _tasks(metrics)
    overview = Table.of(
        ["split", "subjects"],
        [[s, metric_cell(metrics, f"splits.{s}.n_subjects")] for s in splits],
        f"Metrics are shown for the {split} split with 95% subject-bootstrap intervals "
        f"({metrics.get('n_boot', '?')} resamples); format: value [low, high].",
    )
    blocks: list = [overview]
    versus = _reference_table(metrics, splits)
    if versus is not None:
        blocks.append(versus)
    subsections = [
        _biomarker_section(run, split) if "biomarkers" in tasks else _missing("biomarkers", "Biomarkers"),
        _age_section(run, split, splits) if "age" in tasks else _missing("age", "Biological age"),
        survival_section(run, split)
        if "survival" in tasks or run.exists("evaluate/survival.json")
        else _missing("survival", "Survival"),
        _binary_section(run, split, splits, "cad") if "cad" in tasks else _missing("cad", "Coronary artery disease"),
        _multiclass_section(run, split, splits, "affective")
        if "affective" in tasks
        else _missing("affective", "Affective disorders"),
    ]
    return Section("performance", "Performance", tuple(blocks), subsections=tuple(subsections))


# (label, the task node in metrics.json below splits.<split>, metric) of each task's headline number.
_HEADLINE = (
    ("age, MAE (years)", "age.age", "mae"),
    ("CAD, AUROC", "cad", "auroc"),
    ("survival, Harrell's C", "survival", "c_index"),
    ("haemoglobin, Pearson r", "biomarkers.haemoglobin", "pearson_r"),
    ("healthy/MDD/BPD, accuracy", "affective", "accuracy"),
)


def _reference_table(metrics: dict, splits: list[str]) -> Table | None:
    """Each headline number beside the trivial reference on the same subjects, and the verdict."""
    rows = []
    with_oracle = False
    for s in splits:
        for label, node, metric in _HEADLINE:
            base = f"splits.{s}.{node}"
            verdict = metric_at(metrics, f"{base}.versus_reference.{metric}")
            if not isinstance(verdict, str):
                continue
            predicts = metric_at(metrics, f"{base}.reference.predicts") or ""
            reference = metric_cell(metrics, f"{base}.reference.{metric}")
            oracle = metric_cell(metrics, f"{base}.oracle.{metric}")
            with_oracle |= oracle != "\u2014"
            recovered = metric_cell(metrics, f"{base}.recovery.{metric}")
            model = metric_cell(metrics, f"{base}.{metric}")
            rows.append([s, label, model, reference, predicts, verdict, oracle, recovered])
    if not rows:
        return None
    columns = ["split", "task, metric", "model", "trivial reference", "the reference predicts", "model vs reference"]
    caption = (
        "Does the model beat a predictor that knows only the training split? 'beats': the model's 95% CI "
        "is wholly better than the reference; 'no better': the CI includes it; 'worse': wholly worse."
    )
    if not with_oracle:
        return Table.of(columns, [r[:6] for r in rows], caption)
    caption += (
        " On a synthetic cohort the oracle predicts with the planted truth (the ceiling any model can reach), and "
        "recovery = (model - reference) / (oracle - reference): 0 is no better than the reference, 1 is the oracle."
    )
    return Table.of([*columns, "oracle (planted truth)", "recovery"], rows, caption)


def _missing(task: str, title: str) -> Section:
    return Section.not_run(f"perf-{task}", title, f"no '{task}' task in evaluate/metrics.json: not run.")


def _tasks(metrics: dict) -> set[str]:
    return {k for part in metrics["splits"].values() for k, v in part.items() if isinstance(v, dict)}


def _metric_value(metrics: dict, path: str) -> float:
    node = metric_at(metrics, path)
    value = node.get("value") if isinstance(node, dict) else node
    return float(value) if isinstance(value, int | float) else float("nan")


def _part(run: RunFolder, split: str, columns: list[str]) -> pd.DataFrame | None:
    """Rows of ``split`` that have every column (None when the predictions or labels are missing)."""
    scored = run.scored
    if scored is None or not set(columns) <= set(scored.columns):
        return None
    part = scored[scored["split"] == split] if "split" in scored else scored
    return part.dropna(subset=columns)


def _biomarker_section(run: RunFolder, split: str) -> Section:
    from facehealth.data.biomarkers import BIOMARKERS, SYSTEMS

    metrics = run.metrics
    task = metric_at(metrics, f"splits.{split}.biomarkers") or {}
    markers = [c for c in task if c != "by_system_mean_r" and isinstance(task[c], dict)]
    by_system: dict[str, list[str]] = {}
    for c in markers:
        by_system.setdefault(BIOMARKERS[c].system if c in BIOMARKERS else "other", []).append(c)
    rows: list = []
    for system in [*SYSTEMS, "other"]:
        if system not in by_system:
            continue
        mean_r = metric_cell(metrics, f"splits.{split}.biomarkers.by_system_mean_r.{system}")
        rows.append(Row((system.replace("_", " / "), "", "mean r", mean_r, "", ""), group=True))
        for c in by_system[system]:
            base = f"splits.{split}.biomarkers.{c}"
            unit = BIOMARKERS[c].unit if c in BIOMARKERS else ""
            n = metric_at(metrics, f"{base}.pearson_r.n_subjects")
            rows.append([c, unit, n, *(metric_cell(metrics, f"{base}.{m}") for m in ("pearson_r", "mae", "r2"))])
    blocks: list = [
        Table.of(
            ["biomarker", "unit", "n", "Pearson r", "MAE", "R\u00b2"],
            rows,
            f"Biomarkers grouped by physiological system ({split} split).",
        )
    ]
    ranked = sorted(
        markers,
        key=lambda c: -np.nan_to_num(_metric_value(metrics, f"splits.{split}.biomarkers.{c}.pearson_r"), nan=-2),
    )
    panels = []
    for c in ranked[:_SCATTER_PANELS]:
        part = _part(run, split, [c, pred_column(c)])
        if part is not None and len(part):
            r = _metric_value(metrics, f"splits.{split}.biomarkers.{c}.pearson_r")
            panels.append((f"{c} (r={fmt(r, 2)})", part[c].to_numpy(), part[pred_column(c)].to_numpy()))
    if panels:
        blocks.append(
            Figure("Predicted vs true biomarkers", plots.scatter_grid(panels), f"{split} split, best markers by r.")
        )
    else:
        blocks.append(
            Para("Scatter plots need evaluate/predictions.parquet and cohort/labels.csv: not available.", "note")
        )
    return Section("perf-biomarkers", "Biomarkers", tuple(blocks))


def _age_section(run: RunFolder, split: str, splits: list[str]) -> Section:
    metrics = run.metrics
    rows = [[s, *(metric_cell(metrics, f"splits.{s}.age.age.{m}") for m in ("mae", "pearson_r", "r2"))] for s in splits]
    blocks: list = [Table.of(["split", "MAE (years)", "Pearson r", "R\u00b2"], rows, "Biological age")]
    part = _part(run, split, ["age", pred_column("age")])
    if part is not None and len(part):
        y, p = part["age"].to_numpy(float), part[pred_column("age")].to_numpy(float)
        blocks.append(Figure("Predicted vs chronological age", plots.scatter_grid([(f"age ({split})", y, p)], cols=1)))
        lo, hi = np.floor(y.min() / 10) * 10, np.ceil((y.max() + 1e-9) / 10) * 10
        edges = list(np.arange(lo, hi + 10, 10))
        blocks.append(Figure("Error by age band", plots.error_by_band(y, np.abs(p - y), edges)))
    return Section("perf-age", "Biological age", tuple(blocks))


_BINARY = (
    "auroc",
    "auprc",
    "brier",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "calibration_slope",
    "calibration_intercept",
    "calibration_in_the_large",
)


def _binary_section(run: RunFolder, split: str, splits: list[str], task: str) -> Section:
    metrics = run.metrics
    rows = [[name, *(metric_cell(metrics, f"splits.{s}.{task}.{name}") for s in splits)] for name in _BINARY]
    threshold = metric_cell(metrics, f"thresholds.{task}")
    blocks: list = [
        Table.of(["metric", *splits], rows, f"Coronary artery disease ({task}); value [95% CI]."),
        Table.of(["decision threshold (Youden's J on the validation split)"], [[threshold]]),
    ]
    part = _part(run, split, [task, prob_column(task)])
    if part is not None and part[task].nunique() == 2:
        y, p = part[task].to_numpy(int), part[prob_column(task)].to_numpy(float)
        blocks.append(Figure("ROC curve", plots.roc_plot(y, {split: p}, f"ROC ({split})")))
        blocks.append(Figure("Precision-recall curve", plots.pr_plot(y, p, f"Precision-recall ({split})")))
        cut = threshold.value if isinstance(threshold, Metric) else 0.5
        cm = [[int(((y == a) & ((p >= cut) == b)).sum()) for b in (0, 1)] for a in (0, 1)]
        blocks.append(Figure("Confusion matrix", plots.confusion_plot(cm, ["no", "yes"]), f"at threshold {fmt(cut)}"))
    else:
        blocks.append(Para("ROC/PR curves need predictions with both classes present: not available.", "note"))
    reliability = metric_at(metrics, f"splits.{split}.{task}.reliability")
    if isinstance(reliability, list) and reliability:
        rel = pd.DataFrame(reliability)
        if {"predicted", "observed", "n"} <= set(rel.columns):
            blocks.append(Figure("Calibration", plots.calibration_plot(rel["predicted"], rel["observed"], rel["n"])))
    return Section(f"perf-{task}", "Coronary artery disease", tuple(blocks))


def _multiclass_section(run: RunFolder, split: str, splits: list[str], task: str) -> Section:
    from facehealth.data.schema import AFFECTIVE_CLASSES

    metrics = run.metrics
    rows = [
        [name, *(metric_cell(metrics, f"splits.{s}.{task}.{name}") for s in splits)]
        for name in ("accuracy", "balanced_accuracy", "auroc_ovr")
    ]
    blocks: list = [Table.of(["metric", *splits], rows, "Affective disorders (healthy / MDD / BPD); value [95% CI].")]
    cm = metric_at(metrics, f"splits.{split}.{task}.confusion_matrix")
    if isinstance(cm, list) and cm:
        classes = list(AFFECTIVE_CLASSES[: len(cm)])
        blocks.append(
            Figure("Confusion matrix", plots.confusion_plot(cm, classes), f"{split} split, most likely class")
        )
    probs = [prob_column(c) for c in AFFECTIVE_CLASSES]
    part = _part(run, split, [AFFECTIVE_CODE, *probs])
    if part is not None and part[AFFECTIVE_CODE].nunique() > 1:
        code = part[AFFECTIVE_CODE].to_numpy(int)
        scores = {
            c: part[prob_column(c)].to_numpy()
            for i, c in enumerate(AFFECTIVE_CLASSES)
            if 0 < (code == i).sum() < len(code)
        }
        truth = {c: (code == AFFECTIVE_CLASSES.index(c)).astype(int) for c in scores}
        blocks.append(Figure("One-vs-rest ROC", plots.roc_plot(truth, scores, f"One-vs-rest ROC ({split})")))
    return Section(f"perf-{task}", "Affective disorders", tuple(blocks))
