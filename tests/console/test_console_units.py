"""The console's parts without a server: the session cookie, grouping questions by meaning (the
``gaps`` clustering, on the fake embedder), and the shape of the review export."""

import datetime as dt
import json

from nectarine.console import auth
from nectarine.console.clusters import Clusterer, group, rank
from nectarine.console.export import corpus_records, query_records
from support.paths import KB


def test_a_session_is_signed_expiring_and_bound_to_the_admin_token(monkeypatch):
    value, session = auth.issue("token-a")
    assert auth.read("token-a", value) == session and len(session.csrf) >= 32
    assert auth.read("token-b", value) is None  # another token (a rotated one) signs every session out
    assert auth.read("token-a", value[:-2] + ("A" if value[-1] != "A" else "B") * 2) is None  # tampered
    assert auth.read(None, value) is None and auth.read("token-a", None) is None and auth.read("token-a", "junk") is None
    monkeypatch.setattr(auth, "SESSION_SECONDS", -1)
    assert auth.read("token-a", value) is None  # expired
    assert "token-a" not in value


def row(question, n, day, confidence=0.3, sources=()):
    return {"question": question, "n": n, "last": dt.datetime(2026, 11, day), "latest": n, "confidence": confidence, "declines": n,
            "low_confidence": 0, "handoffs": 0, "thumbs_down": 1, "tickets": 0, "sources": list(sources), "latest_public_id": f"t-{n}"}


def test_questions_group_by_meaning_and_rank_by_volume_or_recency(fake_embedder):
    page = {"title": "Chat", "url": "/docs/chat"}
    rows = [row("does nectain work with google chat", 5, 1, sources=[page]), row("does nectain work with google chat?", 2, 3, sources=[page]),
            row("how long before an idle session ends", 4, 2), row("what is the idle session timeout", 1, 2)]
    clusters = group(rows, fake_embedder)
    chat = next(c for c in clusters if "google chat" in c.label)
    assert chat.volume == 7 and [q["n"] for q in chat.questions] == [5, 2] and chat.last == dt.datetime(2026, 11, 3)
    assert chat.closest == [{"title": "Chat", "url": "/docs/chat", "times": 7}] and chat.reasons == {"declined": 7, "thumbs down": 2}
    assert abs(chat.confidence - 0.3) < 1e-9 and sum(c.volume for c in clusters) == 12
    assert rank(clusters)[0] is chat
    assert rank(clusters, "recent")[0] is chat and [c.volume for c in rank(clusters)] == sorted((c.volume for c in clusters), reverse=True)
    assert group([], fake_embedder) == [] and group(rows[:1], fake_embedder)[0].volume == 5


def test_clusters_are_kept_until_a_new_turn_arrives(tmp_path, fake_embedder):
    from sqlalchemy import insert

    from nectarine.store.analytics import Analytics, Filters, turns

    a = Analytics(f"sqlite:///{tmp_path / 'db.sqlite'}")
    now = dt.datetime.now(dt.timezone.utc)

    def add(i):
        with a.engine.begin() as conn:
            conn.execute(insert(turns), [dict(public_id=f"p{i}", session_id=None, question=f"question {i % 2}", answer="a",
                                              confidence=0.1, handoff=False, answerer="offline", sources=[], language="en",
                                              created_at=now, kind="not_found")])

    add(1)
    add(2)
    clusterer = Clusterer(a, fake_embedder)
    first = clusterer.clusters(Filters.last(7), gaps_only=True)
    assert clusterer.clusters(Filters.last(7), gaps_only=True) is first
    add(3)
    assert sum(c.volume for c in clusterer.clusters(Filters.last(7), gaps_only=True)) == 3


def test_review_export_records_have_eval_nectains_shape():
    reviews = [{"id": 3, "question": "How do I rotate the SAML certificate?", "reference": "Open SSO › Rotate.", "verdict": "wrong",
                "nuggets": [{"text": "Open SSO › Rotate", "vital": True}], "sections": ["docs/sso#rotate", "docs/sso"],
                "public_id": "abc", "version": "8.0", "language": "en"},
               {"id": 4, "question": "Does it work with Google Chat?", "reference": "", "verdict": "right", "nuggets": [], "sections": [],
                "public_id": "def", "version": None, "language": "de"}]
    queries, qrels = query_records(reviews)
    assert queries[0] == {"_id": "rv-00003", "text": "How do I rotate the SAML certificate?", "answer": "Open SSO › Rotate.", "answerable": True,
                          "metadata": {"split": "test", "nuggets": [{"text": "Open SSO › Rotate", "vital": True}], "verdict": "wrong",
                                       "source": "console-review", "turn": "abc", "language": "en", "context_version": "8.0"}}
    assert queries[1]["answerable"] is False and queries[1]["answer"] is None and "context_version" not in queries[1]["metadata"]
    assert qrels == [("rv-00003", "docs/sso#rotate"), ("rv-00003", "docs/sso")]
    records = corpus_records(KB)
    assert records and all(set(r) == {"_id", "title", "text", "metadata"} for r in records)
    from nectarine.ingest.loaders import discover, load_file

    formats = {d.id: d.metadata["format"] for path, root in discover([KB]) for d in load_file(path, root)[0]}
    assert {r["_id"]: r["metadata"]["format"] for r in records} == formats  # Markdown stays Markdown: its sections survive
    assert "markdown" in formats.values()
    json.dumps(records)


def test_export_reviewed_command_writes_a_dataset_load_dataset_reads(tmp_path):
    from sqlalchemy import insert
    from typer.testing import CliRunner

    from nectarine.cli import app
    from nectarine.eval.datasets import load_dataset
    from nectarine.store.analytics import Analytics, turns

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    runner = CliRunner()
    empty = runner.invoke(app, ["eval", "export-reviewed", str(tmp_path / "out"), "--database", url, "--corpus", str(KB)])
    assert empty.exit_code == 2 and "no reviewed answers yet" in empty.output
    a = Analytics(url)
    with a.engine.begin() as conn:
        conn.execute(insert(turns), [dict(public_id="t1", session_id="s", question="How do I rotate the SAML certificate?", answer="a",
                                          confidence=0.2, handoff=False, answerer="offline", sources=[], language="en",
                                          created_at=dt.datetime.now(dt.timezone.utc), version="8.0")])
    section = next(r["_id"] for r in corpus_records(KB))
    a.save_review("t1", verdict="wrong", question="How do I rotate the SAML certificate?", reference="Open SSO.",
                  nuggets=[{"text": "Open SSO", "vital": True}], sections=[section])
    result = runner.invoke(app, ["eval", "export-reviewed", str(tmp_path / "out"), "--database", url, "--corpus", str(KB)])
    assert result.exit_code == 0, result.output
    assert "wrote 1 reviewed questions (1 answerable)" in result.output
    ds = load_dataset(tmp_path / "out")
    [q] = ds.queries_for("test")
    assert q.answer == "Open SSO." and q.metadata["nuggets"] == [{"text": "Open SSO", "vital": True}]
    assert q.metadata["context_version"] == "8.0" and ds.gold("test", q.id) == {section: 1}
