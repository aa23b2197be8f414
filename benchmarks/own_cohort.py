"""Time the README's own-cohort walkthrough on 20 packaged portraits and write it into docs/benchmarks.md.

    python benchmarks/own_cohort.py [--subjects 20] [--readme README.md] [--doc docs/benchmarks.md]

It builds the README's minimal cohort (facehealth.data.portraits.write_example_cohort) in a fresh
folder, runs every `facehealth` line of the README's `own-cohort` block there (validate, split,
`facehealth run --config configs/run_small.yaml`), timing each command's wall clock, and writes the
table with the machine and date between the `own-cohort` markers of --doc.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from facehealth.data.portraits import localise_walkthrough, write_example_cohort
from facehealth.docblocks import commands, replace_block

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cohort = write_example_cohort(Path(tmp) / "my_cohort", subjects=args.subjects)
        for words in commands(args.readme.read_text(), "own-cohort"):
            start = time.perf_counter()
            cmd = [
                sys.executable,
                "-m",
                "facehealth.cli",
                *localise_walkthrough(words, cohort, Path(tmp) / "run", REPO),
            ]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rows.append((" ".join(["facehealth", *words]), time.perf_counter() - start))
        report = (Path(tmp) / "run" / "report.html").is_file()
    # KiB -> MiB (Linux); the largest single process, not the sum over processes
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        f"`python benchmarks/own_cohort.py --subjects {args.subjects}`: {machine}, {when}; "
        f"report.html written: {'yes' if report else 'no'}; largest process peak RSS {peak:.0f} MiB.",
        "",
        "| command (README, *Your cohort*) | wall s |",
        "|---|---:|",
        *(f"| `{cmd}` | {seconds:.1f} |" for cmd, seconds in rows),
        f"| total | {sum(s for _, s in rows):.1f} |",
    ]
    text = "\n".join(lines)
    args.doc.write_text(replace_block(args.doc.read_text(), "own-cohort", text))
    print(text)


if __name__ == "__main__":
    main()
