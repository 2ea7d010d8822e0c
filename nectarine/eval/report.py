"""A self-contained HTML report of an evaluation: plots as embedded PNGs, tables of what went wrong.

>>> from pathlib import Path
>>> from nectarine.eval.priority import evaluate_priority
>>> from nectarine.handoff.priority import PriorityClassifier
>>> from nectarine.index.embedder import get_embedder
>>> _ = Path("tickets.jsonl").write_text('{"_id": "t-001", "text": "Nobody in the company can log in", "priority": "Highest"}\\n')
>>> p = evaluate_priority("tickets.jsonl", classifier=PriorityClassifier.load(embedder=get_embedder("fake")))
>>> html = build_report("tickets", priority=p)  # and retrieval={"hybrid": r1, "dense": r2}, answers=a
>>> _ = Path("report.html").write_text(html)
>>> html.startswith("<!DOCTYPE html>"), 'src="data:image/png;base64,' in html  # plots embedded: one file to share
(True, True)
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

CSS = """body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:1em 0;width:100%}
td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}th{background:#f5f5f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#1a7f37}.bad{color:#c62828}
img{max-width:100%;margin:.5em 0}.plots{display:flex;flex-wrap:wrap;gap:1em}.plots figure{margin:0;flex:1 1 460px}
pre{white-space:pre-wrap;background:#f8f8f8;padding:.5em;margin:0;font-size:12px}"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{c:.3f}</td>' if isinstance(c, float) else f'<td class="{"num" if i in numeric else ""}">{c if isinstance(c, _Raw) else html.escape(str(c))}</td>'
            for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class _Raw(str):
    """Already-escaped HTML."""


def _esc_list(items: list[str]) -> _Raw:
    return _Raw("<br>".join(html.escape(i) for i in items))


def retrieval_section(results: dict[str, dict]) -> str:
    plt = _plt()
    parts = ["<h2>Retrieval</h2>"]
    ks = [1, 5, 10, 20]
    rows = [[mode, *(r["metrics"][k] for k in ("ndcg@10", "recall@1", "recall@5", "recall@10", "recall@20", "mrr@10")),
             r["metrics"]["latency_ms_p50"], r["metrics"]["latency_ms_p95"]] for mode, r in results.items()]
    parts.append(_table(["mode", "nDCG@10", "R@1", "R@5", "R@10", "R@20", "MRR@10", "p50 ms", "p95 ms"], rows))
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for mode, r in results.items():
        ax.plot(ks, [r["metrics"][f"recall@{k}"] for k in ks], marker="o", label=mode)
    ax.set(xlabel="k (chunks retrieved)", ylabel="recall@k", title="Recall@k by mode", ylim=(0, 1), xticks=ks)
    ax.legend()
    ax.grid(alpha=0.3)
    curves = _png(fig)
    main = next(iter(results.values()))
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.hist([it["latency_ms"] for it in main["items"]], bins=30, color="C0")
    ax.set(xlabel="ms per query (embedding included)", ylabel="queries", title=f"Latency ({next(iter(results))})")
    parts.append(f'<div class="plots"><figure>{curves}</figure><figure>{_png(fig)}</figure></div>')
    bd = main.get("breakdown", {})
    if bd:
        parts.append("<h3>Breakdown</h3>" + _table(["group", "queries", "nDCG@10", "R@10", "MRR@10"],
                                                   [[g, m["queries"], m["ndcg@10"], m["recall@10"], m["mrr@10"]] for g, m in bd.items()]))
    gap = main.get("follow_up_gap")
    if gap:
        parts.append(f"<p>First turns minus follow-ups, nDCG@10: {gap['ndcg@10']:+.3f} "
                     f"(95% interval {gap['ci95'][0]:+.3f} to {gap['ci95'][1]:+.3f}, resampling each group).</p>")
    worst = sorted(main["items"], key=lambda it: it["metrics"]["ndcg@10"])[:15]
    rows = [[it["id"], it["text"], _esc_list(it["gold"]),
             _esc_list([f'{x["rank"]}. {"✔ " if x["relevant"] else ""}{x["section"]}' for x in it["retrieved"][:5]]), it["metrics"]["ndcg@10"]]
            for it in worst]
    parts.append("<h3>Worst queries: gold against retrieved</h3>" + _table(["id", "question", "gold", "retrieved (top 5)", "nDCG@10"], rows))
    return "\n".join(parts)


def answers_section(result: dict) -> str:
    plt = _plt()
    m = result["metrics"]
    parts = ["<h2>Answers</h2>", _table(["metric", "value"], [[k, float(v)] for k, v in m.items()])]
    bins = result["reliability"]
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.bar([(b["low"] + b["high"]) / 2 for b in bins], [b["accuracy"] for b in bins], width=0.09, alpha=0.7)
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color="C3")
    ax.set(xlim=(0, 1), ylim=(0, 1.05), xlabel="confidence", ylabel="share citing a relevant passage", title=f"Reliability (ECE {m['ece']:.3f})")
    reliability = _png(fig)
    fig, ax = plt.subplots(figsize=(5, 4.2))
    groups = {"answerable": [i["confidence"] for i in result["items"] if i["answerable"]],
              "unanswerable": [i["confidence"] for i in result["items"] if not i["answerable"] and not i["expect_handoff"]],
              "escalation": [i["confidence"] for i in result["items"] if i["expect_handoff"]]}
    for name, vals in groups.items():
        if vals:
            ax.hist(vals, bins=np.linspace(0, 1, 21), alpha=0.55, label=f"{name} ({len(vals)})")
    ax.set(xlabel="confidence", ylabel="questions", title="Confidence by kind of question")
    ax.legend()
    parts.append(f'<div class="plots"><figure>{reliability}</figure><figure>{_png(fig)}</figure></div>')
    wrong = [i for i in result["items"] if (i["answerable"] and not i["good"]) or (not i["answerable"] and not i["handoff"] and not i["refused"])]
    wrong = sorted(wrong, key=lambda i: -i["confidence"])[:15]
    rows = [[i["id"], i["text"], i["reference"] or ("(unanswerable)" if not i["answerable"] else ""), _Raw(f"<pre>{html.escape(i['answer'])}</pre>"),
             _esc_list([f'[{c["number"]}] {"✔ " if c["relevant"] else "✘ "}{c["title"]}' for c in i["citations"]]), i["confidence"]]
            for i in wrong]
    parts.append("<h3>Most confident mistakes: the answer with its citations</h3>"
                 + _table(["id", "question", "reference", "answer", "citations", "confidence"], rows))
    parts.append(nuggets_section(result))
    return "\n".join(parts)


NUGGET_FIGURES = ("vital_nugget_recall", "nugget_recall", "full_answers", "clutter", "truncation", "step_completeness")


def nuggets_section(result: dict) -> str:
    """What users feel, per kind of question, and the worst answers beside the nuggets they miss ("" without nuggets)."""
    scored = [i for i in result["items"] if "nuggets" in i]
    if not scored:
        return ""
    by_kind = result.get("by_kind") or {}
    rows = [[kind, *[float(f.get(k, float("nan"))) for k in NUGGET_FIGURES], int(f["questions"])] for kind, f in sorted(by_kind.items())]
    parts = ["<h3>Nuggets: what a user needs in the answer, per kind of question</h3>",
             _table(["kind", *NUGGET_FIGURES, "questions"], rows, numeric=set(range(1, len(NUGGET_FIGURES) + 2)))]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * max(3, len(rows)) + 1))
    names = [r[0] for r in rows]
    ax.barh(names, [r[1] for r in rows], color="C2", alpha=0.8, label="vital nugget recall")
    ax.barh(names, [-r[4] for r in rows], color="C3", alpha=0.6, label="clutter (left)")
    ax.axvline(0, color="black", lw=0.6)
    ax.set(xlim=(-1, 1), xlabel="share", title="Vital nuggets found (right) and clutter (left), by kind")
    ax.legend(fontsize=7, loc="lower right")
    parts.append(f'<div class="plots"><figure>{_png(fig)}</figure></div>')
    worst = sorted(scored, key=lambda i: (i["nuggets"]["vital_found"] / max(1, i["nuggets"]["vital"]), -i["nuggets"]["vital"]))[:15]
    rows = [[i["id"], i["text"], _Raw(f"<pre>{html.escape(i['answer'])}</pre>"), _esc_list(i["nuggets"]["missing"]),
             f'{i["nuggets"]["vital_found"]}/{i["nuggets"]["vital"]}', ", ".join(i["nuggets"]["truncation"])] for i in worst]
    parts.append("<h3>Worst answers, beside the nuggets they miss</h3>"
                 + _table(["id", "question", "answer", "missing nuggets (vital first)", "vital found", "truncation"], rows))
    return "\n".join(parts)


