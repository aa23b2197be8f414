"""A corpus of malformed and unusual media files, generated on the spot.

Used by the reliability tests and ``make reliability`` (and by anyone checking a deployment):
each case is a file plus what must happen to it: ``read`` (decodes to RGB; a face may or may not
be found) or an error class whose message must name the problem. Nothing may crash, hang or
vanish without being counted. The files are tiny except where size is the point, and the
40000 x 40000 decompression bomb is a few hundred kB that claims 1.6 gigapixels in its header.
A video case that must be read also says how many frames, of which sizes, it must give: the
broadcast-style stream whose resolution changes mid-stream (``resolution_change.ts``) has to come
out frame for frame at each frame's own size.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from facehealth.errors import CorruptImageError, FaceHealthError, InputTooLargeError, VideoError

__all__ = ["BadInput", "write_bad_images", "write_bad_videos"]


@dataclass(frozen=True)
class BadInput:
    """One generated file and the outcome it must have."""

    name: str
    path: Path
    expect: type[FaceHealthError] | None  # None: must decode (an (H, W, 3) uint8 image, or the video's frames)
    match: str = ""  # a phrase the error message must contain
    frames: int | None = None  # a video that must decode: exactly this many frames
    sizes: tuple[tuple[int, int], ...] = ()  # ... of these (width, height), in the order they appear


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb_png(path: Path, side: int = 40_000) -> None:
    """A valid 1-bit PNG of ``side`` x ``side`` black pixels, compressed row by row (small on disk)."""
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
    squeeze = zlib.compressobj(9)
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    body = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b""))


def write_bad_images(folder: str | Path, face_photo: str | Path) -> list[BadInput]:
    """Write the image corpus into ``folder``; ``face_photo`` (a real JPEG face) seeds the variants."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    jpeg = Path(face_photo).read_bytes()
    face = Image.open(io.BytesIO(jpeg)).convert("RGB")
    cases: list[BadInput] = []

    def add(name: str, data: bytes | None, expect: type[FaceHealthError] | None, match: str = "") -> Path:
        path = out / name
        if data is not None:
            path.write_bytes(data)
        cases.append(BadInput(name, path, expect, match))
        return path

    def encoded(img: Image.Image, fmt: str, **kw: object) -> bytes:
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        return buf.getvalue()

    add("empty.jpg", b"", CorruptImageError, "empty")
    add("text_named.jpg", b"this is a note, not a photo\n" * 20, CorruptImageError, "not a readable image")
    add("truncated.jpg", jpeg[: len(jpeg) // 3], CorruptImageError, "corrupt or truncated")
    png = encoded(face, "PNG")
    add("truncated.png", png[: len(png) // 2], CorruptImageError, "corrupt or truncated")
    add("png_named.jpg", png, None)  # the wrong extension: the content decides
    add("polyglot.jpg", jpeg + b"PK\x03\x04" + bytes(200), None)  # a JPEG with a ZIP tail
    add("one_pixel.png", encoded(Image.new("RGB", (1, 1), (200, 150, 120)), "PNG"), None)
    add("cmyk.jpg", encoded(face.convert("CMYK"), "JPEG"), None)
    grey16 = (np.asarray(face.convert("L"), np.uint16) * 257).astype(np.uint16)
    add("sixteen_bit.png", encoded(Image.fromarray(grey16), "PNG"), None)
    add("palette.png", encoded(face.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), None)
    frames = [face, face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    add("animated.gif", encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100), None)
    _bomb_png(add("bomb_40000x40000.png", None, InputTooLargeError, "exceeds"))
    return cases


# (width, height, frames) of each segment of the resolution-change stream: a 4:3 start, the same
# aspect at half size (a bitrate switch), then 16:9 (a programme change); 1 s each at 25 fps.
_RESOLUTION_SEGMENTS = ((640, 480, 25), (320, 240, 25), (640, 360, 25))
_SEGMENT_FPS = 25


def write_bad_videos(folder: str | Path, face_photo: str | Path) -> list[BadInput]:
    """Write the video corpus into ``folder``: no decodable stream, a container with no frames, and a
    real face video whose resolution changes mid-stream; ``face_photo`` is the face in it."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    noise = out / "random_bytes.mp4"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    empty = out / "empty.mp4"
    empty.write_bytes(b"")
    changing = out / "resolution_change.ts"
    face = Image.open(face_photo).convert("RGB")
    start, segments = 0, []
    for width, height, count in _RESOLUTION_SEGMENTS:
        segments.append(_ts_segment(face, width, height, count, start))
        start += count
    # Concatenated MPEG-TS is still valid MPEG-TS: a broadcast or HLS stream switching resolution
    # is exactly this, a new sequence header with the new size in the middle of one stream.
    changing.write_bytes(b"".join(segments))
    sizes = tuple((w, h) for w, h, _ in _RESOLUTION_SEGMENTS)
    return [
        BadInput("random_bytes.mp4", noise, VideoError, "not a readable video"),
        BadInput("empty.mp4", empty, VideoError, "empty"),
        BadInput("resolution_change.ts", changing, None, frames=start, sizes=sizes),
    ]


def _ts_segment(face: Image.Image, width: int, height: int, count: int, first_pts: int) -> bytes:
    """``count`` H.264 frames of ``face`` on a ``width`` x ``height`` grey canvas, as one MPEG-TS segment.

    The face fills 80% of the height and sways a few pixels sideways (so a tracker has motion to
    follow). ``first_pts`` continues the previous segment's clock, so timestamps rise across the
    join. No B-frames: with them each segment's first timestamps would overlap the last segment's.
    """
    import av  # a hard dependency, imported here like faces.io does: nothing heavy at import time

    scale = 0.8 * min(height / face.height, width / face.width)
    resized = np.asarray(face.resize((int(face.width * scale), int(face.height * scale)), Image.Resampling.BOX))
    fh, fw = resized.shape[:2]
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=_SEGMENT_FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "28", "preset": "veryfast", "bf": "0"}
        for i in range(count):
            canvas = np.full((height, width, 3), 110, np.uint8)
            x = (width - fw) // 2 + int(round(0.01 * width * np.sin(2 * np.pi * i / count)))
            y = (height - fh) // 2
            canvas[y : y + fh, x : x + fw] = resized
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            frame.pts = first_pts + i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()
