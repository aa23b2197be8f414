"""rPPG on generated videos of a real face with a planted pulse of known BPM."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from facehealth.errors import InputError
from facehealth.live.rppg import (
    MIN_RELIABLE_SNR_DB,
    RppgEstimator,
    estimate_heart_rate,
    skin_mean_rgb,
    skin_polygons,
)
from facehealth.live.signal import bandpass, spectral_peak
from facehealth.live.synthetic import PulseVideoSpec, pulse_frames, skin_mask

FS = 30.0


def _trace(face_canvas, spec: PulseVideoSpec) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and mean skin RGB, with the landmarks moved by the known shift (perfect tracking)."""
    canvas, landmarks = face_canvas
    mask = skin_mask(canvas.shape[:2], landmarks)
    times, rgb = [], []
    for fr in pulse_frames(canvas, mask, spec):
        times.append(fr.timestamp)
        rgb.append(skin_mean_rgb(fr.image, landmarks + np.asarray(fr.shift)))
    return np.asarray(times), np.vstack(rgb)


def test_spectral_peak_finds_a_sine_and_rates_it_above_noise():
    t = np.arange(0, 10, 1 / FS)
    sine = np.sin(2 * np.pi * 1.25 * t)
    freq, snr = spectral_peak(bandpass(sine, FS), FS)
    assert abs(freq - 1.25) < 0.02 and snr > 10
    noise = np.random.default_rng(0).standard_normal(len(t))
    _, snr_noise = spectral_peak(bandpass(noise, FS), FS)
    assert snr_noise < -3


def test_spectral_peak_on_flat_signal_warns_and_returns_nan():
    with pytest.warns(UserWarning, match="flat"):
        freq, snr = spectral_peak(np.ones(100), FS)
    assert np.isnan(freq) and np.isnan(snr)


def test_skin_polygons_lie_on_the_face_and_reject_bad_shapes(face_canvas):
    _, landmarks = face_canvas
    forehead, right, left = skin_polygons(landmarks)
    assert forehead[:, 1].mean() < landmarks[17:27, 1].min()  # above the brows (image y grows down)
    assert right[:, 0].mean() < landmarks[30, 0] < left[:, 0].mean()  # either side of the nose tip
    with pytest.raises(InputError):
        skin_polygons(np.zeros((5, 2)))


@pytest.mark.parametrize("bpm", [58.0, 84.0, 120.0])
def test_planted_pulse_recovered_within_3_bpm_despite_motion_drift_and_jpeg(face_canvas, bpm):
    """0.4% green amplitude, +-2 px motion, 5% light drift, noise, JPEG q85: both methods within 3 BPM."""
    _, rgb = _trace(face_canvas, PulseVideoSpec(bpm=bpm, seconds=8.0, seed=int(bpm)))
    for method in ("pos", "chrom"):
        hr = estimate_heart_rate(rgb, FS, method)
        assert abs(hr.bpm - bpm) <= 3.0, (method, hr)
        assert hr.reliable and hr.snr_db > MIN_RELIABLE_SNR_DB + 3


def test_no_pulse_video_gets_a_low_quality_index(face_canvas):
    _, rgb = _trace(face_canvas, PulseVideoSpec(bpm=None, seconds=8.0, seed=3))
    for method in ("pos", "chrom"):
        hr = estimate_heart_rate(rgb, FS, method)
        assert hr.snr_db < MIN_RELIABLE_SNR_DB and not hr.reliable, (method, hr)


def test_estimator_waits_for_enough_signal_then_copes_with_dropped_frames():
    """A clean RGB trace with 30% of frames dropped at random: resampling keeps the BPM."""
    rng = np.random.default_rng(1)
    t = np.arange(0, 10, 1 / FS)
    pulse = 0.004 * np.sin(2 * np.pi * (75 / 60) * t)
    # PPG's colour signature (green strongest): a pure intensity change would be removed by POS.
    rgb = np.array([150.0, 110.0, 90.0]) * (1 + np.outer(pulse, [0.43, 1.0, 0.69])) + rng.normal(0, 0.05, (len(t), 3))
    est = RppgEstimator(method="pos", window_s=10.0, min_s=6.0)
    keep = rng.random(len(t)) > 0.3
    for ti, row, k in zip(t, rgb, keep):
        if ti < 5.0:
            assert est.estimate() is None  # "not enough signal yet"
        est.push(ti, row if k else None)
    hr = est.estimate()
    assert hr is not None and abs(hr.bpm - 75) <= 2.0 and hr.reliable
    est.reset()
    assert est.estimate() is None


def test_unknown_method_is_an_input_error():
    with pytest.raises(InputError, match="pos"):
        RppgEstimator(method="green")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputError):
            estimate_heart_rate(np.ones((10, 3)), FS, "ica")
