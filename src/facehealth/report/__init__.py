"""Reports: the cohort report of a run (HTML, PDF, screenshot) and the per-person risk report.

:func:`visit_report` is the per-person report from files (checkpoint, photo, history database).

>>> from facehealth.report import build_report, report_pdf
>>> html = build_report("runs/demo")  # doctest: +SKIP
>>> report_pdf(html)  # doctest: +SKIP
"""

from __future__ import annotations

from facehealth.report.cohort import build_report
from facehealth.report.history import HistoryStore, Visit
from facehealth.report.person import NarrativeAdapter, PersonReport, person_report, report_visit
from facehealth.report.render import RenderError, find_chromium, report_pdf, screenshot
from facehealth.report.visit import visit_report

__all__ = [
    "build_report",
    "report_pdf",
    "screenshot",
    "find_chromium",
    "RenderError",
    "HistoryStore",
    "Visit",
    "person_report",
    "report_visit",
    "visit_report",
    "PersonReport",
    "NarrativeAdapter",
]
