"""The packaged portraits: every listed file exists, ages sit inside their window."""

from pathlib import Path

import numpy as np

from facehealth.data.portraits import portrait_table
from facehealth.faces.io import read_image


def test_table_lists_existing_photos_with_sex_and_age_window() -> None:
    t = portrait_table()
    assert len(t) == 460
    assert all(Path(p).is_file() for p in t["path"])
    assert set(t["sex"]) == {"M", "F"}
    assert (t["age_low"] <= t["age"]).all() and (t["age"] <= t["age_high"]).all()
    assert 25 < t["age"].min() and t["age"].max() < 95


def test_photos_are_the_documented_size() -> None:
    image = read_image(portrait_table()["path"].iloc[0])
    assert image.shape == (275, 225, 3) and image.dtype == np.uint8
