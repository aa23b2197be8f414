"""Calibration of predicted probabilities: reliability curve, calibration slope and intercept.

Slope and intercept come from the logistic recalibration model
``logit P(y = 1) = a + b * logit(p)`` (Cox, Biometrika 1958; Van Calster et al., J Clin Epidemiol
2016): b = 1 and a = 0 for perfect calibration, b < 1 when predictions are too extreme
(overfitting). Here a is fitted with b free (the intercept of the joint fit, reported as
``calibration_intercept``). Calibration-in-the-large is the other intercept: ``a`` with b fixed at 1,
i.e. ``logit P(y = 1) = a + offset(logit(p))`` (Van Calster et al. 2016; Steyerberg, *Clinical
Prediction Models*, 2nd ed., ch. 15). It is 0 when the mean predicted risk matches the observed
rate on the logit scale; > 0 when risks are too low, < 0 when too high, whatever the slope.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from facehealth.evaluate.metrics import DegenerateMetricWarning

__all__ = ["CalibrationFit", "calibration_slope_intercept", "calibration_in_the_large", "reliability_curve"]


@dataclass(frozen=True)
class CalibrationFit:
    intercept: float
    slope: float
    n: int


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def calibration_slope_intercept(y_true: ArrayLike, prob: ArrayLike) -> CalibrationFit:
    """Unpenalised maximum-likelihood fit of the logistic recalibration model.

    Args:
        y_true: (n,) 0/1 outcomes.
        prob: (n,) predicted probabilities of the outcome.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y_true, float)
    p = np.asarray(prob, float)
    ok = ~(np.isnan(y) | np.isnan(p))
    y, p = y[ok], p[ok]
    if len(np.unique(y)) < 2:
        warnings.warn("calibration: only one class present", DegenerateMetricWarning, stacklevel=2)
        return CalibrationFit(float("nan"), float("nan"), int(len(y)))
    if p[y == 1].min() > p[y == 0].max() or p[y == 1].max() < p[y == 0].min():
        warnings.warn("calibration: outcomes are separable; slope undefined", DegenerateMetricWarning, stacklevel=2)
        return CalibrationFit(float("nan"), float("nan"), int(len(y)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fit = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(_logit(p)[:, None], y.astype(int))
        except ConvergenceWarning:
            # Perfectly separated outcomes (small samples, bootstrap resamples): the slope is infinite.
            warnings.warn("calibration: outcomes are separable; slope undefined", DegenerateMetricWarning, stacklevel=2)
            return CalibrationFit(float("nan"), float("nan"), int(len(y)))
    return CalibrationFit(float(fit.intercept_[0]), float(fit.coef_[0, 0]), int(len(y)))


def calibration_in_the_large(y_true: ArrayLike, prob: ArrayLike, iterations: int = 50) -> float:
    """Calibration-in-the-large: the intercept ``a`` of ``logit P(y=1) = a + offset(logit p)``.

    The maximum-likelihood ``a`` solves ``sum(y - sigmoid(a + logit p)) = 0`` (one parameter,
    concave log-likelihood), found by Newton's method from 0. Equals statsmodels'
    ``GLM(y, ones, family=Binomial(), offset=logit(p)).fit().params[0]``.

    Args:
        y_true: (n,) 0/1 outcomes.
        prob: (n,) predicted probabilities of the outcome.

    Returns:
        ``a``; NaN (with a warning) when only one class is present (``a`` is then infinite).
    """
    y = np.asarray(y_true, float).ravel()
    p = np.asarray(prob, float).ravel()
    ok = ~(np.isnan(y) | np.isnan(p))
    y, offset = y[ok], _logit(p[ok])
    if len(np.unique(y)) < 2:
        warnings.warn("calibration-in-the-large: only one class present", DegenerateMetricWarning, stacklevel=2)
        return float("nan")
    a = 0.0
    for _ in range(iterations):
        mu = 1.0 / (1.0 + np.exp(-(a + offset)))
        step = float(np.sum(y - mu) / max(np.sum(mu * (1 - mu)), 1e-12))
        a += step
        if abs(step) < 1e-12:
            break
    return float(a)


def reliability_curve(y_true: ArrayLike, prob: ArrayLike, bins: int = 10, strategy: str = "quantile") -> pd.DataFrame:
    """Observed vs mean predicted risk per bin (deciles of risk by default): bin, n, predicted, observed.

    Args:
        y_true: (n,) 0/1 outcomes.
        prob: (n,) predicted probabilities of the outcome.
        bins: number of bins.
        strategy: ``"quantile"`` (equal-count bins) or anything else for equal-width bins on [0, 1].
    """
    y = np.asarray(y_true, float)
    p = np.asarray(prob, float)
    ok = ~(np.isnan(y) | np.isnan(p))
    y, p = y[ok], p[ok]
    if strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    else:
        edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": index, "y": y, "p": p})
    table = frame.groupby("bin").agg(n=("y", "size"), predicted=("p", "mean"), observed=("y", "mean"))
    return table.reset_index()
