"""``facehealth study ...``: the study designs (label efficiency, external sites, baselines, subgroups)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from facehealth.cli.common import (
    fail,
    out,
    progress_bar,
    study_app,
)
from facehealth.errors import FaceHealthError

StudyConfigOption = Annotated[Path | None, typer.Option("--config", help="Study YAML (configs/study.yaml).")]
StudyOut = Annotated[Path | None, typer.Option("--out", help="Output folder; overrides the config.")]


def _run_study(name: str, config: Path | None, out_dir: Path | None) -> None:
    from facehealth.config import load_config
    from facehealth.studies.config import StudyConfig
    from facehealth.workflow.designs import run_design

    try:
        cfg = load_config(StudyConfig, config, {"out_dir": str(out_dir)} if out_dir else None)
        # Only label efficiency reports progress (over its dozens of fine-tuning runs).
        with progress_bar("label efficiency (runs)") if name == "label_efficiency" else nullcontext() as update:
            outcome = run_design(name, cfg, on_progress=update)
    except FaceHealthError as exc:
        fail(exc)
    out.print(f"{name.replace('_', ' ')}: {outcome.rows} rows; tables and plots in {outcome.out_dir}")


@study_app.command("label-efficiency")
def study_label_efficiency(config: StudyConfigOption = None, out_dir: StudyOut = None) -> None:
    """Fine-tune every arm on n = 50, 100, 200, 400... labelled subjects (nested, seeded); metric vs n with CIs."""
    _run_study("label_efficiency", config, out_dir)


@study_app.command("external")
def study_external(config: StudyConfigOption = None, out_dir: StudyOut = None) -> None:
    """Train on the internal sites; report the internal test split and every held-out site separately."""
    _run_study("external", config, out_dir)


@study_app.command("baselines")
def study_baselines(config: StudyConfigOption = None, out_dir: StudyOut = None) -> None:
    """Every arm on identical splits, with paired comparisons against the reference (foundation) arm."""
    _run_study("baselines", config, out_dir)


@study_app.command("subgroups")
def study_subgroups(config: StudyConfigOption = None, out_dir: StudyOut = None) -> None:
    """Primary metric with CI by age band, sex and site (forest-plot data) with a heterogeneity test."""
    _run_study("subgroups", config, out_dir)
