"""The building blocks of a report: sections of paragraphs, tables and figures, rendered by a template.

Numbers from ``evaluate/metrics.json`` travel as :class:`Metric` cells that keep the dotted path
they came from; the template writes it into ``data-metric`` (and the raw value into ``data-value``)
so a test, or a reader, can check every printed number against the file.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from facehealth.report.run_folder import metric_at

__all__ = ["Metric", "Row", "Table", "Figure", "Para", "Section", "metric_cell", "fmt", "fmt_metric", "fmt_p"]


def fmt(value: Any, digits: int = 3) -> str:
    """A number as text: integers as they are, floats to ``digits`` decimals, NaN/None as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def fmt_p(p: Any) -> str:
    """A p-value as text: "< 0.0001" below that, else 4 decimals (n/a when missing)."""
    small = isinstance(p, int | float) and not isinstance(p, bool) and math.isfinite(p) and p < 1e-4
    return "< 0.0001" if small else fmt(p, 4)


def fmt_metric(value: Any, low: Any = None, high: Any = None) -> str:
    """``value [low, high]`` (the one format for a metric with its confidence interval)."""
    if low is None or high is None or not (isinstance(value, int | float) and math.isfinite(value)):
        return fmt(value)
    return f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"


@dataclass(frozen=True)
class Metric:
    """A table cell holding a number read from metrics.json at ``path``."""

    path: str
    value: float | int | None
    low: float | None = None
    high: float | None = None

    @property
    def text(self) -> str:
        return fmt_metric(self.value, self.low, self.high)

    @property
    def raw(self) -> str:
        return json.dumps(self.value)  # NaN -> "NaN", as json.loads reads it back


def metric_cell(metrics: dict | None, path: str) -> Metric | str:
    """The cell for ``path`` in metrics.json, or an em dash when the metric was not computed."""
    node = metric_at(metrics, path)
    if isinstance(node, dict) and "value" in node:
        return Metric(path, node["value"], node.get("low"), node.get("high"))
    if isinstance(node, int | float) and not isinstance(node, bool):
        return Metric(path, node)
    return "\u2014"


Cell = Metric | str | int | float | None


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    group: bool = False  # a group header row (e.g. a physiological system)

    def texts(self) -> list[tuple[str, Metric | None]]:
        return [(c.text, c) if isinstance(c, Metric) else (fmt(c), None) for c in self.cells]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    caption: str = ""
    kind: Literal["table"] = "table"

    @classmethod
    def of(cls, columns: list[str], rows: list[list[Cell] | Row], caption: str = "") -> Table:
        return cls(tuple(columns), tuple(r if isinstance(r, Row) else Row(tuple(r)) for r in rows), caption)

    @classmethod
    def from_frame(cls, frame: Any, caption: str = "", max_rows: int = 40) -> Table:
        """A pandas DataFrame as a table (first ``max_rows`` rows; the caption says when cut)."""
        shown = frame.head(max_rows).copy()
        for c in shown.columns:  # an empty text cell reads better than "n/a"
            if shown[c].dtype == object:
                shown[c] = shown[c].fillna("")
        if len(frame) > max_rows:
            caption = f"{caption} (first {max_rows} of {len(frame)} rows)".strip()
        rows = [[v.item() if hasattr(v, "item") else v for v in r] for r in shown.itertuples(index=False)]
        return cls.of([str(c) for c in frame.columns], rows, caption)


@dataclass(frozen=True)
class Figure:
    title: str
    png: bytes
    caption: str = ""
    kind: Literal["figure"] = "figure"

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    @classmethod
    def from_file(cls, path: Path, caption: str = "") -> Figure:
        return cls(path.stem.replace("_", " "), path.read_bytes(), caption or f"{path.parent.name}/{path.name}")


@dataclass(frozen=True)
class Para:
    text: str
    style: Literal["", "note", "warn"] = ""
    kind: Literal["para"] = "para"


Block = Table | Figure | Para


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...] = ()
    ran: bool = True
    note: str = ""  # why it did not run, or a one-line summary
    subsections: tuple[Section, ...] = field(default=())

    @classmethod
    def not_run(cls, id: str, title: str, why: str) -> Section:  # noqa: A002 - matches the HTML attribute
        return cls(id, title, (), False, why)
