"""BEIR JSONL corpora of any size: streamed in bounded memory, no file-size limit, each record still bounded."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from nectarine import ingest
from nectarine.cli import app
from nectarine.ingest.loaders import MAX_FILE_BYTES, BeirJsonlLoader, Skipped, iter_file, read_source
from nectarine.ingest.sources import FileSource

TOPICS = ["invoice approval", "webhook retries", "tenant quota", "session timeout", "audit export", "role permission"]


def write_corpus(path, passages: int, pad: int) -> None:
    """A BEIR corpus; ``pad`` bytes of record metadata (kept by the loader, not chunked) make it big cheaply."""
    with path.open("w") as f:
        for i in range(passages):
            topic = TOPICS[i % len(TOPICS)]
            f.write(json.dumps({"_id": f"p{i}", "title": f"{topic.title()} {i}",
                                "text": f"How {topic} works in workspace {i}: open settings, then {topic} number {i}.",
                                "metadata": {"source": "docs", "notes": "x" * pad}}) + "\n")


class CountingReader:
    def __init__(self, f) -> None:
        self.f, self.read_bytes = f, 0

    def readline(self, size=-1):
        line = self.f.readline(size)
        self.read_bytes += len(line)
        return line


def test_a_corpus_over_the_single_page_limit_is_streamed_not_refused(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 700, pad=10_000)
    assert corpus.stat().st_size > MAX_FILE_BYTES * 1.3
    docs = iter_file(corpus, tmp_path)
    first = next(docs)
    assert first.id == "p0"
    with corpus.open("rb") as f:  # the first record arrives after one line, not after the whole file
        reader = CountingReader(f)
        assert next(iter_file(corpus, tmp_path, stream=reader)).id == "p0"
        assert reader.read_bytes < 20_000
    assert sum(1 for d in docs if not isinstance(d, Skipped)) == 699


def test_one_oversized_record_is_reported_and_the_rest_kept(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"_id": "a", "text": "small one"}) + "\n"
                      + json.dumps({"_id": "big", "text": "y" * 5000}) + "\n"
                      + json.dumps({"_id": "b", "text": "small two"}) + "\n")
    with corpus.open("rb") as f:
        out = list(BeirJsonlLoader(max_record_bytes=1000).iter_documents(corpus, tmp_path, f))
    assert [d.id for d in out if not isinstance(d, Skipped)] == ["a", "b"]
    (bad,) = [d for d in out if isinstance(d, Skipped)]
    assert bad.path.endswith(":2") and "over the 1,000 bytes limit for a single page" in bad.reason


def test_single_pages_keep_their_limit_in_mib(tmp_path):
    page = tmp_path / "big.md"
    page.write_bytes(b"# Big\n\n" + b"word " * (1_300_000))  # 6.2 MiB
    from nectarine.errors import SkipFile

    try:
        read_source(page)
    except SkipFile as exc:
        assert str(exc).startswith("file is 6.2 MiB, over the 5 MiB limit for a single page")
    else:
        raise AssertionError("a 6 MiB page was read")


def test_ingest_and_reingest_of_a_big_corpus(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 700, pad=10_000)
    report = ingest([corpus], tmp_path / "idx", embedder=fake_embedder)
    assert report.documents == 700 and not report.skipped
    again = ingest([corpus], tmp_path / "idx", embedder=fake_embedder)
    assert again.up_to_date  # hashed as a stream, not parsed again
    with corpus.open("a") as f:
        f.write(json.dumps({"_id": "extra", "title": "Extra", "text": "A passage added at the end."}) + "\n")
    grown = ingest([corpus], tmp_path / "idx", embedder=fake_embedder)
    assert grown.added == 1 and grown.documents == 701


def test_file_source_hashes_what_it_read(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 3, pad=10)
    (item,) = FileSource([corpus]).items({}, True)
    before = item.digest
    assert len([d for d in item.read() if not isinstance(d, Skipped)]) == 3
    assert item.digest == before


def test_cli_ingest_and_eval_retrieval_on_a_corpus_over_the_old_limit(tmp_path):
    data = tmp_path / "bigbeir"
    (data / "qrels").mkdir(parents=True)
    write_corpus(data / "corpus.jsonl", 700, pad=10_000)
    (data / "queries.jsonl").write_text("".join(
        json.dumps({"_id": f"q{i}", "text": f"{TOPICS[i % len(TOPICS)]} number {i}"}) + "\n" for i in range(0, 60, 7)))
    (data / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\tp{i}\t1\n" for i in range(0, 60, 7)))
    runner = CliRunner()
    index = str(tmp_path / "idx")
    built = runner.invoke(app, ["ingest", str(data / "corpus.jsonl"), "--index", index, "--model", "fake"])
    assert built.exit_code == 0, built.output
    assert "skipped" in built.output and "over the" not in built.output
    result = runner.invoke(app, ["eval", "retrieval", str(data), "--index", index, "--mode", "bm25", "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r.json").read_text())["metrics"]
    assert metrics["queries"] == 9 and metrics["ndcg@10"] > 0.5
