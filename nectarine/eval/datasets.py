"""Evaluation datasets in the BEIR layout, with Nectarine's optional query fields.

    DATASET_DIR/
      corpus.jsonl            {"_id", "title", "text", "metadata"}   (or dataset.yaml: corpus: ../../corpus)
      queries.jsonl           {"_id", "text", "history"?, "answer"?, "answerable"?, "metadata"?}
      qrels/<split>.tsv       query-id <TAB> corpus-id <TAB> score   (a header line is optional)

A ``corpus-id`` may be a document id or ``doc_id#section-anchor``; retrieved chunks are mapped up to
either. A query belongs to a split if the split's qrels name it, or if its ``metadata.split`` says
so (unanswerable queries have no qrels). ``metadata.context_version`` is the user's Nectain version
as the chat panel would send it.

>>> ds = load_dataset("eval/nectain")
>>> len(ds.queries_for("test"))
238
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import DatasetError  # noqa: F401 - defined under the one error root


@dataclass
class Query:
    id: str
    text: str
    history: list[dict] = field(default_factory=list)
    answer: str | None = None
    answerable: bool = True
    metadata: dict = field(default_factory=dict)

    @property
    def is_follow_up(self) -> bool:
        return bool(self.history)

    @property
    def expect_handoff(self) -> bool:
        return bool(self.metadata.get("expect_handoff"))


@dataclass
class Dataset:
    root: Path
    name: str
    corpus_paths: list[Path]
    queries: dict[str, Query]
    qrels: dict[str, dict[str, dict[str, int]]]  # split -> query id -> corpus id -> grade

    @property
    def splits(self) -> list[str]:
        named = {q.metadata.get("split") for q in self.queries.values()} - {None}
        return sorted(set(self.qrels) | named)

    def queries_for(self, split: str) -> list[Query]:
        if split not in self.splits:
            raise DatasetError(f"{self.root}: no split {split!r}; available: {', '.join(self.splits) or 'none'}")
        in_qrels = self.qrels.get(split, {})
        return [q for q in self.queries.values() if q.id in in_qrels or q.metadata.get("split") == split]

    def gold(self, split: str, query_id: str) -> dict[str, int]:
        return {cid: g for cid, g in self.qrels.get(split, {}).get(query_id, {}).items() if g > 0}


def load_dataset(root: str | Path) -> Dataset:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; pass a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)")
    config: dict = {}
    if (root / "dataset.yaml").exists():
        config = yaml.safe_load((root / "dataset.yaml").read_text()) or {}
    if "corpus" in config:
        corpus_paths = [(root / p).resolve() for p in ([config["corpus"]] if isinstance(config["corpus"], str) else config["corpus"])]
    elif (root / "corpus.jsonl").exists():
        corpus_paths = [root / "corpus.jsonl"]
    else:
        raise DatasetError(f"{root}: no corpus.jsonl (nor dataset.yaml naming a corpus folder)")
    for p in corpus_paths:
        if not p.exists():
            raise DatasetError(f"{root}/dataset.yaml: corpus path {p} does not exist")

    queries: dict[str, Query] = {}
    qfile = root / "queries.jsonl"
    if not qfile.exists():
        raise DatasetError(f"{root}: no queries.jsonl")
    for n, line in enumerate(qfile.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            qid = str(rec["_id"])
            text = str(rec["text"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DatasetError(f"{qfile}:{n}: each line needs a JSON object with '_id' and 'text' ({exc})") from None
        if qid in queries:
            raise DatasetError(f"{qfile}:{n}: duplicate query id {qid!r}")
        queries[qid] = Query(
            id=qid, text=text, history=list(rec.get("history") or []), answer=rec.get("answer"),
            answerable=bool(rec.get("answerable", True)), metadata=dict(rec.get("metadata") or {}),
        )

    qrels: dict[str, dict[str, dict[str, int]]] = {}
    qdir = root / "qrels"
    for tsv in sorted(qdir.glob("*.tsv")) if qdir.is_dir() else []:
        split = tsv.stem
        table: dict[str, dict[str, int]] = {}
        with tsv.open(encoding="utf-8") as f:
            for n, row in enumerate(csv.reader(f, delimiter="\t"), 1):
                if len(row) == 1:  # TREC style, separated by spaces
                    row = row[0].split()
                if not row or (n == 1 and not row[-1].strip().lstrip("-").isdigit()):
                    continue  # blank line or header
                if len(row) < 3:
                    raise DatasetError(f"{tsv}:{n}: expected query-id, corpus-id, score separated by tabs")
                # BEIR: qid, corpus-id, score; TREC: qid, iteration, corpus-id, score
                qid, cid, score = row[0], row[1] if len(row) == 3 else row[2], row[-1]
                try:
                    table.setdefault(qid, {})[cid] = int(float(score))
                except ValueError:
                    raise DatasetError(f"{tsv}:{n}: score {score!r} is not a number") from None
        qrels[split] = table
    return Dataset(root=root, name=root.name, corpus_paths=corpus_paths, queries=queries, qrels=qrels)


def corpus_section_ids(paths: list[Path]) -> dict[str, str]:
    """Every id a qrel may name: document ids and ``doc#anchor`` ids, each with its heading path."""
    from ..ingest.chunker import parse_sections
    from ..ingest.loaders import SkipFile, discover, load_file

    out: dict[str, str] = {}
    for path, root in discover(paths):
        try:
            docs, _ = load_file(path, root)
        except SkipFile:
            continue
        for doc in docs:
            out[doc.id] = doc.title
            if doc.metadata.get("format") == "text":
                continue
            for section in parse_sections(doc.text):
                if section.headings:
                    out[f"{doc.id}#{section.headings[-1][1]}"] = " › ".join([doc.title] + [h for h, _ in section.headings])
    return out
