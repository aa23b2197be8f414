"""The survival evaluation of a risk score (FAHR-FaceSurvival), as one JSON-ready report.

``survival_metric_cis`` gives the censoring-aware discrimination and accuracy metrics with
subject-bootstrap CIs (shared with :func:`facehealth.evaluate.clinical.evaluate_predictions`);
``survival_analysis`` adds Kaplan-Meier curves by risk quartile, the log-rank test, the
covariate-adjusted Cox hazard ratio of the top vs the bottom quartile, a proportional-hazards
check and calibration at each horizon; ``combined_scores`` tests FAHR's claim that face age
and face survival risk together predict better than either. The censoring distribution and
Breslow baseline hazard come from the training split and stay fixed across bootstrap resamples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from facehealth.errors import SchemaError
from facehealth.evaluate import survival_metrics as sm
from facehealth.evaluate.bootstrap import bootstrap_ci
from facehealth.evaluate.compare import nested_cox_test
from facehealth.evaluate.metrics import harrell_c_index
from facehealth.evaluate.survival import (
    cox_hazard_ratio,
    kaplan_meier_by_group,
    logrank_by_group,
    quartile_hazard_ratio,
    risk_quartiles,
)
from facehealth.evaluate.survival_calibration import survival_calibration
from facehealth.models.tasks import pred_column, risk_column

__all__ = [
    "DEFAULT_HORIZONS",
    "clip_horizons",
    "survival_metric_cis",
    "survival_analysis",
    "combined_scores",
]

DEFAULT_HORIZONS = (3.0, 5.0, 10.0)  # years, as in FAHR-Face's survival figures
IBS_POINTS = 30  # grid for the integrated Brier score; finer grids change the IBS by < 1e-3


def clip_horizons(train_time: ArrayLike, horizons: Iterable[float] = DEFAULT_HORIZONS) -> tuple[float, ...]:
    """The horizons strictly inside the training follow-up (where G and H0 are defined);
    the median training time when none is.

    Args:
        train_time: (n_train,) follow-up times of the training split (NaN ignored).
        horizons: candidate horizons, in the units of ``train_time``.
    """
    t = np.asarray(train_time, float)
    t = t[~np.isnan(t)]
    kept = tuple(float(h) for h in horizons if h < t.max())
    return kept or (float(np.median(t)),)


def _ibs_times(train_time: np.ndarray, horizons: tuple[float, ...]) -> np.ndarray:
    """IBS grid from the training split's 10th time percentile to the last horizon (fixed across resamples)."""
    hi = max(horizons)
    lo = min(float(np.quantile(train_time, 0.1)), hi / 2)
    return np.linspace(lo, hi, IBS_POINTS)


