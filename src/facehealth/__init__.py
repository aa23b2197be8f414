"""facehealth: local-first facial health foundation models.

Sub-packages follow the data flow: ``faces`` (detection, landmarks, alignment,
quality) -> ``data`` -> ``models`` -> ``train`` -> ``evaluate`` -> ``explain``
-> ``robustness`` -> ``report`` -> ``serve``. Nothing heavy is imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from facehealth.errors import FaceHealthError

if TYPE_CHECKING:
    from pathlib import Path

    from facehealth.models.predictor import FaceHealthModel

__version__ = "0.1.0"
__all__ = ["FaceHealthError", "__version__", "load"]


def load(path: str | Path, device: str = "cpu") -> FaceHealthModel:  # lazy: keeps `import facehealth` free of torch
    """Load a fine-tuned checkpoint for prediction; see :class:`facehealth.models.predictor.FaceHealthModel`."""
    from facehealth.models.loader import load as _load

    return _load(path, device)
