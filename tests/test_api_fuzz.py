"""Fuzz the HTTP API from its own OpenAPI document with schemathesis, over real HTTP.

Every operation gets generated requests, valid and invalid; none may answer 5xx, and every
response must match the schema the API publishes for it.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from live import serve
from nectarine import Nectarine
from nectarine.handoff.store import TicketStore
from nectarine.service import Settings, create_app

HEADERS = {"X-Site-Key": "demo-public-key", "Authorization": "Bearer fuzz-admin"}


@pytest.fixture(scope="module")
def api(kb_index, embedder, tmp_path_factory):
    nec = Nectarine.load(kb_index, embedder=embedder)
    nec.attach_store(TicketStore(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'db.sqlite'}"))
    # The re-index route is fuzzed too: it re-reads a corpus that is not there and must say so (422), not fail.
    app = create_app(Settings(rate_limit="100000/minute", rate_limit_other="100000/minute", admin_token="fuzz-admin",
                              corpus=str(tmp_path_factory.mktemp("no-corpus") / "missing")), nectarine=nec)
    with serve(app) as url:
        yield url


def test_no_5xx_and_responses_match_the_schema(api):
    # (schemathesis's pytest plugin does not load under this pytest; its engine is driven directly.)
    schema = schemathesis.openapi.from_url(f"{api}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures = {}
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            case.call_and_validate(headers=HEADERS, checks=[not_a_server_error, response_schema_conformance], timeout=60)

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - collected so one run reports every failing operation
            failures[op.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
