"""Fit the task heads on frozen features before fine-tuning (LP-FT).

A pretrained encoder's features can predict a target well through directions of small variance
(the MAE face encoder's age signal needs large weights in them: ridge picks a penalty of 0.01).
A randomly initialised head trained with Adam for the few hundred steps a small cohort gives
never gets there, and full fine-tuning from such a head first distorts the features it should
use (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features and Underperform
Out-of-Distribution", ICLR: linear probe, then fine-tune). So each head starts at the penalised
optimum of its own loss on frozen, un-augmented training features, with the penalty chosen on
the validation split, head by head (targets differ in how much shrinkage they need).

A risk head (Cox, binary, multiclass) learns from far fewer effective labels than a regression
head: a few dozen events against every subject's age. With a free weight per feature it
overfits (measured: test C 0.44 on a quick-profile cohort whose predicted age alone ranked the
external site at 0.63). So a risk head also gets a *stacked* candidate: a penalised linear model
on the regression heads' outputs (predicted age, markers), folded back into one linear layer on
the features. It competes with the free fits on the same validation loss; the better one wins.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader

from facehealth.models.multitask import MultiTaskModel, TaskSpec, batch_inputs

if TYPE_CHECKING:
    from facehealth.data.datasets import CropDataset, FrameSequenceDataset, SubjectDataset

__all__ = ["fit_heads", "L2_GRID"]

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # penalty on a head's squared weights (1.0: near-constant head)


@torch.no_grad()
def _features(
    model: MultiTaskModel,
    data: CropDataset | SubjectDataset | FrameSequenceDataset,
    batch_size: int,
    device: torch.device,
    targets: Callable[[torch.Tensor], dict[str, torch.Tensor]],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.eval()
    feats, ys = [], []
    for batch in DataLoader(data, batch_size=batch_size):
        feats.append(model.features(**batch_inputs(batch, device)))
        ys.append(batch["target"])
    return torch.cat(feats), {k: v.to(device) for k, v in targets(torch.cat(ys)).items()}


def _fit(model: MultiTaskModel, task: TaskSpec, f: torch.Tensor, y: torch.Tensor, l2: float, iterations: int) -> None:
    _minimise(model, task, model.heads[task.name], f, y, l2, iterations)


def _minimise(
    model: MultiTaskModel,
    task: TaskSpec,
    layer: torch.nn.Linear,
    x: torch.Tensor,
    y: torch.Tensor,
    l2: float,
    iterations: int,
) -> None:
    """Full-batch L-BFGS on ``task``'s loss of ``layer(x)`` plus ``l2`` times its squared weights."""
    optimizer = torch.optim.LBFGS(layer.parameters(), lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = model.task_loss(task, layer(x), y) + l2 * (layer.weight**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)


def _fit_stacked(
    model: MultiTaskModel,
    task: TaskSpec,
    f: torch.Tensor,
    y: torch.Tensor,
    basis: torch.Tensor,
    l2: float,
    iterations: int,
) -> None:
    """Fit the head in the span of ``basis`` (R, F + 1: regression heads' weights and biases) and fold it back.

    The head becomes ``a @ basis`` (+ its own bias): R parameters instead of F, fitted on the regression
    outputs ``f @ W.T + b``, whose scale is standardised units.
    """
    head = model.heads[task.name]
    z = f @ basis[:, :-1].T + basis[:, -1]  # (N, R) regression outputs
    small = torch.nn.Linear(z.shape[1], task.outputs).to(f.device)
    torch.nn.init.zeros_(small.weight)
    torch.nn.init.zeros_(small.bias)
    _minimise(model, task, small, z, y, l2, iterations)
    with torch.no_grad():
        head.weight.copy_(small.weight @ basis[:, :-1])
        head.bias.copy_(small.bias + small.weight @ basis[:, -1])


@torch.no_grad()
def _basis(model: MultiTaskModel, tasks: list[TaskSpec]) -> torch.Tensor | None:
    """(R, F + 1): the fitted regression heads' weight rows with their biases, or None without regression tasks."""
    rows = [
        torch.cat([model.heads[t.name].weight, model.heads[t.name].bias[:, None]], 1)
        for t in tasks
        if t.kind == "regression"
    ]
    return torch.cat(rows).detach().clone() if rows else None


@torch.no_grad()
def _loss(model: MultiTaskModel, task: TaskSpec, f: torch.Tensor, y: torch.Tensor) -> float:
    return float(model.task_loss(task, model.heads[task.name](f), y))


def fit_heads(
    model: MultiTaskModel,
    train: CropDataset | SubjectDataset | FrameSequenceDataset,  # without augmentation
    val: CropDataset | SubjectDataset | FrameSequenceDataset,
    tasks: list[TaskSpec],
    targets: Callable[[torch.Tensor], dict[str, torch.Tensor]],  # batch target tensor -> {task: tensor}, as in training
    device: torch.device,
    batch_size: int = 64,
    grid: tuple[float, ...] = L2_GRID,
    iterations: int = 100,
) -> dict[str, dict]:
    """Set each head to its penalised full-batch optimum on frozen features; returns, per task, what was chosen.

    Per head, the penalty with the lowest validation loss wins (the training loss when there is
    no validation split); a risk head also tries the stacked form (module docstring). A penalty
    at which the optimiser diverges is skipped; a head for which all diverge keeps its default
    initialisation (reported). The backbone is not changed.
    """
    f, y = _features(model, train, batch_size, device, targets)
    fv, yv = _features(model, val, batch_size, device, targets) if len(val) else (f, y)
    report: dict[str, dict] = {}
    # Regression heads first: a risk head's stacked candidate reads their fitted outputs.
    ordered = [t for t in tasks if t.kind == "regression"] + [t for t in tasks if t.kind != "regression"]
    basis: torch.Tensor | None = None
    for task in ordered:
        if task.kind != "regression" and basis is None:
            basis = _basis(model, tasks)
        start = copy.deepcopy(model.heads[task.name].state_dict())
        best: tuple[float, float, str, dict] | None = None
        candidates = [("free", l2) for l2 in grid]
        if task.kind != "regression" and basis is not None:
            candidates += [("stacked", l2) for l2 in grid]
        for form, l2 in candidates:
            model.heads[task.name].load_state_dict(start)
            with torch.enable_grad():
                if form == "free":
                    _fit(model, task, f, y[task.name], l2, iterations)
                else:
                    _fit_stacked(model, task, f, y[task.name], basis, l2, iterations)
            score = _loss(model, task, fv, yv[task.name])
            if not (math.isfinite(score) and math.isfinite(_loss(model, task, f, y[task.name]))):
                continue
            if best is None or score < best[0]:
                best = (score, l2, form, copy.deepcopy(model.heads[task.name].state_dict()))
        if best is None:
            model.heads[task.name].load_state_dict(start)
            report[task.name] = {"l2": None, "note": "the fit diverged at every penalty; default init kept"}
            continue
        model.heads[task.name].load_state_dict(best[3])
        report[task.name] = {
            "l2": best[1],
            "form": best[2],  # free: a weight per feature; stacked: on the regression heads' outputs
            "train_loss": _loss(model, task, f, y[task.name]),
            "val_loss": best[0],
        }
    return {t.name: report[t.name] for t in tasks if t.name in report}
