"""Explain one photo: which parts of this face drove each score, drawn on the photo itself.

The photo goes through the checkpoint's own face pipeline (detection, landmarks, alignment,
quality gate); saliency is computed on the aligned crop and mapped back onto the photo with the
inverse alignment, so the overlay lines up with the face wherever it is in the picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facehealth.errors import NoFaceError
from facehealth.explain.cohort import resolve_targets
from facehealth.explain.overlay import grid, overlay, save_png, to_original
from facehealth.explain.regions import landmarks_to_crop, region_attribution
from facehealth.explain.saliency import Baseline, Method, require_pixel_model, saliency, to_model_input

__all__ = ["PhotoExplanation", "explain_photo"]


@dataclass(frozen=True)
class PhotoExplanation:
    source: Path
    overlay_png: Path  # one panel per target: the photo with its saliency
    top_regions: dict[str, tuple[str, ...]]  # target -> the 3 facial regions with the highest density


def explain_photo(
    checkpoint: str | Path,
    source: str | Path,
    out_dir: str | Path,
    tasks: list[str] | tuple[str, ...] | None = None,
    method: Method = "gradcam",
    baseline: Baseline = "black",
) -> PhotoExplanation:
    """Saliency of each target on the largest accepted face of ``source``; writes ``<stem>_<method>.png``.

    Raises:
        NoFaceError: no face passed the quality gate.
    """
    from facehealth.faces.io import read_image
    from facehealth.models.predictor import FaceHealthModel

    predictor = FaceHealthModel.load(checkpoint)
    require_pixel_model(predictor.model, str(checkpoint))
    photo = read_image(source)
    faces = [f for f in predictor.pipeline.process(photo).faces if f.quality.passed]
    if not faces:
        raise NoFaceError(f"{source}: no face passed the quality gate; nothing to explain")
    face = max(faces, key=lambda f: f.detection.box.area)
    crop, matrix = face.aligned.image, face.aligned.matrix
    landmarks = landmarks_to_crop(face.landmarks, matrix)
    x = to_model_input([crop], predictor.img_size)
    panels, labels, top = [], [], {}
    for task, index, label in resolve_targets(predictor.model, tasks):
        sal = saliency(predictor.model, x, task, index, method, baseline=baseline)[0]
        on_photo = to_original(sal, matrix, photo.shape, crop_size=crop.shape[0])
        panels.append(overlay(photo, on_photo))
        labels.append(label)
        top[label] = tuple(region_attribution(sal, landmarks, crop_size=crop.shape[0]).ranking()[:3])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = save_png(out / f"{Path(source).stem}_{method}.png", grid(panels, min(4, len(panels)), labels))
    return PhotoExplanation(Path(source), path, top)
