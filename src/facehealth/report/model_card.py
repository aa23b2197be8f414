"""Model card with a TRIPOD+AI-style checklist, filled from the run's own files.

Items follow the reporting domains of TRIPOD+AI (Collins et al., BMJ 2024;385:e078378):
intended use, data sources, participants, outcomes, predictors, sample size, missing data,
analysis, fairness, performance, validation, limitations and implementation. An item whose
evidence is missing from the run says so instead of being left out.
"""

from __future__ import annotations

from facehealth.report.blocks import Metric, Para, Row, Section, Table, metric_cell
from facehealth.report.run_folder import RunFolder
from facehealth.report.studies import HEADLINE

__all__ = ["model_card_section", "DISCLAIMER"]

DISCLAIMER = (
    "This model is a research screening aid, not a diagnosis. Its outputs are estimates with "
    "uncertainty; they must not be used to start, stop or change treatment. Anyone concerned about "
    "their health should talk to a doctor, who can order the appropriate tests."
)

_YES, _NO = "reported", "not available"


def model_card_section(run: RunFolder) -> Section:
    metrics, subjects, ft, info = run.metrics, run.subjects, run.finetune_meta, run.run
    synthetic = run.synthetic
    tasks = run.task_names()
    if not tasks and metrics:
        tasks = sorted({k for p in metrics.get("splits", {}).values() for k, v in p.items() if isinstance(v, dict)})
    split = run.primary_split()
    items: list = []

    def item(name: str, ok: bool, text: str) -> None:
        items.append([name, _YES if ok else _NO, text])

    item(
        "Intended use",
        True,
        "Opportunistic screening aid from a face photograph or short video for adults: flags people who may "
        "benefit from a clinical check-up. Not a diagnostic device; not for children.",
    )
    sites = sorted(subjects["site"].unique()) if subjects is not None and "site" in subjects else []
    item(
        "Data source",
        subjects is not None,
        ("SYNTHETIC cohort generated with planted effects; " if synthetic else "")
        + (
            f"{len(subjects)} subjects from {len(sites)} site(s): {', '.join(map(str, sites))}."
            if subjects is not None
            else "cohort tables missing."
        ),
    )
    if subjects is not None and "age" in subjects:
        age = subjects["age"].dropna()
        sexes = ", ".join(f"{k} {v}" for k, v in subjects["sex"].value_counts().items()) if "sex" in subjects else "n/a"
        item("Participants", True, f"age {age.min():.0f}-{age.max():.0f} years; sex: {sexes}.")
    else:
        item("Participants", False, "participant characteristics not available.")
    item("Outcomes", bool(tasks), "tasks: " + (", ".join(map(str, tasks)) if tasks else "none (no fine-tuned model)."))
    item(
        "Predictors",
        run.exists("cohort_faces/summary.json"),
        "aligned face crops from the face pipeline (detection, 68-point landmarks, quality gate); "
        + (f"backbone {ft.backbone}." if ft else "backbone unknown."),
    )
    counts = run.predictions["split"].value_counts().to_dict() if run.predictions is not None else {}
    item(
        "Sample size",
        bool(counts),
        ", ".join(f"{k}: {v} subjects" for k, v in sorted(counts.items())) or "no evaluated predictions.",
    )
    item(
        "Missing data",
        subjects is not None,
        "subjects without a label are left out of that task's loss and metrics (see label coverage).",
    )
    item(
        "Analysis",
        metrics is not None,
        f"subject-level split; metrics with 95% percentile bootstrap CIs over subjects "
        f"({metrics.get('n_boot')} resamples); thresholds from the validation split."
        if metrics
        else "evaluation not run.",
    )
    has_subgroups = any(run.root.glob("studies/*subgroup*.csv")) or any(run.root.glob("evaluate/*subgroup*.csv"))
    item(
        "Fairness",
        has_subgroups,
        "subgroup estimates in the studies section." if has_subgroups else "no subgroup analysis in this run.",
    )
    external = bool(metrics and "external" in metrics.get("splits", {}))
    item(
        "Validation",
        metrics is not None,
        ("internal held-out test split" + (" and a held-out external site." if external else "; no external site."))
        if metrics
        else "not run.",
    )
    limitations = [
        "Face-based estimates can track age, sex, skin tone, lighting and camera rather than physiology.",
        "Performance outside the populations, cameras and sites seen in training is unknown.",
    ]
    if synthetic:
        limitations.insert(0, "All numbers come from SYNTHETIC data and say nothing about real-world accuracy.")
    item("Limitations", True, " ".join(limitations))
    item("Implementation", True, "runs locally; photos and results stay on the device; see the disclaimer above.")
    item(
        "Reproducibility",
        bool(info),
        "resolved configs are saved beside every stage output; run.json records stage timings.",
    )
    blocks: list = [Para(DISCLAIMER, "warn"), Table.of(["TRIPOD+AI item", "status", "this run"], items, "Checklist")]
    perf: list = []
    if metrics and split:
        for label, path in HEADLINE:
            cell = metric_cell(metrics, f"splits.{split}.{path}")
            if isinstance(cell, Metric):
                perf.append(Row((label, cell)))
    if perf:
        blocks.append(Table.of(["headline performance", f"{split} split, value [95% CI]"], perf))
    return Section("model-card", "Model card", tuple(blocks))
