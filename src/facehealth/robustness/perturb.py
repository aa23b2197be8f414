"""Image perturbations for robustness tests (FAHR-Face: makeup, pose, lighting, cosmetic changes).

Each perturbation maps an RGB uint8 image (an original photo or an aligned
crop), a ``severity`` in 0..5 and, where needed, the 68 landmarks in the same
image's pixel coordinates to a NEW uint8 array of the same shape. Severity 0 is
the identity; 5 is strong but still face-like. Random ones (noise, crop jitter)
draw only from the ``numpy.random.Generator`` passed in, so a seed reproduces
them exactly.

    >>> from facehealth.robustness.perturb import PERTURBATIONS
    >>> out = PERTURBATIONS["blur"](image, 3)  # doctest: +SKIP
    >>> out = PERTURBATIONS["makeup_lipstick"](image, 5, landmarks)  # doctest: +SKIP

Pose (``yaw``, ``pitch``) is a 2-D approximation of a head rotation, not a
re-rendering: the landmarks are moved as if they lay on a cylinder (the nose a
little in front of it) turned by up to 30 degrees, and the image is bent to
follow them with a thin-plate spline anchored on a ring around the face. It
compresses one side of the face and shifts the nose, which is what a landmark
pose estimator and a 2-D model see, but occluded parts are not hidden.

Cosmetic change imitates a beauty filter and two procedures. ``skin_smoothing``
blurs the skin (the landmark hull minus eyes, brows and mouth) with an
edge-preserving bilateral filter and lifts it slightly; ``brow_reshape`` raises
and arches the brows (the tails up to 6% of the inter-ocular distance);
``lip_augmentation`` pushes the lip line out from the mouth centre, mostly
vertically. The last two bend the image with the same anchored thin-plate warp
as pose, with every other landmark held fixed, so only the brow band or the mouth
moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from facehealth.errors import InputError
from facehealth.faces.landmarks import inter_ocular_distance, region_points
from facehealth.robustness import regions as r

__all__ = ["Perturbation", "PERTURBATIONS", "MAX_SEVERITY", "apply_perturbation", "list_perturbations"]

MAX_SEVERITY = 5

# fn(image uint8 (H, W, 3), s in (0, 1] = severity / 5, landmarks (68, 2) or None, rng) -> new float or uint8 array
PerturbFn = Callable[[np.ndarray, float, np.ndarray | None, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Perturbation:
    """One named perturbation; call it as ``p(image, severity, landmarks=None, rng=None)``."""

    name: str
    needs_landmarks: bool
    fn: PerturbFn
    description: str

    def __call__(
        self,
        image: np.ndarray,
        severity: int,
        landmarks: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"{self.name}: expected an RGB uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
        if not 0 <= int(severity) <= MAX_SEVERITY or int(severity) != severity:
            raise InputError(f"{self.name}: severity must be an integer 0..{MAX_SEVERITY}, got {severity}")
        if severity == 0:
            return image.copy()
        if landmarks is not None:
            landmarks = np.asarray(landmarks, np.float64).reshape(68, 2)
        elif self.needs_landmarks:
            raise InputError(f"{self.name}: needs the 68 face landmarks (image coordinates)")
        out = self.fn(image, severity / MAX_SEVERITY, landmarks, rng or np.random.default_rng(0))
        return np.clip(np.round(out), 0, 255).astype(np.uint8) if out.dtype != np.uint8 else out


# --- photometric ---------------------------------------------------------------------------------


def _brightness(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # Underexposure: gain 1 -> 0.3. Dark photos are the common failure of phone selfies.
    return img.astype(np.float32) * (1.0 - 0.7 * s)


def _gamma(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # Gamma 1 -> 1/2.5 lifts the mid-tones (washed-out, over-processed look) while keeping black and white.
    return 255.0 * (img.astype(np.float32) / 255.0) ** (1.0 / (1.0 + 1.5 * s))


def _colour_temperature(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # Warm (tungsten-like) white balance: red up, blue down by up to 30%; skin-colour cues move.
    gains = np.array([1.0 + 0.3 * s, 1.0, 1.0 - 0.3 * s], np.float32)
    return img.astype(np.float32) * gains


def _side_light(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # Light from the image's left: a smooth left-to-right gain ramp across the face (or the image).
    h, w = img.shape[:2]
    cx, hw = (r.face_box(lm)[0], r.face_box(lm)[2]) if lm is not None else (w / 2, w / 2)
    x = (np.arange(w, dtype=np.float32) - cx) / hw  # -1 at the face's left edge, +1 at its right
    gain = 1.0 + 0.15 * s - 0.75 * s * (np.tanh(1.5 * x) + 1) / 2
    return img.astype(np.float32) * gain[None, :, None]


def _blur(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # Sigma scales with the face (or image) so a severity means the same on a crop and on a photo.
    size = 2 * r.face_box(lm)[2] if lm is not None else max(img.shape[:2])
    return cv2.GaussianBlur(img, (0, 0), sigmaX=s * size / 40)


def _noise(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # Sensor noise, sigma up to 25 grey levels (a dim indoor phone photo).
    return img.astype(np.float32) + rng.normal(0.0, 25.0 * s, img.shape).astype(np.float32)


_JPEG_QUALITY = {1: 60, 2: 40, 3: 25, 4: 15, 5: 8}


def _jpeg(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    quality = _JPEG_QUALITY[round(s * MAX_SEVERITY)]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok, "OpenCV failed to encode a JPEG"
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _downscale(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # Resolution loss, factor 1 -> 1/5 (a face far from the camera, or a messaging-app thumbnail).
    h, w = img.shape[:2]
    f = 1.0 / (1.0 + 4.0 * s)
    small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


# --- geometry ------------------------------------------------------------------------------------


def _rotated_landmarks(lm: np.ndarray, degrees: float, axis: int) -> np.ndarray:
    """Landmarks after turning a cylinder-shaped head by ``degrees`` (axis 0 = yaw, 1 = pitch).

    A point at offset u = (x - c) / half-width sits at angle asin(u) on the
    cylinder; after the turn it projects to sin(asin(u) + theta). The nose
    (27-35) stands 0.5 half-widths in front of the cylinder, so it moves further.
    """
    c, half = (r.face_box(lm)[0], r.face_box(lm)[2]) if axis == 0 else (r.face_box(lm)[1], r.face_box(lm)[3])
    theta = np.deg2rad(degrees)
    u = np.clip((lm[:, axis] - c) / half, -1.0, 1.0)
    moved = np.sin(np.arcsin(u) + theta)
    depth = np.zeros(68)
    depth[r.NOSE] = 0.5 * np.linspace(0.4, 1.0, len(r.NOSE))  # bridge shallow, tip deep
    out = lm.copy()
    out[:, axis] = c + half * (moved + depth * np.sin(theta))
    return out


def _anchors(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Fixed points on an ellipse 1.6x around the face, so the warp stays local."""
    cx, cy, hw, hh = r.face_box(lm)
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = np.stack([cx + 1.6 * hw * np.cos(t), cy + 1.6 * hh * np.sin(t)], 1)
    h, w = shape
    return np.clip(ring, 0, [w - 1, h - 1])


