"""How much of the findable signal a model finds: the oracle and the recovery ratio.

On a synthetic cohort the planted truth is known, so besides the trivial reference (the training
mean or prevalence; :mod:`facehealth.evaluate.references`) there is a ceiling: the **oracle**,
which predicts with the planted truth itself (the latent age, the planted log-hazard, the planted
CAD probability, the part of each marker that the face shows). The generator writes it as
``oracle_<label>`` columns of ``ground_truth_subjects.csv``.

    recovery = (model - trivial) / (oracle - trivial)

is 0 for a model no better than the trivial reference and 1 for one as good as the oracle, for
a metric where higher is better (r, AUROC, C) and, with the signs flipped by the ratio itself,
for MAE. It is NaN (``not estimable``) where the oracle is no better than the trivial reference:
a negative-control marker has nothing findable, and its model metrics must then sit on the
trivial reference instead. Model, trivial and oracle are computed in the same subject bootstrap
resample, so the CI of the ratio is a CI of the ratio, not a ratio of CIs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.evaluate import metrics as m
from facehealth.models.tasks import TaskSpec

__all__ = ["ORACLE_PREFIX", "RECOVERY_METRICS", "oracle_predictions", "recovery", "recovery_metric"]

ORACLE_PREFIX = "oracle:"  # how the oracle's columns are named beside the model's in a scored table
# The metrics recovery is reported for, per task kind; each with its trivial value (None: computed).
RECOVERY_METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("mae", "pearson_r"),
    "binary": ("auroc",),
    "cox": ("c_index",),
}
_MIN_GAIN = 1e-9  # an oracle this close to the trivial reference has nothing to recover


def recovery(model: float, trivial: float, oracle: float) -> float:
    """``(model - trivial) / (oracle - trivial)``; NaN when the oracle does not beat the trivial value.

    >>> recovery(0.7, 0.5, 0.9)
    0.5
    >>> recovery(6.0, 12.0, 0.0)  # an MAE halved of the way to a perfect oracle
    0.5
    """
    gain = oracle - trivial
    if not np.isfinite([model, trivial, oracle]).all() or abs(gain) < _MIN_GAIN:
        return float("nan")
    return float((model - trivial) / gain)


def recovery_metric(kind: str, metric: str, trivial_centre: float = float("nan")) -> Callable[..., float]:
    """A pure function of (truth..., model prediction, oracle prediction) giving the recovery.

    Args:
        kind: the task kind (regression, binary, cox).
        metric: one of :data:`RECOVERY_METRICS` for that kind.
        trivial_centre: the training mean a regression's trivial reference predicts (MAE only).

    The arrays are ``(y, pred, oracle)``, or ``(time, pred, event, oracle)`` for C.
    """
    if kind == "regression" and metric == "mae":

        def fn(y: np.ndarray, p: np.ndarray, o: np.ndarray) -> float:
            if np.nanstd(o) == 0:
                return float("nan")  # a constant oracle: nothing findable
            return recovery(m.mae(y, p), m.mae(y, np.full_like(y, trivial_centre)), m.mae(y, o))

        return fn
    if kind == "regression" and metric == "pearson_r":

        def fn(y: np.ndarray, p: np.ndarray, o: np.ndarray) -> float:
            return float("nan") if np.nanstd(o) == 0 else recovery(m.pearson_r(y, p), 0.0, m.pearson_r(y, o))

        return fn
    if kind == "binary" and metric == "auroc":
        return lambda y, p, o: recovery(m.auroc(y, p), 0.5, m.auroc(y, o))
    if kind == "cox" and metric == "c_index":
        return lambda t, p, e, o: recovery(m.harrell_c_index(t, p, e), 0.5, m.harrell_c_index(t, o, e))
    raise ValueError(f"no recovery for {kind} {metric}; known: {RECOVERY_METRICS}")


def oracle_predictions(cohort_root: str | Path, tasks: list[TaskSpec]) -> pd.DataFrame | None:
    """The planted truth as predictions, named like the model's output columns; None without one.

    Reads ``oracle_<label>`` (regression columns, binary and Cox task names) from the cohort's
    ``ground_truth_subjects.csv``, which only the synthetic generator writes.
    """
    path = Path(cohort_root) / "ground_truth_subjects.csv"
    if not path.is_file():
        return None
    truth = pd.read_csv(path, dtype={"subject_id": str})
    out = {"subject_id": truth["subject_id"]}
    for t in tasks:
        pairs = (
            [(t.output_column(c), f"oracle_{c}") for c in t.columns]
            if t.kind == "regression"
            else [(t.output_column(), f"oracle_{t.name}")]
            if t.kind in ("binary", "cox")
            else []
        )
        out |= {column: truth[source] for column, source in pairs if source in truth.columns}
    return pd.DataFrame(out) if len(out) > 1 else None
