"""Clinical metrics as pure functions: arrays in, a float out.

Degenerate input (too few values, one class only, no events, constant
predictions where a correlation is asked for) warns with
:class:`DegenerateMetricWarning` and returns NaN instead of raising, so one
empty subgroup never aborts a whole evaluation. Each function matches its
reference implementation (scikit-learn, SciPy, lifelines) to 1e-9; the tests
check that.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DegenerateMetricWarning",
    "mae",
    "rmse",
    "pearson_r",
    "spearman_rho",
    "r2",
    "bland_altman",
    "auroc",
    "auprc",
    "accuracy",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "f1",
    "brier",
    "expected_calibration_error",
    "harrell_c_index",
    "REGRESSION_METRICS",
    "BINARY_METRICS",
]


class DegenerateMetricWarning(UserWarning):
    """A metric is undefined for this input (returned as NaN)."""


def _nan(reason: str) -> float:
    warnings.warn(reason, DegenerateMetricWarning, stacklevel=3)
    return float("nan")


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    t, p = np.asarray(y_true, float).ravel(), np.asarray(y_pred, float).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values, y_pred {p.size}")
    keep = ~(np.isnan(t) | np.isnan(p))
    return t[keep], p[keep]


# --- regression -------------------------------------------------------------------------------


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error, mean |y - yhat| (NaN pairs dropped).

    Args:
        y_true: (n,) true values.
        y_pred: (n,) predictions, paired with ``y_true``.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p))) if t.size else _nan("mae: no values")


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error, sqrt(mean (y - yhat)^2).

    Args:
        y_true: (n,) true values.
        y_pred: (n,) predictions, paired with ``y_true``.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2))) if t.size else _nan("rmse: no values")


def pearson_r(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Pearson correlation; NaN when either side is constant or n < 3.

    Args:
        y_true: (n,) true values.
        y_pred: (n,) predictions, paired with ``y_true``.
    """
    t, p = _pair(y_true, y_pred)
    if t.size < 3 or np.std(t) == 0 or np.std(p) == 0:
        return _nan("pearson_r: fewer than 3 values or a constant input")
    tc, pc = t - t.mean(), p - p.mean()
    return float(np.sum(tc * pc) / np.sqrt(np.sum(tc**2) * np.sum(pc**2)))


