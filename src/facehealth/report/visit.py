"""A person's visit from files: checkpoint + photo + history database -> :class:`PersonReport`.

``facehealth report person`` and the web service both call :func:`visit_report`: it scores the
photo, names the facial regions behind each score (Grad-CAM, :mod:`facehealth.explain.photo`),
writes the plain-language report with the trend since the last visit, and stores the visit.

    >>> from facehealth.report.visit import visit_report
    >>> report = visit_report("runs/demo/finetune/checkpoint-best.safetensors", "selfie.jpg",
    ...                       "history.db", "S1")  # doctest: +SKIP
    >>> print(report.text)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from facehealth.report.history import HistoryStore, VisitHistory
from facehealth.report.person import PersonReport, report_visit

__all__ = ["visit_report", "region_names"]


def visit_report(
    model_path: str | Path,
    photo: str | Path,
    history: str | Path | VisitHistory,
    subject: str,
    *,
    record: bool = True,
    time: dt.datetime | str | None = None,
    explain: bool = True,
    explanations_dir: str | Path | None = None,
    messages: Mapping[str, str] | None = None,
) -> PersonReport:
    """Score ``photo`` with the checkpoint at ``model_path`` and report it as a visit of ``subject``.

    Args:
        model_path: a fine-tuned checkpoint (``checkpoint-best.safetensors``); its file name is the
            model id the history keeps (a model change is mentioned in the trend).
        photo: today's photo or video.
        history: the visit history: an open :class:`VisitHistory` (left open; the CLI passes the
            service database's, ``facehealth.serve.history``) or a SQLite visit file (created if
            missing, closed afterwards).
        subject: the person's id.
        record: store this visit in the history (after the report, so the trend compares with the
            visit before this one).
        time: when the photo was taken (default now, UTC).
        explain: add the facial regions behind each score; writes the Grad-CAM panels of the photo
            into ``explanations_dir``.
        explanations_dir: default ``explanations/`` beside the history file (required with a
            history that is not a file).
        messages: a message catalogue for another language (keys of ``MESSAGES_EN``).

    Raises:
        NoFaceError: no face passed the quality gate (nothing is recorded).
    """
    from facehealth.models.loader import load

    regions = None
    if explain:
        from facehealth.explain.photo import explain_photo

        if explanations_dir is None:
            if not isinstance(history, str | Path | HistoryStore):
                raise ValueError("explanations_dir is needed when the history is not a file")
            explanations_dir = _history_folder(history) / "explanations"
        regions = region_names(explain_photo(model_path, photo, explanations_dir, None).top_regions)
    model = load(model_path)
    store = history if isinstance(history, VisitHistory) else HistoryStore(history)
    try:
        return report_visit(
            model,
            photo,
            store,
            subject,
            model_id=Path(model_path).name,
            record=record,
            time=time,
            regions=regions,
            messages=messages,
        )
    finally:
        if store is not history:
            store.close()


def region_names(top_regions: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Explanation targets -> report keys, region ids -> words.

    ``explain_photo`` labels a target ``task:column`` (``biomarkers:haemoglobin``) and a region by
    its id (``periorbital_left``); the report keys scores by column and prints words
    (``{"haemoglobin": ["periorbital left", ...]}``).
    """
    return {label.split(":")[-1]: [r.replace("_", " ") for r in regions] for label, regions in top_regions.items()}


def _history_folder(history: str | Path | HistoryStore) -> Path:
    return (history.path if isinstance(history, HistoryStore) else Path(history)).parent
