"""Add the ``dev`` split to eval/crosslingual/{nectain,mtrag-govt} from hand-written translation tables.

    .venv/bin/python scripts/build_crosslingual_dev.py

Takes the first turns (no ``history``) of the source set's ``metadata.split == "dev"`` queries that have
gold ids in its ``qrels/dev.tsv`` (eval/nectain; ../shared/datasets/mtrag-govt, read in place), looks
each up in eval/crosslingual/translations/<dataset>-dev.json (original id -> {de, fr, es, pt}), and

- appends one record per language to eval/crosslingual/<dataset>/queries.jsonl (``_id`` is
  ``<original id>-<lang>``, same shape as the test records, ``metadata.split`` = ``dev``); the test
  lines are left byte for byte, and dev lines from an earlier run are replaced, so it can be re-run;
- writes eval/crosslingual/<dataset>/qrels/dev.tsv: the original header, then each original dev qrels
  line once per translated id.

See eval/crosslingual/README.md for the translation rules.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "eval" / "crosslingual"
LANGS = ("de", "fr", "es", "pt")
SPLIT = "dev"

# dataset -> (source folder, metadata fields copied after split/language/source_id/english, in this order)
DATASETS = {
    "nectain": (REPO / "eval" / "nectain", ("context_version", "kinds", "expect_handoff", "nuggets")),
    "mtrag-govt": (REPO.parent / "shared" / "datasets" / "mtrag-govt", ("answerability", "turn")),
}


def read_qrels(path: Path) -> tuple[str, list[list[str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], [line.split("\t") for line in lines[1:] if line.strip()]
    if header.split("\t")[-1].strip().lstrip("-").isdigit():  # no header after all
        header, rows = "query-id\tcorpus-id\tscore", [header.split("\t")] + rows
    return header, rows


def build(name: str) -> dict[str, int]:
    src, fields = DATASETS[name]
    table = json.loads((OUT / "translations" / f"{name}-{SPLIT}.json").read_text(encoding="utf-8"))
    header, rows = read_qrels(src / "qrels" / f"{SPLIT}.tsv")
    gold = {r[0] for r in rows if int(float(r[-1])) > 0}
    originals = [json.loads(line) for line in (src / "queries.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = [r for r in originals
              if (r.get("metadata") or {}).get("split") == SPLIT and not r.get("history") and str(r["_id"]) in gold]
    ids = [str(r["_id"]) for r in chosen]
    if set(ids) != set(table):
        sys.exit(f"{name}: translation table and source disagree: missing {sorted(set(ids) - set(table))}, "
                 f"extra {sorted(set(table) - set(ids))}")

    records = []
    for lang in LANGS:
        for rec in chosen:
            qid, meta = str(rec["_id"]), rec.get("metadata") or {}
            text = table[qid][lang]
            if not text.strip():
                sys.exit(f"{name}: empty {lang} translation for {qid}")
            out_meta = {"split": SPLIT, "language": lang, "source_id": qid, "english": rec["text"]}
            out_meta.update({k: meta[k] for k in fields if k in meta})
            out = {"_id": f"{qid}-{lang}", "text": text, "answerable": rec.get("answerable", True), "metadata": out_meta}
            if "answer" in rec:
                out["answer"] = rec["answer"]
            records.append(out)

    qfile = OUT / name / "queries.jsonl"
    kept = [line for line in qfile.read_text(encoding="utf-8").splitlines()
            if line.strip() and (json.loads(line).get("metadata") or {}).get("split") != SPLIT]
    taken = {json.loads(line)["_id"] for line in kept}
    clash = [r["_id"] for r in records if r["_id"] in taken]
    if clash:
        sys.exit(f"{name}: ids already used by other splits: {clash[:5]}")
    qfile.write_text("\n".join(kept + [json.dumps(r, ensure_ascii=False) for r in records]) + "\n", encoding="utf-8")

    chosen_ids = set(ids)
    qrels = [header] + ["\t".join([f"{r[0]}-{lang}"] + r[1:]) for lang in LANGS for r in rows if r[0] in chosen_ids]
    (OUT / name / "qrels" / f"{SPLIT}.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return {lang: len(chosen) for lang in LANGS}


def main() -> None:
    for name in DATASETS:
        counts = build(name)
        print(f"{name}: {SPLIT} " + ", ".join(f"{lang} {n}" for lang, n in counts.items()) + f", total {sum(counts.values())}")


if __name__ == "__main__":
    main()
