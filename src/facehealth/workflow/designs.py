"""Study designs by name: ``facehealth study NAME`` and the studies stage of a whole run.

The designs themselves are in :mod:`facehealth.studies.designs`; this module picks one by the
name a user writes (on the command line, or in ``studies:`` of a run config) and counts the rows
of what it wrote, so the CLI, the run and the web service choose and summarise designs alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facehealth.errors import ConfigError
from facehealth.studies.config import StudyConfig

__all__ = ["STUDY_NAMES", "StudyOutcome", "run_design"]

# In the order a run runs them: label efficiency first, the others reuse its full-data runs.
STUDY_NAMES = ("label_efficiency", "external", "baselines", "subgroups")


@dataclass(frozen=True)
class StudyOutcome:
    """What one design wrote: its result rows (arm x metric x ...) and the folder of tables and plots."""

    name: str
    rows: int
    out_dir: Path


def run_design(name: str, cfg: StudyConfig, on_progress: Callable[[int, int], None] | None = None) -> StudyOutcome:
    """Run the study design called ``name`` (one of :data:`STUDY_NAMES`) with ``cfg``.

    Args:
        on_progress: ``(done, total)`` over the fine-tuning runs; only label efficiency, which
            trains dozens, reports it.

    Raises:
        ConfigError: ``name`` is not a design, or ``cfg`` is invalid for it.
    """
    from facehealth.studies import designs

    if name == "label_efficiency":
        rows = len(designs.label_efficiency(cfg, on_progress=on_progress))
    elif name == "external":
        rows = _external_rows(designs.external_validation(cfg))
    elif name == "baselines":
        rows = len(designs.baseline_table(cfg))
    elif name == "subgroups":
        rows = len(designs.subgroup_study(cfg))
    else:
        raise ConfigError(f"unknown study '{name}'; choose from {', '.join(STUDY_NAMES)}")
    return StudyOutcome(name, rows, Path(cfg.out_dir))


def _external_rows(external: dict) -> int:
    """external_validation returns a dict; its rows are the (arm, cohort, site, metric) rows."""
    return sum(
        len(rows)
        for arm in external.get("arms", {}).values()
        for rows in [arm.get("internal_test", []), *arm.get("external", {}).values()]
    )
