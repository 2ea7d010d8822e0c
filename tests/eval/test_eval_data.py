"""The project's knowledge base and evaluation sets validate against their schema and counts."""

import collections
import json

import pytest

from nectarine.eval.datasets import corpus_section_ids, load_dataset
from nectarine.ingest.loaders import discover, load_file
from nectarine.types import SourceType
from support.paths import REPO

ROOT = REPO
PRIORITIES = {"Highest", "High", "Normal", "Low"}


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(ROOT / "eval" / "nectain")


@pytest.fixture(scope="module")
def sections(dataset):
    return corpus_section_ids(dataset.corpus_paths)


def test_corpus_loads_completely_with_front_matter():
    counts = collections.Counter()
    for path, root in discover([ROOT / "corpus"]):
        docs, bad = load_file(path, root)  # raises SkipFile on any unreadable file
        assert not bad
        for doc in docs:
            counts[doc.source] += 1
            if path.suffix == ".md":
                head = path.read_text().split("---")[1]
                for field in ("title:", "url:", "source:", "versions:", "date:"):
                    assert field in head, f"{path} lacks {field}"
            assert doc.url.startswith("https://"), path
    assert counts[SourceType.DOCS] >= 45 and counts[SourceType.BLOG] >= 12
    assert counts[SourceType.RELEASE_NOTES] >= 14 and counts[SourceType.SUPPORT] == 1


def test_support_page_keeps_the_seed_text():
    seed = ROOT / "eval" / "seeds" / "nectain-support-center.txt"  # a copy of shared/seeds, kept in the repo
    shared = ROOT.parent / "shared" / "seeds" / "nectain-support-center.txt"
    if shared.exists():
        assert seed.read_text() == shared.read_text(), "eval/seeds is out of date with shared/seeds"
    page = (ROOT / "corpus" / "support" / "support-center.md").read_text()
    norm = lambda t: " ".join(t.replace("’", "'").split()).lower()  # noqa: E731
    checked = 0
    for line in seed.read_text().splitlines():
        words = [w for w in line.replace("-", " ").split() if w.isalpha() and len(w) > 3][:6]
        if len(words) >= 4:
            checked += 1
            assert all(w.lower() in norm(page) for w in words), line
    assert checked > 30


def test_queries_ids_unique_and_splits_sized(dataset):
    qs = list(dataset.queries.values())
    assert len({q.id for q in qs}) == len(qs)
    answerable = [q for q in qs if q.answerable]
    assert len(answerable) >= 250
    assert sum(1 for q in qs if q.history) >= 50
    assert sum(1 for q in qs if not q.answerable and not q.expect_handoff) >= 70
    assert sum(1 for q in qs if q.expect_handoff) >= 30
    for split in ("dev", "test"):
        in_split = dataset.queries_for(split)
        assert len(in_split) >= 150
        assert {q.metadata["split"] for q in in_split} == {split}
    assert all(q.answer for q in answerable)


def test_every_qrel_points_at_an_existing_section(dataset, sections):
    for split in ("dev", "test"):
        for qid, gold in dataset.qrels[split].items():
            q = dataset.queries[qid]
            assert q.answerable and q.metadata["split"] == split
            for cid in gold:
                assert cid in sections, f"{split}: {qid} -> {cid} is not a document or section of corpus/"
    for q in dataset.queries.values():
        has_gold = any(q.id in dataset.qrels[s] for s in dataset.qrels)
        assert has_gold == q.answerable, q.id


def test_tickets_schema_and_counts():
    seen: set[str] = set()
    total = collections.Counter()
    for split in ("dev", "test"):
        rows = [json.loads(line) for line in (ROOT / "eval" / "tickets" / f"{split}.jsonl").read_text().splitlines() if line.strip()]
        for t in rows:
            assert {"_id", "text", "priority", "language"} <= t.keys()
            assert t["priority"] in PRIORITIES and t["_id"] not in seen and t["text"].strip()
            seen.add(t["_id"])
            total[t["priority"]] += 1
        other = sum(t["language"] != "en" for t in rows) / len(rows)
        assert 0.15 <= other <= 0.3, f"{split}: {other:.0%} non-English"
    assert all(total[p] >= 50 for p in PRIORITIES)
