"""The packaged public-domain portraits (see README.md here): files, sex and an approximate age.

>>> t = portrait_table()
>>> len(t), sorted(t.columns)[:3]
(460, ['age', 'age_high', 'age_low'])
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["PORTRAIT_DIR", "PHOTO_YEAR", "portrait_table", "write_example_cohort", "localise_walkthrough"]

PORTRAIT_DIR = Path(__file__).resolve().parent
# The photos were collected for the 113th Congress (2013-2015); the window's upper end uses mid-2014.
PHOTO_YEAR = pd.Timestamp("2014-07-01")


def portrait_table(directory: Path = PORTRAIT_DIR) -> pd.DataFrame:
    """One row per portrait: ``file``, ``path``, ``sex``, ``age_low``, ``age_high``, ``age``.

    The age at the photo is unknown; it lies between the age when the person first took office
    (an official photo is taken at or after that) and the age in mid-2014 (when the collection was
    made). ``age`` is the midpoint of that window; ``age_high - age_low`` says how noisy it is.
    """
    table = pd.read_csv(directory / "portraits.csv", dtype=str)
    birth = pd.to_datetime(table["birth_date"])
    start = pd.to_datetime(table["first_term_start"]).fillna(PHOTO_YEAR)
    years = 365.25 * 24 * 3600
    low = (start.clip(upper=PHOTO_YEAR) - birth).dt.total_seconds() / years
    high = (PHOTO_YEAR - birth).dt.total_seconds() / years
    return pd.DataFrame(
        {
            "file": table["file"],
            "path": [str(directory / f) for f in table["file"]],
            "sex": table["sex"],
            "age_low": low.round(1),
            "age_high": high.round(1),
            "age": ((low + high) / 2).round(1),
        }
    )


def write_example_cohort(out: str | Path, subjects: int = 20, seed: int = 0) -> Path:
    """Write a cohort in the README's minimal format from ``subjects`` packaged portraits.

    ``out/photos/P01.jpg ...`` plus ``subjects.csv`` (subject_id, age, sex, site), ``media.csv``
    (media_id, subject_id, path, kind) and ``labels.csv`` (subject_id, cad): what a user writes for
    their own photos, so the README's walkthrough can be tried (and is tested) without any. Age is the
    portrait's approximate age; ``cad`` is a **placeholder** (half the subjects, at random) that
    gives the CAD head something to fit and means nothing.
    """
    out = Path(out)
    (out / "photos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    table = portrait_table()
    picked = table.iloc[np.sort(rng.choice(len(table), size=subjects, replace=False))]
    cad = rng.permutation(np.arange(subjects) % 2)
    ids = [f"P{i:02d}" for i in range(1, subjects + 1)]
    for sid, path in zip(ids, picked["path"]):
        shutil.copy(path, out / "photos" / f"{sid}.jpg")
    pd.DataFrame({"subject_id": ids, "age": picked["age"].to_numpy(), "sex": picked["sex"].to_numpy()}).assign(
        site="hospital_a"
    ).to_csv(out / "subjects.csv", index=False)
    media = {"media_id": [f"{s}_1" for s in ids], "subject_id": ids, "path": [f"photos/{s}.jpg" for s in ids]}
    pd.DataFrame(media).assign(kind="image").to_csv(out / "media.csv", index=False)
    pd.DataFrame({"subject_id": ids, "cad": cad}).to_csv(out / "labels.csv", index=False)
    return out


def localise_walkthrough(words: list[str], cohort: Path, run: Path, repo: Path) -> list[str]:
    """A README walkthrough command with its example folders set to ``cohort`` and ``run``.

    The README writes ``my_cohort`` and ``runs/my_first_run``; configs are read from ``repo``.
    """
    swap = {"my_cohort": str(cohort), "runs/my_first_run": str(run)}
    return [swap.get(w, str(repo / w) if w.startswith("configs/") else w) for w in words]
