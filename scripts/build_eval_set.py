"""Assemble eval/<set>/ in the BEIR layout from the hand-written source files in eval/<set>/src/.

    .venv/bin/python scripts/build_eval_set.py eval/nectain

Each source record carries its relevant section ids and split; this writes queries.jsonl (without
those two helper fields) and qrels/<split>.tsv, and refuses ids that are not sections of the corpus.
Nuggets (src/nuggets/*.jsonl, checked by scripts/check_nuggets.py) go into each query's
``metadata.nuggets``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from check_nuggets import check as check_nuggets  # noqa: E402
from check_questions import main as check  # noqa: E402


def build(root: Path) -> None:
    config = yaml.safe_load((root / "dataset.yaml").read_text())
    sources = sorted((root / "src").glob("*.jsonl"))
    if check([str(s) for s in sources]) != 0:
        sys.exit("fix the problems above first")
    nuggets = {}
    if (root / "src" / "nuggets").is_dir():
        if check_nuggets(root, []) != 0:
            sys.exit("fix the nugget problems above first")
        for f in sorted((root / "src" / "nuggets").glob("*.jsonl")):
            for line in f.read_text().splitlines():
                if line.strip():
                    rec = json.loads(line)
                    nuggets[rec["_id"]] = rec["nuggets"]
    queries, qrels = [], {}
    for src in sources:
        for line in src.read_text().splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            split = rec["metadata"]["split"]
            for cid in rec.pop("relevant"):
                qrels.setdefault(split, []).append((rec["_id"], cid, 1))
            if rec["_id"] in nuggets:
                rec["metadata"]["nuggets"] = nuggets[rec["_id"]]
            queries.append(rec)
    (root / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries))
    (root / "qrels").mkdir(exist_ok=True)
    for split, rows in qrels.items():
        lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{c}\t{s}" for q, c, s in rows]
        (root / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    print(f"{root}: {len(queries)} queries; qrels " + ", ".join(f"{s}: {len(r)}" for s, r in sorted(qrels.items())))
    del config


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "eval/nectain"))
