"""Validate dev.jsonl / test.jsonl of the ticket-priority eval set. Usage: python validate.py [--sample N]"""
import json, random, sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
PRIORITIES = ["Highest", "High", "Normal", "Low"]
SCOPES = {"all-users", "many-users", "department-or-region", "few-users", "one-user", "n/a"}
IMPACTS = {"outage", "security", "data-loss", "login-blocked", "critical-task-blocked", "slowness",
           "disconnects-crashes", "feature-malfunction", "notifications-delayed", "minor-bug",
           "cosmetic", "enhancement-request", "documentation", "question"}
LANGS = {"en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "ja"}

def main():
    errors, ids, data = [], set(), {}
    for split in ["dev", "test"]:
        rows = []
        for n, line in enumerate((HERE / f"{split}.jsonl").read_text(encoding="utf-8").splitlines(), 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{split}:{n} invalid JSON: {e}"); continue
            if set(r) != {"_id", "text", "priority", "language", "metadata"}:
                errors.append(f"{split}:{n} keys {sorted(r)}")
            m = r.get("metadata", {})
            if set(m) != {"scope", "impact", "hard_case", "note"}:
                errors.append(f"{split}:{n} metadata keys {sorted(m)}")
            if not str(r.get("_id", "")).startswith(f"t-{split}-"): errors.append(f"{split}:{n} bad id {r.get('_id')}")
            if r.get("_id") in ids: errors.append(f"{split}:{n} duplicate id {r['_id']}")
            ids.add(r.get("_id"))
            if r.get("priority") not in PRIORITIES: errors.append(f"{split}:{n} priority {r.get('priority')}")
            if r.get("language") not in LANGS: errors.append(f"{split}:{n} language {r.get('language')}")
            if m.get("scope") not in SCOPES: errors.append(f"{split}:{n} scope {m.get('scope')}")
            if m.get("impact") not in IMPACTS: errors.append(f"{split}:{n} impact {m.get('impact')}")
            if not isinstance(m.get("hard_case"), bool): errors.append(f"{split}:{n} hard_case not bool")
            if not str(r.get("text", "")).strip() or not str(m.get("note", "")).strip():
                errors.append(f"{split}:{n} empty text/note")
            rows.append(r)
        data[split] = rows
        pc = Counter(r["priority"] for r in rows)
        if any(pc[p] != 30 for p in PRIORITIES): errors.append(f"{split}: priority counts {dict(pc)}")
        lang = Counter(r["language"] for r in rows)
        share = 1 - lang["en"] / len(rows)
        if not 0.15 <= share <= 0.25: errors.append(f"{split}: non-English share {share:.0%}")
        hard = sum(r["metadata"]["hard_case"] for r in rows)
        print(f"{split}: {len(rows)} tickets, priorities {dict(pc)}")
        print(f"  non-English {share:.0%} {dict(sorted((k, v) for k, v in lang.items() if k != 'en'))}")
        print(f"  non-English per priority {dict(Counter(r['priority'] for r in rows if r['language'] != 'en'))}")
        print(f"  hard cases {hard} ({hard/len(rows):.0%}), per priority {dict(Counter(r['priority'] for r in rows if r['metadata']['hard_case']))}")
    texts = [r["text"] for s in data.values() for r in s]
    if len(set(texts)) != len(texts): errors.append("duplicate texts")
    print("ERRORS:" if errors else "OK: all checks passed")
    for e in errors: print("  ", e)
    if "--sample" in sys.argv:
        k = int(sys.argv[sys.argv.index("--sample") + 1])
        for r in random.sample(data["test"], k):
            print("\n" + "=" * 80 + f"\n{r['_id']}  [{r['priority']}]  lang={r['language']}  {r['metadata']}\n" + "-" * 80 + f"\n{r['text']}")
    return 1 if errors else 0

if __name__ == "__main__":
    sys.exit(main())
