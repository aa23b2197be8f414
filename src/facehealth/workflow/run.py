"""The whole study as one run: faces -> pretraining -> fine-tuning -> evaluation -> explanations -> report.

``facehealth run --cohort DIR --config configs/run.yaml`` and ``facehealth demo`` (which first
synthesizes a cohort) both call :func:`run_study`. Every stage writes into its own sub-folder
of the run folder (the layout is in docs/run_folder.md) and is recorded in ``run.json`` with
its status and duration as soon as it ends, so a failed or interrupted run shows how far it
got, and ``resume=True`` skips stages already done with the same config.

Stages that depend on optional parts (the affective video model, studies, explanations,
robustness) are skipped, and recorded as skipped with the reason, when the config turns them
off or the cohort lacks what they need (e.g. no affective labels).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facehealth.config import save_resolved, to_mapping
from facehealth.errors import FaceHealthError
from facehealth.faces.config import FacesConfig
from facehealth.studies.config import StudyConfig
from facehealth.train.config import FinetuneConfig, OptimConfig, PretrainConfig

__all__ = ["RunConfig", "RunRecord", "run_study", "Progress", "STAGES"]

STAGES = (
    "faces",
    "pretrain",
    "finetune",
    "affective",
    "evaluate",
    "studies",
    "explain",
    "robustness",
    "report",
)

# progress(stage) -> a (done, total) callback; the CLI turns these into Rich progress bars.
Progress = Callable[[str], Callable[[int, int], None]]


@dataclass(frozen=True)
class RunConfig:
    """One study run. Paths inside the nested stage configs are filled in by :func:`run_study`."""

    out_dir: str = "runs/study"
    workers: int = 2  # face preparation processes
    seed: int = 0
    external_sites: tuple[str, ...] = ()  # whole sites held out when the cohort has no splits.csv
    faces: FacesConfig = FacesConfig()
    # null = no self-supervised stage; fine-tuning then starts from finetune.init_from (or random).
    pretrain: PretrainConfig | None = PretrainConfig(
        backbone="vit_tiny_patch16", img_size=112, epochs=10, batch_size=64, optim=OptimConfig(base_lr=1.5e-3)
    )
    finetune: FinetuneConfig = FinetuneConfig(backbone="vit_tiny_patch16", img_size=112, epochs=15)
    # Emoface's video model (frame sequences, temporal pooling); null = off. Skipped when the
    # cohort has no videos or no affective labels.
    affective: FinetuneConfig | None = None
    n_boot: int = 1000  # bootstrap resamples of subjects for every CI
    studies: tuple[str, ...] = ()  # any of: label_efficiency, external, baselines, subgroups
    # Settings of those studies; cohort, prepared crops and output folder are the run's, the
    # "foundation" arm starts from this run's MAE encoder, and `study.finetune` holds overrides
    # of the run's own fine-tuning recipe (e.g. a smaller input for dozens of runs).
    study: StudyConfig = StudyConfig(finetune_config=None, label_counts=(25, 50, 100), seeds=(0, 1))
    explain: bool = True
    robustness: bool = True
    report: bool = True
    synthetic: bool = False  # set by the demo: the report carries a "synthetic data" banner


@dataclass
class RunRecord:
    """What ``run.json`` holds; written after every stage."""

    out_dir: Path
    profile: str = "custom"
    synthetic: bool = False
    started: str = field(default_factory=lambda: _now())
    finished: str | None = None
    machine: str = field(default_factory=lambda: _machine())
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    headline: dict[str, Any] = field(default_factory=dict)

    def save(self) -> Path:
        path = self.out_dir / "run.json"
        payload = {k: v for k, v in dataclasses.asdict(self).items() if k != "out_dir"}
        path.write_text(json.dumps(payload, indent=2, default=str))
        return path

    def stage(self, name: str, status: str, seconds: float = 0.0, note: str = "", **extra: Any) -> None:
        self.stages[name] = {"status": status, "seconds": round(seconds, 2), "note": note, **extra}
        self.save()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"


def run_study(
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
    from facehealth.workflow.stages import STAGE_FUNCTIONS, StageContext

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
    record.finished = _now()
    record.save()
    return record


def config_summary(cfg: RunConfig) -> dict[str, Any]:
    """The parts of the config a report shows (backbones, sizes, epochs)."""
    data = to_mapping(cfg)
    return {k: data[k] for k in ("pretrain", "finetune", "affective", "n_boot", "studies") if k in data}
