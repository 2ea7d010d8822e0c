"""Print every citable section of a knowledge base as `doc_id#anchor<TAB>heading path`.

Evaluation qrels point at these ids (or at a bare doc_id), so that relevance survives re-chunking.

    .venv/bin/python scripts/list_sections.py corpus/ > /tmp/sections.tsv
"""

from __future__ import annotations

import sys
from pathlib import Path

from nectarine.eval.datasets import corpus_section_ids


def sections(root: Path):
    return corpus_section_ids([root]).items()


if __name__ == "__main__":
    for sid, heading_path in sections(Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")):
        print(f"{sid}\t{heading_path}")
