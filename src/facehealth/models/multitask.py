"""One model for every clinical task: a backbone, an optional pooling over several images
or video frames, and one linear head per task.

Tasks (FaceFound, FAHR-Face, DigitalShadow, Emoface):

| kind | example | output | loss |
|---|---|---|---|
| regression | biomarkers (any subset of the 62), age | one value per column, standardised | masked MSE |
| binary | coronary artery disease | one logit | BCE, positive class up-weighted |
| multiclass | healthy / MDD / BPD | one logit per class | weighted cross-entropy |
| cox | survival (time, event) | log relative hazard | Cox partial likelihood (Efron) |

Inputs are (B, 3, H, W) single images, or (B, K, 3, H, W) with a (B, K) mask
for several photos of a subject (pooled by a masked mean or learned attention)
or the frames of a video (a GRU over time, mean + sd, or time-sliced means capture
expression dynamics). A video model reads each frame's pixels, its landmark motion
(:mod:`facehealth.faces.motion`), or both concatenated (``frame_input``).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from facehealth.data.biomarkers import LOG_FLOOR, is_log_scale
from facehealth.faces.motion import MOTION_FEATURES
from facehealth.models.colour import RegionalColour
from facehealth.models.losses import cox_partial_likelihood, masked_bce, masked_cross_entropy, masked_mse
from facehealth.models.pooling import masked_mean, mean_and_sd, time_bins
from facehealth.models.registry import create_model, get_spec
from facehealth.models.tasks import TaskSpec

__all__ = ["TaskSpec", "MultiTaskModel", "Pooling", "FrameInput", "batch_inputs", "MOTION_SCALE"]

Pooling = Literal["mean", "attention", "temporal", "stats", "timebins"]
# What a video model reads per frame: the crop's pixels (through the backbone), the frame's
# landmark motion, or both side by side.
FrameInput = Literal["pixels", "landmarks", "both"]
# Landmark motion is in inter-ocular distances: an expression moves a landmark ~0.01-0.1 IOD.
# Times 10, it is on the scale of the (layer-normed) image features it is concatenated to.
MOTION_SCALE = 10.0


def batch_inputs(batch: dict, device: torch.device | str) -> dict[str, torch.Tensor | None]:
    """The keyword inputs of :meth:`MultiTaskModel.forward` from a dataset batch, on ``device``."""
    keys = {"images": "image", "mask": "mask", "times": "time", "landmarks": "landmarks", "onsets": "onsets"}
    return {arg: (batch[key].to(device) if batch.get(key) is not None else None) for arg, key in keys.items()}


class MultiTaskModel(nn.Module):
    """Backbone + pooling + heads.

    Args:
        backbone: registry name.
        tasks: the heads to build.
        img_size: input side.
        pooling: how several images/frames of one item become one feature vector.
        target_mean, target_std: per-task standardisation of regression targets
            (fitted on the training split; stored in the checkpoint as buffers).
        pos_weight: per binary task, weight of the positive class.
        class_weights: per multiclass task, one weight per class.
        frame_input: for frame sequences, what a frame's feature vector holds: backbone
            features of its pixels, its (68, 2) landmark motion, or both. A landmarks-only
            model has no backbone (``backbone`` is None) and never looks at pixels.
        bins: number of time slices for ``pooling="timebins"``.
        colour_grid: cells a side of the regional-colour features read beside the backbone's
            (:mod:`facehealth.models.colour`); 0 = backbone features only.
    """

    def __init__(
        self,
        backbone: str,
        tasks: list[TaskSpec],
        img_size: int = 224,
        pooling: Pooling = "mean",
        target_mean: dict[str, list[float]] | None = None,
        target_std: dict[str, list[float]] | None = None,
        pos_weight: dict[str, float] | None = None,
        class_weights: dict[str, list[float]] | None = None,
        frame_input: FrameInput = "pixels",
        bins: int = 4,
        colour_grid: int = 0,
    ) -> None:
        super().__init__()
        if frame_input not in ("pixels", "landmarks", "both"):
            raise ValueError(f"frame_input must be pixels, landmarks or both, got {frame_input!r}")
        if frame_input != "pixels" and pooling == "mean":
            # The clip's mean motion is ~0 by construction (motion is from the median shape).
            raise ValueError("landmark motion needs pooling 'stats', 'timebins', 'temporal' or 'attention', not 'mean'")
        self.frame_input = frame_input
        self.bins = bins
        self.backbone_name = backbone
        self.backbone: nn.Module | None = None
        width = MOTION_FEATURES if frame_input != "pixels" else 0
        if frame_input != "landmarks":
            # ViTs pool the mean of their patch tokens (with timm's fc_norm), not the class token: MAE
            # never trains the class token (no loss reaches it), so a pretrained encoder's class token
            # is nearly random; the MAE paper fine-tunes with global average pooling for this reason.
            extra = {"global_pool": "avg"} if get_spec(backbone).family == "vit" else {}
            self.backbone = create_model(backbone, img_size=img_size, **extra)
            width += self.backbone.num_features
        self.colour = RegionalColour(colour_grid) if colour_grid and self.backbone is not None else None
        if self.colour is not None:
            width += self.colour.num_features
        self.tasks = list(tasks)
        self.pooling = pooling
        if pooling == "attention":
            self.attend = nn.Sequential(nn.Linear(width, 128), nn.Tanh(), nn.Linear(128, 1))
        elif pooling == "temporal":
            self.temporal = nn.GRU(width + 1, width // 2, batch_first=True)  # +1: the frame's time in seconds
            self.temporal_out = nn.Linear(width // 2, width)
        if pooling == "stats":
            width *= 2  # mean and standard deviation of each feature over the frames
        elif pooling == "timebins":
            width *= bins
        self.heads = nn.ModuleDict({t.name: nn.Linear(width, t.outputs) for t in tasks})
        for t in tasks:
            if t.kind == "regression":
                mean = torch.tensor((target_mean or {}).get(t.name, [0.0] * t.outputs), dtype=torch.float32)
                std = torch.tensor((target_std or {}).get(t.name, [1.0] * t.outputs), dtype=torch.float32)
                self.register_buffer(f"mean_{t.name}", mean)
                self.register_buffer(f"std_{t.name}", std)
                # Right-skewed markers (enzymes, CRP, ...) are learned on the log scale, so a
                # prediction is never negative and errors scale with the value (not saved:
                # it follows from the column names, which the checkpoint stores).
                log = torch.tensor([is_log_scale(c) for c in t.columns], dtype=torch.bool)
                self.register_buffer(f"log_{t.name}", log, persistent=False)
        self.pos_weight = dict(pos_weight or {})
        self.class_weights = {k: torch.tensor(v, dtype=torch.float32) for k, v in (class_weights or {}).items()}

    def features(
        self,
        images: torch.Tensor | None,
        mask: torch.Tensor | None = None,
        times: torch.Tensor | None = None,
        landmarks: torch.Tensor | None = None,
        onsets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, 3, H, W) -> (B, F); or (B, K, 3, H, W) with mask (B, K) -> (B, F).

        ``landmarks`` (B, K, 68, 2): the frames' landmark motion, needed when
        ``frame_input`` is landmarks or both (``images`` may then be None for landmarks only).
        ``onsets`` (B, bins): where each time slice starts (stimulus onsets; default equal slices).
        """
        if images is not None and images.ndim == 4:
            if self.frame_input != "pixels":
                raise ValueError("a landmark-motion model reads frame sequences (B, K, ...), not single images")
            f = self._encode(images)
            # A single photo is a one-frame clip: it does not vary, and it sits in the first slice.
            if self.pooling == "stats":
                return torch.cat([f, torch.zeros_like(f)], 1)
            if self.pooling == "timebins":
                return torch.cat([f, f.new_zeros(len(f), (self.bins - 1) * f.shape[1])], 1)
            return f
        flat = self._frame_features(images, landmarks)  # (B, K, F)
        b, k = flat.shape[:2]
        mask = torch.ones(b, k, dtype=torch.bool, device=flat.device) if mask is None else mask
        times = times if times is not None else torch.arange(k, device=flat.device).float().expand(b, k)
        return self._pool(flat, mask, times, onsets)

    def _encode(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, F): backbone features, then the regional colour when configured."""
        f = self.backbone(images)
        return f if self.colour is None else torch.cat([f, self.colour(images)], 1)

    def _frame_features(self, images: torch.Tensor | None, landmarks: torch.Tensor | None) -> torch.Tensor:
        parts = []
        if self.frame_input != "landmarks":
            if images is None:
                raise ValueError("this model reads pixels: pass images (B, K, 3, H, W)")
            b, k = images.shape[:2]
            parts.append(self._encode(images.flatten(0, 1)).view(b, k, -1))
        if self.frame_input != "pixels":
            if landmarks is None:
                raise ValueError("this model reads landmark motion: pass landmarks (B, K, 68, 2)")
            b, k = landmarks.shape[:2]
            parts.append(MOTION_SCALE * landmarks.reshape(b, k, -1).float())
        return torch.cat(parts, -1)

    def _pool(
        self, flat: torch.Tensor, mask: torch.Tensor, times: torch.Tensor, onsets: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.pooling == "stats":
            # How much the face changes over a clip (expression amplitude, variability): Emoface's
            # signal, which a mean over frames averages away.
            return mean_and_sd(flat, mask)
        if self.pooling == "timebins":
            return time_bins(flat, mask, times, self.bins, onsets)
        if self.pooling == "temporal":
            out, _ = self.temporal(torch.cat([flat, times.unsqueeze(-1)], dim=-1))  # (B, K, F/2)
            last = mask.long().sum(1).clamp(min=1) - 1  # last real frame of each clip
            return self.temporal_out(out[torch.arange(len(flat)), last])
        weights = mask.float()
        if self.pooling == "attention":
            scores = self.attend(flat).squeeze(-1).masked_fill(~mask, float("-inf"))
            weights = torch.softmax(scores, dim=1)
        return masked_mean(flat, weights)

    def forward(
        self,
        images: torch.Tensor | None,
        mask: torch.Tensor | None = None,
        times: torch.Tensor | None = None,
        landmarks: torch.Tensor | None = None,
        onsets: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Raw head outputs per task (standardised for regression, logits, log hazards)."""
        f = self.features(images, mask, times, landmarks, onsets)
        return {name: head(f) for name, head in self.heads.items()}

    def loss(
        self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted sum of task losses; ``targets[name]`` is (B, len(columns)) in label units, NaN = missing."""
        total = next(iter(outputs.values())).new_zeros(())
        parts: dict[str, float] = {}
        for t in self.tasks:
            value = self.task_loss(t, outputs[t.name], targets[t.name])
            parts[t.name] = float(value.detach())
            total = total + t.weight * value
        return total, parts

    def task_loss(self, t: TaskSpec, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One head's loss: MSE on standardised targets, weighted BCE / CE, or Cox (Efron)."""
        if t.kind == "regression":
            return masked_mse(out, self.standardise(t.name, y))
        if t.kind == "binary":
            return masked_bce(out.squeeze(-1), y[:, 0], self.pos_weight.get(t.name))
        if t.kind == "multiclass":
            w = self.class_weights.get(t.name)
            return masked_cross_entropy(out, y[:, 0], None if w is None else w.to(out.device))
        return cox_partial_likelihood(out.squeeze(-1), y[:, 0], y[:, 1])

    def standardise(self, task: str, values: torch.Tensor) -> torch.Tensor:
        log = getattr(self, f"log_{task}")
        values = torch.where(log, torch.log(values.clamp_min(LOG_FLOOR)), values)
        return (values - getattr(self, f"mean_{task}")) / getattr(self, f"std_{task}")

    def predict(self, outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Head outputs in clinical units: values, probabilities, class probabilities, log hazards."""
        result = {}
        for t in self.tasks:
            out = outputs[t.name]
            if t.kind == "regression":
                value = out * getattr(self, f"std_{t.name}") + getattr(self, f"mean_{t.name}")
                result[t.name] = torch.where(getattr(self, f"log_{t.name}"), torch.exp(value), value)
            elif t.kind == "binary":
                result[t.name] = torch.sigmoid(out)
            elif t.kind == "multiclass":
                result[t.name] = torch.softmax(out, dim=-1)
            else:
                result[t.name] = out
        return result
