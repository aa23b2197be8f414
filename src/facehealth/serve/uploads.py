"""Checking an upload before anything decodes it: size, type by content, pixel count."""

from __future__ import annotations

import io

import numpy as np
from fastapi import UploadFile

from facehealth.errors import CorruptImageError, InputTooLargeError, UnsupportedInputError
from facehealth.faces.io import decode_image_file

__all__ = ["read_upload", "sniff_image_type", "sniff_video_type", "decode_image"]

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


def sniff_video_type(data: bytes) -> str:
    """The video container from its magic bytes (never from the file name or the client's content type)."""
    if data[4:8] == b"ftyp":
        return "mov" if data[8:10] == b"qt" else "mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska and WebM
        return "webm"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "avi"
    raise UnsupportedInputError("the upload is not an MP4, MOV, WebM or AVI video (checked by its content)")


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
    kind = sniff_image_type(data)  # by content, not by file name: Pillow may only try that format
    return decode_image_file(io.BytesIO(data), f"{name} ({kind})", max_pixels, formats=[kind.upper()])
