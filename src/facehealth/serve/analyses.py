"""Scoring an upload and storing it as a visit; the person report comes from facehealth.report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from facehealth.report.alerts import alert_history, alerts_payload, change_checks
from facehealth.report.history import Visit
from facehealth.report.person import person_report
from facehealth.serve.orm import Analysis, Person, utcnow

__all__ = [
    "ModelHandle",
    "load_model",
    "score",
    "record_analysis",
    "visits_of",
    "export_csv",
    "analysis_dict",
    "history_dicts",
    "latest_alerts",
]


class ModelHandle:
    """The model loaded once at startup, with what the API says about it."""

    def __init__(self, model: Any, path: Path) -> None:
        self.model = model
        self.path = path
        self.model_id = path.name
        self.meta = meta = model.meta
        # One prediction at a time: the face pipeline's TFLite interpreter and dlib predictor are
        # not safe to call from two threads at once (uploads and live sessions share this model).
        self._lock = threading.Lock()
        self.card: dict[str, Any] = {
            "model_id": self.model_id,
            "backbone": meta.backbone,
            "img_size": meta.img_size,
            "tasks": [t.name for t in meta.tasks],
            "synthetic": bool(meta.synthetic),
            "best_epoch": meta.best_epoch,
            "intended_use": "research and personal tracking; not a medical device and not a diagnosis",
        }

    def predict(self, source: Any) -> Any:
        """The model's prediction, one caller at a time (also what the live engine calls)."""
        with self._lock:
            return self.model.predict(source)


def load_model(path: Path) -> ModelHandle:
    from facehealth.models.loader import load

    return ModelHandle(load(path), path)


def score(handle: ModelHandle, rgb: np.ndarray) -> tuple[Any, dict[str, tuple[float, float]] | None]:
    """Blocking (torch): the routes call it in the threadpool. Raises NoFaceError.

    The intervals are the prediction's own: calibrated by the checkpoint on single photos
    (facehealth.models.calibration); None when the checkpoint was not calibrated.
    """
    prediction = handle.predict(rgb)
    return prediction, dict(prediction.intervals) or None


def _aware(time: dt.datetime) -> dt.datetime:
    return time.replace(tzinfo=dt.UTC) if time.tzinfo is None else time


def visits_of(person: Person) -> list[Visit]:
    """The person's stored analyses as report Visits, oldest first: the history the report reads."""
    out = []
    for a in person.analyses:
        out.append(Visit.from_payload(person.label, _aware(a.visit_time), a.model_id, a.payload))
    return out


def record_analysis(
    session: Session,
    person: Person,
    handle: ModelHandle,
    prediction: Any,
    intervals: dict[str, tuple[float, float]] | None,
    image_encrypted: bytes | None,
) -> Analysis:
    """Write the person report (trend against the stored visits) and store this visit with it."""
    time = utcnow().replace(microsecond=0)
    history = visits_of(person)
    if history and history[-1].time >= time:  # two uploads within a second stay in order
        time = history[-1].time + dt.timedelta(seconds=1)
    report = person_report(prediction, history, person.label, model_id=handle.model_id, time=time, intervals=intervals)
    analysis = Analysis(
        person_id=person.id,
        visit_time=time,
        model_id=handle.model_id,
        model_card=handle.card,
        payload=report.visit.payload(),
        warnings=list(prediction.warnings),
        report_text=report.text,
        report_html=report.html,
        image_encrypted=image_encrypted,
    )
    session.add(analysis)
    session.flush()
    session.refresh(person)
    return analysis


def analysis_dict(a: Analysis) -> dict[str, Any]:
    return {
        "id": a.id,
        "person_id": a.person_id,
        "time": _aware(a.visit_time).isoformat(),
        "model_id": a.model_id,
        "warnings": a.warnings,
        "image_stored": a.image_encrypted is not None,
        **a.payload,
    }


def history_dicts(person: Person) -> list[dict[str, Any]]:
    """Every analysis, oldest first, each with its change-alert status per score against the ones before."""
    checks = alert_history(visits_of(person))
    return [
        analysis_dict(a) | {"alerts": {k: c.status for k, c in ch.items()}}
        for a, ch in zip(person.analyses, checks, strict=True)
    ]


def latest_alerts(person: Person) -> dict[str, Any]:
    """The latest visit's change checks against the person's own earlier visits, with the rule."""
    return alerts_payload(change_checks(visits_of(person)))


def export_csv(person: Person) -> str:
    """One row per visit: time, model, then every value, probability, risk and interval bound."""
    rows = []
    for a in person.analyses:
        row: dict[str, Any] = {"time": _aware(a.visit_time).isoformat(), "model_id": a.model_id}
        p = a.payload
        row.update(p.get("values", {}))
        for k, v in p.get("probabilities", {}).items():
            if isinstance(v, dict):
                row.update({f"{k}:{c}": x for c, x in v.items()})
            else:
                row[f"{k}:probability"] = v
        row.update({f"{k}:risk": v for k, v in p.get("risks", {}).items()})
        for k, (lo, hi) in p.get("intervals", {}).items():
            row[f"{k}:low"], row[f"{k}:high"] = lo, hi
        row["faces_used"] = p.get("quality", {}).get("faces_used", 0)
        rows.append(row)
    fields = list(dict.fromkeys(k for r in rows for k in r)) or ["time", "model_id"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
