"""Filtering and spectral analysis of pulse signals (shared by the rPPG methods).

The heart-rate band is 0.7-4 Hz (42-240 BPM): it covers resting adults down to athletes' bradycardia
and up to exercise, and excludes respiration (< 0.5 Hz) and slow lighting drift.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.signal import butter, sosfiltfilt

__all__ = ["HR_BAND", "bandpass", "spectral_peak"]

HR_BAND = (0.7, 4.0)  # Hz


def bandpass(x: np.ndarray, fs: float, low: float = HR_BAND[0], high: float = HR_BAND[1], order: int = 3) -> np.ndarray:
    """Zero-phase Butterworth band-pass of a 1-D signal (forward-backward, so peaks do not shift).

    A signal too short for the filter's padding is returned mean-removed but unfiltered, with a warning.
    """
    x = np.asarray(x, dtype=np.float64)
    high = min(high, 0.45 * fs)  # stay below Nyquist for low frame rates
    sos = butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    if len(x) <= 3 * (2 * len(sos) + 1):
        warnings.warn(f"signal of {len(x)} samples too short to band-pass; returned unfiltered", stacklevel=2)
        return x - x.mean() if len(x) else x
    return sosfiltfilt(sos, x - x.mean())


def spectral_peak(
    x: np.ndarray, fs: float, band: tuple[float, float] = HR_BAND, peak_halfwidth_hz: float = 0.1
) -> tuple[float, float]:
    """Frequency (Hz) of the spectral peak in ``band`` and its signal-quality index (SNR, dB).

    SNR = 10 log10(power within +-``peak_halfwidth_hz`` of the peak and its first harmonic / rest of
    the band), the quality measure of de Haan & Jeanne (2013). The spectrum is zero-padded to a
    0.01 Hz grid (0.6 BPM) so the peak is not quantised to 1/window. Degenerate input (empty, flat)
    warns and returns (NaN, NaN).
    """
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 4 or not np.isfinite(x).all() or np.ptp(x) == 0:
        warnings.warn("flat, short or non-finite signal: no spectral peak", stacklevel=2)
        return float("nan"), float("nan")
    n_fft = max(len(x), int(np.ceil(fs / 0.01)))
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=n_fft)) ** 2
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / fs)
    in_band = (freqs >= band[0]) & (freqs <= band[1])
    if not in_band.any():
        warnings.warn(f"no frequency bins in band {band} at fs={fs}", stacklevel=2)
        return float("nan"), float("nan")
    peak = float(freqs[in_band][np.argmax(spectrum[in_band])])
    near = (np.abs(freqs - peak) <= peak_halfwidth_hz) | (np.abs(freqs - 2 * peak) <= peak_halfwidth_hz)
    signal_power = spectrum[in_band & near].sum()
    noise_power = spectrum[in_band & ~near].sum()
    snr = 10 * np.log10(signal_power / noise_power) if noise_power > 0 else float("inf")
    return peak, float(snr)
