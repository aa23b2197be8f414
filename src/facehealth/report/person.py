"""The per-person risk report (DigitalShadow's natural-language report), from deterministic templates.

    >>> from facehealth.report import HistoryStore, person_report
    >>> report = person_report(prediction, HistoryStore("history.db"), "p001")  # doctest: +SKIP
    >>> print(report.text)  # doctest: +SKIP

Every sentence comes from :mod:`facehealth.report.messages`, so the same facts always give the
same words and another language is another message dict. A local language model may add a
summary through :class:`NarrativeAdapter`; it is off by default and the template text is always
kept in full beside it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from facehealth.data.biomarkers import BIOMARKERS
from facehealth.report.alerts import MIN_VISITS, ChangeCheck, change_checks, rule_text
from facehealth.report.history import Visit, VisitHistory
from facehealth.report.messages import Translator

__all__ = ["PersonReport", "NarrativeAdapter", "person_report", "report_visit"]

# Display bands for a binary probability. They describe where the estimate sits in the model's
# output range and are NOT clinical decision thresholds (those come from a validation study).
_BANDS = ((0.15, "band.low"), (0.40, "band.moderate"), (1.01, "band.high"))
# Advisory quality levels, stricter than the quality gate's hard limits (faces.config): a face that
# passed the gate can still be dim, soft or turned enough to make estimates noisier.
_DIM_BRIGHTNESS, _SOFT_BLUR, _TURNED_DEG = 70.0, 60.0, 20.0
# Changes smaller than this share of the usual (reference or likely) range, or than this log-ratio
# for skewed markers, are "about the same"; probabilities: less than 10 percentage points.
_SAME_FRACTION = 0.1
_SAME_PROBABILITY = 0.10


@runtime_checkable
class NarrativeAdapter(Protocol):
    """A local language model that writes a short summary from the report's facts (optional)."""

    def summarize(self, paragraphs: Sequence[str], facts: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class PersonReport:
    subject_id: str
    text: str
    html: str
    paragraphs: tuple[str, ...]
    visit: Visit


def person_report(
    prediction: Any,
    history: VisitHistory | Sequence[Visit] | None,
    subject_id: str,
    *,
    model_id: str = "",
    time: dt.datetime | str | None = None,
    intervals: Mapping[str, Sequence[float]] | None = None,
    regions: Mapping[str, Sequence[str]] | None = None,
    messages: Mapping[str, str] | None = None,
    narrative: NarrativeAdapter | None = None,
) -> PersonReport:
    """A plain-language report of one visit, with the trend since the person's previous visit.

    Args:
        prediction: a ``facehealth.models.predictor.Prediction`` (values, probabilities, risks, quality).
        history: the person's earlier visits (a VisitHistory or a list of Visit); None = no history.
        subject_id: whose report it is.
        model_id: the checkpoint that produced ``prediction`` (a model change is mentioned in the trend).
        time: when the visit happened (default now, UTC); visits at or after it are not "earlier".
        intervals: per value/probability key, a (low, high) interval; default the prediction's
            own (calibrated on the photos it averaged, facehealth.models.calibration); without one
            the wording says so.
        regions: per key, the facial regions that contributed most (from facehealth.explain).
        messages: a message catalogue for another language (keys of ``MESSAGES_EN``).
        narrative: optional local language model; its summary is added, never substituted.
    """
    _ = Translator(messages)
    if intervals is None:
        intervals = getattr(prediction, "intervals", None) or None
    visit = Visit.from_prediction(prediction, subject_id, model_id, time, intervals, regions)
    earlier = history.visits(subject_id) if isinstance(history, VisitHistory) else list(history or [])
    earlier = [v for v in earlier if v.subject_id == str(subject_id) and v.time < visit.time]
    previous = earlier[-1] if earlier else None

    scores = _score_lines(visit, _)
    quality = _quality_lines(visit.quality, _)
    trend = _trend_lines(visit, previous, _) + _alert_lines(change_checks([*earlier, visit]), visit, _)
    next_steps = [_("next.discuss"), _("next.urgent"), _("disclaimer")]
    intro = _("intro", faces=visit.quality.get("faces_used", 0), model=model_id or "unnamed model")
    if getattr(prediction, "synthetic_model", False):  # from the checkpoint's record of its cohort
        intro = f"{_('synthetic_model')}\n\n{intro}"
    sections = [
        (_("heading.scores"), scores),
        (_("heading.quality"), quality),
        (_("heading.trend"), trend),
        (_("heading.next"), next_steps),
    ]
    if narrative is not None:
        facts = visit.payload() | {"previous": previous.payload() if previous else None}
        summary = narrative.summarize([intro, *(p for _h, ps in sections for p in ps)], facts).strip()
        if summary:
            sections.insert(0, (_("heading.summary"), [_("narrative.label"), summary]))
    paragraphs = (intro, *(p for _h, ps in sections for p in ps))
    text = "\n\n".join([_("title"), intro, *(f"{h}\n" + "\n".join(_bullets(ps)) for h, ps in sections)]) + "\n"
    return PersonReport(str(subject_id), text, _html(_("title"), intro, sections), paragraphs, visit)


def _bullets(lines: list[str]) -> list[str]:
    """A lead line (ending with a colon) stays as it is; the others become list items."""
    return [p if p.endswith(":") else f"- {p}" for p in lines]


def report_visit(
    model: Any,
    source: Any,
    history: VisitHistory,
    subject_id: str,
    *,
    model_id: str = "",
    regions: Mapping[str, Sequence[str]] | None = None,
    record: bool = True,
    messages: Mapping[str, str] | None = None,
    time: dt.datetime | str | None = None,
) -> PersonReport:
    """Score ``source`` (photo, video or RGB array) with a ``FaceHealthModel``, write the report and,
    when ``record``, store the visit in ``history`` (after the report, so the trend compares with
    the visit before this one).

    Regression values carry the model's photo-level 90% intervals when its checkpoint was
    calibrated (``Prediction.intervals``).

    Raises:
        NoFaceError: no face passed the quality gate (nothing is recorded).
    """
    prediction = model.predict(source)
    report = person_report(
        prediction,
        history,
        subject_id,
        model_id=model_id,
        time=time,
        regions=regions,
        messages=messages,
    )
    if record:
        history.add_visit(report.visit, report)
    return report


def _num(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _interval(visit: Visit, key: str, _: Translator, fmt: Callable[[float], str] = _num) -> str:
    if key in visit.intervals:
        low, high = visit.intervals[key]
        return _("interval", low=fmt(low), high=fmt(high))
    return _("no_interval")


def _regions(visit: Visit, key: str, _: Translator) -> list[str]:
    regions = visit.regions.get(key)
    return [_("regions", regions=", ".join(regions))] if regions else []


def _score_lines(visit: Visit, _: Translator) -> list[str]:
    lines: list[str] = []
    for key, value in visit.values.items():
        if key == "age":
            lines.append(_("value.age", value=_num(value, 0), interval=_interval(visit, key, _, lambda x: _num(x, 0))))
        elif key in BIOMARKERS:
            b = BIOMARKERS[key]
            line = _(
                "value.biomarker",
                name=_.name(key),
                value=_num(value),
                unit=b.unit,
                interval=_interval(visit, key, _),
                low=_num(b.ref_low),
                high=_num(b.ref_high),
            )
            if not b.ref_low <= value <= b.ref_high:
                line += " " + _("value.outside")
            lines.append(line)
        else:
            lines.append(_("value.generic", name=_.name(key), value=_num(value), interval=_interval(visit, key, _)))
        lines += _regions(visit, key, _)
    for key, prob in visit.probabilities.items():
        if isinstance(prob, Mapping):
            ranked = sorted(prob.items(), key=lambda kv: -kv[1])
            top, p = ranked[0]
            others = ", ".join(_("prob.multiclass.other", label=k, value=_pct(v)) for k, v in ranked[1:])
            lines.append(
                _("prob.multiclass", label=top, value=_pct(p), interval=_interval(visit, key, _, _pct), others=others)
            )
        else:
            band = next(msg for cut, msg in _BANDS if prob < cut)
            lines.append(
                _(
                    "prob.binary",
                    name=_.name(key),
                    value=_pct(prob),
                    interval=_interval(visit, key, _, _pct),
                    band=_(band),
                )
            )
        lines += _regions(visit, key, _)
    for key, risk in visit.risks.items():
        # A Cox head outputs the log relative hazard; exp() is the hazard relative to the training mean.
        hr = lambda r: _num(math.exp(r), 1)  # noqa: E731
        lines.append(_("risk.cox", name=_.name(key), value=hr(risk), interval=_interval(visit, key, _, hr)))
        lines += _regions(visit, key, _)
    return lines


def _quality_lines(quality: Mapping[str, Any], _: Translator) -> list[str]:
    lines = [_("quality.used", faces=quality.get("faces_used", 0), frames=quality.get("frames_read", 0))]
    rejected = quality.get("rejected") or {}
    if rejected:
        reasons = ", ".join(f"{k.replace('_', ' ')} ({v})" for k, v in sorted(rejected.items()))
        lines.append(_("quality.rejected", count=sum(rejected.values()), reasons=reasons))
    hints = []
    if quality.get("brightness", 255) < _DIM_BRIGHTNESS:
        hints.append(_("quality.dark"))
    if quality.get("blur", math.inf) < _SOFT_BLUR:
        hints.append(_("quality.blurry"))
    if max(quality.get("yaw", 0), quality.get("pitch", 0)) > _TURNED_DEG:
        hints.append(_("quality.pose"))
    if quality.get("faces_used", 0) == 1:
        hints.append(_("quality.few"))
    return lines + (hints or [_("quality.good")])


def _scale(visit: Visit, key: str) -> float:
    """The size of change that matters for ``key``: the reference range, else the likely range, else 1."""
    if key in BIOMARKERS:
        return BIOMARKERS[key].ref_high - BIOMARKERS[key].ref_low
    if key in visit.intervals:
        low, high = visit.intervals[key]
        return max(high - low, 1e-9)
    return 10.0 if key == "age" else 1.0


def _about_same(visit: Visit, key: str, before: float, after: float, probability: bool) -> bool:
    if probability:
        return abs(after - before) < _SAME_PROBABILITY
    b = BIOMARKERS.get(key)
    if b is not None and b.log_normal and before > 0 and after > 0:
        # Skewed markers (CRP, enzymes) vary multiplicatively: compare ratios, not differences.
        return abs(math.log(after / before)) < _SAME_FRACTION
    return abs(after - before) < _SAME_FRACTION * _scale(visit, key)


def _trend_lines(visit: Visit, previous: Visit | None, _: Translator) -> list[str]:
    if previous is None:
        return [_("trend.first")]
    lines = [_("trend.since", date=previous.time.date().isoformat())]
    pairs: list[tuple[str, float, float, Any]] = []
    pairs += [(k, previous.values[k], v, _num) for k, v in visit.values.items() if k in previous.values]
    pairs += [
        (k, previous.probabilities[k], p, _pct)
        for k, p in visit.probabilities.items()
        if not isinstance(p, Mapping) and isinstance(previous.probabilities.get(k), int | float)
    ]
    for key, before, after, fmt in pairs:
        name = _("name.chance", name=_.name(key)) if fmt is _pct else _.name(key)
        if _about_same(visit, key, before, after, fmt is _pct):
            lines.append(_("trend.same", name=name, before=fmt(before), after=fmt(after)))
        else:
            msg = "trend.up" if after > before else "trend.down"
            lines.append(_(msg, name=name, before=fmt(before), after=fmt(after)))
    if previous.model_id and visit.model_id and previous.model_id != visit.model_id:
        lines.append(_("trend.model_changed", before=previous.model_id, after=visit.model_id))
    return lines


def _alert_lines(checks: Mapping[str, ChangeCheck], visit: Visit, _: Translator) -> list[str]:
    """Each estimate against the person's own baseline (facehealth.report.alerts), then the rule."""
    shown = [c for k, c in checks.items() if k in visit.values or k in visit.probabilities]
    ready = [c for c in shown if c.status != "not_enough_visits"]
    if not ready:
        return [_("alert.not_yet", n=MIN_VISITS)] if shown else []
    lines = []
    for c in ready:
        if c.alert:
            probability = c.key in visit.probabilities
            fmt = _pct if probability else _num
            name = _("name.chance", name=_.name(c.key)) if probability else _.name(c.key)
            values = {"after": fmt(c.value), "low": fmt(c.low), "high": fmt(c.high)}
            lines.append(_(f"alert.{c.direction}", name=name, n=c.n_baseline, **values))
    return (lines or [_("alert.none")]) + [rule_text()]


def _html(title: str, intro: str, sections: list[tuple[str, list[str]]]) -> str:
    from facehealth.report.render import render_template

    parts = [(h, [p for p in ps if p.endswith(":")], [p for p in ps if not p.endswith(":")]) for h, ps in sections]
    return render_template("person.html", title=title, intro=intro, sections=parts)
