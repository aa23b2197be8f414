import pytest
import torch

from facehealth.models.pooling import mean_and_sd, time_bins


def test_time_bins_are_the_means_of_equal_slices_of_each_clips_duration():
    flat = torch.tensor([[[1.0], [3.0], [10.0], [20.0], [99.0]]])  # last frame is padding
    mask = torch.tensor([[True, True, True, True, False]])
    times = torch.tensor([[0.0, 1.0, 5.0, 10.0, 0.0]])  # clip lasts 10 s: slices [0,5), [5,10]
    torch.testing.assert_close(time_bins(flat, mask, times, 2), torch.tensor([[2.0, 15.0]]))
    # An empty slice gives zeros; three slices of [0, 10]: {0, 1}, {5}, {10}.
    torch.testing.assert_close(time_bins(flat, mask, times, 3), torch.tensor([[2.0, 10.0, 20.0]]))
    torch.testing.assert_close(time_bins(flat, mask, times, 4), torch.tensor([[2.0, 0.0, 10.0, 20.0]]))
    with pytest.raises(ValueError):
        time_bins(flat, mask, times, 0)


def test_mean_and_sd_ignore_padding():
    flat = torch.tensor([[[1.0], [3.0], [50.0]]])
    out = mean_and_sd(flat, torch.tensor([[True, True, False]]))
    torch.testing.assert_close(out, torch.tensor([[2.0, 1.0]]))
