from __future__ import annotations

import dataclasses

import pytest

from facehealth.faces.records import QualityReport
from facehealth.report import HistoryStore, NarrativeAdapter, person_report
from facehealth.report.history import Visit
from facehealth.report.messages import MESSAGES_EN


@pytest.fixture(scope="module")
def prediction():
    from facehealth.models.predictor import Prediction

    quality = QualityReport(
        (), face_px=180.0, blur=300.0, brightness=130.0, yaw=3.0, pitch=-2.0, roll=1.0, outside_fraction=0.0
    )
    return Prediction(
        source="selfie.jpg",
        faces_used=3,
        frames_read=3,
        rejected={"blur": 1},
        values={"haemoglobin": 13.2, "crp": 12.0, "age": 57.4},
        probabilities={"cad": 0.46, "affective": {"healthy": 0.6, "MDD": 0.3, "BPD": 0.1}},
        risks={"survival": 0.4},
        quality=(quality, quality, quality),
    )


INTERVALS = {"haemoglobin": (12.1, 14.3), "cad": (0.31, 0.62), "age": (51.0, 63.0)}


def _history(tmp_path, prediction) -> HistoryStore:
    store = HistoryStore(tmp_path / "h.db")
    earlier = dataclasses.replace(
        prediction, values={"haemoglobin": 15.1, "crp": 11.0, "age": 56.0}, probabilities={"cad": 0.22}
    )
    store.add_visit(Visit.from_prediction(earlier, "p1", "model-a", "2026-03-01T10:00:00"))
    store.add_visit(Visit.from_prediction(prediction, "p2", "model-a", "2026-04-01T10:00:00"))  # someone else
    return store


def test_text_has_intervals_trend_quality_and_disclaimer(tmp_path, prediction):
    report = person_report(
        prediction,
        _history(tmp_path, prediction),
        "p1",
        model_id="model-a",
        time="2026-06-01T10:00:00",
        intervals=INTERVALS,
        regions={"cad": ("earlobe", "forehead")},
    )
    text = report.text
    assert "Estimated haemoglobin: 13.2 g/dL (likely range 12.1 to 14.3)" in text
    assert "Estimated chance of coronary artery disease: 46% (likely range 31% to 62%)" in text
    assert "Your face looks about 57 years old (likely range 51 to 63)" in text
    # CRP has no interval and is above its reference range: both said plainly
    assert "Estimated crp: 12.0 mg/L (no likely range is available" in text
    assert "outside the usual range" in text
    assert "Since your last visit on 2026-03-01" in text
    assert "your estimated haemoglobin went down from 15.1 to 13.2" in text
    assert "your estimated chance of coronary artery disease went up from 22% to 46%" in text
    assert "your estimated crp stayed about the same" in text
    assert "earlobe, forehead" in text
    assert "3 face image(s) were used from 3 photo(s)" in text and "blur (1)" in text
    assert "screening aid, not a diagnosis" in text and "talk to your doctor" in text
    assert "'healthy' group: 60%" in text and "MDD 30%" in text
    assert "1.5 times the average hazard" in text  # exp(0.4)
    assert report.visit.subject_id == "p1"
    assert "<h1>" in report.html and "Since your last visit" in report.html


def test_first_visit_differs_and_is_deterministic(tmp_path, prediction):
    empty = HistoryStore(tmp_path / "empty.db")
    first = person_report(prediction, empty, "p1", time="2026-06-01T10:00:00", intervals=INTERVALS)
    again = person_report(prediction, [], "p1", time="2026-06-01T10:00:00", intervals=INTERVALS)
    with_history = person_report(
        prediction, _history(tmp_path, prediction), "p1", time="2026-06-01T10:00:00", intervals=INTERVALS
    )
    assert "first recorded visit" in first.text and "Since your last visit" not in first.text
    assert first.text == again.text
    assert first.text != with_history.text
    # a visit at or after the report's own time is not "earlier"
    later = person_report(prediction, _history(tmp_path, prediction), "p1", time="2026-02-01T10:00:00")
    assert "first recorded visit" in later.text


def test_without_intervals_the_wording_says_so(prediction):
    text = person_report(prediction, None, "p1").text
    assert "(likely range" not in text
    assert text.count("no likely range is available") == 6  # 3 values, 2 probabilities, 1 risk


def test_quality_hints_and_model_change(tmp_path, prediction):
    dim = QualityReport(
        (), face_px=90.0, blur=30.0, brightness=50.0, yaw=28.0, pitch=0.0, roll=0.0, outside_fraction=0.0
    )
    poor = dataclasses.replace(prediction, faces_used=1, quality=(dim,))
    text = person_report(poor, _history(tmp_path, prediction), "p1", model_id="model-b").text
    for key in ("quality.dark", "quality.blurry", "quality.pose", "quality.few"):
        assert MESSAGES_EN[key] in text
    assert MESSAGES_EN["quality.good"] not in text
    assert "model changed since then (model-a to model-b)" in text


