"""The whole pipeline as one run: faces -> pretraining -> fine-tuning -> evaluation -> explanations -> report.

``facehealth run --cohort DIR --config configs/run.yaml`` and ``facehealth demo`` (which first
synthesizes a cohort) both call :func:`run_pipeline`. Every stage writes into its own sub-folder
of the run folder (the layout is in docs/run_folder.md) and is recorded in ``run.json`` with
its status and duration as soon as it ends, so a failed or interrupted run shows how far it
got. The config and the record are in :mod:`facehealth.workflow.records`.

Stages that depend on optional parts (the affective video model, studies, explanations,
robustness) are skipped, and recorded as skipped with the reason, when the config turns them
off or the cohort lacks what they need (e.g. no affective labels).
"""

from __future__ import annotations

import time
from pathlib import Path

from facehealth.config import save_resolved
from facehealth.errors import FaceHealthError
from facehealth.workflow.records import STAGES, Progress, RunConfig, RunRecord
from facehealth.workflow.stages import STAGE_FUNCTIONS, StageContext

__all__ = ["run_pipeline"]


def run_pipeline(
    cfg: RunConfig,
    cohort: str | Path,
    progress: Progress | None = None,
    profile: str = "custom",
    record: RunRecord | None = None,
) -> RunRecord:
    """Run every configured stage on ``cohort`` into ``cfg.out_dir``; returns the run record.

    Raises:
        FaceHealthError: a stage failed; ``run.json`` records which and why.
    """
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_resolved(cfg, out)
    record = record or RunRecord(out, profile=profile, synthetic=cfg.synthetic)
    record.save()
    ctx = StageContext(cfg=cfg, cohort=Path(cohort), out=out, progress=progress, record=record)
    for name in STAGES:
        skip = STAGE_FUNCTIONS[name].skip_reason(ctx)
        if skip:
            record.stage(name, "skipped", note=skip)
            continue
        start = time.perf_counter()
        try:
            note = STAGE_FUNCTIONS[name].run(ctx) or ""
        except FaceHealthError as exc:
            record.stage(name, "failed", time.perf_counter() - start, note=str(exc))
            raise
        record.stage(name, "done", time.perf_counter() - start, note=note)
    record.finish()
    return record
