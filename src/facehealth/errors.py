"""One exception hierarchy for the whole package.

Every error a user can cause (bad file, bad table, bad config) is a subclass of
:class:`FaceHealthError`, so the CLI and the service can turn it into a clear
message or an HTTP status in one place instead of showing a traceback.
"""

from __future__ import annotations

__all__ = [
    "FaceHealthError",
    "ConfigError",
    "InputError",
    "CorruptImageError",
    "UnsupportedInputError",
    "InputTooLargeError",
    "VideoError",
    "OutputError",
    "NoFaceError",
    "QualityError",
    "ModelNotFoundError",
    "SchemaError",
    "WorkerError",
    "CheckpointVersionError",
    "ModelFormatError",
    "CorruptFileError",
    "SplitMismatchError",
]


class FaceHealthError(Exception):
    """Base class of every error facehealth raises on purpose."""


class ConfigError(FaceHealthError, ValueError):
    """A configuration file or value is invalid (unknown key, wrong type, bad value)."""


class InputError(FaceHealthError, ValueError):
    """An input file or array cannot be used."""


class CorruptImageError(InputError):
    """The file exists but is empty, truncated or not a decodable image."""


class UnsupportedInputError(InputError):
    """The file kind or pixel format is not supported."""


class InputTooLargeError(InputError):
    """The input exceeds a size limit (pixels or bytes) set to protect memory."""


class VideoError(InputError):
    """A video cannot be opened or decoded."""


class OutputError(FaceHealthError, OSError):
    """An output file cannot be written (folder not writable, disk full, a suffix that is no image format)."""


class NoFaceError(FaceHealthError):
    """No usable face was found where one was required."""


class QualityError(FaceHealthError):
    """A face was found but failed the quality gate; ``reasons`` says why."""

    def __init__(self, message: str, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reasons = reasons


class ModelNotFoundError(FaceHealthError, FileNotFoundError):
    """A model file (detector, landmarker, checkpoint) is not where it should be."""


class SchemaError(FaceHealthError, ValueError):
    """A cohort table does not follow the documented schema."""


class WorkerError(FaceHealthError, RuntimeError):
    """A worker process died (e.g. a script that spawns workers without a ``__main__`` guard)."""


class CheckpointVersionError(ConfigError):
    """A checkpoint's metadata was written by another (older or newer) facehealth."""


class ModelFormatError(ConfigError):
    """A model file is corrupt, or is not one facehealth wrote (e.g. an ONNX graph without its metadata)."""


class CorruptFileError(ModelFormatError):
    """A file does not match the SHA-256 recorded when it was written (truncated, overwritten or damaged)."""


class SplitMismatchError(SchemaError):
    """Evaluation would score subjects the model was trained or validated on as held out."""
