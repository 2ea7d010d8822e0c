"""Measure redaction on eval/redaction/cases.jsonl: recall per kind, false positives on look-alikes.

``.venv/bin/python scripts/eval_redaction.py [--cases eval/redaction/cases.jsonl] [--impl path/to/redact.py] [--show-misses]``

A secret counts as found when its exact substring is gone from the output; a look-alike counts as a
false positive when the output differs from the input in any way. ``redact`` is called with
``personal=True`` (what every stored and delivered path does). ``--impl`` measures another version of
the module (e.g. the previous one, extracted with ``git show HEAD:nectarine/handoff/redact.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"secret": 0.98, "personal": 0.95}
FP_TARGET = 0.02


def load_redact(impl: str | None):
    if not impl:
        sys.path.insert(0, str(ROOT))
        from nectarine.handoff.redact import redact
        return redact
    spec = importlib.util.spec_from_file_location("redact_under_test", impl)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.redact


def evaluate(cases: list[dict], redact) -> dict:
    """Per kind and per category: n, hits (secret gone / look-alike unchanged), and the misses."""
    kinds: dict[str, dict] = defaultdict(lambda: {"n": 0, "ok": 0, "misses": []})
    cats: dict[str, dict] = defaultdict(lambda: {"n": 0, "ok": 0})
    for c in cases:
        out = redact(c["text"], personal=True).text
        ok = (out == c["text"]) if c["category"] == "lookalike" else (c["secret"] not in out)
        for bucket in (kinds[c["kind"]], cats[c["category"]]):
            bucket["n"] += 1
            bucket["ok"] += ok
        if not ok:
            kinds[c["kind"]]["misses"].append((c["id"], c["text"], out))
    summary = {
        "secret_recall": cats["secret"]["ok"] / max(cats["secret"]["n"], 1),
        "personal_recall": cats["personal"]["ok"] / max(cats["personal"]["n"], 1),
        "lookalike_fp_rate": 1 - cats["lookalike"]["ok"] / max(cats["lookalike"]["n"], 1),
    }
    return {"kinds": dict(kinds), "categories": dict(cats), "summary": summary}


def load_cases(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(ROOT / "eval" / "redaction" / "cases.jsonl"))
    ap.add_argument("--impl", help="a redact.py to measure instead of nectarine.handoff.redact")
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    cases = load_cases(args.cases)
    result = evaluate(cases, load_redact(args.impl))
    category_of = {c["kind"]: c["category"] for c in cases}
    table = Table(title=f"Redaction on {Path(args.cases).name} ({len(cases)} cases)")
    for col, just in (("kind", "left"), ("category", "left"), ("n", "right"), ("recall / FP rate", "right"), ("missed", "right")):
        table.add_column(col, justify=just)
    for kind in sorted(result["kinds"], key=lambda k: ({"secret": 0, "personal": 1, "lookalike": 2}[category_of[k]], k)):
        b = result["kinds"][kind]
        if category_of[kind] == "lookalike":
            figure = f"FP {1 - b['ok'] / b['n']:.3f}"
        else:
            figure = f"{b['ok'] / b['n']:.3f}"
        style = "red" if b["ok"] < b["n"] else None
        table.add_row(kind, category_of[kind], str(b["n"]), figure, str(b["n"] - b["ok"]), style=style)
    s = result["summary"]
    table.add_section()
    table.add_row("all secrets", "secret", str(result["categories"].get("secret", {}).get("n", 0)), f"{s['secret_recall']:.3f}", f"target ≥ {TARGETS['secret']}")
    table.add_row("all personal", "personal", str(result["categories"].get("personal", {}).get("n", 0)), f"{s['personal_recall']:.3f}", f"target ≥ {TARGETS['personal']}")
    table.add_row("all look-alikes", "lookalike", str(result["categories"].get("lookalike", {}).get("n", 0)), f"FP {s['lookalike_fp_rate']:.3f}", f"target ≤ {FP_TARGET}")
    console = Console()
    console.print(table)
    if args.show_misses:
        for kind, b in result["kinds"].items():
            for cid, text, out in b["misses"]:
                console.print(f"[bold]{cid}[/bold]\n  in : {text!r}\n  out: {out!r}", highlight=False)
    met = s["secret_recall"] >= TARGETS["secret"] and s["personal_recall"] >= TARGETS["personal"] and s["lookalike_fp_rate"] <= FP_TARGET
    console.print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
