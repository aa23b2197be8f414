"""Subgroup analysis: a metric with its CI in every subgroup, forest-plot rows, and a heterogeneity flag."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from facehealth.evaluate.bootstrap import bootstrap_ci

__all__ = ["subgroup_table", "heterogeneity"]


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