def spearman_rho(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Spearman rank correlation (Pearson r of average ranks, as scipy.stats.spearmanr).

    Args:
        y_true: (n,) true values.
        y_pred: (n,) predictions, paired with ``y_true``.
    """
    from scipy.stats import rankdata

    t, p = _pair(y_true, y_pred)
    if t.size < 3:
        return _nan("spearman_rho: fewer than 3 values")
    return pearson_r(rankdata(t), rankdata(p))


def r2(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (sklearn.metrics.r2_score).

    Args:
        y_true: (n,) true values.
        y_pred: (n,) predictions, paired with ``y_true``.
    """
    t, p = _pair(y_true, y_pred)
    ss_tot = np.sum((t - t.mean()) ** 2) if t.size else 0.0
    if t.size < 2 or ss_tot == 0:
        return _nan("r2: fewer than 2 values or constant truth")
    return float(1.0 - np.sum((t - p) ** 2) / ss_tot)


def bland_altman(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[float, float, float]:
    """(bias, lower, upper): mean difference (pred - true) and its 95% limits of agreement, bias +- 1.96 sd.

    Bland & Altman, Lancet 1986. The sd uses n - 1.

    Args:
        y_true: (n,) true values.
        y_pred: (n,) predictions, paired with ``y_true``.
    """
    t, p = _pair(y_true, y_pred)
    if t.size < 2:
        nan = _nan("bland_altman: fewer than 2 values")
        return nan, nan, nan
    d = p - t
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    return bias, bias - 1.96 * sd, bias + 1.96 * sd


# --- binary classification ----------------------------------------------------------------------


def _binary(y_true: ArrayLike, score: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    t, s = _pair(y_true, score)
    if not np.isin(t, (0.0, 1.0)).all():
        raise ValueError("y_true must be 0/1")
    return t, s


def auroc(y_true: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve = P(score of a random positive > random negative), ties count 1/2.

    Args:
        y_true: (n,) 0/1 labels.
        score: (n,) scores, higher = more likely positive.
    """
    from scipy.stats import rankdata

    t, s = _binary(y_true, score)
    n_pos, n_neg = int(t.sum()), int((1 - t).sum())
    if n_pos == 0 or n_neg == 0:
        return _nan("auroc: only one class present")
    ranks = rankdata(s)
    return float((ranks[t == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y_true: ArrayLike, score: ArrayLike) -> float:
    """Average precision, sum_k (R_k - R_{k-1}) P_k over score thresholds (sklearn's definition).

    Args:
        y_true: (n,) 0/1 labels.
        score: (n,) scores, higher = more likely positive.
    """
    t, s = _binary(y_true, score)
    if t.sum() == 0:
        return _nan("auprc: no positives")
    order = np.argsort(-s, kind="mergesort")
    t, s = t[order], s[order]
    distinct = np.r_[np.diff(s) != 0, True]  # last index of each threshold block
    tp = np.cumsum(t)[distinct]
    fp = np.cumsum(1 - t)[distinct]
    precision = tp / (tp + fp)
    recall = tp / t.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _confusion(y_true: ArrayLike, score: ArrayLike, threshold: float) -> tuple[float, float, float, float]:
    t, s = _binary(y_true, score)
    pred = (s >= threshold).astype(float)
    tp = float(np.sum((pred == 1) & (t == 1)))
    tn = float(np.sum((pred == 0) & (t == 0)))
    fp = float(np.sum((pred == 1) & (t == 0)))
    fn = float(np.sum((pred == 0) & (t == 1)))
    return tp, tn, fp, fn


def _ratio(num: float, den: float, name: str) -> float:
    return num / den if den > 0 else _nan(f"{name}: denominator is zero")


def accuracy(y_true: ArrayLike, score: ArrayLike, threshold: float = 0.5) -> float:
    """(TP + TN) / n.

    Args:
        y_true: (n,) 0/1 labels.
        score: (n,) scores, higher = more likely positive.
        threshold: a score >= ``threshold`` predicts positive.
    """
    tp, tn, fp, fn = _confusion(y_true, score, threshold)
    return _ratio(tp + tn, tp + tn + fp + fn, "accuracy")


def sensitivity(y_true: ArrayLike, score: ArrayLike, threshold: float = 0.5) -> float:
    """TP / (TP + FN), the recall of the positive class.

    Args:
        y_true: (n,) 0/1 labels.
        score: (n,) scores, higher = more likely positive.
        threshold: a score >= ``threshold`` predicts positive.
    """
    tp, _, _, fn = _confusion(y_true, score, threshold)
    return _ratio(tp, tp + fn, "sensitivity")


def specificity(y_true: ArrayLike, score: ArrayLike, threshold: float = 0.5) -> float:
    """TN / (TN + FP).

    Args:
        y_true: (n,) 0/1 labels.
        score: (n,) scores, higher = more likely positive.
        threshold: a score >= ``threshold`` predicts positive.
    """
    _, tn, fp, _ = _confusion(y_true, score, threshold)
    return _ratio(tn, tn + fp, "specificity")


def ppv(y_true: ArrayLike, score: ArrayLike, threshold: float = 0.5) -> float:
    """Positive predictive value TP / (TP + FP).

    Args:
        y_true: (n,) 0/1 labels.
        score: (n,) scores, higher = more likely positive.
        threshold: a score >= ``threshold`` predicts positive.
    """
    tp, _, fp, _ = _confusion(y_true, score, threshold)
    return _ratio(tp, tp + fp, "ppv")


def npv(y_true: ArrayLike, score: ArrayLike, threshold: float = 0.5) -> float:
    """Negative predictive value TN / (TN + FN).

    Args:
        y_true: (n,) 0/1 labels.
        score: (n,) scores, higher = more likely positive.
        threshold: a score >= ``threshold`` predicts positive.
    """
    _, tn, _, fn = _confusion(y_true, score, threshold)
    return _ratio(tn, tn + fn, "npv")


def balanced_accuracy(y_true: ArrayLike, score: ArrayLike, threshold: float = 0.5) -> float:
    """(sensitivity + specificity) / 2.

    Args:
        y_true: (n,) 0/1 labels.
        score: (n,) scores, higher = more likely positive.
        threshold: a score >= ``threshold`` predicts positive.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateMetricWarning)
        sens, spec = sensitivity(y_true, score, threshold), specificity(y_true, score, threshold)
    if np.isnan(sens) or np.isnan(spec):
        return _nan("balanced_accuracy: only one class present")
    return (sens + spec) / 2


def f1(y_true: ArrayLike, score: ArrayLike, threshold: float = 0.5) -> float:
    """2 TP / (2 TP + FP + FN).

    Args:
        y_true: (n,) 0/1 labels.
        score: (n,) scores, higher = more likely positive.
        threshold: a score >= ``threshold`` predicts positive.
    """
    tp, _, fp, fn = _confusion(y_true, score, threshold)
    return _ratio(2 * tp, 2 * tp + fp + fn, "f1")


def brier(y_true: ArrayLike, prob: ArrayLike) -> float:
    """Brier score, mean (p - y)^2, for binary outcomes.

    Args:
        y_true: (n,) 0/1 labels.
        prob: (n,) predicted probabilities of the positive class.
    """
    t, p = _binary(y_true, prob)
    return float(np.mean((p - t) ** 2)) if t.size else _nan("brier: no values")


def expected_calibration_error(y_true: ArrayLike, prob: ArrayLike, bins: int = 10) -> float:
    """ECE: sum over equal-width probability bins of (n_bin / n) |mean(y) - mean(p)| (Guo et al., ICML 2017).

    Args:
        y_true: (n,) 0/1 labels.
        prob: (n,) predicted probabilities of the positive class, in [0, 1].
        bins: number of equal-width bins over [0, 1].
    """
    t, p = _binary(y_true, prob)
    if not t.size:
        return _nan("expected_calibration_error: no values")
    index = np.clip((p * bins).astype(int), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            total += inside.mean() * abs(t[inside].mean() - p[inside].mean())
    return float(total)


# --- survival -----------------------------------------------------------------------------------


def harrell_c_index(time: ArrayLike, risk: ArrayLike, event: ArrayLike) -> float:
    """Harrell's concordance index for a risk score (higher = earlier event).

    Over comparable pairs (the shorter time has an event; a subject censored at
    an event time counts as outliving it; two events at the same time are not
    comparable), the share where the earlier failure has the higher risk; tied
    risks count 1/2 (Harrell et al., JAMA 1982). Equals ``lifelines.utils.concordance_index(time, -risk, event)``.

    Args:
        time: (n,) follow-up times.
        risk: (n,) risk scores, higher = earlier event.
        event: (n,) 1 = event observed, 0 = censored.
    """
    t = np.asarray(time, float).ravel()
    r = np.asarray(risk, float).ravel()
    e = np.asarray(event, float).ravel()
    keep = ~(np.isnan(t) | np.isnan(r) | np.isnan(e))
    t, r, e = t[keep], r[keep], e[keep].astype(bool)
    if not e.any():
        return _nan("harrell_c_index: no events")
    concordant, comparable = 0.0, 0
    for i in np.flatnonzero(e):
        # j outlived i: a later time, or censored at i's event time (known alive at t_i).
        later = (t > t[i]) | ((t == t[i]) & ~e)
        comparable += int(later.sum())
        concordant += float(np.sum(r[i] > r[later]) + 0.5 * np.sum(r[i] == r[later]))
    return concordant / comparable if comparable else _nan("harrell_c_index: no comparable pairs")


REGRESSION_METRICS: dict[str, Callable[..., float]] = {
    "mae": mae,
    "rmse": rmse,
    "pearson_r": pearson_r,
    "spearman_rho": spearman_rho,
    "r2": r2,
}
BINARY_METRICS: dict[str, Callable[..., float]] = {
    "auroc": auroc,
    "auprc": auprc,
    "accuracy": accuracy,
    "balanced_accuracy": balanced_accuracy,
    "sensitivity": sensitivity,
    "specificity": specificity,
    "ppv": ppv,
    "npv": npv,
    "f1": f1,
    "brier": brier,
    "ece": expected_calibration_error,
}
