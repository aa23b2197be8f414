"""BlazeFace full-range face detector (MediaPipe's model), run with LiteRT.

The model (``face_detection_full_range_sparse.tflite``, Apache-2.0) takes a
192x192 RGB image scaled to [-1, 1] and predicts, for each of 48x48 anchors
(stride 4), a score logit and 16 regression values: box centre, box size and
six keypoints (eyes, nose tip, mouth centre, tragions), in input pixels
relative to the anchor. Decoding is ours: anchors, sigmoid, weighted NMS.

Reference: V. Bazarevsky et al., "BlazeFace: Sub-millisecond Neural Face
Detection on Mobile GPUs", CVPR Workshops 2019; decoding parameters from
MediaPipe's ``face_detection_full_range.pbtxt`` (stride 4, offset 0.5, one
anchor per cell, fixed anchor size).

Faces are found down to roughly 8-10 px in the 192-px input. Wide or tall
images are therefore also scanned in overlapping square tiles so a small face
in a full-body photo keeps enough pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facehealth.faces.model_files import BLAZEFACE_FULL_SPARSE, find_model_file
from facehealth.faces.records import BoundingBox, Detection

__all__ = ["BlazeFaceDetector", "weighted_nms"]

_INPUT = 192
_STRIDE = 4
# Tile only photos longer than 3:2. On 640x480 (4:3) photos with faces 40-200 px
# wide the whole-image pass alone missed none of 100 (benchmarks/preprocess.py
# images) and tiling would triple the detector's time.
_TILE_ASPECT = 1.5


@dataclass(frozen=True)
class _Letterbox:
    scale: float  # input pixels per original pixel
    pad_x: float
    pad_y: float


def _anchors() -> np.ndarray:
    """(2304, 2) anchor centres in [0, 1] input coordinates, row-major over the 48x48 grid."""
    cells = _INPUT // _STRIDE
    centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


class BlazeFaceDetector:
    """MediaPipe BlazeFace (full range, sparse) behind the detector interface.

    Args:
        model_path: ``.tflite`` file; default: the copy shipped in an installed package.
        min_score: keep detections at or above this confidence.
        iou_threshold: boxes overlapping more than this are merged (weighted NMS).
        tile: also scan overlapping square tiles of images longer than 3:2.
        num_threads: LiteRT interpreter threads; 1 suits one-process-per-core batch work.
    """

    name = "blazeface"

    def __init__(
        self,
        model_path: str | Path | None = None,
        min_score: float = 0.6,
        iou_threshold: float = 0.3,
        tile: bool = True,
        num_threads: int = 1,
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.model_path = find_model_file(BLAZEFACE_FULL_SPARSE, model_path)
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.tile = tile
        self._interpreter = Interpreter(model_path=str(self.model_path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        inp = self._interpreter.get_input_details()[0]
        if tuple(inp["shape"][1:3]) != (_INPUT, _INPUT):
            raise ValueError(f"{self.model_path}: expected a {_INPUT}x{_INPUT} input, got {inp['shape']}")
        self._input_index = inp["index"]
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._box_index, self._score_index = outputs[0]["index"], outputs[1]["index"]
        self._anchors = _anchors()

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detect faces in an (H, W, 3) uint8 RGB image; boxes in its pixels, best first."""
        h, w = image.shape[:2]
        boxes, scores = self._run_region(image, 0, 0, w, h, interior=None)
        tiles: list[tuple[int, int, int]] = []
        if self.tile and max(w, h) > _TILE_ASPECT * min(w, h):
            tiles = _square_tiles(w, h)
        elif self.tile and len(scores) == 0 and min(w, h) >= 2 * _INPUT:
            # Nothing found at full view: look again at ~1.7x zoom before giving up
            # (costs time only on photos without a detectable face).
            tiles = _grid_tiles(w, h, side=int(0.6 * min(w, h)))
        for x0, y0, side in tiles:
            interior = (x0 > 0, y0 > 0, x0 + side < w, y0 + side < h)
            b, s = self._run_region(image, x0, y0, side, side, interior)
            boxes = np.concatenate([boxes, b])
            scores = np.concatenate([scores, s])
        keep_boxes, keep_scores = weighted_nms(boxes, scores, self.iou_threshold)
        return [
            Detection(
                box=BoundingBox(*map(float, b[:4])),
                score=float(s),
                keypoints=b[4:].reshape(6, 2).astype(np.float64),
                detector=self.name,
            )
            for b, s in zip(keep_boxes, keep_scores)
        ]

    def _run_region(
        self, image: np.ndarray, x0: int, y0: int, w: int, h: int, interior: tuple[bool, bool, bool, bool] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on one region; return (N, 16) boxes+keypoints in image pixels and (N,) scores.

        Rows are ``x0, y0, x1, y1`` then six ``x, y`` keypoints. Detections that touch
        an edge of the region that lies *inside* the image (``interior`` flags:
        left, top, right, bottom) are dropped: a neighbouring tile sees that face whole.
        """
        region = image[y0 : y0 + h, x0 : x0 + w]
        tensor, lb = _letterbox(region)
        self._interpreter.set_tensor(self._input_index, tensor[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._box_index)[0]  # (2304, 16)
        logits = self._interpreter.get_tensor(self._score_index)[0, :, 0]  # (2304,)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))
        mask = scores >= self.min_score
        if not mask.any():
            return np.zeros((0, 16), np.float32), np.zeros((0,), np.float32)
        raw, scores, anchors = raw[mask], scores[mask], self._anchors[mask] * _INPUT
        cx, cy = raw[:, 0] + anchors[:, 0], raw[:, 1] + anchors[:, 1]
        half_w, half_h = raw[:, 2] / 2.0, raw[:, 3] / 2.0
        kp = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        out = np.concatenate(
            [np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1), kp.reshape(-1, 12)], axis=1
        )
        # Undo the letterbox: input pixels -> region pixels -> image pixels.
        out[:, 0::2] = (out[:, 0::2] - lb.pad_x) / lb.scale + x0
        out[:, 1::2] = (out[:, 1::2] - lb.pad_y) / lb.scale + y0
        valid = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
        if interior is not None:
            margin = 0.02 * max(w, h)
            left, top, right, bottom = interior
            valid &= ~(left & (out[:, 0] < x0 + margin))
            valid &= ~(top & (out[:, 1] < y0 + margin))
            valid &= ~(right & (out[:, 2] > x0 + w - margin))
            valid &= ~(bottom & (out[:, 3] > y0 + h - margin))
        return out[valid].astype(np.float32), scores[valid].astype(np.float32)


def _letterbox(region: np.ndarray) -> tuple[np.ndarray, _Letterbox]:
    """Resize keeping the aspect ratio and pad to 192x192; return a float32 tensor in [-1, 1]."""
    h, w = region.shape[:2]
    scale = _INPUT / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(region, (nw, nh), interpolation=interp)
    pad_x, pad_y = (_INPUT - nw) // 2, (_INPUT - nh) // 2
    canvas = np.zeros((_INPUT, _INPUT, 3), np.float32)
    canvas[pad_y : pad_y + nh, pad_x : pad_x + nw] = resized.astype(np.float32) / 127.5 - 1.0
    # Padding is black in [-1, 1] as in MediaPipe's ImageToTensor with zero border.
    canvas[:pad_y] = canvas[pad_y + nh :] = -1.0
    canvas[:, :pad_x] = canvas[:, pad_x + nw :] = -1.0
    return canvas, _Letterbox(scale, pad_x, pad_y)


def _square_tiles(w: int, h: int, overlap: float = 0.25) -> list[tuple[int, int, int]]:
    """Square tiles of the image's short side covering its long side with >= ``overlap``."""
    side = min(w, h)
    length = max(w, h)
    step = max(1, int(side * (1.0 - overlap)))
    starts = list(range(0, max(length - side, 0) + 1, step))
    if starts[-1] + side < length:
        starts.append(length - side)
    if w >= h:
        return [(s, 0, side) for s in starts]
    return [(0, s, side) for s in starts]


def _grid_tiles(w: int, h: int, side: int, overlap: float = 0.25) -> list[tuple[int, int, int]]:
    """Square tiles of ``side`` px on a grid covering the whole image with >= ``overlap``."""

    def starts(length: int) -> list[int]:
        step = max(1, int(side * (1.0 - overlap)))
        out = list(range(0, max(length - side, 0) + 1, step))
        if out[-1] + side < length:
            out.append(length - side)
        return out

    return [(x, y, side) for y in starts(h) for x in starts(w)]


def weighted_nms(rows: np.ndarray, scores: np.ndarray, iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted non-maximum suppression (MediaPipe's "WEIGHTED" overlap handling).

    Each cluster of boxes overlapping the current best by more than
    ``iou_threshold`` is replaced by the score-weighted mean of its rows
    (box and keypoints); the cluster keeps its best score. Returns rows and
    scores sorted best first.
    """
    if len(rows) == 0:
        return rows, scores
    order = np.argsort(-scores, kind="stable")
    rows, scores = rows[order], scores[order]
    remaining = np.ones(len(rows), bool)
    out_rows, out_scores = [], []
    areas = (rows[:, 2] - rows[:, 0]) * (rows[:, 3] - rows[:, 1])
    for i in range(len(rows)):
        if not remaining[i]:
            continue
        ix = np.clip(np.minimum(rows[i, 2], rows[:, 2]) - np.maximum(rows[i, 0], rows[:, 0]), 0, None)
        iy = np.clip(np.minimum(rows[i, 3], rows[:, 3]) - np.maximum(rows[i, 1], rows[:, 1]), 0, None)
        inter = ix * iy
        iou = inter / np.maximum(areas[i] + areas - inter, 1e-9)
        cluster = remaining & (iou > iou_threshold)
        cluster[i] = True
        weights = scores[cluster][:, None]
        out_rows.append((rows[cluster] * weights).sum(0) / weights.sum())
        out_scores.append(scores[i])
        remaining &= ~cluster
    return np.stack(out_rows), np.asarray(out_scores, np.float32)
