"""Incremental ingestion on a real model, real FAISS and bm25s indexes."""

import json

import pytest

from nectarine import IndexLoadError, Nectarine, NothingIngested, ingest
from nectarine.index.store import IndexReader, current_generation


def test_first_build_reports_and_manifest(kb_copy, tmp_path, embedder):
    report = ingest([kb_copy], tmp_path / "idx", embedder=embedder)
    assert report.documents == 10  # 8 pages plus 2 records in the BEIR file
    assert report.added == report.chunks == report.embedded > 0
    assert report.changed == report.removed == report.unchanged == 0
    assert report.skipped == []
    manifest = IndexReader.open(tmp_path / "idx").manifest
    assert manifest.model["name"] == "all-MiniLM-L6-v2" and manifest.dimension == 384
    assert manifest.counts["chunks"] == report.chunks
    assert manifest.chunker["max_tokens"] == 200 and manifest.nectarine_version and manifest.built_at


def test_unchanged_reingest_is_a_no_op(kb_copy, tmp_path, embedder):
    idx = tmp_path / "idx"
    ingest([kb_copy], idx, embedder=embedder)
    gen = current_generation(idx)
    again = ingest([kb_copy], idx, embedder=embedder)
    assert again.up_to_date and again.embedded == 0 and again.unchanged == again.chunks
    assert current_generation(idx) == gen


def test_add_change_delete(kb_copy, tmp_path, embedder):
    idx = tmp_path / "idx"
    first = ingest([kb_copy], idx, embedder=embedder)

    # change one section of one page, add a page, delete a page
    sso = kb_copy / "docs" / "sso.md"
    sso.write_text(sso.read_text().replace("Clock skew tolerance | 3 minutes", "Clock skew tolerance | 5 minutes"))
    (kb_copy / "docs" / "new-page.md").write_text("---\ntitle: Kiosk mode\n---\n\n## Enable kiosk mode\n\nKiosk mode locks a tablet to one form.\n")
    (kb_copy / "docs" / "legacy-timeout.md").unlink()

    second = ingest([kb_copy], idx, embedder=embedder)
    assert second.added == 1  # the new page's one chunk
    assert second.changed == 1  # the edited table
    assert second.removed == 2  # the old table chunk and the deleted page's chunk
    assert second.embedded == second.added + second.changed
    assert second.unchanged == first.chunks - 2
    assert second.chunks == first.chunks

    nec = Nectarine.load(idx, embedder=embedder)
    hits = nec.search("auth.session_timeout setting in minutes", k=10)
    assert all(h.chunk.doc_id != "docs/legacy-timeout" for h in hits)
    assert nec.search("kiosk mode tablet", k=1)[0].chunk.doc_id == "docs/new-page"
    skew = [h for h in nec.search("clock skew tolerance", k=10) if "Clock skew" in h.text]
    assert len(skew) == 1 and "5 minutes" in skew[0].text


def test_deleted_page_cannot_be_retrieved_in_any_mode(kb_copy, tmp_path, embedder):
    idx = tmp_path / "idx"
    ingest([kb_copy], idx, embedder=embedder)
    (kb_copy / "blog" / "hello.txt").unlink()
    ingest([kb_copy], idx, embedder=embedder)
    nec = Nectarine.load(idx, embedder=embedder)
    for mode in ("hybrid", "dense", "bm25"):
        hits = nec.search("Why we built Nectarine assistant cites its sources", k=50, mode=mode)
        assert all(h.chunk.doc_id != "blog/hello" for h in hits), mode
    rows = {row[1] for row in nec.reader.all_rows()}
    assert len(rows) == nec.reader.size


def test_bad_files_are_skipped_and_reported(kb_copy, tmp_path, embedder):
    (kb_copy / "docs" / "broken.md").write_text("---\ntitle: [oops\n---\nbody\n")
    (kb_copy / "docs" / "empty.md").write_text("")
    (kb_copy / "docs" / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    report = ingest([kb_copy], tmp_path / "idx", embedder=embedder)
    reasons = {p.rsplit("/", 1)[-1]: r for p, r in ((s.path, s.reason) for s in report.skipped)}
    assert set(reasons) == {"broken.md", "empty.md", "logo.png"}
    assert "front matter" in reasons["broken.md"] and "empty" in reasons["empty.md"]
    assert "unsupported" in reasons["logo.png"]
    assert report.documents == 10


def test_nothing_ingestable_raises(tmp_path, embedder):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.md").write_text("")
    with pytest.raises(NothingIngested, match="empty file"):
        ingest([tmp_path / "src"], tmp_path / "idx", embedder=embedder)
    assert current_generation(tmp_path / "idx") is None


def test_index_from_another_model_is_refused(kb_copy, tmp_path, embedder):
    idx = tmp_path / "idx"
    ingest([kb_copy], idx, embedder=embedder)
    gen = current_generation(idx)
    manifest = idx / gen / "manifest.json"
    data = json.loads(manifest.read_text())
    data["model"]["name"] = data["model"]["vector_space"] = "some-other-model"
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexLoadError, match="--rebuild"):
        ingest([kb_copy], idx, embedder=embedder)
    with pytest.raises(IndexLoadError, match="Rebuild the index"):
        Nectarine.load(idx, embedder=embedder)
    rebuilt = ingest([kb_copy], idx, embedder=embedder, rebuild=True)
    assert rebuilt.added == rebuilt.chunks == rebuilt.embedded  # nothing from the other model is reused
