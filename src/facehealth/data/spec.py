"""Which view of the prepared crops a model reads (fine-tuning config and checkpoint agree on it).

Kept apart from :mod:`facehealth.data.datasets` so that reading a checkpoint's metadata does not
import torch.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DatasetSpec"]


@dataclass(frozen=True)
class DatasetSpec:
    """Which dataset view a model reads, and how (fine-tuning config and checkpoint agree on it)."""

    input: str = "image"  # image | subject | video
    size: int = 224
    images_per_subject: int = 4  # input: subject
    frames: int = 32  # input: video
    frame_input: str = "pixels"  # input: video: pixels | landmarks | both
    time_bins: int = 0  # input: video, pooling timebins: slices per clip (onsets in each item); 0 = none
