"""Time the README's own-cohort walkthrough on 20 packaged portraits and write it into docs/benchmarks.md.

    python benchmarks/own_cohort.py [--subjects 20] [--readme README.md] [--doc docs/benchmarks.md | --no-doc]

It builds the README's minimal cohort (facehealth.data.portraits.write_example_cohort) in a fresh
folder, runs every `facehealth` line of the README's `own-cohort` block there (validate, split,
`facehealth run --config configs/run_small.yaml`), timing each command's wall clock, and writes the
table under its command, the machine and the date between the `own-cohort` markers of --doc.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from facehealth.data.portraits import localise_walkthrough, write_example_cohort
from facehealth.docblocks import add_doc_arguments, check_block, commands, provenance, write_block

REPO = Path(__file__).resolve().parents[1]
BLOCK = "own-cohort"  # the marker name of this script's table in docs/benchmarks.md


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    add_doc_arguments(parser, REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.doc:
        check_block(args.doc, BLOCK)  # before the walkthrough runs, not after
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
    lines = [
        f"{provenance(sys.argv)}; report.html written: {'yes' if report else 'no'}; "
        f"largest process peak RSS {peak:.0f} MiB.",
        "",
        "| command (README, *Your cohort*) | wall s |",
        "|---|---:|",
        *(f"| `{cmd}` | {seconds:.1f} |" for cmd, seconds in rows),
        f"| total | {sum(s for _, s in rows):.1f} |",
    ]
    text = "\n".join(lines)
    print(text)
    if args.doc:
        write_block(args.doc, BLOCK, text)


if __name__ == "__main__":
    main()
