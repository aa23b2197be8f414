"""Added prognostic value: face age and survival risk together (FAHR), and against a prior model.

``combined_scores`` tests FAHR's claim that face age and face survival risk together predict
better than either; ``face_age_analysis`` tests the face-age gap as a prognostic factor adjusted
for chronological age and the cohort's covariates, head to head with a prior face-age model.
Every C gain is out of sample: combination weights are fitted on train + validation only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from facehealth.evaluate.bootstrap import bootstrap_ci
from facehealth.evaluate.compare import nested_cox_test
from facehealth.evaluate.covariates import CovariateSpec
from facehealth.evaluate.metrics import harrell_c_index
from facehealth.evaluate.survival import cox_hazard_ratio
from facehealth.evaluate.survival_report import _cox_terms, _prepare, _require, _safe, _spec, _splits, _varying
from facehealth.models.tasks import pred_column

__all__ = ["combined_scores", "face_age_analysis"]


def _cox_weights(frame: pd.DataFrame, terms: tuple[str, ...]) -> pd.Series:
    from lifelines import CoxPHFitter

    return CoxPHFitter().fit(frame[["time", "event", *terms]], "time", "event").params_


def _c_gain(
    part: pd.DataFrame, full: np.ndarray, base: np.ndarray, rng: np.random.Generator, n_boot: int, name: str
) -> dict:
    """Harrell's C of ``full`` minus that of ``base`` on the same subjects, with a paired bootstrap CI."""

    def delta(t: np.ndarray, e: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return harrell_c_index(t, a, e) - harrell_c_index(t, b, e)

    arrays = [part["time"].to_numpy(float), part["event"].to_numpy(float), full, base]
    return bootstrap_ci(delta, arrays, rng, groups=part["subject_id"].to_numpy(), n_boot=n_boot, name=name).as_dict()


def _not_estimable(source: pd.DataFrame, min_events: int) -> str | None:
    events = int(source["event"].sum())
    if events >= min_events:
        return None
    return (
        f"not estimable: {events} event(s) in train+val, fewer than the {min_events} needed to fit "
        "the combination out of sample"
    )


def _added_value(
    source: pd.DataFrame,
    part: pd.DataFrame,
    base: tuple[str, ...],
    added: tuple[str, ...],
    rng: np.random.Generator,
    n_boot: int,
    min_events: int,
) -> dict:
    """Does adding ``added`` to a Cox model of ``base`` terms help, on ``part``?

    The likelihood-ratio test is on ``part`` itself; the C gain is out of sample: both models'
    coefficients come from ``source`` (train + validation) and are only applied to ``part``.
    """
    out: dict = {"base": list(base), "added": list(added)}
    out["likelihood_ratio"] = _safe(nested_cox_test, part, base, added)
    reason = _not_estimable(source, min_events)
    if reason:
        return out | {"c_gain": reason}
    try:
        small, big = _cox_weights(source, base), _cox_weights(source, (*base, *added))
    except Exception as err:  # noqa: BLE001 - a non-converging fit is reported, not raised
        return out | {"c_gain": f"{type(err).__name__}: {err}"}
    lp_small = part[list(base)].to_numpy(float) @ small.to_numpy()
    lp_big = part[[*base, *added]].to_numpy(float) @ big.to_numpy()
    t, e = part["time"].to_numpy(float), part["event"].to_numpy(float)
    out["c_base"], out["c_full"] = harrell_c_index(t, lp_small, e), harrell_c_index(t, lp_big, e)
    out["c_gain"] = _c_gain(part, lp_big, lp_small, rng, n_boot, "c_gain")
    out["weights_from"] = "train+val"
    return out


def combined_scores(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    subjects: pd.DataFrame,
    task: str = "survival",
    covariates: Sequence[str] | CovariateSpec = ("age", "sex"),
    *,
    rng: np.random.Generator,
    n_boot: int = 1000,
    age_pred: str = pred_column("age"),
    age: str = "age",
    splits: tuple[str, ...] = ("test", "external"),
    time_col: str = "survival_time",
    event_col: str = "survival_event",
    min_val_events: int = 10,
) -> dict:
    """Do the face-age gap (``pred_age - age``) and the survival risk predict better together?

    Per split: nested-Cox likelihood-ratio tests (:func:`nested_cox_test`, both models adjusted
    for ``covariates``) of adding the risk to the gap and the gap to the risk; and the change in
    Harrell's C of a combined score (Cox linear combination of gap and risk) over each score
    alone, with a paired subject-bootstrap CI. The combination weights are fitted on the train
    and validation splits only, so the C change is out of sample; with fewer than
    ``min_val_events`` events there, the gain is reported as not estimable (never fitted on the
    split it scores).
    """
    spec = _spec(covariates)
    data, _, encoded = _prepare(predictions, labels, subjects, task, spec, time_col, event_col, (age_pred, age))
    data = encoded.frame
    data["age_gap"] = data[age_pred] - data[age]
    data = data.dropna(subset=["age_gap"])
    source = data[data["split"].isin(("train", "val"))]
    result: dict = {"task": task, "covariates": list(spec.columns), "n_boot": n_boot, "splits": {}}
    for name, part in _splits(data, splits).items():
        names = _varying(part, encoded.terms)
        out: dict = {"n_subjects": int(len(part)), "n_events": int(part["event"].sum())}
        out["risk_added_to_gap"] = _safe(nested_cox_test, part, (*names, "age_gap"), ("risk",))
        out["gap_added_to_risk"] = _safe(nested_cox_test, part, (*names, "risk"), ("age_gap",))
        reason = _not_estimable(source, min_val_events)
        if reason:
            result["splits"][name] = out | {"c_gain": reason}
            continue
        try:
            w = _cox_weights(source, ("age_gap", "risk"))
        except Exception as err:  # noqa: BLE001 - a non-converging fit is reported, not raised
            result["splits"][name] = out | {"error": f"{type(err).__name__}: {err}"}
            continue
        combined = w["age_gap"] * part["age_gap"].to_numpy(float) + w["risk"] * part["risk"].to_numpy(float)
        out["weights"] = {"age_gap": float(w["age_gap"]), "risk": float(w["risk"])}
        out["weights_from"] = "train+val"
        for label in ("risk", "age_gap"):
            single = part[label].to_numpy(float)
            out[f"c_gain_over_{label}"] = _c_gain(part, combined, single, rng, n_boot, f"c_gain_over_{label}")
        out["c_combined"] = harrell_c_index(part["time"].to_numpy(float), combined, part["event"].to_numpy(float))
        result["splits"][name] = out
    return result


def face_age_analysis(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    subjects: pd.DataFrame,
    task: str = "survival",
    covariates: Sequence[str] | CovariateSpec = ("sex",),
    *,
    rng: np.random.Generator,
    n_boot: int = 1000,
    prior: pd.DataFrame | None = None,
    prior_name: str = "prior face-age model",
    age_pred: str = pred_column("age"),
    age: str = "age",
    splits: tuple[str, ...] = ("test", "external"),
    time_col: str = "survival_time",
    event_col: str = "survival_event",
    min_val_events: int = 10,
) -> dict:
    """FAHR-FaceAge's prognostic test: the face-age gap as a risk factor, and against a prior model.

    Per split: the hazard ratio per 5 years of face-age gap (predicted minus chronological age),
    adjusted for chronological age and ``covariates``; with ``prior`` (a table of ``subject_id``
    and ``age_pred`` from an earlier face-age model, e.g. the FaceAge-style descriptor arm), both
    gaps in one Cox model, likelihood-ratio tests of each added to the other, and the
    out-of-sample C gain of each (:func:`_added_value`); and whether the survival risk adds to
    the gap (and the gap to the risk), tested the same way.

    Returns:
        ``{"task", "covariates", "prior", "splits": {split: {n_subjects, n_events, gap_hr_per_5_years
        (HazardRatio dict), gap_sd, ours_vs_prior?, prior_vs_ours?, both_gaps?, risk_added_to_gap,
        gap_added_to_risk}}}``.
    """
    spec = _spec(covariates)
    spec = CovariateSpec((age, *[c for c in spec.columns if c != age]), spec.reference, spec.categorical)
    extra = (age_pred, age)
    data, _, encoded = _prepare(predictions, labels, subjects, task, spec, time_col, event_col, extra)
    data = encoded.frame
    data["gap_per_5y"] = (data[age_pred] - data[age]) / 5.0
    gaps = ["gap_per_5y"]
    if prior is not None:
        _require(prior, ["subject_id", age_pred])
        data = data.merge(prior[["subject_id", age_pred]].rename(columns={age_pred: "_prior"}), on="subject_id")
        data["prior_gap_per_5y"] = (data["_prior"] - data[age]) / 5.0
        gaps.append("prior_gap_per_5y")
    data = data.dropna(subset=gaps)
    source = data[data["split"].isin(("train", "val"))]
    result: dict = {
        "task": task,
        "covariates": list(spec.columns),
        "covariate_coding": encoded.summary(),
        "prior": prior_name if prior is not None else None,
        "n_boot": n_boot,
        "splits": {},
    }
    for name, part in _splits(data, splits).items():
        names = _varying(part, encoded.terms)
        out: dict = {"n_subjects": int(len(part)), "n_events": int(part["event"].sum())}
        out["gap_sd"] = float(part["gap_per_5y"].std() * 5)
        out["gap_hr_per_5_years"] = _safe(cox_hazard_ratio, part, "gap_per_5y", names, check_ph=False)
        if prior is not None:
            out["ours_added_to_prior"] = _added_value(
                source, part, (*names, "prior_gap_per_5y"), ("gap_per_5y",), rng, n_boot, min_val_events
            )
            out["prior_added_to_ours"] = _added_value(
                source, part, (*names, "gap_per_5y"), ("prior_gap_per_5y",), rng, n_boot, min_val_events
            )
            out["both_gaps"] = _cox_terms(part, ("gap_per_5y", "prior_gap_per_5y", *names))
        out["risk_added_to_gap"] = _added_value(
            source, part, (*names, "gap_per_5y"), ("risk",), rng, n_boot, min_val_events
        )
        out["gap_added_to_risk"] = _added_value(
            source, part, (*names, "risk"), ("gap_per_5y",), rng, n_boot, min_val_events
        )
        result["splits"][name] = out
    return result