def test_another_language_is_a_dict(prediction):
    german = {"disclaimer": "Dieser Bericht ist eine Screening-Hilfe, keine Diagnose.", "name.cad": "KHK"}
    text = person_report(prediction, None, "p1", messages=german).text
    assert "keine Diagnose" in text and "chance of KHK" in text
    assert MESSAGES_EN["disclaimer"] not in text


def test_narrative_adapter_adds_a_summary_and_keeps_the_facts(prediction):
    class Echo:
        def summarize(self, paragraphs, facts):  # noqa: ANN001, ANN201
            return f"{len(paragraphs)} facts; cad {facts['probabilities']['cad']:.2f}"

    assert isinstance(Echo(), NarrativeAdapter)
    plain = person_report(prediction, None, "p1", time="2026-06-01T10:00:00")
    told = person_report(prediction, None, "p1", time="2026-06-01T10:00:00", narrative=Echo())
    assert "cad 0.46" in told.text and told.text.startswith(plain.text.split("\n\n")[0])
    assert set(plain.paragraphs) < set(told.paragraphs)


def test_html_escapes_untrusted_text(prediction):
    report = person_report(prediction, None, "p1", regions={"cad": ("<script>alert(1)</script>",)})
    assert "<script>" not in report.html and "&lt;script&gt;" in report.html


def test_report_visit_scores_reports_then_records(tmp_path, prediction):
    from facehealth.report import report_visit

    class Model:
        def predict(self, source):  # noqa: ANN001, ANN201
            assert source == "selfie.jpg"
            # A calibrated checkpoint's prediction carries its own photo-level intervals.
            return dataclasses.replace(prediction, intervals={"haemoglobin": (12.0, 14.4)})

    store = HistoryStore(tmp_path / "h.db")
    first = report_visit(Model(), "selfie.jpg", store, "p9", model_id="m", time="2026-01-01")
    second = report_visit(Model(), "selfie.jpg", store, "p9", model_id="m", time="2026-02-01")
    assert "first recorded visit" in first.text and "Since your last visit on 2026-01-01" in second.text
    assert "Estimated haemoglobin: 13.2 g/dL (likely range 12.0 to 14.4)" in first.text
    assert len(store.visits("p9")) == 2 and "haemoglobin" in store.visits("p9")[0].intervals
    report_visit(Model(), "selfie.jpg", store, "p9", record=False, time="2026-03-01")
    assert len(store.visits("p9")) == 2


def test_a_model_trained_on_synthetic_faces_says_so_first(prediction):
    import dataclasses

    plain = person_report(prediction, None, "p1", model_id="m")
    assert "synthetic faces" not in plain.text
    synthetic = person_report(dataclasses.replace(prediction, synthetic_model=True), None, "p1", model_id="m")
    assert synthetic.paragraphs[0].startswith("WARNING: this model was trained on synthetic faces")
    assert "not health information" in synthetic.html


def test_change_alerts_against_the_persons_own_visits_with_the_rule_stated(prediction):
    def visit(day, hb, cad):
        p = dataclasses.replace(prediction, values={"haemoglobin": hb, "age": 57.0}, probabilities={"cad": cad})
        return Visit.from_prediction(p, "p1", "model-a", f"2026-03-{day:02d}T10:00:00")

    steady = [visit(d, hb, cad) for d, hb, cad in [(1, 15.0, 0.20), (8, 15.2, 0.22), (15, 14.9, 0.21), (22, 15.1, 0.2)]]
    drop = dataclasses.replace(prediction, values={"haemoglobin": 12.0, "age": 57.0}, probabilities={"cad": 0.21})
    text = person_report(drop, steady, "p1", model_id="model-a", time="2026-04-01T10:00:00").text
    assert "Change alert: your estimated haemoglobin (12.0) is below your own usual range" in text
    assert "from your last 4 visits" in text
    assert "chance of coronary artery disease" not in text.split("Change alert")[-1].split("\n")[0]
    assert "95 of 100 of your own visits" in text  # the rule, in words
    usual = dataclasses.replace(drop, values={"haemoglobin": 15.0, "age": 57.0})
    same = person_report(usual, steady, "p1", model_id="model-a", time="2026-04-01T10:00:00").text
    assert "No change alert" in same
    few = person_report(drop, steady[:2], "p1", model_id="model-a", time="2026-04-01T10:00:00").text
    assert "Change alerts start once there are 3 earlier visits" in few