def _landmark_warp(img: np.ndarray, lm: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """Bend ``img`` so the (68, 2) ``lm`` land on ``moved``; the ring of :func:`_anchors` stays put."""
    anchors = _anchors(lm, img.shape[:2])
    return r.thin_plate_warp(img, np.vstack([lm, anchors]), np.vstack([moved, anchors]))


def _pose(axis: int) -> PerturbFn:
    def warp(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        assert lm is not None
        return _landmark_warp(img, lm, _rotated_landmarks(lm, 30.0 * s, axis))

    return warp


def _crop_jitter(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # Shift up to 15% of the face (or image) size in a random direction and zoom by up to +-20%,
    # as a different detector box or framing would; borders are mirrored, not black.
    h, w = img.shape[:2]
    cx, cy, hw, _ = r.face_box(lm) if lm is not None else (w / 2, h / 2, w / 2, h / 2)
    angle = rng.uniform(0, 2 * np.pi)
    scale = 1.0 + 0.2 * s * rng.choice([-1.0, 1.0])
    shift = 0.15 * s * 2 * hw * np.array([np.cos(angle), np.sin(angle)])
    m = cv2.getRotationMatrix2D((cx, cy), 0.0, scale)
    m[:, 2] += shift
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


# --- occlusion -----------------------------------------------------------------------------------


def _glasses(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # Dark lenses over both eyes joined by a bridge; opacity 0.3 -> 1 (clear to sunglasses).
    assert lm is not None
    _, _, hw, _ = r.face_box(lm)
    pad = 0.12 * hw
    polys = []
    for eye in (region_points(lm, "right_eye"), region_points(lm, "left_eye")):
        lo, hi = eye.min(0), eye.max(0)
        polys.append(np.array([[lo[0] - pad, lo[1] - pad], [hi[0] + pad, lo[1] - pad], [hi[0] + pad, hi[1] + pad],
                               [lo[0] - pad, hi[1] + pad]]))  # fmt: skip
    bridge_y = lm[[39, 42], 1].mean()
    bar = 0.04 * hw
    polys.append(np.array([[lm[39, 0], bridge_y - bar], [lm[42, 0], bridge_y - bar], [lm[42, 0], bridge_y + bar],
                           [lm[39, 0], bridge_y + bar]]))  # fmt: skip
    alpha = (0.3 + 0.7 * s) * r.soft_mask(r.polygon_mask(img.shape[:2], *polys), 0.01 * hw)[..., None]
    return img.astype(np.float32) * (1 - alpha) + np.float32(20.0) * alpha


def _mask(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # A surgical-mask-like polygon: the jaw line below, a top edge that rises from the upper lip
    # (severity 1) to the nose bridge (severity 5). Light blue, opaque.
    assert lm is not None
    top_y = lm[51, 1] + (lm[28, 1] - lm[51, 1]) * (s - 0.2) / 0.8
    jaw = lm[2:15]
    top = np.array([[lm[14, 0], min(top_y, lm[14, 1])], [lm[2, 0], min(top_y, lm[2, 1])]])
    poly = np.vstack([jaw, top])
    alpha = r.soft_mask(r.polygon_mask(img.shape[:2], poly), 0.01 * r.face_box(lm)[2])[..., None]
    return img.astype(np.float32) * (1 - alpha) + np.array([170, 205, 230], np.float32) * alpha


# --- makeup --------------------------------------------------------------------------------------


def _tint(img: np.ndarray, alpha: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Blend towards ``colour`` modulated by the local luminance, so shading and texture survive."""
    x = img.astype(np.float32)
    lum = x.mean(2, keepdims=True) / 128.0
    target = np.clip(np.asarray(colour, np.float32) * lum, 0, 255)
    return x * (1 - alpha[..., None]) + target * alpha[..., None]


def _lip_alpha(img: np.ndarray, lm: np.ndarray) -> np.ndarray:
    hw = r.face_box(lm)[2]
    mask = r.polygon_mask(img.shape[:2], lm[r.OUTER_LIPS]) - r.polygon_mask(img.shape[:2], lm[r.INNER_LIPS])
    return r.soft_mask(np.clip(mask, 0, 1), 0.015 * hw)


def _cheek_alpha(img: np.ndarray, lm: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    hw = r.face_box(lm)[2]
    mask = np.zeros((h, w), np.float32)
    for jaw, nose in ((2, 31), (14, 35)):  # each cheek: between the jaw and the nostril, at nostril height
        centre = 0.55 * lm[jaw] + 0.45 * lm[nose] + np.array([0.0, -0.1 * hw])
        cv2.circle(mask, tuple(int(v) for v in np.round(centre)), max(1, int(0.2 * hw)), 1.0, -1)
    return r.soft_mask(mask, 0.12 * hw)


def _lid_alpha(img: np.ndarray, lm: np.ndarray) -> np.ndarray:
    hw = r.face_box(lm)[2]
    # Each lid: the eye's upper contour (its first four points) closed along the brow above it.
    polys = [
        np.vstack([region_points(lm, f"{side}_eye")[:4], region_points(lm, f"{side}_brow")[::-1]])
        for side in ("right", "left")
    ]
    # Keep the shadow in the lower two-thirds of the lid (between the lash line and the brow).
    mask = r.polygon_mask(img.shape[:2], *polys)
    ys = np.arange(img.shape[0], dtype=np.float32)[:, None]
    brow, lid = region_points(lm, "brows")[:, 1].mean(), lm[[37, 38, 43, 44], 1].mean()
    mask *= (ys > brow + 0.3 * (lid - brow)).astype(np.float32)
    return r.soft_mask(mask, 0.02 * hw)


def _lipstick(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    assert lm is not None
    return _tint(img, 0.8 * s * _lip_alpha(img, lm), (200, 20, 45))


def _blush(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    assert lm is not None
    return _tint(img, 0.6 * s * _cheek_alpha(img, lm), (235, 110, 120))


def _eyeshadow(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    assert lm is not None
    return _tint(img, 0.7 * s * _lid_alpha(img, lm), (110, 60, 140))


def _makeup(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    out = _lipstick(img, s, lm, rng)
    out = _blush(np.clip(out, 0, 255), s, lm, rng)
    return _eyeshadow(np.clip(out, 0, 255).astype(np.uint8), s, lm, rng)


# --- cosmetic change (filters, brow and lip procedures) ----------------------------------------------


def _skin_smoothing(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # A beauty filter: an edge-preserving (bilateral) blur of the skin only, so pores and fine wrinkles
    # go while the jaw line, nose and features keep their edges, plus a slight lift towards white.
    assert lm is not None
    hw = r.face_box(lm)[2]
    alpha = (0.4 + 0.6 * s) * r.skin_mask(img.shape[:2], lm, feather=0.02 * hw)  # (H, W)
    ys, xs = np.nonzero(alpha)
    if len(ys) == 0:  # a face too small to have skin left between its features
        return img.copy()
    sigma_space = (0.02 + 0.04 * s) * hw  # 2..6% of the half-width: pore-to-wrinkle scale
    d = 2 * round(2 * sigma_space) + 1
    # Filter only the mask's box (plus the filter's reach): a bilateral pass over a whole photo is slow.
    (y0, x0), (y1, x1) = np.maximum([ys.min() - d, xs.min() - d], 0), [ys.max() + d + 1, xs.max() + d + 1]
    smooth = img.astype(np.float32)
    smooth[y0:y1, x0:x1] = cv2.bilateralFilter(img[y0:y1, x0:x1], d, 15.0 + 35.0 * s, sigma_space)
    smooth += (255.0 - smooth) * np.float32(0.06 * s)  # "screen"-like brightening: lifts without adding contrast
    a = alpha[..., None]
    return img.astype(np.float32) * (1 - a) + smooth * a


# Lift of each brow point from its inner end to its tail, as a share of the largest lift: the outer
# two thirds rise most and the arch peaks one point in from the tail, as a brow lift or lamination does.
_BROW_LIFT = np.array([0.3, 0.5, 0.8, 1.0, 0.85])


def _brow_reshape(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    assert lm is not None
    lift = 0.06 * s * inter_ocular_distance(lm)  # 6% of the inter-ocular distance at severity 5
    moved = lm.copy()
    moved[17:22, 1] -= lift * _BROW_LIFT[::-1]  # the image-left brow runs tail (17) -> inner end (21)
    moved[22:27, 1] -= lift * _BROW_LIFT  # the image-right brow runs inner end (22) -> tail (26)
    # Every other landmark (eyes, nose, mouth, jaw) is a fixed point of the warp, so only the brow band moves.
    return _landmark_warp(img, lm, moved)


def _lip_augmentation(img: np.ndarray, s: float, lm: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    # Filler-like fuller lips: the lip line is pushed out from the mouth centre, up to +30% vertically and
    # +6% horizontally; the inner contour moves a third as far, so the lips thicken rather than the mouth opening.
    assert lm is not None
    centre = lm[r.OUTER_LIPS].mean(0)
    gain = np.array([0.06, 0.30]) * s  # (x, y)
    moved = lm.copy()
    moved[r.OUTER_LIPS] = centre + (lm[r.OUTER_LIPS] - centre) * (1 + gain)
    moved[r.INNER_LIPS] = centre + (lm[r.INNER_LIPS] - centre) * (1 + gain / 3)
    return _landmark_warp(img, lm, moved)


_ALL = (
    Perturbation("brightness", False, _brightness, "underexposure: pixel gain 1 -> 0.3"),
    Perturbation("gamma", False, _gamma, "mid-tones lifted: gamma 1 -> 1/2.5"),
    Perturbation("colour_temperature", False, _colour_temperature, "warm white balance: R x1.3, B x0.7 at 5"),
    Perturbation("side_light", False, _side_light, "light from the image's left: right side of the face x0.25"),
    Perturbation("blur", False, _blur, "Gaussian blur, sigma up to 1/40 of the face width"),
    Perturbation("noise", False, _noise, "Gaussian noise, sigma up to 25 grey levels"),
    Perturbation("jpeg", False, _jpeg, "JPEG re-encoding at quality 60/40/25/15/8"),
    Perturbation("downscale", False, _downscale, "down- then up-sampling by 1/(1+4s): 1/5 at 5"),
    Perturbation("crop_jitter", False, _crop_jitter, "shift up to 15% of the face and zoom +-20%"),
    Perturbation("yaw", True, _pose(0), "synthetic head turn up to 30 deg (cylinder + thin-plate warp, approx.)"),
    Perturbation("pitch", True, _pose(1), "synthetic nod up to 30 deg (cylinder + thin-plate warp, approx.)"),
    Perturbation("occlusion_glasses", True, _glasses, "dark lenses over the eyes, opacity 0.3 -> 1"),
    Perturbation("occlusion_mask", True, _mask, "surgical-mask polygon from the jaw up to lip -> nose bridge"),
    Perturbation("makeup_lipstick", True, _lipstick, "red tint on the lips (landmarks 48-59 minus 60-67)"),
    Perturbation("makeup_blush", True, _blush, "pink tint on both cheeks, soft edges"),
    Perturbation("makeup_eyeshadow", True, _eyeshadow, "purple tint between upper lid and brow"),
    Perturbation("makeup", True, _makeup, "lipstick + blush + eyeshadow together"),
    Perturbation("skin_smoothing", True, _skin_smoothing, "beauty filter: bilateral blur of the skin, +6% lift"),
    Perturbation("brow_reshape", True, _brow_reshape, "brows raised and arched, tails up to 6% of the IOD"),
    Perturbation("lip_augmentation", True, _lip_augmentation, "fuller lips: lip line +30% vertical, +6% horizontal"),
)
PERTURBATIONS: dict[str, Perturbation] = {p.name: p for p in _ALL}


def list_perturbations() -> list[str]:
    return list(PERTURBATIONS)


def apply_perturbation(
    name: str,
    image: np.ndarray,
    severity: int,
    landmarks: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Look up ``name`` in :data:`PERTURBATIONS` and apply it; unknown names list close matches."""
    if name not in PERTURBATIONS:
        import difflib

        close = difflib.get_close_matches(name, PERTURBATIONS, n=3) or list(PERTURBATIONS)
        raise InputError(f"unknown perturbation '{name}'; did you mean: {', '.join(close)}")
    return PERTURBATIONS[name](image, severity, landmarks, rng)
