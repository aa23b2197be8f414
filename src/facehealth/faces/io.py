"""Reading images and videos into RGB uint8 arrays, and writing them back.

Images: any format Pillow decodes (JPEG, PNG, WebP, TIFF, BMP ...), any mode
(RGBA, LA, P, L, I;16, I, F), EXIF orientation applied. Videos: decoded with
PyAV one frame at a time, so memory does not grow with the video's length, each
frame at its own size (a broadcast stream may change resolution mid-stream).
Writing: :func:`write_image` (every image facehealth writes) and :func:`write_video`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facehealth.errors import (
    CorruptImageError,
    InputError,
    InputTooLargeError,
    OutputError,
    UnsupportedInputError,
    VideoError,
)

if TYPE_CHECKING:
    from av.container import InputContainer

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "MAX_PIXELS",
    "VideoFrame",
    "VideoInfo",
    "media_kind",
    "read_image",
    "decode_image_file",
    "to_rgb_array",
    "probe_video",
    "expected_sampled_frames",
    "iter_video_frames",
    "write_image",
    "write_video",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
# .ts/.mts/.m2ts: MPEG transport streams (broadcast and HLS recordings, AVCHD camcorders).
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v", ".ts", ".mts", ".m2ts"})
# 100 megapixels: larger than any camera photo we expect, small enough that a
# crafted "decompression bomb" cannot exhaust memory.
MAX_PIXELS = 100_000_000


def media_kind(path: str | Path) -> str:
    """Return ``"image"`` or ``"video"`` from the file suffix.

    Raises:
        UnsupportedInputError: the suffix is neither.
    """
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    allowed = ", ".join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))
    raise UnsupportedInputError(f"{path}: unsupported file type '{suffix or '(none)'}'; allowed: {allowed}")


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array, EXIF orientation applied.

    Raises:
        CorruptImageError: the file is missing, empty, truncated or not an image.
        InputTooLargeError: the image has more than ``max_pixels`` pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise CorruptImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CorruptImageError(f"{path}: the file is empty")
    return decode_image_file(path, str(path), max_pixels)


def decode_image_file(
    source: str | Path | BinaryIO, name: str, max_pixels: int = MAX_PIXELS, formats: list[str] | None = None
) -> np.ndarray:
    """Decode an image file or file-like object (an upload) to RGB, checking the pixel count first.

    The size is read from the header before any pixel is decoded, so a decompression bomb is
    refused without being expanded. ``name`` is what error messages call the input.

    Raises:
        CorruptImageError: truncated data or not an image (of ``formats``, when given).
        InputTooLargeError: more than ``max_pixels`` pixels.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=formats) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise InputTooLargeError(f"{name}: {w}x{h} pixels exceeds the limit of {max_pixels:,}")
                img.load()
                return to_rgb_array(ImageOps.exif_transpose(img))
    except InputTooLargeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputTooLargeError(f"{name}: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise CorruptImageError(f"{name}: not a readable image (format not recognised)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow raises OSError for truncated data and SyntaxError for some bad headers.
        raise CorruptImageError(f"{name}: the image data is corrupt or truncated ({exc})") from exc


def to_rgb_array(img: Image.Image | np.ndarray) -> np.ndarray:
    """Convert a Pillow image or an array of any common mode to (H, W, 3) uint8 RGB.

    Alpha is composited onto white (a transparent background then reads as a
    plain studio backdrop rather than black); 16-bit and float images are
    rescaled by their own range.
    """
    if isinstance(img, np.ndarray):
        return _array_to_rgb(img)
    mode = img.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _array_to_rgb(np.asarray(img))
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img)


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise UnsupportedInputError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float64)
        if arr.size and np.issubdtype(arr.dtype, np.floating) and np.nanmax(arr) <= 1.0 and np.nanmin(arr) >= 0.0:
            arr = arr * 255.0
        elif arr.size and np.nanmax(arr) > 255.0:
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            arr = (arr - lo) * (255.0 / max(hi - lo, 1e-12))
        arr = np.clip(np.nan_to_num(arr), 0, 255).round().astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(arr)


def write_image(path: str | Path, rgb: np.ndarray, *, jpeg_quality: int | None = None) -> Path:
    """Write an (H, W, 3) uint8 RGB array to ``path`` (format from the suffix; folders created).

    Args:
        jpeg_quality: 0-100 for a ``.jpg``/``.jpeg`` file; ``None`` is OpenCV's default (95).

    Raises:
        InputError: ``rgb`` is not an (H, W, 3) uint8 array.
        OutputError: the file could not be written (OpenCV's ``imwrite`` reports failure by its
            return value, not by an exception, so an unchecked call loses files silently).
    """
    import cv2

    path = Path(path)
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"{path}: expected an (H, W, 3) uint8 RGB image to write, got {rgb.dtype} {rgb.shape}")
    params = []
    if jpeg_quality is not None and path.suffix.lower() in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        written = cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    except (OSError, cv2.error) as exc:  # cv2.error: e.g. no writer for the suffix
        raise OutputError(f"{path}: could not write the image ({exc})") from exc
    if not written:
        raise OutputError(f"{path}: could not write the image (is the folder writable and the suffix an image format?)")
    return path


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """One decoded frame: its index in the stream, time in seconds, RGB pixels."""

    index: int
    timestamp: float
    image: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    width: int  # of the stream's first frames: a stream can change size later (each frame says its own)
    height: int
    fps: float
    frames: int | None  # container's frame count; None when it does not say
    duration: float | None  # seconds


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's size, frame rate and length without decoding it."""
    av = _import_av()
    container = _open_container(av, Path(path))
    try:
        stream = container.streams.video[0]
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        duration = float(stream.duration * stream.time_base) if stream.duration else None
        if duration is None and container.duration:
            duration = container.duration / 1_000_000
        frames = int(stream.frames) if stream.frames else None
        return VideoInfo(stream.codec_context.width, stream.codec_context.height, fps, frames, duration)
    finally:
        container.close()