def survival_metric_cis(
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    groups: np.ndarray,
    rng: np.random.Generator,
    n_boot: int = 1000,
    horizons: tuple[float, ...] = DEFAULT_HORIZONS,
) -> dict:
    """Uno's C (truncated at the last horizon), AUC(t) and Brier(t) per horizon, and the IBS,
    each a :class:`MetricCI` dict from resampling ``groups`` (subjects).

    Returns:
        flat ``{"uno_c_index", "td_auc_<h>", "brier_<h>", "ibs": MetricCI dict, "horizons",
        "tau", "mean_td_auc", "ibs_times"}`` (``<h>`` formatted with ``:g``, e.g. ``td_auc_5``).

    Args:
        train: (time, event, risk) of the training split: censoring distribution and
            Breslow baseline hazard, not resampled.
        time, event, risk: the split being scored (risk = Cox linear predictor, higher = worse).
        horizons: candidate horizons, clipped to the training follow-up.
    """
    tt, te, tr = (np.asarray(a, float) for a in train)
    ok = ~(np.isnan(tt) | np.isnan(te) | np.isnan(tr))
    tt, te, tr = tt[ok], te[ok], tr[ok]
    horizons = clip_horizons(tt, horizons)
    tau = max(horizons)
    grid = _ibs_times(tt, horizons)
    arrays = [np.asarray(a, float) for a in (time, event, risk)]

    def ci(fn: Callable[[np.ndarray, np.ndarray, np.ndarray], float], name: str) -> dict:
        def complete(t: np.ndarray, e: np.ndarray, r: np.ndarray) -> float:  # drops rows missing a label or a risk
            keep = ~(np.isnan(t) | np.isnan(e) | np.isnan(r))
            return fn(t[keep], e[keep], r[keep])

        return bootstrap_ci(complete, arrays, rng, groups=groups, n_boot=n_boot, name=name).as_dict()

    def auc_at(h: float) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float]:
        return lambda t, e, r: sm.cumulative_dynamic_auc(tt, te, t, e, r, [h])[0][0]

    def brier_at(h: float) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float]:
        return lambda t, e, r: sm.brier_score(tt, te, t, e, sm.breslow_survival(tt, te, tr, r, [h]), [h])[0]

    def ibs(t: np.ndarray, e: np.ndarray, r: np.ndarray) -> float:
        return sm.integrated_brier_score(tt, te, t, e, sm.breslow_survival(tt, te, tr, r, grid), grid)

    _, mean_auc = sm.cumulative_dynamic_auc(tt, te, *arrays, horizons)
    return {
        "horizons": list(horizons),
        "tau": tau,
        "uno_c_index": ci(lambda t, e, r: sm.uno_c_index(tt, te, t, e, r, tau=tau), "uno_c_index"),
        **{f"td_auc_{h:g}": ci(auc_at(h), f"td_auc_{h:g}") for h in horizons},
        "mean_td_auc": mean_auc,
        **{f"brier_{h:g}": ci(brier_at(h), f"brier_{h:g}") for h in horizons},
        "ibs": ci(ibs, "ibs"),
        "ibs_times": [float(grid[0]), float(grid[-1])],
    }


