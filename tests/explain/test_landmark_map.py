from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from facehealth.errors import InputError
from facehealth.explain.landmark_map import (
    LANDMARK_REGION,
    crop_landmark_gradients,
    crop_landmarks,
    landmark_gradients,
    landmark_motion,
    video_landmark_motion,
)
from facehealth.explain.landmark_stats import landmark_significance
from facehealth.faces.landmarks import inter_ocular_distance
from facehealth.models.multitask import MultiTaskModel, TaskSpec

MOUTH_CORNERS = [48, 54, 60, 64]  # moved by the synthetic expressions (smile / sad)
NOSE_BRIDGE = [27, 28, 29, 30]  # rigid: no expression moves them


# --- gradients pooled at landmarks -------------------------------------------------------------


class _PatchModel(torch.nn.Module):
    """Output = mean of the pixels in a small box: its gradient lives only in that box."""

    def __init__(self, x: int, y: int) -> None:
        super().__init__()
        self.x, self.y = x, y

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        box = images[:, :, self.y - 2 : self.y + 3, self.x - 2 : self.x + 3]
        return {"t": box.mean(dim=(1, 2, 3))[:, None]}


def _face_points(rng: np.random.Generator) -> np.ndarray:
    """A 64-px crop's landmarks: the template eyes (IOD 16 px) plus points spread over the face."""
    pts = rng.uniform(14, 50, size=(68, 2))
    pts[36:42] = [24, 24.3]
    pts[42:48] = [40, 24.3]
    return pts


def test_gradient_pooling_peaks_at_the_landmark_under_the_sensitive_patch():
    rng = np.random.default_rng(0)
    points = np.stack([_face_points(rng) for _ in range(3)])
    points[:, 57] = [33.5, 46.5]  # lower lip centre sits on the patch (pixel centre 33.5, 46.5)
    grads = landmark_gradients(_PatchModel(33, 46), torch.randn(3, 3, 64, 64), points, "t")
    assert grads.shape == (3, 68) and (grads >= 0).all()
    assert (grads.argmax(axis=1) == 57).all()
    far = np.linalg.norm(points - [33.5, 46.5], axis=-1) > 12  # > 0.75 IOD away
    assert grads[far].max() < 1e-3 * grads[:, 57].min()


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    task = TaskSpec("affective", "multiclass", ("affective",), classes=("healthy", "MDD", "BPD"))
    return MultiTaskModel("vit_tiny_patch16", [task], img_size=64, pooling="temporal")


def test_gradients_of_a_video_model_are_per_frame_and_ignore_padding(tiny_model):
    rng = np.random.default_rng(1)
    frames = torch.randn(2, 4, 3, 64, 64)
    points = np.stack([np.stack([_face_points(rng) for _ in range(4)]) for _ in range(2)])
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    times = torch.arange(4).float().expand(2, 4) * 0.2
    grads = landmark_gradients(tiny_model, frames, points, "affective", index=2, mask=mask, times=times)
    assert grads.shape == (2, 4, 68) and np.isfinite(grads).all()
    assert (grads[mask.numpy()] > 0).all()
    # The GRU reads up to the last real frame only: padded frames get exactly no gradient.
    assert not grads[1, 2:].any()
    single = landmark_gradients(tiny_model, frames[:, 0], points[:, 0], "affective")
    assert single.shape == (2, 68) and (single > 0).all()
    with pytest.raises(InputError, match="unknown task"):
        landmark_gradients(tiny_model, frames[:, 0], points[:, 0], "cad")
    with pytest.raises(InputError, match="landmarks_crop"):
        landmark_gradients(tiny_model, frames, points[:, 0], "affective")


# --- motion of landmarks in the synthetic affective videos --------------------------------------


def test_landmark_motion_measures_expression_range():
    rng = np.random.default_rng(0)
    base = _face_points(rng)
    track = np.sin(np.linspace(0, 6, 40))
    video = np.repeat(base[None], 40, axis=0) + rng.normal(0, 0.05, (40, 68, 2))
    video[:, 48, 1] += 3.0 * track  # a mouth corner moves; everything else only jitters
    motion = landmark_motion(video)
    assert motion.argmax() == 48
    iod = np.median([inter_ocular_distance(frame) for frame in video])  # ~16 px plus jitter
    expected = np.sqrt(((video[:, 48] - video[:, 48].mean(0)) ** 2).sum(-1).mean()) / iod
    assert motion[48] == pytest.approx(expected)
    assert landmark_motion(video, kind="velocity").argmax() == 48
    with pytest.warns(RuntimeWarning):
        assert np.isnan(landmark_motion(video[:2])).all()


