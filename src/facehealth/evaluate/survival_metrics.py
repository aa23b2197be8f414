"""Censoring-aware survival metrics: Uno's C, time-dependent AUC, Brier score (calibration: survival_calibration.py).

Every estimator here that weights by the inverse probability of censoring (IPCW) takes the
censoring distribution G(t) = P(C > t) from the *training* split (reverse Kaplan-Meier), so the
weights are fixed while the test subjects are bootstrapped. Functions are pure (arrays in,
number or array out); degenerate input (no events, no comparable pairs, a time outside the
follow-up) warns with :class:`DegenerateMetricWarning` and gives NaN. The IPCW metrics equal
scikit-survival's (``sksurv.metrics``) to 1e-9 wherever sksurv accepts the input; the tests check.

Conventions shared with sksurv: G is a right-continuous step function evaluated *at* t (censorings
at an event time are counted after the event), and risk ties within ``tied_tol`` count 1/2.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray

from facehealth.evaluate.metrics import DegenerateMetricWarning

__all__ = [
    "censoring_survival",
    "uno_c_index",
    "cumulative_dynamic_auc",
    "breslow_survival",
    "brier_score",
    "integrated_brier_score",
]


def warn_degenerate(reason: str) -> None:
    warnings.warn(reason, DegenerateMetricWarning, stacklevel=3)


def float_arrays(*arrays: ArrayLike) -> list[np.ndarray]:
    """Float 1-D copies with every row that has a NaN in any array dropped."""
    out = [np.asarray(a, float).ravel() for a in arrays]
    if any(len(a) != len(out[0]) for a in out):
        raise ValueError(f"arrays have different lengths: {[len(a) for a in out]}")
    keep = ~np.any([np.isnan(a) for a in out], axis=0)
    return [a[keep] for a in out]


def _kaplan_meier(time: np.ndarray, event: np.ndarray, reverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Unique times and the Kaplan-Meier survival just after each (``reverse``: of censoring).

    For the censoring distribution the at-risk set at t excludes the events at t: an event at
    t is taken to happen before a censoring at t (Uno et al. 2011; sksurv does the same).
    """
    uniq, inverse = np.unique(time, return_inverse=True)
    n_total = np.bincount(inverse).astype(float)
    n_event = np.bincount(inverse, weights=event.astype(float))
    at_risk = n_total[::-1].cumsum()[::-1]  # subjects with time >= t_k
    if reverse:
        n_event, at_risk = n_total - n_event, at_risk - n_event
    ratio = np.divide(n_event, at_risk, out=np.zeros_like(n_event), where=n_event > 0)
    return uniq, np.cumprod(1.0 - ratio)


def _step(uniq: np.ndarray, surv: np.ndarray, t: ArrayLike) -> NDArray[np.float64]:
    """Evaluate a right-continuous survival step function; NaN beyond the last time unless it reached 0."""
    t = np.atleast_1d(np.asarray(t, float))
    idx = np.searchsorted(uniq, t, side="right") - 1
    out = np.where(idx >= 0, surv[np.clip(idx, 0, None)], 1.0)
    out[t > uniq[-1]] = 0.0 if surv[-1] == 0 else np.nan
    return out


def censoring_survival(train_time: ArrayLike, train_event: ArrayLike, t: ArrayLike) -> NDArray[np.float64]:
    """G(t) = P(C > t): reverse Kaplan-Meier of the training split, NaN beyond its follow-up.

    Args:
        train_time: (n_train,) follow-up times of the training split.
        train_event: (n_train,) 1 = event observed, 0 = censored.
        t: a time or (m,) times.

    Returns:
        (m,) G at each of ``t`` ((1,) for a scalar ``t``).
    """
    time, event = float_arrays(train_time, train_event)
    if time.size == 0:
        raise ValueError("the training split has no survival times")
    uniq, g = _kaplan_meier(time, event.astype(bool), reverse=True)
    return _step(uniq, g, t)


