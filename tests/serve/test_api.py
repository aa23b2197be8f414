"""The API end to end against a real uvicorn process, on SQLite and PostgreSQL."""

import csv
import io

from tests.conftest import fixture_path


def _person(server, token, label="P1"):
    reply = server.call("POST", "/api/people", token=token, json_body={"label": label})
    assert reply.status == 201, reply.body
    return reply.json()["id"]


def _upload(server, token, pid, name="obama.jpg", **fields):
    files = {"image": (name, fixture_path(name).read_bytes())}
    return server.call("POST", f"/api/people/{pid}/analyses", token=token, files=files, fields=fields)


def test_health_ready_and_docs(server):
    assert server.call("GET", "/health").json() == {"status": "ok"}
    assert server.call("GET", "/ready").json()["model_id"] == "checkpoint-best.safetensors"
    spec = server.call("GET", "/openapi.json").json()
    assert "/api/people/{person_id}/analyses" in spec["paths"]
    docs = server.call("GET", "/docs")
    assert docs.status == 200 and docs.headers["content-security-policy"].startswith("default-src 'self'")
    html = docs.body.decode()
    for path, item in spec["paths"].items():  # every route of the spec is on the page, with its methods
        for method in item:
            assert f"{method.upper()} {path}" in html, (method, path)
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    assert "<script" not in html and "cdn" not in html.lower()  # works offline, under the strict policy
    assert server.call("GET", "/redoc").status == 404


def test_security_headers_and_no_cors_by_default(server):
    reply = server.call("GET", "/health")
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in reply.headers["content-security-policy"]
    assert "access-control-allow-origin" not in reply.headers


def test_upload_history_report_export_delete(server):
    token, _ = server.user()
    pid = _person(server, token)
    first = _upload(server, token, pid)
    assert first.status == 201, first.body
    result = first.json()
    assert set(result["values"]) == {"age"} and "cad" in result["probabilities"]
    assert result["quality"]["faces_used"] == 1 and not result["image_stored"]
    assert "synthetic" in result["warnings"][0]
    assert _upload(server, token, pid, "obama2.jpg", store_image="true").json()["image_stored"]

    history = server.call("GET", f"/api/people/{pid}/analyses", token=token).json()
    assert len(history) == 2 and history[0]["time"] < history[1]["time"]
    text = server.call("GET", f"/api/people/{pid}/report.txt", token=token).body.decode()
    assert "P1" in text or "Since" in text or "since" in text  # the second visit reports a trend
    html = server.call("GET", f"/api/people/{pid}/report.html", token=token)
    assert html.status == 200 and b"<html" in html.body.lower()

    exported = server.call("GET", f"/api/people/{pid}/export.json", token=token).json()
    assert len(exported["analyses"]) == 2
    rows = list(
        csv.DictReader(io.StringIO(server.call("GET", f"/api/people/{pid}/export.csv", token=token).body.decode()))
    )
    assert len(rows) == 2 and float(rows[0]["age"]) == history[0]["values"]["age"]

    model = server.call("GET", "/api/model", token=token).json()
    assert model["synthetic"] is True and "age" in model["tasks"]

    assert server.call("DELETE", f"/api/people/{pid}", token=token).status == 204
    assert server.call("GET", f"/api/people/{pid}/analyses", token=token).status == 404


def test_a_self_user_holds_one_person(server):
    token, _ = server.user("self")
    _person(server, token, "me")
    reply = server.call("POST", "/api/people", token=token, json_body={"label": "someone else"})
    assert reply.status == 403


def test_report_before_any_visit_is_404_json(server):
    token, _ = server.user()
    pid = _person(server, token)
    reply = server.call("GET", f"/api/people/{pid}/report.txt", token=token)
    assert reply.status == 404 and reply.json()["error"]["code"] == "no_visits"


def test_change_alerts_follow_the_persons_own_visits(server):
    from facehealth.report.alerts import check_change

    token, _ = server.user()
    pid = _person(server, token)
    assert server.call("GET", f"/api/people/{pid}/alerts", token=token).status == 404
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"):
        assert _upload(server, token, pid, name).status == 201
    history = server.call("GET", f"/api/people/{pid}/analyses", token=token).json()
    assert [h["alerts"]["age"] for h in history[:3]] == ["not_enough_visits"] * 3
    latest = server.call("GET", f"/api/people/{pid}/alerts", token=token).json()
    assert "95 of 100" in latest["rule"] and latest["alpha"] == 0.05
    assert set(latest["checks"]) == {"age", "cad", "survival_risk"}
    ages = [h["values"]["age"] for h in history]
    expected = check_change(ages[:3], ages[3], "age")  # the library's rule on the values the API returned
    age = latest["checks"]["age"]
    assert age["status"] == expected.status and age["n_baseline"] == 3
    assert age["low"] == expected.low and age["high"] == expected.high
    assert {k: c["status"] for k, c in latest["checks"].items()} == history[-1]["alerts"]
    report = server.call("GET", f"/api/people/{pid}/report.txt", token=token).body.decode()
    assert "your own usual range" in report
