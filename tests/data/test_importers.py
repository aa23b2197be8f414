"""Importers, each run on a tiny stand-in written here in the dataset's own layout (never downloaded)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from scipy.io import savemat

from facehealth.data.importers import (
    import_agedb,
    import_csv,
    import_dataset,
    import_folder,
    import_imdb_wiki,
    import_utkface,
)
from facehealth.data.validate import validate_cohort
from facehealth.errors import ConfigError, SchemaError


def _jpg(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    cv2.imwrite(str(path), img)
    return path


def test_utkface(tmp_path):
    src = tmp_path / "UTKFace"
    _jpg(src / "25_0_2_20170116174525125.jpg.chip.jpg")
    _jpg(src / "61_1_0_20170109142408075.jpg", 1)
    _jpg(src / "broken_name.jpg", 2)
    (src / "notes.txt").write_text("x")
    summary = import_utkface(src, tmp_path / "cohort")
    assert (summary.subjects, summary.media) == (2, 2)
    assert summary.skipped == {"name not age_gender_race_date": 1}
    subjects = pd.read_csv(tmp_path / "cohort" / "subjects.csv").sort_values("age")
    assert subjects[["age", "sex", "race"]].values.tolist() == [[25, "M", "Asian"], [61, "F", "White"]]
    assert validate_cohort(tmp_path / "cohort").ok
    assert json.loads((tmp_path / "cohort" / "import_report.json").read_text())["skipped"]


def _datenum(year, month=1, day=1):
    from datetime import date

    return (date(year, month, day) - date(1970, 1, 1)).days + 719529


def test_imdb_wiki_mat(tmp_path):
    root = tmp_path / "wiki_crop"
    paths = ["17/a.jpg", "17/b.jpg", "18/c.jpg", "18/d.jpg", "19/e.jpg"]
    for i, p in enumerate(paths[:4]):
        _jpg(root / p, i)
    struct = {
        "dob": np.array([[_datenum(1950), _datenum(1980), _datenum(1990), _datenum(1960), _datenum(1970)]], float),
        "photo_taken": np.array([[2000, 2010, 2012, 2005, 2009]]),
        "full_path": np.array([np.array([p]) for p in paths], dtype=object).reshape(1, -1),
        "gender": np.array([[1.0, 0.0, np.nan, 1.0, 0.0]]),
        "name": np.array([np.array([n]) for n in ["Ann A", "Bob B", "Cy C", "Dee D", "Eve E"]], dtype=object).reshape(
            1, -1
        ),
        "face_score": np.array([[3.1, 2.5, -np.inf, 4.0, 2.0]]),
        "second_face_score": np.array([[np.nan, np.nan, np.nan, 1.5, np.nan]]),
    }
    savemat(root / "wiki.mat", {"wiki": struct})
    summary = import_imdb_wiki(root / "wiki.mat", tmp_path / "cohort")
    assert (summary.subjects, summary.media) == (2, 2)
    assert summary.skipped == {"no face (face_score = -inf)": 1, "second face in the photo": 1, "image file missing": 1}
    subjects = pd.read_csv(tmp_path / "cohort" / "subjects.csv").set_index("subject_id")
    assert subjects.loc["Ann_A", "age"] == 50 and subjects.loc["Ann_A", "sex"] == "M"
    assert subjects.loc["Bob_B", "age"] == 30 and subjects.loc["Bob_B", "sex"] == "F"
    assert validate_cohort(tmp_path / "cohort").ok
    savemat(tmp_path / "other.mat", {"something": np.zeros(3)})
    with pytest.raises(SchemaError, match="expected a 'wiki' or 'imdb' struct"):
        import_imdb_wiki(tmp_path / "other.mat", tmp_path / "x")


def test_agedb(tmp_path):
    src = tmp_path / "AgeDB"
    _jpg(src / "0_MariaCallas_35_f.jpg")
    _jpg(src / "1_MariaCallas_50_f.jpg", 1)
    _jpg(src / "2_JohnDoe_70_m.jpg", 2)
    _jpg(src / "bad.jpg", 3)
    summary = import_agedb(src, tmp_path / "cohort")
    assert (summary.subjects, summary.media) == (2, 3) and summary.skipped == {"name not id_name_age_gender": 1}
    media = pd.read_csv(tmp_path / "cohort" / "media.csv")
    assert sorted(media["age_at_photo"]) == [35, 50, 70]
    subjects = pd.read_csv(tmp_path / "cohort" / "subjects.csv").set_index("subject_id")
    assert subjects.loc["MariaCallas", "age"] == 35
    assert validate_cohort(tmp_path / "cohort").ok


def test_generic_csv(tmp_path):
    _jpg(tmp_path / "imgs" / "a.jpg")
    _jpg(tmp_path / "imgs" / "b.jpg", 1)
    pd.DataFrame(
        {
            "file": ["imgs/a.jpg", "imgs/b.jpg", "imgs/c.jpg"],
            "person": ["p1", "p1", "p2"],
            "years": ["40", "41", "x"],
            "gender": ["female", "female", "male"],
        }
    ).to_csv(tmp_path / "t.csv", index=False)
    summary = import_csv(
        tmp_path / "t.csv",
        tmp_path / "cohort",
        path_col="file",
        subject_col="person",
        age_col="years",
        sex_col="gender",
    )
    assert (summary.subjects, summary.media) == (1, 2) and summary.skipped == {"image file missing": 1}
    assert validate_cohort(tmp_path / "cohort").ok
    with pytest.raises(SchemaError, match="no column 'nope'"):
        import_csv(tmp_path / "t.csv", tmp_path / "x", path_col="nope")


def test_plain_folder_for_pretraining(tmp_path):
    src = tmp_path / "ffhq"
    for i in range(3):
        _jpg(src / f"{i // 2:05d}" / f"{i:05d}.png", i)
    (src / "LICENSE.txt").write_text("x")
    summary = import_folder(src, tmp_path / "list")
    assert summary.media == 3 and summary.skipped == {"not an image": 1}
    listed = pd.read_csv(tmp_path / "list" / "images.csv")["path"]
    assert len(listed) == 3 and all(p.endswith(".png") for p in listed)
    with pytest.raises(SchemaError, match="no images"):
        import_folder(tmp_path / "list", tmp_path / "again")


def test_import_dataset_picks_the_importer_by_kind(tmp_path):
    _jpg(tmp_path / "utk" / "30_1_0_2017.jpg")
    _jpg(tmp_path / "flat" / "a.jpg")
    (tmp_path / "list.csv").write_text("path,person\nflat/a.jpg,p1\n")
    assert import_dataset("utkface", tmp_path / "utk", tmp_path / "c1").as_dict()["subjects"] == 1
    summary = import_dataset("csv", tmp_path / "list.csv", tmp_path / "c2", subject_col="person")
    assert summary.media == 1 and "p1" in (tmp_path / "c2" / "subjects.csv").read_text()
    assert import_dataset("folder", tmp_path / "flat", tmp_path / "c3").media == 1
    with pytest.raises(ConfigError, match="unknown dataset kind 'celeba'; use one of utkface, imdb-wiki"):
        import_dataset("celeba", tmp_path / "utk", tmp_path / "c4")
