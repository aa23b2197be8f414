"""The packaged public-domain portraits (see README.md here): files, sex and an approximate age.

    >>> t = portrait_table()
    >>> len(t), sorted(t.columns)[:3]
    (460, ['age', 'age_high', 'age_low'])
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["PORTRAIT_DIR", "PHOTO_YEAR", "portrait_table"]

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
