"""Synthetic faces: real public-domain portraits, reshaped and repainted with planted signs.

Why this design: a model should see *faces* (a real detector must find them and
a person must recognise them), while the truth behind every visible change is
known. Parametric renderers draw cartoon faces that real detectors miss; so we
start from real photographs (one of the 460 packaged public-domain portraits
per subject, so each subject is a real identity with its real sex and roughly
its real age, or a user's own folder of photos) and apply landmark-driven
warps (identity shape, BMI fullness, age sagging, expression) and photometric edits through anatomical masks (wrinkles,
greying, pallor, jaundice, xanthelasma, periorbital puffiness, earlobe crease,
corneal arcus, dark circles, beard shadow), then "photograph" the result with
a site-specific camera (colour cast, resolution, JPEG quality) and nuisance
variation (lighting, small pose, blur, noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facehealth.data.synth.render import (
    Regions,
    blend,
    ellipse_mask,
    eye_mask,
    hair_mask,
    iod,
    skin_mask,
    warp_to_landmarks,
)
from facehealth.errors import InputError

__all__ = [
    "BaseFace",
    "Appearance",
    "Nuisance",
    "Camera",
    "IdentityPhoto",
    "identity_photos",
    "load_base_faces",
    "render_face",
    "apply_expression",
    "photograph",
    "CANVAS",
]

CANVAS = 288  # px; the face's eye distance on the canvas is 0.22 * CANVAS (~63 px)


@dataclass(frozen=True, eq=False)
class BaseFace:
    """One real identity, aligned to the canvas; ``male``/``age`` are None when the photo's are unknown."""

    name: str
    image: np.ndarray  # (CANVAS, CANVAS, 3) uint8, eyes on the canvas template
    landmarks: np.ndarray  # (68, 2) canvas pixels
    male: bool | None = None
    age: float | None = None  # approximate real age in the photo (years)


@dataclass(frozen=True)
class IdentityPhoto:
    """A photo that may become a :class:`BaseFace` (not yet aligned: cheap to list)."""

    name: str
    path: Path
    male: bool | None = None
    age: float | None = None


@dataclass(frozen=True)
class Appearance:
    """Everything visible about one subject. Strengths are 0 (absent) to ~1 (marked)."""

    base: int  # index of the base face (the subject's real identity)
    shape: tuple[float, ...]  # 5 identity shape coefficients ~N(0, 1)
    skin_tone: float  # -1 darker .. +1 lighter
    hair_tint: float  # -1 darker .. +1 lighter (before greying)
    male: bool
    age: float  # years
    bmi: float
    pallor: float
    jaundice: float
    xanthelasma: float
    puffiness: float
    earlobe_crease: float
    arcus: float
    dark_circles: float


@dataclass(frozen=True)
class Nuisance:
    """Per-photo variation unrelated to health."""

    rotation: float = 0.0  # degrees
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)  # fraction of the canvas
    gain: float = 1.0  # exposure
    warmth: float = 0.0  # -1 cool .. +1 warm light
    side_light: float = 0.0  # -1 .. +1: light from the left / right
    blur: float = 0.0  # Gaussian sigma in px
    noise: float = 0.0  # sensor noise sigma in grey levels
    expression: float = 0.0  # -1 sad .. +1 smile


@dataclass(frozen=True)
class Camera:
    """A recruitment site's camera: the domain shift that external validation must survive."""

    name: str
    size: int  # output side in px
    jpeg_quality: int
    colour: tuple[float, float, float]  # per-channel gain (R, G, B)
    contrast: float = 1.0


