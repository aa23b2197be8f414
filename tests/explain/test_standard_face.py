from __future__ import annotations

import numpy as np
import pytest

from facehealth.errors import InputError
from facehealth.explain.standard_face import (
    delaunay_mesh,
    interpolate_scores,
    mean_shape,
    procrustes_mean,
    render_standard_face,
)
from facehealth.faces.landmarks import inter_ocular_distance

# iBUG 68 left-right mirror: index i of a mirrored face is landmark MIRROR[i] of the original.
MIRROR = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)


def _similarity(shape: np.ndarray, angle: float, scale: float, shift: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return scale * shape @ np.array([[c, s], [-s, c]]) + shift


def test_procrustes_recovers_a_shape_from_rotated_scaled_shifted_copies(fixture_faces):
    base = fixture_faces[1][0]
    rng = np.random.default_rng(0)
    copies = np.stack(
        [
            _similarity(
                base + rng.normal(0, 0.3, base.shape), rng.uniform(-0.5, 0.5), rng.uniform(0.5, 2), rng.normal(0, 40, 2)
            )
            for _ in range(30)
        ]
    )
    result = procrustes_mean(copies)
    assert result.converged and result.iterations < 20
    # Up to a similarity, the mean equals the base shape within the noise (0.3 px per coordinate).
    back = procrustes_mean(np.stack([result.mean, base]))
    assert np.abs(back.aligned[0] - back.aligned[1]).max() < 0.5
    assert result.residual < 1.0


def test_procrustes_in_3d_undoes_rotations():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(30, 3))
    shapes = []
    for _ in range(10):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        q *= np.sign(np.linalg.det(q))  # a proper rotation
        shapes.append(base @ q * rng.uniform(0.5, 2) + rng.normal(size=3))
    result = procrustes_mean(np.stack(shapes))
    assert result.converged and result.residual < 1e-6


def test_mean_face_of_real_faces_is_a_plausible_upright_symmetric_face(fixture_faces):
    _, landmarks, _ = fixture_faces
    result = procrustes_mean(landmarks)
    assert result.converged
    mean = result.mean
    assert mean.shape == (68, 2)
    np.testing.assert_allclose(mean, mean_shape(landmarks))
    brows, eyes, nose_tip, mouth, chin = (
        mean[17:27, 1].mean(),
        mean[36:48, 1].mean(),
        mean[30, 1],
        mean[48:68, 1].mean(),
        mean[8, 1],
    )
    assert brows < eyes < nose_tip < mouth < chin  # y grows downwards
    assert mean[36:42, 0].mean() < mean[27:36, 0].mean() < mean[42:48, 0].mean()
    iod = inter_ocular_distance(mean)
    assert 0.8 * 56 < iod < 1.2 * 56  # crop frame kept: eyes 25% of 224 px apart
    # Left-right symmetry: mirror about the nose bridge's vertical line and compare with the paired points.
    axis = mean[27:31, 0].mean()
    mirrored = mean[MIRROR] * [-1, 1] + [2 * axis, 0]
    assert np.linalg.norm(mirrored - mean, axis=1).mean() < 0.08 * iod


def test_barycentric_interpolation_reproduces_linear_fields_and_vertex_values(fixture_faces):
    mean = mean_shape(fixture_faces[1])
    scores = 0.01 * mean[:, 0] - 0.02 * mean[:, 1] + 3.0  # a linear field is interpolated exactly
    painted = interpolate_scores(mean, scores, (224, 224))
    inside = np.isfinite(painted)
    assert 0.2 < inside.mean() < 0.8  # the face covers part of the crop
    ys, xs = np.nonzero(inside)
    np.testing.assert_allclose(painted[ys, xs], 0.01 * (xs + 0.5) - 0.02 * (ys + 0.5) + 3.0, atol=1e-9)
    assert np.isnan(painted[0, 0])  # a corner lies outside the hull
    tris = delaunay_mesh(mean)
    assert tris.shape[1] == 3 and tris.max() == 67 and len(np.unique(tris)) == 68


def test_render_standard_face_writes_a_png(fixture_faces, tmp_path):
    from PIL import Image

    mean = mean_shape(fixture_faces[1])
    out = render_standard_face(mean, np.linspace(0, 1, 68), tmp_path / "explain" / "standard_face.png")
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape[0] > 300 and image.std() > 20


def test_bad_shapes_raise():
    with pytest.raises(InputError):
        procrustes_mean(np.zeros((3, 68)))
    with pytest.raises(InputError):
        procrustes_mean(np.full((2, 5, 2), np.nan))
    with pytest.raises(InputError):
        interpolate_scores(np.random.default_rng(0).normal(size=(5, 2)), np.ones(4), (4, 4))
