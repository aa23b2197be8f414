"""One entry point that loads a fine-tuned model for prediction, whichever format it was saved in.

It sits above both predictors so that neither imports the other: the ONNX Runtime predictor subclasses
the torch one, and the torch one must not know about it.
"""

from __future__ import annotations

from pathlib import Path

from facehealth.models.predictor import FaceHealthModel

__all__ = ["load"]


def load(path: str | Path, device: str = "cpu") -> FaceHealthModel:
    """Load a fine-tuned model for prediction (``facehealth.load``).

    A ``.safetensors`` checkpoint runs in torch; an ``.onnx`` file written by ``facehealth export onnx``
    runs in ONNX Runtime (:mod:`facehealth.models.onnx_predictor`) and predicts the same fields.
    """
    if Path(path).suffix == ".onnx":
        from facehealth.models.onnx_predictor import load_onnx

        return load_onnx(path, device)
    return FaceHealthModel.load(path, device)
