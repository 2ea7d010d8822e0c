"""Benchmark: a whole ingest of a large BEIR corpus in bounded memory (issue 16).

Generates a synthetic BEIR ``corpus.jsonl`` (``--passages``, default 1,000,000, of 60-120 words: support
vocabulary plus pseudo-words from a 30,000-word vocabulary, so BM25 has a realistic number of distinct
terms), then runs ``nectarine ingest`` on it in a child process (``nectarine.ingest.pipeline.ingest``,
exactly what the CLI runs) and prints the machine, the load average, the rates, the stage times and the
child's peak RSS (VmHWM, the high-water mark of every page it had resident, file-backed ones too;
not ru_maxrss, which after a fork also counts the parent's RSS) as a table.

``--embedder fake`` (the default) is the hashing test embedder ``nectarine/index/fake.py``: it measures
everything but the model. The real MiniLM embeds about 100 chunks/s on these 2 cores, so a real-model
ingest of 1,000,000 passages would take about 3 hours here (``--embedder minilm`` runs it anyway).

    .venv/bin/python scripts/bench_ingest_memory.py --passages 1000000
    .venv/bin/python scripts/bench_ingest_memory.py --passages 100000 --keep /tmp/beir100k
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORDS = ("account admin approval audit backup billing cache certificate cluster connector dashboard database deploy "
         "domain email export field filter gateway group import index invoice key license limit log login mobile "
         "network notification order password permission policy portal project queue quota record region report "
         "role rule schedule schema search session setting single sign storage subscription sync table team tenant "
         "token upload user version webhook workflow workspace the a of to and in is for on with when after").split()
SYLLABLES = "ka lo mi ne ru sa ti vo zu be da fe gi ho ju pa qu re so tu".split()


def pseudo_words(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) + str(i % 7 or "") for i in range(n)]


def generate(path: Path, passages: int, seed: int = 7) -> float:
    """Write ``passages`` BEIR records (``_id``, ``title``, ``text``) to ``path``; returns the seconds it took."""
    rng = random.Random(seed)
    rare = pseudo_words(30_000)
    t0 = time.perf_counter()
    with path.open("w", encoding="utf-8") as f:
        for i in range(passages):
            n = rng.randint(60, 120)
            words = [rng.choice(rare) if rng.random() < 0.25 else rng.choice(WORDS) for _ in range(n)]
            title = " ".join(rng.choices(WORDS, k=4)).capitalize()
            f.write(json.dumps({"_id": f"doc{i}", "title": title, "text": " ".join(words).capitalize() + "."}) + "\n")
    return time.perf_counter() - t0


CHILD = r"""
import json, resource, sys, time
from nectarine.ingest.pipeline import ingest
t0 = time.perf_counter()
r = ingest([sys.argv[1]], sys.argv[2], model=sys.argv[3])
out = {"documents": r.documents, "chunks": r.chunks, "embedded": r.embedded, "seconds": time.perf_counter() - t0,
       "stages": r.stage_seconds, "skipped": len(r.skipped),
       "peak_rss": next(int(ln.split()[1]) * 1024 for ln in open("/proc/self/status") if ln.startswith("VmHWM:")),
       "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
print("RESULT " + json.dumps(out))
"""


def run_ingest(corpus: Path, index: Path, embedder: str) -> dict:
    """Ingest in a child process, so its ru_maxrss is the ingest's alone (not the generator's)."""
    proc = subprocess.run([sys.executable, "-c", CHILD, str(corpus), str(index), embedder], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"ingest failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.1f} GiB RAM, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--embedder", default="fake", help="fake (hashing, default) or a model name such as minilm")
    ap.add_argument("--keep", type=Path, help="write the corpus here and keep it; an existing corpus.jsonl of the same size is re-used")
    ap.add_argument("--json", action="store_true", help="also print the result as one JSON line")
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    console = Console()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-mem-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        corpus = folder / "corpus.jsonl"
        stamp = folder / "passages.txt"
        if corpus.exists() and stamp.exists() and stamp.read_text().strip() == str(args.passages):
            gen_s = 0.0
        else:
            gen_s = generate(corpus, args.passages)
            stamp.write_text(f"{args.passages}\n")
        size = corpus.stat().st_size
        console.print(f"corpus: {args.passages:,} passages, {size / 2**20:,.0f} MiB" + (f", generated in {gen_s:.0f} s" if gen_s else " (re-used)"))
        r = run_ingest(corpus, Path(tmp) / "index", args.embedder)
    load_after = os.getloadavg()

    table = Table(title=f"ingest of a {args.passages:,}-passage BEIR corpus ({args.embedder} embedder)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("machine", machine()),
        ("load average before / after (1 min)", f"{load_before[0]:.2f} / {load_after[0]:.2f}"),
        ("date", time.strftime("%Y-%m-%d %H:%M %Z")),
        ("documents (passages)", f"{r['documents']:,}"),
        ("chunks", f"{r['chunks']:,}"),
        ("embedded", f"{r['embedded']:,}"),
        ("wall time", f"{r['seconds']:,.0f} s"),
        ("passages/s", f"{r['documents'] / r['seconds']:,.0f}"),
        ("chunks/s", f"{r['chunks'] / r['seconds']:,.0f}"),
        *((f"stage: {k}", f"{v:,.0f} s") for k, v in r["stages"].items()),
        ("peak RSS (VmHWM of the ingest process)", f"{r['peak_rss'] / 2**30:.2f} GiB"),
        ("peak RSS per passage", f"{r['peak_rss'] / max(r['documents'], 1) / 1024:.2f} KiB"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    if args.json:
        print(json.dumps({**r, "passages": args.passages, "embedder": args.embedder, "load": [load_before[0], load_after[0]]}))


if __name__ == "__main__":
    main()
