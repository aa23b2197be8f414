"""Speed of the live engine on a generated 640x480 face video (CPU).

    python benchmarks/live.py [--seconds 60] [--detect-every 10] [--model CKPT]

Measures, on obama.jpg placed on a 640x480 canvas with a planted 72 BPM pulse, motion, lighting
drift and JPEG compression (frames generated up front, so generation does not count):
1. tracking alone (FaceTracker.update: detection every N frames, LK flow between), frames/s;
2. the full loop (tracking + quality gate + rPPG + motion + events; + model scores with --model),
   frames/s, and frame -> event latency (median, p95, max);
3. score refresh rate (model calls per second of video) when a model is given;
4. peak RSS of the process over the whole stream (frames are generated in chunks, so a long
   --seconds measures the engine's memory, not the test video's).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the generated stream")
    ap.add_argument("--detect-every", type=int, default=10)
    ap.add_argument("--model", type=Path, default=None, help="checkpoint for rolling scores")
    args = ap.parse_args()

    from facehealth.faces.io import read_image
    from facehealth.faces.pipeline import FacePipeline
    from facehealth.live.engine import LiveConfig, LiveEngine
    from facehealth.live.sources import Frame
    from facehealth.live.synthetic import PulseVideoSpec, place_face, pulse_frames, skin_mask
    from facehealth.live.tracker import FaceTracker

    canvas, _, _ = place_face(np.asarray(read_image(ROOT / "tests/fixtures/faces/obama.jpg")))
    pipeline = FacePipeline()
    mask = skin_mask(canvas.shape[:2], pipeline.process(canvas).faces[0].landmarks)
    chunk = 10.0  # seconds of frames held at once (300 frames, ~280 MB)

    def chunks(seed: int) -> list[tuple[float, PulseVideoSpec]]:
        out, start = [], 0.0
        while start < args.seconds:
            spec = PulseVideoSpec(bpm=72.0, seconds=min(chunk, args.seconds - start), seed=seed)
            out.append((start, spec))
            start += chunk
        return out

    def frames_of(start: float, spec: PulseVideoSpec) -> list[Frame]:
        n0 = int(round(start * spec.fps))
        return [Frame(n0 + f.index, start + f.timestamp, f.image) for f in pulse_frames(canvas, mask, spec)]

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"python {sys.version.split()[0]}"
    )
    print(f"stream: 640x480, {args.seconds:.0f} s at 30 fps, detect every {args.detect_every} frames")

    tracker = FaceTracker(pipeline, detect_every=args.detect_every)
    tracked, busy = 0, 0.0
    for start, spec in chunks(0)[:2]:  # tracking speed settles within 20 s
        for frame in frames_of(start, spec):
            t0 = time.perf_counter()
            tracker.update(frame.image)
            busy += time.perf_counter() - t0
            tracked += 1
    print(f"tracking alone: {tracked / busy:.1f} frames/s ({tracker.detections} detections in {tracked} frames)")

    model = None
    if args.model is not None:
        import facehealth

        model = facehealth.load(args.model)
    engine = LiveEngine(LiveConfig(detect_every=args.detect_every), pipeline=pipeline, model=model)
    latencies, busy, n, last = [], 0.0, 0, None
    for start, spec in chunks(1):
        for frame in frames_of(start, spec):
            t0 = time.perf_counter()
            last = engine.step(frame)
            busy += time.perf_counter() - t0
            latencies.append(last.latency_ms)
            n += 1
    lat = np.asarray(latencies)
    print(f"full loop: {n / busy:.1f} frames/s over {n} frames ({engine.tracker.detections} detections)")
    print(
        f"frame -> event latency: median {np.median(lat):.1f} ms, "
        f"p95 {np.percentile(lat, 95):.1f} ms, max {lat.max():.0f} ms"
    )
    if model is not None:
        print(f"score refresh: {engine.scored_frames / args.seconds:.2f} model calls per second of video")
    if last is not None and last.heart_rate is not None:
        print(f"last heart rate: {last.heart_rate.bpm:.1f} bpm (planted 72), SNR {last.heart_rate.snr_db:.1f} dB")
    print(f"peak RSS: {_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
