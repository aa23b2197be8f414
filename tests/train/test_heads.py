from __future__ import annotations

import torch

from facehealth.models.multitask import MultiTaskModel, TaskSpec
from facehealth.train.heads import L2_GRID, fit_heads

TASKS = [
    TaskSpec("age", "regression", ("age",)),
    TaskSpec("cad", "binary", ("cad",)),
    TaskSpec("survival", "cox", ("time", "event")),
]


class _Items(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor, targets: torch.Tensor) -> None:
        self.images, self.targets = images, targets

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "target": self.targets[i]}


def _split(y: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"age": y[:, :1], "cad": y[:, 1:2], "survival": y[:, 2:4]}


def test_heads_reach_the_frozen_feature_optimum_and_leave_the_backbone_alone():
    torch.manual_seed(0)
    model = MultiTaskModel("vit_tiny_patch16", TASKS, img_size=32)
    images = torch.randn(600, 3, 32, 32)
    with torch.no_grad():
        feats = model.features(images)
    # Targets that a linear head on these very features can predict (age), or nearly (cad, survival).
    direction = torch.randn(feats.shape[1])
    score = feats @ direction / direction.norm()
    age = 50 + 10 * score + torch.randn(600)
    cad = (score + 0.3 * torch.randn(600) > 0).float()
    time = torch.exp(-score + 0.3 * torch.randn(600))
    targets = torch.stack([age, cad, time, torch.ones(600)], 1)
    backbone = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    with torch.no_grad():
        before, _ = model.loss(model(images[:400]), _split(targets[:400]))
    report = fit_heads(
        model,
        _Items(images[:400], targets[:400]),
        _Items(images[400:], targets[400:]),
        TASKS,
        _split,
        torch.device("cpu"),
    )
    with torch.no_grad():
        out = model(images[400:])
    pred_age = model.predict(out)["age"][:, 0]
    assert torch.corrcoef(torch.stack([pred_age, age[400:]]))[0, 1] > 0.95
    after = sum(r["train_loss"] for r in report.values())
    assert after < 0.5 * float(before) and all(r["l2"] in L2_GRID for r in report.values())
    assert all(torch.equal(backbone[k], v) for k, v in model.backbone.state_dict().items())


def _risk_case(seed: int, n_train: int, risk_follows_age: bool) -> tuple[dict, MultiTaskModel]:
    """Age from one feature direction; survival from age itself, or from an unrelated direction."""
    torch.manual_seed(seed)
    model = MultiTaskModel("vit_tiny_patch16", TASKS, img_size=32)
    n = n_train + 300
    images = torch.randn(n, 3, 32, 32)
    with torch.no_grad():
        feats = model.features(images)
    feats = (feats - feats.mean(0)) / feats.std(0)
    age_dir, other = torch.randn(feats.shape[1]), torch.randn(feats.shape[1])
    age_score = feats @ age_dir / age_dir.norm()
    risk = age_score if risk_follows_age else feats @ other / other.norm()
    age = 50 + 10 * age_score / age_score.std() + torch.randn(n)
    cad = (risk / risk.std() + 0.5 * torch.randn(n) > 0).float()
    time = torch.exp(-risk / risk.std() + 0.3 * torch.randn(n))
    targets = torch.stack([age, cad, time, torch.ones(n)], 1)
    report = fit_heads(
        model,
        _Items(images[:n_train], targets[:n_train]),
        _Items(images[n_train:], targets[n_train:]),
        TASKS,
        _split,
        torch.device("cpu"),
    )
    return report, model


def test_a_risk_head_with_few_labels_is_stacked_on_the_regression_heads():
    # 100 subjects and 192 features: a free Cox head overfits; one weight on predicted age does not.
    report, model = _risk_case(1, 100, risk_follows_age=True)
    assert report["survival"]["form"] == "stacked" and report["cad"]["form"] == "stacked"
    assert report["age"]["form"] == "free"
    w_age, w_cox = model.heads["age"].weight[0].detach(), model.heads["survival"].weight[0].detach()
    # The folded-back head is one linear layer along the age head's direction (higher age, higher risk).
    assert float(torch.nn.functional.cosine_similarity(w_age, w_cox, dim=0)) > 0.99


def test_a_risk_head_that_age_cannot_explain_stays_free():
    report, model = _risk_case(2, 500, risk_follows_age=False)
    assert report["survival"]["form"] == "free" and report["cad"]["form"] == "free"
    w_age, w_cox = model.heads["age"].weight[0].detach(), model.heads["survival"].weight[0].detach()
    assert abs(float(torch.nn.functional.cosine_similarity(w_age, w_cox, dim=0))) < 0.5
