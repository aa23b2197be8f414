from __future__ import annotations

import pytest

from facehealth.docblocks import commands, markers, read_block, replace_block
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
