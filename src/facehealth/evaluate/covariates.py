"""Covariates of an adjusted Cox model, taken from a cohort's own subjects table.

A hospital cohort brings its own adjustment set (stage, performance status, smoking, ...).
:class:`CovariateSpec` names the columns and, for categorical ones, the reference level;
:func:`encode_covariates` turns them into numeric Cox terms (one indicator per non-reference
level, named ``column=level``), drops subjects missing any of them and counts how many were
dropped and for which column, so an adjusted estimate always says what it was adjusted on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from facehealth.errors import SchemaError

__all__ = ["CovariateSpec", "EncodedCovariates", "encode_covariates", "parse_reference_levels"]

# The default adjustment when a run names none: FAHR-Face's age and sex, where the table has them.
DEFAULT_COVARIATES = ("age", "sex")


@dataclass(frozen=True)
class CovariateSpec:
    """Which subjects-table columns adjust a Cox model, and how categorical ones are coded.

    Text columns are categorical; ``categorical`` also makes numeric codes (ECOG 0/1/2) categorical.
    ``reference`` maps a categorical column to its reference level; without one, the first level
    in sorted order is the reference (and the output says which it was).
    """

    columns: tuple[str, ...] = ()
    reference: Mapping[str, str] = field(default_factory=dict)
    categorical: tuple[str, ...] = ()

    @classmethod
    def default(cls, available: Iterable[str]) -> CovariateSpec:
        """Age and sex, those of them that ``available`` (the subjects-table columns) holds."""
        have = set(available)
        return cls(tuple(c for c in DEFAULT_COVARIATES if c in have))

    def as_dict(self) -> dict:
        return {"columns": list(self.columns), "reference": dict(self.reference), "categorical": list(self.categorical)}


@dataclass(frozen=True)
class EncodedCovariates:
    """Complete-case rows with numeric Cox terms.

    ``frame`` keeps every input column plus the indicator columns; ``terms`` are the Cox terms in
    order (numeric covariates as they are, then ``column=level`` indicators); ``coding`` says, per
    categorical column, its reference and the levels seen; ``dropped`` counts subjects missing
    each covariate (one subject can be missing several), ``n_dropped`` the subjects removed.
    """

    frame: pd.DataFrame
    terms: tuple[str, ...]
    coding: dict[str, dict]
    n_dropped: int
    dropped: dict[str, int]

    def summary(self) -> dict:
        return {"terms": list(self.terms), "coding": self.coding, "n_dropped": self.n_dropped, "dropped": self.dropped}


def parse_reference_levels(items: Sequence[str]) -> dict[str, str]:
    """``["stage=I", "smoking=never"]`` -> ``{"stage": "I", "smoking": "never"}`` (CLI form)."""
    out = {}
    for item in items:
        column, sep, level = item.partition("=")
        if not sep or not column or not level:
            raise SchemaError(f"reference level '{item}' is not COLUMN=LEVEL (e.g. stage=I)")
        out[column.strip()] = level.strip()
    return out


def _is_categorical(series: pd.Series, forced: bool) -> bool:
    return forced or not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def encode_covariates(frame: pd.DataFrame, spec: CovariateSpec, required: Sequence[str] = ()) -> EncodedCovariates:
    """Complete cases of ``frame`` on ``required`` + the spec's columns, with indicator coding.

    Args:
        frame: one row per subject, holding every column of ``spec`` (and ``required``).
        spec: the covariates and their coding.
        required: columns that must also be present (time, event, risk); rows missing them are
            dropped too but not counted as missing a covariate.

    Raises:
        SchemaError: a covariate column is absent, or a stated reference level never occurs.
    """
    missing = [c for c in (*spec.columns, *required) if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"covariate column(s) {missing} not in the subjects table; available: {sorted(frame.columns)}"
        )
    unknown = [c for c in spec.reference if c not in spec.columns]
    if unknown:
        raise SchemaError(f"reference level given for {unknown}, which are not covariates {list(spec.columns)}")
    data = frame.dropna(subset=list(required)) if required else frame
    absent = data[list(spec.columns)].isna()
    dropped = {c: int(absent[c].sum()) for c in spec.columns if absent[c].any()}
    data = data[~absent.any(axis=1)].copy()
    terms: list[str] = []
    indicators: list[str] = []
    coding: dict[str, dict] = {}
    for column in spec.columns:
        if not _is_categorical(data[column], column in spec.categorical):
            terms.append(column)
            continue
        values = data[column].astype(str)
        levels = sorted(values.unique())
        reference = spec.reference.get(column, levels[0] if levels else "")
        if column in spec.reference and reference not in levels:
            raise SchemaError(f"reference level '{reference}' of '{column}' does not occur; levels: {levels}")
        names = []
        for level in (lv for lv in levels if lv != reference):
            name = f"{column}={level}"
            data[name] = (values == level).astype(float)
            names.append(name)
        coding[column] = {"reference": reference, "levels": levels, "terms": names}
        indicators += names
    return EncodedCovariates(data, (*terms, *indicators), coding, int(absent.any(axis=1).sum()), dropped)
