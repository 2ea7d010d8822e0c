"""Ticket drafting on ordinary and adversarial inputs: the work must stay bounded whatever is sent.

Prints the machine and its load, then the median time (of 5 runs, after one untimed run of each
input, which loads what loads once: the model, lingua's language models, ua-parser's patterns) of
``nectarine.handoff.draft.draft_ticket`` with the real priority classifier and language detector,
in-process, so the service's schema limits do not apply: a 2 MB message of one repeated keyword, of
digits, of numbers ("100 100 …", the headcount pattern's old quadratic case), of newlines and of
random words; a 100 KB user agent; a log of 200 KB of error lines; a 2 MB log. Then the escalation
rules and the language detector on a 2 MB question. The classifier's embedding cache is emptied
before every timed run, so each draft pays for its embedding as a new ticket would.
`--json FILE` keeps the figures.

    .venv/bin/python scripts/bench_draft_worst_case.py
    .venv/bin/python scripts/bench_draft_worst_case.py --runs 3 --mb 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console(width=150)

ORDINARY = ("Since the upgrade to 4.3.0 the CSV export of our sales report fails with \"The report query took longer than "
            "120 seconds and was cancelled.\" (REP-5040) for the whole sales team. XLSX is not an option for us.")
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
LOG = "\n".join([f"2026-11-20 09:14:{i:02} INFO  http  GET /api/v2/forms 200 12ms" for i in range(40)]
                + ["2026-11-20 09:15:03 ERROR report REP-5040 The report query took longer than 120 seconds and was cancelled."])
WORDS = ("the export of our sales report fails when we open the dashboard page and click save users team slow nobody "
         "login error outage data lost everyone cannot sign in deadline payroll typo font colour").split()


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()]}


def cases(size: int) -> dict[str, dict]:
    rng = random.Random(0)
    lead = "Nobody can log in since 9am. "
    error_lines = "\n".join(f"2026-11-20 10:{(i // 60) % 60:02}:{i % 60:02} ERROR auth AUTH-1003 SSO assertion could not be validated "
                            f"for user {i} (request req_{i:08x})" for i in range(200_000 // 100))
    big_log = "\n".join(f"2026-11-20 09:{(i // 60) % 60:02}:{i % 60:02} INFO ok request {i}" for i in range(size // 40))
    return {
        "ordinary ticket": {"message": ORDINARY},
        f"{size // 10**6} MB of one keyword": {"message": lead + "slow " * (size // 5)},
        f"{size // 10**6} MB of digits": {"message": lead + "7" * size},
        f"{size // 10**6} MB of numbers '100 '": {"message": lead + "100 " * (size // 4)},
        f"{size // 10**6} MB of newlines": {"message": lead + "\n" * size},
        f"{size // 10**6} MB of random words": {"message": lead + " ".join(rng.choice(WORDS) for _ in range(size // 6))},
        "100 KB user agent": {"message": ORDINARY, "user_agent": (UA + " ") * (100_000 // (len(UA) + 1))},
        "log of 200 KB of error lines": {"message": ORDINARY, "log": error_lines},
        f"{size // 10**6} MB log": {"message": ORDINARY, "log": big_log},
    }


def draft_once(case: dict, classifier, detect_language):
    from nectarine.handoff.draft import Attachment, draft_ticket
    from nectarine.types import AskContext

    # model_construct: an in-process caller's context, not validated (the service's schema would refuse a huge user agent).
    ctx = AskContext.model_construct(user_agent=case.get("user_agent", UA), console_errors=[])
    logs = [Attachment(name="client.log", kind="log", content=case.get("log", LOG))]
    return draft_ticket([{"role": "user", "content": case["message"]}], ctx, logs, classifier=classifier, detect_language=detect_language)


def median_time(fn, runs: int, before=None) -> tuple[float, object]:
    out = fn()  # untimed: what loads once per process
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per case; the median is reported")
    ap.add_argument("--mb", type=int, default=2, help="size of the adversarial messages and log, in MB")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()

    from nectarine.answer.policy import detect_language, escalation
    from nectarine.handoff.priority import PriorityClassifier

    info = machine()
    console.print(f"[bold]machine[/]: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
                  f"load average {' '.join(map(str, info['load_avg_1_5_15']))}")
    classifier = PriorityClassifier.load()
    draft_once({"message": ORDINARY}, classifier, detect_language)  # warm-up: model, detector, user-agent patterns

    rows = []
    table = Table(title=f"draft_ticket, median of {args.runs} runs", header_style="bold")
    for col in ("input", "median ms", "priority", "description chars", "log chars kept", "error messages"):
        table.add_column(col, justify="left" if col == "input" else "right")
    for name, case in cases(args.mb * 10**6).items():
        seconds, draft = median_time(lambda case=case: draft_once(case, classifier, detect_language), args.runs,
                                     before=PriorityClassifier._embeddings.clear)
        log_chars = sum(len(log.text) for log in draft.logs)
        rows.append({"input": name, "median_ms": round(seconds * 1000, 1), "priority": draft.priority,
                     "description_chars": len(draft.description), "log_chars_kept": log_chars, "error_messages": len(draft.error_messages)})
        table.add_row(name, f"{seconds * 1000:,.1f}", draft.priority, f"{len(draft.description):,}", f"{log_chars:,}", str(len(draft.error_messages)))
        console.print(f"  {name}: {seconds * 1000:,.1f} ms")
    console.print(table)

    policy = Table(title=f"the question's policy checks, median of {args.runs} runs", header_style="bold")
    for col in ("input", "escalation ms", "detect_language ms", "escalation"):
        policy.add_column(col, justify="left" if col == "input" else "right")
    prows = []
    for name, text in [("ordinary question", "Nobody in the company can log in since 9am"),
                       (f"{args.mb} MB question of words", " ".join(random.Random(1).choice(WORDS) for _ in range(args.mb * 10**6 // 6))),
                       (f"{args.mb} MB question, one long token", "x" * (args.mb * 10**6)),
                       (f"{args.mb} MB of 'everyone '", "everyone " * (args.mb * 10**6 // 9))]:
        esc_s, esc = median_time(lambda text=text: escalation(text), args.runs)
        lang_s, _ = median_time(lambda text=text: detect_language(text), args.runs)
        prows.append({"input": name, "escalation_ms": round(esc_s * 1000, 2), "detect_language_ms": round(lang_s * 1000, 2),
                      "escalation": esc.reason if esc else None})
        policy.add_row(name, f"{esc_s * 1000:,.2f}", f"{lang_s * 1000:,.2f}", esc.reason if esc else "-")
    console.print(policy)
    info["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    console.print(f"load average after: {' '.join(map(str, info['load_avg_after']))}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "draft": rows, "policy": prows}, indent=2))
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
