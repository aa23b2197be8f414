"""Time the synthetic cohort generator and write the table to docs/benchmarks.md.

Each ``--case SUBJECTS:PHOTOS:VIDEOS`` is generated afresh in a temporary folder; the default cases
are the issue's target (200 subjects x 4 photos, well under a minute on 2 cores) and a video cohort
(20 subjects, one photo and one 10-s stimulus video each). The table, under its command, the machine
and the date, is printed and written between the ``synth-cohort`` markers of ``--doc``.

    python benchmarks/synth_cohort.py [--case 200:4:0 --case 20:1:1] [--doc docs/benchmarks.md | --no-doc]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from facehealth.data.synth import SynthConfig, synthesize_cohort
from facehealth.docblocks import add_doc_arguments, check_block, provenance, write_block

REPO = Path(__file__).resolve().parents[1]
BLOCK = "synth-cohort"  # the marker name of this script's table in docs/benchmarks.md
DEFAULT_CASES = ("200:4:0", "20:1:1")


@dataclass(frozen=True)
class Case:
    """One cohort size to time: subjects, photos and stimulus videos per subject."""

    subjects: int
    photos: int
    videos: int

    @classmethod
    def parse(cls, text: str) -> Case:
        try:
            subjects, photos, videos = (int(v) for v in text.split(":"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected SUBJECTS:PHOTOS:VIDEOS, e.g. 200:4:0") from None
        return cls(subjects, photos, videos)


def time_case(case: Case) -> float:
    """Seconds to write ``case``'s cohort (tables, photos, videos, ground truth) to a fresh folder."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        synthesize_cohort(
            Path(tmp) / "c",
            SynthConfig(subjects=case.subjects, images_per_subject=case.photos, videos_per_subject=case.videos),
        )
        return time.perf_counter() - start


def block(argv: list[str], rows: list[tuple[Case, float]]) -> str:
    """The provenance line and one row per case: its size, wall time, subjects per second."""
    lines = [
        provenance(argv) + ".",
        "",
        "| subjects | photos each | videos each | wall s | subjects/s |",
        "|---:|---:|---:|---:|---:|",
    ]
    for case, seconds in rows:
        rate = case.subjects / seconds  # per subject: a video costs far more than a photo
        lines.append(f"| {case.subjects} | {case.photos} | {case.videos} | {seconds:.1f} | {rate:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", type=Case.parse, action="append", help="SUBJECTS:PHOTOS:VIDEOS (repeatable)")
    add_doc_arguments(parser, REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.doc:
        check_block(args.doc, BLOCK)  # before the measurement, not after
    cases = args.case or [Case.parse(c) for c in DEFAULT_CASES]
    text = block(sys.argv, [(case, time_case(case)) for case in cases])
    print(text)
    if args.doc:
        write_block(args.doc, BLOCK, text)


if __name__ == "__main__":
    main()
