"""Hybrid retrieval on the fixture knowledge base, with the real model and indexes (``any_nec``: also on the fake embedder, fast tier)."""

import pytest

from nectarine import Filters, SourceType
from nectarine.types import OptionError


def ids(results):
    return [r.chunk.doc_id + ("#" + r.chunk.anchor if r.chunk.anchor else "") for r in results]


def test_result_carries_everything_a_citation_needs(any_nec):
    (top,) = any_nec.search("users get AUTH-1003 after the certificate changed", k=1)
    assert top.chunk.doc_id == "docs/sso" and top.chunk.anchor == "rotate-the-certificate"
    assert top.url == "https://docs.example.test/admin/sso#rotate-the-certificate"
    assert top.heading_path == ["Single sign-on", "Configure SAML", "Rotate the certificate"]
    assert top.source is SourceType.DOCS and top.chunk.versions == ">=4.0"
    assert top.chunk.date.isoformat() == "2026-10-13"
    assert 0 < top.dense_score <= 1 and top.lexical_score > 0 and top.score > 0
    assert top.rank == 1 and top.id == top.chunk.id


def test_exact_error_code_is_found_by_the_lexical_side(any_nec):
    hits = any_nec.search("REP-5040", k=3, mode="bm25")
    assert hits[0].chunk.doc_id == "release-notes/4.3.0"
    assert hits[0].dense_rank is None


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_modes_rank_the_obvious_page_first(any_nec, mode):
    hits = any_nec.search("429 rate limited Retry-After header", k=3, mode=mode)
    assert ids(hits)[0] == "docs/api-errors#rate-limits"


def test_source_filter(any_nec):
    hits = any_nec.search("session timeout", k=10, sources=["release-notes"])
    assert hits and all(h.source is SourceType.RELEASE_NOTES for h in hits)
    with pytest.raises(OptionError, match="choose one of: docs, blog, release-notes, support"):
        any_nec.search("x", sources=["wiki"])


def test_version_demotes_passages_for_other_versions(nec):
    q = "how long is the idle session timeout"
    old = nec.search(q, k=3, version="4.1")
    new = nec.search(q, k=3, version="4.4")
    assert old[0].chunk.anchor == "timeout-up-to-42" or old[0].chunk.doc_id == "docs/legacy-timeout"
    assert new[0].chunk.anchor == "timeout-from-43"
    legacy = [h for h in new if h.chunk.doc_id == "docs/legacy-timeout"]
    assert all(not h.version_match for h in legacy)


def test_version_exclude_drops_other_versions(any_nec):
    hits = any_nec.search("auth.session_timeout", k=20, filters=Filters(version="4.5", version_mode="exclude"))
    assert hits and all(h.chunk.doc_id != "docs/legacy-timeout" for h in hits)
    assert all(h.version_match for h in hits)
    # release notes of later versions do not apply to a 4.3 user
    hits = any_nec.search("nectarine drafts support tickets", k=20, filters=Filters(version="4.3", version_mode="exclude"))
    assert all(h.chunk.doc_id != "release-notes/4.5.0" for h in hits)


def test_version_in_the_question_counts_when_none_is_given(nec):
    hits = nec.search("I'm on 4.2, how long before an idle session times out?", k=2)
    assert "docs/legacy-timeout" in ids(hits)[0] or ids(hits)[0].endswith("timeout-up-to-42")


def test_what_changed_prefers_release_notes_up_to_the_users_version(nec):
    hits = nec.search("what changed about the session timeout", k=3, version="4.3.0")
    assert hits[0].source is SourceType.RELEASE_NOTES and hits[0].chunk.version == "4.3.0"
    later = [h for h in hits if h.chunk.version == "4.5.0"]
    assert all(not h.version_match for h in later)


def test_follow_up_uses_history(nec):
    history = [
        {"role": "user", "content": "How do I set up single sign-on with SAML?"},
        {"role": "assistant", "content": "Open Admin Console › Security › Single sign-on and paste the metadata URL."},
    ]
    alone = nec.search("and on mobile?", k=1)
    followed = nec.search("and on mobile?", k=1, history=history)
    assert alone[0].chunk.doc_id == "docs/mobile"  # on its own, "mobile" means the mobile app page
    assert followed[0].chunk.anchor == "sso-on-mobile"


