"""The standardized 3D face: MediaPipe's face mesh on real crops, the mean mesh painted with scores."""

from __future__ import annotations

import numpy as np

from facehealth.explain.standard_face import mean_shape, procrustes_mean
from facehealth.explain.standard_face_3d import (
    MESH_EYE_OUTER,
    MESH_NOSE_TIP,
    FaceMesh,
    render_standard_face_3d,
    scores_to_mesh,
    write_standard_faces,
)
from facehealth.faces.landmarks import inter_ocular_distance


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
