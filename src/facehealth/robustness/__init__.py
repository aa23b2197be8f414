"""Robustness: image perturbations, clean-vs-perturbed agreement and the perturbation suite.

Submodules load lazily (nothing heavy at import time):
    perturb    PERTURBATIONS registry, apply_perturbation
    agreement  icc, icc_pair, cohen_kappa
    suite      run_robustness
"""

__all__ = ["perturb", "agreement", "regions", "suite", "plots"]