def test_near_duplicates_are_collapsed(kb_copy, tmp_path, any_embedder):
    from nectarine import Nectarine, ingest

    text = (kb_copy / "docs" / "session-timeout.md").read_text()
    (kb_copy / "docs" / "session-timeout-copy.md").write_text(text.replace("title: Idle session timeout", "title: Idle session timeout (copy)"))
    ingest([kb_copy], tmp_path / "idx", embedder=any_embedder)
    nec = Nectarine.load(tmp_path / "idx", embedder=any_embedder)
    hits = nec.search("idle timeout defaults to 60 minutes from 4.3", k=5)
    texts = [h.text for h in hits]
    assert len(texts) == len(set(texts))
    assert sum("defaults to 60 minutes" in t for t in texts) == 1


def test_empty_query_returns_nothing(any_nec):
    assert any_nec.search("   ") == []


def test_beir_records_are_searchable(nec):
    (top,) = nec.search("forgot password link", k=1)
    assert top.chunk.doc_id == "kb-101" and top.source is SourceType.SUPPORT


def test_follow_up_gate_lets_history_in_only_when_the_question_alone_is_far_from_the_docs(nec):
    history = [
        {"role": "user", "content": "How do I set up single sign-on with SAML?"},
        {"role": "assistant", "content": "Open Admin Console › Security › Single sign-on and paste the metadata URL [1]."},
    ]
    vague = nec.retriever.follow_gate("and the other one?", history)
    standalone = nec.retriever.follow_gate("how long before an idle session ends?", history)
    assert vague.weight > standalone.weight and vague.weight > 0.5
    assert standalone.best_cosine > vague.best_cosine
    assert vague.context.endswith("paste the metadata URL.")  # the last exchange, its markers dropped
    assert nec.retriever.follow_gate("and the other one?", []).weight == 0.0
    # a new topic keeps its own results: history does not pull it back to SSO
    assert nec.search("how long before an idle session ends?", k=1, history=history)[0].chunk.doc_id == \
        nec.search("how long before an idle session ends?", k=1)[0].chunk.doc_id


def test_the_reranker_sees_the_fused_pool_and_scores_it_as_probabilities(any_nec):
    retriever = any_nec.retriever
    pool = retriever.candidate_pool("users get AUTH-1003 after the certificate changed")
    assert pool is not None and 0 < len(pool.texts) <= retriever.settings.rerank_depth
    assert list(pool.fused) == sorted(pool.fused, reverse=True)  # the fused order, before reranking
    hits = any_nec.search("users get AUTH-1003 after the certificate changed", k=5)
    assert all(0 < h.score < 1 for h in hits) and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {h.row for h in hits} <= set(pool.extra["rows"])


def test_the_reranker_reorders_by_what_it_learned(fake_nec):
    """A model that prefers the bottom of the fused order turns the pool upside down."""
    import numpy as np

    from nectarine.retrieve.rerank import FEATURES, Reranker

    retriever = fake_nec.retriever
    query = "rate limits Retry-After"
    coef = np.zeros(len(FEATURES))
    coef[FEATURES.index("fused_rank")] = 5.0
    retriever._reranker = Reranker(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef, 0.0)
    try:
        reranked = fake_nec.search(query, k=3)
    finally:
        retriever._reranker = None
    rows = retriever.candidate_pool(query).extra["rows"]
    assert len(rows) > 3 and reranked[0].row == rows[-1]
    assert fake_nec.search(query, k=1)[0].row != rows[-1]  # the shipped model does not


def test_the_shipped_reranker_matches_the_features_and_refuses_a_stale_file(tmp_path):
    import json

    from nectarine.retrieve.rerank import FEATURES, MODEL_PATH, Reranker

    model = Reranker.load()
    assert len(model.coef) == len(FEATURES) and model.meta["trained_on"]
    stale = json.loads(MODEL_PATH.read_text())
    stale["features"] = stale["features"][:-1]
    (tmp_path / "rerank.json").write_text(json.dumps(stale))
    with pytest.raises(ValueError, match="refit it with scripts/train_reranker.py"):
        Reranker.load(tmp_path / "rerank.json")


def test_rerank_off_keeps_the_fused_order(any_nec):
    retriever = any_nec.retriever
    pool = retriever.candidate_pool("session timeout")
    retriever.settings.rerank = False
    try:
        hits = any_nec.search("session timeout", k=5)
    finally:
        retriever.settings.rerank = True
    assert [h.row for h in hits] == pool.extra["rows"][: len(hits)]
