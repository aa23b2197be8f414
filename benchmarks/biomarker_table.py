"""Write the biomarker registry into docs/cohort_format.md (between its `biomarkers` markers).

    python benchmarks/biomarker_table.py [--doc docs/cohort_format.md]

The table is facehealth.data.biomarkers.markdown_table(); tests/data/test_biomarker_table.py fails
when the doc and the registry disagree, and this script is the fix.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from facehealth.data.biomarkers import markdown_table
from facehealth.docblocks import replace_block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=Path, default=Path("docs/cohort_format.md"))
    args = parser.parse_args()
    args.doc.write_text(replace_block(args.doc.read_text(), "biomarkers", markdown_table()))
    print(f"wrote the registry table into {args.doc}")


if __name__ == "__main__":
    main()