def priority_section(result: dict) -> str:
    plt = _plt()
    m = result["metrics"]
    labels = m["labels"]
    cm = np.array(m["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(4.4, 4))
    ax.imshow(cm, cmap="Blues")
    for (r, c), v in np.ndenumerate(cm):
        ax.text(c, r, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="gold", title=f"Priority (macro-F1 {m['macro_f1']:.3f})")
    rows = [[label, v["precision"], v["recall"], v["f1"], v["support"]] for label, v in m["per_class"].items()]
    errors = [[i["id"], i["gold"], i["predicted"], i["rationale"]] for i in result["items"] if i["gold"] != i["predicted"]][:25]
    return ("<h2>Ticket priority</h2>" + f'<div class="plots"><figure>{_png(fig)}</figure><figure>'
            + _table(["class", "precision", "recall", "F1", "support"], rows, {4})
            + f"<p>accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}</p></figure></div>"
            + "<h3>Errors</h3>" + _table(["id", "gold", "predicted", "rationale"], errors))


def build_report(title: str, *, retrieval: dict[str, dict] | None = None, answers: dict | None = None, priority: dict | None = None) -> str:
    sections = []
    if retrieval:
        sections.append(retrieval_section(retrieval))
    if answers:
        sections.append(answers_section(answers))
    if priority:
        sections.append(priority_section(priority))
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body><h1>Nectarine evaluation: {html.escape(title)}</h1>{''.join(sections)}</body></html>")
