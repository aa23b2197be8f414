"""Studies (external site, subgroups, baselines, label efficiency), explanations and robustness.

Study tables come from ``facehealth.studies.designs`` (``studies/external.csv``,
``subgroups.csv``, ``baselines.csv``, ``baselines_comparison.csv``,
``label_efficiency_summary.csv``); each has ``value, low, high`` (or ``mean``) per arm, task and
metric. The readers take the columns they find, draw forest plots and curves, and print the
intervals as ``value [low, high]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from facehealth.report import plots
from facehealth.report.blocks import Figure, Para, Section, Table, fmt_metric, metric_cell
from facehealth.report.run_folder import RunFolder, finite, metric_at

__all__ = ["studies_section", "explanations_section", "robustness_section", "HEADLINE"]

# (label, metrics.json path below splits.<split>) of each task's headline metric.
HEADLINE = (
    ("CAD AUROC", "cad.auroc"),
    ("survival C-index", "survival.c_index"),
    ("affective accuracy", "affective.accuracy"),
    ("affective AUROC (OvR)", "affective.auroc_ovr"),
    ("age MAE (years)", "age.age.mae"),
)
_KEYS = ("arm", "task", "metric", "group")  # columns that split a study table into forest plots
_HALF_IS_CHANCE = ("auroc", "auroc_ovr", "c_index", "uno_c_index")  # a dashed reference line at 0.5
_TITLE = "Baselines, label efficiency, external validation and subgroups"


def studies_section(run: RunFolder) -> Section:
    subs = [_external(run), _subgroups(run), _baselines(run), _label_efficiency(run)]
    if not any(s.ran for s in subs):
        return Section.not_run("studies", _TITLE, "No study output (studies/): not run.")
    return Section("studies", _TITLE, subsections=tuple(subs))


def ci_table(frame: pd.DataFrame, caption: str, max_rows: int = 40) -> Table:
    """A study table with ``value/low/high`` (or ``mean/low/high``) folded into one ``value [95% CI]`` column."""
    value = "value" if "value" in frame.columns else "mean" if "mean" in frame.columns else None
    if value and {"low", "high"} <= set(frame.columns):
        frame = frame.copy()
        ci = [fmt_metric(v, lo, hi) for v, lo, hi in zip(frame[value], frame["low"], frame["high"])]
        at = list(frame.columns).index(value)
        frame = frame.drop(columns=[value, "low", "high"])
        frame.insert(at, f"{value} [95% CI]", ci)
    return Table.from_frame(frame, caption, max_rows)


def _forests(table: pd.DataFrame, label_columns: list[str], title: str) -> list:
    """One forest plot per (arm, task, metric, group) present in ``table``; rows labelled by ``label_columns``."""
    keys = [c for c in _KEYS if c in table.columns and c not in label_columns]
    figures = []
    for key, part in table.groupby(keys, sort=False) if keys else [((), table)]:
        part = part[[finite(v) for v in part["value"]]]
        if part.empty:
            continue
        name = " / ".join(map(str, key if isinstance(key, tuple) else (key,)))
        rows = [(_label(r, label_columns), r["value"], r["low"], r["high"]) for _, r in part.iterrows()]
        metric = str(part["metric"].iloc[0]) if "metric" in part.columns else ""
        ref = 0.5 if metric in _HALF_IS_CHANCE else None
        figures.append(Figure(f"{title}: {name}", plots.forest_plot(rows, f"{title}: {name}", "value", ref)))
    return figures


def _label(row: pd.Series, columns: list[str]) -> str:
    return " \u2014 ".join(str(row[c]) for c in columns if pd.notna(row[c]) and str(row[c]))


def _external(run: RunFolder) -> Section:
    metrics = run.metrics or {}
    splits = [s for s in ("val", "test", "external") if s in (metrics.get("splits") or {})]
    blocks: list = []
    if "external" in splits:
        rows, forest = [], []
        for label, path in HEADLINE:
            cells = [metric_cell(metrics, f"splits.{s}.{path}") for s in splits]
            if all(isinstance(c, str) for c in cells):
                continue
            rows.append([label, *cells])
            if "MAE" not in label:  # one forest on the 0-1 scale; MAE stays in the table
                for s in ("test", "external"):
                    node = metric_at(metrics, f"splits.{s}.{path}")
                    if isinstance(node, dict) and finite(node.get("value")):
                        forest.append((f"{label} \u2014 {s}", node["value"], node["low"], node["high"]))
        blocks.append(Table.of(["metric", *splits], rows, "Held-out site (external) against the internal test split."))
        if forest:
            fig = plots.forest_plot(forest, "Internal test vs external site", "value", 0.5)
            blocks.append(Figure("External-site forest plot", fig))
    table = run.table("studies/external.csv")
    if table is not None and {"value", "low", "high"} <= set(table.columns):
        labels = [c for c in ("cohort", "site") if c in table.columns]
        blocks += _forests(table, labels or ["arm"], "External validation")
        blocks.append(
            ci_table(table, "studies/external.csv: every arm on the internal test split and each held-out site.")
        )
    if not blocks:
        why = "no external split in metrics.json and no studies/external.csv: not run."
        return Section.not_run("external", "External site", why)
    return Section("external", "External site", tuple(blocks))


def _subgroups(run: RunFolder) -> Section:
    files = sorted({*run.root.glob("studies/*subgroup*.csv"), *run.root.glob("evaluate/*subgroup*.csv")})
    blocks: list = []
    for path in files:
        table = run.table(str(path.relative_to(run.root)))
        if table is None or not {"level", "value", "low", "high"} <= set(table.columns):
            continue
        # The evaluation's own table has no arms: one forest plot per task, every grouping in it.
        labels = ["group", "level"] if path.parent.name == "evaluate" else ["level"]
        blocks += _forests(table, labels, "Subgroups")
        blocks.append(ci_table(table, f"{path.parent.name}/{path.name}", max_rows=60))
    if not blocks:
        return Section.not_run("subgroups", "Subgroups", "no subgroup table (studies/subgroups.csv): not run.")
    return Section("subgroups", "Subgroups", tuple(blocks))


def _baselines(run: RunFolder) -> Section:
    table = run.table("studies/baselines.csv")
    if table is None:
        return Section.not_run("baselines", "Baselines", "studies/baselines.csv is missing: not run.")
    blocks: list = [ci_table(table, "Every arm trained and tested on identical splits (studies/baselines.csv).")]
    comparison = run.table("studies/baselines_comparison.csv")
    if comparison is not None:
        blocks.append(
            Table.from_frame(comparison, "Paired differences to the reference arm (baselines_comparison.csv).")
        )
    return Section("baselines", "Baselines", tuple(blocks))


def _label_efficiency(run: RunFolder) -> Section:
    summary = run.table("studies/label_efficiency_summary.csv")
    table = run.table("studies/label_efficiency.csv")
    if summary is None and table is not None and {"arm", "n", "value"} <= set(table.columns):
        keys = [c for c in ("arm", "n", "task", "metric") if c in table.columns]
        summary = table.groupby(keys, sort=False).agg(
            mean=("value", "mean"), low=("low", "mean"), high=("high", "mean")
        )
        summary = summary.reset_index()
    if summary is None:
        why = "studies/label_efficiency.csv is missing: not run."
        return Section.not_run("label-efficiency", "Label efficiency", why)
    blocks: list = []
    if {"arm", "n", "mean"} <= set(summary.columns):
        keys = [c for c in ("task", "metric") if c in summary.columns]
        for key, part in summary.groupby(keys, sort=False) if keys else [((), summary)]:
            name = " ".join(map(str, key if isinstance(key, tuple) else (key,)))
            lines: dict[str, Any] = {}
            for arm, g in part.groupby("arm", sort=False):
                g = g.sort_values("n")
                ci = {"low", "high"} <= set(g.columns)
                lines[str(arm)] = (g["n"], g["mean"], g["low"] if ci else None, g["high"] if ci else None)
            fig = plots.line_with_band(lines, f"Label efficiency: {name}", "labelled training subjects", name, True)
            blocks.append(Figure(f"Label efficiency ({name})", fig, "Mean over seeds; band: mean bootstrap CI."))
    blocks.append(ci_table(summary, "Label efficiency (mean over seeds)", max_rows=60))
    return Section("label-efficiency", "Label efficiency", tuple(blocks))


def _pngs(paths: list[Path]) -> list[Figure]:
    return [Figure.from_file(p) for p in paths]


def explanations_section(run: RunFolder) -> Section:
    figures = _pngs(run.pngs("explain"))
    tables = [
        ci_table(t, f"explain/{name}", max_rows=30)
        for name in ("regions.csv", "landmark_significance.csv", "comparisons.csv")
        if (t := run.table(f"explain/{name}")) is not None
    ]
    if not figures and not tables:
        return Section.not_run("explanations", "Explanations", "explain/ is missing or empty: not run.")
    note = Para(
        "Saliency maps show where the model looked, not why; they are hypotheses to check, not mechanisms.", "note"
    )
    return Section("explanations", "Explanations", (note, *figures, *tables))


def robustness_section(run: RunFolder) -> Section:
    figures = _pngs(run.pngs("robustness"))
    tables = [
        Table.from_frame(t, f"robustness/{name}", max_rows=60)
        for name in ("robustness.csv", "robustness_rejections.csv")
        if (t := run.table(f"robustness/{name}")) is not None
    ]
    if not figures and not tables:
        return Section.not_run("robustness", "Robustness", "robustness/ is missing or empty: not run.")
    return Section("robustness", "Robustness", (*figures, *tables))
