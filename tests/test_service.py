"""The HTTP service, served by a real uvicorn on loopback and called over real HTTP."""

import socket
import threading
import time

import httpx
import pytest
import uvicorn

from nectarine import Nectarine
from nectarine.handoff.store import TicketStore
from nectarine.service import Settings, create_app


@pytest.fixture(scope="module")
def base_url(kb_index, embedder, tmp_path_factory):
    nec = Nectarine.load(kb_index, embedder=embedder)
    nec.attach_store(TicketStore(f"sqlite:///{tmp_path_factory.mktemp('svc') / 'db.sqlite'}"))
    app = create_app(Settings(max_body_bytes=200_000), nectarine=nec)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_health_and_readiness(base_url):
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base_url}/readyz").json() == {"ready": True}


def test_ask_returns_a_cited_answer_with_security_headers(base_url):
    r = httpx.post(f"{base_url}/v1/ask", json={"question": "how do I configure SAML single sign-on?", "context": {"version": "4.4"}})
    assert r.status_code == 200
    body = r.json()
    assert body["answer"]["citations"] and "[1]" in body["answer"]["text"] and body["turn_id"] >= 1
    assert r.headers["X-Content-Type-Options"] == "nosniff" and "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_bad_requests_get_clear_4xx_never_500(base_url):
    malformed = httpx.post(f"{base_url}/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 422
    too_long = httpx.post(f"{base_url}/v1/ask", json={"question": "x" * 5000})
    assert too_long.status_code == 422 and "question" in too_long.text
    huge = httpx.post(f"{base_url}/v1/ask", json={"question": "x", "history": [{"role": "user", "content": "y" * 300_000}]})
    assert huge.status_code == 413 and "bytes" in huge.json()["detail"]
    unknown = httpx.post(f"{base_url}/v1/ask", json={"question": "x", "history": [{"role": "wizard", "content": "y"}]})
    assert unknown.status_code == 422


def test_feedback_is_stored(base_url):
    turn = httpx.post(f"{base_url}/v1/ask", json={"question": "what does 429 RATE_LIMITED mean"}).json()["turn_id"]
    assert httpx.post(f"{base_url}/v1/feedback", json={"turn_id": turn, "helpful": False, "comment": "wrong page"}).status_code == 204
    assert httpx.post(f"{base_url}/v1/feedback", json={"turn_id": 999_999, "helpful": True}).status_code == 404


def test_ticket_draft_submit_is_idempotent_and_session_bound(base_url):
    conversation = [{"role": "user", "content": "Nobody in the company can log in since 9am, AUTH-1003. password=hunter2"}]
    draft = httpx.post(f"{base_url}/v1/tickets/draft", json={"conversation": conversation, "context": {"session_id": "sess-a", "version": "4.6.1"}})
    assert draft.status_code == 200
    d = draft.json()
    assert d["priority"] == "Highest" and "hunter2" not in draft.text and d["session_id"] == "sess-a"
    first = httpx.post(f"{base_url}/v1/tickets", json={"draft": d}, headers={"Idempotency-Key": "click-1"})
    again = httpx.post(f"{base_url}/v1/tickets", json={"draft": d}, headers={"Idempotency-Key": "click-1"})
    assert first.status_code == 201 and first.json()["id"] == again.json()["id"]
    tid = first.json()["id"]
    assert httpx.get(f"{base_url}/v1/tickets/{tid}", headers={"X-Session-Id": "sess-a"}).json()["status"] == "submitted"
    assert httpx.get(f"{base_url}/v1/tickets/{tid}", headers={"X-Session-Id": "sess-b"}).status_code == 404
    assert httpx.post(f"{base_url}/v1/tickets", json={"draft": d}).status_code == 422  # no idempotency key
    bad = httpx.post(f"{base_url}/v1/tickets", json={"draft": d, "priority": "P1"}, headers={"Idempotency-Key": "k2"})
    assert bad.status_code == 422 and "Highest, High, Normal, Low" in bad.text
