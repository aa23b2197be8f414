from __future__ import annotations

import datetime as dt

import pytest

from facehealth.errors import InputError
from facehealth.report.history import HistoryStore, Visit


def _visit(subject: str, day: int, hb: float) -> Visit:
    return Visit(
        subject_id=subject,
        time=dt.datetime(2026, 1, day, 9, 30),
        model_id="m1",
        values={"haemoglobin": hb, "age": 50.0 + day},
        intervals={"haemoglobin": (hb - 1.0, hb + 1.0)},
        probabilities={"cad": 0.2, "affective": {"healthy": 0.7, "MDD": 0.2, "BPD": 0.1}},
        risks={"survival": 0.3},
        quality={"faces_used": 2, "rejected": {"blur": 1}},
        regions={"cad": ("forehead", "earlobe")},
    )


def test_round_trip_sorted_by_time_and_filtered_by_subject(tmp_path):
    path = tmp_path / "sub" / "history.db"
    with HistoryStore(path) as store:
        store.add_visit(_visit("p1", 20, 14.0))
        store.add_visit(_visit("p2", 5, 12.0))
        row = store.add_visit(_visit("p1", 3, 13.0))
        assert row == 3
    store = HistoryStore(path)  # reopened: the file persists
    visits = store.visits("p1")
    assert [v.time.day for v in visits] == [3, 20]
    first = visits[0]
    assert first == _visit("p1", 3, 13.0).__class__(**{**_visit("p1", 3, 13.0).__dict__, "time": first.time})
    assert first.time.tzinfo is not None and first.time.hour == 9  # naive times are stored as UTC
    assert first.intervals["haemoglobin"] == (12.0, 14.0)
    assert first.probabilities["affective"]["MDD"] == 0.2
    assert first.regions["cad"] == ("forehead", "earlobe")
    assert store.visits("nobody") == []
    assert store.subjects() == ["p1", "p2"]


def test_not_a_database(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(InputError, match="not a facehealth history database"):
        HistoryStore(bad)
