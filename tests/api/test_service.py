"""The HTTP service, served by a real uvicorn on loopback and called over real HTTP."""

import asyncio
import os
import shutil
import threading
import time
import uuid

import httpx
import pytest

from support.live import free_port, serve, sse
from nectarine import Nectarine, ingest
from nectarine.store import TicketStore
from nectarine.api import Settings, create_app

KEY = {"X-Site-Key": "demo-public-key"}


def app_for(index, embedder, db, **settings):
    nec = Nectarine.load(index, embedder=embedder)
    nec.attach_store(TicketStore(f"sqlite:///{db}"))
    return create_app(Settings(**{"max_body_bytes": 200_000, "rate_limit": "1000/minute", **settings}), nectarine=nec)


@pytest.fixture(scope="module")
def base_url(kb_index, embedder, tmp_path_factory):
    with serve(app_for(kb_index, embedder, tmp_path_factory.mktemp("svc") / "db.sqlite", admin_token="s3cret-admin")) as url:
        yield url


def chat(base_url, message, session_id=None, **context):
    body = {"message": message, "session_id": session_id, "context": context}
    with httpx.stream("POST", f"{base_url}/v1/chat", json=body, headers=KEY, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        return sse(r)


def test_health_and_readiness(base_url):
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base_url}/readyz").json()
    assert ready["ready"] is True and ready["generation"]


