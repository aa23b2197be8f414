"""Survival part of the report (FAHR-FaceSurvival).

Discrimination and accuracy with CIs (Harrell's and Uno's C, AUC(t), Brier(t), IBS) come from
``evaluate/metrics.json``; Kaplan-Meier curves by risk quartile, the log-rank test, adjusted Cox
hazard ratios, the proportional-hazards check and calibration at each horizon come from
``evaluate/survival.json`` (``facehealth.evaluate.survival_report.survival_analysis``). The
reader is tolerant: keys it does not find are skipped, and without survival.json the KM curves
are recomputed from the predictions and labels.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from facehealth.models.tasks import risk_column
from facehealth.report import plots
from facehealth.report.blocks import Figure, Para, Section, Table, fmt, fmt_metric, fmt_p, metric_cell
from facehealth.report.prognostic import face_age_section
from facehealth.report.run_folder import RunFolder, finite, metric_at

__all__ = ["survival_section"]

_KM_KEYS = ("km_by_quartile", "km", "kaplan_meier")
_HR_KEYS = ("hazard_ratios", "adjusted_hr", "hr")
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, "external": 3}


def _metric_label(key: str, node: Any) -> str:
    if key == "c_index":
        return "Harrell's C-index"
    if key == "uno_c_index":
        tau = node.get("tau") if isinstance(node, dict) else None
        return "Uno's C-index" + (f" (up to {tau:g} y)" if finite(tau) else "")
    if m := re.fullmatch(r"td_auc_(.+)", key):
        return f"AUC(t = {m.group(1)} y)"
    if m := re.fullmatch(r"brier_(.+)", key):
        return f"Brier score (t = {m.group(1)} y)"
    return {"ibs": "integrated Brier score", "mean_td_auc": "mean AUC(t)"}.get(key, key.replace("_", " "))


def _horizon(key: str) -> float:
    m = re.search(r"_([0-9.]+)$", key)
    return float(m.group(1)) if m else 0.0


def survival_section(run: RunFolder, split: str) -> Section:
    metrics, splits = run.metrics, run.splits()
    keys: list[str] = []
    for s in splits:
        for k, v in (metric_at(metrics, f"splits.{s}.survival") or {}).items():
            if k not in keys and ((isinstance(v, dict) and "value" in v) or k == "mean_td_auc"):
                keys.append(k)
    rank = {"c_index": 0, "uno_c_index": 1, "mean_td_auc": 3, "ibs": 5}
    keys.sort(key=lambda k: (rank.get(k, 2 if k.startswith("td_auc") else 4), _horizon(k)))
    rows = [
        [
            _metric_label(k, metric_at(metrics, f"splits.{split}.survival.{k}")),
            *(metric_cell(metrics, f"splits.{s}.survival.{k}") for s in splits),
        ]
        for k in keys
    ]
    blocks: list = [Table.of(["metric", *splits], rows, "Survival: discrimination and accuracy; value [95% CI].")]
    lines = {}
    for s in ("test", "external"):
        points = [(_horizon(k), metric_at(metrics, f"splits.{s}.survival.{k}")) for k in keys if k.startswith("td_auc")]
        points = [(h, n) for h, n in points if isinstance(n, dict) and finite(n.get("value"))]
        if points:
            x = [h for h, _ in points]
            lines[s] = (
                x,
                [n["value"] for _, n in points],
                [n["low"] for _, n in points],
                [n["high"] for _, n in points],
            )
    if lines:
        blocks.append(
            Figure("Time-dependent AUC", plots.line_with_band(lines, "Time-dependent AUC", "years", "AUC(t)"))
        )
    raw = run.json("evaluate/survival.json")
    subs: list[Section] = []
    if isinstance(raw, dict) and isinstance(raw.get("splits"), dict):
        order = sorted(raw["splits"], key=lambda s: (_SPLIT_ORDER.get(s, 4), s))
        subs = [_analysis(name, raw["splits"][name], raw) for name in order if isinstance(raw["splits"][name], dict)]
        face_age = face_age_section(raw)
        if face_age is not None:
            subs.append(face_age)
    elif isinstance(raw, dict) and raw:
        subs = [_analysis(split, raw, raw)]  # a flat file: one split
    else:
        curves = _km_from_predictions(run, split)
        if curves:
            blocks.append(
                Figure("Kaplan-Meier by risk quartile", plots.km_curves(curves), f"{split} split; Q1 = lowest risk.")
            )
        blocks.append(Para("evaluate/survival.json: not run (no hazard ratios, log-rank test or calibration).", "note"))
    return Section("survival", "Survival", tuple(blocks), subsections=tuple(subs))


def _analysis(name: str, data: dict, top: dict) -> Section:
    """KM curves, log-rank, hazard ratios, PH check and calibration of one split of survival.json."""
    blocks: list = []
    km = next((data[k] for k in _KM_KEYS if isinstance(data.get(k), dict)), None)
    curves = _km_from_file(km) if km else None
    if curves:
        blocks.append(
            Figure(f"Kaplan-Meier ({name})", plots.km_curves(curves, f"Kaplan-Meier by risk quartile ({name})"))
        )
    facts = []
    for label, key in (("subjects", "n_subjects"), ("events", "n_events"), ("median follow-up (y)", "median_time")):
        if key in data:
            facts.append([label, data[key]])
    logrank = data.get("logrank")
    if isinstance(logrank, dict):
        facts.append(
            [
                "log-rank test across quartiles",
                f"chi2 {fmt(logrank.get('chi2'), 2)}, df {logrank.get('df')}, p {fmt_p(logrank.get('p'))}",
            ]
        )
    if "n_dropped_missing_covariates" in data:
        facts.append(["left out of adjusted models (missing covariates)", data["n_dropped_missing_covariates"]])
    ph = data.get("proportional_hazards")
    if isinstance(ph, dict) and "min_p" in ph:
        facts.append(["proportional hazards (smallest Schoenfeld p)", fmt(ph["min_p"], 4)])
    if facts:
        blocks.append(Table.of(["", "value"], facts, f"survival.json, {name}"))
    hr = next((data[k] for k in _HR_KEYS if data.get(k)), None)
    if isinstance(hr, dict):
        quartiles = hr.get("per_quartile")
        hr = {k: v for k, v in hr.items() if k != "per_quartile"}
        if isinstance(quartiles, dict) and quartiles.get("terms"):
            hr = {
                **hr,
                **{
                    t["term"]: t | {"n": quartiles.get("n"), "events": quartiles.get("events")}
                    for t in quartiles["terms"]
                },
            }
    if hr is not None:
        blocks.append(_hr_table(hr, top.get("covariates")))
    model = data.get("cox_model")
    if isinstance(model, dict) and model.get("terms"):
        blocks.append(
            cox_terms_table(
                model, top.get("covariate_coding"), "Cox model of the risk (per training SD) and every covariate"
            )
        )
    calibration = data.get("calibration")
    if isinstance(calibration, dict) and calibration:
        rows = [
            [
                h,
                fmt_metric(c.get("slope"), c.get("slope_low"), c.get("slope_high")),
                c.get("observed"),
                c.get("expected"),
                c.get("oe_ratio"),
            ]
            for h, c in calibration.items()
            if isinstance(c, dict)
        ]
        blocks.append(
            Table.of(
                ["horizon (y)", "calibration slope [95% CI]", "observed", "expected", "O/E"],
                rows,
                "Calibration at each horizon.",
            )
        )
    if not blocks:
        return Section.not_run(f"survival-{name}", f"Survival analysis: {name}", "no usable entries in survival.json.")
    return Section(f"survival-{name}", f"Survival analysis: {name}", tuple(blocks))


def cox_terms_table(model: dict, coding: Any, title: str) -> Table:
    """Every term of one Cox model: HR [95% CI], p and its Schoenfeld p; categorical terms name
    their reference level, so ``stage=III`` reads "stage III vs I"."""
    refs = {c: v.get("reference") for c, v in (coding or {}).get("coding", {}).items() if isinstance(v, dict)}
    rows = []
    for t in model["terms"]:
        column, _, level = str(t["term"]).partition("=")
        label = f"{column} {level} vs {refs[column]}" if level and column in refs else str(t["term"]).replace("_", " ")
        rows.append(
            [label, fmt_metric(t.get("hr"), t.get("low"), t.get("high")), fmt_p(t.get("p")), fmt(t.get("ph_p"), 3)]
        )
    note = f"{title}; n {model.get('n')}, events {model.get('events')}."
    return Table.of(["term", "HR [95% CI]", "p", "Schoenfeld p"], rows, note)


def _km_from_file(km: dict) -> dict[str, pd.DataFrame] | None:
    """{"1": {"n", "events", "time": [...], "survival": [...], "low", "high"}, ...} -> labelled frames."""
    curves = {}
    for group, curve in km.items():
        if not isinstance(curve, dict) or not {"time", "survival"} <= set(curve):
            continue
        frame = pd.DataFrame({k: curve[k] for k in ("time", "survival", "low", "high") if k in curve})
        label = f"Q{group}" if str(group).isdigit() else str(group)
        if "n" in curve:
            label += f" (n={curve['n']}, events={curve.get('events', '?')})"
        curves[label] = frame
    return curves or None


def _km_from_predictions(run: RunFolder, split: str) -> dict[str, pd.DataFrame] | None:
    from facehealth.evaluate.survival import kaplan_meier_by_group, risk_quartiles

    scored = run.scored
    risk = risk_column("survival")
    cols = [risk, "survival_time", "survival_event"]
    if scored is None or not set(cols) <= set(scored.columns):
        return None
    part = scored[scored["split"] == split].dropna(subset=cols) if "split" in scored else scored.dropna(subset=cols)
    if len(part) < 8:
        return None
    q = risk_quartiles(part[risk].to_numpy())
    curves = kaplan_meier_by_group(part["survival_time"], part["survival_event"], q)
    return {f"Q{g}": c for g, c in sorted(curves.items())}


def _hr_table(hr: Any, covariates: Any) -> Table:
    if isinstance(hr, list):
        entries = hr
    elif isinstance(hr, dict) and "hr" in hr:
        entries = [hr]
    else:
        entries = [dict(v, term=k) for k, v in hr.items() if isinstance(v, dict)]
    rows = []
    for e in entries:
        adjusted = e.get("adjusted_for", covariates) or []
        adjusted = ", ".join(map(str, adjusted)) if isinstance(adjusted, list | tuple) else str(adjusted)
        term = str(e.get("term", "")).replace("_", " ")
        if "error" in e:
            rows.append([term, f"not estimable: {e['error']}", "", "", "", adjusted])
            continue
        if e.get("note") or not (finite(e.get("low")) and finite(e.get("high")) and e.get("low") > 0):
            # A diverging Cox fit (no events in a group) gives a meaningless HR: say so instead.
            estimate, p = f"not estimable ({e.get('note') or 'interval undefined'})", ""
        else:
            estimate, p = fmt_metric(e.get("hr"), e.get("low"), e.get("high")), fmt_p(e.get("p"))
        rows.append([term, estimate, p, e.get("n"), e.get("events"), adjusted])
    return Table.of(["term", "HR [95% CI]", "p", "n", "events", "adjusted for"], rows, "Cox hazard ratios.")
