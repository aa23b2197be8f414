"""Labels as the models learn them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from facehealth.data.biomarkers import LOG_FLOOR
from facehealth.data.cohort import load_cohort
from facehealth.data.labels import AFFECTIVE_CODE, is_synthetic_cohort, model_scale, subject_labels_with_codes


def test_skewed_markers_are_learned_on_the_log_scale():
    values = pd.Series([10.0, "n/a", 0.0])
    np.testing.assert_allclose(model_scale(values, "total_bilirubin"), [np.log(10.0), np.nan, np.log(LOG_FLOOR)])
    np.testing.assert_allclose(model_scale(pd.Series([13.5]), "haemoglobin"), [13.5])  # symmetric: as is


def test_affective_classes_become_head_codes_and_synthetic_cohorts_are_recognised(synth_cohort, tmp_path):
    labels = subject_labels_with_codes(load_cohort(synth_cohort, check_files=False))
    assert labels.groupby("subject_id").size().max() == 1
    if "affective" in labels.columns:
        coded = labels.dropna(subset=["affective"])
        assert set(coded[AFFECTIVE_CODE]) <= {0, 1, 2}
    assert is_synthetic_cohort(synth_cohort) and not is_synthetic_cohort(tmp_path)
