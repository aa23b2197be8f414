"""The stimulus sidecar of a video: which stimulus was on screen when (Emoface's protocol).

``facehealth record`` and the synthetic cohort write, beside ``clip.avi``, a ``clip.stimuli.json``::

    {"video": "clip.avi", "fps": 30.0, "frames": 300,
     "stimuli": [{"label": "neutral", "onset": 0.0, "duration": 2.0}, ...]}

Onsets are in video time (seconds from the first frame). A video model that pools its frames in
time slices (``pooling: timebins``) starts slice *i* at onset *i*, so each slice holds the response
to one stimulus, in training and in prediction alike. A video without a sidecar is cut into equal
slices instead, which is the same thing when the stimuli last equally long.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facehealth.errors import InputError, SchemaError

__all__ = [
    "SIDECAR_SUFFIX",
    "StimulusMarker",
    "sidecar_path",
    "write_sidecar",
    "read_sidecar",
    "markers_for",
    "slice_onsets",
]

SIDECAR_SUFFIX = ".stimuli.json"


@dataclass(frozen=True)
class StimulusMarker:
    """A stimulus shown from ``onset`` (seconds from the start of the video) for ``duration``."""

    onset: float
    duration: float
    label: str


def sidecar_path(video: str | Path) -> Path:
    return Path(video).with_suffix(SIDECAR_SUFFIX)


def write_sidecar(
    video: str | Path,
    markers: Sequence[StimulusMarker],
    fps: float,
    frames: int,
    images: Sequence[str] | None = None,
) -> Path:
    """Write the sidecar beside ``video``; ``images``: the stimulus files, when there are any."""
    stimuli = [{"label": m.label, "onset": round(m.onset, 4), "duration": m.duration} for m in markers]
    for entry, image in zip(stimuli, images or (), strict=False):
        entry["image"] = image
    path = sidecar_path(video)
    payload = {"video": Path(video).name, "fps": fps, "frames": frames, "stimuli": stimuli}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def read_sidecar(path: str | Path) -> tuple[StimulusMarker, ...]:
    """The markers of a sidecar, in onset order; InputError names what is wrong with a bad one."""
    try:
        data = json.loads(Path(path).read_text())
        markers = tuple(
            StimulusMarker(float(s["onset"]), float(s["duration"]), str(s["label"])) for s in data["stimuli"]
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read stimulus sidecar '{path}': {exc}") from exc
    onsets = [m.onset for m in markers]
    if not markers or onsets != sorted(onsets) or onsets[0] < 0:
        raise InputError(f"stimulus sidecar '{path}': onsets must be >= 0 and in order, got {onsets}")
    return markers


def markers_for(video: str | Path) -> tuple[StimulusMarker, ...] | None:
    """The markers of the sidecar beside ``video``; None when it has none."""
    path = sidecar_path(video)
    return read_sidecar(path) if path.is_file() else None


def slice_onsets(markers: Sequence[StimulusMarker] | None, last_time: float, bins: int, name: str = "") -> np.ndarray:
    """(bins,) start times of a clip's time slices: the stimulus onsets, else equal slices of the clip.

    Raises:
        SchemaError: the sidecar lists another number of stimuli than the model has slices.
    """
    if markers is None:
        return np.arange(bins, dtype=np.float32) * np.float32(max(last_time, 1e-6) / bins)
    if len(markers) != bins:
        raise SchemaError(
            f"{name or 'the video'}: its sidecar lists {len(markers)} stimuli, but the model pools {bins} "
            "time slices (set time_bins to the number of stimuli)"
        )
    return np.array([m.onset for m in markers], dtype=np.float32)
