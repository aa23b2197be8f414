from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from facehealth.docblocks import (
    add_doc_arguments,
    check_block,
    commands,
    machine_line,
    markdown_table,
    markers,
    provenance,
    read_block,
    replace_block,
    write_block,
)
from facehealth.errors import InputError

TEXT = "# Title\n\nprose before\n<!-- t:start -->\nold table\n<!-- t:end -->\nprose after\n"


def test_replace_changes_only_the_span_between_the_markers():
    out = replace_block(TEXT, "t", "| a |\n|---|\n| 1 |\n")
    assert out == "# Title\n\nprose before\n<!-- t:start -->\n| a |\n|---|\n| 1 |\n<!-- t:end -->\nprose after\n"
    assert read_block(out, "t") == "| a |\n|---|\n| 1 |"


def test_replacing_with_the_same_block_is_a_no_op():
    once = replace_block(TEXT, "t", "new")
    assert replace_block(once, "t", "new") == once


def test_an_empty_block_is_filled():
    start, end = markers("t")
    assert replace_block(f"x\n{start}\n{end}\n", "t", "filled") == f"x\n{start}\nfilled\n{end}\n"


@pytest.mark.parametrize(
    "text",
    ["no markers", "<!-- t:start --> twice <!-- t:start --> <!-- t:end -->", "<!-- t:end --> <!-- t:start -->"],
)
def test_missing_repeated_or_reversed_markers_raise(text):
    with pytest.raises(InputError, match="block 't'"):
        replace_block(text, "t", "x")


def test_commands_are_the_program_lines_of_a_block_without_comments():
    text = (
        "<!-- w:start -->\n```bash\npython -c 'x'   # not ours\n"
        "facehealth cohort validate my_cohort   # errors name the row\n"
        'facehealth run --cohort "my cohort"\n```\n<!-- w:end -->\n'
    )
    assert commands(text, "w") == [["cohort", "validate", "my_cohort"], ["run", "--cohort", "my cohort"]]


def test_write_block_rewrites_the_file_between_its_markers(tmp_path):
    doc = tmp_path / "b.md"
    doc.write_text(TEXT)
    write_block(doc, "t", "| new |")
    assert doc.read_text() == TEXT.replace("old table", "| new |")


def test_a_file_without_the_markers_is_refused_before_and_left_unchanged(tmp_path):
    doc = tmp_path / "b.md"
    doc.write_text("no markers\n")
    with pytest.raises(InputError, match="block 'u'"):
        check_block(doc, "u")
    with pytest.raises(InputError, match="block 'u'"):
        write_block(doc, "u", "x")
    assert doc.read_text() == "no markers\n"


def test_machine_line_is_the_given_machine_and_a_date():
    assert re.fullmatch(
        r"x86_64, 2 CPU cores, Python 3\.11\.7, \d{4}-\d{2}-\d{2}", machine_line("x86_64, 2 CPU cores, Python 3.11.7")
    )
    assert re.fullmatch(r".+, \d+ CPU cores, Python [\d.]+\w*, \d{4}-\d{2}-\d{2}", machine_line())


def test_provenance_shows_the_command_from_the_repository_root_with_its_arguments():
    line = provenance([str(Path("/somewhere/benchmarks/cox_loss.py")), "--sizes", "1000", "--work", "a b"])
    assert line.startswith("`python benchmarks/cox_loss.py --sizes 1000 --work 'a b'`: ")
    assert line.endswith(machine_line())


def test_doc_arguments_default_to_the_doc_and_no_doc_clears_it():
    parser = argparse.ArgumentParser()
    add_doc_arguments(parser, Path("docs/benchmarks.md"))
    assert parser.parse_args([]).doc == Path("docs/benchmarks.md")
    assert parser.parse_args(["--doc", "/tmp/x.md"]).doc == Path("/tmp/x.md")
    assert parser.parse_args(["--no-doc"]).doc is None


def test_markdown_table_aligns_each_column_and_checks_the_row_width():
    lines = markdown_table(("arm", "MAE"), "lr", [("mean", "6.82"), ("ridge", 4.78)])
    assert lines == ["| arm | MAE |", "|---|---:|", "| mean | 6.82 |", "| ridge | 4.78 |"]
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        markdown_table(("a", "b", "c"), "lll", [("x", "y")])
    with pytest.raises(ValueError, match="one 'l' or 'r' per column"):
        markdown_table(("a", "b"), "lc", [])
