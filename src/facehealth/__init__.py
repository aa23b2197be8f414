"""facehealth: local-first facial health foundation models.

Sub-packages follow the data flow: ``faces`` (detection, landmarks, alignment,
quality) -> ``data`` -> ``models`` -> ``train`` -> ``evaluate`` -> ``explain``
-> ``robustness`` -> ``report`` -> ``serve``. Nothing heavy is imported here.
"""

from facehealth.errors import FaceHealthError

__version__ = "0.1.0"
__all__ = ["FaceHealthError", "__version__", "load"]


def load(path, device: str = "cpu"):  # noqa: ANN001, ANN201 - lazy: keeps `import facehealth` free of torch
    """Load a fine-tuned checkpoint for prediction; see :class:`facehealth.models.predictor.FaceHealthModel`."""
    from facehealth.models.predictor import load as _load

    return _load(path, device)
