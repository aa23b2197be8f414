"""A real frontal face (obama.jpg) through the face pipeline: crop, crop-space landmarks, matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest


@dataclass(frozen=True, eq=False)
class RealFace:
    photo: np.ndarray  # original RGB photo
    crop: np.ndarray  # aligned RGB crop (224 px)
    landmarks_crop: np.ndarray  # (68, 2) in crop pixels
    matrix: np.ndarray  # (2, 3) original -> crop


@pytest.fixture(scope="session")
def real_face(pipeline, read) -> RealFace:
    from facehealth.explain.regions import landmarks_to_crop

    photo = read("obama.jpg")
    result = pipeline.process(photo)
    face = max(result.faces, key=lambda f: f.detection.box.area)
    assert face.quality.passed
    return RealFace(
        photo, face.aligned.image, landmarks_to_crop(face.landmarks, face.aligned.matrix), face.aligned.matrix
    )


@pytest.fixture(scope="session")
def affective_videos(tmp_path_factory):
    """24 synthetic subjects (6 BPD, 10 MDD, 8 healthy) with one 10 s stimulus video each at 2.5 fps, prepared."""
    from facehealth.data.synth import SynthConfig, synthesize_cohort
    from facehealth.faces.prepare import prepare_faces

    root = tmp_path_factory.mktemp("affective")
    cohort = synthesize_cohort(
        root / "cohort", SynthConfig(subjects=24, images_per_subject=1, videos_per_subject=1, video_fps=2.5)
    )
    prepare_faces(cohort, root / "faces", workers=2)
    return cohort, root / "faces"


def untrained_checkpoint(folder, tasks, img_size: int = 32):  # noqa: ANN001, ANN201
    """A fine-tune checkpoint of a random ViT-Ti/16 with ``tasks``: explaining needs a model, not skill."""
    import torch

    from facehealth.models.checkpoint import CheckpointMeta, save_checkpoint
    from facehealth.models.multitask import MultiTaskModel

    torch.manual_seed(0)
    model = MultiTaskModel("vit_tiny_patch16", tasks, img_size=img_size)
    meta = CheckpointMeta(backbone="vit_tiny_patch16", img_size=img_size, tasks=tuple(tasks))
    return save_checkpoint(folder / "checkpoint-best", model.state_dict(), meta)


def motion_checkpoint(folder, only_landmark: int | None = None):  # noqa: ANN001, ANN201
    """A random ViT-Ti/16 video model that reads landmark motion (stats pooling); optionally a head
    that sees only one landmark's motion features."""
    import torch

    from facehealth.models.checkpoint import CheckpointMeta, save_checkpoint
    from facehealth.models.multitask import MultiTaskModel, TaskSpec

    torch.manual_seed(0)
    task = TaskSpec("affective", "multiclass", ("affective_code",), ("healthy", "MDD", "BPD"))
    model = MultiTaskModel("vit_tiny_patch16", [task], 32, "stats", frame_input="both")
    if only_landmark is not None:
        width = model.backbone.num_features + 136
        keep = torch.zeros(2 * width, dtype=torch.bool)
        for half in (0, width):  # mean and sd parts of the stats-pooled vector
            start = half + model.backbone.num_features + 2 * only_landmark
            keep[start : start + 2] = True
        with torch.no_grad():
            model.heads["affective"].weight[:, ~keep] = 0
    meta = CheckpointMeta(
        backbone="vit_tiny_patch16",
        img_size=32,
        tasks=(task,),
        input="video",
        pooling="stats",
        frames=16,
        frame_input="both",
    )
    return save_checkpoint(folder / "checkpoint-best", model.state_dict(), meta)


STANDARD_FACE_PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "group4.jpg")


@pytest.fixture(scope="session")
def fixture_faces(pipeline, read):
    """Aligned crops and crop-space landmarks of every accepted face in the fixture photos (8 faces)."""
    faces = [face for name in STANDARD_FACE_PHOTOS for face in pipeline.process(read(name)).accepted]
    assert len(faces) >= 6
    return [f.aligned.image for f in faces], np.stack([f.aligned.to_crop(f.landmarks) for f in faces]), faces
