"""``facehealth demo|run``: the whole pipeline, on the synthetic cohort or on yours."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from facehealth.cli.common import (
    app,
    fail,
    out,
    print_prepare_summary,
    stage_bars,
)
from facehealth.errors import FaceHealthError


def _print_run(record: Any) -> None:
    for name, stage in record.stages.items():
        colour = {"done": "green", "skipped": "yellow", "failed": "red"}.get(stage["status"], "white")
        note = f" - {stage['note']}" if stage.get("note") else ""
        out.print(f"[{colour}]{stage['status']:>7}[/] {name} ({stage['seconds']:.0f} s){note}")
    if record.headline:
        out.print("[bold]Headline numbers[/] (95% CI, subject bootstrap; reference: training mean/prevalence/chance):")
        for name, v in record.headline.items():
            ref = f"; reference {v['reference']:.3f}: {v['versus_reference']}" if "reference" in v else ""
            if "recovery" in v:
                r = v["recovery"]
                ref += f"; oracle {v['oracle']:.3f}, recovery {r['value']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"
            out.print(f"  {name}: {v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}] (n={v['n_subjects']}){ref}")
    report = record.out_dir / "report.html"
    out.print(f"report: {report}" if report.is_file() else f"run folder: {record.out_dir}")


@app.command("demo")
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Run folder.")] = Path("runs/demo"),
    profile: Annotated[str, typer.Option(help="quick (minutes on 2 cores) or full (under 30 min).")] = "quick",
    subjects: Annotated[int | None, typer.Option(help="Synthetic subjects (default: 300).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    workers: Annotated[int, typer.Option(help="Face-preparation processes.")] = 2,
    config: Annotated[
        Path | None, typer.Option(help="YAML of run settings merged over the profile (keys of configs/run.yaml).")
    ] = None,
) -> None:
    """The main job on synthetic data: cohort -> faces -> pretrain -> fine-tune -> evaluate -> report."""
    from facehealth.config import read_yaml_mapping
    from facehealth.demo import run_demo

    try:
        overrides = read_yaml_mapping(config) if config else None
        with stage_bars() as stage:
            result = run_demo(
                out_dir,
                profile=profile,
                subjects=subjects,
                seed=seed,
                workers=workers,
                progress=stage,
                overrides=overrides,
            )
    except FaceHealthError as exc:
        fail(exc)
    out.print(
        f"[bold]Synthetic cohort[/] {result.cohort_dir}; splits by subject: "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.splits.items()))
    )
    print_prepare_summary(result.showcase)
    _print_run(result.record)


@app.command("run")
def run_cmd(
    cohort: Annotated[Path, typer.Option(help="Cohort folder (docs/cohort_format.md).")],
    config: Annotated[Path | None, typer.Option(help="Run YAML (configs/run.yaml).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder; overrides the config.")] = None,
) -> None:
    """The whole pipeline on your cohort: faces -> pretrain -> fine-tune -> evaluate -> explain -> report."""
    from facehealth.config import load_config
    from facehealth.workflow import RunConfig, run_pipeline

    overrides = {"out_dir": str(out_dir)} if out_dir else {}
    try:
        cfg = load_config(RunConfig, config, overrides)
        with stage_bars() as stage:
            record = run_pipeline(cfg, cohort, progress=stage)
    except FaceHealthError as exc:
        fail(exc)
    _print_run(record)
