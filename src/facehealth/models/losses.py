"""Losses of the clinical heads: masked regression, weighted classification, Cox partial likelihood.

All take NaN (or -1 for class labels) as "label missing" and ignore those
entries, because clinical tables are never complete.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["masked_mse", "masked_cross_entropy", "masked_bce", "cox_partial_likelihood"]


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the entries of ``target`` that are not NaN; 0 (with grad) when none are."""
    valid = ~torch.isnan(target)
    if not valid.any():
        return pred.sum() * 0.0
    return ((pred[valid] - target[valid]) ** 2).mean()


def masked_bce(logits: torch.Tensor, target: torch.Tensor, pos_weight: float | None = None) -> torch.Tensor:
    """Binary cross-entropy on non-NaN targets; ``pos_weight`` > 1 up-weights the rarer positive class."""
    valid = ~torch.isnan(target)
    if not valid.any():
        return logits.sum() * 0.0
    weight = None if pos_weight is None else torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    return F.binary_cross_entropy_with_logits(logits[valid], target[valid], pos_weight=weight)


def masked_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, class_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Multi-class cross-entropy; targets are class indices, NaN or negative = missing."""
    target = torch.nan_to_num(target, nan=-1.0).long()
    valid = target >= 0
    if not valid.any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits[valid], target[valid], weight=class_weights)


def cox_partial_likelihood(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
    """Negative Cox log partial likelihood with Efron's tie correction, divided by the number of events.

    For each distinct event time t_j with the set D_j of d_j events and risk set
    R_j = {i : time_i >= t_j}:

        log L = sum_j [ sum_{i in D_j} r_i
                        - sum_{l=0}^{d_j - 1} log( sum_{i in R_j} e^{r_i} - (l / d_j) sum_{i in D_j} e^{r_i} ) ]

    (Efron, JASA 1977). Equals lifelines' ``CoxPHFitter`` log-likelihood at the same
    linear predictor. Returns 0 (with grad) when the batch has no events, and
    ignores rows whose time or event is NaN. Cost O(N log N): one sort of the times, then the
    risk-set sums as a reverse cumulative sum (loss + gradient at N = 100,000 in well under a
    second on a CPU, ``benchmarks/cox_loss.py``).

    Args:
        risk: (N,) linear predictor (log relative hazard), higher = earlier event.
        time: (N,) follow-up time.
        event: (N,) 1 = event observed, 0 = censored.
    """
    risk, time, event = _valid_rows(risk, time, event)
    if not event.any():
        return risk.sum() * 0.0
    shift = risk.detach().max()  # exp(r - shift): no overflow, the likelihood is shift-invariant
    exp_r = torch.exp(risk - shift)
    # One sort, then sums per distinct time: O(N log N) instead of a pass over N per event time.
    times, index = torch.unique(time, sorted=True, return_inverse=True)  # index: (N,) -> distinct time
    k = len(times)
    at_time = exp_r.new_zeros(k).index_add(0, index, exp_r)
    risk_sum = torch.flip(torch.cumsum(torch.flip(at_time, (0,)), 0), (0,))  # sum over time_i >= t_j
    events = event.to(risk.dtype)
    tied_sum = exp_r.new_zeros(k).index_add(0, index, exp_r * events)  # sum of e^r over D_j
    d = torch.zeros(k, dtype=torch.long, device=risk.device).index_add(0, index, event.long())
    # Efron: the l-th (l = 0 .. d_j - 1) of the d_j tied events at t_j sees R_j - (l / d_j) D_j.
    group = torch.repeat_interleave(torch.arange(k, device=risk.device), d)  # (events,) -> its time
    first = torch.cumsum(d, 0) - d
    rank = torch.arange(len(group), device=risk.device) - first[group]
    fractions = rank.to(risk.dtype) / d[group].to(risk.dtype)
    # Clamped: a risk far below the largest underflows exp() to 0, and log(0) would poison the gradient.
    denominator = (risk_sum[group] - fractions * tied_sum[group]).clamp_min(torch.finfo(risk.dtype).tiny)
    log_lik = (risk * events).sum() - (torch.log(denominator) + shift).sum()
    return -log_lik / event.sum()


def _valid_rows(
    risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flattened rows whose time and event are known; event as bool."""
    risk, time, event = risk.reshape(-1), time.reshape(-1), event.reshape(-1)
    valid = ~(torch.isnan(time) | torch.isnan(event))
    return risk[valid], time[valid], event[valid].bool()
