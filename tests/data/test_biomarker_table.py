"""docs/cohort_format.md lists the registry as `markdown_table()` writes it."""

from __future__ import annotations

from pathlib import Path

from facehealth.data.biomarkers import BIOMARKERS, markdown_table
from facehealth.docblocks import read_block

DOC = Path(__file__).resolve().parents[2] / "docs" / "cohort_format.md"


def test_the_cohort_format_doc_lists_the_registry_as_generated():
    block = read_block(DOC.read_text(), "biomarkers")
    assert block == markdown_table(), "run: python benchmarks/biomarker_table.py"


def test_the_table_has_one_row_per_marker_with_its_unit_and_interval():
    rows = [line for line in markdown_table().splitlines() if line.startswith("| `")]
    assert len(rows) == len(BIOMARKERS) == 62
    hb = next(r for r in rows if r.startswith("| `haemoglobin`"))
    assert hb == "| `haemoglobin` | haematological | g/dL | 12–17.5 | 2–25 | linear |"
