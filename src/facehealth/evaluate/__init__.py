"""Clinical evaluation: pure metric functions and subject-level bootstrap confidence intervals."""

from facehealth.evaluate.bootstrap import MetricCI, bootstrap_ci

__all__ = ["MetricCI", "bootstrap_ci"]
