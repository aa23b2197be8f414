"""Schemathesis against the served OpenAPI spec, signed in and not: no 5xx, and every documented
response matches its schema; then stateful call sequences. Generated requests hit the real
server (SQLite) over HTTP."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    response_schema_conformance,
    use_after_free,
)

from tests.serve.conftest import ADMIN

# Bounded so the suite stays fast: a few examples per operation and caller (~25 operations).
EXAMPLES = 8
STATEFUL_EXAMPLES = 15  # call sequences of up to 6 steps each


@pytest.fixture(scope="module")
def served(sqlite_server):
    token, _ = sqlite_server.user()
    # A person the signed-in fuzzer owns, so person routes get past the ownership check too.
    sqlite_server.call("POST", "/api/people", token=token, json_body={"label": "fuzz"})
    return sqlite_server, schemathesis.openapi.from_url(f"{sqlite_server.url}/openapi.json"), token


def _operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_no_server_error_and_every_response_matches_the_spec(served, signed_in):
    from hypothesis import given

    server, schema, token = served
    headers = {"Authorization": f"Bearer {token}"} if signed_in else {}
    failures: list[str] = []
    for operation in _operations(schema):

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case) -> None:
            case.call_and_validate(
                base_url=server.url,
                headers=headers,
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
                timeout=60,
            )

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:400]}")
    assert not failures, "\n".join(failures)


# Stateful: Schemathesis chains calls along the links it infers from the spec (POST /api/people
# returns an id that GET/DELETE /api/people/{person_id} and the analysis routes take), so the
# generated requests reach real records: a person is created, read, analysed, exported, deleted,
# then read again (that must be a 404, never a stale record: use_after_free).
STATEFUL_CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    use_after_free,
    ensure_resource_availability,
]


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_stateful_call_sequences_never_fail_and_deleted_records_stay_deleted(served, role):
    server, schema, token = served
    if role == "admin":
        token = server.login(*ADMIN)["access_token"]
    machine = schema.as_state_machine()
    assert any("POST_api_people___201" in name for name in dir(machine)), "no links inferred: nothing is chained"
    headers = {"Authorization": f"Bearer {token}"}

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case):  # noqa: ANN001, ANN202
            return {"base_url": server.url, "headers": headers, "timeout": 60}

        def validate_response(self, response, case, additional_checks=None, **kwargs):  # noqa: ANN001, ANN202
            case.validate_response(response, checks=STATEFUL_CHECKS, headers=headers, transport_kwargs=kwargs)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