def expected_sampled_frames(
    info: VideoInfo, fps: float | None = None, every_n: int = 1, max_frames: int | None = None
) -> int | None:
    """How many frames :func:`iter_video_frames` will yield with these settings (for progress bars).

    An estimate from the container's header: None when it gives neither a duration nor a frame count.
    """
    if fps is not None:
        n = math.ceil(info.duration * fps) if info.duration else None
    else:
        n = math.ceil(info.frames / every_n) if info.frames else None
    if n is not None and max_frames is not None:
        n = min(n, max_frames)
    return n


def iter_video_frames(
    path: str | Path,
    fps: float | None = None,
    every_n: int = 1,
    max_frames: int | None = None,
    skip: Callable[[float], bool] | None = None,
) -> Iterator[VideoFrame]:
    """Stream the frames of a video, optionally subsampled.

    Args:
        path: video file (mp4, avi, mov, webm, mkv).
        fps: keep about this many frames per second (by timestamp); ``None``
            keeps every ``every_n``-th decoded frame instead.
        every_n: keep frames whose index is a multiple of this (used when ``fps`` is None).
        max_frames: stop after yielding this many frames.
        skip: called with each kept frame's timestamp before its pixels are converted; True
            drops it. A paced reader that is behind drops frames this way: the RGB conversion
            is most of a frame's cost (~7 ms of a small MJPG frame's 7.5 ms on 2 busy cores).

    Yields:
        :class:`VideoFrame` one at a time, each at its own size (a stream may change resolution
        mid-stream: callers that keep state between frames must check); frames are not retained.

    Raises:
        VideoError: the file cannot be opened or has no video stream.
    """
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if every_n < 1:
        raise ValueError(f"every_n must be >= 1, got {every_n}")
    av = _import_av()
    path = Path(path)
    container = _open_container(av, path)
    try:
        if not container.streams.video:
            raise VideoError(f"{path}: the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate) if stream.average_rate else 25.0
        next_time = 0.0
        yielded = 0
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else index / rate
                if fps is not None:
                    # Keep the first frame at or just before each 1/fps tick; "just before" is
                    # under half a frame, so each tick gets exactly one frame despite rounding
                    # in container timestamps.
                    tolerance = 0.49 / rate
                    if t < next_time - tolerance:
                        continue
                    next_time = (math.floor((t + tolerance) * fps) + 1) / fps
                elif index % every_n:
                    continue
                if skip is not None and skip(t):
                    continue
                yield VideoFrame(index, t, frame.to_ndarray(format="rgb24"))
                yielded += 1
                if max_frames is not None and yielded >= max_frames:
                    return
        except av.error.FFmpegError as exc:
            raise VideoError(f"{path}: decoding failed after {yielded} frames ({exc})") from exc
    finally:
        container.close()


_CODEC_BY_SUFFIX = {
    ".mp4": "libx264",
    ".m4v": "libx264",
    ".mov": "libx264",
    ".mkv": "libx264",
    ".avi": "mpeg4",
    ".webm": "libvpx-vp9",
}


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 25.0, quality: int = 23) -> int:
    """Encode RGB frames into a video file (codec chosen by suffix); returns the frame count.

    Frames are consumed one at a time, so a generator keeps memory flat. Sizes
    are rounded down to even numbers, as H.264 with yuv420p requires.
    """
    av = _import_av()
    path = Path(path)
    codec = _CODEC_BY_SUFFIX.get(path.suffix.lower())
    if codec is None:
        raise UnsupportedInputError(f"{path}: cannot write '{path.suffix}'; use one of {sorted(_CODEC_BY_SUFFIX)}")
    count = 0
    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            rgb = to_rgb_array(frame)
            if stream is None:
                h, w = (rgb.shape[0] // 2) * 2, (rgb.shape[1] // 2) * 2
                stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                if codec == "libx264":
                    stream.options = {"crf": str(quality), "preset": "veryfast"}
            rgb = np.ascontiguousarray(rgb[: stream.height, : stream.width])
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
            count += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return count


def _import_av() -> ModuleType:
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a hard dependency
        raise UnsupportedInputError("reading videos needs PyAV: pip install av") from exc
    return av


def _open_container(av: ModuleType, path: Path) -> InputContainer:
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{path}: not a readable video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: the file has no video stream")
    return container
