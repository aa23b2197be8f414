"""Stimulus sidecars: written and read back, equal slices without one, one slice per stimulus with one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facehealth.data.stimuli import StimulusMarker, markers_for, read_sidecar, slice_onsets, write_sidecar
from facehealth.errors import InputError, SchemaError
from facehealth.models.pooling import time_bins

SCHEDULE = [StimulusMarker(0.0, 2.0, "neutral"), StimulusMarker(2.0, 3.0, "happy"), StimulusMarker(5.0, 2.0, "neutral")]


def test_a_sidecar_round_trips_beside_its_video(tmp_path):
    video = tmp_path / "clip.avi"
    path = write_sidecar(video, SCHEDULE, fps=30.0, frames=210, images=["n.png", "h.png", "n.png"])
    assert path == tmp_path / "clip.stimuli.json"
    assert read_sidecar(path) == tuple(SCHEDULE) == markers_for(video)
    assert markers_for(tmp_path / "other.avi") is None


def test_a_bad_sidecar_names_the_problem(tmp_path):
    bad = tmp_path / "x.stimuli.json"
    bad.write_text('{"stimuli": [{"onset": 0}]}')
    with pytest.raises(InputError, match="cannot read stimulus sidecar"):
        read_sidecar(bad)
    bad.write_text(
        '{"stimuli": [{"onset": 3, "duration": 1, "label": "a"}, {"onset": 1, "duration": 1, "label": "b"}]}'
    )
    with pytest.raises(InputError, match="in order"):
        read_sidecar(bad)


def test_slices_start_at_the_onsets_or_split_the_clip_equally():
    assert slice_onsets(SCHEDULE, 7.0, 3).tolist() == [0.0, 2.0, 5.0]
    assert slice_onsets(None, 6.0, 3).tolist() == pytest.approx([0.0, 2.0, 4.0])
    with pytest.raises(SchemaError, match="lists 3 stimuli, but the model pools 4"):
        slice_onsets(SCHEDULE, 7.0, 4, "clip.avi")


def test_equal_slice_onsets_pool_exactly_like_the_equal_slices():
    """Without a sidecar the onsets path must give the features the model was always trained on."""
    rng = np.random.default_rng(0)
    flat = torch.from_numpy(rng.normal(size=(3, 20, 5)).astype(np.float32))
    mask = torch.ones(3, 20, dtype=torch.bool)
    mask[1, 15:] = False
    times = torch.from_numpy(np.sort(rng.uniform(0, 10, (3, 20)), axis=1).astype(np.float32))
    times[1, 15:] = 0.0
    last = [float(times[i][mask[i]].max()) for i in range(3)]
    onsets = torch.stack([torch.from_numpy(slice_onsets(None, t, 4)) for t in last])
    assert torch.allclose(time_bins(flat, mask, times, 4), time_bins(flat, mask, times, 4, onsets), atol=1e-6)


def test_unequal_stimuli_put_each_frame_in_its_stimulus_slice():
    times = torch.tensor([[0.5, 1.5, 2.5, 4.5, 5.5, 6.5]])
    flat = torch.tensor([[[1.0], [1.0], [2.0], [2.0], [3.0], [3.0]]])  # the stimulus each frame saw
    onsets = torch.from_numpy(slice_onsets(SCHEDULE, 6.5, 3))[None]
    assert time_bins(flat, torch.ones(1, 6, dtype=torch.bool), times, 3, onsets).tolist() == [[1.0, 2.0, 3.0]]
    # Equal slices of the same clip mix the stimuli: 0-2.17 s, 2.17-4.33 s, 4.33-6.5 s.
    equal = time_bins(flat, torch.ones(1, 6, dtype=torch.bool), times, 3).tolist()[0]
    assert equal == pytest.approx([1.0, 2.0, 8 / 3])