def identity_photos(base_photos: Path | None = None) -> list[IdentityPhoto]:
    """The identities to draw subjects from.

    By default the 460 packaged public-domain portraits (:mod:`facehealth.data.portraits`), each
    with its sex and approximate real age. With ``base_photos`` (a user's own identity set) every
    image in that folder instead, with sex and age unknown (then drawn at random).
    """
    from facehealth.faces.io import IMAGE_SUFFIXES

    if base_photos is not None:
        paths = sorted(p for p in Path(base_photos).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise InputError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in base-photos folder {base_photos}")
        return [IdentityPhoto(p.stem, p) for p in paths]
    from facehealth.data.portraits import portrait_table

    table = portrait_table()
    return [
        IdentityPhoto(Path(r.file).stem, Path(r.path), r.sex == "M", float(r.age))
        for r in table.itertuples(index=False)
    ]


def load_base_faces(photos: list[IdentityPhoto], count: int, rng: np.random.Generator) -> tuple[list[BaseFace], int]:
    """Align identities, in a random order, until ``count`` of them show exactly one good face.

    Only as many photos as needed are read (aligning one takes ~10 ms), so a 20-subject cohort does
    not pay for 460 portraits. Returns the bases and how many photos were skipped (no single face).
    """
    from facehealth.faces.align import align_face
    from facehealth.faces.config import AlignConfig, FacesConfig
    from facehealth.faces.io import read_image
    from facehealth.faces.pipeline import FacePipeline

    pipeline = FacePipeline(FacesConfig(multi_face="reject"))
    canvas = AlignConfig(size=CANVAS, eye_distance=0.22, eye_y=0.42)
    bases: list[BaseFace] = []
    skipped = 0
    for k in rng.permutation(len(photos)):
        if len(bases) == count:
            break
        photo = photos[int(k)]
        image = read_image(photo.path)
        result = pipeline.process(image, source=photo.name)
        if len(result.accepted) != 1:
            skipped += 1  # a base photo must hold exactly one good face
            continue
        face = result.accepted[0]
        aligned = align_face(image, face.landmarks, canvas)
        bases.append(BaseFace(photo.name, aligned.image, aligned.to_crop(face.landmarks), photo.male, photo.age))
    if not bases:
        raise InputError(f"none of the {len(photos)} identity photos shows exactly one good face")
    return bases, skipped


# Identity shape modes, as (landmark indices, displacement direction in IOD units per unit coefficient).
def _shape_offsets(lm: np.ndarray, app: Appearance) -> np.ndarray:
    d = iod(lm)
    out = np.zeros_like(lm)
    mid_x = lm[27:31, 0].mean()
    s = np.asarray(app.shape, float)
    jaw = np.arange(0, 17)
    side = np.sign(lm[jaw, 0] - mid_x)
    # 0: face width (identity), 1: face length, 2: eye spacing, 3: nose length, 4: mouth width.
    out[jaw, 0] += side * 0.06 * d * s[0]
    out[5:12, 1] += 0.07 * d * s[1]
    out[36:42, 0] -= 0.025 * d * s[2]
    out[42:48, 0] += 0.025 * d * s[2]
    out[31:36, 1] += 0.04 * d * s[3]
    out[33, 1] += 0.02 * d * s[3]
    out[[48, 49, 59, 60, 67], 0] -= 0.04 * d * s[4]
    out[[54, 53, 55, 64, 65], 0] += 0.04 * d * s[4]
    # BMI: fuller cheeks and a wider lower face (~0.4 IOD wider per 10 kg/m2 each side; real faces
    # differ in width by about that much, so a weaker sign drowns in identity).
    fullness = (app.bmi - 25.0) / 10.0
    cheeks = np.arange(2, 15)
    out[cheeks, 0] += np.sign(lm[cheeks, 0] - mid_x) * 0.4 * d * fullness * np.sin(np.pi * (cheeks - 1) / 14)
    # Age: the jowls and chin sag (~0.08 IOD between 18 and 90 years).
    sag = np.clip((app.age - 18.0) / 72.0, 0, 1)
    out[4:13, 1] += 0.08 * d * sag
    return out


def _expression_offsets(lm: np.ndarray, expression: float) -> np.ndarray:
    """+1 smile lifts and widens the mouth corners; -1 lowers them and lifts the inner brows."""
    d = iod(lm)
    out = np.zeros_like(lm)
    out[[48, 60], 0] -= 0.06 * d * max(expression, 0)
    out[[54, 64], 0] += 0.06 * d * max(expression, 0)
    out[[48, 54, 60, 64], 1] -= 0.12 * d * expression
    out[[21, 22], 1] -= 0.10 * d * max(-expression, 0)
    out[[57, 66], 1] += 0.05 * d * max(expression, 0)
    return out


def apply_expression(canvas: np.ndarray, landmarks: np.ndarray, expression: float) -> np.ndarray:
    """Warp a rendered face into an expression (cheap: one warp; used per video frame)."""
    if abs(expression) < 1e-3:
        return canvas
    target = landmarks + _expression_offsets(landmarks, expression)
    # Not anchored: the still landmarks around a mouth corner would pin it to a quarter of its move.
    return warp_to_landmarks(canvas, landmarks, target, 0.3 * iod(landmarks), anchored=False)


class ExpressionWarper:
    """:func:`apply_expression` for many frames of one face: two fields computed once, then a remap each.

    The expression offsets are linear in the expression on each side of neutral (smile > 0, sad
    < 0), and so, to first order, is the warp field: the field of a full smile (or full sadness)
    is scaled by |expression|. The only approximation is that the Gaussian weights sit at the
    full expression's landmark positions rather than the partial one's (offsets are at most
    0.12 inter-ocular distances against a 0.3 IOD kernel), invisible at video resolution and
    ~50x faster than a fresh warp per frame.
    """

    def __init__(self, canvas: np.ndarray, landmarks: np.ndarray) -> None:
        from facehealth.data.synth.render import displacement_field

        self.canvas = canvas
        h, w = canvas.shape[:2]
        sigma = 0.3 * iod(landmarks)
        self.fields = {
            sign: displacement_field(
                (h, w), landmarks, landmarks + _expression_offsets(landmarks, sign), sigma, anchored=False
            )
            for sign in (1.0, -1.0)
        }
        self.xs, self.ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))

    def __call__(self, expression: float) -> np.ndarray:
        if abs(expression) < 1e-3:
            return self.canvas
        fx, fy = self.fields[1.0 if expression > 0 else -1.0]
        k = np.float32(abs(expression))
        xs, ys = self.xs + k * fx, self.ys + k * fy
        return cv2.remap(self.canvas, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def render_face(bases: list[BaseFace], app: Appearance) -> tuple[np.ndarray, np.ndarray]:
    """Render one subject on the canvas with a neutral expression; returns (uint8 RGB, 68 landmarks)."""
    base = bases[app.base % len(bases)]
    target = base.landmarks + _shape_offsets(base.landmarks, app)
    sigma = 0.3 * iod(base.landmarks)
    img = warp_to_landmarks(base.image, base.landmarks, target, sigma).astype(np.float32)
    lm = target
    shape = img.shape[:2]
    regions = Regions(lm)
    d = regions.iod
    skin = skin_mask(shape, lm)
    rng = np.random.default_rng(int(abs(hash((app.base, app.shape))) % (2**32)))

    # Identity colouring: skin tone and hair tint.
    img = img * (1.0 + 0.18 * app.skin_tone * skin[..., None])
    hair = hair_mask(shape, lm)
    img = img * (1.0 + 0.25 * app.hair_tint * hair[..., None])

    # Age: greying hair, skin texture and wrinkles.
    age01 = float(np.clip((app.age - 18.0) / 72.0, 0, 1))
    grey = img.mean(axis=2, keepdims=True) * 0.6 + 255 * 0.4
    img = img * (1 - (0.85 * age01**1.5 * hair)[..., None]) + grey * (0.85 * age01**1.5 * hair)[..., None]
    texture = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), max(0.6, d / 70))
    img += (texture * 14.0 * age01 * skin)[..., None]
    img = _wrinkles(img, lm, d, age01)

    # Sex: a beard shadow on the lower face.
    if app.male:
        lower = skin * (np.arange(shape[0])[:, None] > lm[33, 1] + 0.05 * d)
        img = blend(img, (70, 70, 80), cv2.GaussianBlur(lower.astype(np.float32), (0, 0), d / 10), 0.28)

    # Visible signs tied to labels.
    if app.pallor:
        pale = img.mean(axis=2, keepdims=True) * np.array([1.0, 0.98, 0.98], np.float32) + 18
        img = (
            blend(img, pale, skin, 0.65 * max(app.pallor, 0))
            if app.pallor > 0
            else blend(img, img * np.array([1.12, 0.96, 0.94], np.float32), skin, 0.6 * -app.pallor)
        )
    if app.jaundice > 0:
        yellow = img * np.array([1.05, 1.0, 0.55], np.float32) + np.array([18, 14, 0], np.float32)
        img = blend(img, yellow, np.maximum(skin * 0.6, eye_mask(shape, lm) * 1.2), min(app.jaundice, 1.5))
    if app.xanthelasma > 0:
        for c in (regions.inner_lid_l, regions.inner_lid_r):
            img = blend(
                img, (240, 212, 110), ellipse_mask(shape, c, (0.15 * d, 0.07 * d), 0, d / 50), min(0.9, app.xanthelasma)
            )
    if app.puffiness > 0:
        for c in (regions.under_eye_l, regions.under_eye_r):
            bag = ellipse_mask(shape, c, (0.3 * d, 0.12 * d), 0, d / 14)
            img = blend(img, img * 1.3 + 14, bag, min(1.0, app.puffiness))
            edge = ellipse_mask(shape, c + [0, 0.1 * d], (0.28 * d, 0.035 * d), 0, d / 40)
            img = blend(img, img * 0.7, edge, min(1.0, app.puffiness) * 0.8)
    if app.dark_circles > 0:
        for c in (regions.under_eye_l, regions.under_eye_r):
            img = blend(
                img,
                img * np.array([0.72, 0.66, 0.75], np.float32),
                ellipse_mask(shape, c, (0.26 * d, 0.1 * d), 0, d / 12),
                min(1.0, app.dark_circles),
            )
    if app.earlobe_crease > 0:
        for c, direction in ((regions.earlobe_l, -1), (regions.earlobe_r, 1)):
            crease = np.zeros(shape, np.float32)
            a = c + np.array([-direction * 0.06 * d, -0.05 * d])
            b = c + np.array([direction * 0.06 * d, 0.07 * d])
            cv2.line(
                crease,
                tuple(np.round(a).astype(int)),
                tuple(np.round(b).astype(int)),
                1.0,
                max(1, round(d / 28)),
                cv2.LINE_AA,
            )
            img = blend(img, (55, 35, 35), cv2.GaussianBlur(crease, (0, 0), 0.7), min(1.0, app.earlobe_crease))
    if app.arcus > 0:
        eyes = eye_mask(shape, lm)
        for c in (regions.eye_l, regions.eye_r):
            ring = np.zeros(shape, np.float32)
            cv2.circle(
                ring, tuple(np.round(c).astype(int)), max(2, round(0.13 * d)), 1.0, max(1, round(d / 35)), cv2.LINE_AA
            )
            img = blend(img, (215, 215, 220), ring * eyes, min(1.0, app.arcus))
    return np.clip(img, 0, 255).astype(np.uint8), lm


