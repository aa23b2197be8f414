"""One visit store: `report person` and the web service read and write the same database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from typer.testing import CliRunner

from facehealth.cli import app
from facehealth.report.history import HistoryStore, Visit
from facehealth.serve.db import make_engine, make_sessionmaker
from facehealth.serve.history import LOCAL_OWNER
from facehealth.serve.orm import Analysis, Person, User
from tests.conftest import fixture_path

runner = CliRunner()


def _rows(data_dir):
    engine = make_engine(f"sqlite:///{data_dir / 'facehealth.db'}")
    with make_sessionmaker(engine)() as s:
        people = [
            (p.label, s.get(User, p.owner_id).email, [a.report_text for a in p.analyses])
            for p in s.scalars(select(Person))
        ]
    engine.dispose()
    return people


def test_report_person_keeps_its_visits_in_the_service_database(tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FACEHEALTH_SECRET_KEY", raising=False)
    data = tmp_path / "service"
    args = ["report", "person", "--model", str(tiny_checkpoint), "--subject", "S1", "--no-explain"]
    args += ["--input", str(fixture_path("obama.jpg")), "--data-dir", str(data)]
    first = runner.invoke(app, [*args, "--time", "2026-01-10"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, [*args, "--time", "2026-02-10"])
    assert "Since your last visit on 2026-01-10" in second.output
    [(label, owner, reports)] = _rows(data)
    assert (label, owner, len(reports)) == ("S1", LOCAL_OWNER, 2)  # shell-only use: the local owner
    assert "Since your last visit on 2026-01-10" in reports[1]  # the report is stored with the visit

    # Once the service has an admin, the same person's next visit continues the same history.
    monkeypatch.setenv("FACEHEALTH_ADMIN_PASSWORD", "admin-pass-123")
    assert (
        runner.invoke(app, ["serve", "create-admin", "--email", "a@example.org", "--data-dir", str(data)]).exit_code
        == 0
    )
    third = runner.invoke(app, [*args, "--time", "2026-03-10"])
    assert "Since your last visit on 2026-02-10" in third.output
    assert [len(r) for _, _, r in _rows(data)] == [3]

    gone = runner.invoke(app, ["report", "person", "--history", "old.db", "--model", "m", "--subject", "s"])
    assert gone.exit_code == 2 and "serve import-history old.db" in gone.output


def test_an_old_visit_file_is_imported_once(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FACEHEALTH_SECRET_KEY", raising=False)
    old = tmp_path / "visits.db"
    with HistoryStore(old) as store:
        for subject, day in (("p1", 1), ("p1", 20), ("p2", 5)):
            t = dt.datetime(2025, 6, day, tzinfo=dt.UTC)
            store.add_visit(Visit(subject, t, "ckpt-a", values={"age": 40.0 + day}, probabilities={"cad": 0.2}))
    data = ["--data-dir", str(tmp_path / "service")]
    first = runner.invoke(app, ["serve", "import-history", str(old), *data])
    assert first.exit_code == 0, first.output
    assert "3 visits of 2 people copied" in first.output
    again = runner.invoke(app, ["serve", "import-history", str(old), *data])
    assert "0 visits of 0 people copied" in again.output  # an interrupted import can simply run again
    rows = {label: reports for label, _, reports in _rows(tmp_path / "service")}
    assert {k: len(v) for k, v in rows.items()} == {"p1": 2, "p2": 1}
    assert all("No report was kept" in r for v in rows.values() for r in v)
    engine = make_engine(f"sqlite:///{tmp_path / 'service' / 'facehealth.db'}")
    with make_sessionmaker(engine)() as s:
        ages = [a.payload["values"]["age"] for a in s.scalars(select(Analysis).order_by(Analysis.visit_time))]
    engine.dispose()
    assert ages == [41.0, 45.0, 60.0]
    missing = runner.invoke(app, ["serve", "import-history", str(tmp_path / "nope.db"), *data])
    assert missing.exit_code == 2 and "no such visit file" in missing.output