def _merge(predictions: pd.DataFrame, labels: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
    data = predictions.merge(labels, on="subject_id", how="left", suffixes=("", "_label"))
    extra = [c for c in subjects.columns if c == "subject_id" or c not in data.columns]
    return data.merge(subjects[extra], on="subject_id", how="left")


def _require(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(f"missing columns {missing}; available: {sorted(frame.columns)}")


def _encode(frame: pd.DataFrame, covariates: Sequence[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Covariates as numbers: text columns one-hot with the first level as reference."""
    text = [c for c in covariates if frame[c].dtype == object]
    coded = pd.get_dummies(frame, columns=text, drop_first=True, dtype=float)
    return coded, (*[c for c in covariates if c not in text], *[c for c in coded.columns if c not in frame.columns])


def _safe(fn: Callable[..., object], *args: object, **kwargs: object) -> dict:
    """A Cox fit on a small split may not converge: report why instead of aborting the report."""
    try:
        out = fn(*args, **kwargs)
    except Exception as err:  # lifelines raises ConvergenceError, LinAlgError, ValueError, ...
        return {"error": f"{type(err).__name__}: {err}"}
    fields = out.as_dict() if hasattr(out, "as_dict") else out.__dict__
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


def _ph_check(frame: pd.DataFrame, covariates: tuple[str, ...]) -> dict:
    """Schoenfeld-residual test (rank time transform) per term of the risk + covariates Cox model."""
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    try:
        data = frame[["time", "event", "risk_z", *covariates]].dropna()
        cph = CoxPHFitter().fit(data, "time", "event")
        result = proportional_hazard_test(cph, data, time_transform="rank")
    except Exception as err:  # noqa: BLE001 - reported, not raised (see _safe)
        return {"error": f"{type(err).__name__}: {err}"}
    p = result.summary["p"]
    return {"p_values": {str(k): float(v) for k, v in p.items()}, "min_p": float(p.min())}


def _km_json(frame: pd.DataFrame) -> dict:
    curves = kaplan_meier_by_group(frame["time"], frame["event"], frame["quartile"])
    out = {}
    for q, curve in curves.items():
        part = frame[frame["quartile"] == q]
        out[str(q)] = {"n": int(len(part)), "events": int(part["event"].sum())} | {
            c: [round(float(v), 5) for v in curve[c]] for c in ("time", "survival", "low", "high")
        }
    return out


def _splits(data: pd.DataFrame, splits: Iterable[str]) -> dict[str, pd.DataFrame]:
    parts = {s: data[data["split"] == s] for s in splits if (data["split"] == s).any()}
    if len(parts) > 1:
        parts["+".join(parts)] = data[data["split"].isin(list(parts))]
    return parts


def _prepare(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    subjects: pd.DataFrame,
    task: str,
    covariates: Sequence[str],
    time_col: str,
    event_col: str,
    extra: Sequence[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = _merge(predictions, labels, subjects)
    _require(data, ["split", risk_column(task), time_col, event_col, *covariates, *extra])
    data = data.rename(columns={time_col: "time", event_col: "event", risk_column(task): "risk"})
    data = data.dropna(subset=["time", "event", "risk"])
    sd = data.loc[data["split"] == "train", "risk"].std() if (data["split"] == "train").any() else np.nan
    data["risk_z"] = data["risk"] / (sd if sd and np.isfinite(sd) and sd > 0 else data["risk"].std())
    train = data[data["split"] == "train"]
    return data, train


def survival_analysis(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    subjects: pd.DataFrame,
    task: str = "survival",
    covariates: tuple[str, ...] = ("age", "sex"),
    *,
    rng: np.random.Generator,
    n_boot: int = 1000,
    horizons: tuple[float, ...] = DEFAULT_HORIZONS,
    splits: tuple[str, ...] = ("test", "external"),
    time_col: str = "survival_time",
    event_col: str = "survival_event",
) -> dict:
    """Everything FAHR-FaceSurvival reports for one risk score, per scored split (and pooled).

    Per split: Harrell's and Uno's C, AUC(t), Brier(t) and IBS with subject-bootstrap CIs
    (:func:`survival_metric_cis`); Kaplan-Meier curves by risk quartile (1 = lowest) with the
    multi-group log-rank test; Cox hazard ratios adjusted for ``covariates`` (from the subjects
    table) of the top vs bottom quartile and per training-SD of risk; Schoenfeld p-values of
    that model; survival calibration at each horizon. The training split supplies the censoring
    distribution and baseline hazard (it must be in ``predictions``).

    Returns:
        ``{"task", "horizons", "covariates", "n_boot", "splits": {split: {...}}}``; each split has
        ``n_subjects, n_events, median_time, harrell_c_index, uno_c_index`` (MetricCI dicts),
        ``time_dependent_auc`` and ``brier_by_time`` (lists of ``{"time", **MetricCI}``),
        ``mean_td_auc``, ``integrated_brier``, ``km_by_quartile`` (``{"1".."4": {n, events, time,
        survival, low, high}}``), ``logrank {chi2, df, p}``, ``hazard_ratios
        {top_vs_bottom_quartile, per_sd_of_risk}`` (HazardRatio dicts or ``{"error"}``),
        ``proportional_hazards {p_values, min_p}``, ``calibration {"<h>": SurvivalCalibration dict}``.
    """
    data, train = _prepare(predictions, labels, subjects, task, covariates, time_col, event_col)
    if train.empty:
        raise SchemaError("survival_analysis needs the train split (censoring distribution, baseline hazard)")
    tt, te, tr = (train[c].to_numpy(float) for c in ("time", "event", "risk"))
    hs = clip_horizons(tt, horizons)
    result: dict = {"task": task, "horizons": list(hs), "covariates": list(covariates), "n_boot": n_boot, "splits": {}}
    for name, part in _splits(data, splits).items():
        part = part.copy()
        t, e, r = (part[c].to_numpy(float) for c in ("time", "event", "risk"))
        ids = part["subject_id"].to_numpy()
        out: dict = {"n_subjects": int(len(part)), "n_events": int(e.sum()), "median_time": float(np.median(t))}
        out["harrell_c_index"] = bootstrap_ci(
            harrell_c_index, [t, r, e], rng, groups=ids, n_boot=n_boot, name="harrell_c_index"
        ).as_dict()
        cis = survival_metric_cis((tt, te, tr), t, e, r, ids, rng, n_boot, hs)
        out["uno_c_index"] = cis["uno_c_index"] | {"tau": cis["tau"]}
        out["time_dependent_auc"] = [{"time": h} | cis[f"td_auc_{h:g}"] for h in hs]
        out["mean_td_auc"] = cis["mean_td_auc"]
        out["brier_by_time"] = [{"time": h} | cis[f"brier_{h:g}"] for h in hs]
        out["integrated_brier"] = cis["ibs"] | {"times": cis["ibs_times"]}
        part["quartile"] = risk_quartiles(r)
        out["km_by_quartile"] = _km_json(part)
        chi2, p = logrank_by_group(t, e, part["quartile"])
        out["logrank"] = {"chi2": chi2, "df": int(part["quartile"].nunique() - 1), "p": p}
        coded, names = _encode(part, covariates)
        quartile_hr = _safe(quartile_hazard_ratio, part, "risk", tuple(covariates))
        if not np.isfinite(quartile_hr.get("high", 0.0)) or quartile_hr.get("low", 1.0) == 0:
            quartile_hr["note"] = "no events in the top or bottom quartile: the Cox estimate diverges"
        out["hazard_ratios"] = {
            "top_vs_bottom_quartile": quartile_hr,
            "per_sd_of_risk": _safe(cox_hazard_ratio, coded, "risk_z", names, check_ph=False),
        }
        out["proportional_hazards"] = _ph_check(coded, names)
        surv = sm.breslow_survival(tt, te, tr, r, hs)
        bins = int(np.clip(len(part) // 50, 2, 10))  # about 50 subjects a group, 2..10 groups
        out["calibration"] = {
            f"{h:g}": survival_calibration(t, e, surv[:, k], h, bins=bins).as_dict() for k, h in enumerate(hs)
        }
        result["splits"][name] = out
    return result


def _cox_weights(frame: pd.DataFrame, terms: tuple[str, ...]) -> pd.Series:
    from lifelines import CoxPHFitter

    return CoxPHFitter().fit(frame[["time", "event", *terms]], "time", "event").params_


def combined_scores(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    subjects: pd.DataFrame,
    task: str = "survival",
    covariates: tuple[str, ...] = ("age", "sex"),
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
    data, _ = _prepare(predictions, labels, subjects, task, covariates, time_col, event_col, (age_pred, age))
    data["age_gap"] = data[age_pred] - data[age]
    data = data.dropna(subset=["age_gap"])
    source = data[data["split"].isin(("train", "val"))]
    result: dict = {"task": task, "covariates": list(covariates), "n_boot": n_boot, "splits": {}}
    for name, part in _splits(data, splits).items():
        coded, names = _encode(part, covariates)
        out: dict = {"n_subjects": int(len(part)), "n_events": int(part["event"].sum())}
        out["risk_added_to_gap"] = _safe(nested_cox_test, coded, (*names, "age_gap"), ("risk",))
        out["gap_added_to_risk"] = _safe(nested_cox_test, coded, (*names, "risk"), ("age_gap",))
        if source["event"].sum() < min_val_events:
            out["c_gain"] = (
                f"not estimable: {int(source['event'].sum())} event(s) in train+val, fewer than the "
                f"{min_val_events} needed to fit the combination out of sample"
            )
            result["splits"][name] = out
            continue
        try:
            w = _cox_weights(source, ("age_gap", "risk"))
        except Exception as err:  # noqa: BLE001 - a non-converging fit is reported, not raised
            out["error"] = f"{type(err).__name__}: {err}"
            result["splits"][name] = out
            continue
        combined = w["age_gap"] * part["age_gap"].to_numpy(float) + w["risk"] * part["risk"].to_numpy(float)
        out["weights"] = {"age_gap": float(w["age_gap"]), "risk": float(w["risk"])}
        out["weights_from"] = "train+val"
        t, e = part["time"].to_numpy(float), part["event"].to_numpy(float)
        ids = part["subject_id"].to_numpy()
        for label, single in (("risk", part["risk"].to_numpy(float)), ("age_gap", part["age_gap"].to_numpy(float))):

            def delta(tt: np.ndarray, ee: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
                return harrell_c_index(tt, a, ee) - harrell_c_index(tt, b, ee)

            out[f"c_gain_over_{label}"] = bootstrap_ci(
                delta, [t, e, combined, single], rng, groups=ids, n_boot=n_boot, name=f"c_gain_over_{label}"
            ).as_dict()
        out["c_combined"] = harrell_c_index(t, combined, e)
        result["splits"][name] = out
    return result