def test_ask_returns_a_cited_answer_with_security_headers(base_url):
    r = httpx.post(f"{base_url}/v1/ask", json={"question": "how do I configure SAML single sign-on?", "context": {"version": "4.4"}},
                   headers=KEY)
    assert r.status_code == 200
    body = r.json()
    assert body["answer"]["citations"] and "[1]" in body["answer"]["text"] and len(body["turn_id"]) >= 16
    assert r.headers["X-Content-Type-Options"] == "nosniff" and "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_site_key_and_origin_are_checked(base_url):
    q = {"question": "how do I configure SAML?"}
    assert httpx.post(f"{base_url}/v1/ask", json=q).status_code == 401
    assert httpx.post(f"{base_url}/v1/ask", json=q, headers={"X-Site-Key": "guessed"}).status_code == 401
    evil = httpx.post(f"{base_url}/v1/ask", json=q, headers={**KEY, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and "evil.example" in evil.json()["detail"]
    allowed = httpx.post(f"{base_url}/v1/ask", json=q, headers={**KEY, "Origin": "http://localhost:8000"})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "http://localhost:8000"
    preflight = httpx.options(f"{base_url}/v1/chat", headers={"Origin": "http://localhost:8000", "Access-Control-Request-Method": "POST",
                                                              "Access-Control-Request-Headers": "content-type,x-site-key"})
    assert preflight.status_code == 200 and "x-site-key" in preflight.headers["access-control-allow-headers"].lower()
    refused = httpx.options(f"{base_url}/v1/chat", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in refused.headers


def test_bad_requests_get_clear_4xx_never_500(base_url):
    malformed = httpx.post(f"{base_url}/v1/ask", content=b'{"question": ', headers={**KEY, "Content-Type": "application/json"})
    assert malformed.status_code == 422
    too_long = httpx.post(f"{base_url}/v1/ask", json={"question": "x" * 5000}, headers=KEY)
    assert too_long.status_code == 422 and "question" in too_long.text
    huge = httpx.post(f"{base_url}/v1/ask", json={"question": "x", "history": [{"role": "user", "content": "y" * 300_000}]}, headers=KEY)
    assert huge.status_code == 413 and "bytes" in huge.json()["detail"]
    unknown = httpx.post(f"{base_url}/v1/ask", json={"question": "x", "history": [{"role": "wizard", "content": "y"}]}, headers=KEY)
    assert unknown.status_code == 422
    bad_session = httpx.post(f"{base_url}/v1/chat", json={"message": "hi", "session_id": "../../etc"}, headers=KEY)
    assert bad_session.status_code == 422 and "session_id" in bad_session.text
    # Refusals carry the security headers too, and are counted by route and status.
    for refused in (malformed, huge, bad_session):
        assert refused.headers["X-Frame-Options"] == "DENY" and refused.headers["X-Content-Type-Options"] == "nosniff"
    metrics = httpx.get(f"{base_url}/metrics").text
    assert 'nectarine_http_requests_total{method="POST",route="unmatched",status="413"}' in metrics or \
        'nectarine_http_requests_total{method="POST",route="/v1/ask",status="413"}' in metrics
    assert 'nectarine_http_requests_total{method="POST",route="/v1/ask",status="422"}' in metrics


def test_chat_streams_deltas_then_the_verified_answer(base_url):
    events = chat(base_url, "How do I configure SAML single sign-on?", version="4.4")
    names = [e for e, _ in events]
    assert names[0] == "start" and names[-1] == "done" and names.count("delta") >= 2
    done = events[-1][1]
    streamed = "".join(d["text"] for e, d in events if e == "delta")
    assert streamed == done["answer"]["text"] and done["answer"]["citations"]
    assert done["session_id"] == events[0][1]["session_id"] and len(done["turn_id"]) >= 16


def test_chat_follow_up_reads_the_session_history(base_url):
    first = chat(base_url, "How do I configure SAML single sign-on?")
    session = first[0][1]["session_id"]
    follow = chat(base_url, "and how do I rotate its certificate?", session_id=session)[-1][1]
    alone = chat(base_url, "and how do I rotate its certificate?")[-1][1]
    assert follow["session_id"] == session
    assert any("Rotate the certificate" in c["heading_path"] for c in follow["answer"]["citations"])
    # The same words without the history lose the thread (SSO) that makes them answerable.
    assert follow["answer"]["confidence"] > alone["answer"]["confidence"]


def test_chat_request_for_a_human_recommends_handoff(base_url):
    done = chat(base_url, "I want to talk to a human please")[-1][1]
    assert done["answer"]["handoff_recommended"] is True and "person" in done["answer"]["handoff_reason"]


def test_sources_serve_the_cited_passage(base_url):
    done = chat(base_url, "How do I rotate the SAML certificate?")[-1][1]
    cite = done["answer"]["citations"][0]
    r = httpx.get(f"{base_url}/v1/sources/{cite['chunk_id']}", headers=KEY)
    assert r.status_code == 200 and cite["quote"].split(" …")[0][:40] in r.json()["text"]
    assert httpx.get(f"{base_url}/v1/sources/nope", headers=KEY).status_code == 404


def test_feedback_is_stored_and_bound_to_the_session(base_url):
    done = chat(base_url, "what does 429 RATE_LIMITED mean")[-1][1]
    turn, session = done["turn_id"], done["session_id"]
    other = httpx.post(f"{base_url}/v1/feedback", json={"turn_id": turn, "helpful": True, "session_id": "someone-else"}, headers=KEY)
    assert other.status_code == 404
    ok = httpx.post(f"{base_url}/v1/feedback", json={"turn_id": turn, "helpful": False, "comment": "wrong page", "session_id": session},
                    headers=KEY)
    assert ok.status_code == 204
    unknown = {"turn_id": "A" * 22, "helpful": True, "session_id": session}
    assert httpx.post(f"{base_url}/v1/feedback", json=unknown, headers=KEY).status_code == 404
    # Without the session that owns it, a turn cannot be rated at all.
    anonymous = httpx.post(f"{base_url}/v1/feedback", json={"turn_id": turn, "helpful": True}, headers=KEY)
    assert anonymous.status_code == 422 and "session_id" in anonymous.text


def test_ticket_draft_submit_is_idempotent_and_session_bound(base_url):
    conversation = [{"role": "user", "content": "Nobody in the company can log in since 9am, AUTH-1003. password=hunter2"}]
    draft = httpx.post(f"{base_url}/v1/tickets/draft", json={"conversation": conversation, "context": {"session_id": "sess-a", "version": "4.6.1"}},
                       headers=KEY)
    assert draft.status_code == 200
    d = draft.json()
    assert d["priority"] == "Highest" and "hunter2" not in draft.text and d["session_id"] == "sess-a"
    first = httpx.post(f"{base_url}/v1/tickets", json={"draft": d}, headers={**KEY, "Idempotency-Key": "click-1"})
    again = httpx.post(f"{base_url}/v1/tickets", json={"draft": d}, headers={**KEY, "Idempotency-Key": "click-1"})
    assert first.status_code == 201 and first.json()["id"] == again.json()["id"]
    tid = first.json()["id"]
    assert httpx.get(f"{base_url}/v1/tickets/{tid}", headers={"X-Session-Id": "sess-a"}).json()["status"] == "submitted"
    assert httpx.get(f"{base_url}/v1/tickets/{tid}", headers={"X-Session-Id": "sess-b"}).status_code == 404
    as_admin = httpx.get(f"{base_url}/v1/tickets/{tid}", headers={"Authorization": "Bearer s3cret-admin"})
    assert as_admin.status_code == 200 and as_admin.json()["draft"]["nectain_version"] == "4.6.1"
    bad = httpx.post(f"{base_url}/v1/tickets", json={"draft": d, "priority": "Urgent"}, headers={**KEY, "Idempotency-Key": "click-2"})
    assert bad.status_code == 422 and "Highest" in bad.text


def test_admin_routes_need_the_token(base_url):
    assert httpx.get(f"{base_url}/v1/admin/stats").status_code == 401
    assert httpx.get(f"{base_url}/v1/admin/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
    stats = httpx.get(f"{base_url}/v1/admin/stats", headers={"Authorization": "Bearer s3cret-admin"})
    assert stats.status_code == 200 and stats.json()["turns"] >= 1 and stats.json()["index"]["chunks"] > 0


def test_conversation_export_is_redacted_jsonl(base_url):
    chat(base_url, "my api_key=sk-live-abcdef0123456789abcdef fails with 401, why?")
    r = httpx.get(f"{base_url}/v1/admin/conversations", headers={"Authorization": "Bearer s3cret-admin"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    rows = [__import__("json").loads(line) for line in r.text.splitlines()]
    assert any("api_key" in row["question"] for row in rows) and "sk-live-abcdef" not in r.text
    assert httpx.get(f"{base_url}/v1/admin/conversations?since=yesterday", headers={"Authorization": "Bearer s3cret-admin"}).status_code == 422


def test_metrics_count_requests_answers_and_tickets(base_url):
    chat(base_url, "How do I configure SAML single sign-on?")
    conversation = [{"role": "user", "content": "The export button is greyed out for me"}]
    d = httpx.post(f"{base_url}/v1/tickets/draft", json={"conversation": conversation, "context": {"session_id": "sess-m"}}, headers=KEY).json()
    assert httpx.post(f"{base_url}/v1/tickets", json={"draft": d}, headers={**KEY, "Idempotency-Key": "m-1"}).status_code == 201
    text = httpx.get(f"{base_url}/metrics").text
    assert 'nectarine_http_requests_total{method="POST",route="/v1/chat",status="200"}' in text
    stream = httpx.post(f"{base_url}/v1/chat", json={"message": "SAML?"}, headers=KEY)
    assert stream.headers["content-type"].startswith("text/event-stream") and stream.headers["X-Frame-Options"] == "DENY"
    assert "nectarine_answers_total{" in text and 'nectarine_tickets_total{event="submitted"' in text
    assert "nectarine_chat_first_event_seconds_count" in text


def test_rate_limit_answers_429_with_retry_after(kb_index, embedder, tmp_path):
    with serve(app_for(kb_index, embedder, tmp_path / "db.sqlite", rate_limit="2/minute")) as url:
        codes = [httpx.post(f"{url}/v1/ask", json={"question": "SAML?"}, headers=KEY) for _ in range(3)]
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert 1 <= int(codes[2].headers["Retry-After"]) <= 60 and "wait" in codes[2].json()["detail"]
        # Limits are per site key and client: other routes have their own allowance.
        assert httpx.get(f"{url}/healthz").status_code == 200


def test_rate_limits_in_redis_are_shared_by_processes(kb_index, embedder, tmp_path):
    """Two apps (as two workers would be) counting in one real Redis: the allowance is shared."""
    url = os.environ.get("NECTARINE_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("NECTARINE_TEST_REDIS_URL is not set: .ci/run must start Redis (scripts/redis.sh)")
        pytest.skip("no Redis here; run the suite through scripts/test.sh, which starts one")
    key = {"X-Site-Key": f"k-{uuid.uuid4().hex[:8]}"}  # a fresh site key: counts from earlier runs do not apply
    settings = dict(rate_limit="3/minute", rate_limit_storage=url, site_keys={key["X-Site-Key"]: ["http://127.0.0.1"]})
    with serve(app_for(kb_index, embedder, tmp_path / "a.sqlite", **settings)) as a, \
            serve(app_for(kb_index, embedder, tmp_path / "b.sqlite", **settings)) as b:
        codes = [httpx.post(f"{base}/v1/ask", json={"question": "SAML?"}, headers=key).status_code for base in (a, b, a, b)]
        assert codes == [200, 200, 200, 429]
        assert httpx.post(f"{a}/v1/ask", json={"question": "SAML?"}, headers=key).status_code == 429
    # A Redis that cannot be reached stops the start-up with a message that names it (password masked).
    dead = app_for(kb_index, embedder, tmp_path / "c.sqlite", rate_limit_storage=f"redis://:pw-secret@127.0.0.1:{free_port()}/0")

    async def start():
        async with dead.router.lifespan_context(dead):
            pass

    with pytest.raises(RuntimeError, match=r"rate-limit storage redis://:\*\*\*@127\.0\.0\.1:\d+/0 cannot be reached"):
        asyncio.run(start())
    with pytest.raises(ValueError, match="NECTARINE_RATE_LIMIT_STORAGE"):
        create_app(Settings(rate_limit_storage="mongodb://x"), nectarine=object())


def test_admin_is_off_without_a_token(kb_index, embedder, tmp_path):
    with serve(app_for(kb_index, embedder, tmp_path / "db.sqlite")) as url:
        r = httpx.post(f"{url}/v1/admin/reindex", headers={"Authorization": "Bearer anything"})
        assert r.status_code == 503 and "NECTARINE_ADMIN_TOKEN" in r.json()["detail"]


@pytest.mark.slow
def test_reindex_publishes_new_docs_without_downtime(kb_copy, embedder, tmp_path):
    index = tmp_path / "index"
    ingest([kb_copy], index, embedder=embedder)
    app = app_for(index, embedder, tmp_path / "db.sqlite", corpus=str(kb_copy), admin_token="tok", refresh_seconds=0.1)
    (kb_copy / "docs" / "webhooks.md").write_text(
        "---\ntitle: Outgoing webhooks\nurl: https://docs.example.test/webhooks\nsource: docs\n---\n\n"
        "## Retry schedule\n\nNectain retries a failed outgoing webhook delivery five times, with the zebrafish back-off schedule.\n")
    with serve(app) as url:
        before = httpx.get(f"{url}/readyz").json()["generation"]
        failures, stop = [], threading.Event()

        def hammer():  # readers keep asking while the index is rebuilt
            while not stop.is_set():
                r = httpx.post(f"{url}/v1/ask", json={"question": "how do I configure SAML?"}, headers=KEY, timeout=30)
                if r.status_code != 200:
                    failures.append(r.status_code)

        readers = [threading.Thread(target=hammer) for _ in range(2)]
        for t in readers:
            t.start()
        r = httpx.post(f"{url}/v1/admin/reindex", headers={"Authorization": "Bearer tok"}, timeout=120)
        time.sleep(0.3)
        stop.set()
        for t in readers:
            t.join()
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["added"] >= 1 and report["generation"] != before and not failures
        assert httpx.get(f"{url}/readyz").json()["generation"] == report["generation"]
        answer = httpx.post(f"{url}/v1/ask", json={"question": "what is the webhook retry schedule?"}, headers=KEY).json()["answer"]
        assert any(c["title"] == "Outgoing webhooks" for c in answer["citations"])
        again = httpx.post(f"{url}/v1/admin/reindex", headers={"Authorization": "Bearer tok"}, timeout=120).json()
        assert again["up_to_date"] is True and again["embedded"] == 0


def test_a_second_process_moves_to_a_generation_another_published(kb_copy, embedder, tmp_path):
    index = tmp_path / "index"
    ingest([kb_copy], index, embedder=embedder)
    worker_a, worker_b = Nectarine.load(index, embedder=embedder), Nectarine.load(index, embedder=embedder)
    shutil.copy(kb_copy / "docs" / "sso.md", kb_copy / "docs" / "sso-copy.md")
    ingest([kb_copy], index, embedder=embedder)
    assert worker_a.refresh() is True and worker_b.refresh() is True
    assert worker_a.reader.folder == worker_b.reader.folder and worker_a.refresh() is False


def test_api_docs_work_offline(base_url):
    page = httpx.get(f"{base_url}/docs")
    assert page.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in page.text
    assert httpx.get(f"{base_url}/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert httpx.head(f"{base_url}/widget.js").status_code == 200
    assert "/v1/chat" in httpx.get(f"{base_url}/openapi.json").json()["paths"]


@pytest.mark.slow
def test_two_worker_processes_share_the_index_and_the_metrics(kb_copy, embedder, tmp_path):
    """`nectarine serve --workers 2`: a re-index published through one worker reaches the other."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from support.live import free_port, wait_ready

    index = tmp_path / "index"
    ingest([kb_copy], index, embedder=embedder)
    port = free_port()
    env = {**os.environ, "NECTARINE_ADMIN_TOKEN": "tok", "NECTARINE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
           "NECTARINE_REFRESH_SECONDS": "0.2", "NECTARINE_RATE_LIMIT_ANY": "100000/minute"}  # it polls /readyz hundreds of times
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cli = Path(sys.executable).with_name("nectarine")
    proc = subprocess.Popen([str(cli), "serve", "--index", str(index), "--corpus", str(kb_copy), "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, timeout=120)

        def workers() -> dict[int, str]:
            seen: dict[int, str] = {}
            for _ in range(200):  # a new connection each time: the kernel spreads them over the workers
                body = httpx.get(f"{url}/readyz", headers={"Connection": "close"}).json()
                if body["ready"]:
                    seen[body["worker"]] = body["generation"]
                if len(seen) == 2:
                    break
            return seen

        deadline = time.monotonic() + 60
        while len(before := workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)  # the second worker may still be loading
        assert len(before) == 2 and len(set(before.values())) == 1
        (kb_copy / "docs" / "extra.md").write_text("---\ntitle: Extra\nsource: docs\n---\n\n## Extra page\n\nA page added for the re-index.\n")
        report = httpx.post(f"{url}/v1/admin/reindex", headers={"Authorization": "Bearer tok"}, timeout=120).json()
        time.sleep(1.0)
        after = workers()
        assert len(after) == 2 and set(after.values()) == {report["generation"]} != set(before.values())
        for _ in range(6):
            assert httpx.post(f"{url}/v1/ask", json={"question": "extra page?"}, headers={**KEY, "Connection": "close"}).status_code == 200
        metrics = httpx.get(f"{url}/metrics").text
        line = next(ln for ln in metrics.splitlines() if ln.startswith('nectarine_http_requests_total{method="POST",route="/v1/ask"'))
        assert float(line.rsplit(" ", 1)[1]) == 6.0  # both workers' counts, added up
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_service_delivers_submitted_tickets_by_webhook_and_email(kb_index, embedder, tmp_path):
    """With a webhook and an SMTP server configured, the service's outbox loop delivers a submitted
    ticket to both: signed JSON to a real receiver, an email to a real SMTP server (aiosmtpd)."""
    from aiosmtpd.controller import Controller
    from support.receivers import Inbox, Receiver

    receiver, inbox = Receiver("hook-secret"), Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        app = app_for(kb_index, embedder, tmp_path / "db.sqlite", webhook_url=f"http://127.0.0.1:{receiver.port}/hook",
                      webhook_secret="hook-secret", delivery_seconds=0.2, smtp_host="127.0.0.1", smtp_port=smtp.port,
                      smtp_to="support@example.test")
        with serve(app) as url:
            conversation = [{"role": "user", "content": "Exports to CSV fail for me since this morning with EXP-2001"}]
            d = httpx.post(f"{url}/v1/tickets/draft", json={"conversation": conversation, "context": {"session_id": "sess-w"}},
                           headers=KEY).json()
            tid = httpx.post(f"{url}/v1/tickets", json={"draft": d}, headers={**KEY, "Idempotency-Key": "w-1"}).json()["id"]
            deadline = time.monotonic() + 20
            status = None
            while status != "delivered" and time.monotonic() < deadline:
                time.sleep(0.1)
                status = httpx.get(f"{url}/v1/tickets/{tid}", headers={"X-Session-Id": "sess-w"}).json()["status"]
        assert [body["ticket_id"] for _, body in receiver.received] == [tid]
        assert receiver.received[0][1]["ticket"]["title"] == d["title"] and status == "delivered"
        (mail,) = inbox.messages
        assert mail.rcpt_tos == ["support@example.test"] and f"X-Nectarine-Ticket: {tid}" in mail.content.decode()
    finally:
        receiver.stop()
        smtp.stop()
    with pytest.raises(ValueError, match="NECTARINE_SMTP_TO"):
        Settings(smtp_host="127.0.0.1")
