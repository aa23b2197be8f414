"""The face-age gap as a prognostic factor (FAHR-FaceAge), as a report section.

Reads ``survival.json["face_age"]`` (:func:`facehealth.evaluate.prognostic.face_age_analysis`):
per scored split, the hazard ratio of the face-age gap adjusted for chronological age and the
covariates, the head-to-head with a prior face-age model, and whether the survival risk and the
gap add to each other (likelihood-ratio p on the split, C gain out of sample with its CI).
"""

from __future__ import annotations

from typing import Any

from facehealth.report.blocks import Para, Section, Table, fmt, fmt_metric, fmt_p
from facehealth.report.run_folder import finite

__all__ = ["face_age_section"]

_COMPARISONS = (
    ("ours_added_to_prior", "this model's gap added to the prior model's"),
    ("prior_added_to_ours", "the prior model's gap added to this model's"),
    ("risk_added_to_gap", "survival risk added to the face-age gap"),
    ("gap_added_to_risk", "face-age gap added to the survival risk"),
)


def _gain(node: Any) -> str:
    if isinstance(node, dict) and "value" in node:
        return fmt_metric(node.get("value"), node.get("low"), node.get("high"))
    return str(node or "")


def _split_rows(part: dict) -> list[list[Any]]:
    rows = []
    hr = part.get("gap_hr_per_5_years") or {}
    if "error" in hr:
        rows.append(["HR per 5 years of face-age gap", f"not estimable: {hr['error']}", "", "", ""])
    elif hr:
        adjusted = ", ".join(map(str, hr.get("adjusted_for", [])))
        rows.append(
            [
                "HR per 5 years of face-age gap",
                fmt_metric(hr.get("hr"), hr.get("low"), hr.get("high")),
                fmt_p(hr.get("p")),
                "",
                f"adjusted for {adjusted}",
            ]
        )
    for key, label in _COMPARISONS:
        node = part.get(key)
        if not isinstance(node, dict):
            continue
        lr = node.get("likelihood_ratio") or {}
        p = f"not estimable: {lr['error']}" if "error" in lr else fmt_p(lr.get("p"))
        rows.append([label, "", p, _gain(node.get("c_gain")), "likelihood-ratio p; C gain out of sample"])
    return rows


def face_age_section(raw: dict) -> Section | None:
    """One table per scored split; None when survival.json has no face-age analysis."""
    node = raw.get("face_age") if isinstance(raw, dict) else None
    if not isinstance(node, dict) or not isinstance(node.get("splits"), dict):
        return None
    blocks: list = []
    prior = node.get("prior")
    blocks.append(
        Para(
            "The face-age gap is predicted minus chronological age. "
            + (f"Prior face-age model: {prior}. " if prior else "No prior face-age model was given. ")
            + "Likelihood-ratio p-values are on the split itself; C gains use weights fitted on "
            "train + validation only (out of sample), with paired subject-bootstrap 95% CIs."
        )
    )
    for name, part in node["splits"].items():
        if not isinstance(part, dict):
            continue
        facts = f"{name}: {part.get('n_subjects')} subjects, {part.get('n_events')} events"
        if finite(part.get("gap_sd")):
            facts += f", gap SD {fmt(part['gap_sd'], 1)} years"
        header = ["", "HR [95% CI]", "p", "C gain [95% CI]", "note"]
        blocks.append(Table.of(header, _split_rows(part), facts))
    return Section("survival-face-age", "Face age as a prognostic factor", tuple(blocks))
