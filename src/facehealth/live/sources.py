"""Frame sources for the live engine: video files, cameras, stream URLs, frames pushed by the caller.

Every source yields :class:`Frame` records (RGB, timestamp in seconds from the start) and counts the
frames it dropped. Nothing queues without bound:

* a **file** is decoded with PyAV (:func:`~facehealth.faces.io.iter_video_frames`, the reader of
  ``faces prepare``) as fast as the engine asks; with ``realtime=True`` it is paced like a camera
  (frames whose time has already passed are skipped and counted as dropped). Not OpenCV: its
  VideoCapture scales every frame to the stream's first size, so a file whose resolution changes
  mid-stream came out silently upscaled (320x240) or stretched (640x360 to 640x480, faces 33%
  taller); PyAV gives each frame at its own size and the engine handles the change;
* a **camera index or URL** is read by a thread into a one-slot buffer: a newer frame replaces an
  unconsumed one (dropped), so the engine always sees the latest frame and latency stays bounded;
* a **push source** is a bounded queue; when the caller pushes faster than the engine consumes,
  the oldest frame is dropped.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facehealth.errors import VideoError
from facehealth.faces.io import iter_video_frames, probe_video

__all__ = ["Frame", "CaptureSource", "FileSource", "PushSource", "open_source"]


@dataclass(frozen=True, eq=False)
class Frame:
    index: int  # position in the source (dropped frames leave gaps)
    timestamp: float  # seconds from the start of the source
    image: np.ndarray  # (H, W, 3) uint8 RGB


class CaptureSource:
    """A cv2.VideoCapture target: a camera index or an RTSP/HTTP URL (:func:`open_source` reads files
    with :class:`FileSource`).

    Args:
        realtime: pace a file at its frame rate, dropping frames the engine is too slow for
            (cameras and URLs are always real time).
    """

    def __init__(self, target: str | int | Path, realtime: bool = False) -> None:
        self.target = target
        self.live = isinstance(target, int) or "://" in str(target)
        self.realtime = realtime or self.live
        self._cap = cv2.VideoCapture(int(target) if isinstance(target, int) else str(target))
        if not self._cap.isOpened():
            raise VideoError(f"cannot open video source '{target}' (a file, a camera index or an rtsp/http URL)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1 <= fps <= 240 else 30.0  # cameras often report 0
        self.dropped = 0

    def __iter__(self) -> Iterator[Frame]:
        return self._live() if self.live else self._file()

    def _file(self) -> Iterator[Frame]:
        start, index = time.perf_counter(), 0
        try:
            while True:
                if self.realtime:  # skip what is already late: decoding it would only make us later
                    while (index + 1) / self.fps < time.perf_counter() - start:
                        if not self._cap.grab():
                            return
                        index += 1
                        self.dropped += 1
                ok, bgr = self._cap.read()
                if not ok:
                    return
                yield Frame(index, index / self.fps, np.ascontiguousarray(bgr[..., ::-1]))
                index += 1
        finally:
            self._cap.release()

    def _live(self) -> Iterator[Frame]:
        slot: queue.Queue[Frame | None] = queue.Queue(maxsize=1)
        stop = threading.Event()
        start = time.perf_counter()

        def reader() -> None:
            index = 0
            while not stop.is_set():
                ok, bgr = self._cap.read()
                if not ok:
                    break
                frame = Frame(index, time.perf_counter() - start, np.ascontiguousarray(bgr[..., ::-1]))
                index += 1
                try:
                    slot.put_nowait(frame)
                except queue.Full:  # the engine has not taken the last one: replace it
                    try:
                        slot.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass
                    slot.put_nowait(frame)
            slot.put(None)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        try:
            while (frame := slot.get()) is not None:
                yield frame
        finally:
            stop.set()
            thread.join(timeout=2)
            self._cap.release()


class FileSource:
    """A video file decoded with PyAV, every frame at its own size (see the module docstring).

    Timestamps are the container's, from the first frame (MPEG-TS streams start at a clock offset).

    Args:
        realtime: pace the file at its frame rate, dropping frames the engine is too slow for.

    Raises:
        VideoError: the file cannot be opened or has no video stream.
    """

    live = False

    def __init__(self, path: str | Path, realtime: bool = False) -> None:
        self.target = Path(path)
        self.realtime = realtime
        fps = probe_video(self.target).fps  # opens the file: an unreadable one fails here, not mid-session
        self.fps = fps if 1 <= fps <= 240 else 30.0
        self.dropped = 0

    def __iter__(self) -> Iterator[Frame]:
        start = first = 0.0
        started = False

        def late(t: float) -> bool:
            """Whether the next frame is already due: decoding this one to RGB would only make us later."""
            nonlocal start, first, started
            if not started:  # the clock starts with the first frame, not with opening the file
                start, first, started = time.perf_counter(), t, True
                return False
            if self.realtime and t - first + 1 / self.fps < time.perf_counter() - start:
                self.dropped += 1
                return True
            return False

        for frame in iter_video_frames(self.target, skip=late):
            yield Frame(frame.index, frame.timestamp - first, frame.image)


class PushSource:
    """Frames pushed by the caller (e.g. a web service receiving them), in a bounded queue.

    Args:
        maxsize: frames held at most; 8 is ~0.25 s at 30 fps of latency before dropping starts.
    """

    def __init__(self, maxsize: int = 8) -> None:
        self._q: queue.Queue[Frame | None] = queue.Queue(maxsize=maxsize)
        self._lock = threading.Lock()
        self._index = 0
        self.dropped = 0

    def push(self, image: np.ndarray, timestamp: float) -> None:
        """Add one RGB frame; drops the oldest waiting frame when the queue is full."""
        with self._lock:
            frame = Frame(self._index, float(timestamp), np.asarray(image))
            self._index += 1
            while True:
                try:
                    self._q.put_nowait(frame)
                    return
                except queue.Full:
                    try:
                        self._q.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass

    def close(self) -> None:
        """End the stream (the engine finishes after the frames already queued)."""
        with self._lock:
            while True:
                try:
                    self._q.put_nowait(None)
                    return
                except queue.Full:
                    self._q.get_nowait()
                    self.dropped += 1

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self._q.get()) is not None:
            yield frame


def open_source(source: str | int | Path, realtime: bool = False) -> CaptureSource | FileSource:
    """A file path, an rtsp/http URL, or a camera index (an int, or a string of digits)."""
    if isinstance(source, str) and source.isdigit():
        source = int(source)
    if isinstance(source, (str, Path)) and "://" not in str(source):
        if not Path(source).exists():
            raise VideoError(f"video file '{source}' does not exist")
        return FileSource(source, realtime=realtime)
    return CaptureSource(source, realtime=realtime)
