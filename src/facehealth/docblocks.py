"""Generated blocks inside hand-written Markdown: the text between two marker comments.

A generated table (the README's demo numbers, the biomarker registry in docs/cohort_format.md)
sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``. The command that measures or
derives it rewrites only that span, so the prose around it stays hand-written and a test can
compare the span with freshly generated text.

A benchmark that writes a block opens it with :func:`provenance` (its command, the machine, the
date), takes ``--doc``/``--no-doc`` from :func:`add_doc_arguments`, checks the markers with
:func:`check_block` before it measures and writes with :func:`write_block` after.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from facehealth.errors import InputError

__all__ = [
    "add_doc_arguments",
    "check_block",
    "commands",
    "machine",
    "machine_line",
    "markdown_table",
    "markers",
    "provenance",
    "read_block",
    "replace_block",
    "write_block",
]


def markdown_table(header: Sequence[str], align: str, rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table's lines: ``header``, the rule (``align``: one 'l' or 'r' per column), one line per row.

    Cells are written with ``str``: the caller formats numbers, so each table keeps its own precision.
    """
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r}: one 'l' or 'r' per column of {list(header)}")
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    out = ["| " + " | ".join(header) + " |", rule]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {list(row)}: {len(row)} cells for {len(header)} columns")
        out.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return out


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


def write_block(path: Path, name: str, block: str) -> None:
    """Set block ``name`` of the Markdown file ``path`` to ``block``; InputError unless its markers are there."""
    path.write_text(replace_block(path.read_text(), name, block))


def check_block(path: Path, name: str) -> None:
    """Raise InputError now if ``path`` lacks the markers of ``name``: before a long measurement, not after."""
    _span(path.read_text(), name)


def machine() -> str:
    """This machine as a run records it: 'x86_64, 2 CPU cores, Python 3.11.7'."""
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"


def machine_line(measured_on: str | None = None) -> str:
    """``measured_on`` (default: :func:`machine`) and today's UTC date: '..., Python 3.11.7, 2026-12-03'."""
    return f"{measured_on or machine()}, {datetime.now(UTC).strftime('%Y-%m-%d')}"


def provenance(argv: Sequence[str]) -> str:
    """The first line of a benchmark's block: '`python benchmarks/X.py ARGS`: machine, date'.

    ``argv`` is the script's ``sys.argv``: however the script was called (an absolute path, from
    another folder), the line shows it run from the repository root, with its arguments as given.
    """
    command = shlex.join(["python", f"benchmarks/{Path(argv[0]).name}", *argv[1:]])
    return f"`{command}`: {machine_line()}"


def add_doc_arguments(parser: argparse.ArgumentParser, default: Path) -> None:
    """``--doc PATH`` (the file whose block the script writes; ``default``) and ``--no-doc`` (sets it to None)."""
    parser.add_argument("--doc", type=Path, default=default, help="Markdown file whose block this writes")
    parser.add_argument("--no-doc", dest="doc", action="store_const", const=None, help="print the block only")