def uno_c_index(
    train_time: ArrayLike,
    train_event: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    risk: ArrayLike,
    tau: float | None = None,
    tied_tol: float = 1e-8,
) -> float:
    """Uno's IPCW concordance (Uno, Cai, Pencina, D'Agostino & Wei, Stat Med 2011;30:1105).

    C = sum_ij w_i I(T_i < T_j, T_i < tau) [I(r_i > r_j) + I(r_i = r_j)/2] / sum_ij w_i I(...),
    over events i, with w_i = G(T_i)^-2 and G the training split's censoring distribution, so
    the estimate does not depend on how heavily the test split is censored. A subject censored
    at an event time counts as outliving it; risk ties (|r_i - r_j| <= ``tied_tol``) count 1/2.
    Equals ``sksurv.metrics.concordance_index_ipcw(train, test, risk, tau)[0]``.

    Args:
        train_time, train_event: (n_train,) follow-up times and 1/0 event indicators of the
            training split (censoring distribution G).
        time, event: (n,) follow-up times and 1/0 event indicators of the split being scored.
        risk: (n,) risk scores, higher = earlier event.
        tau: truncation time: only events before it are cases (None: no truncation).
        tied_tol: risks within this of each other count as tied (1/2).
    """
    t, e, r = float_arrays(time, event, risk)
    e = e.astype(bool)
    horizon = np.inf if tau is None else float(tau)
    cases = np.flatnonzero(e & (t < horizon))
    if cases.size == 0:
        warn_degenerate("uno_c_index: no events before tau")
        return float("nan")
    g = censoring_survival(train_time, train_event, t[cases])
    if np.any(np.isnan(g) | (g == 0)):
        warn_degenerate("uno_c_index: an event lies beyond the training follow-up (G undefined or 0); lower tau")
        return float("nan")
    w = 1.0 / g**2
    numerator = denominator = 0.0
    step = max(1, 2_000_000 // max(t.size, 1))  # blocks of events keep the pair matrix small
    for start in range(0, cases.size, step):
        idx = cases[start : start + step]
        ti, ri = t[idx, None], r[idx, None]
        comparable = (t[None, :] > ti) | ((t[None, :] == ti) & ~e[None, :])
        tied = np.abs(r[None, :] - ri) <= tied_tol
        score = np.where(tied, 0.5, (ri > r[None, :]).astype(float)) * comparable
        numerator += float(w[start : start + step] @ score.sum(1))
        denominator += float(w[start : start + step] @ comparable.sum(1))
    if denominator == 0:
        warn_degenerate("uno_c_index: no comparable pairs")
        return float("nan")
    return numerator / denominator


def cumulative_dynamic_auc(
    train_time: ArrayLike,
    train_event: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    risk: ArrayLike,
    times: ArrayLike,
    tied_tol: float = 1e-8,
) -> tuple[NDArray[np.float64], float]:
    """Cumulative/dynamic AUC(t) with IPCW (Uno et al. JASA 2007; Hung & Chiang, Can J Stat 2010).

    Cases at t: events with T_i <= t, weighted 1/G(T_i); controls: T_j > t.
    AUC(t) = sum_i sum_j w_i [I(r_i > r_j) + I(r_i = r_j)/2] / (sum_i w_i * n_controls).
    The mean AUC weights each AUC(t) by the drop of the test split's Kaplan-Meier survival
    over the sorted times, divided by 1 - S(t_max) (sksurv's ``mean_auc``). Times without
    cases or controls give NaN (with a warning) and are left out of the mean.

    Args:
        train_time, train_event: (n_train,) follow-up times and 1/0 event indicators of the
            training split (censoring distribution G).
        time, event: (n,) follow-up times and 1/0 event indicators of the split being scored.
        risk: (n,) risk scores, higher = earlier event.
        times: a time or (m,) evaluation times.
        tied_tol: risks within this of each other count as tied (1/2).

    Returns:
        (AUC at each of ``times``, in the given order; mean AUC).
    """
    t, e, r = float_arrays(time, event, risk)
    e = e.astype(bool)
    times = np.atleast_1d(np.asarray(times, float))
    aucs = np.full(times.size, np.nan)
    for k, h in enumerate(times):
        case, control = e & (t <= h), t > h
        if not case.any() or not control.any():
            warn_degenerate(f"cumulative_dynamic_auc: no cases or no controls at t={h:g} (outside follow-up)")
            continue
        g = censoring_survival(train_time, train_event, t[case])
        if np.any(np.isnan(g) | (g == 0)):
            warn_degenerate(
                f"cumulative_dynamic_auc: G undefined for a case before t={h:g} (beyond training follow-up)"
            )
            continue
        ctrl = np.sort(r[control])
        below = np.searchsorted(ctrl, r[case] - tied_tol, side="left")  # controls strictly lower
        ties = np.searchsorted(ctrl, r[case] + tied_tol, side="right") - below
        w = 1.0 / g
        aucs[k] = float(w @ (below + 0.5 * ties)) / (w.sum() * ctrl.size)
    ok = ~np.isnan(aucs)
    if not ok.any():
        return aucs, float("nan")
    order = np.argsort(times[ok])
    valid_times, valid_aucs = times[ok][order], aucs[ok][order]
    if valid_times.size == 1:
        return aucs, float(valid_aucs[0])
    uniq, surv = _kaplan_meier(t, e)
    s_times = _step(uniq, surv, valid_times)
    drop = -np.diff(np.r_[1.0, s_times])
    return aucs, float((valid_aucs * drop).sum() / (1.0 - s_times[-1]))


def breslow_survival(
    train_time: ArrayLike, train_event: ArrayLike, train_risk: ArrayLike, risk: ArrayLike, times: ArrayLike
) -> NDArray[np.float64]:
    """S(t | x) = exp(-H0(t) exp(risk)) from a Cox linear predictor (higher = worse).

    Breslow's baseline cumulative hazard on the training split (Breslow, Biometrics 1974):
    H0(t) = sum_{t_k <= t} d_k / sum_{j: T_j >= t_k} exp(lp_j). The linear predictor is used
    as given (no re-fitting of its scale); centring it cancels, so it is centred for stability.
    Times beyond the training follow-up give NaN (with a warning); before the first training
    event, S = 1. (sksurv's ``BreslowEstimator`` instead returns H0 at the first event time there.)

    Args:
        train_time, train_event: (n_train,) follow-up times and 1/0 event indicators of the
            training split (baseline hazard).
        train_risk: (n_train,) linear predictor of the training subjects.
        risk: (n_subjects,) linear predictor of the subjects to predict for.
        times: a time or (n_times,) times.

    Returns:
        (n_subjects, n_times) survival probabilities.
    """
    tt, te, tr = float_arrays(train_time, train_event, train_risk)
    te = te.astype(bool)
    times = np.atleast_1d(np.asarray(times, float))
    lp = np.asarray(risk, float).ravel()
    centre = tr.mean()
    uniq, inverse = np.unique(tt, return_inverse=True)
    deaths = np.bincount(inverse, weights=te.astype(float))
    exp_sum = np.bincount(inverse, weights=np.exp(tr - centre))
    at_risk = exp_sum[::-1].cumsum()[::-1]
    cum_hazard = np.cumsum(deaths / at_risk)
    idx = np.searchsorted(uniq, times, side="right") - 1
    h0 = np.where(idx >= 0, cum_hazard[np.clip(idx, 0, None)], 0.0)
    if np.any(times > uniq[-1]):
        warn_degenerate(f"breslow_survival: times beyond the training follow-up ({uniq[-1]:g}) give NaN")
        h0 = np.where(times > uniq[-1], np.nan, h0)
    return np.exp(-np.outer(np.exp(lp - centre), h0))


def brier_score(
    train_time: ArrayLike,
    train_event: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    surv_prob: ArrayLike,
    times: ArrayLike,
) -> NDArray[np.float64]:
    """IPCW Brier score at each time (Graf, Schmoor, Sauerbrei & Schumacher, Stat Med 1999;18:2529).

    BS(t) = mean_i [ S_i(t)^2 I(T_i <= t, d_i = 1) / G(T_i) + (1 - S_i(t))^2 I(T_i > t) / G(t) ],
    with G from the training split. ``surv_prob`` is (n, n_times) (or (n,) for one time). As in
    sksurv, a zero G makes that term 0. A time at or beyond the last test time gives NaN (no one
    is known at risk); unlike sksurv, times before the first test time are allowed (all controls).

    Args:
        train_time, train_event: (n_train,) follow-up times and 1/0 event indicators of the
            training split (censoring distribution G).
        time, event: (n,) follow-up times and 1/0 event indicators of the split being scored.
        surv_prob: (n, n_times) predicted survival probabilities S_i(t) (or (n,) for one time).
        times: a time or (n_times,) times.

    Returns:
        (n_times,) Brier scores.
    """
    times = np.atleast_1d(np.asarray(times, float))
    prob = np.asarray(surv_prob, float).reshape(len(np.asarray(time)), times.size)
    t, e = float_arrays(time, event)
    keep = ~(np.isnan(np.asarray(time, float)) | np.isnan(np.asarray(event, float)))
    prob = prob[keep]
    e = e.astype(bool)
    if t.size == 0:
        warn_degenerate("brier_score: no subjects")
        return np.full(times.size, np.nan)
    g_obs = censoring_survival(train_time, train_event, t)
    g_times = censoring_survival(train_time, train_event, times)
    case = e[:, None] & (t[:, None] <= times[None, :])  # (n, n_times)
    control = t[:, None] > times[None, :]
    no_control = ~control.any(0)
    undefined = np.isnan(g_times) | (case & np.isnan(g_obs)[:, None]).any(0)
    if no_control.any():
        warn_degenerate(
            f"brier_score: times {times[no_control].tolist()} are at or beyond the last test time {t.max():g}"
        )
    if (undefined & ~no_control).any():
        warn_degenerate(
            f"brier_score: G undefined at times {times[undefined & ~no_control].tolist()} (beyond training follow-up)"
        )
    w_case = np.divide(1.0, g_obs, out=np.zeros_like(g_obs), where=g_obs > 0)  # G = 0 or NaN: weight 0
    w_ctrl = np.divide(1.0, g_times, out=np.zeros_like(g_times), where=g_times > 0)
    terms = prob**2 * case * w_case[:, None] + (1.0 - prob) ** 2 * control * w_ctrl[None, :]
    out = terms.mean(0)
    out[no_control | undefined] = np.nan
    return out


def integrated_brier_score(
    train_time: ArrayLike,
    train_event: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    surv_prob: ArrayLike,
    times: ArrayLike,
) -> float:
    """IBS = (1 / (t_max - t_1)) * integral of BS(t) over [t_1, t_max], by the trapezoid rule
    over ``times`` (sksurv's ``integrated_brier_score``). ``times`` must be increasing, >= 2.

    Args:
        train_time, train_event: (n_train,) follow-up times and 1/0 event indicators of the
            training split (censoring distribution G).
        time, event: (n,) follow-up times and 1/0 event indicators of the split being scored.
        surv_prob: (n, n_times) predicted survival probabilities at ``times``.
        times: (n_times,) increasing times, n_times >= 2.
    """
    times = np.atleast_1d(np.asarray(times, float))
    if times.size < 2 or np.any(np.diff(times) <= 0):
        raise ValueError(f"times must be at least two increasing values, got {times.tolist()[:5]}")
    scores = brier_score(train_time, train_event, time, event, surv_prob, times)
    if np.any(np.isnan(scores)):
        return float("nan")
    return float(np.trapezoid(scores, times) / (times[-1] - times[0]))
