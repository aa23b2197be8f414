"""Time the synthetic cohort generator: ``python benchmarks/synth_cohort.py [--subjects 200 --images 4]``.

Target (issue: cohorts): 200 subjects x 4 photos in under 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from facehealth.data.synth import SynthConfig, synthesize_cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=200)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--videos", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        synthesize_cohort(
            Path(tmp) / "c",
            SynthConfig(subjects=args.subjects, images_per_subject=args.images, videos_per_subject=args.videos),
        )
        seconds = time.perf_counter() - start
    n = args.subjects * args.images
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}: "
        f"{args.subjects} subjects x {args.images} photos (+{args.videos} videos each) in {seconds:.1f} s "
        f"({n / seconds:.0f} photos/s)"
    )


if __name__ == "__main__":
    main()
