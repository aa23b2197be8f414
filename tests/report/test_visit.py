from __future__ import annotations

from facehealth.models.multitask import TaskSpec
from facehealth.report.history import HistoryStore
from facehealth.report.visit import region_names, visit_report
from tests.conftest import fixture_path
from tests.explain.conftest import untrained_checkpoint

TASKS = [TaskSpec("age", "regression", ("age",)), TaskSpec("cad", "binary", ("cad",))]


def test_visit_report_explains_scores_and_records_each_visit(tmp_path):
    model, photo, history = untrained_checkpoint(tmp_path, TASKS), fixture_path("obama.jpg"), tmp_path / "h" / "h.db"
    first = visit_report(model, photo, history, "p1", time="2026-01-10")
    assert "first recorded visit" in first.text and "not a diagnosis" in first.text
    assert set(first.visit.regions) == {"age", "cad"} and all(len(r) == 3 for r in first.visit.regions.values())
    assert "The facial regions that contributed most to this estimate" in first.text
    assert (tmp_path / "h" / "explanations" / "obama_gradcam.png").is_file()  # beside the history by default
    assert first.visit.model_id == model.name

    second = visit_report(model, photo, history, "p1", time="2026-07-02", explain=False, record=False)
    assert "Since your last visit on 2026-01-10" in second.text and not second.visit.regions
    with HistoryStore(history) as store:
        assert len(store.visits("p1")) == 1  # record=False left the history as it was
        visit_report(model, photo, store, "p1", time="2026-08-01", explanations_dir=tmp_path / "x")
        assert len(store.visits("p1")) == 2  # an open store is used and left open
    assert (tmp_path / "x" / "obama_gradcam.png").is_file()


def test_region_names_key_by_column_and_read_as_words():
    top = {"biomarkers:haemoglobin": ("periorbital_left", "nose"), "cad": ("chin_jaw",)}
    assert region_names(top) == {"haemoglobin": ["periorbital left", "nose"], "cad": ["chin jaw"]}
