"""Bad inputs, tried: every case of the generated corpus through the real entry points, one table.

Images go through ``read_image`` one by one and then, as one folder, through ``faces prepare``
(every file must be counted: crops + rejections + unreadable, nothing lost); videos through the
video reader; cohort tables with one planted defect each through ``cohort validate``, whose
report must name the table and column. Each row says what was expected, what happened and the
message a user sees; a crash (an exception that is not a FaceHealthError) fails the row.

Then the fault and load tests run (pytest, slow ones included) and each reports what it measured
(``tests.conftest.record_reliability``): faults injected (kill -9 of `faces prepare`, of training
and of the server; crashes at every rename of a checkpoint commit), requests sent under load,
errors seen, records lost or duplicated. The access-control matrix and Schemathesis run in the
default test suite and are not repeated here.

    python benchmarks/reliability.py [--doc docs/benchmarks.md | --no-doc] [--no-faults]  (make reliability)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facehealth.docblocks import add_doc_arguments, check_block, provenance, write_block
from facehealth.errors import FaceHealthError

REPO = Path(__file__).resolve().parents[1]
BLOCK = "reliability"
FACE = REPO / "tests" / "fixtures" / "faces" / "obama.jpg"


@dataclass(frozen=True)
class Row:
    kind: str
    case: str
    expected: str
    outcome: str
    message: str

    @property
    def ok(self) -> bool:
        return self.expected == self.outcome or (self.expected == "named error" and self.outcome.endswith("Error"))


def _attempt(fn: Callable[[], object]) -> tuple[str, str]:
    """(outcome, message): "read" or the FaceHealthError's class; "CRASH" for anything else."""
    try:
        fn()
    except FaceHealthError as exc:
        return type(exc).__name__, str(exc)
    except Exception as exc:  # noqa: BLE001 - the point is to catch what should not happen
        return "CRASH", f"{type(exc).__name__}: {exc}"
    return "read", ""


def image_rows(folder: Path) -> tuple[list[Row], dict]:
    from facehealth.config import load_config
    from facehealth.faces.bad_inputs import write_bad_images, write_bad_videos
    from facehealth.faces.config import FacesConfig
    from facehealth.faces.io import iter_video_frames, read_image
    from facehealth.faces.prepare import prepare_faces
    from facehealth.faces.records import ResolutionChange, resolution_warning

    rows = []
    images = write_bad_images(folder, FACE)
    for case in images:
        outcome, message = _attempt(lambda c=case: read_image(c.path))
        expected = case.expect.__name__ if case.expect else "read"
        rows.append(Row("image", case.name, expected, outcome, message.replace(str(folder) + "/", "")))
    videos = write_bad_videos(folder, FACE)

    def _frames_read(n: int, sizes: Iterable[tuple[int, int]]) -> str:
        return f"read {n} frames ({', '.join(f'{w}x{h}' for w, h in sizes)})"

    for case in videos:
        # A video that must read says how many frames of which sizes: every frame, each at its own size.
        sizes: list[tuple[int, int]] = []
        outcome, message = _attempt(
            lambda c=case, s=sizes: s.extend(f.image.shape[1::-1] for f in iter_video_frames(c.path))
        )
        expected = case.expect.__name__ if case.expect else _frames_read(case.frames or 0, case.sizes)
        if outcome == "read":
            outcome = _frames_read(len(sizes), dict.fromkeys(sizes))
            changes = [ResolutionChange(i, a, b) for i, (a, b) in enumerate(zip(sizes, sizes[1:]), 1) if a != b]
            message = resolution_warning(changes) or ""
        rows.append(Row("video", case.name, expected, outcome, message.replace(str(folder) + "/", "")))
    summary = prepare_faces(folder, folder.parent / "prepared", load_config(FacesConfig), workers=1)
    files = len(images) + len(videos)
    counts = {
        "files": files,
        "items": summary.items,
        "crops": summary.crops,
        "unreadable": summary.unreadable,
        "lost": files - summary.items - summary.ignored_files,
    }
    return rows, counts


def _base_cohort(root: Path) -> dict[str, pd.DataFrame]:
    (root / "p").mkdir(parents=True)
    for i in range(3):
        shutil.copy(FACE, root / "p" / f"{i}.jpg")
    return {
        "subjects": pd.DataFrame({"subject_id": ["A", "B", "C"], "age": [40, 50, 60], "sex": ["F", "M", "F"]}).assign(
            site=["x", "x", "y"]
        ),
        "media": pd.DataFrame(
            {"media_id": ["m0", "m1", "m2"], "subject_id": ["A", "B", "C"], "path": [f"p/{i}.jpg" for i in range(3)]}
        ).assign(kind="image", acquired_at="2025-01-01"),
        "labels": pd.DataFrame(
            {"subject_id": ["A", "B", "C"], "survival_time": [1.0, 2.0, 3.0], "survival_event": [1, 0, 1]}
        ).assign(haemoglobin=[13.0, 14.0, 12.0]),
    }


TABLE_CASES: dict[str, tuple[str, str, Callable[[pd.DataFrame], pd.DataFrame]]] = {
    "age is text": ("subjects", "age", lambda t: t.assign(age=["forty", 50, 60])),
    "duplicated subject id": ("subjects", "subject_id", lambda t: t.assign(subject_id=["A", "A", "C"])),
    "unknown sex code": ("subjects", "sex", lambda t: t.assign(sex=["female", "M", "F"])),
    "infinite label": ("labels", "haemoglobin", lambda t: t.assign(haemoglobin=[np.inf, 14.0, 12.0])),
    "negative survival time": ("labels", "survival_time", lambda t: t.assign(survival_time=[-1.0, 2.0, 3.0])),
    "event not 0/1": ("labels", "survival_event", lambda t: t.assign(survival_event=[2, 0, 1])),
    "date in the future": ("media", "acquired_at", lambda t: t.assign(acquired_at=["2099-01-01"] * 3)),
    "unknown label column": ("labels", "haemoglobin_gdl", lambda t: t.assign(haemoglobin_gdl=[1, 2, 3])),
    "missing required column": ("subjects", "site", lambda t: t.drop(columns=["site"])),
}


