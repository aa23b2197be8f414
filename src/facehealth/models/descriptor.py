"""A real, offline, pretrained face representation: dlib's 128-d face descriptor.

FaceAge (Bontempi et al., Lancet Digital Health 2025) is a FaceNet embedding
plus a simple head; the same design with dlib's descriptor (a ResNet trained
for face recognition on ~3 million faces, shipped in ``face-recognition-models``)
is facehealth's "FaceAge-style" baseline: frozen features + linear, ridge,
logistic or Cox heads (:mod:`facehealth.models.linear`). Every clinical task
reports it next to the foundation model.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from facehealth.faces.model_files import DLIB_FACE_DESCRIPTOR, find_model_file

__all__ = ["DlibFaceDescriptor", "descriptors_from_manifest"]


class DlibFaceDescriptor:
    """dlib's ``face_recognition_model_v1``: (image, 68 landmarks) -> unit-free 128-d vector.

    Same-person photos lie within ~0.6 Euclidean distance of each other (dlib's
    documented threshold), different people further apart.
    """

    def __init__(self, model_path: str | Path | None = None) -> None:
        import dlib

        self._dlib = dlib
        self.model_path = find_model_file(DLIB_FACE_DESCRIPTOR, model_path)
        self._net = dlib.face_recognition_model_v1(str(self.model_path))

    def embed(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """128-d descriptor of the face with these (68, 2) landmarks in the RGB ``image``."""
        lo, hi = landmarks.min(0), landmarks.max(0)
        rect = self._dlib.rectangle(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
        parts = [self._dlib.point(int(round(x)), int(round(y))) for x, y in landmarks]
        shape = self._dlib.full_object_detection(rect, parts)
        return np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(image), shape), np.float32)


def descriptors_from_manifest(
    prepared_dir: str | Path, manifest: pd.DataFrame | None = None, model: DlibFaceDescriptor | None = None
) -> pd.DataFrame:
    """Descriptors of every crop of a ``faces prepare`` folder: columns subject_id, crop_path, d0..d127."""
    root = Path(prepared_dir)
    manifest = pd.read_parquet(root / "manifest.parquet") if manifest is None else manifest
    model = model or DlibFaceDescriptor()
    rows = []
    for row in manifest.itertuples(index=False):
        crop = cv2.cvtColor(cv2.imread(str(root / row.crop_path)), cv2.COLOR_BGR2RGB)
        m = np.asarray(row.matrix, float).reshape(2, 3)
        landmarks = np.asarray(row.landmarks, float).reshape(68, 2) @ m[:, :2].T + m[:, 2]  # into the crop
        rows.append(model.embed(crop, landmarks))
    features = pd.DataFrame(np.stack(rows) if rows else np.zeros((0, 128)), columns=[f"d{i}" for i in range(128)])
    return pd.concat([manifest[["subject_id", "crop_path"]].reset_index(drop=True), features], axis=1)
