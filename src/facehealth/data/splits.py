"""Subject-level splits: train/val/test, K-fold, and held-out sites.

Every split assigns *subjects*, never images: all media of a person land on
the same side, so no face the model trained on is scored again under another
file name. Stratification keeps the outcome's distribution similar across
sides where the outcome allows it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from facehealth.data.cohort import load_cohort
from facehealth.errors import SchemaError

__all__ = [
    "make_splits",
    "split_cohort",
    "splits_path",
    "save_splits",
    "load_splits",
    "assert_no_leakage",
    "stratify_labels",
]


def stratify_labels(table: pd.DataFrame, column: str | None, bins: int = 4) -> np.ndarray | None:
    """Labels to stratify on: a categorical column as is, a numeric one cut into quantile bins.

    Returns ``None`` (no stratification) when the column is absent, or a class has
    fewer than 2 subjects, so a split never fails for a rare class.
    """
    if column is None or column not in table.columns:
        return None
    values = table[column]
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 10:
        values = pd.qcut(values.rank(method="first"), bins, labels=False)
    values = values.astype(str).fillna("missing").to_numpy()
    _, counts = np.unique(values, return_counts=True)
    return values if counts.min() >= 2 else None


def make_splits(
    subjects: pd.DataFrame,
    seed: int,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    folds: int = 5,
    stratify: str | None = None,
    external_sites: Sequence[str] = (),
) -> pd.DataFrame:
    """Assign each subject to ``train``/``val``/``test`` (or ``external``) and to a CV fold.

    Args:
        subjects: one row per subject with ``subject_id`` and ``site``, plus the
            ``stratify`` column if given (e.g. ``cad`` or ``age``); subjects sharing an
            optional ``group_id`` (twins, one identity shown as several subjects) share a split.
        seed: makes the assignment reproducible.
        test_fraction, val_fraction: shares of the internal (non-external) subjects.
        folds: K for the ``fold`` column (K-fold over train+val subjects; -1 elsewhere).
        stratify: column whose distribution the splits should preserve.
        external_sites: sites held out whole as the external validation cohort.

    Returns:
        DataFrame ``subject_id, site, split, fold``.
    """
    if subjects["subject_id"].duplicated().any():
        raise SchemaError("make_splits needs one row per subject; subject_id repeats")
    if "group_id" in subjects.columns:
        return _split_groups(subjects, seed, test_fraction, val_fraction, folds, stratify, external_sites)
    unknown = set(external_sites) - set(subjects["site"])
    if unknown:
        raise SchemaError(
            f"external site(s) {sorted(unknown)} not in the cohort; sites: {sorted(subjects['site'].unique())}"
        )
    out = subjects[["subject_id", "site"]].copy().reset_index(drop=True)
    out["split"] = "train"
    out["fold"] = -1
    external = out["site"].isin(external_sites).to_numpy()
    out.loc[external, "split"] = "external"
    internal = subjects.reset_index(drop=True)[~external]
    idx = internal.index.to_numpy()
    if len(idx) < 3:
        raise SchemaError(f"only {len(idx)} internal subjects; need at least 3 to split")
    strat = stratify_labels(internal, stratify)
    rest, test = _split_off(idx, test_fraction, seed, strat, stratify)
    out.loc[test, "split"] = "test"
    if val_fraction > 0:
        rest_table = internal.loc[rest]
        strat_rest = stratify_labels(rest_table, stratify)
        share = val_fraction / (1.0 - test_fraction)
        train, val = _split_off(rest, share, seed + 1, strat_rest, stratify)
        out.loc[val, "split"] = "val"
    if folds >= 2 and len(rest) >= folds:
        rest_table = internal.loc[rest]
        strat_rest = stratify_labels(rest_table, stratify)
        splitter = (
            StratifiedKFold(folds, shuffle=True, random_state=seed)
            if strat_rest is not None and np.unique(strat_rest, return_counts=True)[1].min() >= folds
            else KFold(folds, shuffle=True, random_state=seed)
        )
        y = strat_rest if isinstance(splitter, StratifiedKFold) else None
        for k, (_, held) in enumerate(splitter.split(rest, y)):
            out.loc[rest[held], "fold"] = k
    return out


def _split_off(
    idx: np.ndarray, share: float, seed: int, strat: np.ndarray | None, column: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, split off) indices; stratified when the strata allow it, else plain, with a warning.

    A small cohort can have fewer subjects in a stratum (or in the held-out part) than there are
    strata; scikit-learn then refuses. The split still has to be made, so it is made unstratified
    and the user is told, rather than the whole run failing on a library error.
    """
    if strat is not None:
        try:
            return train_test_split(idx, test_size=share, random_state=seed, stratify=strat)
        except ValueError as exc:
            warnings.warn(
                f"cannot stratify {len(idx)} subjects by '{column}' ({exc}); this split is unstratified",
                stacklevel=3,
            )
    return train_test_split(idx, test_size=share, random_state=seed)


