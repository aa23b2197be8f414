from __future__ import annotations

import cv2
import pandas as pd
import pytest

from facehealth.errors import SchemaError
from facehealth.explain.facial_map import affective_facial_map

MOUTH_CORNERS = [48, 54, 60, 64]
NOSE_BRIDGE = [27, 28, 29, 30]


def test_facial_map_of_synthetic_videos_ranks_the_mouth_above_the_nose(affective_videos, tmp_path):
    cohort, prepared = affective_videos
    labels = pd.read_csv(cohort / "labels.csv")
    result = affective_facial_map(prepared, labels, tmp_path / "map", max_faces=40)
    n_bpd, n_mdd = (labels["affective"] == "BPD").sum(), (labels["affective"] == "MDD").sum()
    assert result.n_videos["BPD"] <= n_bpd and result.n_videos["MDD"] <= n_mdd
    # Every video is accounted for: compared, or excluded (healthy, or too few frames).
    assert sum(result.n_videos.values()) + result.n_excluded == labels["subject_id"].nunique()
    table = result.motion.set_index("landmark")
    assert table.loc[MOUTH_CORNERS, "score"].mean() > table.loc[NOSE_BRIDGE, "score"].mean() + 0.3
    saved = pd.read_csv(tmp_path / "map" / "landmark_significance.csv")
    assert len(saved) == 68 and saved["score"].tolist() == pytest.approx(result.motion["score"].tolist())
    for key in ("motion_map", "heatmap", "standard_2d"):
        image = cv2.imread(str(result.files[key]))
        assert image is not None and image.shape[0] > 200 and image.std() > 10, key


def test_facial_map_needs_both_groups(affective_videos, tmp_path):
    cohort, prepared = affective_videos
    labels = pd.read_csv(cohort / "labels.csv").assign(affective="healthy")
    with pytest.raises(SchemaError, match="no videos of group"):
        affective_facial_map(prepared, labels, tmp_path / "map")
