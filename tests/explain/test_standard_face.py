from __future__ import annotations

import numpy as np
import pytest

from facehealth.errors import InputError
from facehealth.explain.standard_face import (
    MESH_EYE_OUTER,
    MESH_NOSE_TIP,
    FaceMesh,
    delaunay_mesh,
    interpolate_scores,
    mean_shape,
    procrustes_mean,
    render_standard_face,
    render_standard_face_3d,
    scores_to_mesh,
    write_standard_faces,
)
from facehealth.faces.landmarks import inter_ocular_distance

FIXTURES = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "group4.jpg")
# iBUG 68 left-right mirror: index i of a mirrored face is landmark MIRROR[i] of the original.
MIRROR = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)


@pytest.fixture(scope="module")
def fixture_faces(pipeline, read):
    """Aligned crops and crop-space landmarks of every accepted face in the fixture photos (8 faces)."""
    faces = [face for name in FIXTURES for face in pipeline.process(read(name)).accepted]
    assert len(faces) >= 6
    return [f.aligned.image for f in faces], np.stack([f.aligned.to_crop(f.landmarks) for f in faces]), faces


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


def test_face_mesh_on_a_real_crop_has_the_nose_closest_and_eyes_on_their_sides(fixture_faces):
    crops, landmarks, _ = fixture_faces
    mesh = FaceMesh()
    points, presence = mesh.predict(crops[0])
    lm = landmarks[0]
    iod = inter_ocular_distance(lm)
    assert points.shape == (468, 3) and presence > 0.9
    z = points[:, 2]
    # MediaPipe: smaller z = closer to the camera; the nose is the closest part of a frontal face.
    closest = points[np.argmin(z)]
    assert np.linalg.norm(closest[:2] - lm[30]) < 0.25 * iod  # near dlib's nose tip
    assert z[MESH_NOSE_TIP] < np.percentile(z, 2)
    assert np.linalg.norm(points[MESH_NOSE_TIP, :2] - lm[30]) < 0.15 * iod
    right_outer, left_outer = points[list(MESH_EYE_OUTER), :2]  # subject's right eye sits on the image's left
    assert np.linalg.norm(right_outer - lm[36]) < 0.15 * iod
    assert np.linalg.norm(left_outer - lm[45]) < 0.15 * iod
    assert right_outer[0] < points[MESH_NOSE_TIP, 0] < left_outer[0]


def test_mean_3d_face_renders_with_scores_painted_on_the_mesh(fixture_faces, tmp_path):
    from PIL import Image

    crops, landmarks, _ = fixture_faces
    mesh = FaceMesh()
    meshes = np.stack([mesh.predict(c)[0] for c in crops])
    result = procrustes_mean(meshes)
    assert result.converged and result.mean.shape == (468, 3)
    mean3d = result.mean
    assert mean3d[MESH_NOSE_TIP, 2] < np.percentile(mean3d[:, 2], 2)  # the mean face keeps its relief
    scores = np.zeros(68)
    scores[48:68] = 1.0  # the mouth
    vertex = scores_to_mesh(mean3d[:, :2], mean_shape(landmarks), scores)
    assert vertex[[61, 291, 13, 14]].min() > 0.9  # MediaPipe mouth corners and lip centres
    assert vertex[[10, 151, 33, 263]].max() < 0.1  # forehead and eye corners
    out = render_standard_face_3d(mean3d, vertex, tmp_path / "standard_face_3d.png")
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape[1] > 500 and image.std() > 20


def test_bad_shapes_raise():
    with pytest.raises(InputError):
        procrustes_mean(np.zeros((3, 68)))
    with pytest.raises(InputError):
        procrustes_mean(np.full((2, 5, 2), np.nan))
    with pytest.raises(InputError):
        interpolate_scores(np.random.default_rng(0).normal(size=(5, 2)), np.ones(4), (4, 4))


def test_write_standard_faces_from_a_prepared_folder(fixture_faces, tmp_path):
    """A hand-made ``faces prepare`` folder (crops + manifest columns the function reads) of real faces."""
    import pandas as pd
    from PIL import Image

    rows = []
    (tmp_path / "faces" / "crops").mkdir(parents=True)
    for k, face in enumerate(fixture_faces[2]):
        rel = f"crops/{k}.png"
        Image.fromarray(face.aligned.image).save(tmp_path / "faces" / rel)
        rows.append({"crop_path": rel, "landmarks": face.landmarks.ravel(), "matrix": face.aligned.matrix.ravel()})
    pd.DataFrame(rows).to_parquet(tmp_path / "faces" / "manifest.parquet")
    scores = np.zeros(68)
    scores[36:48] = 1.0  # the eyes
    paths = write_standard_faces(tmp_path / "faces", tmp_path / "explain", scores=scores)
    assert set(paths) == {"csv", "2d", "3d"} and all(p.stat().st_size > 1000 for p in paths.values())
    mean = pd.read_csv(paths["csv"], index_col="landmark")[["x", "y"]].to_numpy()
    assert mean.shape == (68, 2)
    assert 0.8 * 56 < inter_ocular_distance(mean) < 1.2 * 56  # 224-px crops, eyes 25% apart
    assert mean[36:48, 1].mean() < mean[30, 1] < mean[48:68, 1].mean()
