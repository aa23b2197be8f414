"""A whole run in one command: ``facehealth run`` (a user's cohort) and ``facehealth demo`` (synthetic)."""

from facehealth.workflow.records import STAGES, Progress, RunConfig, RunRecord
from facehealth.workflow.run import run_pipeline

__all__ = ["RunConfig", "RunRecord", "Progress", "run_pipeline", "STAGES"]
