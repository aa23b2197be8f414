"""The cohort report: one self-contained ``RUN/report.html`` describing a whole run.

    >>> from facehealth.report import build_report
    >>> build_report("runs/demo")  # doctest: +SKIP
    PosixPath('runs/demo/report.html')

Sections follow the run's stages (cohort, model and training, performance, studies,
explanations, robustness) and end with a model card; a stage whose files are missing is shown
as "not run". Figures are embedded as base64 PNG and the CSS is inline, so the file opens
offline and can be mailed as it is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from facehealth.report import plots
from facehealth.report.blocks import Figure, Para, Section, Table
from facehealth.report.model_card import model_card_section
from facehealth.report.performance import performance_section
from facehealth.report.run_folder import RunFolder
from facehealth.report.studies import explanations_section, robustness_section, studies_section

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["build_report", "run_sections"]

_FRAME_INPUT = {
    "pixels": "the aligned crop's pixels",
    "landmarks": "the 68 landmarks' motion (aligned, from the clip's median shape, in inter-ocular distances)",
    "both": "the crop's pixels and the 68 landmarks' motion",
}

_TASK_LABELS = {  # label coverage: (task, columns that must be present)
    "age": ("age",),
    "cad": ("cad",),
    "survival": ("survival_time", "survival_event"),
    "affective": ("affective",),
}


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the run's HTML report (default ``RUN/report.html``) and return its path.

    Args:
        run_dir: a run folder as written by ``facehealth demo`` / ``facehealth run``.
        out: where to write the HTML; defaults to ``run_dir/report.html``.
    """
    from facehealth.report.render import render_template

    run = RunFolder(run_dir)
    out = Path(out) if out is not None else run.root / "report.html"
    sections = run_sections(run)
    html = render_template(
        "report.html",
        title=f"facehealth report: {run.root.name}",
        run=run.run,
        synthetic=run.synthetic,
        held_out_in_pretraining=run.held_out_in_pretraining,
        run_dir=str(run.root),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


# Report section -> the run.json stages that produce its files (workflow.stages).
_STAGES = {
    "cohort": ("faces",),
    "training": ("pretrain", "finetune", "affective"),
    "performance": ("evaluate",),
    "studies": ("studies",),
    "explanations": ("explain",),
    "robustness": ("robustness",),
}


def run_sections(run: RunFolder) -> list[Section]:
    """Every section of the report, in reading order; a section that did not run says what run.json
    recorded for its stage (skipped or failed, and why)."""
    sections = _sections(run)
    out = []
    for s in sections:
        notes = []
        for stage in _STAGES.get(s.id, ()) if not s.ran else ():
            entry = (run.run.get("stages") or {}).get(stage)
            if isinstance(entry, dict) and entry.get("status") in ("skipped", "failed"):
                notes.append(f"stage '{stage}' {entry['status']}" + (f": {entry['note']}" if entry.get("note") else ""))
        out.append(dataclasses.replace(s, note=f"{s.note} ({'; '.join(notes)})") if notes else s)
    return out


def _sections(run: RunFolder) -> list[Section]:
    return [
        _run_section(run),
        _cohort_section(run),
        _training_section(run),
        performance_section(run),
        studies_section(run),
        explanations_section(run),
        robustness_section(run),
        model_card_section(run),
    ]


def _run_section(run: RunFolder) -> Section:
    info = run.run
    if not info:
        return Section.not_run("run", "Run", "run.json is missing: stage timings are unknown.")
    rows = [
        [name, s.get("status", "?"), s.get("seconds"), s.get("note", "")]
        for name, s in (info.get("stages") or {}).items()
        if isinstance(s, dict)
    ]
    facts = Table.of(
        ["profile", "synthetic data", "started", "finished", "machine"],
        [
            [
                info.get("profile"),
                bool(info.get("synthetic")),
                info.get("started"),
                info.get("finished"),
                info.get("machine"),
            ]
        ],
    )
    blocks = [facts]
    if rows:
        blocks.append(Table.of(["stage", "status", "seconds", "note"], rows, "Stages of the run"))
    return Section("run", "Run", tuple(blocks))


def _cohort_section(run: RunFolder) -> Section:
    subjects, summary = run.subjects, run.json("cohort_faces/summary.json")
    if subjects is None and summary is None:
        return Section.not_run("cohort", "Cohort", "cohort/subjects.csv and cohort_faces/summary.json are missing.")
    blocks: list = []
    if subjects is not None:
        media = run.table("cohort/media.csv")
        kinds = media["kind"].value_counts().to_dict() if media is not None and "kind" in media else {}
        rows = [
            ["subjects", len(subjects)],
            ["media files", len(media) if media is not None else None],
            *[[f"  {k}s", int(v)] for k, v in sorted(kinds.items())],
            ["sites", ", ".join(f"{k} ({v})" for k, v in sorted(subjects["site"].value_counts().items()))]
            if "site" in subjects
            else ["sites", None],
        ]
        if "split" in subjects:
            counts = subjects["split"].value_counts()
            rows.append(["subjects per split", ", ".join(f"{k} {int(v)}" for k, v in sorted(counts.items()))])
        if "age" in subjects:
            rows.append(["age (years), median [IQR]", _median_iqr(subjects["age"])])
        if "sex" in subjects:
            rows.append(["sex", ", ".join(f"{k} {int(v)}" for k, v in sorted(subjects["sex"].value_counts().items()))])
        blocks.append(Table.of(["", "value"], rows, "Cohort description"))
        blocks.append(_label_coverage(subjects))
    else:
        blocks.append(Para("cohort/subjects.csv is missing: subject-level description not available.", "note"))
    if summary is not None:
        rows = [[k, summary.get(k)] for k in ("items", "frames", "faces_detected", "crops", "unreadable")]
        blocks.append(Table.of(["face preparation", "count"], rows, "Quality control (cohort_faces/summary.json)"))
        rejections = summary.get("rejections") or {}
        if not rejections:
            table = run.table("cohort_faces/rejections.parquet")
            if table is not None and {"reason", "count"} <= set(table.columns):
                rejections = table.groupby("reason")["count"].sum().astype(int).to_dict()
        if rejections:
            blocks.append(Table.of(["rejection reason", "count"], [[k, int(v)] for k, v in sorted(rejections.items())]))
            blocks.append(Figure("QC rejections by reason", plots.bar_counts(rejections, "Faces/frames rejected")))
        else:
            blocks.append(Para("No face or frame was rejected by the quality gate."))
    else:
        blocks.append(Para("Face preparation (cohort_faces/summary.json): not run.", "note"))
    sheet = run.path("cohort/contact_sheet.png")
    if sheet.is_file():
        blocks.append(Figure("Contact sheet", sheet.read_bytes(), "A sample of the cohort's photographs."))
    return Section("cohort", "Cohort", tuple(blocks))


def _median_iqr(values: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return "n/a"
    q1, q2, q3 = v.quantile([0.25, 0.5, 0.75])
    return f"{q2:.1f} [{q1:.1f}, {q3:.1f}]"


def _label_coverage(subjects: pd.DataFrame) -> Table:
    from facehealth.data.biomarkers import BIOMARKERS

    n = len(subjects)
    rows = []
    markers = [c for c in subjects.columns if c in BIOMARKERS]
    if markers:
        any_marker = subjects[markers].notna().any(axis=1).sum()
        rows.append(["biomarkers", f"{len(markers)} markers", int(any_marker), f"{any_marker / max(n, 1):.0%}"])
    for task, cols in _TASK_LABELS.items():
        if not set(cols) <= set(subjects.columns):
            continue
        have = subjects[list(cols)].notna().all(axis=1)
        detail = ""
        if task == "cad":
            detail = f"{int(subjects.loc[have, 'cad'].sum())} positive"
        elif task == "survival":
            detail = f"{int(subjects.loc[have, 'survival_event'].sum())} events"
        elif task == "affective":
            detail = ", ".join(f"{k} {int(v)}" for k, v in subjects.loc[have, "affective"].value_counts().items())
        rows.append([task, detail, int(have.sum()), f"{have.sum() / max(n, 1):.0%}"])
    return Table.of(["task", "detail", "subjects labelled", "coverage"], rows, "Label coverage per task")


def _training_section(run: RunFolder) -> Section:
    pre_meta, pre_hist = run.pretrain_meta, run.jsonl("pretrain/metrics.jsonl")
    ft = run.finetune_meta
    if pre_meta is None and not pre_hist and not run.history() and not run.history("finetune_affective"):
        return Section.not_run("training", "Model and training", "No pretraining or fine-tuning output was found.")
    blocks: list = []
    rows = []
    if ft is not None:
        rows += [
            ["backbone", ft.backbone],
            ["input size (px)", ft.img_size],
            ["input / pooling", f"{ft.input} / {ft.pooling}"],
            ["tasks", ", ".join(f"{t.name} ({t.kind})" for t in ft.tasks)],
            ["best epoch", ft.best_epoch],
        ]
    init = ft.config.get("init_from") if ft else None
    chain = ["ImageNet/timm or random initialisation"]
    if pre_meta is not None:
        chain = [str(pre_meta.init_from or "random initialisation")]
        chain.append(f"MAE pretraining ({pre_meta.backbone}, {pre_meta.epoch} epochs)")
    if ft is not None:
        chain.append("multi-task fine-tuning" + (f" from {Path(init).name}" if init else ""))
    rows.append(["pretraining chain", " \u2192 ".join(chain)])
    if pre_meta is not None:
        rows.append(["pretraining images", pre_meta.n_images])
    if run.predictions is not None and "split" in run.predictions:
        counts = run.predictions["split"].value_counts()
        rows.append(["evaluated subjects per split", ", ".join(f"{k} {int(v)}" for k, v in sorted(counts.items()))])
    blocks.append(Table.of(["", "value"], rows, "Model"))
    if pre_hist:
        x = [r.get("epoch", i + 1) for i, r in enumerate(pre_hist)]
        fig = plots.loss_curves({"train": (x, [r.get("loss") for r in pre_hist])}, "MAE pretraining", "MSE")
        blocks.append(Figure("MAE reconstruction loss", fig, "Masked-patch reconstruction loss per epoch."))
    else:
        blocks.append(Para("MAE pretraining: not run.", "note"))
    for stage, title in (
        ("finetune", "Fine-tuning (image model)"),
        ("finetune_affective", "Fine-tuning (video model)"),
    ):
        history = run.history(stage)
        if history:
            x = [h.get("epoch", i + 1) for i, h in enumerate(history)]
            series = {k: (x, [h.get(f"{k}_loss") for h in history]) for k in ("train", "val")}
            fig = plots.loss_curves(series, title, "multi-task loss")
            blocks.append(Figure(title, fig, "Training and validation loss per epoch."))
        elif stage == "finetune" or run.exists(stage):
            blocks.append(Para(f"{title}: not run.", "note"))
    affective = run.checkpoint_meta("finetune_affective")
    if affective is not None:
        tasks = ", ".join(t.name for t in affective.tasks)
        blocks.append(
            Table.of(
                ["video model", "value"],
                [
                    [
                        "backbone",
                        "none (reads landmark motion only)"
                        if affective.frame_input == "landmarks"
                        else affective.backbone,
                    ],
                    ["input / pooling", f"{affective.input} / {affective.pooling}"],
                    ["per frame", _FRAME_INPUT.get(affective.frame_input, "?")],
                    ["tasks", tasks],
                    ["frames per clip", affective.frames],
                ],
            )
        )
    return Section("training", "Model and training", tuple(blocks))
