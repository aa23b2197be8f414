"""Split-conformal uncertainty: intervals for regressions, prediction sets for classifiers.

Calibrated on held-out (calibration) subjects, they cover the truth with
probability >= 1 - alpha for exchangeable new subjects, whatever the model
(Vovk et al. 2005; Angelopoulos & Bates, "A Gentle Introduction to Conformal
Prediction", 2021). Used for "face-age 52 +- 6 years" style outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from facehealth.models.calibration import conformal_quantile

__all__ = ["ConformalRegressor", "ConformalClassifier", "coverage"]


def _quantile(scores: np.ndarray, alpha: float) -> float:
    if len(scores) == 0:
        raise ValueError("conformal calibration needs at least one calibration subject")
    return conformal_quantile(scores, alpha)  # the finite-sample quantile (Lei et al. 2018)


@dataclass(frozen=True)
class ConformalRegressor:
    """``y_hat +- q`` where q is the conformal quantile of |y - y_hat| on calibration data."""

    q: float
    alpha: float

    @classmethod
    def fit(cls, y_true: ArrayLike, y_pred: ArrayLike, alpha: float = 0.1) -> ConformalRegressor:
        """Calibrate on held-out subjects.

        Args:
            y_true: (n,) true values of the calibration subjects.
            y_pred: (n,) their predictions; NaN residuals are left out.
            alpha: miscoverage level (0.1: 90% intervals).
        """
        residuals = np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))
        return cls(_quantile(residuals[~np.isnan(residuals)], alpha), alpha)

    def interval(self, y_pred: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(low, high) = ``(y_pred - q, y_pred + q)``.

        Args:
            y_pred: (n,) predictions; the bounds have its shape.
        """
        p = np.asarray(y_pred, float)
        return p - self.q, p + self.q


@dataclass(frozen=True)
class ConformalClassifier:
    """Prediction sets {k : p_k >= 1 - q}, q the conformal quantile of 1 - p_true on calibration data."""

    q: float
    alpha: float

    @classmethod
    def fit(cls, labels: ArrayLike, probs: ArrayLike, alpha: float = 0.1) -> ConformalClassifier:
        """Calibrate on held-out subjects.

        Args:
            labels: (n,) integer class labels 0..K-1 of the calibration subjects.
            probs: (n, K) their predicted class probabilities.
            alpha: miscoverage level (0.1: sets cover the true class 90% of the time).
        """
        labels = np.asarray(labels, int)
        probs = np.asarray(probs, float)
        return cls(_quantile(1.0 - probs[np.arange(len(labels)), labels], alpha), alpha)

    def sets(self, probs: ArrayLike) -> NDArray[np.bool_]:
        """(N, K) boolean membership of each class in each subject's prediction set.

        Args:
            probs: (N, K) predicted class probabilities.
        """
        return np.asarray(probs, float) >= 1.0 - self.q


def coverage(low: ArrayLike, high: ArrayLike, y_true: ArrayLike) -> float:
    """Share of true values inside [low, high].

    Args:
        low: (n,) lower bounds.
        high: (n,) upper bounds.
        y_true: (n,) true values.
    """
    y = np.asarray(y_true, float)
    return float(np.mean((y >= np.asarray(low)) & (y <= np.asarray(high))))
