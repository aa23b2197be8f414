"""What a whole run shares between its driver and its stages: the config, the record, the stage names.

:mod:`facehealth.workflow.stages` reads :class:`RunConfig` and writes into :class:`RunRecord`;
:mod:`facehealth.workflow.run` runs the stages in :data:`STAGES` order. Both import this
module, and it imports neither, so the two never import each other.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facehealth.config import to_mapping
from facehealth.docblocks import machine as this_machine
from facehealth.evaluate.outputs import EvaluationConfig
from facehealth.faces.config import FacesConfig
from facehealth.studies.config import StudyConfig
from facehealth.train.config import FinetuneConfig, OptimConfig, PretrainConfig

__all__ = ["STAGES", "Progress", "RunConfig", "RunRecord", "config_summary"]

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
    """One whole run. Paths inside the nested stage configs are set by :func:`facehealth.workflow.run_pipeline`."""

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
    # Clinical analyses of the evaluation: Cox covariates and reference levels, subgroup columns,
    # a prior face-age model ("descriptor" = the FaceAge-style dlib-descriptor ridge fitted here).
    evaluation: EvaluationConfig = EvaluationConfig()
    # MAE pretraining sees only the training split's faces. True lets it see every prepared face
    # (test and external too): a transductive run, which the report's headline states.
    transductive_pretraining: bool = False
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
    machine: str = field(default_factory=this_machine)  # worded as in a benchmark block
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

    def finish(self) -> None:
        """Stamp the end time and save (a run without it stopped early)."""
        self.finished = _now()
        self.save()


def config_summary(cfg: RunConfig) -> dict[str, Any]:
    """The parts of the config a report shows (backbones, sizes, epochs)."""
    data = to_mapping(cfg)
    return {k: data[k] for k in ("pretrain", "finetune", "affective", "n_boot", "studies") if k in data}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
