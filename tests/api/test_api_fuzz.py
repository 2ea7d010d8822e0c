"""Fuzz the HTTP API from its own OpenAPI document with schemathesis, over real HTTP.

Every operation gets generated requests, valid and invalid; none may answer 5xx, and every
response must match the schema the API publishes for it. A second run sends every JSON route
hostile bodies that schemathesis does not generate: arbitrary Unicode with lone surrogates,
non-finite numbers, wrong shapes at every depth.
"""

import json

import pytest
import schemathesis
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from support.live import serve
from nectarine import Nectarine
from nectarine.store import TicketStore
from nectarine.api import Settings, create_app

HEADERS = {"X-Site-Key": "demo-public-key", "Authorization": "Bearer fuzz-admin"}


@pytest.fixture(scope="module")
def api(kb_index, embedder, tmp_path_factory):
    nec = Nectarine.load(kb_index, embedder=embedder)
    nec.attach_store(TicketStore(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'db.sqlite'}"))
    # The re-index route is fuzzed too: it re-reads a corpus that is not there and must say so (422), not fail.
    app = create_app(Settings(rate_limit="100000/minute", rate_limit_other="100000/minute", rate_limit_any="100000/minute",
                              rate_limit_admin="100000/minute", admin_lockout="100000 per minute", admin_token="fuzz-admin",
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


# Any code point, lone surrogates (category Cs) included: json.dumps writes them as \\udXXX escapes.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=40)
NUMBERS = st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.sampled_from([1e308, -1e308])
VALUES = st.recursive(st.none() | st.booleans() | NUMBERS | ANY_TEXT,
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4), max_leaves=12)


def _mutations(example):
    """Bodies near a valid one: each leaf in turn replaced by a hostile value (drawn later)."""
    paths = []

    def walk(value, path):
        paths.append(path)
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, path + [k])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, path + [i])

    walk(example, [])
    return paths


def _put(example, path, value):
    if not path:
        return value
    copy = json.loads(json.dumps(example))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


VALID = {
    "/v1/ask": {"question": "how do I configure SAML?", "history": [{"role": "user", "content": "hi"}],
                "context": {"version": "4.4", "user_agent": "Mozilla/5.0", "console_errors": ["x"], "session_id": "s-1"}},
    "/v1/chat": {"message": "SAML?", "session_id": "abcdefgh12", "context": {"language": "de-DE"}},
    "/v1/feedback": {"turn_id": "A" * 22, "helpful": True, "comment": "c", "session_id": "s-1"},
    "/v1/tickets/draft": {"conversation": [{"role": "assistant", "content": "see", "citations": [{"title": "t", "url": "u", "heading_path": ["h"]}]},
                                           {"role": "user", "content": "help"}],
                          "context": {"session_id": "s-1"}, "attachments": [{"name": "a.log", "kind": "log", "content": "ERROR x"}]},
    "/v1/tickets": {"draft": {"title": "t", "description": "d", "priority": "Low", "environment": {"os": "Linux", "other": {"a": "b"}},
                              "transcript": [{"role": "user", "content": "x"}], "redactions": {"email": 1}}, "priority": "High"},
}


def test_hostile_json_bodies_never_give_5xx(api):
    assert {op for op in VALID} <= set(httpx.get(f"{api}/openapi.json").json()["paths"])
    failures = []
    with httpx.Client(timeout=60) as client:
        for path, example in VALID.items():
            spots = _mutations(example)

            @given(spot=st.sampled_from(spots), value=VALUES)
            @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def fuzz(spot, value):
                body = json.dumps(_put(example, spot, value), allow_nan=True).encode()
                r = client.post(f"{api}{path}", content=body, headers={**HEADERS, "Content-Type": "application/json",
                                                                      "Idempotency-Key": "fuzz"})
                if r.status_code >= 500:
                    failures.append((path, body[:300], r.status_code, r.text[:300]))
                assert r.headers["content-type"].startswith(("application/json", "text/event-stream")), r.headers
                assert r.headers["X-Content-Type-Options"] == "nosniff"

            fuzz()
    assert not failures, failures[:5]


def test_hostile_paths_and_queries_never_give_5xx(api):
    """Percent-encoded bytes of any kind (invalid UTF-8, encoded surrogates, NUL) in every GET route's path and query."""
    routes = ["/v1/sources/{}", "/v1/tickets/{}", "/v1/admin/conversations?since={}", "/v1/admin/conversations?limit={}",
              "/readyz?x={}", "/v1/admin/stats?{}"]
    failures = []
    with httpx.Client(timeout=60) as client:
        @given(route=st.sampled_from(routes), raw=st.binary(max_size=30) | st.sampled_from([b"\xed\xa0\x80", b"\x00", b"NaN", b"1e999"]))
        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(route, raw):
            from urllib.parse import quote_from_bytes

            r = client.get(f"{api}{route.format(quote_from_bytes(raw, safe=''))}", headers={**HEADERS, "X-Session-Id": "s-1"})
            if r.status_code >= 500:
                failures.append((route, raw, r.status_code, r.text[:300]))

        fuzz()
    assert not failures, failures[:5]
