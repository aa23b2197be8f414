"""Comparing models and scores on the same subjects: DeLong's test for two AUROCs, and the
nested-Cox test of whether a second score adds prognostic information (FAHR's combination of
face-age gap and survival risk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["DeLongResult", "delong_test", "NestedCoxResult", "nested_cox_test"]


@dataclass(frozen=True)
class DeLongResult:
    auc_a: float
    auc_b: float
    difference: float  # auc_a - auc_b
    se: float
    z: float
    p: float
    low: float  # 95% CI of the difference
    high: float


def _placements(pos: np.ndarray, neg: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and DeLong's structural components V10 (per positive) and V01 (per negative)."""
    # psi(x, y) = 1 if x > y, 1/2 if equal, 0 otherwise; computed with sorted arrays.
    neg_sorted = np.sort(neg)
    pos_sorted = np.sort(pos)
    v10 = (np.searchsorted(neg_sorted, pos, "left") + np.searchsorted(neg_sorted, pos, "right")) / (2 * len(neg))
    v01 = 1 - (np.searchsorted(pos_sorted, neg, "left") + np.searchsorted(pos_sorted, neg, "right")) / (2 * len(pos))
    return float(v10.mean()), v10, v01


def delong_test(y_true: ArrayLike, score_a: ArrayLike, score_b: ArrayLike) -> DeLongResult:
    """DeLong, DeLong & Clarke-Pearson (Biometrics 1988) test of AUC_a = AUC_b on the same subjects.

    The covariance of the two AUCs comes from each subject's placement values, so
    the correlation between models scored on the same people is accounted for.

    Args:
        y_true: (n,) 0/1 labels.
        score_a: (n,) scores of model a, higher = more likely positive.
        score_b: (n,) scores of model b on the same subjects, in the same order.
    """
    y = np.asarray(y_true, float)
    a, b = np.asarray(score_a, float), np.asarray(score_b, float)
    pos, neg = y == 1, y == 0
    if pos.sum() < 2 or neg.sum() < 2:
        raise ValueError("DeLong's test needs at least 2 positives and 2 negatives")
    auc_a, v10a, v01a = _placements(a[pos], a[neg])
    auc_b, v10b, v01b = _placements(b[pos], b[neg])
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    cov = s10 / pos.sum() + s01 / neg.sum()
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = auc_a - auc_b
    se = float(np.sqrt(max(var, 0.0)))
    z = diff / se if se > 0 else 0.0
    p = float(2 * stats.norm.sf(abs(z))) if se > 0 else 1.0
    return DeLongResult(auc_a, auc_b, diff, se, float(z), p, diff - 1.96 * se, diff + 1.96 * se)


@dataclass(frozen=True)
class NestedCoxResult:
    base_terms: tuple[str, ...]
    added_terms: tuple[str, ...]
    lr_statistic: float  # 2 (logL_full - logL_base)
    df: int
    p: float
    c_base: float
    c_full: float


def nested_cox_test(
    frame: pd.DataFrame, base: tuple[str, ...], added: tuple[str, ...], time: str = "time", event: str = "event"
) -> NestedCoxResult:
    """Likelihood-ratio test that ``added`` terms improve a Cox model with ``base`` terms (same rows)."""
    from lifelines import CoxPHFitter

    data = frame[[time, event, *base, *added]].dropna()
    small = CoxPHFitter().fit(data[[time, event, *base]], time, event)
    full = CoxPHFitter().fit(data, time, event)
    lr = 2.0 * (full.log_likelihood_ - small.log_likelihood_)
    return NestedCoxResult(
        tuple(base),
        tuple(added),
        float(lr),
        len(added),
        float(stats.chi2.sf(lr, len(added))),
        float(small.concordance_index_),
        float(full.concordance_index_),
    )
