"""Speed and memory of the live engine on a generated 640x480 face video (CPU); writes its docs block.

    python benchmarks/live.py [--seconds 60] [--detect-every 10] [--model CKPT]
        [--doc docs/benchmarks.md | --no-doc]

The stream is obama.jpg on a 640x480 canvas with a planted 72 BPM pulse, motion, lighting drift and
JPEG compression, generated 10 s at a time (so a long ``--seconds`` measures the engine's memory,
not the test video's; generation is not timed). Measured:

1. tracking alone (FaceTracker.update: detection every N frames, LK flow between), frames/s;
2. the full loop (tracking + quality gate + rPPG + motion + events), twice: without a model, and
   with rolling scores from a model (``--model``, else an untrained ViT-Ti/16 at 64 px with the
   demo's heads: the cost does not depend on the weights). Frames/s, frame -> event latency
   (median, p95), the score refresh rate (model calls per second of video), the last heart rate;
3. the resident memory after the first 10 s and at the end of each stream (growth = a leak).

The table, under its command, the machine and the date, is printed and written between the
``live`` markers of ``--doc``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facehealth.docblocks import add_doc_arguments, check_block, markdown_table, provenance, write_block

REPO = Path(__file__).resolve().parents[1]
BLOCK = "live"  # the marker name of this script's table in docs/benchmarks.md
CHUNK_S = 10.0  # seconds of frames held at once (300 frames, ~280 MB)


@dataclass(frozen=True)
class LoopRun:
    """One pass of the full loop over the stream."""

    label: str
    frames: int
    frames_per_s: float
    latency_median_ms: float
    latency_p95_ms: float
    refresh_per_s: float | None  # model calls per second of video; None without a model
    bpm: float | None  # the last heart-rate estimate (planted: 72)
    rss_first_mib: float  # resident memory after the first chunk
    rss_last_mib: float  # ... and at the end


def rss_mib() -> float:
    """The process's resident memory now (not its peak), from /proc."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


class Stream:
    """The generated video, chunk by chunk: (frames) lists whose timestamps continue across chunks."""

    def __init__(self, seconds: float) -> None:
        from facehealth.faces.io import read_image
        from facehealth.faces.pipeline import FacePipeline
        from facehealth.live.synthetic import place_face, skin_mask

        self.seconds = seconds
        self.canvas, _, _ = place_face(np.asarray(read_image(REPO / "tests/fixtures/faces/obama.jpg")))
        self.pipeline = FacePipeline()
        self.mask = skin_mask(self.canvas.shape[:2], self.pipeline.process(self.canvas).faces[0].landmarks)

    def chunks(self, seed: int, seconds: float | None = None) -> Iterator[list]:
        from facehealth.live.sources import Frame
        from facehealth.live.synthetic import PulseVideoSpec, pulse_frames

        total, start = seconds or self.seconds, 0.0
        while start < total:
            spec = PulseVideoSpec(bpm=72.0, seconds=min(CHUNK_S, total - start), seed=seed)
            n0 = int(round(start * spec.fps))
            yield [
                Frame(n0 + f.index, start + f.timestamp, f.image) for f in pulse_frames(self.canvas, self.mask, spec)
            ]
            start += CHUNK_S


def tracking_fps(stream: Stream, detect_every: int) -> float:
    """Frames per second of the tracker alone over 20 s of the stream (its speed settles by then)."""
    from facehealth.live.tracker import FaceTracker

    tracker = FaceTracker(stream.pipeline, detect_every=detect_every)
    frames, busy = 0, 0.0
    for chunk in stream.chunks(0, seconds=min(20.0, stream.seconds)):
        for frame in chunk:
            t0 = time.perf_counter()
            tracker.update(frame.image)
            busy += time.perf_counter() - t0
            frames += 1
    return frames / busy


def full_loop(stream: Stream, detect_every: int, model: object | None, label: str) -> LoopRun:
    """Run the engine over the whole stream; time only ``engine.step``."""
    from facehealth.live.engine import LiveConfig, LiveEngine

    engine = LiveEngine(LiveConfig(detect_every=detect_every), pipeline=stream.pipeline, model=model)
    latencies, busy, last, rss = [], 0.0, None, []
    for chunk in stream.chunks(1):
        for frame in chunk:
            t0 = time.perf_counter()
            last = engine.step(frame)
            busy += time.perf_counter() - t0
            latencies.append(last.latency_ms)
        del chunk  # before reading memory: otherwise two chunks' frames are alive while the next is made
        gc.collect()
        rss.append(rss_mib())
    lat = np.asarray(latencies)
    bpm = last.heart_rate.bpm if last is not None and last.heart_rate is not None else None
    refresh = engine.scored_frames / stream.seconds if model is not None else None
    return LoopRun(
        label,
        len(lat),
        len(lat) / busy,
        float(np.median(lat)),
        float(np.percentile(lat, 95)),
        refresh,
        bpm,
        rss[0],
        rss[-1],
    )


def block(argv: list[str], seconds: float, detect_every: int, tracking: float, runs: list[LoopRun]) -> str:
    """The provenance line, the tracker's speed and one row per full-loop run."""
    from facehealth.live.engine import LiveConfig

    lines = [
        f"{provenance(argv)}; 640×480 at 30 fps, {seconds:.0f} s, detection every {detect_every} frames, "
        f"identity check on, a score every {LiveConfig().score_every_s:g} s.",
        "",
        f"Tracking alone: {tracking:.0f} frames/s.",
        "",
    ]
    header = ("full loop", "frames/s", "latency median (ms)", "latency p95 (ms)", "model calls per s of video")
    header += ("last heart rate (planted 72)", "RSS after 10 s / at the end (MiB)")
    cells = [
        (
            r.label,
            f"{r.frames_per_s:.0f}",
            f"{r.latency_median_ms:.1f}",
            f"{r.latency_p95_ms:.0f}",
            "—" if r.refresh_per_s is None else f"{r.refresh_per_s:.2f}",
            "—" if r.bpm is None else f"{r.bpm:.1f} BPM",
            f"{r.rss_first_mib:.0f} / {r.rss_last_mib:.0f}",
        )
        for r in runs
    ]
    return "\n".join(lines + markdown_table(header, "lrrrrrl", cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the generated stream")
    ap.add_argument("--detect-every", type=int, default=10)
    ap.add_argument("--model", type=Path, default=None, help="checkpoint for the rolling scores")
    add_doc_arguments(ap, REPO / "docs" / "benchmarks.md")
    args = ap.parse_args()
    if args.doc:
        check_block(args.doc, BLOCK)  # before the measurement, not after

    import facehealth
    from facehealth.models.untrained import untrained_checkpoint

    stream = Stream(args.seconds)
    tracking = tracking_fps(stream, args.detect_every)
    runs = [full_loop(stream, args.detect_every, None, "no model")]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.model or untrained_checkpoint(Path(tmp) / "checkpoint")
        label = f"with {args.model.name}" if args.model else "with an untrained ViT-Ti/16, 64 px"
        runs.append(full_loop(stream, args.detect_every, facehealth.load(ckpt), label))
    text = block(sys.argv, args.seconds, args.detect_every, tracking, runs)
    print(text)
    if args.doc:
        write_block(args.doc, BLOCK, text)


if __name__ == "__main__":
    main()
