"""Reviewed answers as an evaluation set: a BEIR folder that ``nectarine eval answers DIR`` and
``nectarine eval retrieval DIR`` run on unchanged.

    DIR/corpus.jsonl      every document of the knowledge base ({"_id", "title", "text", "metadata"}),
                          kept as Markdown so its sections (``doc#anchor``) are what the qrels name
    DIR/queries.jsonl     one reviewed question each: {"_id": "rv-<n>", "text", "answer" (the reference),
                          "answerable", "metadata": {"split": "test", "nuggets", "context_version", ...}}
    DIR/qrels/test.tsv    query-id, corpus-id (the sections the reviewer picked), 1

A review whose reviewer picked no section says the docs do not answer the question: it is exported as
unanswerable (``answerable: false``, no qrels), as ``eval/nectain`` keeps its unanswerable questions.
Nuggets have ``eval/nectain``'s shape: ``{"text", "vital"}``.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from ..store.analytics import Analytics

SPLIT = "test"


def corpus_records(corpus: Path) -> list[dict]:
    """The knowledge base's documents as BEIR corpus records (Markdown kept, so sections survive)."""
    from ..ingest.loaders import SkipFile, discover, load_file

    records = []
    for path, root in discover([Path(corpus)]):
        try:
            docs, _ = load_file(path, root)
        except SkipFile:
            continue
        for d in docs:
            meta = {k: v for k, v in d.metadata.items()}
            meta.update(source=d.source.value, url=d.url, versions=d.versions, language=d.language)
            if d.version:
                meta["version"] = d.version
            if d.date:
                meta["date"] = d.date.isoformat()
            records.append({"_id": d.id, "title": d.title, "text": d.text, "metadata": meta})
    if not records:
        raise FileNotFoundError(f"{corpus}: no documents to export; pass the knowledge base folder (NECTARINE_CORPUS)")
    return sorted(records, key=lambda r: r["_id"])


def query_records(reviews: list[dict]) -> tuple[list[dict], list[tuple[str, str]]]:
    queries, qrels = [], []
    for r in reviews:
        qid = f"rv-{r['id']:05d}"
        sections = [s for s in (r.get("sections") or []) if s]
        meta = {"split": SPLIT, "nuggets": list(r.get("nuggets") or []), "verdict": r["verdict"], "source": "console-review",
                "turn": r["public_id"], "language": r.get("language") or "en"}
        if r.get("version"):
            meta["context_version"] = r["version"]
        queries.append({"_id": qid, "text": r["question"], "answer": r.get("reference") or None, "answerable": bool(sections),
                        "metadata": meta})
        qrels.extend((qid, s) for s in sections)
    return queries, qrels


def files(analytics: Analytics, corpus: Path) -> dict[str, str]:
    """The dataset's files (relative path -> text). Raises ValueError when nothing has been reviewed."""
    reviews = analytics.reviews()
    if not reviews:
        raise ValueError("no reviewed answers yet; review some in the console (Review queue) first")
    queries, qrels = query_records(reviews)
    return {
        "corpus.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in corpus_records(corpus)),
        "queries.jsonl": "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries),
        f"qrels/{SPLIT}.tsv": "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{c}\t1\n" for q, c in qrels),
    }


def export_reviewed(analytics: Analytics, corpus: Path, out: Path) -> dict:
    """Write the dataset to ``out`` (created; existing files of the dataset replaced); returns counts."""
    contents = files(analytics, corpus)
    out = Path(out)
    for name, text in contents.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    queries = [json.loads(line) for line in contents["queries.jsonl"].splitlines()]
    return {"queries": len(queries), "answerable": sum(q["answerable"] for q in queries),
            "documents": contents["corpus.jsonl"].count("\n"), "folder": str(out)}


def zipped(analytics: Analytics, corpus: Path, name: str = "reviewed") -> bytes:
    """The dataset as a zip with one top folder ``name/`` (the console's download)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in files(analytics, corpus).items():
            z.writestr(f"{name}/{path}", text)
    return buffer.getvalue()
