"""Message catalogue of the person report: every sentence is a template keyed by an id.

Another language is another dict with the same keys (missing keys fall back to English), passed
as ``messages=`` to :func:`facehealth.report.person.person_report`. Templates use ``str.format``
fields; numbers are formatted by the caller so a catalogue only moves words around.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["MESSAGES_EN", "Translator"]

MESSAGES_EN: dict[str, str] = {
    "title": "Your face-based health screening report",
    "synthetic_model": (
        "WARNING: this model was trained on synthetic faces with planted effects, not on real people. "
        "Its numbers show that the software runs; they are not health information about you."
    ),
    "intro": (
        "These estimates were computed from {faces} face image(s) by a statistical model ({model}). "
        "Each estimate comes with a likely range where one is available."
    ),
    "heading.scores": "Your estimates",
    "heading.quality": "Input quality",
    "heading.trend": "Changes over time",
    "heading.next": "What to do with this report",
    "heading.summary": "Summary",
    "value.biomarker": "Estimated {name}: {value} {unit}{interval}. The usual adult range is {low}-{high} {unit}.",
    "value.outside": "This estimate is outside the usual range; a blood test can tell whether it is really so.",
    "value.generic": "Estimated {name}: {value}{interval}.",
    "value.age": "Your face looks about {value} years old{interval}.",
    "prob.binary": "Estimated chance of {name}: {value}{interval}. {band}",
    "band.low": "This is in the lower range the model produces.",
    "band.moderate": "This is in the middle range the model produces.",
    "band.high": "This is in the higher range the model produces; it is worth mentioning to a doctor.",
    "prob.multiclass": (
        "The pattern in your images is most similar to the '{label}' group: {value}{interval}; {others}."
    ),
    "prob.multiclass.other": "{label} {value}",
    "risk.cox": (
        "Your {name} risk score corresponds to about {value} times the average hazard of the people the model "
        "was trained on{interval}."
    ),
    "interval": " (likely range {low} to {high})",
    "no_interval": " (no likely range is available for this estimate, so treat the number as approximate)",
    "regions": "The facial regions that contributed most to this estimate: {regions}.",
    "quality.used": "{faces} face image(s) were used from {frames} photo(s) or video frame(s).",
    "quality.rejected": "{count} face(s) or frame(s) were set aside because of: {reasons}.",
    "quality.good": "The image quality was adequate for the model.",
    "quality.dark": "The images were rather dark; better light gives more reliable estimates.",
    "quality.blurry": "The images were somewhat blurry; a sharper photo gives more reliable estimates.",
    "quality.pose": "The face was turned away from the camera; a frontal photo gives more reliable estimates.",
    "quality.few": "Only one face image was usable; several photos give more stable estimates.",
    "trend.first": "This is your first recorded visit; later visits will show how your estimates change.",
    "trend.since": "Since your last visit on {date}:",
    "trend.up": "your estimated {name} went up from {before} to {after}.",
    "trend.down": "your estimated {name} went down from {before} to {after}.",
    "trend.same": "your estimated {name} stayed about the same ({before} then {after}).",
    "trend.model_changed": (
        "The model changed since then ({before} to {after}), so differences may come from the model."
    ),
    "alert.up": (
        "Change alert: your estimated {name} ({after}) is above your own usual range ({low} to {high}, "
        "from your last {n} visits)."
    ),
    "alert.down": (
        "Change alert: your estimated {name} ({after}) is below your own usual range ({low} to {high}, "
        "from your last {n} visits)."
    ),
    "alert.none": "No change alert: every estimate is within your own usual range.",
    "alert.not_yet": "Change alerts start once there are {n} earlier visits scored by this model.",
    "next.discuss": (
        "If any estimate worries you, or you have symptoms, talk to your doctor: they can order the blood tests "
        "or examinations that actually measure these things."
    ),
    "next.urgent": "If you have chest pain, shortness of breath or thoughts of harming yourself, seek urgent care now.",
    "disclaimer": (
        "This report is a screening aid, not a diagnosis. It is produced by a research model from photographs, "
        "can be wrong, and must not be used to start, stop or change any treatment."
    ),
    "narrative.label": "Summary written by a local language model from the facts below (the facts take precedence):",
    "name.chance": "chance of {name}",
    "name.cad": "coronary artery disease",
    "name.survival": "mortality",
    "name.affective": "mood pattern",
    "name.age": "biological age",
}


class Translator:
    """gettext-style lookup: ``_("trend.up", name=..., before=..., after=...)``."""

    def __init__(self, messages: Mapping[str, str] | None = None) -> None:
        self.messages = {**MESSAGES_EN, **(messages or {})}

    def __call__(self, key: str, **fields: object) -> str:
        return self.messages[key].format(**fields)

    def name(self, key: str) -> str:
        """A display name for a task or label column (catalogue entry ``name.<key>`` or the key spelled out)."""
        return self.messages.get(f"name.{key}", key.replace("_", " "))
