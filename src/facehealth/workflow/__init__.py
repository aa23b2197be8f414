"""A whole study in one command: ``facehealth run`` (a user's cohort) and ``facehealth demo`` (synthetic)."""

from facehealth.workflow.run import STAGES, RunConfig, RunRecord, run_study

__all__ = ["RunConfig", "RunRecord", "run_study", "STAGES"]
