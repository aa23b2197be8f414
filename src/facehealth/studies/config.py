"""``StudyConfig``: what ``facehealth study ...`` runs (``configs/study.yaml`` explains every key)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from facehealth.errors import ConfigError
from facehealth.models.tasks import TASK_NAMES
from facehealth.studies.arms import ARM_KINDS, arm_keys
from facehealth.studies.metrics import METRICS

__all__ = ["StudyConfig", "TASK_KIND", "DEFAULT_PRIMARY"]

TASK_KIND = {
    "biomarkers": "regression",
    "age": "regression",
    "survival": "cox",
    "cad": "binary",
    "affective": "multiclass",
}
DEFAULT_PRIMARY = {
    "biomarkers": "pearson_r",
    "age": "mae",
    "survival": "c_index",
    "cad": "auroc",
    "affective": "auroc_ovr",
}


def _default_arms() -> dict[str, dict[str, Any]]:
    return {
        "foundation": {"init_from": "runs/demo/pretrain/checkpoint-last.safetensors"},
        "vit_scratch": {"init_from": None},
        "resnet18": {"backbone": "resnet18", "init_from": None},
        "dlib_linear": {"kind": "descriptor"},
    }


@dataclass(frozen=True)
class StudyConfig:
    """What ``facehealth study ...`` runs (``configs/study.yaml`` explains every key)."""

    cohort: str = "runs/demo/cohort"
    prepared: str = "runs/demo/cohort_faces"
    out_dir: str = "runs/demo/studies"
    finetune_config: str | None = "configs/finetune.yaml"  # base recipe of every fine-tune arm
    finetune: dict[str, Any] = field(default_factory=dict)  # overrides on top of it, for every arm
    tasks: tuple[str, ...] = ("age", "cad", "survival")
    biomarkers: tuple[str, ...] = ()
    primary_metric: dict[str, str] = field(default_factory=dict)  # task -> metric; unset = DEFAULT_PRIMARY
    arms: dict[str, dict[str, Any]] = field(default_factory=_default_arms)
    reference_arm: str = "foundation"
    label_counts: tuple[int, ...] = (50, 100, 200, 400)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_boot: int = 1000
    stratify: str | None = "cad"  # keeps the outcome's share in every label subset
    split_seed: int = 0  # splits are made only when the cohort has no splits.csv
    external_sites: tuple[str, ...] = ()
    age_bands: tuple[float, ...] = (0, 40, 60, 120)
    # Subjects-table columns the subgroup study splits by; numeric ones are binned (age by age_bands).
    subgroups: tuple[str, ...] = ("age", "sex", "site")
    subgroup_splits: tuple[str, ...] = ("test", "external")
    min_subgroup: int = 10
    keep_checkpoints: bool = False  # fine-tune weights of every run (tens of MB each); metadata is always kept
    descriptor_cache: str | None = None  # dlib descriptors per subject; None = out_dir/cache/

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASK_NAMES]
        if unknown or not self.tasks:
            raise ConfigError(f"tasks: unknown {unknown or 'none given'}; choose from {', '.join(TASK_NAMES)}")
        for task, metric in self.primary_metric.items():
            allowed = METRICS[TASK_KIND[task]] if task in TASK_KIND else {}
            if metric not in allowed:
                raise ConfigError(f"primary_metric.{task}: '{metric}' not allowed; choose from {sorted(allowed)}")
        if not isinstance(self.arms, Mapping) or not self.arms:
            raise ConfigError("arms: give at least one arm, e.g. {dlib_linear: {kind: descriptor}}")
        for name, spec in self.arms.items():
            spec = spec or {}
            kind = spec.get("kind", "finetune")
            if kind not in ARM_KINDS:
                raise ConfigError(f"arms.{name}.kind: '{kind}' not allowed; choose from {', '.join(ARM_KINDS)}")
            bad = set(spec) - arm_keys(kind) - {"kind"}
            if bad:
                raise ConfigError(f"arms.{name}: unknown key(s) {sorted(bad)} for kind {kind}")
        if not self.label_counts or min(self.label_counts) < 2:
            raise ConfigError(f"label_counts: need positive counts >= 2, got {list(self.label_counts)}")
        if not self.seeds or self.n_boot < 1 or len(self.age_bands) < 2:
            raise ConfigError("seeds must be non-empty, n_boot >= 1 and age_bands at least two edges")

    def primary(self, task: str) -> str:
        return self.primary_metric.get(task, DEFAULT_PRIMARY[task])
