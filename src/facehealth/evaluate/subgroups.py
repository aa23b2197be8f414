"""Subgroup analysis: a metric with its CI in every subgroup, forest-plot rows, and a heterogeneity flag."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from facehealth.evaluate.bootstrap import bootstrap_ci

__all__ = ["subgroup_table", "heterogeneity", "subgroup_levels", "evaluation_subgroups", "DEFAULT_SUBGROUPS"]


def subgroup_table(
    frame: pd.DataFrame,
    by: str,
    metric: Callable[..., float],
    columns: Sequence[str],
    rng: np.random.Generator,
    subject: str = "subject_id",
    n_boot: int = 500,
    min_subjects: int = 10,
) -> pd.DataFrame:
    """One row per level of ``by`` (and one for all): n, value, CI; levels with fewer than
    ``min_subjects`` are reported with NaN rather than dropped.

    Continuous ``by`` columns should be binned first (e.g. age bands with ``pd.cut``).
    """
    rows = []
    levels = [("all", frame)] + [(str(level), part) for level, part in frame.groupby(by, observed=True)]
    for level, part in levels:
        n = part[subject].nunique()
        if n < min_subjects:
            rows.append({"group": by, "level": level, "n_subjects": n, "value": np.nan, "low": np.nan, "high": np.nan})
            continue
        ci = bootstrap_ci(
            metric, [part[c].to_numpy() for c in columns], rng, groups=part[subject].to_numpy(), n_boot=n_boot
        )
        rows.append({"group": by, "level": level, "n_subjects": n, "value": ci.value, "low": ci.low, "high": ci.high})
    table = pd.DataFrame(rows)
    q, p = heterogeneity(table[table["level"] != "all"])
    table.attrs["heterogeneity_q"], table.attrs["heterogeneity_p"] = q, p
    table.attrs["heterogeneous"] = bool(p < 0.05)
    return table


def heterogeneity(rows: pd.DataFrame) -> tuple[float, float]:
    """Cochran's Q across subgroup estimates, with SEs taken from their 95% CIs; returns (Q, p)."""
    ok = rows.dropna(subset=["value", "low", "high"])
    se = (ok["high"] - ok["low"]) / (2 * 1.96)
    ok, se = ok[se > 0], se[se > 0]
    if len(ok) < 2:
        return float("nan"), float("nan")
    w = 1.0 / se**2
    pooled = float(np.sum(w * ok["value"]) / np.sum(w))
    q = float(np.sum(w * (ok["value"] - pooled) ** 2))
    return q, float(stats.chi2.sf(q, len(ok) - 1))


# Subgroup columns tried when a run names none: those the subjects table has.
DEFAULT_SUBGROUPS = ("sex", "age", "site", "race", "disease_type")
# A numeric column with more distinct values than this is binned (age by its bands, others by quartile).
MAX_LEVELS = 10


def subgroup_levels(values: pd.Series, age_bands: Sequence[float] = (0, 40, 60, 120)) -> pd.Series:
    """The subgroup label of every subject: categories as they are, a numeric column binned.

    ``age`` is cut at ``age_bands`` (left-closed, e.g. ``[40, 60)``); any other numeric column with
    more than :data:`MAX_LEVELS` distinct values is cut at its quartiles. Missing values stay missing.
    """
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric or (values.name != "age" and values.nunique() <= MAX_LEVELS):
        return values.astype("string").where(values.notna())
    if values.name == "age":
        edges = [float(e) for e in age_bands]
    else:
        edges = sorted({float(e) for e in np.nanquantile(values, [0, 0.25, 0.5, 0.75, 1])})
        edges[-1] = np.nextafter(edges[-1], np.inf)  # the maximum falls inside the last, left-closed bin
    names = [f"[{a:.4g}, {b:.4g})" for a, b in zip(edges[:-1], edges[1:])]
    binned = pd.cut(values, edges, right=False, labels=names)
    return binned.astype("string").where(binned.notna())


def evaluation_subgroups(
    frame: pd.DataFrame,
    targets: Sequence[tuple[str, str, Callable[..., float], Sequence[str]]],
    by: Sequence[str],
    rng: np.random.Generator,
    n_boot: int = 500,
    min_subjects: int = 10,
    age_bands: Sequence[float] = (0, 40, 60, 120),
) -> pd.DataFrame:
    """Each target's metric with its CI in every level of every ``by`` column (forest-plot rows).

    Args:
        frame: one row per subject: predictions, labels and the subjects-table columns.
        targets: ``(task, metric name, metric, argument columns)``; rows missing an argument are
            left out of that target only.
        by: subgroup columns; numeric ones are binned (:func:`subgroup_levels`). Subjects with no
            value in a column are counted in a ``missing`` level, listed without an estimate.

    Returns:
        task, metric, group, level, n_subjects, value, low, high, heterogeneity_q, heterogeneity_p;
        one ``all`` row per target; levels under ``min_subjects`` have NaN estimates.
    """
    tables = []
    for task, name, metric, columns in targets:
        part = frame.dropna(subset=list(columns))
        ci = bootstrap_ci(
            metric, [part[c].to_numpy() for c in columns], rng, groups=part["subject_id"].to_numpy(), n_boot=n_boot
        )
        found = [
            pd.DataFrame(
                [
                    {
                        "group": "all",
                        "level": "all",
                        "n_subjects": part["subject_id"].nunique(),
                        "value": ci.value,
                        "low": ci.low,
                        "high": ci.high,
                    }
                ]
            )
        ]
        for column in by:
            levels = subgroup_levels(part[column], age_bands).fillna("missing")
            table = subgroup_table(
                part.assign(_level=levels), "_level", metric, columns, rng, n_boot=n_boot, min_subjects=min_subjects
            )
            table = table[table["level"] != "all"].assign(group=column)
            missing = table["level"] == "missing"
            table.loc[missing, ["value", "low", "high"]] = np.nan  # not a subgroup: only counted
            q, p = heterogeneity(table[~missing])
            found.append(table.assign(heterogeneity_q=q, heterogeneity_p=p))
        tables.append(pd.concat(found, ignore_index=True).assign(task=task, metric=name))
    order = ["task", "metric", "group", "level", "n_subjects", "value", "low", "high"]
    return pd.concat(tables, ignore_index=True).reindex(columns=[*order, "heterogeneity_q", "heterogeneity_p"])
