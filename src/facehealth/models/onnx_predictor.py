"""Prediction with ONNX Runtime from a ``.onnx`` file written by ``facehealth export onnx``.

    >>> model = facehealth.load("model.onnx")  # doctest: +SKIP
    >>> model.predict("selfie.jpg").values["age"]  # doctest: +SKIP

:class:`OnnxFaceHealthModel` is a :class:`~facehealth.models.predictor.FaceHealthModel` whose heads
run in ONNX Runtime instead of torch: the face pipeline, the averaging over faces, the calibrated
intervals and the synthetic-data warning are the base class's, driven by the
:class:`CheckpointMeta` stored in the file (:mod:`facehealth.models.onnx_export`), so a
prediction has the same fields as one from the checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from facehealth.errors import ConfigError, ModelFormatError, ModelNotFoundError
from facehealth.models.checkpoint import CheckpointMeta
from facehealth.models.onnx_export import FORMAT_KEY, FORMAT_VERSION, INPUT_NAME, META_KEY, WEIGHTS_KEY
from facehealth.models.predictor import FaceHealthModel, pixel_batch

__all__ = ["OnnxFaceHealthModel", "load_onnx", "read_onnx_meta"]

_HINT = "export a checkpoint with `facehealth export onnx --model checkpoint-best.safetensors --out model.onnx`"


class OnnxFaceHealthModel(FaceHealthModel):
    """A fine-tuned image model exported to ONNX, with the face pipeline its checkpoint records.

    ``model`` is None (there is no torch module); ``session`` is the ONNX Runtime session and
    ``weights`` says whether it holds float32 or int8 weights.
    """

    def __init__(self, session: Any, meta: CheckpointMeta, weights: str, device: str = "cpu") -> None:
        self.model = None
        self.session = session
        self.weights = weights
        self._init_faces(meta, device)
        self._names = [t.name for t in meta.tasks]

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> OnnxFaceHealthModel:
        return load_onnx(path, device)

    def _score(
        self, crops: list[np.ndarray], times: list[float], shapes: list[np.ndarray], markers: object = None
    ) -> dict[str, np.ndarray]:
        """Per-crop outputs (N, k) per head; the export refuses subject/video models, so crops are images."""
        outputs = self.session.run(self._names, {INPUT_NAME: pixel_batch(crops)})
        return dict(zip(self._names, outputs))


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ConfigError(
                f"device {device!r}: this onnxruntime has no CUDA provider (has {ort.get_available_providers()}); "
                "install onnxruntime-gpu or use device 'cpu'"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise ConfigError(f"device {device!r}: an ONNX model runs on 'cpu' or 'cuda'")


def _session(path: Path, device: str, threads: int | None) -> Any:
    import onnxruntime as ort

    if not path.is_file():
        raise ModelNotFoundError(f"ONNX model not found: {path}")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: ORT's warnings about unused initialisers are noise here
    try:
        return ort.InferenceSession(str(path), options, providers=_providers(device))
    except (ConfigError, ModelNotFoundError):
        raise
    except Exception as exc:  # ORT's pybind errors (InvalidProtobuf, Fail, ...) share no base but Exception
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFormatError(f"{path}: not a readable ONNX model ({first}); {_HINT}") from exc


def read_onnx_meta(session: Any, source: str) -> tuple[CheckpointMeta, str]:
    """The checkpoint metadata and weight type an exported file carries; checks the graph's contract.

    Raises:
        ModelFormatError: an ONNX graph facehealth did not write (no metadata, other inputs/outputs).
        CheckpointVersionError: written by another version of facehealth.
    """
    props = session.get_modelmeta().custom_metadata_map
    if META_KEY not in props:
        raise ModelFormatError(f"{source}: an ONNX model, but not one written by facehealth (no {META_KEY!r}); {_HINT}")
    if props.get(FORMAT_KEY) != FORMAT_VERSION:
        raise ModelFormatError(
            f"{source}: ONNX format {props.get(FORMAT_KEY)!r} where this facehealth reads {FORMAT_VERSION!r}; "
            "re-export it from its checkpoint"
        )
    try:
        data = json.loads(props[META_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{source}: its {META_KEY!r} metadata is not valid JSON ({exc})") from exc
    meta = CheckpointMeta.from_json(data, source)
    inputs = [i.name for i in session.get_inputs()]
    outputs = {o.name for o in session.get_outputs()}
    missing = [t.name for t in meta.tasks if t.name not in outputs]
    if inputs != [INPUT_NAME] or missing or meta.input != "image":
        raise ModelFormatError(
            f"{source}: the graph does not match its metadata (inputs {inputs}, missing heads {missing}, "
            f"input kind {meta.input!r}); re-export it from its checkpoint"
        )
    return meta, props.get(WEIGHTS_KEY, "float32")


def load_onnx(path: str | Path, device: str = "cpu", threads: int | None = None) -> OnnxFaceHealthModel:
    """Load an exported ``.onnx`` model for prediction (what :func:`facehealth.load` does for ``.onnx``).

    Args:
        path: the file ``facehealth export onnx`` wrote.
        device: ``cpu`` or ``cuda`` (needs onnxruntime-gpu).
        threads: ONNX Runtime intra-op threads; None lets it use every core.

    Raises:
        ModelNotFoundError: no file at ``path``.
        ModelFormatError: corrupt, or not an ONNX model facehealth wrote.
    """
    path = Path(path)
    session = _session(path, device, threads)
    meta, weights = read_onnx_meta(session, str(path))
    return OnnxFaceHealthModel(session, meta, weights, device)
