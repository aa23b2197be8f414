"""Training augmentations for aligned face crops, in OpenCV/NumPy (no torchvision).

Each transform takes an (H, W, 3) uint8 RGB array and an explicit
``numpy.random.Generator`` and returns a new array of the same size, so a
dataset can reproduce any item's augmentation from its seed. Defaults are mild:
faces are already aligned, and strong colour changes would erase the very
signs (pallor, jaundice) the models must learn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Augment", "AugmentConfig", "random_resized_crop", "colour_jitter", "horizontal_flip", "small_rotation"]

Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def random_resized_crop(
    image: np.ndarray, rng: np.random.Generator, scale: tuple[float, float] = (0.85, 1.0)
) -> np.ndarray:
    h, w = image.shape[:2]
    s = np.sqrt(rng.uniform(*scale))
    ch, cw = max(8, int(h * s)), max(8, int(w * s))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return cv2.resize(image[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR)


def horizontal_flip(image: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1]) if rng.random() < p else image


def small_rotation(image: np.ndarray, rng: np.random.Generator, degrees: float = 8.0) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-degrees, degrees)), 1.0)
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def colour_jitter(
    image: np.ndarray,
    rng: np.random.Generator,
    brightness: float = 0.15,
    contrast: float = 0.15,
    saturation: float = 0.1,
) -> np.ndarray:
    img = image.astype(np.float32)
    img *= 1.0 + rng.uniform(-brightness, brightness)
    mean = img.mean()
    img = (img - mean) * (1.0 + rng.uniform(-contrast, contrast)) + mean
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * (1.0 + rng.uniform(-saturation, saturation))
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class AugmentConfig:
    crop_scale: tuple[float, float] = (0.85, 1.0)
    flip: bool = True  # faces are near-symmetric; planted signs are bilateral
    rotation: float = 8.0
    brightness: float = 0.15
    contrast: float = 0.15
    saturation: float = 0.1  # small: hue/saturation carry pallor and jaundice


class Augment:
    """Compose the transforms above from an :class:`AugmentConfig`."""

    def __init__(self, config: AugmentConfig | None = None) -> None:
        c = config or AugmentConfig()
        steps: list[Transform] = [lambda im, r: random_resized_crop(im, r, c.crop_scale)]
        if c.flip:
            steps.append(horizontal_flip)
        if c.rotation > 0:
            steps.append(lambda im, r: small_rotation(im, r, c.rotation))
        steps.append(lambda im, r: colour_jitter(im, r, c.brightness, c.contrast, c.saturation))
        self.steps: Sequence[Transform] = steps

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for step in self.steps:
            image = step(image, rng)
        return image
