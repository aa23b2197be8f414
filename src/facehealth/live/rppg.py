"""Contactless heart rate (remote photoplethysmography) from skin colour on a face video.

Each frame gives the mean RGB of three landmark-defined skin regions (forehead, both cheeks, from
the 68 dlib points); a window of those means becomes a pulse signal by one of two methods:

* **POS** - Wang, den Brinker, Stuijk & de Haan (2017), "Algorithmic principles of remote PPG",
  IEEE TBME 64(7). Temporally normalised RGB projected on the plane orthogonal to skin tone,
  ``S = [[0, 1, -1], [-2, 1, 1]] @ C``, combined as ``h = S1 + (std S1 / std S2) S2`` over 1.6 s
  overlapping windows (overlap-add).
* **CHROM** - de Haan & Jeanne (2013), "Robust pulse rate from chrominance-based rPPG", IEEE
  TBME 60(10). ``X = 3R - 2G``, ``Y = 1.5R + G - 1.5B`` (normalised), band-passed, and
  ``S = X - (std X / std Y) Y``.

The pulse is band-passed to 0.7-4 Hz and the spectral peak gives the BPM; the signal-quality index
is the SNR (dB) of the peak and its harmonic against the rest of the band
(:func:`~facehealth.live.signal.spectral_peak`).

Limits (say them to users): the pulsatile colour change is ~0.1-1% of the skin's intensity, so
* darker skin reflects less light and the pulse amplitude falls with melanin; SNR is lower and the
  estimate fails sooner (a known bias of every rPPG method, Nowara et al. 2020);
* motion larger than tracking accuracy mixes background into the regions; talking and head turns
  produce spectral peaks of their own;
* flicker of mains-powered lights (100/120 Hz aliased by the camera) and automatic exposure or white
  balance change colour on the same scale as the pulse; a fixed exposure camera is best;
* video compression removes small colour changes: strongly compressed streams lose the pulse.
A low SNR means "do not trust this number"; it is not a diagnosis of anything.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from facehealth.errors import InputError
from facehealth.live.signal import bandpass, spectral_peak

__all__ = [
    "HeartRate",
    "RppgEstimator",
    "skin_polygons",
    "skin_mean_rgb",
    "pos_pulse",
    "chrom_pulse",
    "estimate_heart_rate",
    "METHODS",
    "MIN_RELIABLE_SNR_DB",
]

# SNR below which an estimate is flagged unreliable. On the generated test videos a planted pulse at
# 0.3-0.5% amplitude gave >= 0 dB and no-pulse videos < -3 dB (tests/live/test_rppg.py).
MIN_RELIABLE_SNR_DB = -2.0

# Cheeks: jaw points under the eye, mouth corner, nose wing and lower eyelid ("right" = the subject's).
_RIGHT_CHEEK = (1, 2, 3, 4, 48, 31, 40, 41)
_LEFT_CHEEK = (15, 14, 13, 12, 54, 35, 47, 46)
_BROWS = tuple(range(17, 27))


@dataclass(frozen=True)
class HeartRate:
    """One heart-rate estimate over a window of frames."""

    bpm: float
    snr_db: float  # signal-quality index: peak band vs rest of the 0.7-4 Hz band
    window_s: float
    method: str

    @property
    def reliable(self) -> bool:
        return bool(np.isfinite(self.snr_db) and self.snr_db >= MIN_RELIABLE_SNR_DB)

    def as_dict(self) -> dict[str, float | str | bool]:
        return {
            "bpm": round(self.bpm, 1),
            "snr_db": round(self.snr_db, 2),
            "window_s": round(self.window_s, 2),
            "method": self.method,
            "reliable": self.reliable,
        }


def skin_polygons(landmarks: np.ndarray) -> list[np.ndarray]:
    """Forehead, right-cheek and left-cheek polygons ((K, 2) float arrays) from (68, 2) landmarks.

    The forehead is the brow line moved up by 0.35 inter-ocular distances along the face's own
    vertical axis (so it follows head roll); cheeks are shrunk 15% toward their centre to keep
    clear of the nose, mouth and jaw edges where tracking error shows background or lips.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2):
        raise InputError(f"landmarks must have shape (68, 2), got {pts.shape}")
    right_eye, left_eye = pts[36:42].mean(0), pts[42:48].mean(0)
    iod = float(np.linalg.norm(left_eye - right_eye)) or 1.0
    across = (left_eye - right_eye) / iod
    up = np.array([across[1], -across[0]])  # perpendicular, pointing to the top of the head
    brows = pts[list(_BROWS)] + 0.05 * iod * up  # start just above the brow hair
    forehead = np.vstack([brows, (brows + 0.35 * iod * up)[::-1]])
    polygons = [forehead]
    for idx in (_RIGHT_CHEEK, _LEFT_CHEEK):
        poly = pts[list(idx)]
        centre = poly.mean(0)
        polygons.append(centre + 0.85 * (poly - centre))
    return polygons


