"""Validate nugget files (eval/<set>/src/nuggets/*.jsonl) against the question source files.

    python3 scripts/check_nuggets.py eval/nectain            # every nugget file
    python3 scripts/check_nuggets.py eval/nectain q-u-1.jsonl  # one file
    python3 scripts/check_nuggets.py --against ../shared/datasets/mtrag-govt eval/nuggets/mtrag-govt/test.jsonl

One line per question: {"_id": ..., "nuggets": [{"text": ..., "vital": true|false, "step"?: n}]}.
A nugget is one atomic fact a good answer must contain (TREC 2024 RAG track, AutoNuggetizer): `vital`
when the answer is wrong or unusable without it, `okay` (vital false) when it helps. Steps of a
procedure carry `step` (1, 2, ...) in the order the docs give them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load_questions(root: Path) -> dict[str, dict]:
    out = {}
    for src in sorted((root / "src").glob("*.jsonl")) or [root / "queries.jsonl"]:
        for line in src.read_text().splitlines():
            if line.strip():
                q = json.loads(line)
                out[q["_id"]] = q
    return out


def check(root: Path, names: list[str], *, against: bool = False) -> int:
    questions = load_questions(root)
    if against:
        files = [Path(n) for n in names]
    else:
        files = [root / "src" / "nuggets" / n for n in names] if names else sorted((root / "src" / "nuggets").glob("*.jsonl"))
    problems, seen = 0, {}
    for f in files:
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if not line.strip():
                continue
            where = f"{f}:{n}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                print(f"{where}: invalid JSON: {exc}"); problems += 1; continue
            qid = rec.get("_id")
            if qid not in questions:
                print(f"{where}: unknown question id {qid!r}"); problems += 1; continue
            if qid in seen:
                print(f"{where}: {qid} already has nuggets in {seen[qid]}"); problems += 1
            seen[qid] = f.name
            if questions[qid].get("answerable", True) is False:
                print(f"{where}: {qid} is unanswerable; unanswerable questions get no nuggets"); problems += 1
            nuggets = rec.get("nuggets") or []
            if not nuggets:
                print(f"{where}: no nuggets"); problems += 1
            if not any(g.get("vital") for g in nuggets):
                print(f"{where}: no vital nugget"); problems += 1
            steps = [g["step"] for g in nuggets if "step" in g]
            if steps and steps != list(range(1, len(steps) + 1)):
                print(f"{where}: steps must be numbered 1..n in order, got {steps}"); problems += 1
            for g in nuggets:
                if set(g) - {"text", "vital", "step"} or not isinstance(g.get("vital"), bool):
                    print(f"{where}: a nugget is {{text, vital: bool, step?}}, got {g}"); problems += 1
                text = str(g.get("text", ""))
                if not text.strip() or len(text.split()) > 30:
                    print(f"{where}: nugget text must be 1-30 words: {text!r}"); problems += 1
    if not names:
        missing = [q for q, rec in questions.items() if rec.get("answerable", True) is not False and q not in seen]
        print(f"answerable questions without nuggets: {len(missing)}" + (f" (e.g. {missing[:5]})" if missing else ""))
    print(f"questions with nuggets: {len(seen)}; problems: {problems}")
    return 1 if problems else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--against"]:
        sys.exit(check(Path(args[1]), args[2:], against=True))
    sys.exit(check(Path(args[0] if args else "eval/nectain"), args[1:]))
