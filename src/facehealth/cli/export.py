"""``facehealth export onnx``: a checkpoint as one ONNX file that ``predict``, ``live`` and ``serve`` load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facehealth.cli.common import export_app, fail, out
from facehealth.errors import FaceHealthError


@export_app.command("onnx")
def onnx_cmd(
    model: Annotated[Path, typer.Option(help="Fine-tuned checkpoint (checkpoint-best.safetensors).")],
    out_path: Annotated[Path, typer.Option("--out", help="ONNX file to write (model.onnx).")],
    int8: Annotated[
        bool, typer.Option("--int8", help="Quantize weights to int8 (smaller, faster, approximate).")
    ] = False,
) -> None:
    """Export every head of an image model, with its metadata, to ONNX (dynamic batch axis).

    The file alone is enough: `facehealth predict --model model.onnx` gives the same fields,
    intervals and warnings as the checkpoint, run by ONNX Runtime.
    """
    from facehealth.models.onnx_export import export_onnx

    try:
        result = export_onnx(model, out_path, int8=int8)
    except FaceHealthError as exc:
        fail(exc)
    diffs = ", ".join(f"{k} {v:.2g}" for k, v in result.max_abs_diff.items())
    out.print(
        f"{result.path}: {result.weights} weights, opset {result.opset}, {result.size_bytes / 1e6:.1f} MB; "
        f"max |torch - onnxruntime| on a random batch: {diffs}"
    )
