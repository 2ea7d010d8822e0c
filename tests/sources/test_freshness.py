"""Freshness: every citation carries its page's date, and `nectarine sources` lists pages by age and citations."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from typer.testing import CliRunner

from nectarine import Nectarine
from nectarine.api import Settings, create_app
from nectarine.cli import app
from nectarine.store import TicketStore
from nectarine.types import Answer, Chunk, Citation, SearchResult
from support.live import serve

KEY = {"X-Site-Key": "demo-public-key"}


def test_citations_carry_the_cited_pages_date(fake_nec):
    answer = fake_nec.ask("What does error 429 RATE_LIMITED mean?")
    assert answer.citations
    for c in answer.citations:
        chunk = fake_nec.reader.chunk_by_id(c.chunk_id)
        assert c.date == chunk.date and c.date is not None
    assert answer.model_dump(mode="json")["citations"][0]["date"] == answer.citations[0].date.isoformat()


def test_a_citation_without_a_known_date_has_no_date_field():
    chunk = Chunk(id="c1", doc_id="d", text="t", title="T")  # no date
    answer = Answer(question="q", text="t [1]", citations=[Citation(number=1, chunk_id="c1", title="T", heading_path=[], url="/d",
                                                                    source="docs", quote="t")],
                    results=[SearchResult(chunk=chunk, score=1.0)])
    assert "date" not in answer.model_dump(mode="json")["citations"][0]
    dated = Answer(question="q", text="t", citations=answer.citations,
                   results=[SearchResult(chunk=chunk.model_copy(update={"date": dt.date(2026, 1, 2)}), score=1.0)])
    assert dated.model_dump(mode="json")["citations"][0]["date"] == "2026-01-02"


@pytest.mark.slow  # the real app under uvicorn
def test_the_api_answers_with_dated_citations_and_sources_ranks_the_cited_pages(fake_kb_index, fake_embedder, tmp_path):
    db = tmp_path / "db.sqlite"
    nec = Nectarine.load(fake_kb_index, embedder=fake_embedder)
    nec.attach_store(TicketStore(f"sqlite:///{db}"))
    settings = Settings(rate_limit="1000/minute", rate_limit_other="1000/minute", rate_limit_any="1000/minute")
    with serve(create_app(settings, nectarine=nec)) as url:
        for _ in range(3):
            r = httpx.post(f"{url}/v1/ask", json={"question": "What does error 429 RATE_LIMITED mean?"}, headers=KEY, timeout=30)
            assert r.status_code == 200, r.text
        cited = r.json()["answer"]["citations"]
        assert cited and all(dt.date.fromisoformat(c["date"]) for c in cited)
    page_url = cited[0]["url"].split("#", 1)[0]

    runner = CliRunner()
    by_cited = runner.invoke(app, ["sources", "--index", str(fake_kb_index), "--database", f"sqlite:///{db}", "--by", "cited", "--json"])
    assert by_cited.exit_code == 0, by_cited.output
    rows = json.loads(by_cited.stdout)
    assert rows[0]["url"] == page_url and rows[0]["cited"] == 3
    assert all(r["cited"] == 0 for r in rows[1:] if r["url"] != page_url)

    by_age = runner.invoke(app, ["sources", "--index", str(fake_kb_index), "--database", f"sqlite:///{db}", "--json", "--limit", "0"])
    ages = [r["age_days"] for r in json.loads(by_age.stdout) if r["age_days"] is not None]
    assert ages == sorted(ages, reverse=True) and len(ages) >= 5
    oldest = json.loads(by_age.stdout)[0]
    assert oldest["date"] == min(r["date"] for r in json.loads(by_age.stdout) if r["date"])

    table = runner.invoke(app, ["sources", "--index", str(fake_kb_index), "--database", f"sqlite:///{db}"])
    assert table.exit_code == 0 and "updated" in table.output and page_url in table.output


def test_sources_without_a_conversation_log_counts_nothing_and_creates_nothing(fake_kb_index, tmp_path):
    missing = tmp_path / "none.sqlite"
    result = CliRunner().invoke(app, ["sources", "--index", str(fake_kb_index), "--database", f"sqlite:///{missing}", "--json"])
    assert result.exit_code == 0, result.output
    assert not missing.exists() and "no conversation log" in result.output
    bad = CliRunner().invoke(app, ["sources", "--index", str(fake_kb_index), "--by", "views"])
    assert bad.exit_code == 2 and "choose one of: age, cited" in bad.output
