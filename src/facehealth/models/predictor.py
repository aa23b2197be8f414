"""Inference: a fine-tuned checkpoint + the face pipeline -> typed predictions for a photo or a video.

    >>> import facehealth
    >>> model = facehealth.load("runs/finetune/checkpoint-best.safetensors")  # doctest: +SKIP
    >>> p = model.predict("selfie.jpg")  # doctest: +SKIP
    >>> p.values["age"], p.probabilities["cad"]  # doctest: +SKIP

Faces are prepared exactly as for training (the checkpoint stores the face
pipeline settings it was trained with); every accepted face or frame is
scored and the scores are averaged, as DigitalShadow does for several photos.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from facehealth.data.stimuli import StimulusMarker, markers_for, slice_onsets
from facehealth.errors import ConfigError, InputError, NoFaceError
from facehealth.faces.motion import aligned_landmarks, expression_motion
from facehealth.faces.records import QualityReport
from facehealth.models.checkpoint import CheckpointMeta
from facehealth.models.multitask import MultiTaskModel
from facehealth.models.tasks import TaskSpec

__all__ = [
    "Prediction",
    "PreparedFaces",
    "FaceHealthModel",
    "model_from_checkpoint",
    "model_from_meta",
    "pixel_batch",
    "MIN_MOTION_FRAMES",
    "SYNTHETIC_WARNING",
    "NO_SIDECAR_WARNING",
]

MIN_MOTION_FRAMES = 3  # a landmark-motion model needs a clip; the facial map uses the same minimum
# Said by every person-facing output of a model whose checkpoint records a synthetic training cohort.
SYNTHETIC_WARNING = (
    "This model was trained on synthetic faces with planted effects; its numbers are not health information."
)

NO_SIDECAR_WARNING = (
    "This video has no stimulus sidecar (.stimuli.json) but the model was trained on stimulus-locked "
    "recordings: its time slices assume equally long stimuli."
)


@dataclass(frozen=True)
class Prediction:
    """Predictions for one input, averaged over its accepted faces/frames."""

    source: str
    faces_used: int
    frames_read: int
    rejected: dict[str, int]
    values: dict[str, float] = field(default_factory=dict)  # regression outputs by label column
    probabilities: dict[str, Any] = field(default_factory=dict)  # binary: float; multiclass: {class: p}
    risks: dict[str, float] = field(default_factory=dict)  # Cox log relative hazard
    # 90% (1 - calibration.alpha) conformal interval per value, calibrated on this many photos
    # (models/calibration.py); a value without one was not calibrated. Binary probabilities and Cox
    # risks (keyed by task name) get repeat-photo intervals: where another photo set would score.
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    quality: tuple[QualityReport, ...] = ()
    synthetic_model: bool = False  # the model was trained on a synthetic cohort
    # Zero-shot apparent age (years) from dlib's CC0 age network (models/apparent_age.py), not
    # from the user's model; None for videos or when the network is not installed.
    apparent_age_pretrained: float | None = None
    notes: tuple[str, ...] = ()  # further warnings about this input (e.g. NO_SIDECAR_WARNING)

    @property
    def warnings(self) -> tuple[str, ...]:
        return ((SYNTHETIC_WARNING,) if self.synthetic_model else ()) + self.notes

    def as_row(self, tasks: Sequence[TaskSpec]) -> dict[str, float]:
        """The scores as one prediction-table row, named by :meth:`TaskSpec.output_columns`."""
        row: dict[str, float] = {}
        for t in tasks:
            if t.kind == "regression":
                row.update({t.output_column(c): self.values[c] for c in t.columns if c in self.values})
            elif t.kind == "multiclass" and t.name in self.probabilities:
                probs = self.probabilities[t.name]
                row.update(dict(zip(t.output_columns(), (probs[c] for c in t.classes))))
            elif t.kind == "binary" and t.name in self.probabilities:
                row[t.output_column()] = self.probabilities[t.name]
            elif t.kind == "cox" and t.name in self.risks:
                row[t.output_column()] = self.risks[t.name]
        return row

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "warnings": list(self.warnings),
            "faces_used": self.faces_used,
            "frames_read": self.frames_read,
            "rejected": self.rejected,
            "values": self.values,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "probabilities": self.probabilities,
            "risks": self.risks,
            "quality": [q.as_dict() for q in self.quality],
            "apparent_age_pretrained": self.apparent_age_pretrained,
        }


@dataclass(frozen=True)
class PreparedFaces:
    """The accepted faces of one input, as the model sees them (:meth:`FaceHealthModel.prepare`)."""

    source: str
    crops: tuple[np.ndarray, ...]  # each (img_size, img_size, 3) uint8 RGB, aligned as in training
    times: tuple[float, ...]  # seconds into the video of each crop (0 for a photo)
    shapes: tuple[np.ndarray, ...]  # each (68, 2): the face's landmarks in crop coordinates
    quality: tuple[QualityReport, ...]
    rejected: dict[str, int]  # faces or frames the gate refused, by reason
    frames_read: int


class FaceHealthModel:
    """A fine-tuned multi-task model with its face pipeline."""

    def __init__(self, model: MultiTaskModel, meta: CheckpointMeta, device: str = "cpu") -> None:
        self.model = model.eval().to(device)
        self._init_faces(meta, device)

    def _init_faces(self, meta: CheckpointMeta, device: str) -> None:
        """What every backend shares: the metadata and the face pipeline the model was trained with."""
        from facehealth.config import from_mapping
        from facehealth.faces.config import FacesConfig
        from facehealth.faces.pipeline import FacePipeline

        self.meta = meta
        self.device = device
        faces = from_mapping(FacesConfig, meta.faces_config, "checkpoint faces_config")
        self.pipeline = FacePipeline(faces)
        self.img_size = meta.img_size

    @property
    def tasks(self) -> tuple[TaskSpec, ...]:
        """The heads this model answers, in the checkpoint's order."""
        return self.meta.tasks

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> FaceHealthModel:
        model, meta = model_from_checkpoint(path)
        return cls(model, meta, device)

    def prepare(self, source: str | Path | np.ndarray, progress: Callable[[int], None] | None = None) -> PreparedFaces:
        """Detect, align and quality-gate the faces of a photo, video or RGB array, as in training.

        ``progress`` is called with the number of frames read so far, after each frame.

        Raises:
            NoFaceError: no face passed the quality gate (the message counts the reasons).
            InputError: the file cannot be read, or a motion model got too few frames.
        """
        from facehealth.faces.io import media_kind

        if isinstance(source, np.ndarray):
            results, name = [self.pipeline.process(source)], "<array>"
        elif media_kind(source) == "video":
            results, name = self.pipeline.process_video(source), str(source)
        else:
            results, name = [self.pipeline.process_file(source)], str(source)
        crops, times, reports, rejected, frames = [], [], [], Counter(), 0
        shapes: list[np.ndarray] = []  # landmarks mapped into each crop (landmark-motion models)
        for result in results:
            frames += 1
            if progress is not None:
                progress(frames)
            rejected.update(result.rejected)
            for face in result.faces:
                if face.quality.passed:
                    crops.append(
                        cv2.resize(face.aligned.image, (self.img_size, self.img_size), interpolation=cv2.INTER_AREA)
                    )
                    reports.append(face.quality)
                    times.append(result.timestamp or 0.0)
                    shapes.append(aligned_landmarks(face.landmarks[None], face.aligned.matrix[None])[0])
                else:
                    rejected[face.quality.reasons[0]] += 1
        if not crops:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(rejected.items())) or "none found"
            raise NoFaceError(f"{name}: no face passed the quality gate ({reasons})")
        if self.meta.uses_motion and len(crops) < MIN_MOTION_FRAMES:
            # A still (or a clip the gate mostly rejected) has no motion: the model would score "no
            # expression at all" and look confident about it.
            raise InputError(
                f"{name}: this model reads facial motion over a video and needs at least {MIN_MOTION_FRAMES} "
                f"accepted frames; got {len(crops)} ({frames} read)"
            )
        return PreparedFaces(name, tuple(crops), tuple(times), tuple(shapes), tuple(reports), dict(rejected), frames)

    def predict(self, source: str | Path | np.ndarray, progress: Callable[[int], None] | None = None) -> Prediction:
        """Score a photo or video file, or an RGB array (``progress``: as in :meth:`prepare`).

        Raises:
            NoFaceError: no face passed the quality gate (the message counts the reasons).
            InputError: the file cannot be read.
        """
        faces = self.prepare(source, progress)
        crops = list(faces.crops)
        markers = self._stimulus_markers(source)
        outputs = self._score(crops, list(faces.times), list(faces.shapes), markers)
        notes = ()
        if self.meta.stimulus_aligned and self.meta.pooling == "timebins" and markers is None:
            notes = (NO_SIDECAR_WARNING,)
        prediction = Prediction(
            faces.source,
            len(crops),
            faces.frames_read,
            faces.rejected,
            quality=faces.quality,
            synthetic_model=self.meta.synthetic,
            notes=notes,
        )
        for task in self.tasks:
            values = outputs[task.name].mean(0).tolist()
            if task.kind == "regression":
                prediction.values.update(dict(zip(task.columns, values)))
            elif task.kind == "binary":
                prediction.probabilities[task.name] = values[0]
            elif task.kind == "multiclass":
                prediction.probabilities[task.name] = dict(zip(task.classes, values))
            else:
                prediction.risks[task.name] = values[0]
        calibration = self.meta.calibration
        if calibration is not None:
            # An image model's estimate is the mean of its photos' scores; other models score one unit.
            units = len(crops) if self.meta.input == "image" else 1
            for column, value in prediction.values.items():
                interval = calibration.interval(column, value, units)
                if interval is not None:
                    prediction.intervals[column] = interval
            for task in self.meta.tasks:  # repeat-photo intervals of probabilities and risks
                score = prediction.probabilities.get(task.name, prediction.risks.get(task.name))
                if task.kind in ("binary", "cox") and isinstance(score, float):
                    interval = calibration.repeat_interval(task.output_column(), score, units)
                    if interval is not None:
                        prediction.intervals[task.name] = interval
        return prediction

    def _stimulus_markers(self, source: str | Path | np.ndarray) -> tuple[StimulusMarker, ...] | None:
        """The sidecar's stimuli beside a video, for a model that pools time slices; else None."""
        if self.meta.input != "video" or self.meta.pooling != "timebins" or isinstance(source, np.ndarray):
            return None
        return markers_for(source)

    @torch.no_grad()
    def _score(
        self,
        crops: list[np.ndarray],
        times: list[float],
        shapes: list[np.ndarray],
        markers: Sequence[StimulusMarker] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Per-crop outputs (N, ...) for an image model; one pooled row (1, ...) for subject/video models."""
        mode = self.meta.input
        if mode == "video" and len(crops) > self.meta.frames:
            # Sampled as in training (FrameSequenceDataset), so the motion's reference shape matches.
            keep = np.linspace(0, len(crops) - 1, self.meta.frames).round().astype(int)
            crops, times, shapes = [crops[i] for i in keep], [times[i] for i in keep], [shapes[i] for i in keep]
        batch = torch.from_numpy(pixel_batch(crops)).to(self.device)
        if mode == "image":
            return self.model.predict(self.model(batch))
        mask = torch.ones(1, len(crops), dtype=torch.bool, device=self.device)
        t = torch.tensor([times], dtype=torch.float32, device=self.device)
        motion = None
        if self.meta.uses_motion:
            motion = torch.from_numpy(expression_motion(np.stack(shapes)).astype(np.float32)).to(self.device)[None]
        onsets = None
        if self.meta.pooling == "timebins":
            onsets = torch.from_numpy(slice_onsets(markers, max(times), self.meta.time_bins))[None].to(self.device)
        return self.model.predict(self.model(batch.unsqueeze(0), mask, t, motion, onsets))


def pixel_batch(crops: Sequence[np.ndarray]) -> np.ndarray:
    """N (H, W, 3) uint8 RGB crops -> (N, 3, H, W) float32, ImageNet-normalised as in training.

    Shared by the torch and ONNX Runtime predictors, so both see the same numbers.
    """
    from facehealth.data.datasets import IMAGENET_MEAN, IMAGENET_STD

    x = (np.stack(crops).astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD  # (N, H, W, 3)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)  # (N, 3, H, W)


def model_from_checkpoint(path: str | Path) -> tuple[MultiTaskModel, CheckpointMeta]:
    """Rebuild the fine-tuned multi-task model saved at ``path``; returns (model in eval mode, metadata).

    Raises:
        ModelNotFoundError: no checkpoint at ``path``.
        ConfigError: not a fine-tuned checkpoint; CheckpointVersionError: written by another version.
    """
    from facehealth.models.checkpoint import load_checkpoint

    if Path(path).suffix == ".onnx":
        # An exported graph has no torch weights: training, explanation and evaluation need the checkpoint.
        raise ConfigError(f"{path}: an ONNX model only predicts; pass the .safetensors checkpoint it was exported from")
    weights, meta = load_checkpoint(path, CheckpointMeta)
    model = model_from_meta(meta)
    model.load_state_dict(weights)
    return model.eval(), meta


def model_from_meta(meta: CheckpointMeta) -> MultiTaskModel:
    """An untrained model of the architecture ``meta`` describes (weights are loaded separately)."""
    return MultiTaskModel(
        meta.backbone,
        list(meta.tasks),
        meta.img_size,
        meta.pooling,
        meta.target_mean,
        meta.target_std,
        meta.pos_weight,
        meta.class_weights,
        frame_input=meta.frame_input,
        bins=meta.time_bins,
        colour_grid=meta.colour_grid,
    )
