"""Print every citable section of a knowledge base as `doc_id#anchor<TAB>heading path`.

Evaluation qrels point at these ids (or at a bare doc_id), so that relevance survives re-chunking.

    .venv/bin/python scripts/list_sections.py corpus/ > /tmp/sections.tsv
"""

from __future__ import annotations

import sys
from pathlib import Path

from nectarine.ingest.chunker import parse_sections
from nectarine.ingest.loaders import SkipFile, discover, load_file


def sections(root: Path):
    for path, base in discover([root]):
        try:
            docs, _ = load_file(path, base)
        except SkipFile:
            continue
        for doc in docs:
            yield doc.id, doc.title
            if doc.metadata.get("format") == "text":
                continue
            for section in parse_sections(doc.text):
                if section.headings:
                    yield f"{doc.id}#{section.headings[-1][1]}", " › ".join([doc.title] + [h for h, _ in section.headings])


if __name__ == "__main__":
    for sid, path in sections(Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")):
        print(f"{sid}\t{path}")
