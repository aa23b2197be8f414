"""The per-image face pipeline: detect -> landmarks -> align -> quality gate.

``FacePipeline`` holds the loaded models (create one per process) and turns
an image or every sampled frame of a video into :class:`FrameResult` records.
Every face or frame that is not kept is counted by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from facehealth.faces.align import align_face
from facehealth.faces.config import FacesConfig
from facehealth.faces.detect import FaceDetector, create_detector
from facehealth.faces.draw import draw_faces
from facehealth.faces.io import iter_video_frames, read_image, to_rgb_array, write_image
from facehealth.faces.landmarks import DlibLandmarker
from facehealth.faces.quality import assess_quality
from facehealth.faces.records import Detection, Face, FrameResult, Reason

__all__ = ["FacePipeline", "count_rejections"]


class FacePipeline:
    """Detect, landmark, align and quality-check faces.

    Args:
        config: pipeline settings; defaults suit photos and webcam video.
        detector: an object following :class:`FaceDetector`; default from ``config.detector``.
        landmarker: default dlib's 68-point predictor.
    """

    def __init__(
        self,
        config: FacesConfig | None = None,
        detector: FaceDetector | None = None,
        landmarker: DlibLandmarker | None = None,
    ) -> None:
        self.config = config or FacesConfig()
        self.detector = detector or _detector_from_config(self.config)
        self.landmarker = landmarker or DlibLandmarker(self.config.landmarks_model)

    def process(
        self,
        image: np.ndarray,
        source: str = "<array>",
        frame_index: int | None = None,
        timestamp: float | None = None,
    ) -> FrameResult:
        """Run the pipeline on one RGB image (any array mode is converted first)."""
        image = to_rgb_array(image)
        h, w = image.shape[:2]
        detections = self.detector.detect(image)
        rejected: Counter[str] = Counter()
        kept = self._apply_policy(detections, rejected)
        faces = tuple(self._face(image, det) for det in kept)
        return FrameResult(source, frame_index, timestamp, (w, h), faces, len(detections), dict(rejected))

    def process_file(self, path: str | Path, draw_to: str | Path | None = None) -> FrameResult:
        """Read an image file and run the pipeline on it (read errors raise ``InputError``).

        Args:
            draw_to: also write the photo with every kept face's box, landmarks and quality
                verdict drawn on it (:func:`~facehealth.faces.draw.draw_faces`) to this file.

        Raises:
            InputError: the file cannot be read.
            OutputError: ``draw_to`` cannot be written.
        """
        image = read_image(path)
        result = self.process(image, source=str(path))
        if draw_to is not None:
            write_image(draw_to, draw_faces(image, result))
        return result

    def process_video(self, path: str | Path) -> Iterator[FrameResult]:
        """Stream the sampled frames of a video through the pipeline, one at a time."""
        v = self.config.video
        for frame in iter_video_frames(path, fps=v.fps, every_n=v.every_n, max_frames=v.max_frames):
            yield self.process(frame.image, str(path), frame.index, frame.timestamp)

    def _apply_policy(self, detections: list[Detection], rejected: Counter[str]) -> list[Detection]:
        if not detections:
            rejected[Reason.NO_FACE] += 1
            return []
        if len(detections) == 1 or self.config.multi_face == "all":
            return list(detections)
        if self.config.multi_face == "reject":
            rejected[Reason.MULTIPLE_FACES] += 1
            return []
        largest = max(detections, key=lambda d: d.box.area)
        rejected[Reason.NOT_SELECTED] += len(detections) - 1
        return [largest]

    def _face(self, image: np.ndarray, detection: Detection) -> Face:
        h, w = image.shape[:2]
        landmarks = self.landmarker.predict(image, detection.box, detection.detector)
        aligned = align_face(image, landmarks, self.config.align)
        quality = assess_quality(detection, landmarks, aligned, (w, h), self.config.quality)
        return Face(detection, landmarks, quality, aligned)


def count_rejections(result: FrameResult) -> Counter[str]:
    """Frame-level rejections plus the primary reason of each face that failed the gate."""
    counts: Counter[str] = Counter(result.rejected)
    for face in result.faces:
        if not face.quality.passed:
            counts[face.quality.reasons[0]] += 1
    return counts


def _detector_from_config(config: FacesConfig) -> FaceDetector:
    d = config.detector
    if d.name == "blazeface":
        return create_detector("blazeface", model_path=d.model_path, min_score=d.min_score, tile=d.tile)
    if d.name == "dlib_hog":
        return create_detector("dlib_hog", upsample=d.upsample)
    if d.name == "haar":
        return create_detector("haar", cascade_path=d.model_path)
    return create_detector(d.name)
