"""Photo -> faces -> dlib's CC0 age network: the pretrained apparent age that `predict` reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from facehealth.errors import NoFaceError
from facehealth.faces.io import media_kind, read_image
from facehealth.faces.pipeline import FacePipeline
from facehealth.models.apparent_age import ApparentAgeNet
from facehealth.models.predictor import Prediction

__all__ = ["predict_apparent_age", "with_apparent_age"]


def predict_apparent_age(path: str | Path, pipeline: FacePipeline, net: ApparentAgeNet) -> Prediction:
    """Return a Prediction holding only the CC0 network's apparent age (mean over accepted faces).

    Raises:
        NoFaceError: no face passed the quality gate.
        InputError: the file is not a readable photo (videos are not supported here).
    """
    image = read_image(path)
    result = pipeline.process(image)
    faces = result.accepted
    rejected = Counter(result.rejected)
    if not faces:
        raise NoFaceError(f"{path}: no face passed the quality gate (rejected: {dict(rejected)})")
    ages = net.predict_from_landmarks(image, [f.landmarks for f in faces])
    return Prediction(
        str(path),
        len(faces),
        1,
        dict(rejected),
        quality=tuple(f.quality for f in faces),
        apparent_age_pretrained=float(np.mean(ages)),
    )


def with_apparent_age(
    prediction: Prediction, path: str | Path, pipeline: FacePipeline, net: ApparentAgeNet
) -> Prediction:
    """Add the pretrained apparent age to a model's Prediction for a photo (videos unchanged)."""
    if media_kind(path) == "video":
        return prediction
    try:
        age = predict_apparent_age(path, pipeline, net).apparent_age_pretrained
    except NoFaceError:
        return prediction
    return replace(prediction, apparent_age_pretrained=age)