def _split_groups(
    subjects: pd.DataFrame,
    seed: int,
    test_fraction: float,
    val_fraction: float,
    folds: int,
    stratify: str | None,
    external_sites: Sequence[str],
) -> pd.DataFrame:
    """:func:`make_splits` over groups: subjects sharing a ``group_id`` get one split and one fold.

    A subject without a group is its own group. A group spanning sites is an error, because an
    external site must not share a person (or a twin, or a reused identity) with training.
    """
    table = subjects.reset_index(drop=True)
    key = table["group_id"].astype("string").fillna("subject:" + table["subject_id"].astype(str))
    sites_per_group = table.groupby(key)["site"].nunique()
    if (sites_per_group > 1).any():
        bad = sites_per_group[sites_per_group > 1].index[:5]
        raise SchemaError(f"group_id(s) {', '.join(map(str, bad))} span several sites; a group must stay in one site")
    # The group's first member stands for it (its stratification label, its site).
    units = table.assign(subject_id=key).drop_duplicates("subject_id").drop(columns="group_id")
    unit_splits = make_splits(units, seed, test_fraction, val_fraction, folds, stratify, external_sites)
    assigned = unit_splits.set_index("subject_id").loc[key, ["split", "fold"]].reset_index(drop=True)
    return pd.concat([table[["subject_id", "site"]], assigned], axis=1)


def split_cohort(
    cohort_root: str | Path,
    seed: int = 0,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    folds: int = 5,
    stratify: str | None = None,
    external_sites: Sequence[str] = (),
) -> pd.DataFrame:
    """Split a cohort folder's subjects (:func:`make_splits`), check that no subject's media cross
    sides, and write the splits to :func:`splits_path` (``facehealth cohort split``).

    Raises:
        SchemaError: the cohort's tables are invalid, or a split request cannot be met.
    """
    cohort = load_cohort(cohort_root)
    splits = make_splits(cohort.subject_labels(), seed, test_fraction, val_fraction, folds, stratify, external_sites)
    assert_no_leakage(cohort.media, splits)
    save_splits(splits, Path(cohort_root))
    return splits


def splits_path(cohort_root: str | Path) -> Path:
    """Where a cohort folder keeps its splits."""
    return Path(cohort_root) / "splits.csv"


def save_splits(splits: pd.DataFrame, cohort_root: Path) -> Path:
    path = splits_path(cohort_root)
    splits.to_csv(path, index=False)
    return path


def load_splits(cohort_root: Path) -> pd.DataFrame:
    path = splits_path(cohort_root)
    if not path.is_file():
        raise SchemaError(f"{path} not found; run `facehealth cohort split {cohort_root}` first")
    return pd.read_csv(path, dtype={"subject_id": str})


def assert_no_leakage(media: pd.DataFrame, splits: pd.DataFrame) -> None:
    """Raise if any subject's media fall into more than one split, or media have no split."""
    merged = media[["media_id", "subject_id"]].merge(splits[["subject_id", "split"]], on="subject_id", how="left")
    if merged["split"].isna().any():
        missing = merged.loc[merged["split"].isna(), "subject_id"].unique()[:5]
        raise SchemaError(f"media of subjects without a split: {', '.join(map(str, missing))}")
    per_subject = merged.groupby("subject_id")["split"].nunique()
    leaking = per_subject[per_subject > 1]
    if len(leaking):
        raise SchemaError(f"subjects in several splits: {', '.join(map(str, leaking.index[:5]))}")
