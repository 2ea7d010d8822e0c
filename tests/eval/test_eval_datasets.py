"""BEIR datasets of several shapes load, and retrieval evaluation runs on one end to end."""

import json

import pytest

from nectarine.eval.datasets import DatasetError, load_dataset
from nectarine.eval.retrieval import evaluate_retrieval, judge

from support.paths import FIXTURES


def write(folder, corpus, queries, qrels, split="test"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(c) + "\n" for c in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / f"{split}.tsv").write_text(qrels)
    return folder


def test_beir_shapes_load(tmp_path):
    ds = write(
        tmp_path / "set",
        [{"_id": 1, "text": "numeric id, no title"}, {"_id": "b", "title": None, "text": "null title"},
         {"_id": "c", "title": "Has title", "text": "x", "metadata": {"url": "http://c"}}],
        [{"_id": "q1", "text": "a"}, {"_id": 2, "text": "b", "metadata": {"split": "dev"}}],
        "q1 0 1 1\n",  # TREC style, no header
    )
    d = load_dataset(ds)
    assert d.corpus_paths == [ds / "corpus.jsonl"]
    assert [q.id for q in d.queries_for("test")] == ["q1"]
    assert [q.id for q in d.queries_for("dev")] == ["2"]
    assert d.gold("test", "q1") == {"1": 1}
    with pytest.raises(DatasetError, match="no split 'train'; available: dev, test"):
        d.queries_for("train")


def test_bad_dataset_errors_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match="not a folder"):
        load_dataset(tmp_path / "missing")
    ds = write(tmp_path / "bad", [{"_id": "a", "text": "x"}], [{"text": "no id"}], "")
    with pytest.raises(DatasetError, match=r"queries.jsonl:1: each line needs"):
        load_dataset(ds)


def test_project_dataset_points_at_corpus():
    d = load_dataset(FIXTURES.parent.parent / "eval" / "nectain")
    assert d.corpus_paths[0].name == "corpus"


def test_judge_counts_each_gold_id_once():
    class R:
        def __init__(self, ids):
            self.chunk = type("C", (), {"section_ids": ids})

    results = [R(["doc", "doc#a"]), R(["doc", "doc#a"]), R(["doc", "doc#b"])]
    gains, hits = judge(results, {"doc#a": 1, "doc#b": 2})
    assert gains == [1, 0, 2] and hits == [1, 0, 1]


def test_retrieval_eval_end_to_end(tmp_path, embedder):
    from nectarine import Nectarine, ingest

    d = load_dataset(FIXTURES / "beir-tiny")
    ingest(d.corpus_paths, tmp_path / "idx", embedder=embedder)
    nec = Nectarine.load(tmp_path / "idx", embedder=embedder)
    out = evaluate_retrieval(nec, d, split="test")
    m = out["metrics"]
    assert m["queries"] == 4  # the unanswerable query has no gold and is not scored here
    assert 0.5 <= m["ndcg@10"] <= 1.0 and m["recall@20"] == 1.0
    assert m["latency_ms_p50"] > 0 and m["latency_ms_p95"] >= m["latency_ms_p50"]
    assert set(out["breakdown"]) == {"first turn", "source: docs"}
    assert out["follow_up_gap"] is None  # no follow-ups here: no gap to report
    item = out["items"][0]
    assert item["gold"] == ["d1"] and item["retrieved"][0]["rank"] == 1


def test_retrieval_eval_reports_the_follow_up_gap(tmp_path, embedder):
    """First turns against follow-ups: the gap and a 95% interval around it, beside the breakdown."""
    from nectarine import Nectarine, ingest

    src = FIXTURES / "beir-tiny"
    corpus = [json.loads(line) for line in (src / "corpus.jsonl").read_text().splitlines()]
    first = [{"_id": "q1", "text": "forgot my password"}, {"_id": "q2", "text": "how big can an attachment be"}]
    history = [{"role": "user", "content": "how often do dashboards update"}, {"role": "assistant", "content": "Every 15 minutes."}]
    follow = [{"_id": "q3", "text": "and can I change that?", "history": history},
              {"_id": "q4", "text": "what about the api, per minute?", "history": history}]
    d = load_dataset(write(tmp_path / "set", corpus, first + follow, "q1 0 d1 1\nq2 0 d2 1\nq3 0 d3 1\nq4 0 d4 1\n"))
    ingest(d.corpus_paths, tmp_path / "idx", embedder=embedder)
    out = evaluate_retrieval(Nectarine.load(tmp_path / "idx", embedder=embedder), d, split="test")
    bd = out["breakdown"]
    assert bd["first turn"]["queries"] == 2 and bd["follow-up"]["queries"] == 2
    gap = out["follow_up_gap"]
    assert gap["ndcg@10"] == pytest.approx(bd["first turn"]["ndcg@10"] - bd["follow-up"]["ndcg@10"])
    lo, hi = gap["ci95"]
    assert lo <= gap["ndcg@10"] <= hi
