"""Generated blocks inside hand-written Markdown: the text between two marker comments.

A generated table (the README's demo numbers, the biomarker registry in docs/cohort_format.md)
sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``. The command that measures or
derives it rewrites only that span, so the prose around it stays hand-written and a test can
compare the span with freshly generated text.
"""

from __future__ import annotations

import shlex

from facehealth.errors import InputError

__all__ = ["commands", "markers", "read_block", "replace_block"]


def markers(name: str) -> tuple[str, str]:
    """The start and end comments of block ``name``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def _span(text: str, name: str) -> tuple[int, int]:
    """(end of the start marker's line, start of the end marker); raises unless each occurs once, in order."""
    start, end = markers(name)
    counts = (text.count(start), text.count(end))
    if counts != (1, 1):
        raise InputError(f"block '{name}': expected one '{start}' and one '{end}', found {counts[0]} and {counts[1]}")
    i, j = text.index(start) + len(start), text.index(end)
    if j < i:
        raise InputError(f"block '{name}': '{end}' comes before '{start}'")
    return i, j


def read_block(text: str, name: str) -> str:
    """The text between the markers of ``name``, without the blank lines that frame it."""
    i, j = _span(text, name)
    return text[i:j].strip("\n")


def replace_block(text: str, name: str, block: str) -> str:
    """``text`` with the span between the markers of ``name`` set to ``block`` (markers kept).

    The block goes on its own lines, framed by one newline each side; everything outside the
    markers is returned unchanged, so rewriting with the same block is a no-op.
    """
    i, j = _span(text, name)
    return text[:i] + "\n" + block.strip("\n") + "\n" + text[j:]


def commands(text: str, name: str, program: str = "facehealth") -> list[list[str]]:
    """The ``program`` command lines in block ``name`` (e.g. a README walkthrough), split like a shell.

    A test runs exactly what the README shows: lines that start with ``program``, with a trailing
    ``# comment`` removed, without ``program`` itself.
    """
    lines = []
    for line in read_block(text, name).splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == program:
            lines.append(words[1:])
    return lines
