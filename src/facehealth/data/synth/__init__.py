"""Synthetic cohorts with planted, known effects (the demo's data and the tests' oracle)."""

from facehealth.data.synth.generate import SynthConfig, synthesize_cohort

__all__ = ["SynthConfig", "synthesize_cohort"]
