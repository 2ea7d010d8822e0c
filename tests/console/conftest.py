"""A real service for the console tests: the sample knowledge base (corpus/) indexed with the fake
embedder once, served by uvicorn on loopback, over a database seeded by scripts/seed_turns.py and a
few hand-made turns (stored XSS payloads among them)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import insert

from support.paths import REPO

TOKEN = "console-admin-token-for-tests"
XSS_QUESTION = '<img src=x onerror="window.__xss=1;alert(1)"> how do I export invoices?'
XSS_COMMENT = "<script>window.__xss=2;alert(2)</script> useless"
XSS_TICKET = '<svg onload="window.__xss=3;alert(3)"></svg> Everyone gets AUTH-1003'


def seed_module():
    spec = importlib.util.spec_from_file_location("seed_turns", REPO / "scripts" / "seed_turns.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("seed_turns", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory, fake_embedder) -> Path:
    from nectarine import ingest

    index = tmp_path_factory.mktemp("console-corpus") / "index"
    report = ingest([REPO / "corpus"], index, embedder=fake_embedder)
    assert not report.skipped, report.skipped
    return index


def plant_payloads(url: str) -> None:
    """Stored XSS in a question, a feedback comment and a ticket title, recent and in the gaps."""
    from nectarine.store import Database, TicketRow
    from nectarine.store.analytics import turns

    db = Database(url)
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    rows = [dict(public_id=f"xss-{i}", session_id="xss-session", question=XSS_QUESTION, answer="<b>bold?</b> answer",
                 confidence=0.1, handoff=True, answerer="offline", sources=[], language="en", feedback=-1,
                 feedback_comment=XSS_COMMENT, created_at=now + dt.timedelta(seconds=i), kind="not_found", version="8.1",
                 latency_ms=420.0, source_type=None) for i in range(3)]
    with db.engine.begin() as conn:
        conn.execute(insert(turns), rows)
        conn.execute(insert(TicketRow.__table__), [dict(id="xss-ticket", idempotency_key=None, session_id="xss-session", status="failed",
                                                        priority="Highest", title=XSS_TICKET, draft={"title": XSS_TICKET},
                                                        created_at=now, updated_at=now, last_error="HTTP 503")])
    db.engine.dispose()


@contextmanager
def console_service(tmp: Path, index: Path, embedder, *, turns: int = 3000):
    from nectarine import Nectarine
    from nectarine.api import Settings, create_app
    from nectarine.store import TicketStore
    from support.live import serve

    url = f"sqlite:///{tmp / 'db.sqlite'}"
    seed_module().seed(url, turns, 30, seed=7)
    plant_payloads(url)
    nec = Nectarine.load(index, embedder=embedder)
    nec.attach_store(TicketStore(url))
    settings = Settings(rate_limit="1000/minute", rate_limit_any="100000/minute", rate_limit_admin="100000/minute",
                        admin_token=TOKEN, corpus=str(REPO / "corpus"), database_url=url)
    with serve(create_app(settings, nectarine=nec)) as base:
        yield base, url


@pytest.fixture(scope="module")
def service(tmp_path_factory, corpus_index, fake_embedder):
    """The running service: ``.base`` (its URL), ``.db`` (its database URL), ``.token`` (the admin token),
    ``.xss`` (the planted payloads), ``.index`` (the corpus index)."""
    with console_service(tmp_path_factory.mktemp("console"), corpus_index, fake_embedder) as (base, url):
        yield SimpleNamespace(base=base, db=url, token=TOKEN, index=corpus_index,
                              xss={"question": XSS_QUESTION, "comment": XSS_COMMENT, "ticket": XSS_TICKET})



@pytest.fixture(scope="module")
def browser():
    from support.browser import chromium

    with chromium() as b:
        yield b
