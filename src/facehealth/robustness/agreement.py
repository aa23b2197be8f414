"""Agreement between clean and perturbed predictions: intraclass correlation and Cohen's kappa.

Pure functions: arrays in, a float out; degenerate input warns with
:class:`~facehealth.evaluate.metrics.DegenerateMetricWarning` and returns NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from facehealth.evaluate.metrics import DegenerateMetricWarning

__all__ = ["icc", "icc_pair", "cohen_kappa"]


def _nan(reason: str) -> float:
    warnings.warn(reason, DegenerateMetricWarning, stacklevel=3)
    return float("nan")


def icc(ratings: ArrayLike, kind: str = "2,1") -> float:
    """Single-measure intraclass correlation of an (n targets, k raters) matrix.

    Two-way ANOVA mean squares (Shrout & Fleiss 1979): rows (targets) MSR,
    columns (raters; here clean vs perturbed) MSC, residual MSE, then

        ICC(2,1) = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)   absolute agreement,
                   raters random: a systematic shift by the perturbation lowers it;
        ICC(3,1) = (MSR - MSE) / (MSR + (k - 1) MSE)                        consistency,
                   raters fixed: a constant shift does not count.

    Rows with any NaN are dropped. Shrout & Fleiss's Table 2 example (6 targets,
    4 judges) gives ICC(2,1) = 0.29 and ICC(3,1) = 0.71.

    Reference: Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing
    rater reliability. Psychol Bull 1979;86(2):420-428.

    Args:
        ratings: (n, k) ratings of n targets by k raters.
        kind: ``"2,1"`` (absolute agreement) or ``"3,1"`` (consistency).
    """
    if kind not in ("2,1", "3,1"):
        raise ValueError(f"kind must be '2,1' or '3,1', got {kind!r}")
    x = np.asarray(ratings, np.float64)
    if x.ndim != 2:
        raise ValueError(f"ratings must be a 2-D (targets, raters) array, got shape {x.shape}")
    x = x[~np.isnan(x).any(axis=1)]
    n, k = x.shape
    if n < 2 or k < 2:
        return _nan(f"icc: needs >= 2 complete targets and >= 2 raters, got {n} x {k}")
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(0) - grand) ** 2)
    ss_err = np.sum((x - grand) ** 2) - ss_rows - ss_cols
    msr, msc, mse = ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))
    den = msr + (k - 1) * mse + (k * (msc - mse) / n if kind == "2,1" else 0.0)
    if not den > 1e-12 * max(1.0, abs(grand)) ** 2:
        return _nan("icc: no variance between targets or raters (constant ratings)")
    return float((msr - mse) / den)


def icc_pair(clean: ArrayLike, perturbed: ArrayLike, kind: str = "2,1") -> float:
    """ICC of two paired prediction vectors (clean, perturbed) as two raters of the same subjects.

    Args:
        clean: (n,) predictions on the clean inputs.
        perturbed: (n,) predictions on the perturbed inputs, same subjects in the same order.
        kind: ``"2,1"`` or ``"3,1"``, as in :func:`icc`.
    """
    a, b = np.asarray(clean, np.float64).ravel(), np.asarray(perturbed, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"clean has {a.size} values, perturbed {b.size}")
    return icc(np.stack([a, b], 1), kind)


def cohen_kappa(a: ArrayLike | Sequence[Hashable | None], b: ArrayLike | Sequence[Hashable | None]) -> float:
    """Cohen's kappa of two label vectors: (p_o - p_e) / (1 - p_e).

    p_o is the observed agreement, p_e the agreement expected from the two
    marginal distributions (Cohen 1960, Educ Psychol Meas 20:37-46). Equals
    ``sklearn.metrics.cohen_kappa_score`` (unweighted). Pairs where either side
    is missing (None/NaN) are dropped; p_e = 1 (both constant, same class) is
    degenerate.

    Args:
        a: (n,) labels of rater a (any hashable class labels).
        b: (n,) labels of rater b for the same items.
    """
    a, b = np.asarray(a, dtype=object).ravel(), np.asarray(b, dtype=object).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a has {a.size} labels, b {b.size}")
    keep = np.array([not _missing(u) and not _missing(v) for u, v in zip(a, b)], bool)
    a, b = a[keep], b[keep]
    if a.size == 0:
        return _nan("cohen_kappa: no labelled pairs")
    classes = sorted(set(a.tolist()) | set(b.tolist()), key=str)
    index = {c: i for i, c in enumerate(classes)}
    table = np.zeros((len(classes), len(classes)))
    np.add.at(table, ([index[v] for v in a], [index[v] for v in b]), 1)
    table /= table.sum()
    p_o = np.trace(table)
    p_e = float(table.sum(1) @ table.sum(0))
    if p_e >= 1 - 1e-12:
        return _nan("cohen_kappa: both raters give one and the same class (expected agreement is 1)")
    return float((p_o - p_e) / (1 - p_e))


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))
