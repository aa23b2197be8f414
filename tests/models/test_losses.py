from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from facehealth.models.losses import cox_partial_likelihood, masked_bce, masked_cross_entropy, masked_mse


def _survival_data(n: int, seed: int, ties: bool):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.exponential(1.0 / np.exp(0.8 * x))
    if ties:
        t = np.ceil(t * 4) / 4  # coarse times -> many ties
    e = (rng.random(n) < 0.7).astype(float)
    return x, t, e


@pytest.mark.parametrize("ties", [False, True])
def test_cox_loss_equals_lifelines_log_likelihood_at_its_fit(ties):
    from lifelines import CoxPHFitter

    x, t, e = _survival_data(80, 0, ties)
    cph = CoxPHFitter().fit(pd.DataFrame({"x": x, "T": t, "E": e}), "T", "E")
    beta = float(cph.params_["x"])
    risk = torch.tensor(beta * x, dtype=torch.float64, requires_grad=True)
    loss = cox_partial_likelihood(risk, torch.tensor(t), torch.tensor(e))
    np.testing.assert_allclose(-loss.item() * e.sum(), cph.log_likelihood_, rtol=1e-9, atol=1e-9)
    # At lifelines' maximum the derivative with respect to beta vanishes.
    b = torch.tensor(beta, dtype=torch.float64, requires_grad=True)
    cox_partial_likelihood(b * torch.tensor(x), torch.tensor(t), torch.tensor(e)).backward()
    assert abs(b.grad.item()) < 1e-4  # lifelines stops at its own convergence tolerance


def test_cox_loss_is_shift_invariant_and_handles_edge_cases():
    x, t, e = _survival_data(30, 1, True)
    r = torch.tensor(x)
    base = cox_partial_likelihood(r, torch.tensor(t), torch.tensor(e))
    assert torch.allclose(base, cox_partial_likelihood(r + 1000.0, torch.tensor(t), torch.tensor(e)))
    no_events = cox_partial_likelihood(r, torch.tensor(t), torch.zeros(30, dtype=torch.float64))
    assert no_events.item() == 0.0
    t_nan = torch.tensor(t).clone()
    t_nan[0] = float("nan")
    assert torch.isfinite(cox_partial_likelihood(r, t_nan, torch.tensor(e)))


def test_higher_risk_for_earlier_events_lowers_the_loss():
    t = torch.tensor([1.0, 2.0, 3.0, 4.0])
    e = torch.ones(4)
    good = cox_partial_likelihood(torch.tensor([3.0, 2.0, 1.0, 0.0]), t, e)
    bad = cox_partial_likelihood(torch.tensor([0.0, 1.0, 2.0, 3.0]), t, e)
    assert good < bad


def test_masked_losses_ignore_missing_labels():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[1.0, float("nan")], [5.0, 4.0]])
    assert masked_mse(pred, target).item() == pytest.approx(4.0 / 3)
    assert masked_mse(pred, torch.full_like(target, float("nan"))).item() == 0.0
    logits = torch.tensor([0.0, 2.0, -1.0])
    labels = torch.tensor([1.0, float("nan"), 0.0])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[[0, 2]], labels[[0, 2]])
    assert masked_bce(logits, labels).item() == pytest.approx(expected.item())
    multi = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    assert masked_cross_entropy(multi, torch.tensor([0.0, -1.0])).item() == pytest.approx(
        torch.nn.functional.cross_entropy(multi[:1], torch.tensor([0])).item()
    )


def _loop_cox(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
    """The earlier O(events x N) implementation, kept as the parity reference: one pass per event time."""
    event = event.bool()
    shift = risk.detach().max()
    exp_r = torch.exp(risk - shift)
    log_lik = risk.new_zeros(())
    for t in torch.unique(time[event]):
        tied = event & (time == t)
        d = int(tied.sum())
        fractions = torch.arange(d, dtype=risk.dtype) / d
        denominator = exp_r[time >= t].sum() - fractions * exp_r[tied].sum()
        log_lik = log_lik + risk[tied].sum() - (torch.log(denominator) + shift).sum()
    return -log_lik / event.sum()


@pytest.mark.parametrize("ties", [False, True])
def test_the_sorted_cox_loss_equals_the_per_event_loop_and_its_gradient(ties):
    x, t, e = _survival_data(300, 4, ties)
    fast = torch.tensor(0.7 * x, dtype=torch.float64, requires_grad=True)
    slow = torch.tensor(0.7 * x, dtype=torch.float64, requires_grad=True)
    a = cox_partial_likelihood(fast, torch.tensor(t), torch.tensor(e))
    b = _loop_cox(slow, torch.tensor(t), torch.tensor(e))
    a.backward()
    b.backward()
    assert a.item() == pytest.approx(b.item(), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(fast.grad.numpy(), slow.grad.numpy(), rtol=1e-9, atol=1e-12)
    if ties:  # every event shares its time with others, and censored rows share event times too
        assert len(np.unique(t[e == 1])) < 0.5 * (e == 1).sum()
