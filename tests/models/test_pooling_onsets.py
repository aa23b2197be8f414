"""time_bins aligned to stimulus onsets (Emoface sidecar) instead of equal slices."""

from __future__ import annotations

import pytest
import torch

from facehealth.models.pooling import time_bins


def test_onset_bins_follow_the_stimuli_not_equal_slices():
    times = torch.tensor([[0.0, 0.5, 1.0, 2.5, 3.0, 3.5]])
    flat = torch.tensor([[[1.0], [3.0], [5.0], [10.0], [20.0], [30.0]]])
    mask = torch.ones(1, 6, dtype=torch.bool)
    onsets = torch.tensor([[0.2, 2.5, 3.2]])
    # slice 0: frames before 2.5 s (0.0 joins it) = 1, 3, 5; slice 1: 2.5, 3.0 = 10, 20; slice 2: 30.
    out = time_bins(flat, mask, times, 3, onsets=onsets)
    torch.testing.assert_close(out, torch.tensor([[3.0, 15.0, 30.0]]))
    equal = time_bins(flat, mask, times, 3)
    assert not torch.allclose(out, equal)
    with pytest.raises(ValueError, match="onsets must have shape"):
        time_bins(flat, mask, times, 2, onsets=onsets)
