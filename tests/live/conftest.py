"""Shared fixtures of the live tests: one real face placed on a 640x480 canvas, with its landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import fixture_path


@pytest.fixture(scope="session")
def face_canvas() -> tuple[np.ndarray, np.ndarray]:
    """obama.jpg on a 640x480 canvas and its 68 landmarks from the project's real pipeline."""
    from facehealth.faces.io import read_image
    from facehealth.faces.pipeline import FacePipeline
    from facehealth.live.synthetic import place_face

    canvas, _, _ = place_face(np.asarray(read_image(fixture_path("obama.jpg"))))
    result = FacePipeline().process(canvas)
    assert len(result.faces) == 1
    return canvas, result.faces[0].landmarks
