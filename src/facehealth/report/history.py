"""A person's visit history: a tiny SQLite store of predictions over time (DigitalShadow-style follow-up).

One row per visit; the predictions travel as JSON so new tasks need no schema change::

    visits(id INTEGER PRIMARY KEY, subject_id TEXT, visit_time TEXT (ISO 8601, UTC),
           model_id TEXT, payload TEXT (JSON: values, intervals, probabilities, risks, quality, regions))

    >>> store = HistoryStore("history.db")  # doctest: +SKIP
    >>> store.add_visit(Visit.from_prediction(prediction, "p001", model_id="ckpt-2026-01"))  # doctest: +SKIP
    >>> store.visits("p001")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from facehealth.errors import InputError

__all__ = ["Visit", "VisitHistory", "HistoryStore", "quality_summary"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_id TEXT NOT NULL,
    visit_time TEXT NOT NULL,
    model_id TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS visits_subject ON visits (subject_id, visit_time);
"""


def _utc(time: dt.datetime | str | None) -> dt.datetime:
    """A timezone-aware UTC datetime (naive times are taken as UTC)."""
    if time is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    if isinstance(time, str):
        time = dt.datetime.fromisoformat(time)
    return time.replace(tzinfo=dt.UTC) if time.tzinfo is None else time.astimezone(dt.UTC)


def quality_summary(prediction: Any) -> dict[str, Any]:
    """Input-quality facts of a Prediction: faces used, frames read, rejections, mean quality measures."""
    reports = list(getattr(prediction, "quality", ()) or ())
    out: dict[str, Any] = {
        "faces_used": int(getattr(prediction, "faces_used", 0)),
        "frames_read": int(getattr(prediction, "frames_read", 0)),
        "rejected": dict(getattr(prediction, "rejected", {}) or {}),
    }
    for name in ("blur", "brightness", "yaw", "pitch", "face_px"):
        values = [float(getattr(q, name)) for q in reports if hasattr(q, name)]
        if values:
            out[name] = sum(abs(v) if name in ("yaw", "pitch") else v for v in values) / len(values)
    return out


@dataclass(frozen=True)
class Visit:
    """One scored visit of one person."""

    subject_id: str
    time: dt.datetime
    model_id: str
    values: dict[str, float] = field(default_factory=dict)  # regression outputs (biomarkers, age)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # per value/probability key
    probabilities: dict[str, Any] = field(default_factory=dict)  # binary: float; multiclass: {class: p}
    risks: dict[str, float] = field(default_factory=dict)  # Cox log relative hazard
    quality: dict[str, Any] = field(default_factory=dict)  # see quality_summary
    regions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task/key -> top facial regions

    @classmethod
    def from_prediction(
        cls,
        prediction: Any,
        subject_id: str,
        model_id: str = "",
        time: dt.datetime | str | None = None,
        intervals: Mapping[str, Sequence[float]] | None = None,
        regions: Mapping[str, Sequence[str]] | None = None,
    ) -> Visit:
        """A visit from a ``facehealth.models.predictor.Prediction`` (intervals from the argument, else from
        the prediction's own ``intervals`` attribute when it has one)."""
        intervals = intervals if intervals is not None else getattr(prediction, "intervals", None) or {}
        return cls(
            subject_id=str(subject_id),
            time=_utc(time),
            model_id=model_id,
            values={k: float(v) for k, v in prediction.values.items()},
            intervals={k: (float(v[0]), float(v[1])) for k, v in intervals.items()},
            probabilities=dict(prediction.probabilities),
            risks={k: float(v) for k, v in prediction.risks.items()},
            quality=quality_summary(prediction),
            regions={k: tuple(v) for k, v in (regions or {}).items()},
        )

    @classmethod
    def from_payload(cls, subject_id: str, time: dt.datetime | str, model_id: str, data: Mapping[str, Any]) -> Visit:
        """The visit whose :meth:`payload` is ``data`` (as any store keeps it)."""
        return cls(
            subject_id=subject_id,
            time=_utc(time),
            model_id=model_id,
            values=data.get("values", {}),
            intervals={k: (v[0], v[1]) for k, v in data.get("intervals", {}).items()},
            probabilities=data.get("probabilities", {}),
            risks=data.get("risks", {}),
            quality=data.get("quality", {}),
            regions={k: tuple(v) for k, v in data.get("regions", {}).items()},
        )

    def payload(self) -> dict[str, Any]:
        return {
            "values": self.values,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "probabilities": self.probabilities,
            "risks": self.risks,
            "quality": self.quality,
            "regions": {k: list(v) for k, v in self.regions.items()},
        }


@runtime_checkable
class VisitHistory(Protocol):
    """Where a person's visits live: the service database (``facehealth.serve.history``) or a file.

    ``add_visit`` may be given the report written for the visit, for stores that keep it.
    """

    def visits(self, subject_id: str) -> list[Visit]: ...

    def add_visit(self, visit: Visit, report: Any = None) -> int: ...


class HistoryStore:
    """Visits of people over time in one SQLite file (created on first use).

    The legacy visit file of ``facehealth report person`` before version 0.1.0 moved visits into the
    service database: ``facehealth serve import-history FILE`` copies one over. Also a small
    self-contained store for scripts and tests that have no service database.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(path))
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{path}: not a facehealth history database ({exc})") from exc

    def add_visit(self, visit: Visit, report: Any = None) -> int:
        """Store ``visit`` (a file keeps no report text); returns its row id."""
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO visits (subject_id, visit_time, model_id, payload) VALUES (?, ?, ?, ?)",
                (visit.subject_id, _utc(visit.time).isoformat(), visit.model_id, json.dumps(visit.payload())),
            )
        return int(cursor.lastrowid)

    def visits(self, subject_id: str) -> list[Visit]:
        """Every visit of ``subject_id``, oldest first."""
        rows = self._db.execute(
            "SELECT subject_id, visit_time, model_id, payload FROM visits WHERE subject_id = ? ORDER BY visit_time, id",
            (str(subject_id),),
        ).fetchall()
        return [self._visit(*row) for row in rows]

    def subjects(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT subject_id FROM visits ORDER BY subject_id")]

    @staticmethod
    def _visit(subject_id: str, time: str, model_id: str, payload: str) -> Visit:
        return Visit.from_payload(subject_id, time, model_id, json.loads(payload))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
