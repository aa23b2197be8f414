"""Schemathesis against the served OpenAPI spec, signed in and not: no 5xx, and every documented
response matches its schema. Generated requests hit the real server (SQLite) over HTTP."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

# Bounded so the suite stays fast: a few examples per operation and caller (~25 operations).
EXAMPLES = 8


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
