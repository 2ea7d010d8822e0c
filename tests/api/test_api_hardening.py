"""The service attacked as an outsider and a careless user would, over real HTTP on loopback.

Each test is one defect the hardening issue found: it failed before the fix and passes after it.
"""

import json
import socket
import sqlite3
import threading
import time
import uuid

import httpx
import pytest

from support.live import serve
from nectarine import Nectarine
from nectarine.api import Settings, create_app
from nectarine.store import TicketStore

KEY = {"X-Site-Key": "demo-public-key"}
ADMIN = {"Authorization": "Bearer hard-admin"}


def app_for(index, embedder, db, **settings):
    nec = Nectarine.load(index, embedder=embedder)
    nec.attach_store(TicketStore(f"sqlite:///{db}"))
    base = {"max_body_bytes": 3_000_000, "rate_limit": "100000/minute", "rate_limit_other": "100000/minute",
            "rate_limit_any": "100000/minute", "rate_limit_admin": "100000/minute", "admin_token": "hard-admin"}
    return create_app(Settings(**{**base, **settings}), nectarine=nec)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return tmp_path_factory.mktemp("hard") / "db.sqlite"


@pytest.fixture(scope="module")
def url(kb_index, embedder, db):
    with serve(app_for(kb_index, embedder, db)) as base:
        yield base


