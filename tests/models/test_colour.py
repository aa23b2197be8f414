from __future__ import annotations

import torch

from facehealth.models.colour import RegionalColour
from facehealth.models.multitask import MultiTaskModel
from facehealth.models.tasks import TaskSpec
from facehealth.train.heads import fit_heads

AGE = TaskSpec("age", "regression", ("age",))


def test_cells_hold_the_mean_colour_of_their_part_of_the_image_standardised_per_image():
    images = torch.zeros(1, 3, 8, 8)
    images[0, 0, :4, :4] = 1.0  # red in the top-left quarter
    images[0, 2, 4:, 4:] = torch.arange(16.0).view(4, 4)  # a blue ramp in the bottom-right one
    cells = torch.zeros(3, 2, 2)
    cells[0, 0, 0], cells[2, 1, 1] = 1.0, 7.5  # the hand-computed cell means
    expected = (cells.flatten() - cells.mean()) / cells.flatten().std(unbiased=False)
    colour = RegionalColour(2)
    assert torch.allclose(colour(images)[0], expected, atol=1e-4)
    # A camera's overall gain and offset drop out; the pattern across cells stays.
    assert torch.allclose(colour(1.7 * images - 0.4), colour(images), atol=1e-4)


def test_the_heads_read_the_backbone_and_the_colour_cells():
    with_colour = MultiTaskModel("vit_tiny_patch16", [AGE], img_size=32, colour_grid=4)
    plain = MultiTaskModel("vit_tiny_patch16", [AGE], img_size=32)
    assert with_colour.heads["age"].in_features == plain.heads["age"].in_features + 3 * 4 * 4
    assert with_colour(torch.zeros(2, 3, 32, 32))["age"].shape == (2, 1)
    # A subject's several photos (B, K, 3, H, W) go through the same per-image encoder.
    assert with_colour.features(torch.zeros(2, 3, 3, 32, 32)).shape == (2, with_colour.heads["age"].in_features)


class _Faces(torch.utils.data.Dataset):
    """Noise images whose target is a faint reddening of the upper-left cell (a regional colour sign)."""

    def __init__(self, n: int, seed: int, strength: float = 0.3) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, 3, 32, 32, generator=g)
        sign = torch.randn(n, generator=g)
        self.images[:, 0, :8, :8] += strength * sign.view(n, 1, 1)  # pixel noise has sd 1
        self.targets = (50 + 10 * sign).view(n, 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "target": self.targets[i]}


def _fitted_val_loss(colour_grid: int) -> float:
    torch.manual_seed(0)
    model = MultiTaskModel("vit_tiny_patch16", [AGE], img_size=32, target_mean={"age": [50.0]},
                           target_std={"age": [10.0]}, colour_grid=colour_grid)  # fmt: skip
    report = fit_heads(model, _Faces(96, 0), _Faces(48, 1), [AGE], lambda y: {"age": y}, torch.device("cpu"))
    return report["age"]["val_loss"]


def test_a_regional_colour_sign_is_found_through_the_colour_cells_and_not_without_them():
    # The loss is the MSE on standardised targets: 1.0 = predicting the mean.
    assert _fitted_val_loss(colour_grid=4) < 0.35  # measured 0.21
    assert _fitted_val_loss(colour_grid=0) > 0.6  # measured 0.73
