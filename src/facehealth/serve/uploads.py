"""Checking an uploaded image before anything decodes it: size, type by content, pixel count."""

from __future__ import annotations

import io
import warnings

import numpy as np
from fastapi import UploadFile
from PIL import Image, ImageOps, UnidentifiedImageError

from facehealth.errors import CorruptImageError, InputTooLargeError, UnsupportedInputError
from facehealth.faces.io import to_rgb_array

__all__ = ["read_upload", "sniff_image_type", "decode_image"]

_CHUNK = 1 << 20


def sniff_image_type(data: bytes) -> str:
    """The image type from its magic bytes (never from the file name or the client's content type)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise UnsupportedInputError("the upload is not a JPEG, PNG or WebP image (checked by its content)")


async def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """The upload's bytes, refusing more than ``max_bytes`` without reading the rest."""
    chunks, size = [], 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise InputTooLargeError(f"{upload.filename}: the upload exceeds the limit of {max_bytes:,} bytes")
        chunks.append(chunk)
    if size == 0:
        raise CorruptImageError(f"{upload.filename}: the upload is empty")
    return b"".join(chunks)


def decode_image(data: bytes, max_pixels: int, name: str = "upload") -> np.ndarray:
    """An (H, W, 3) uint8 RGB array; the pixel count is checked from the header before decoding."""
    kind = sniff_image_type(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind.upper()]) as img:
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
        raise CorruptImageError(f"{name}: not a readable {kind} image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImageError(f"{name}: the {kind} data is corrupt or truncated ({exc})") from exc