def _wrinkles(img: np.ndarray, lm: np.ndarray, d: float, age01: float) -> np.ndarray:
    if age01 < 0.15:
        return img
    lines = np.zeros(img.shape[:2], np.float32)
    width = max(1, round(d / 45))
    brow_y = lm[17:27, 1].min()
    x0, x1 = lm[18, 0], lm[25, 0]
    for k in range(1 + int(3 * age01)):  # forehead lines
        y = brow_y - (0.18 + 0.1 * k) * d
        xs = np.linspace(x0, x1, 12)
        ys = y + 0.02 * d * np.sin(np.linspace(0, np.pi, 12) * (2 + k))
        cv2.polylines(lines, [np.stack([xs, ys], 1).round().astype(np.int32)], False, 1.0, width, cv2.LINE_AA)
    for corner, sign in ((lm[36], -1), (lm[45], 1)):  # crow's feet
        for angle in (-25, 0, 25):
            t = np.radians(angle)
            end = corner + sign * 0.22 * d * np.array([np.cos(t), np.sin(t) * sign])
            start = corner + sign * 0.06 * d * np.array([1.0, 0.0])
            cv2.line(lines, tuple(start.round().astype(int)), tuple(end.round().astype(int)), 0.8, width, cv2.LINE_AA)
    for wing, corner, sign in ((lm[31], lm[48], -1), (lm[35], lm[54], 1)):  # nasolabial folds
        start = wing + [sign * 0.16 * d, -0.04 * d]
        end = corner + [sign * 0.12 * d, 0.1 * d]
        mid = (start + end) / 2 + [sign * 0.05 * d, 0]
        pts = np.stack([start, mid, end])
        cv2.polylines(lines, [pts.round().astype(np.int32)], False, 0.6, width, cv2.LINE_AA)
    lines = cv2.GaussianBlur(lines, (0, 0), 0.8)
    return img * (1.0 - (0.45 * age01 * lines)[..., None])


def photograph(canvas: np.ndarray, nuisance: Nuisance, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """Take a "photo" of a rendered canvas: pose, light, camera colour, blur, noise, resolution."""
    size = canvas.shape[0]
    m = cv2.getRotationMatrix2D((size / 2, size / 2), nuisance.rotation, nuisance.scale)
    m[:, 2] += np.asarray(nuisance.shift) * size
    img = cv2.warpAffine(canvas, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    img = img.astype(np.float32)
    ramp = np.linspace(-1, 1, size, dtype=np.float32)[None, :, None]
    img *= nuisance.gain * (1.0 + 0.25 * nuisance.side_light * ramp)
    img *= np.array([1 + 0.08 * nuisance.warmth, 1.0, 1 - 0.08 * nuisance.warmth], np.float32)
    img *= np.asarray(camera.colour, np.float32)
    img = (img - 128.0) * camera.contrast + 128.0
    if nuisance.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), nuisance.blur)
    if nuisance.noise > 0:
        img += rng.normal(0, nuisance.noise, img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if camera.size != size:
        img = cv2.resize(img, (camera.size, camera.size), interpolation=cv2.INTER_AREA)
    return img


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 array
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
