"""Regional colour: the mean colour of each cell of a coarse grid over the aligned face.

Why a model needs it next to its deep encoder: the visible clinical signs the systems read are
mostly regional colour (pallor, jaundiced skin and sclera, greying hair, dark circles under the
eyes), and on an aligned crop each sign sits in known cells. A small encoder trained on a few
hundred labelled faces on a CPU learns these slowly. In the quick demo (160 subjects, ViT-Ti/16
at 64 px after MAE), the heads on encoder features alone gave a test age MAE of 16.0 years, worse
than the training mean (14.5), and external CAD AUROC 0.47. With the 8 x 8 cells beside them, the
same fine-tune gave 11.7 years and 0.59 (``benchmarks/colour_branch.py``; x86_64, 2 cores,
2026-12-03). So the heads read both: the encoder's features and these 3 x g x g cell values.

The branch has no parameters. The heads' weights on it are fitted and fine-tuned with the rest
(LP-FT, :mod:`facehealth.train.heads`), so nothing is hand-tuned. It is a "wide" linear part
beside the "deep" one (Cheng et al. 2016, "Wide & Deep Learning for Recommender Systems").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RegionalColour"]


class RegionalColour(nn.Module):
    """(B, 3, H, W) normalised images -> (B, 3 * grid * grid) mean colour per grid cell.

    Each image's cell means are standardised over its own cells (see ``forward``).
    """

    def __init__(self, grid: int) -> None:
        super().__init__()
        if grid < 1:
            raise ValueError(f"colour grid must be >= 1 cell a side, got {grid}")
        self.grid = grid
        self.num_features = 3 * grid * grid

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        cells = F.adaptive_avg_pool2d(images, self.grid).flatten(1)  # (B, 3, g, g) -> (B, 3 g^2)
        # Standardised within each image: a photo's overall exposure and contrast (a camera's
        # gain) drop out, the pattern across cells and channels stays, and the values are on the
        # unit scale of the encoder's layer-normalised features, so one head penalty suits both.
        # The width is static (self.num_features), not read from the tensor, so the ONNX export
        # traces a constant shape.
        return F.layer_norm(cells, (self.num_features,))