def skin_mean_rgb(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """Mean (R, G, B) of the skin regions of one RGB uint8 frame; None when they fall outside it."""
    h, w = frame.shape[:2]
    polygons = skin_polygons(landmarks)
    allpts = np.vstack(polygons)
    x0, y0 = np.floor(allpts.min(0)).astype(int)
    x1, y1 = np.ceil(allpts.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    # Only the regions' bounding crop is masked: ~10x less work than a full-frame mask at 640x480.
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    offset = np.array([x0, y0])
    cv2.fillPoly(mask, [np.round(p - offset).astype(np.int32) for p in polygons], 1)
    if mask.sum() < 20:
        return None
    return np.asarray(cv2.mean(frame[y0:y1, x0:x1], mask=mask)[:3], dtype=np.float64)


def pos_pulse(rgb: np.ndarray, fs: float, window_s: float = 1.6) -> np.ndarray:
    """POS pulse signal (T,) from (T, 3) mean RGB sampled at ``fs`` Hz (Wang et al. 2017, Alg. 1)."""
    rgb = _check_rgb(rgb)
    n = len(rgb)
    length = max(int(round(window_s * fs)), 2)
    pulse = np.zeros(n)
    projection = np.array([[0.0, 1.0, -1.0], [-2.0, 1.0, 1.0]])
    for start in range(0, max(n - length, 0) + 1):
        block = rgb[start : start + length]  # (L, 3)
        c = block / block.mean(0)  # temporal normalisation removes the skin tone and light level
        s = c @ projection.T  # (L, 2)
        std2 = s[:, 1].std()
        h = s[:, 0] + (s[:, 0].std() / std2 if std2 > 0 else 0.0) * s[:, 1]
        pulse[start : start + length] += h - h.mean()
    return pulse


def chrom_pulse(rgb: np.ndarray, fs: float) -> np.ndarray:
    """CHROM pulse signal (T,) from (T, 3) mean RGB at ``fs`` Hz (de Haan & Jeanne 2013, eq. 9-11).

    Applied to the whole window at once: the caller's sliding window plays the role of the
    paper's overlap-added 1.6 s segments.
    """
    rgb = _check_rgb(rgb)
    c = rgb / rgb.mean(0)
    x = bandpass(3 * c[:, 0] - 2 * c[:, 1], fs)
    y = bandpass(1.5 * c[:, 0] + c[:, 1] - 1.5 * c[:, 2], fs)
    sy = y.std()
    return x - (x.std() / sy if sy > 0 else 0.0) * y


METHODS = {"pos": pos_pulse, "chrom": chrom_pulse}


def estimate_heart_rate(rgb: np.ndarray, fs: float, method: str = "pos") -> HeartRate:
    """BPM and SNR from a (T, 3) window of mean skin RGB at ``fs`` Hz."""
    if method not in METHODS:
        raise InputError(f"unknown rPPG method '{method}'; methods: {', '.join(METHODS)}")
    pulse = bandpass(METHODS[method](rgb, fs), fs)
    freq, snr = spectral_peak(pulse, fs)
    return HeartRate(bpm=60.0 * freq, snr_db=snr, window_s=len(rgb) / fs, method=method)


class RppgEstimator:
    """Sliding-window heart rate for one tracked face.

    Frames arrive with timestamps that may be irregular (dropped frames), so the window is
    resampled to a uniform ``fs`` grid before filtering.

    Args:
        window_s: analysis window; 10 s gives ~0.1 Hz spectral resolution before zero padding.
        min_s: no estimate before this much signal (below ~5 s the spectral peak is too wide).
        fs: resampling rate; 30 Hz matches webcams and leaves the 4 Hz band far below Nyquist.
    """

    def __init__(self, method: str = "pos", window_s: float = 10.0, min_s: float = 6.0, fs: float = 30.0) -> None:
        if method not in METHODS:
            raise InputError(f"unknown rPPG method '{method}'; methods: {', '.join(METHODS)}")
        self.method, self.window_s, self.min_s, self.fs = method, window_s, min_s, fs
        self._times: deque[float] = deque()
        self._rgb: deque[np.ndarray] = deque()

    def push(self, timestamp: float, rgb: np.ndarray | None) -> None:
        """Add one frame's mean skin RGB (None = no usable skin this frame: skipped)."""
        if rgb is None or not np.isfinite(rgb).all():
            return
        self._times.append(float(timestamp))
        self._rgb.append(np.asarray(rgb, dtype=np.float64))
        while self._times and self._times[-1] - self._times[0] > self.window_s:
            self._times.popleft()
            self._rgb.popleft()

    @property
    def span_s(self) -> float:
        return self._times[-1] - self._times[0] if len(self._times) > 1 else 0.0

    def estimate(self) -> HeartRate | None:
        """The current estimate, or None while the window holds less than ``min_s`` seconds."""
        if self.span_s < self.min_s:
            return None
        t = np.asarray(self._times)
        rgb = np.vstack(self._rgb)
        grid = np.arange(t[0], t[-1], 1.0 / self.fs)
        uniform = np.column_stack([np.interp(grid, t, rgb[:, k]) for k in range(3)])
        return estimate_heart_rate(uniform, self.fs, self.method)

    def reset(self) -> None:
        self._times.clear()
        self._rgb.clear()


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.ndim != 2 or rgb.shape[1] != 3 or len(rgb) < 2:
        raise InputError(f"rgb must have shape (T>=2, 3), got {rgb.shape}")
    if (rgb <= 0).any():
        rgb = np.maximum(rgb, 1e-6)  # a black region would divide by zero in the normalisation
    return rgb
