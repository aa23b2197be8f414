"""The README's generated demo table is the one `benchmarks/readme_numbers.py` wrote to docs/demo_numbers.md."""

from __future__ import annotations

import importlib.util

from facehealth.docblocks import read_block
from tests.conftest import REPO


def _readme_numbers():  # noqa: ANN202 - a script, loaded by path
    spec = importlib.util.spec_from_file_location("readme_numbers", REPO / "benchmarks" / "readme_numbers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_block_is_the_provenance_line_and_the_table():
    doc = "`facehealth demo`: x, 2026.\nExplanation.\n\n| | a |\n|---|---|\n| age | 1 |\n"
    assert _readme_numbers().readme_block(doc) == "`facehealth demo`: x, 2026.\n\n| | a |\n|---|---|\n| age | 1 |"


def test_the_readme_shows_the_demo_table_of_docs_demo_numbers():
    module = _readme_numbers()
    doc = (REPO / "docs" / "demo_numbers.md").read_text()
    block = read_block((REPO / "README.md").read_text(), module.README_BLOCK)
    assert block == module.readme_block(doc), "run: python benchmarks/readme_numbers.py --run RUN"
