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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from facehealth.errors import ConfigError, InputError, NoFaceError
from facehealth.faces.motion import aligned_landmarks, expression_motion
from facehealth.faces.records import QualityReport

__all__ = ["Prediction", "FaceHealthModel", "load", "model_from_checkpoint", "MIN_MOTION_FRAMES"]

MIN_MOTION_FRAMES = 3  # a landmark-motion model needs a clip; the facial map uses the same minimum


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
    quality: tuple[QualityReport, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "faces_used": self.faces_used,
            "frames_read": self.frames_read,
            "rejected": self.rejected,
            "values": self.values,
            "probabilities": self.probabilities,
            "risks": self.risks,
            "quality": [q.as_dict() for q in self.quality],
        }


class FaceHealthModel:
    """A fine-tuned multi-task model with its face pipeline."""

    def __init__(self, model: torch.nn.Module, meta: dict, device: str = "cpu") -> None:
        from facehealth.config import from_mapping
        from facehealth.faces.config import FacesConfig
        from facehealth.faces.pipeline import FacePipeline

        self.model = model.eval().to(device)
        self.meta = meta
        self.device = device
        faces = from_mapping(FacesConfig, meta.get("faces_config") or {}, "checkpoint faces_config")
        self.pipeline = FacePipeline(faces)
        self.img_size = int(meta["img_size"])

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> FaceHealthModel:
        model, meta = model_from_checkpoint(path)
        return cls(model, meta, device)

    def predict(self, source: str | Path | np.ndarray) -> Prediction:
        """Score a photo or video file, or an RGB array.

        Raises:
            NoFaceError: no face passed the quality gate (the message counts the reasons).
            InputError: the file cannot be read.
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
        if self.meta.get("frame_input", "pixels") != "pixels" and len(crops) < MIN_MOTION_FRAMES:
            # A still (or a clip the gate mostly rejected) has no motion: the model would score "no
            # expression at all" and look confident about it.
            raise InputError(
                f"{name}: this model reads facial motion over a video and needs at least {MIN_MOTION_FRAMES} "
                f"accepted frames; got {len(crops)} ({frames} read)"
            )
        outputs = self._score(crops, times, shapes)
        prediction = Prediction(name, len(crops), frames, dict(rejected), quality=tuple(reports))
        for task in self.model.tasks:
            values = outputs[task.name].mean(0).tolist()
            if task.kind == "regression":
                prediction.values.update(dict(zip(task.columns, values)))
            elif task.kind == "binary":
                prediction.probabilities[task.name] = values[0]
            elif task.kind == "multiclass":
                prediction.probabilities[task.name] = dict(zip(task.classes, values))
            else:
                prediction.risks[task.name] = values[0]
        return prediction

    @torch.no_grad()
    def _score(self, crops: list[np.ndarray], times: list[float], shapes: list[np.ndarray]) -> dict[str, torch.Tensor]:
        """Per-crop outputs (N, ...) for an image model; one pooled row (1, ...) for subject/video models."""
        from facehealth.data.datasets import IMAGENET_MEAN, IMAGENET_STD

        mode = self.meta.get("input", "image")
        if mode == "video" and len(crops) > int(self.meta.get("frames", 32)):
            # Sampled as in training (FrameSequenceDataset), so the motion's reference shape matches.
            keep = np.linspace(0, len(crops) - 1, int(self.meta["frames"])).round().astype(int)
            crops, times, shapes = [crops[i] for i in keep], [times[i] for i in keep], [shapes[i] for i in keep]
        x = (np.stack(crops).astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        batch = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(self.device)
        if mode == "image":
            return self.model.predict(self.model(batch))
        mask = torch.ones(1, len(crops), dtype=torch.bool, device=self.device)
        t = torch.tensor([times], dtype=torch.float32, device=self.device)
        motion = None
        if self.meta.get("frame_input", "pixels") != "pixels":
            motion = torch.from_numpy(expression_motion(np.stack(shapes)).astype(np.float32)).to(self.device)[None]
        return self.model.predict(self.model(batch.unsqueeze(0), mask, t, motion))


def model_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """Rebuild the fine-tuned multi-task model saved at ``path``; returns (model in eval mode, metadata)."""
    from facehealth.models.checkpoint import load_checkpoint
    from facehealth.models.multitask import MultiTaskModel, TaskSpec

    weights, meta = load_checkpoint(path)
    if meta.get("stage") != "finetune":
        raise ConfigError(
            f"{path}: not a fine-tuned checkpoint (stage: {meta.get('stage')}); "
            "pass the checkpoint-best.safetensors written by `facehealth finetune`"
        )
    tasks = [TaskSpec.from_dict(t) for t in meta["tasks"]]
    model = MultiTaskModel(
        meta["backbone"],
        tasks,
        meta["img_size"],
        meta.get("pooling", "mean"),
        meta.get("target_mean"),
        meta.get("target_std"),
        meta.get("pos_weight"),
        meta.get("class_weights"),
        frame_input=meta.get("frame_input", "pixels"),
        bins=int(meta.get("time_bins", 5)),
    )
    model.load_state_dict(weights)
    return model.eval(), meta


def load(path: str | Path, device: str = "cpu") -> FaceHealthModel:
    """Load a fine-tuned checkpoint for prediction (``facehealth.load``)."""
    return FaceHealthModel.load(path, device)
