"""Property-based tests (Hypothesis) of the alignment maths: the eye similarity on arbitrary points."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from facehealth.faces.align import similarity_from_eyes

coords = st.floats(-2000, 2000, allow_nan=False, width=32)
pairs = arrays(np.float64, (2, 2), elements=coords)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


@settings(max_examples=80, deadline=None)
@given(pairs, pairs, arrays(np.float64, (5, 2), elements=coords))
def test_the_eye_similarity_hits_both_targets_and_keeps_shape(src, dst, others):
    assume(np.linalg.norm(src[1] - src[0]) > 1.0 and np.linalg.norm(dst[1] - dst[0]) > 1.0)
    m = similarity_from_eyes(src, dst)
    assert np.allclose(_apply(m, src), dst, atol=1e-6 * (1 + np.abs(dst).max()))
    a, b = m[0, 0], m[1, 0]
    assert np.isclose(m[1, 1], a) and np.isclose(m[0, 1], -b)  # rotation + uniform scale, no shear or flip
    scale = np.hypot(a, b)
    moved = _apply(m, others)
    for i in range(len(others)):  # every distance scales by the same factor
        d0 = np.linalg.norm(others[i] - others[0])
        assert np.isclose(np.linalg.norm(moved[i] - moved[0]), scale * d0, rtol=1e-6, atol=1e-6 * (1 + scale))
    back = similarity_from_eyes(dst, src)
    assert np.allclose(_apply(back, _apply(m, others)), others, atol=1e-5 * (1 + np.abs(others).max()) * (1 + scale))
