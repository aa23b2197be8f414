"""facehealth: local-first facial health foundation models.

Sub-packages follow the data flow: ``faces`` (detection, landmarks, alignment,
quality) -> ``data`` -> ``models`` -> ``train`` -> ``evaluate`` -> ``explain``
-> ``robustness`` -> ``report`` -> ``serve``. Nothing heavy is imported here.
"""

from facehealth.errors import FaceHealthError

__version__ = "0.1.0"
__all__ = ["FaceHealthError", "__version__"]
