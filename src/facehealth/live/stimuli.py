"""Emotional-stimulus protocol (Emoface): show a sequence of images and record the face watching them.

A sequence is a YAML file (``configs/stimuli/example.yaml``)::

    stimuli:
      - {image: neutral.png, duration: 2.0, label: neutral}
      - {image: happy.png, duration: 2.0, label: happy}

Image paths are relative to the YAML file. :func:`record` shows each image (in an OpenCV window
when a display exists, otherwise headless), records the camera for its duration and writes the
video plus a sidecar JSON of stimulus onsets **in video time** (frames written / fps), which is
the clock every later analysis reads the video by. A video file can stand in for the camera: it
is then read frame by frame, and stimulus durations are counted in its frames, not wall time.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

from facehealth.config import from_mapping, read_yaml_mapping
from facehealth.data.stimuli import SIDECAR_SUFFIX, StimulusMarker, read_sidecar, write_sidecar
from facehealth.errors import ConfigError, InputError, OutputError, VideoError

__all__ = ["Stimulus", "StimulusSequence", "Recording", "load_sequence", "record", "load_markers", "SIDECAR_SUFFIX"]


@dataclass(frozen=True)
class Stimulus:
    image: str
    duration: float  # seconds
    label: str


@dataclass(frozen=True)
class StimulusSequence:
    stimuli: tuple[Stimulus, ...]
    root: Path  # the folder image paths are relative to


@dataclass(frozen=True)
class Recording:
    video: Path
    sidecar: Path
    frames: int
    fps: float
    markers: tuple[StimulusMarker, ...]


def load_sequence(path: str | Path) -> StimulusSequence:
    """Read and check a stimulus YAML (unknown keys, missing images and bad durations raise)."""
    path = Path(path)
    data = read_yaml_mapping(path)
    if set(data) != {"stimuli"} or not isinstance(data["stimuli"], list) or not data["stimuli"]:
        raise ConfigError(f"{path}: expected one key 'stimuli' with a non-empty list, got keys {sorted(data)}")
    items = []
    for i, entry in enumerate(data["stimuli"]):
        stim = from_mapping(Stimulus, entry, f"{path}: stimuli[{i}]")
        if not stim.duration > 0:
            raise ConfigError(f"{path}: stimuli[{i}].duration must be > 0, got {stim.duration}")
        if not (path.parent / stim.image).is_file():
            raise ConfigError(f"{path}: stimuli[{i}].image '{stim.image}' not found next to the sequence")
        items.append(stim)
    return StimulusSequence(tuple(items), path.parent)


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def record(
    sequence: StimulusSequence, camera: int | str | Path, out_dir: str | Path, show: bool | None = None
) -> Recording:
    """Show the sequence while recording ``camera`` (an index, or a video file used as one).

    Args:
        show: open a window with the stimuli; default: when a display exists.

    Raises:
        VideoError: the camera cannot be opened or ends before the sequence does.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    is_file = not isinstance(camera, int) and not str(camera).isdigit()
    cap = cv2.VideoCapture(str(camera) if is_file else int(camera))
    if not cap.isOpened():
        raise VideoError(f"cannot open camera '{camera}'")
    reported = cap.get(cv2.CAP_PROP_FPS)
    fps = float(reported) if reported and 1 <= reported <= 240 else 30.0
    show = _has_display() if show is None else show
    video = out / "recording.avi"
    writer: cv2.VideoWriter | None = None
    frames, markers = 0, []
    try:
        for stim in sequence.stimuli:
            image = cv2.imread(str(sequence.root / stim.image))
            if image is None:
                raise InputError(f"cannot read stimulus image '{sequence.root / stim.image}'")
            if show:
                cv2.imshow("stimulus", image)
                cv2.waitKey(1)
            markers.append(StimulusMarker(frames / fps, stim.duration, stim.label))
            started, shown = time.perf_counter(), 0
            # A file camera is counted in its own frames; a real one by the wall clock.
            while (shown < stim.duration * fps) if is_file else (time.perf_counter() - started < stim.duration):
                ok, bgr = cap.read()
                if not ok:
                    raise VideoError(f"camera '{camera}' ended after {frames} frames, during '{stim.label}'")
                if writer is None:
                    h, w = bgr.shape[:2]
                    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
                    if not writer.isOpened():
                        raise OutputError(f"cannot write '{video}'")
                writer.write(bgr)
                frames += 1
                shown += 1
                if show:
                    cv2.waitKey(1)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
        if show:
            cv2.destroyAllWindows()
    sidecar = write_sidecar(video, markers, fps, frames, [s.image for s in sequence.stimuli])
    return Recording(video, sidecar, frames, fps, tuple(markers))


def load_markers(sidecar: str | Path) -> tuple[StimulusMarker, ...]:
    """The stimulus onsets of a recording's sidecar JSON, for :class:`~facehealth.live.engine.LiveEngine`."""
    return read_sidecar(sidecar)
