"""Expression motion from the landmarks of a clip's frames (Emoface's landmark dynamics).

A video model that only sees pixels has to find a smile in a 64-px crop, where the mouth
corners move a pixel or two. The 68 landmarks were measured on the full-resolution frame, so
their motion is a far stronger, and directly interpretable, signal of the expression
dynamics Emoface reads. Two steps make the motion comparable between people and frames:

1. every frame's landmarks are mapped into its aligned crop (the alignment removes head
   translation, in-plane rotation and scale, frame by frame);
2. each landmark's displacement is taken from the clip's median shape (which removes who the
   person is: the shape of their face) and measured in inter-ocular distances (which removes
   the crop size).

What remains is how the face moves over the clip: smiling lifts the mouth corners, sadness
lowers them, and so on.

A video whose resolution changes mid-stream is normalised, not restarted: step 1 maps each
frame through its own matrix, measured on that frame, so a frame at half the size lands on the
same crop coordinates and the change adds no jump (tests/faces/test_motion.py checks this on
the corpus video of :mod:`facehealth.faces.bad_inputs`). Raw pixel landmarks would jump by the
scale factor. (The live engine restarts its motion history anyway, with the track it belongs to.)
"""

from __future__ import annotations

import numpy as np

from facehealth.errors import InputError
from facehealth.faces.landmarks import inter_ocular_distance

__all__ = ["aligned_landmarks", "expression_motion", "MOTION_FEATURES"]

MOTION_FEATURES = 68 * 2  # (dx, dy) per landmark


def aligned_landmarks(landmarks: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Map (N, 68, 2) photo landmarks through their (N, 2, 3) photo -> crop matrices; returns (N, 68, 2)."""
    lm = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
    mat = np.asarray(matrices, np.float64).reshape(-1, 2, 3)
    if len(lm) != len(mat):
        raise InputError(f"{len(lm)} landmark sets but {len(mat)} alignment matrices")
    return np.einsum("nij,npj->npi", mat[:, :, :2], lm) + mat[:, None, :, 2]


def expression_motion(aligned: np.ndarray) -> np.ndarray:
    """(N, 68, 2) aligned landmarks of one clip -> (N, 68, 2) displacement from the clip's median shape, in IODs.

    The inter-ocular distance is the one of the median shape, so every frame of a clip shares
    one unit. An empty clip raises.
    """
    aligned = np.asarray(aligned, np.float64)
    if aligned.ndim != 3 or aligned.shape[1:] != (68, 2) or len(aligned) == 0:
        raise InputError(f"expected (N>0, 68, 2) landmarks, got shape {aligned.shape}")
    median = np.median(aligned, axis=0)
    iod = inter_ocular_distance(median)
    if not np.isfinite(iod) or iod <= 0:
        raise InputError("the clip's median shape has no inter-ocular distance (eyes on top of each other)")
    return (aligned - median) / iod
