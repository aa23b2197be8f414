"""Parameter-free pooling of per-frame (or per-photo) features into one vector per item.

- ``mean``: the masked mean (DigitalShadow: several photos of one person, one score);
- ``stats``: mean and standard deviation over the frames, i.e. what a face looks like and how
  much it changes over a clip (expression amplitude and variability);
- ``timebins``: the mean of the frames in each of ``bins`` equal slices of the clip's duration,
  concatenated. In a stimulus-locked recording (Emoface: every subject watches the same clip
  sequence) a slice is a phase of the protocol, so the vector is the response time course:
  what the face does while the happy clip plays, then the sad one. It keeps the order of events
  that ``stats`` discards, without a recurrent network to train on a few dozen videos.

Padded frames (``mask`` False) never contribute. Learned poolings (attention, a GRU) live in
:class:`~facehealth.models.multitask.MultiTaskModel`.
"""

from __future__ import annotations

import torch

__all__ = ["masked_mean", "mean_and_sd", "time_bins"]


def masked_mean(flat: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(B, K, F) features, (B, K) non-negative weights -> (B, F) weighted mean (0 where all weights are 0)."""
    return (flat * weights.unsqueeze(-1)).sum(1) / weights.sum(1, keepdim=True).clamp(min=1e-6)


def mean_and_sd(flat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, K, F), (B, K) mask -> (B, 2F): mean and (population) sd over the real frames."""
    weights = mask.float()
    mean = masked_mean(flat, weights)
    var = ((flat - mean.unsqueeze(1)) ** 2 * weights.unsqueeze(-1)).sum(1)
    std = (var / weights.sum(1, keepdim=True).clamp(min=1.0)).clamp_min(1e-12).sqrt()
    return torch.cat([mean, std], 1)


def time_bins(
    flat: torch.Tensor, mask: torch.Tensor, times: torch.Tensor, bins: int, onsets: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, K, F), (B, K) mask, (B, K) seconds -> (B, bins * F): the mean of each time slice, in order.

    Slice edges split ``[0, last real frame's time]`` of each clip into ``bins`` equal parts
    (the last frame falls in the last slice); a slice without frames contributes zeros.
    With ``onsets`` (B, bins) seconds (the stimulus onsets of a recording's sidecar,
    :func:`facehealth.live.stimuli.load_markers`), slice ``i`` starts at onset ``i`` instead, so
    each slice holds the response to one stimulus; frames before the first onset join slice 0.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    weights = mask.float()
    if onsets is not None:
        if onsets.shape != (len(times), bins):
            raise ValueError(f"onsets must have shape ({len(times)}, {bins}), got {tuple(onsets.shape)}")
        # Count of onsets at or before each frame, minus one: the stimulus on screen.
        index = torch.clamp((times.unsqueeze(-1) >= onsets.unsqueeze(1)).sum(-1) - 1, 0, bins - 1)  # (B, K)
    else:
        last = (times * weights).max(1, keepdim=True).values.clamp(min=1e-6)  # (B, 1)
        index = torch.clamp((times / last * bins).floor().long(), 0, bins - 1)  # (B, K)
    onehot = torch.nn.functional.one_hot(index, bins).to(flat.dtype) * weights.unsqueeze(-1)  # (B, K, bins)
    sums = torch.einsum("bkn,bkf->bnf", onehot, flat)
    counts = onehot.sum(1).unsqueeze(-1).clamp(min=1.0)  # (B, bins, 1)
    return (sums / counts).flatten(1)