def table_rows(folder: Path) -> list[Row]:
    from facehealth.data.validate import validate_cohort

    rows = []
    for name, (table, column, edit) in TABLE_CASES.items():
        root = folder / name.replace(" ", "_")
        tables = _base_cohort(root)
        for t, frame in tables.items():
            (edit(frame) if t == table else frame).to_csv(root / f"{t}.csv", index=False)
        try:
            issues = [str(i) for i in validate_cohort(root).issues]
        except Exception as exc:  # noqa: BLE001
            rows.append(Row("table", name, "named issue", "CRASH", f"{type(exc).__name__}: {exc}"))
            continue
        named = [i for i in issues if table in i and column in i]
        outcome = "named issue" if named else "missed"
        rows.append(Row("table", name, "named issue", outcome, (named or issues or [""])[0]))
    return rows


# The tests that inject faults or load and record a row each (tests/conftest.py record_reliability).
FAULT_AND_LOAD_TESTS = (
    "tests/faces/test_prepare_faults.py::test_kill_9_at_any_moment_then_rerun_gives_the_uninterrupted_result",
    "tests/train/test_resume_faults.py",
    "tests/serve/test_load_and_faults.py",
)
_MEASURED = ("faults", "requests", "errors", "lost", "duplicated")


@dataclass(frozen=True)
class Measured:
    """One fault or load case: the sums over its test runs."""

    kind: str
    case: str
    faults: int
    requests: int
    errors: int
    lost: int
    duplicated: int
    note: str

    @property
    def ok(self) -> bool:
        return not (self.errors or self.lost or self.duplicated)


def fault_and_load_rows(folder: Path) -> tuple[list[Measured], int]:
    """Run the fault and load tests; (their rows in first-seen order, pytest's exit code)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"FACEHEALTH_RELIABILITY_OUT": str(folder)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow or not slow"]
    code = subprocess.run([*command, *FAULT_AND_LOAD_TESTS], cwd=REPO, env=env).returncode
    merged: dict[str, dict] = {}
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
        row = json.loads(path.read_text())
        seen = merged.setdefault(row["case"], {k: 0 for k in _MEASURED} | {"kind": row["kind"], "notes": []})
        for key in _MEASURED:
            seen[key] += row[key]
        if row["note"] and row["note"] not in seen["notes"]:
            seen["notes"].append(row["note"])
    rows = [Measured(v["kind"], case, *(v[k] for k in _MEASURED), "; ".join(v["notes"])) for case, v in merged.items()]
    return rows, code


def fault_block(rows: list[Measured], code: int) -> str:
    faults = sum(r.faults for r in rows)
    requests = sum(r.requests for r in rows)
    lines = [
        f"Faults and load: {faults} faults injected, {requests:,} requests sent, "
        f"{sum(r.errors for r in rows)} errors, {sum(r.lost for r in rows)} records lost, "
        f"{sum(r.duplicated for r in rows)} duplicated"
        + ("." if code == 0 else f"; pytest exit code {code} (a test failed or was skipped: see its output)."),
        "",
        "| kind | case | faults | requests | errors | lost | duplicated | measured |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mark = "" if r.ok else " ✗"
        lines.append(
            f"| {r.kind} | {r.case} | {r.faults} | {r.requests:,} | {r.errors}{mark} | {r.lost} | {r.duplicated} | "
            f"{r.note.replace('|', '/')} |"
        )
    return "\n".join(lines)


def block(argv: list[str], rows: list[Row], counts: dict) -> str:
    crashes = sum(r.outcome == "CRASH" for r in rows)
    lines = [
        provenance(argv)
        + f": {len(rows)} bad inputs tried, {sum(r.ok for r in rows)} handled as expected, {crashes} crashes; "
        f"`faces prepare` on the {counts['files']} files counted {counts['items']} ({counts['crops']} crops, "
        f"{counts['unreadable']} unreadable), {counts['lost']} lost.",
        "",
        "| input | case | expected | outcome | what the user sees |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        shown = r.message.replace("|", "/")[:110]
        lines.append(f"| {r.kind} | {r.case} | {r.expected} | {r.outcome}{'' if r.ok else ' ✗'} | {shown} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_doc_arguments(parser, REPO / "docs" / "benchmarks.md")
    parser.add_argument(
        "--no-faults", action="store_true", help="bad inputs only (skip the ~6 min of fault and load tests)"
    )
    args = parser.parse_args()
    if args.no_faults:
        args.doc = None  # a partial table never replaces the recorded one
    if args.doc:
        check_block(args.doc, BLOCK)
    measured, code = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        rows, counts = image_rows(Path(tmp) / "media")
        rows += table_rows(Path(tmp) / "tables")
        if not args.no_faults:
            measured, code = fault_and_load_rows(Path(tmp) / "measured")
    text = block(sys.argv, rows, counts)
    if not args.no_faults:
        text += "\n\n" + fault_block(measured, code)
    print(text)
    if args.doc:
        write_block(args.doc, BLOCK, text)
    if not all(r.ok for r in rows) or counts["lost"] or code or not all(m.ok for m in measured):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
