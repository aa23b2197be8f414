"""Survival part of the report: C-index from metrics.json, and KM curves, hazard ratios and
time-dependent AUC from ``evaluate/survival.json``.

survival.json is written by the survival-analysis stage; its reader here is tolerant: keys it
does not find are skipped (with a note), and Kaplan-Meier curves are recomputed from the
predictions and labels (lifelines, risk quartiles) when the file has none.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from facehealth.report import plots
from facehealth.report.blocks import Figure, Para, Table, fmt, fmt_metric, metric_cell
from facehealth.report.run_folder import RunFolder

__all__ = ["survival_blocks"]

_KM_KEYS = ("km", "kaplan_meier", "km_by_quartile", "kaplan_meier_by_quartile")
_HR_KEYS = ("adjusted_hr", "hazard_ratios", "hr", "cox", "hazard_ratio")
_TD_KEYS = ("time_dependent_auc", "td_auc", "cumulative_dynamic_auc")
_BRIER_KEYS = ("brier", "integrated_brier", "brier_score")


def _first(data: dict, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in data and data[key] not in (None, {}, []):
            return data[key]
    return None


def _split_view(data: dict, split: str) -> dict:
    """survival.json may be keyed by split ({"test": {...}}) or flat."""
    if isinstance(data.get("splits"), dict) and isinstance(data["splits"].get(split), dict):
        return data["splits"][split]
    if isinstance(data.get(split), dict):
        return data[split]
    return data


def survival_blocks(run: RunFolder, split: str) -> list:
    metrics = run.metrics
    splits = run.splits()
    blocks: list = [
        Table.of(
            ["split", "Harrell's C-index"],
            [[s, metric_cell(metrics, f"splits.{s}.survival.c_index")] for s in splits],
            "Discrimination of the risk score (log relative hazard).",
        )
    ]
    raw = run.json("evaluate/survival.json")
    data = _split_view(raw, split) if isinstance(raw, dict) else {}
    curves = _km_from_file(_first(data, _KM_KEYS)) or _km_from_predictions(run, split)
    if curves:
        blocks.append(Figure("Kaplan-Meier by risk quartile", plots.km_curves(curves), "Q1 = lowest predicted risk."))
    if not data:
        blocks.append(Para("evaluate/survival.json: not run (no hazard ratios or time-dependent AUC).", "note"))
        return blocks
    hr = _first(data, _HR_KEYS)
    if hr is not None:
        blocks.append(_hr_table(hr))
    td = _td_frame(_first(data, _TD_KEYS))
    if td is not None and len(td):
        has_ci = {"low", "high"} <= set(td.columns)
        line = (td["time"], td["auc"], td["low"] if has_ci else None, td["high"] if has_ci else None)
        fig = plots.line_with_band({"AUC(t)": line}, "Time-dependent AUC", "years", "AUC")
        blocks.append(Figure("Time-dependent AUC", fig))
        rows = [[r["time"], fmt_metric(r["auc"], r.get("low"), r.get("high"))] for r in td.to_dict("records")]
        blocks.append(Table.of(["time (years)", "AUC(t)"], rows, "Cumulative/dynamic AUC (survival.json)."))
    brier = _first(data, _BRIER_KEYS)
    if isinstance(brier, int | float):
        blocks.append(Table.of(["integrated Brier score"], [[brier]]))
    elif isinstance(brier, dict) and "value" in brier:
        blocks.append(
            Table.of(["integrated Brier score"], [[fmt_metric(brier["value"], brier.get("low"), brier.get("high"))]])
        )
    return blocks


def _km_from_file(km: Any) -> dict[str, pd.DataFrame] | None:
    """{group: {"time": [...], "survival": [...], ...}} or {group: [records]} -> frames."""
    if not isinstance(km, dict):
        return None
    if isinstance(km.get("curves"), dict):
        km = km["curves"]
    curves = {}
    for group, curve in km.items():
        frame = pd.DataFrame(curve) if isinstance(curve, dict | list) else None
        if frame is not None and {"time", "survival"} <= set(frame.columns):
            curves[f"Q{group}" if str(group).isdigit() else str(group)] = frame
    return curves or None


def _km_from_predictions(run: RunFolder, split: str) -> dict[str, pd.DataFrame] | None:
    from facehealth.evaluate.survival import kaplan_meier_by_group, risk_quartiles

    scored = run.scored
    cols = ["risk_survival", "survival_time", "survival_event"]
    if scored is None or not set(cols) <= set(scored.columns):
        return None
    part = scored[scored["split"] == split].dropna(subset=cols) if "split" in scored else scored.dropna(subset=cols)
    if len(part) < 8:
        return None
    q = risk_quartiles(part["risk_survival"].to_numpy())
    curves = kaplan_meier_by_group(part["survival_time"], part["survival_event"], q)
    return {f"Q{g}": c for g, c in sorted(curves.items())}


def _hr_table(hr: Any) -> Table:
    entries = (
        hr
        if isinstance(hr, list)
        else [hr]
        if "hr" in hr
        else [dict(v, term=k) for k, v in hr.items() if isinstance(v, dict)]
    )
    rows = []
    for e in entries:
        adjusted = e.get("adjusted_for") or []
        rows.append(
            [
                e.get("term", e.get("name", "")),
                fmt_metric(e.get("hr"), e.get("low"), e.get("high")),
                fmt(e.get("p"), 4),
                e.get("n"),
                e.get("events"),
                ", ".join(adjusted) if isinstance(adjusted, list) else str(adjusted),
            ]
        )
    return Table.of(
        ["term", "HR [95% CI]", "p", "n", "events", "adjusted for"], rows, "Cox hazard ratios (survival.json)."
    )


def _td_frame(td: Any) -> pd.DataFrame | None:
    if isinstance(td, dict):
        if "times" in td and "auc" in td:
            td = {"time": td["times"], **{k: v for k, v in td.items() if k != "times"}}
        try:
            frame = pd.DataFrame(td)
        except ValueError:
            return None
    elif isinstance(td, list):
        frame = pd.DataFrame(td)
    else:
        return None
    frame = frame.rename(columns={"times": "time", "value": "auc"})
    return frame if {"time", "auc"} <= set(frame.columns) else None
