"""Bootstrap confidence intervals that resample subjects, not images.

Several photos of one person are not independent evidence: resampling images
would make intervals too narrow. ``bootstrap_ci`` draws subjects with
replacement (every row of a drawn subject comes along, as often as the subject
is drawn), recomputes the metric, and reports the percentile interval
(Efron & Tibshirani, An Introduction to the Bootstrap, 1993, ch. 13).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from facehealth.evaluate.metrics import DegenerateMetricWarning

__all__ = ["MetricCI", "bootstrap_ci"]


@dataclass(frozen=True)
class MetricCI:
    """A metric with its confidence interval and the numbers behind it."""

    name: str
    value: float
    low: float
    high: float
    n_subjects: int
    n_rows: int
    level: float = 0.95
    n_boot: int = 1000
    n_failed: int = 0  # resamples where the metric was undefined (e.g. one class drawn)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "n_subjects": self.n_subjects,
            "n_rows": self.n_rows,
            "level": self.level,
            "n_boot": self.n_boot,
            "n_failed": self.n_failed,
            "method": "percentile bootstrap over subjects",
        }

    def __str__(self) -> str:
        return f"{self.name} {self.value:.3f} ({self.level:.0%} CI {self.low:.3f}-{self.high:.3f}; n={self.n_subjects})"


def bootstrap_ci(
    metric: Callable[..., float],
    arrays: Sequence[np.ndarray],
    rng: np.random.Generator,
    groups: Sequence | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    name: str | None = None,
) -> MetricCI:
    """Point estimate and percentile CI of ``metric(*arrays)``, resampling the units in ``groups``.

    Args:
        metric: a pure function of the arrays (e.g. ``auroc(y_true, score)``).
        arrays: equal-length arrays, one row per image/prediction.
        rng: the random generator (explicit, so results are reproducible).
        groups: subject id of each row; ``None`` treats every row as its own subject.
        n_boot: number of resamples.
        level: coverage of the interval.
    """
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("all arrays must have the same length")
    ids = np.arange(n) if groups is None else np.asarray(groups)
    subjects, inverse = np.unique(ids, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == k) for k in range(len(subjects))]
    value = metric(*arrays)
    stats = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateMetricWarning)
        for _ in range(n_boot):
            drawn = rng.integers(0, len(subjects), len(subjects))
            rows = np.concatenate([rows_of[k] for k in drawn])
            stats.append(metric(*[a[rows] for a in arrays]))
    stats = np.asarray(stats, float)
    ok = stats[~np.isnan(stats)]
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(ok, [alpha, 1.0 - alpha]) if ok.size else (np.nan, np.nan)
    return MetricCI(
        name or getattr(metric, "__name__", "metric"),
        float(value),
        float(low),
        float(high),
        len(subjects),
        n,
        level,
        n_boot,
        int(np.isnan(stats).sum()),
    )
