"""Export a fine-tuned image model to one self-contained ONNX file (``facehealth export onnx``).

The graph maps ImageNet-normalised crops ``images`` (B, 3, H, W) float32, B dynamic, to one
output per head, named by its task and already in clinical units, exactly what
:meth:`MultiTaskModel.predict` returns: regression values (B, n_columns) de-standardised (and
exponentiated for log-scale markers), binary probabilities (B, 1), class probabilities
(B, n_classes), Cox log hazards (B, 1). Face preparation stays outside the graph, in the same
Python pipeline that ``predict`` runs for a checkpoint.

The checkpoint's whole :class:`CheckpointMeta` (tasks, img_size, face settings, calibration,
synthetic flag, splits, ...) is stored as JSON in the file's ``metadata_props``, so the ``.onnx``
file alone is enough for :func:`facehealth.load` to predict the same fields, intervals and
warnings as the checkpoint.

With ``int8=True`` the weights of the MatMul/Gemm layers are quantized to int8 with
``onnxruntime.quantization.quantize_dynamic`` (activations are quantized on the fly per batch);
the file is ~4x smaller. Float32 export matches torch within 1e-4 on every head. Int8 does not:
on the demo-sized ViT-Ti/16 at 64 px and five real faces, the largest difference from torch was
0.13 years (age), 0.011 (CAD probability) and 0.0013 (survival log hazard), i.e. under 2% of
each head's spread over the faces (x86_64, 2 cores). The tested bounds are 0.4 years, 0.03, 1.3
and 10% of the spread (``tests/models/test_onnx.py``). Use float for numbers
compared with published results; int8 for speed where a small shift is acceptable.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from facehealth.errors import ConfigError, OutputError
from facehealth.models.checkpoint import CheckpointMeta
from facehealth.models.multitask import MultiTaskModel

__all__ = [
    "INPUT_NAME",
    "META_KEY",
    "FORMAT_KEY",
    "FORMAT_VERSION",
    "WEIGHTS_KEY",
    "OPSET",
    "OnnxExport",
    "export_onnx",
]

INPUT_NAME = "images"
META_KEY = "facehealth.checkpoint_meta"  # CheckpointMeta.to_json(), as a JSON string
FORMAT_KEY = "facehealth.onnx_format"  # the graph's contract (inputs, outputs, units) described above
FORMAT_VERSION = "1"
WEIGHTS_KEY = "facehealth.weights"  # float32 | int8
# 17: the first opset with LayerNormalization as one op (ViT blocks), supported by every ORT >= 1.14.
OPSET = 17


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote, and how far ONNX Runtime's outputs are from torch's."""

    path: Path
    weights: str  # float32 | int8
    opset: int
    size_bytes: int
    # Max |torch - ONNX Runtime| per head on a seeded random batch (a smoke check; the parity test
    # in tests/models/test_onnx.py runs real faces).
    max_abs_diff: dict[str, float]


class _AllHeads(nn.Module):
    """The image path of a multi-task model as a graph: crops -> every head in clinical units."""

    def __init__(self, model: MultiTaskModel) -> None:
        super().__init__()
        self.model = model
        self.names = [t.name for t in model.tasks]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:  # (B, 3, H, W) -> per head (B, k)
        outputs = self.model.predict(self.model(images))
        return tuple(outputs[name] for name in self.names)


def export_onnx(checkpoint: str | Path, out: str | Path, int8: bool = False, opset: int = OPSET) -> OnnxExport:
    """Write ``out`` (.onnx): the checkpoint's image model with every head and its metadata.

    Args:
        checkpoint: a fine-tuned ``.safetensors`` checkpoint (``facehealth finetune``).
        out: the ONNX file to write (replaced atomically).
        int8: quantize weights to int8 (dynamic quantization; see the module docstring for the error).
        opset: ONNX opset of the graph.

    Raises:
        ModelNotFoundError, ConfigError: the checkpoint is missing or not a fine-tuned image model.
        OutputError: ``out`` does not end in .onnx or cannot be written.
    """
    from facehealth.models.predictor import model_from_checkpoint

    out = Path(out)
    if out.suffix != ".onnx":
        raise OutputError(f"{out}: the exported model's file name must end in .onnx")
    model, meta = model_from_checkpoint(checkpoint)
    if meta.input != "image":
        # Subject and video models pool a variable number of frames (masks, times, landmark motion);
        # their graphs are not exported yet.
        raise ConfigError(
            f"{checkpoint}: ONNX export supports image models (input: image); this one reads input {meta.input!r}"
        )
    graph = _AllHeads(model.eval())
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        _trace(graph, meta.img_size, tmp, opset)
        if int8:
            float_tmp, tmp = tmp, out.with_name(out.name + ".int8.tmp")
            _quantize(float_tmp, tmp)
            float_tmp.unlink()
        weights = "int8" if int8 else "float32"
        _write_metadata(tmp, meta, weights)
        tmp.replace(out)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the ONNX model ({exc})") from exc
    return OnnxExport(out, weights, opset, out.stat().st_size, _smoke_check(graph, out, meta.img_size))


def _trace(graph: _AllHeads, img_size: int, path: Path, opset: int) -> None:
    example = torch.zeros(2, 3, img_size, img_size)  # batch 2, not 1: a size-1 axis can be specialised away
    axes = {name: {0: "batch"} for name in [INPUT_NAME, *graph.names]}
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of torch.export, which needs onnxscript (not in
        # requirements.lock). timm's patch-size asserts trace as constants: right, as H and W are fixed.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        with torch.no_grad():
            torch.onnx.export(
                graph,
                (example,),
                str(path),
                input_names=[INPUT_NAME],
                output_names=graph.names,
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )


class _NoPreprocessHint(logging.Filter):
    """Drops quantize_dynamic's advice to run quant_pre_process first: measured on ViT-Ti/16, it changed
    neither the int8 error nor the latency, and the advice would read as a problem with the export."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    hint = _NoPreprocessHint()
    logging.getLogger().addFilter(hint)
    try:
        # Signed int8 weights: ORT's default for dynamic quantization, with its fast u8 x s8 kernels on x86.
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    finally:
        logging.getLogger().removeFilter(hint)


def _write_metadata(path: Path, meta: CheckpointMeta, weights: str) -> None:
    import onnx

    proto = onnx.load(str(path))
    props = {
        META_KEY: json.dumps(meta.to_json(), default=str),
        FORMAT_KEY: FORMAT_VERSION,
        WEIGHTS_KEY: weights,
    }
    del proto.metadata_props[:]  # quantize_dynamic may copy stale entries; these three are the contract
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "facehealth"
    onnx.save(proto, str(path))


def _smoke_check(graph: _AllHeads, path: Path, img_size: int) -> dict[str, float]:
    import onnxruntime as ort

    x = np.random.default_rng(0).standard_normal((2, 3, img_size, img_size)).astype(np.float32)  # (2, 3, H, W)
    with torch.no_grad():
        expected = [t.numpy() for t in graph(torch.from_numpy(x))]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(graph.names, {INPUT_NAME: x})
    return {name: float(np.abs(e - g).max()) for name, e, g in zip(graph.names, expected, got)}
