"""Change alerts against a person's own baseline: is a new estimate beyond their usual variation?

A population interval says how far an estimate may be from the truth; it does not say whether this
person's estimate *changed*. Each person's estimates wobble by their own amount from visit to visit
(lighting, pose, expression, day-to-day biology), so the baseline is theirs alone.

The rule (:data:`RULE`): take the person's last up to ``window`` earlier visits scored by the same
model (values of another model are not comparable). With n >= ``min_visits`` of them, mean m and
standard deviation s, the new value x is flagged when

    |x - m| > t(1 - alpha/2, n - 1) * s * sqrt(1 + 1/n),

i.e. when it falls outside the (1 - alpha) prediction interval for one more visit from the same
person. If the visits vary only by independent Gaussian noise, a person with no real change is
flagged with probability exactly alpha per visit, whatever n is (the t quantile pays for s being
estimated). This is the reliable-change idea of Jacobson & Truax (1991) with the person's own
visits standing in for a test-retest study.

Scales: skewed (log-normal) markers and probabilities vary multiplicatively or near their bounds,
so the rule runs on log values and on log-odds; age and the other values on their own scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from facehealth.data.biomarkers import BIOMARKERS

__all__ = ["RULE", "ChangeCheck", "check_change", "change_checks", "alert_history", "rule_text", "alerts_payload"]

ALPHA = 0.05  # one false alarm per score in 20 visits of a person whose estimates did not change
WINDOW = 10  # recent visits only: a slow real change should not hide in a years-old baseline
MIN_VISITS = 3  # s from 2 visits has 1 degree of freedom: t(0.975, 1) = 12.7, an alarm that never rings

RULE = (
    "A change alert means the new estimate lies outside the range that {coverage} of 100 of your own visits "
    "would fall in, judged from your last {window} or fewer earlier visits with the same model "
    "(at least {min_visits} are needed)."
)


@dataclass(frozen=True)
class ChangeCheck:
    """One score of one visit against the same person's earlier visits."""

    key: str
    value: float
    status: str  # "alert" | "within" | "not_enough_visits"
    n_baseline: int
    baseline_mean: float | None = None  # on the score's own scale
    low: float | None = None  # the person's usual range (the prediction interval), own scale
    high: float | None = None
    scale: str = "linear"  # "linear" | "log" | "logit": where the rule was applied

    @property
    def alert(self) -> bool:
        return self.status == "alert"

    @property
    def direction(self) -> str | None:
        if not self.alert or self.baseline_mean is None:
            return None
        return "up" if self.value > self.baseline_mean else "down"

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "status": self.status,
            "direction": self.direction,
            "n_baseline": self.n_baseline,
            "baseline_mean": self.baseline_mean,
            "low": self.low,
            "high": self.high,
            "scale": self.scale,
        }


def _scale_of(key: str, probability: bool) -> str:
    if probability:
        return "logit"
    marker = BIOMARKERS.get(key)
    return "log" if marker is not None and marker.log_normal else "linear"


def _forward(x: np.ndarray, scale: str) -> np.ndarray:
    if scale == "log":
        return np.log(np.maximum(x, 1e-12))
    if scale == "logit":
        p = np.clip(x, 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))
    return x


def _back(y: float, scale: str) -> float:
    if scale == "log":
        return float(math.exp(y))
    if scale == "logit":
        return float(1 / (1 + math.exp(-y)))
    return float(y)


def check_change(
    earlier: Sequence[float],
    value: float,
    key: str = "",
    *,
    probability: bool = False,
    alpha: float = ALPHA,
    window: int = WINDOW,
    min_visits: int = MIN_VISITS,
) -> ChangeCheck:
    """The rule of the module docstring for one score; ``earlier`` is oldest first."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    scale = _scale_of(key, probability)
    base = np.asarray([v for v in earlier if v is not None and math.isfinite(v)], float)[-window:]
    n = len(base)
    if n < max(min_visits, 2):
        return ChangeCheck(key, float(value), "not_enough_visits", n, scale=scale)
    y, x = _forward(base, scale), float(_forward(np.asarray([value], float), scale)[0])
    mean, sd = float(y.mean()), float(y.std(ddof=1))
    half = float(stats.t.ppf(1 - alpha / 2, n - 1)) * sd * math.sqrt(1 + 1 / n)
    status = "alert" if abs(x - mean) > half else "within"
    return ChangeCheck(
        key, float(value), status, n, _back(mean, scale), _back(mean - half, scale), _back(mean + half, scale), scale
    )


def _scores(visit: Any) -> dict[str, tuple[float, bool]]:
    """Every scalar score of a Visit: values, binary probabilities, risks -> (value, is_probability)."""
    out = {k: (float(v), False) for k, v in visit.values.items()}
    out |= {k: (float(p), True) for k, p in visit.probabilities.items() if isinstance(p, int | float)}
    out |= {f"{k}_risk": (float(r), False) for k, r in visit.risks.items()}
    return out


def change_checks(
    visits: Sequence[Any],
    *,
    alpha: float = ALPHA,
    window: int = WINDOW,
    min_visits: int = MIN_VISITS,
) -> dict[str, ChangeCheck]:
    """Each score of the last of ``visits`` (Visit records, oldest first) against the earlier ones."""
    if not visits:
        return {}
    *earlier, current = visits
    same_model = [v for v in earlier if v.model_id == current.model_id]
    history = [_scores(v) for v in same_model]
    checks = {}
    for key, (value, probability) in _scores(current).items():
        past = [h[key][0] for h in history if key in h]
        checks[key] = check_change(
            past, value, key, probability=probability, alpha=alpha, window=window, min_visits=min_visits
        )
    return checks


def alert_history(visits: Sequence[Any], **kwargs: Any) -> list[dict[str, ChangeCheck]]:
    """:func:`change_checks` of every visit against the visits before it (for history charts)."""
    return [change_checks(visits[: i + 1], **kwargs) for i in range(len(visits))]


def rule_text(alpha: float = ALPHA, window: int = WINDOW, min_visits: int = MIN_VISITS) -> str:
    """:data:`RULE` in words for these settings (the report and the service state it)."""
    return RULE.format(coverage=f"{100 * (1 - alpha):g}", window=window, min_visits=min_visits)


def alerts_payload(checks: Mapping[str, ChangeCheck]) -> dict[str, Any]:
    """What the service returns for a visit: the rule in words and every score's check."""
    return {"rule": rule_text(), "alpha": ALPHA, "checks": {k: c.as_dict() for k, c in checks.items()}}
