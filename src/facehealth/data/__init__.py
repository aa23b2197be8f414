"""Cohorts: the table format, validation, subject-level splits, synthetic cohorts, importers, datasets.

Importing this package is light; torch is only imported by ``facehealth.data.datasets``.
"""

from facehealth.data.biomarkers import BIOMARKERS, SYSTEMS, Biomarker, get_biomarker
from facehealth.data.cohort import Cohort, load_cohort
from facehealth.data.splits import assert_no_leakage, make_splits
from facehealth.data.validate import ValidationReport, validate_cohort

__all__ = [
    "BIOMARKERS",
    "SYSTEMS",
    "Biomarker",
    "get_biomarker",
    "Cohort",
    "load_cohort",
    "assert_no_leakage",
    "make_splits",
    "ValidationReport",
    "validate_cohort",
]
