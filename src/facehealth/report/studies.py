"""Studies (baselines, label efficiency, external site, subgroups), explanations and robustness.

The study files are tables written by other stages; their readers take the columns they find
(a value with optional low/high interval, an x such as the label fraction, a grouping such as
the initialisation) and show the rest as plain tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facehealth.report import plots
from facehealth.report.blocks import Figure, Para, Section, Table, fmt_metric, metric_cell
from facehealth.report.run_folder import RunFolder, finite, metric_at

__all__ = ["studies_section", "explanations_section", "robustness_section", "HEADLINE"]

# (label, metrics.json path below splits.<split>) of each task's headline metric.
HEADLINE = (
    ("CAD AUROC", "cad.auroc"),
    ("survival C-index", "survival.c_index"),
    ("affective AUROC (OvR)", "affective.auroc_ovr"),
    ("age MAE (years)", "age.age.mae"),
)
_X_COLUMNS = ("label_fraction", "fraction", "n_labels", "n_train", "labels", "n_subjects", "n")
_Y_COLUMNS = ("value", "metric_value", "score")
_GROUP_COLUMNS = ("init", "model", "method", "arm", "pretraining", "baseline")


def studies_section(run: RunFolder) -> Section:
    subs = [_external(run), _subgroups(run), _baselines(run), _label_efficiency(run)]
    if not any(s.ran for s in subs):
        return Section.not_run(
            "studies", "Baselines, label efficiency, external validation and subgroups", "No study output: not run."
        )
    return Section("studies", "Baselines, label efficiency, external validation and subgroups", subsections=tuple(subs))


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
            blocks.append(
                Figure(
                    "External-site forest plot",
                    plots.forest_plot(forest, "Internal test vs external site", "value", 0.5),
                )
            )
    extra = run.json("studies/external.json")
    if isinstance(extra, dict):
        rows = [[k, fmt_metric(v["value"], v.get("low"), v.get("high"))] for k, v in _flatten(extra)]
        if rows:
            blocks.append(Table.of(["quantity (studies/external.json)", "value [95% CI]"], rows))
    if not blocks:
        return Section.not_run(
            "external", "External site", "no external split in metrics.json and no studies/external.json: not run."
        )
    return Section("external", "External site", tuple(blocks))


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, dict]]:
    """Every {value, low?, high?} entry of a nested dict, with its dotted path."""
    if isinstance(data, dict) and "value" in data and isinstance(data["value"], int | float):
        return [(prefix, data)]
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    return out


def _subgroups(run: RunFolder) -> Section:
    files = sorted({*run.root.glob("studies/*subgroup*.csv"), *run.root.glob("evaluate/*subgroup*.csv")})
    blocks: list = []
    for path in files:
        table = run.table(str(path.relative_to(run.root)))
        if table is None or not {"level", "value", "low", "high"} <= set(table.columns):
            continue
        keys = [c for c in ("task", "metric", "group") if c in table.columns]
        for key, part in table.groupby(keys) if keys else [((path.stem,), table)]:
            name = " / ".join(map(str, key if isinstance(key, tuple) else (key,)))
            rows = [(str(r["level"]), r["value"], r["low"], r["high"]) for r in part.to_dict("records")]
            blocks.append(Figure(f"Subgroups: {name}", plots.forest_plot(rows, f"Subgroups: {name}", "value")))
        blocks.append(Table.from_frame(table, f"{path.name}"))
    if not blocks:
        return Section.not_run("subgroups", "Subgroups", "no subgroup table (studies/*subgroup*.csv): not run.")
    return Section("subgroups", "Subgroups", tuple(blocks))


def _baselines(run: RunFolder) -> Section:
    table = run.table("studies/baselines.csv")
    if table is None:
        return Section.not_run("baselines", "Baselines", "studies/baselines.csv is missing: not run.")
    return Section("baselines", "Baselines", (Table.from_frame(table, "Baseline models (studies/baselines.csv)."),))


def _label_efficiency(run: RunFolder) -> Section:
    table = run.table("studies/label_efficiency.csv")
    if table is None:
        return Section.not_run(
            "label-efficiency", "Label efficiency", "studies/label_efficiency.csv is missing: not run."
        )
    blocks: list = []
    x = next((c for c in _X_COLUMNS if c in table.columns), None)
    y = next((c for c in _Y_COLUMNS if c in table.columns), None)
    if x and y:
        by_metric = table.groupby("metric") if "metric" in table.columns else [("value", table)]
        group = next((c for c in _GROUP_COLUMNS if c in table.columns), None)
        for metric, part in by_metric:
            lines = {}
            for name, g in part.groupby(group) if group else [("model", part)]:
                g = g.sort_values(x)
                has_ci = {"low", "high"} <= set(g.columns)
                lines[str(name)] = (g[x], g[y], g["low"] if has_ci else None, g["high"] if has_ci else None)
            logx = x.startswith("n")
            fig = plots.line_with_band(lines, f"Label efficiency: {metric}", x.replace("_", " "), str(metric), logx)
            blocks.append(Figure(f"Label efficiency ({metric})", fig))
    blocks.append(Table.from_frame(table, "studies/label_efficiency.csv"))
    return Section("label-efficiency", "Label efficiency", tuple(blocks))


def _pngs(paths: list[Path]) -> list[Figure]:
    return [Figure.from_file(p) for p in paths]


def explanations_section(run: RunFolder) -> Section:
    figures = _pngs(run.pngs("explain"))
    tables = [
        Table.from_frame(t, f"{name} (explain/{name})", max_rows=25)
        for name in ("regions.csv", "landmark_significance.csv")
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
    table = run.table("robustness/robustness.csv")
    blocks = [*figures, *([Table.from_frame(table, "robustness/robustness.csv")] if table is not None else [])]
    if not blocks:
        return Section.not_run("robustness", "Robustness", "robustness/ is missing or empty: not run.")
    return Section("robustness", "Robustness", tuple(blocks))
