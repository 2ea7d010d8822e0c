"""Validate question source files (eval/<set>/src/*.jsonl) against the corpus's sections.

    .venv/bin/python scripts/check_questions.py eval/nectain/src/*.jsonl
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from list_sections import sections  # noqa: E402

KINDS = {"paraphrase", "vague", "typo", "error-paste", "log-paste", "version-specific", "multi-source", "follow-up",
         "how-to", "what-is", "limits", "troubleshooting", "changes", "near-miss", "out-of-scope", "escalation",
         "availability", "comparison", "concept"}


def main(files: list[str]) -> int:
    valid = {sid for sid, _ in sections(Path("corpus"))}
    problems = 0
    ids: set[str] = set()
    counts = collections.Counter()
    for f in files:
        for n, line in enumerate(Path(f).read_text().splitlines(), 1):
            if not line.strip():
                continue
            where = f"{f}:{n}"
            try:
                q = json.loads(line)
            except json.JSONDecodeError as exc:
                print(f"{where}: invalid JSON: {exc}"); problems += 1; continue
            for key in ("_id", "text", "answerable", "relevant", "metadata"):
                if key not in q:
                    print(f"{where}: missing {key}"); problems += 1
            if q.get("_id") in ids:
                print(f"{where}: duplicate id {q.get('_id')}"); problems += 1
            ids.add(q.get("_id"))
            meta = q.get("metadata", {})
            if meta.get("split") not in ("dev", "test"):
                print(f"{where}: metadata.split must be dev or test"); problems += 1
            for k in meta.get("kinds", []):
                if k not in KINDS:
                    print(f"{where}: unknown kind {k!r} (known: {sorted(KINDS)})"); problems += 1
            if q.get("answerable", True):
                if not q.get("relevant"):
                    print(f"{where}: answerable question without relevant sections"); problems += 1
                if not str(q.get("answer", "")).strip():
                    print(f"{where}: answerable question without a reference answer"); problems += 1
            for rid in q.get("relevant", []):
                if rid not in valid:
                    print(f"{where}: relevant id {rid!r} is not a section of corpus/"); problems += 1
            for turn in q.get("history", []) or []:
                if turn.get("role") not in ("user", "assistant") or not turn.get("content"):
                    print(f"{where}: bad history turn {turn}"); problems += 1
            counts[(meta.get("split"), "answerable" if q.get("answerable", True) else "unanswerable")] += 1
            if q.get("history"):
                counts[(meta.get("split"), "follow-up")] += 1
    for key, value in sorted(counts.items(), key=str):
        print(f"{key[0]:>5} {key[1]:<13} {value}")
    print(f"problems: {problems}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