def _synthetic_videos(tmp_path, subjects: int, fps: float):  # noqa: ANN202
    from facehealth.data.synth import SynthConfig, synthesize_cohort
    from facehealth.faces.prepare import prepare_faces

    cohort = synthesize_cohort(
        tmp_path / "cohort", SynthConfig(subjects=subjects, images_per_subject=1, videos_per_subject=1, video_fps=fps)
    )
    prepare_faces(cohort, tmp_path / "faces", workers=2)
    return cohort, tmp_path / "faces"


def _bpd_vs_mdd(cohort, prepared, subjects: int) -> pd.DataFrame:  # noqa: ANN001
    motion = video_landmark_motion(pd.read_parquet(prepared / "manifest.parquet"))
    assert len(motion) >= subjects - 1  # one video per subject, nearly all frames accepted
    group = motion["subject_id"].map(pd.read_csv(cohort / "labels.csv").set_index("subject_id")["affective"])
    values = motion.drop(columns="subject_id").to_numpy()
    return landmark_significance(values[group == "BPD"], values[group == "MDD"])


def test_significance_ranking_differs_between_bpd_and_mdd_where_the_videos_plant_it(affective_videos):
    """24 subjects (6 BPD, 10 MDD) at 2.5 fps: the mouth corners lead the ranking, the nose bridge trails."""
    table = _bpd_vs_mdd(*affective_videos, subjects=24)
    corners, bridge = table.loc[MOUTH_CORNERS], table.loc[NOSE_BRIDGE]
    assert corners["score"].mean() > bridge["score"].mean() + 0.3
    assert len(set(table.nsmallest(10, "rank")["landmark"]) & set(MOUTH_CORNERS)) >= 2
    assert (corners["effect"] > 0).all()  # BPD's larger smiles move the corners further


@pytest.mark.slow
def test_bpd_and_mdd_differ_significantly_at_the_mouth_not_the_nose_bridge(tmp_path):
    """24 subjects (6 BPD, 10 MDD) at the generator's 5 fps: mouth corners p < 0.05, nose bridge p > 0.05."""
    table = _bpd_vs_mdd(*_synthetic_videos(tmp_path, subjects=24, fps=5.0), subjects=24)
    corners, bridge = table.loc[MOUTH_CORNERS], table.loc[NOSE_BRIDGE]
    assert (corners["p"] < 0.05).all() and corners["p"].min() < 0.01
    assert (bridge["p"] > 0.05).all()
    assert LANDMARK_REGION[int(table.loc[table["rank"] == 1, "landmark"].item())] == "mouth"
    assert corners["score"].mean() > bridge["score"].mean() + 0.4


def test_crop_landmark_gradients_scale_landmarks_with_the_resized_crop(tiny_model, pipeline, read, tmp_path):
    from PIL import Image

    from facehealth.data.datasets import IMAGENET_MEAN, IMAGENET_STD, load_crop

    rows = []
    (tmp_path / "crops").mkdir()
    for name in ("obama.jpg", "biden.jpg"):
        face = pipeline.process(read(name)).faces[0]
        Image.fromarray(face.aligned.image).save(tmp_path / "crops" / f"{name}.png")
        rows.append(
            {
                "crop_path": f"crops/{name}.png",
                "landmarks": face.landmarks.ravel(),
                "matrix": face.aligned.matrix.ravel(),
            }
        )
    rows = pd.DataFrame(rows)
    grads = crop_landmark_gradients(tiny_model, tmp_path, rows, "affective", index=1, img_size=64, batch_size=1)
    assert grads.shape == (2, 68) and (grads > 0).all()
    # Same as calling landmark_gradients on the 64-px crops with landmarks scaled by 64 / 224.
    crops = np.stack([load_crop(tmp_path / p, 64) for p in rows["crop_path"]]).astype(np.float32) / 255.0
    x = torch.from_numpy(((crops - IMAGENET_MEAN) / IMAGENET_STD).transpose(0, 3, 1, 2).copy())
    direct = landmark_gradients(tiny_model, x, crop_landmarks(rows) * 64 / 224, "affective", index=1)
    np.testing.assert_allclose(grads, direct, rtol=1e-4)
