"""Fixtures for the robustness tests: a landmarked real photo (the tiny checkpoint is in tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def obama(read, pipeline) -> tuple[np.ndarray, np.ndarray]:
    """A real photo and its 68 landmarks from the face pipeline."""
    image = read("obama.jpg")
    faces = pipeline.process(image).faces
    assert len(faces) == 1
    return image, faces[0].landmarks
