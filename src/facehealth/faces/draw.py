"""Drawing detections on photos, for ``faces detect --draw`` and reports."""

from __future__ import annotations

import cv2
import numpy as np

from facehealth.faces.records import FrameResult

__all__ = ["draw_faces"]

_PASS = (40, 200, 60)
_FAIL = (230, 50, 40)


def draw_faces(image: np.ndarray, result: FrameResult) -> np.ndarray:
    """Return a copy of the RGB ``image`` with boxes, 68 landmarks and quality verdicts drawn.

    Green boxes passed the quality gate; red ones failed, labelled with the first reason.
    """
    out = image.copy()
    thickness = max(1, round(max(out.shape[:2]) / 500))
    for i, face in enumerate(result.faces):
        colour = _PASS if face.quality.passed else _FAIL
        b = face.detection.box
        cv2.rectangle(out, (round(b.x0), round(b.y0)), (round(b.x1), round(b.y1)), colour, thickness)
        radius = max(1, round(b.width / 90))
        for x, y in face.landmarks:
            cv2.circle(out, (round(x), round(y)), radius, (255, 230, 0), -1, lineType=cv2.LINE_AA)
        label = f"#{i} {face.detection.score:.2f}" + ("" if face.quality.passed else f" {face.quality.reasons[0]}")
        scale = max(0.4, b.width / 250)
        cv2.putText(
            out,
            label,
            (round(b.x0), max(12, round(b.y0) - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            colour,
            thickness,
            cv2.LINE_AA,
        )
    return out
