"""The README's demo table, regenerated from a run: `make readme-numbers`.

    python benchmarks/readme_numbers.py [--profile quick] [--out docs/demo_numbers.md] [--run DIR]
        [--readme README.md]

Without ``--run`` it runs ``facehealth demo`` in a fresh folder (timing its wall clock and peak
RSS), then writes the headline numbers of the internal test split and the external site, each
beside its trivial reference and the verdict, with the machine and date, as a Markdown table
(printed, and written to ``--out``). With ``--run`` it only tabulates an existing run folder.
The same table, under its one-line provenance, replaces the block between the
``<!-- demo-numbers:start -->`` and ``<!-- demo-numbers:end -->`` comments of ``--readme``
(``--readme ''`` leaves the README alone).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from facehealth.docblocks import check_block, machine_line, write_block

README_BLOCK = "demo-numbers"  # the marker name of the table in README.md

ROWS = (
    ("age, MAE (years)", "age.age.mae", 1),
    ("CAD, AUROC", "cad.auroc", 2),
    ("survival, Harrell's C", "survival.c_index", 2),
    ("haemoglobin, Pearson r", "biomarkers.haemoglobin.pearson_r", 2),
    ("healthy/MDD/BPD from video, accuracy", "affective.accuracy", 2),
)


def _ci(node: dict, digits: int) -> str:
    return f"{node['value']:.{digits}f} [{node['low']:.{digits}f}, {node['high']:.{digits}f}]"


def _cell(entry: dict | None, digits: int) -> tuple[str, str, str, str]:
    """(model, reference, verdict, recovery against the planted truth) of one headline number."""
    if entry is None:
        return "not run", "", "", ""
    ref = entry.get("reference")
    recovered = _ci(entry["recovery"], 2) if "recovery" in entry else "—"
    return _ci(entry, digits), "" if ref is None else f"{ref:.{digits}f}", entry.get("versus_reference", ""), recovered


def table(run: Path) -> str:
    record = json.loads((run / "run.json").read_text())
    head = record["headline"]
    n = {s: next((v["n_subjects"] for k, v in head.items() if k.startswith(s)), "?") for s in ("test", "external")}
    lines = [
        f"| | internal test (n = {n['test']}) | reference | verdict | recovery | external site (n = {n['external']}) "
        "| reference | verdict | recovery |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, path, digits in ROWS:
        cells = [*_cell(head.get(f"test.{path}"), digits), *_cell(head.get(f"external.{path}"), digits)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def readme_block(doc: str) -> str:
    """The README's copy of ``doc`` (the text written to ``--out``): its provenance line and the table."""
    lines = doc.strip("\n").splitlines()
    return "\n".join([lines[0], "", *(line for line in lines if line.startswith("|"))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--run", type=Path, default=None, help="tabulate this run folder instead of running")
    parser.add_argument("--out", type=Path, default=Path("docs/demo_numbers.md"))
    parser.add_argument("--readme", default="README.md", help="README to update between its markers ('' = none)")
    args = parser.parse_args()
    if args.readme:
        check_block(Path(args.readme), README_BLOCK)  # before the demo's minutes, not after
    timing = ""
    run = args.run
    if run is None:
        run = Path(tempfile.mkdtemp(prefix="facehealth-demo-")) / "demo"
        start = time.perf_counter()
        cmd = [sys.executable, "-m", "facehealth.cli", "demo", "--profile", args.profile, "--out", str(run)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # KiB -> GiB (Linux)
        timing = f"{seconds:.0f} s wall, peak RSS {peak:.1f} GiB; "
    record = json.loads((run / "run.json").read_text())
    # the run's machine (with --run, perhaps another one) and today's date
    header = (
        f"`facehealth demo --profile {record.get('profile', args.profile)}`: "
        f"{timing}{machine_line(record['machine'])}.\n"
        "Value [95% subject-bootstrap CI]; the reference predicts what the training split alone suggests; "
        "recovery = (model - reference) / (oracle - reference), the oracle predicting with the planted truth; "
        "verdict: does the model's whole CI beat it.\n\n"
    )
    text = header + table(run) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.readme:
        write_block(Path(args.readme), README_BLOCK, readme_block(text))
    print(text)


if __name__ == "__main__":
    main()
