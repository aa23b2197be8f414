"""Face tracking between detections: detect every N frames, optical flow on landmarks in between.

Detection + 68 landmarks (:class:`~facehealth.faces.pipeline.FacePipeline`) costs ~50-100x a
Lucas-Kanade step on a 640x480 frame on a CPU, so the full pipeline runs only every
``detect_every`` frames, or sooner when tracking confidence drops (fewer than ``min_tracked``
of the points pass a forward-backward check). Identity continuity: a detection that does not
overlap the tracked box (IoU below ``min_iou``) or whose size jumps by more than ``max_scale_jump``
starts a new track id, and so does one whose face descriptor (optional ``embed``, e.g. dlib's
128-d :class:`~facehealth.models.descriptor.DlibFaceDescriptor`) lies further than
``max_descriptor_distance`` from the track's first one: a person replaced by another in the same
spot is caught too. Two people's frames never share a track (and never share scores).
Only the largest face is tracked; a multi-person tracker is future work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from facehealth.faces.align import align_face
from facehealth.faces.pipeline import FacePipeline
from facehealth.faces.quality import assess_quality
from facehealth.faces.records import BoundingBox, Detection, QualityReport

__all__ = ["TrackedFace", "FaceTracker"]

_LK = {
    "winSize": (21, 21),
    "maxLevel": 3,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03),
}


@dataclass(frozen=True, eq=False)
class TrackedFace:
    """The tracked face in one frame."""

    track_id: int
    box: BoundingBox
    landmarks: np.ndarray  # (68, 2) image pixels
    quality: QualityReport
    aligned_landmarks: np.ndarray  # (68, 2) in the aligned crop (head pose removed), for motion
    detected: bool  # True: from the detector this frame; False: from optical flow
    confidence: float  # fraction of landmarks that passed the forward-backward check (1 on detection)


class FaceTracker:
    """Keeps one face track across frames.

    Args:
        pipeline: the real face pipeline (detector, landmarker, alignment, quality config).
        detect_every: frames between scheduled detections; 10 at 30 fps re-anchors 3x a second.
        min_tracked: re-detect when fewer than this fraction of landmarks track reliably.
        fb_max_px: forward-backward error above which a point's flow is not trusted.
        min_iou / max_scale_jump: identity continuity thresholds (see module docstring).
        embed: optional ``(image, landmarks) -> descriptor`` checked on every detection.
        max_descriptor_distance: 0.6 is dlib's documented same-person threshold.
    """

    def __init__(
        self,
        pipeline: FacePipeline,
        detect_every: int = 10,
        min_tracked: float = 0.7,
        fb_max_px: float = 1.0,
        min_iou: float = 0.3,
        max_scale_jump: float = 1.5,
        embed: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        max_descriptor_distance: float = 0.6,
    ) -> None:
        self.pipeline = pipeline
        self.detect_every = max(int(detect_every), 1)
        self.min_tracked, self.fb_max_px = min_tracked, fb_max_px
        self.min_iou, self.max_scale_jump = min_iou, max_scale_jump
        self.embed, self.max_descriptor_distance = embed, max_descriptor_distance
        self._reference: np.ndarray | None = None  # the current track's first descriptor
        self.detections = 0  # how many frames ran the detector (for benchmarks and events)
        self._next_id = 0
        self._since_detect = 0
        self._prev_grey: np.ndarray | None = None
        self._current: TrackedFace | None = None

    def update(self, frame: np.ndarray) -> TrackedFace | None:
        """Track (or detect) the face in one RGB frame; None when no face is found.

        A frame of another size than the previous one ends the track (re-detection, a new id):
        optical flow needs two frames of one size, and old positions mean nothing in a rescaled
        or cropped picture.
        """
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self._prev_grey is not None and grey.shape != self._prev_grey.shape:
            self.reset()
        tracked = None
        if self._current is not None and self._prev_grey is not None and self._since_detect < self.detect_every:
            tracked = self._flow(frame, grey)
        if tracked is None:
            tracked = self._detect(frame)
        self._prev_grey = grey
        self._current = tracked
        return tracked

    def _detect(self, frame: np.ndarray) -> TrackedFace | None:
        self.detections += 1
        self._since_detect = 0
        result = self.pipeline.process(frame)
        if not result.faces:
            return None
        face = max(result.faces, key=lambda f: f.detection.box.area)
        descriptor = self.embed(frame, face.landmarks) if self.embed is not None else None
        track_id = self._identity(face.detection.box, descriptor)
        aligned = face.aligned.to_crop(face.landmarks)
        return TrackedFace(track_id, face.detection.box, face.landmarks, face.quality, aligned, True, 1.0)

    def _identity(self, box: BoundingBox, descriptor: np.ndarray | None) -> int:
        """Same id when the box (and descriptor) continue the current track; a new id otherwise."""
        prev = self._current
        if prev is not None:
            scale = box.width / max(prev.box.width, 1e-6)
            same_place = box.iou(prev.box) >= self.min_iou and 1 / self.max_scale_jump <= scale <= self.max_scale_jump
            same_face = (
                descriptor is None
                or self._reference is None
                or float(np.linalg.norm(descriptor - self._reference)) <= self.max_descriptor_distance
            )
            if same_place and same_face:
                return prev.track_id
        self._next_id += 1
        self._reference = descriptor
        return self._next_id

    def _flow(self, frame: np.ndarray, grey: np.ndarray) -> TrackedFace | None:
        prev = self._current
        assert prev is not None and self._prev_grey is not None
        p0 = prev.landmarks.astype(np.float32).reshape(-1, 1, 2)
        p1, st, _ = cv2.calcOpticalFlowPyrLK(self._prev_grey, grey, p0, None, **_LK)
        back, st_b, _ = cv2.calcOpticalFlowPyrLK(grey, self._prev_grey, p1, None, **_LK)
        fb = np.linalg.norm((back - p0).reshape(-1, 2), axis=1)
        good = (st.ravel() == 1) & (st_b.ravel() == 1) & (fb < self.fb_max_px)
        confidence = float(good.mean())
        if confidence < self.min_tracked:
            return None  # the caller re-detects
        # Points that failed follow the median motion of the good ones, so the shape stays whole.
        p1 = p1.reshape(-1, 2)
        shift = np.median(p1[good] - p0.reshape(-1, 2)[good], axis=0)
        landmarks = np.where(good[:, None], p1, prev.landmarks + shift).astype(np.float64)
        box = BoundingBox(*(np.asarray(prev.box.as_list()) + np.tile(shift, 2)))
        h, w = frame.shape[:2]
        aligned = align_face(frame, landmarks, self.pipeline.config.align)
        detection = Detection(box, 1.0, None, "tracked")
        quality = assess_quality(detection, landmarks, aligned, (w, h), self.pipeline.config.quality)
        self._since_detect += 1
        return TrackedFace(prev.track_id, box, landmarks, quality, aligned.to_crop(landmarks), False, confidence)

    def reset(self) -> None:
        self._current, self._prev_grey, self._reference = None, None, None
