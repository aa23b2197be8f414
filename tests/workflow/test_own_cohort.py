"""The README's *Your cohort* walkthrough, run as written on 20 packaged portraits.

The commands come from the README's `own-cohort` block itself, so the README cannot drift from what
is tested; only the example folders are swapped for temporary ones.
"""

from __future__ import annotations

import json
import re

import pandas as pd

from facehealth.data.portraits import localise_walkthrough, write_example_cohort
from facehealth.data.validate import validate_cohort
from facehealth.docblocks import commands
from tests.conftest import REPO, torch_threads

README = (REPO / "README.md").read_text()


def test_the_example_cohort_has_the_readmes_minimal_tables_and_validates(tmp_path):
    cohort = write_example_cohort(tmp_path / "my_cohort")
    for table, header in {
        "subjects": "subject_id,age,sex,site",
        "media": "media_id,subject_id,path,kind",
        "labels": "subject_id,cad",
    }.items():
        assert (cohort / f"{table}.csv").read_text().splitlines()[0] == header
        assert re.search(rf"{table}\.csv +{header}\b", README), f"the README shows {table}.csv as {header}"
    media = pd.read_csv(cohort / "media.csv")
    assert len(media) == 20 and all((cohort / p).is_file() for p in media["path"])
    report = validate_cohort(cohort)
    assert report.ok and not report.warnings, [str(i) for i in report.issues]


def test_the_readme_walkthrough_ends_in_a_report(tmp_path):
    from typer.testing import CliRunner

    from facehealth.cli import app

    lines = commands(README, "own-cohort")
    assert [w[:2] for w in lines] == [["cohort", "validate"], ["cohort", "split"], ["run", "--cohort"]]
    assert "configs/run_small.yaml" in lines[-1]
    cohort = write_example_cohort(tmp_path / "my_cohort")
    run = tmp_path / "run"
    with torch_threads(1):
        for words in lines:
            result = CliRunner().invoke(app, localise_walkthrough(words, cohort, run, REPO))
            assert result.exit_code == 0, f"{' '.join(words)}\n{result.output}"
    assert (run / "report.html").is_file()
    stages = json.loads((run / "run.json").read_text())["stages"]
    assert {k for k, v in stages.items() if v["status"] == "done"} >= {"faces", "finetune", "evaluate", "report"}