def post_raw(url: str, path: str, body: bytes, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{url}{path}", content=body, headers={**KEY, "Content-Type": "application/json", **(headers or {})}, timeout=30)


def a_draft(url, session="sess-hard", text="The export button is greyed out since 4.6.1"):
    r = httpx.post(f"{url}/v1/tickets/draft", json={"conversation": [{"role": "user", "content": text}],
                                                    "context": {"session_id": session}}, headers=KEY, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


# ----------------------------------------------------------------------------- 4. no 500 on any input

NON_FINITE = [b'{"question": "SAML?", "context": {"version": NaN}}', b'{"question": "SAML?", "x": Infinity}',
              b'{"question": "SAML?", "history": [{"role": "user", "content": "a", "n": -Infinity}]}',
              b'{"turn_id": "AAAAAAAAAAAAAAAAAAAAAA", "helpful": true, "session_id": "s", "n": 1e999}']


@pytest.mark.parametrize("body", NON_FINITE)
def test_numbers_that_are_not_finite_get_422(url, body):
    path = "/v1/feedback" if b"turn_id" in body else "/v1/ask"
    r = post_raw(url, path, body)
    assert r.status_code == 422, r.text
    assert "finite" in r.json()["detail"][0]["msg"] and r.headers["X-Frame-Options"] == "DENY"


SURROGATE = "\\ud800"
SURROGATE_BODIES = {
    "/v1/ask question": ("/v1/ask", {"question": f"why{SURROGATE}"}),
    "/v1/ask history": ("/v1/ask", {"question": "ok", "history": [{"role": "user", "content": SURROGATE}]}),
    "/v1/ask user agent": ("/v1/ask", {"question": "ok", "context": {"user_agent": f"Mozilla{SURROGATE}"}}),
    "/v1/chat session": ("/v1/chat", {"message": "ok", "session_id": f"abcdefgh{SURROGATE}"}),
    "/v1/feedback comment": ("/v1/feedback", {"turn_id": "A" * 22, "helpful": False, "comment": SURROGATE, "session_id": "s"}),
    "/v1/tickets/draft content": ("/v1/tickets/draft", {"conversation": [{"role": "user", "content": f"x{SURROGATE}y"}]}),
    "/v1/tickets title": ("/v1/tickets", {"draft": {"title": SURROGATE, "description": "d", "priority": "Low"}}),
    "a key": ("/v1/ask", {"question": "ok", "context": {f"k{SURROGATE}": 1}}),
}


@pytest.mark.parametrize("case", sorted(SURROGATE_BODIES))
def test_lone_surrogates_get_422_in_every_field(url, case):
    path, body = SURROGATE_BODIES[case]
    raw = json.dumps(body).replace("\\\\ud800", "\\ud800").encode()  # the escape itself, not an escaped backslash
    r = post_raw(url, path, raw, {"Idempotency-Key": "k-" + uuid.uuid4().hex})
    assert r.status_code == 422, r.text
    assert "surrogate" in r.json()["detail"][0]["msg"]


def test_deeply_nested_json_gets_422(url):
    r = post_raw(url, "/v1/ask", b'{"question": "x", "history": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert r.status_code == 422 and "nested" in r.text


def test_a_surrogate_pair_and_an_escaped_backslash_are_fine(url):
    ok = post_raw(url, "/v1/ask", json.dumps({"question": "why \ud83d\ude00 and \\ud800 as text?"}).encode())
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("citations", ['"a string"', "42", "[[1, 2], [3]]", '[{"url": {"nested": 1}}]'])
def test_draft_citations_of_the_wrong_shape_get_422(url, citations):
    body = f'{{"conversation": [{{"role": "assistant", "content": "see", "citations": {citations}}}, {{"role": "user", "content": "help"}}]}}'
    r = post_raw(url, "/v1/tickets/draft", body.encode())
    assert r.status_code == 422 and "citations" in r.text


def test_a_server_error_is_json_with_security_headers_and_closes_the_connection(kb_index, embedder, tmp_path):
    db = tmp_path / "db.sqlite"
    with serve(app_for(kb_index, embedder, db)) as base:
        with sqlite3.connect(db) as conn:  # the database loses a table under the running service
            conn.execute("DROP TABLE turns")
        with httpx.Client() as client:
            r = client.post(f"{base}/v1/ask", json={"question": "how do I configure SAML?"}, headers=KEY, timeout=30)
            assert r.status_code == 500
            assert "logged" in r.json()["detail"] and r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["connection"] == "close"
            # The next request on a fresh connection is served.
            assert client.get(f"{base}/healthz").status_code == 200


# ----------------------------------------------------------------------------- 2. body limit on bytes received

def test_chunked_bodies_over_the_limit_get_413(kb_index, embedder, tmp_path):
    with serve(app_for(kb_index, embedder, tmp_path / "db.sqlite", max_body_bytes=100_000)) as base:
        def chunks():
            yield b'{"question": "'
            for _ in range(200):
                yield b"x" * 10_000  # 2 MB in all, without a Content-Length
            yield b'"}'

        r = httpx.post(f"{base}/v1/ask", content=chunks(), headers={**KEY, "Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 413 and "bytes" in r.json()["detail"]
        assert "transfer-encoding" not in r.request.headers or r.request.headers["transfer-encoding"] == "chunked"
        small = httpx.post(f"{base}/v1/ask", content=iter([b'{"question": ', b'"SAML?"}']),
                           headers={**KEY, "Content-Type": "application/json"}, timeout=30)
        assert small.status_code == 200


# ----------------------------------------------------------------------------- 11. bounded fields

@pytest.mark.parametrize("field", ["page_url", "user_agent", "session_id", "language", "time_zone", "screen"])
def test_huge_context_fields_are_refused(url, field):
    r = httpx.post(f"{url}/v1/ask", json={"question": "SAML?", "context": {field: "x" * 1_000_000}}, headers=KEY, timeout=30)
    assert r.status_code == 422 and field in r.text and len(r.content) < 5_000  # the input is not echoed back


def test_a_huge_ticket_title_is_refused(url):
    d = a_draft(url)
    r = httpx.post(f"{url}/v1/tickets", json={"draft": {**d, "title": "t" * 1_000_000}}, headers={**KEY, "Idempotency-Key": "big"})
    assert r.status_code == 422 and "title" in r.text


def test_openapi_documents_the_limits(url):
    spec = httpx.get(f"{url}/openapi.json").json()
    context = spec["components"]["schemas"]["AskContext"]["properties"]
    assert any(v.get("maxLength") == 512 for v in context["user_agent"]["anyOf"])
    assert spec["components"]["schemas"]["AttachmentIn"]["properties"]["content"]["anyOf"][0]["maxLength"] == 200_000


# ----------------------------------------------------------------------------- 1. no request stalls the others

def test_an_ordinary_question_is_answered_within_a_second_while_four_worst_case_drafts_run(url):
    # The worst a client may send within the limits: every field at its maximum, keywords the classifier scans for.
    words = "outage data loss security breach cannot log in everyone AUTH-1003 ERROR " * 120
    attachment = {"name": "app.log", "kind": "log", "content": ("ERROR 2026-12-03 AUTH-1003 data loss outage\n" * 5000)[:200_000]}
    worst = {"conversation": [{"role": "user", "content": words[:8000]}] * 60, "context": {"user_agent": "Mozilla/5.0 " * 42},
             "attachments": [attachment] * 10}
    assert len(json.dumps(worst)) > 2_000_000
    done, codes = threading.Event(), []

    def hammer():
        with httpx.Client(timeout=120) as c:
            while not done.is_set():
                codes.append(c.post(f"{url}/v1/tickets/draft", json=worst, headers=KEY).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the drafts are running
    try:
        seconds = []
        for q in ("how do I configure SAML single sign-on?", "what does 429 RATE_LIMITED mean"):
            start = time.perf_counter()
            r = httpx.post(f"{url}/v1/ask", json={"question": q}, headers=KEY, timeout=30)
            seconds.append(time.perf_counter() - start)
            assert r.status_code == 200 and r.json()["answer"]["citations"]
    finally:
        done.set()
        for t in threads:
            t.join()
    assert codes and set(codes) == {200}, codes
    print("ask seconds while drafts run:", seconds)
    assert max(seconds) < 1.0, seconds


# ----------------------------------------------------------------------------- 6, 10. ownership

def test_feedback_needs_the_owning_session_and_turn_ids_are_not_guessable(url):
    ids = []
    for _ in range(3):
        r = httpx.post(f"{url}/v1/ask", json={"question": "what does 429 RATE_LIMITED mean", "context": {"session_id": "owner-1"}},
                       headers=KEY, timeout=30)
        ids.append(r.json()["turn_id"])
    assert len(set(ids)) == 3 and all(len(i) >= 16 and not i.isdigit() for i in ids)
    assert httpx.post(f"{url}/v1/feedback", json={"turn_id": ids[0], "helpful": False}, headers=KEY).status_code == 422
    stranger = httpx.post(f"{url}/v1/feedback", json={"turn_id": ids[0], "helpful": False, "comment": "x", "session_id": "owner-2"},
                          headers=KEY)
    assert stranger.status_code == 404
    assert httpx.post(f"{url}/v1/feedback", json={"turn_id": ids[0], "helpful": True, "session_id": "owner-1"}, headers=KEY).status_code == 204


def test_idempotency_keys_are_scoped_to_the_session_and_conflict_on_new_content(url):
    mine, theirs = a_draft(url, "sess-one"), a_draft(url, "sess-two", "Our invoices PDF shows the wrong currency")
    first = httpx.post(f"{url}/v1/tickets", json={"draft": mine}, headers={**KEY, "Idempotency-Key": "shared-key"})
    again = httpx.post(f"{url}/v1/tickets", json={"draft": mine}, headers={**KEY, "Idempotency-Key": "shared-key"})
    assert first.status_code == 201 and again.json()["id"] == first.json()["id"]
    # Another session with the same key gets a ticket of its own, never this one.
    other = httpx.post(f"{url}/v1/tickets", json={"draft": theirs}, headers={**KEY, "Idempotency-Key": "shared-key"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"] and "currency" in other.json()["title"]
    # The same session and key with different content is a conflict, and nothing is overwritten.
    edited = {**mine, "title": "Something else entirely"}
    conflict = httpx.post(f"{url}/v1/tickets", json={"draft": edited}, headers={**KEY, "Idempotency-Key": "shared-key"})
    assert conflict.status_code == 409 and "Idempotency-Key" in conflict.json()["detail"]
    assert len(first.json()["id"]) == 32
    kept = httpx.get(f"{url}/v1/tickets/{first.json()['id']}", headers={"X-Session-Id": "sess-one"}).json()
    assert kept["title"] == mine["title"]


# ----------------------------------------------------------------------------- 7. proxy headers

def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(kb_index, embedder, tmp_path):
    with serve(app_for(kb_index, embedder, tmp_path / "a.sqlite", rate_limit="2/minute")) as base:
        codes = [httpx.post(f"{base}/v1/ask", json={"question": "SAML?"}, headers={**KEY, "X-Forwarded-For": f"203.0.113.{i}"},
                            timeout=30).status_code for i in range(3)]
        assert codes == [200, 200, 429]  # a new claimed address each time changes nothing
    with serve(app_for(kb_index, embedder, tmp_path / "b.sqlite", rate_limit="2/minute", trusted_proxies=["127.0.0.1"])) as base:
        codes = [httpx.post(f"{base}/v1/ask", json={"question": "SAML?"}, headers={**KEY, "X-Forwarded-For": f"6.6.6.6, 203.0.113.{i}"},
                            timeout=30).status_code for i in range(3)]
        assert codes == [200, 200, 200]  # behind the trusted proxy, each client has its own allowance
        same = [httpx.post(f"{base}/v1/ask", json={"question": "SAML?"}, headers={**KEY, "X-Forwarded-For": f"{i}.1.1.1, 198.51.100.7"},
                           timeout=30).status_code for i in range(3)]
        assert same == [200, 200, 429]  # the left, client-written hops are not trusted


# ----------------------------------------------------------------------------- 11. rate limits everywhere, admin lockout

def test_wrong_admin_tokens_lead_to_a_lockout(kb_index, embedder, tmp_path):
    with serve(app_for(kb_index, embedder, tmp_path / "db.sqlite", admin_lockout="5 per 15 minutes")) as base:
        codes = [httpx.get(f"{base}/v1/admin/stats", headers={"Authorization": f"Bearer guess-{i}"}).status_code for i in range(8)]
        assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3
        locked = httpx.get(f"{base}/v1/admin/stats", headers=ADMIN)
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 60


def test_every_route_has_a_rate_limit(kb_index, embedder, tmp_path):
    with serve(app_for(kb_index, embedder, tmp_path / "db.sqlite", rate_limit_other="3/minute", rate_limit_admin="3/minute",
                       rate_limit_any="40/minute")) as base:
        assert [httpx.get(f"{base}/v1/tickets/nope").status_code for _ in range(4)] == [404, 404, 404, 429]
        assert [httpx.get(f"{base}/v1/admin/stats", headers=ADMIN).status_code for _ in range(4)] == [200, 200, 200, 429]
        codes = [httpx.get(f"{base}/healthz").status_code for _ in range(40)]
        assert codes[-1] == 429 and codes[0] == 200


def test_the_socket_is_not_left_half_read_after_a_413(kb_index, embedder, tmp_path):
    with serve(app_for(kb_index, embedder, tmp_path / "db.sqlite", max_body_bytes=1000)) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Site-Key: demo-public-key\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(b"3e8\r\n" + b"x" * 1000 + b"\r\n" for _ in range(3)))
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 413") and b"connection: close" in reply.lower()


# ----------------------------------------------------------------------------- 3. redaction on everything stored

CARD, EMAIL, PHONE, GKEY = "4111 1111 1111 1111", "jane.doe@acme-corp.io", "+44 20 7946 0958", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"


def test_secrets_and_personal_data_never_reach_storage(url):
    session = "sess-redact-1"
    asked = httpx.post(f"{url}/v1/ask", json={"question": f"my card {CARD} was charged twice, mail me at {EMAIL}",
                                              "context": {"session_id": session}}, headers=KEY, timeout=30).json()
    fb = httpx.post(f"{url}/v1/feedback", json={"turn_id": asked["turn_id"], "helpful": False, "session_id": session,
                                                "comment": f"call me on {PHONE}, my password is hunter2"}, headers=KEY)
    assert fb.status_code == 204
    d = a_draft(url, session, f"Export fails. key={GKEY} and Authorization: Basic dXNlcjpzM2NyM3Q= in the log")
    edited = {**d, "description": d["description"] + f"\nAlso my card is {CARD} and my email {EMAIL}"}
    tid = httpx.post(f"{url}/v1/tickets", json={"draft": edited}, headers={**KEY, "Idempotency-Key": "redact-1"}).json()["id"]
    stored = httpx.get(f"{url}/v1/tickets/{tid}", headers=ADMIN).text
    export = httpx.get(f"{url}/v1/admin/conversations", headers=ADMIN).text
    for secret in (CARD, EMAIL, PHONE, GKEY, "hunter2", "dXNlcjpzM2NyM3Q="):
        assert secret not in stored and secret not in export and secret not in json.dumps(d), secret
    assert "[REDACTED:" in stored and "[REDACTED:" in export
