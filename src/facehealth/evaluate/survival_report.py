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
from facehealth.evaluate.covariates import CovariateSpec, EncodedCovariates, encode_covariates
from facehealth.evaluate.metrics import harrell_c_index
from facehealth.evaluate.survival import (
    cox_hazard_ratio,
    kaplan_meier_by_group,
    logrank_by_group,
    quartile_hazard_ratio,
    risk_quartiles,
)
from facehealth.evaluate.survival_calibration import survival_calibration
from facehealth.models.tasks import risk_column

__all__ = [
    "merge_subject_tables",
    "DEFAULT_HORIZONS",
    "clip_horizons",
    "survival_metric_cis",
    "survival_analysis",
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


def merge_subject_tables(predictions: pd.DataFrame, labels: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
    """Predictions with their labels and subjects-table columns (labels win a shared name)."""
    data = predictions.merge(labels, on="subject_id", how="left", suffixes=("", "_label"))
    extra = [c for c in subjects.columns if c == "subject_id" or c not in data.columns]
    return data.merge(subjects[extra], on="subject_id", how="left")


def _require(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(f"missing columns {missing}; available: {sorted(frame.columns)}")


def _spec(covariates: Sequence[str] | CovariateSpec) -> CovariateSpec:
    return covariates if isinstance(covariates, CovariateSpec) else CovariateSpec(tuple(covariates))


def _varying(frame: pd.DataFrame, terms: Sequence[str]) -> tuple[str, ...]:
    """Terms that vary within ``frame``: a level absent from a split would make the Cox fit singular."""
    return tuple(t for t in terms if frame[t].nunique() > 1)


def _safe(fn: Callable[..., object], *args: object, **kwargs: object) -> dict:
    """A Cox fit on a small split may not converge: report why instead of aborting the report."""
    try:
        out = fn(*args, **kwargs)
    except Exception as err:  # lifelines raises ConvergenceError, LinAlgError, ValueError, ...
        return {"error": f"{type(err).__name__}: {err}"}
    fields = out.as_dict() if hasattr(out, "as_dict") else out.__dict__
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


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
    spec: CovariateSpec,
    time_col: str,
    event_col: str,
    extra: Sequence[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, EncodedCovariates]:
    """Subjects with time, event and risk (``data``), its train split, and the complete cases on
    the covariates with their indicator coding (the rows every adjusted model is fitted on)."""
    data = merge_subject_tables(predictions, labels, subjects)
    _require(data, ["split", risk_column(task), time_col, event_col, *spec.columns, *extra])
    data = data.rename(columns={time_col: "time", event_col: "event", risk_column(task): "risk"})
    data = data.dropna(subset=["time", "event", "risk"])
    sd = data.loc[data["split"] == "train", "risk"].std() if (data["split"] == "train").any() else np.nan
    data["risk_z"] = data["risk"] / (sd if sd and np.isfinite(sd) and sd > 0 else data["risk"].std())
    train = data[data["split"] == "train"]
    return data, train, encode_covariates(data, spec)


def _cox_terms(frame: pd.DataFrame, terms: tuple[str, ...]) -> dict:
    """Every term of one Cox model with its HR and CI, and the Schoenfeld (rank) test per term."""
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    try:
        data = frame[["time", "event", *terms]].dropna()
        cph = CoxPHFitter().fit(data, "time", "event")
        ph = proportional_hazard_test(cph, data, time_transform="rank").summary["p"]
    except Exception as err:  # noqa: BLE001 - reported, not raised (see _safe)
        return {"error": f"{type(err).__name__}: {err}"}
    rows = [
        {
            "term": str(term),
            "hr": float(row["exp(coef)"]),
            "low": float(row["exp(coef) lower 95%"]),
            "high": float(row["exp(coef) upper 95%"]),
            "p": float(row["p"]),
            "ph_p": float(ph.get(term, np.nan)),
        }
        for term, row in cph.summary.iterrows()
    ]
    events = int(data["event"].sum())
    return {"terms": rows, "n": int(len(data)), "events": events, "concordance": float(cph.concordance_index_)}


def _ph_summary(model: dict) -> dict:
    """Schoenfeld-residual p per term of the risk + covariates model (as ``{p_values, min_p}``)."""
    if "terms" not in model:
        return {"error": model.get("error", "no model")}
    p = {t["term"]: t["ph_p"] for t in model["terms"]}
    return {"p_values": p, "min_p": float(np.nanmin(list(p.values())))}


def _per_quartile(frame: pd.DataFrame, covariates: tuple[str, ...]) -> dict:
    """HR of risk quartiles 2, 3 and 4 against quartile 1, in one Cox model with the covariates."""
    data = frame.copy()
    for q in (2, 3, 4):
        data[f"quartile_{q}_vs_1"] = (data["quartile"] == q).astype(float)
    fitted = _cox_terms(data, ("quartile_2_vs_1", "quartile_3_vs_1", "quartile_4_vs_1", *covariates))
    if "terms" in fitted:
        fitted["terms"] = [t for t in fitted["terms"] if t["term"].startswith("quartile_")]
    return fitted


def survival_analysis(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    subjects: pd.DataFrame,
    task: str = "survival",
    covariates: Sequence[str] | CovariateSpec = ("age", "sex"),
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
    multi-group log-rank test; Cox hazard ratios adjusted for ``covariates`` (subjects-table
    columns, or a :class:`CovariateSpec` with reference levels) of the top vs bottom quartile,
    of each quartile against the lowest and per training-SD of risk, with every covariate's own
    HR; Schoenfeld p-values of that model; survival calibration at each horizon. Adjusted models
    use complete cases; how many subjects a split lost for missing covariates is reported. The
    training split supplies the censoring distribution and baseline hazard (it must be in
    ``predictions``).

    Returns:
        ``{"task", "horizons", "covariates", "n_boot", "splits": {split: {...}}}``; each split has
        ``n_subjects, n_events, median_time, harrell_c_index, uno_c_index`` (MetricCI dicts),
        ``time_dependent_auc`` and ``brier_by_time`` (lists of ``{"time", **MetricCI}``),
        ``mean_td_auc``, ``integrated_brier``, ``km_by_quartile`` (``{"1".."4": {n, events, time,
        survival, low, high}}``), ``logrank {chi2, df, p}``, ``hazard_ratios
        {top_vs_bottom_quartile, per_sd_of_risk}`` (HazardRatio dicts or ``{"error"}``),
        ``proportional_hazards {p_values, min_p}``, ``calibration {"<h>": SurvivalCalibration dict}``,
        ``hazard_ratios.per_quartile`` and ``cox_model`` (``{terms: [{term, hr, low, high, p,
        ph_p}], n, events, concordance}``), ``n_dropped_missing_covariates``; the top level has
        ``covariate_coding`` (terms, reference levels, subjects dropped per column).
    """
    spec = _spec(covariates)
    data, train, encoded = _prepare(predictions, labels, subjects, task, spec, time_col, event_col)
    if train.empty:
        raise SchemaError("survival_analysis needs the train split (censoring distribution, baseline hazard)")
    tt, te, tr = (train[c].to_numpy(float) for c in ("time", "event", "risk"))
    hs = clip_horizons(tt, horizons)
    result: dict = {
        "task": task,
        "horizons": list(hs),
        "covariates": list(spec.columns),
        "covariate_coding": encoded.summary(),
        "n_boot": n_boot,
        "splits": {},
    }
    complete = encoded.frame
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
        coded = complete[complete["subject_id"].isin(part["subject_id"])].merge(
            part[["subject_id", "quartile"]], on="subject_id"
        )
        out["n_dropped_missing_covariates"] = int(len(part) - len(coded))
        names = _varying(coded, encoded.terms)
        quartile_hr = _safe(quartile_hazard_ratio, coded, "risk", names)
        if not np.isfinite(quartile_hr.get("high", 0.0)) or quartile_hr.get("low", 1.0) == 0:
            quartile_hr["note"] = "no events in the top or bottom quartile: the Cox estimate diverges"
        out["hazard_ratios"] = {
            "top_vs_bottom_quartile": quartile_hr,
            "per_quartile": _per_quartile(coded, names),
            "per_sd_of_risk": _safe(cox_hazard_ratio, coded, "risk_z", names, check_ph=False),
        }
        out["cox_model"] = _cox_terms(coded, ("risk_z", *names))
        out["proportional_hazards"] = _ph_summary(out["cox_model"])
        surv = sm.breslow_survival(tt, te, tr, r, hs)
        bins = int(np.clip(len(part) // 50, 2, 10))  # about 50 subjects a group, 2..10 groups
        out["calibration"] = {
            f"{h:g}": survival_calibration(t, e, surv[:, k], h, bins=bins).as_dict() for k, h in enumerate(hs)
        }
        result["splits"][name] = out
    return result
